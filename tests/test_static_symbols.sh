#!/usr/bin/env bash
# test_static_symbols.sh — libvlstore.a exports only the vls_ API: every global symbol it
# defines starts with vls_ or VLS_, so linking it into a program cannot clash with the program's
# own names (the internal ones — cache_get, io_read, pool_run, the test hooks io_fault_set... —
# are made local when the archive is built; see CMakeLists.txt). Also checks that the API is
# there, that a program using only the public API links against it, and that the internal
# names stay out of reach of such a program.
# Env (set by ctest): VLS_STATIC_LIB = the archive, VLS_SOURCE_DIR, VLS_TEST_TMP, VLS_CFLAGS.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
lib=${VLS_STATIC_LIB:?VLS_STATIC_LIB must name libvlstore.a}
src=${VLS_SOURCE_DIR:-$here/..}
mkdir -p "${VLS_TEST_TMP:-/tmp}"
TMP=$(mktemp -d "${VLS_TEST_TMP:-/tmp}/symbols.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
command -v nm > /dev/null || skip_test "nm not found (binutils)"

# global defined symbols: "TYPE NAME" lines (text, data, bss, read-only, weak, common)
nm -g --defined-only "$lib" | awk 'NF == 3 {print $2, $3}' > "$TMP/globals"
check "the archive defines global symbols" test -s "$TMP/globals"
while read -r type name; do
    case "$name" in
    vls_* | VLS_*) ok ;;
    __odr_asan.vls_* | __odr_asan.VLS_*) ok ;; # AddressSanitizer's twin of an exported global
    *) bad "libvlstore.a exports '$name' ($type): not vls_/VLS_-prefixed" ;;
    esac
done < "$TMP/globals"
echo "$(wc -l < "$TMP/globals") global symbols checked"

for api in vls_open vls_close vls_put vls_get vls_commit vls_verify vls_strerror; do
    check "the archive defines $api" grep -qx "T $api" "$TMP/globals"
done
for internal in io_read io_fault_set io_crash_set cache_get pool_run store_alloc; do
    check "$internal is not exported" test "$(grep -c " $internal\$" "$TMP/globals" || true)" -eq 0
done

# a program with its own io_read and pool_run links with the archive and keeps its own
cat > "$TMP/clash.c" <<'C'
#include <stdio.h>
#include <string.h>
#include "vlstore.h"
int io_read(void);
int pool_run(void);
int io_read(void) { return 7; }
int pool_run(void) { return 11; }
int main(int argc, char **argv)
{
    vls_store *s = NULL;
    char got[8] = {0};
    uint64_t len = 0;
    int rc = argc == 2 ? vls_open(argv[1], VLS_CREATE, NULL, &s) : -1;
    if (rc == VLS_OK)
        rc = vls_put(s, "k", 1, "hello", 5, 0);
    if (rc == VLS_OK)
        rc = vls_get(s, "k", 1, got, sizeof got, &len);
    vls_close(s);
    printf("%d %d %s\n", io_read(), pool_run(), rc == VLS_OK ? got : vls_strerror(rc));
    return 0;
}
C
# shellcheck disable=SC2086 # VLS_CFLAGS: the sanitizer flags of a sanitizer build
if cc ${VLS_CFLAGS:-} -I"$src/include" -o "$TMP/clash" "$TMP/clash.c" "$lib" \
    $(pkg-config --libs blosc libxxhash) -lpthread -lm 2> "$TMP/cc.err"; then
    ok
    is "the program's own io_read/pool_run are used, and the store works" \
        "$("$TMP/clash" "$TMP/s.vls")" "7 11 hello"
else
    bad "a program defining io_read and pool_run does not link with libvlstore.a: $(head -c 600 "$TMP/cc.err")"
fi
finish
