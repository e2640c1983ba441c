#!/usr/bin/env bash
# test_python.sh — the Python package (python/): builds the vlstore._core extension against
# this build tree's libvlstore.a in a scratch dir (nothing is installed, nothing downloaded),
# then runs its pytest suite, python/tests, with Debian's /usr/bin/python3:
#   the seed README's example and README.md's, the seed project's own test scenarios and
#   API details (lookup, Location), the store/Depot API, BackedAtomicData zero-copy views
#   through the C frame codec, BlockShuffleBatch on the C loader (raw and collated batches),
#   handles across fork(), and vlstore.torch (FrameDataset, FrameBatches, FrameMapDataset,
#   with two gloo ranks of two workers; skipped, saying so, when python3-torch is absent).
# In a sanitizer build (VLS_SANITIZE set in CMakeCache.txt) the extension is linked with the
# same -fsanitize flags and python runs with the sanitizer runtime preloaded (leak checks off:
# CPython keeps its own memory until exit); the torch tests are left out there (torch's own
# libraries are not built for it and would only slow the run down).
# Env: VLS_SOURCE_DIR, VLS_BUILD_DIR (required), VLS_TEST_TMP (scratch), VLSTORE (the CLI,
# for the CLI interop test). Extra pytest arguments: VLS_PYTEST_ARGS.
# Verdict (tests/lib.sh): pytest's passed/failed/skipped counts; any skipped test (a package
# missing here, say) makes the whole test report Skipped (exit 77), never a silent pass.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

src="${VLS_SOURCE_DIR:?VLS_SOURCE_DIR must name the source tree}"
bld="${VLS_BUILD_DIR:?VLS_BUILD_DIR must name the CMake build dir}"
tmp="${VLS_TEST_TMP:-/tmp}/python"
py=/usr/bin/python3
rm -rf "$tmp" && mkdir -p "$tmp"

missing=()
for mod in numpy pytest setuptools; do
  "$py" -c "import $mod" 2>/dev/null || missing+=("python3-$mod")
done
[ -f "$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ] ||
  missing+=(python3-dev)
if [ ${#missing[@]} -gt 0 ]; then
  skip_test "Debian packages missing: ${missing[*]} (scripts/deps.sh test installs them)"
fi

# Build into the scratch dir; setup.py links $bld/libvlstore.a (see python/setup.py).
(cd "$src/python" && VLSTORE_BUILD_DIR="$bld" "$py" setup.py -q build \
   --build-base "$tmp/build" --build-lib "$tmp/lib") > "$tmp/build.log" 2>&1 || {
  cat "$tmp/build.log" >&2
  echo "test_python: building the extension failed" >&2
  exit 1
}
if grep -E "warning:" "$tmp/build.log" | grep -v "byte-compiling is disabled" >&2; then
  echo "test_python: the extension must build without warnings" >&2
  exit 1
fi

pytest_args=(-q -rs -p no:cacheprovider)  # -rs: say why a test was skipped
sanitize=$(sed -n 's/^VLS_SANITIZE:STRING=//p' "$bld/CMakeCache.txt" 2>/dev/null || true)
if [ -n "$sanitize" ]; then
  preload=()
  case "$sanitize" in
    *address*) preload+=("$(gcc -print-file-name=libasan.so)") ;;
    *thread*) preload+=("$(gcc -print-file-name=libtsan.so)") ;;
  esac
  case "$sanitize" in
    *undefined*) preload+=("$(gcc -print-file-name=libubsan.so)") ;;
  esac
  export LD_PRELOAD="${preload[*]}"
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  pytest_args+=(--ignore="$src/python/tests/test_torch.py")
  echo "test_python: sanitizer build ($sanitize): preloading $LD_PRELOAD; torch tests left out"
fi

cd "$tmp"
rc=0
# shellcheck disable=SC2086
PYTHONPATH="$tmp/lib" PYTHONDONTWRITEBYTECODE=1 \
  "$py" -m pytest "${pytest_args[@]}" --junit-xml="$tmp/junit.xml" ${VLS_PYTEST_ARGS:-} \
  "$src/python/tests" || rc=$?
if [ ! -s "$tmp/junit.xml" ]; then
  bad "pytest exited $rc without writing its report"
  finish
fi
read -r tests failed skipped < <(unset LD_PRELOAD; "$py" -c '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
s = root if root.tag == "testsuite" else root.find("testsuite")
n = lambda k: int(s.get(k, 0))
print(n("tests"), n("failures") + n("errors"), n("skipped"))' "$tmp/junit.xml")
pass=$((tests - failed - skipped))
fail=$failed
[ "$rc" -eq 0 ] || [ "$failed" -ne 0 ] || bad "pytest exited $rc"
finish
