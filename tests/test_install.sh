#!/usr/bin/env bash
# test_install.sh — `make install PREFIX=...` gives a usable package: installed into a scratch
# prefix, vlstore.pc points into that prefix (not the configure-time one), the shared library's
# SONAME follows the 0.x policy (libvlstore.so.0.MINOR, vlstore.h), and one consumer program
# builds and runs with pkg-config (shared and static) and with CMake find_package
# (vlstore::vlstore and vlstore::vlstore_static, the static one finding Blosc and xxHash itself).
# Environment (set by ctest): VLS_BUILD_DIR = the build tree, VLS_SOURCE_DIR, VLS_TEST_TMP.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${VLS_BUILD_DIR:-$here/../build}
SRC=${VLS_SOURCE_DIR:-$here/..}
mkdir -p "${VLS_TEST_TMP:-/tmp}"
TMP=$(mktemp -d "${VLS_TEST_TMP:-/tmp}/install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=consumer.sh
. "$here/consumer.sh"
for tool in pkg-config readelf cc; do
    command -v "$tool" >/dev/null || skip_test "$tool is not installed"
done

prefix=$TMP/prefix
check "install into $prefix" install_into "$prefix"
pc=$(find "$prefix" -name vlstore.pc | head -n 1)
check "vlstore.pc installed" test -f "$pc"
check "vlstoreConfig.cmake installed" test -n "$(find "$prefix" -name vlstoreConfig.cmake)"
check "headers installed" test -f "$prefix/include/vlstore.h" -a -f "$prefix/include/vlstore_loader.h"
check "CLI installed" test -x "$prefix/bin/vlstore"

# vlstore.pc names the prefix it was installed into, wherever that is
configured=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
if grep -qF "$configured/" "$pc"; then bad "vlstore.pc names the configure-time prefix $configured"; else ok; fi
incdir=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=includedir vlstore)
check "pkg-config's includedir ($incdir) holds vlstore.h" test -f "$incdir/vlstore.h"
is "pkg-config version" "$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --modversion vlstore)" \
    "$(sed -n 's/^#define VLS_VERSION_STRING "\(.*\)"/\1/p' "$SRC/include/vlstore.h")"

# SONAME: libvlstore.so.0.MINOR while the major version is 0
major=$(sed -n 's/^#define VLS_VERSION_MAJOR \([0-9]*\)/\1/p' "$SRC/include/vlstore.h")
minor=$(sed -n 's/^#define VLS_VERSION_MINOR \([0-9]*\)/\1/p' "$SRC/include/vlstore.h")
want_soname=libvlstore.so.$major
[ "$major" -eq 0 ] && want_soname=libvlstore.so.0.$minor
so=$(find "$prefix" -name 'libvlstore.so.*.*.*' | head -n 1)
is "SONAME" "$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')" "$want_soname"

cat >"$TMP/consumer.c" <<'EOF'
/* Uses every public header: a store, a frame through a depot, a loader epoch. */
#include <stdio.h>
#include <string.h>
#include <vlstore.h>
#include <vlstore_depot.h>
#include <vlstore_frame.h>
#include <vlstore_loader.h>

int main(void)
{
    vls_store *s;
    if (vls_open(NULL, VLS_CREATE, NULL, &s) != VLS_OK) {
        fprintf(stderr, "open: %s\n", vls_errmsg(NULL));
        return 1;
    }
    vls_depot *d;
    int32_t types[2] = {8, 1};
    float masses[2] = {16, 1}, pos[6] = {0, 0, 0, 1, 0, 0};
    vls_frame f;
    vls_frame_init(&f);
    f.nsites = 2;
    f.types = types;
    f.masses = masses;
    f.positions = pos;
    if (vls_depot_open(s, &vls_codec_frame, &d) != VLS_OK ||
        vls_depot_put_str(d, "water", &f, 0) != VLS_OK || vls_commit(s) != VLS_OK) {
        fprintf(stderr, "put: %s\n", vls_errmsg(s));
        return 1;
    }
    vls_frame v;
    if (vls_depot_view_str(d, "water", &v) != VLS_OK || v.nsites != 2 || v.positions[3] != 1) {
        fprintf(stderr, "view: %s\n", vls_depot_errmsg(d));
        return 1;
    }
    vls_depot_close(d);
    vls_loader *ld;
    const vls_record *recs;
    size_t n;
    if (vls_loader_open_stores(&s, 1, NULL, &ld) != VLS_OK) {
        fprintf(stderr, "loader: %s\n", vls_loader_errmsg(NULL));
        return 1;
    }
    int rc = vls_loader_next(ld, &recs, &n);
    int served = rc == 1 && n == 1 && recs[0].klen == 5; /* views end at the loader's close */
    vls_loader_close(ld);
    if (!served) return 1;
    printf("consumer ok: vlstore %s\n", VLS_VERSION_STRING);
    return vls_close(s);
}
EOF

run_consumer() { # run_consumer WHAT BINARY static|shared
    local out
    if out=$("$2" 2>&1) && [ "${out#consumer ok}" != "$out" ]; then ok; else bad "$1 runs: $out"; fi
    if [ "$3" = static ]; then
        is "$1 links libvlstore statically" "$(needs_libvlstore "$2")" ""
    else
        is "$1 needs the SONAME" "$(needs_libvlstore "$2")" "$want_soname"
    fi
}

check_quiet "pkg-config build (shared)" build_pkgconfig "$prefix" "$TMP/consumer.c" "$TMP/pc_shared"
run_consumer "pkg-config shared" "$TMP/pc_shared" shared
check_quiet "pkg-config build (static)" build_pkgconfig "$prefix" "$TMP/consumer.c" "$TMP/pc_static" static
run_consumer "pkg-config static" "$TMP/pc_static" static

mkdir -p "$TMP/cmake_src"
cp "$TMP/consumer.c" "$TMP/cmake_src/"
check_quiet "CMake find_package build" build_cmake "$prefix" "$TMP/cmake_src" "$TMP/cmake_bin" "$major.$minor"
run_consumer "CMake vlstore::vlstore" "$TMP/cmake_bin/consumer_shared" shared
run_consumer "CMake vlstore::vlstore_static" "$TMP/cmake_bin/consumer_static" static

# the 0.x compatibility rule: a request for another 0.MINOR is refused
other="$major.$((minor + 1))"
[ "$major" -eq 0 ] && other="0.$((minor == 0 ? 1 : minor - 1))"
if build_cmake "$prefix" "$TMP/cmake_src" "$TMP/cmake_other" "$other" 2>/dev/null; then
    bad "find_package(vlstore $other) accepted version $major.$minor"
else
    ok
fi

finish
