#!/usr/bin/env bash
# test_layers.sh — the include rule of README "Where things live", checked on every source file:
#   src/<layer>/*    may include the public headers, its own folder's headers and src/common/;
#                    src/common/ may include only the public headers and itself;
#   cli/, bench/, examples/, python/src/  may include only the public headers and their own folder.
# A file that includes another layer's private header (src/store/store.h from the loader, say)
# fails the test, naming the file and the include.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${VLS_SOURCE_DIR:-$here/..}
cd "$root"

checked=0
fail=0
for f in src/*/*.[ch] cli/*.[ch] bench/*.[ch] examples/*.c python/src/*.[ch]; do
    [ -e "$f" ] || continue
    dir=$(dirname "$f")
    while IFS= read -r inc; do
        checked=$((checked + 1))
        case "$inc" in
        vlstore.h | vlstore_*.h) continue ;; # public API
        esac
        if [ -e "$dir/$inc" ] && [ "$(dirname "$dir/$inc")" = "$dir" ]; then
            continue # own folder
        fi
        case "$dir" in
        src/store | src/frame | src/depot | src/loader)
            case "$inc" in common/*.h) [ -e "src/$inc" ] && continue ;; esac ;;
        esac
        echo "FAIL: $f includes \"$inc\" (not a public header, its own folder or src/common/)" >&2
        fail=$((fail + 1))
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done

echo "test_layers: $checked includes checked, $fail broken"
if [ "$checked" -eq 0 ]; then
    echo "FAIL: no include was checked (wrong source dir? $root)" >&2
    exit 1
fi
[ "$fail" -eq 0 ]
