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

# shellcheck source=lib.sh
. "$here/lib.sh"
include_allowed() { # include_allowed DIR INCLUDE
    local dir=$1 inc=$2
    case "$inc" in
    vlstore.h | vlstore_*.h) return 0 ;; # public API
    esac
    if [ -e "$dir/$inc" ] && [ "$(dirname "$dir/$inc")" = "$dir" ]; then
        return 0 # own folder
    fi
    case "$dir" in
    src/store | src/frame | src/depot | src/loader)
        case "$inc" in common/*.h) [ -e "src/$inc" ] && return 0 ;; esac ;;
    esac
    return 1
}

checked=0
for f in src/*/*.[ch] cli/*.[ch] bench/*.[ch] examples/*.c python/src/*.[ch]; do
    [ -e "$f" ] || continue
    dir=$(dirname "$f")
    while IFS= read -r inc; do
        checked=$((checked + 1))
        if include_allowed "$dir" "$inc"; then
            ok
        else
            bad "$f includes \"$inc\" (not a public header, its own folder or src/common/)"
        fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done

echo "test_layers: $checked includes checked, $fail broken (source dir $root)"
finish
