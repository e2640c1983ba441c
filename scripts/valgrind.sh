#!/usr/bin/env bash
# valgrind.sh — the whole test suite under valgrind memcheck.
#   scripts/valgrind.sh [BUILD_DIR] [CTEST_ARGS...]     (default build dir: build-valgrind)
# Builds without sanitizers (Debug), then runs every ctest test: C tests and fuzz replay
# drivers run under valgrind itself (CMAKE_CROSSCOMPILING_EMULATOR prefixes every test whose
# command is a built program); shell tests get VLSTORE pointing at a wrapper that runs the CLI
# under valgrind. Examples, Python and MPI tests run as usual (not under valgrind).
# A test fails when valgrind finds an invalid access, a use of uninitialised memory or a
# definite leak (exit code 99), besides the test's own checks. Logs: BUILD_DIR/valgrind/*.log.
# Slow (20-50x): not part of CI; long tests keep their short defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-valgrind}
shift || true
src=$(pwd)
mkdir -p "$build/valgrind"
logdir=$(cd "$build/valgrind" && pwd)
vg="valgrind;--error-exitcode=99;--leak-check=full;--errors-for-leak-kinds=definite;--track-origins=yes;--quiet;--log-file=$logdir/%p.log"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DVLS_SANITIZE= "-DCMAKE_CROSSCOMPILING_EMULATOR=$vg"
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)"
builddir=$(cd "$build" && pwd)

# The CLI under valgrind for the shell tests.
cat >"$builddir/vlstore-valgrind" <<EOF
#!/bin/sh
exec valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --quiet --log-file=$logdir/cli-%p.log "$builddir/vlstore" "\$@"
EOF
chmod +x "$builddir/vlstore-valgrind"

rm -f "$logdir"/*.log
status=0
# every ctest test but the shell tests that call the CLI (C tests and replay drivers are
# wrapped by the emulator; examples, MPI and Python tests run as they are)
(cd "$builddir" && ctest --output-on-failure -E '_cli$|^test_golden$|^test_frame_flatc$' "$@") ||
    status=1
# shell tests, with the CLI under valgrind
for t in "$src"/tests/test_*.sh; do
    name=$(basename "$t" .sh)
    case "$name" in *_cli|test_golden|test_frame_flatc) ;; *) continue ;; esac
    if VLSTORE="$builddir/vlstore-valgrind" VLS_TEST_TMP="$builddir/tests/tmp" \
        VLS_SOURCE_DIR="$src" VLS_BUILD_DIR="$builddir" bash "$t" >"$logdir/$name.out" 2>&1; then
        echo "valgrind: $name passed"
    else
        echo "valgrind: $name FAILED (see $logdir/$name.out)"
        status=1
    fi
done
# valgrind's own findings, whatever the tests said
errs=$(cat "$logdir"/*.log 2>/dev/null | grep -c '^==[0-9]*== [A-Z]' || true)
if [ "$errs" -ne 0 ]; then
    echo "valgrind: findings in:"
    grep -l '^==[0-9]*== [A-Z]' "$logdir"/*.log
    status=1
fi
echo "valgrind: $(ls "$logdir"/*.log 2>/dev/null | wc -l) processes checked, $errs finding lines"
exit $status
