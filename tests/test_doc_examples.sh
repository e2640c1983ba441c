#!/usr/bin/env bash
# test_doc_examples.sh — every C block in README.md and docs/*.md is either a complete program
# (fence "```c") or marked as a fragment (fence "```c fragment"; another word after "c" fails).
# The complete ones are extracted, built against the library installed into a scratch prefix
# (pkg-config; CMake find_package with vlstore::vlstore and vlstore::vlstore_static) and run,
# each in a fresh directory: all must exit 0.
# Environment (set by ctest): VLS_BUILD_DIR = the build tree, VLS_SOURCE_DIR, VLS_TEST_TMP.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${VLS_BUILD_DIR:-$here/../build}
SRC=${VLS_SOURCE_DIR:-$here/..}
mkdir -p "${VLS_TEST_TMP:-/tmp}"
TMP=$(mktemp -d "${VLS_TEST_TMP:-/tmp}/docex.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=consumer.sh
. "$here/consumer.sh"
for tool in pkg-config cc; do
    command -v "$tool" >/dev/null || skip_test "$tool is not installed"
done

# extract DOC : writes DOC's complete C blocks to $TMP/src/<doc>_<line>.c; prints
# "complete N fragments M", and "bad LINE INFO" for a C fence with an unknown marker.
extract() {
    local doc=$1 base
    base=$(basename "$doc" .md)
    awk -v out="$TMP/src/${base}_" '
        !inside && /^```/ {
            info = substr($0, 4); split(info, w, " ")
            inside = 1; keep = 0
            if (w[1] == "c") {
                if (w[2] == "") { keep = 1; file = out NR ".c"; complete++ }
                else if (w[2] == "fragment" && w[3] == "") fragments++
                else print "bad " NR " " info
            }
            next
        }
        inside && /^```[ \t]*$/ { inside = 0; if (keep) close(file); keep = 0; next }
        inside && keep { print > file }
        END { print "complete " complete + 0 " fragments " fragments + 0 }
    ' "$doc"
}

mkdir -p "$TMP/src"
total=0
for doc in "$SRC/README.md" "$SRC"/docs/*.md; do
    while read -r kind a rest; do
        case $kind in
        bad) bad "${doc#"$SRC"/}:$a: C block marked '$rest' (use \`\`\`c or \`\`\`c fragment)" ;;
        complete)
            total=$((total + a))
            echo "${doc#"$SRC"/}: $a complete, ${rest#fragments } fragments"
            ;;
        esac
    done < <(extract "$doc")
done
readme_examples=$(find "$TMP/src" -name 'README_*.c' | wc -l)
check "README.md has a complete C example" test "$readme_examples" -ge 1
check "the complete examples were extracted" test "$(find "$TMP/src" -name '*.c' | wc -l)" -eq "$total"

prefix=$TMP/prefix
check "install into a scratch prefix" install_into "$prefix"

run_in_fresh_dir() { # run_in_fresh_dir WHAT BINARY : exit 0 from a directory of its own
    local dir out
    dir=$(mktemp -d "$TMP/run.XXXXXX")
    if out=$(cd "$dir" && "$1" 2>&1); then ok; else bad "$(basename "$1") failed: $out"; fi
}

for src in "$TMP"/src/*.c; do
    name=$(basename "$src" .c)
    if build_pkgconfig "$prefix" "$src" "$TMP/$name.pc" 2>"$TMP/$name.err"; then
        ok
        run_in_fresh_dir "$TMP/$name.pc"
    else
        bad "$name (pkg-config) does not build: $(head -c 2000 "$TMP/$name.err")"
    fi
done
check_quiet "the examples build with CMake find_package" build_cmake "$prefix" "$TMP/src" "$TMP/cmake"
for src in "$TMP"/src/*.c; do
    name=$(basename "$src" .c)
    for how in shared static; do
        if [ -x "$TMP/cmake/${name}_$how" ]; then
            run_in_fresh_dir "$TMP/cmake/${name}_$how"
        else
            bad "${name}_$how was not built by CMake"
        fi
    done
done

finish
