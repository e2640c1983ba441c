#!/usr/bin/env bash
# test-long.sh BUILD_DIR LOG_DIR [RUN...] — the long runs behind docs/RELIABILITY.md's tables
# (`make test-long`; `make test-long-asan` runs them on the ASan/UBSan build). Each test program runs with VLS_TEST_LONG=1, its whole output kept in
# LOG_DIR/<run>.log under a header naming the command, the commit, the date, the machine and the
# wall and CPU time it took. The runs go in two lanes at once (VLS_LONG_LANES=1: one after the
# other): on a 2-core machine shared with other work that halves the wall time, and the CPU time
# of each run, which the document quotes, does not depend on it. LOG_DIR/summary.log lists every
# run with its exit status and times. After a whole run, the same tests run once more at their
# short sizes (as make test runs them), with test_trust and test_crafted, into
# LOG_DIR/short-runs.log. Naming RUNs (e.g. test_kill) does only those and appends to
# summary.log. Exit status: 0 when every run passed, 1 otherwise.
#
# Sizes (environment; the defaults are what docs/RELIABILITY.md reports, chosen so the whole
# run fits in about 40 minutes on the project's loaded 2-core machine):
#   VLS_LONG_KILL_ROUNDS  test_kill's kills                         (default 2000; the test's own 5000)
#   VLS_LONG_RANDOM_OPS   test_random_ops's steps with VLS_NOSYNC   (default 200000; its own 10^6)
#   VLS_LONG_SYNCED_OPS   test_random_ops's steps, synced, seed 7   (default 50000)
# The other runs use the tests' own long sizes (test_crash_points, test_power_loss,
# test_corruption, test_recover, test_locking).
set -uo pipefail

build=${1:?usage: test-long.sh BUILD_DIR LOG_DIR [RUN...]}
logs=${2:?usage: test-long.sh BUILD_DIR LOG_DIR [RUN...]}
shift 2
only=" $* "
lanes=${VLS_LONG_LANES:-2}
kill_rounds=${VLS_LONG_KILL_ROUNDS:-2000}
random_ops=${VLS_LONG_RANDOM_OPS:-200000}
synced_ops=${VLS_LONG_SYNCED_OPS:-50000}

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$build" && pwd)
build_name=$(basename "$build") # build, or build-asan for the sanitizer build (make test-long-asan)
mkdir -p "$logs"
logs=$(cd "$logs" && pwd)
scratch=$build/tests/tmp-long
rm -rf "$scratch" && mkdir -p "$scratch"

commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)
# changes to the logs themselves (LOG_DIR may be the tracked docs/reliability-logs/) are not
# changes to what runs; a LOG_DIR outside the tree excludes nothing
exclude=()
case $logs in "$src"/*) exclude=(":(exclude)$logs") ;; esac
if [ -n "$(git -C "$src" status --porcelain --untracked-files=no -- . "${exclude[@]}" 2>/dev/null)" ]; then
    commit="$commit (with uncommitted changes)"
fi
machine="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(df -T "$scratch" | awk 'NR == 2 {print $2}') scratch"

summary=$logs/summary.log
if [ "$only" = "  " ] || [ ! -e "$summary" ]; then
    printf '# %-22s %-6s %10s %10s  %s\n' run status wall_s cpu_s command > "$summary"
fi
{
    echo "# test-long.sh: commit $commit, started $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $lanes lane(s)${*:+, runs: $*}"
    echo "# machine: $machine"
} >> "$summary"

# run NAME ENV... -- PROGRAM : one long run, logged to LOG_DIR/NAME.log
run() {
    local name=$1 env=() log=$logs/$1.log
    shift
    case "$only" in "  " | *" $name "*) ;; *) return 0 ;; esac
    while [ "$1" != "--" ]; do env+=("$1"); shift; done
    shift
    local prog=$1 cmd="VLS_TEST_LONG=1 ${env[*]:+${env[*]} }$build_name/tests/$1"
    echo "== $name: $cmd"
    {
        echo "# command: $cmd"
        echo "# commit: $commit"
        echo "# started: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "# machine: $machine"
    } > "$log"
    local t0 rc c0 c1 lane=$BASHPID # the shell that waits for the test (its children's CPU)
    t0=$(date +%s.%N)
    c0=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$lane/stat")
    env VLS_TEST_LONG=1 VLS_TEST_TMP="$scratch" "${env[@]}" "$build/tests/$prog" >> "$log" 2>&1
    rc=$?
    # CPU of the finished children (the test and what it forked), in clock ticks
    c1=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$lane/stat")
    local wall cpu
    wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')
    cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN {print (b - a) / hz}')
    printf '# exit %d; wall %.1f s; CPU %.1f s (test and its children); ended %s\n' "$rc" \
        "$wall" "$cpu" "$(date -u '+%H:%M:%S UTC')" >> "$log"
    tail -n 6 "$log" | sed 's/^/   /'
    local status=pass
    [ "$rc" -eq 0 ] || { status=FAIL; touch "$scratch/failed"; }
    printf '  %-22s %-6s %10.1f %10.1f  %s\n' "$name" "$status" "$wall" "$cpu" "$cmd" >> "$summary"
}

# two lanes of about equal CPU time
lane_a() {
    run test_crash_points -- test_crash_points
    run test_power_loss -- test_power_loss
    run test_kill "VLS_KILL_ROUNDS=$kill_rounds" -- test_kill
    run test_random_ops_nosync VLS_TEST_NOSYNC=1 "VLS_RANDOM_OPS=$random_ops" -- test_random_ops
    run test_random_ops_synced VLS_TEST_SEED=7 "VLS_RANDOM_OPS=$synced_ops" -- test_random_ops
}
lane_b() {
    run test_locking -- test_locking
    run test_corruption -- test_corruption
    run test_recover -- test_recover
}
if [ "$lanes" -ge 2 ]; then
    lane_a &
    lane_b
    wait
else
    lane_a
    lane_b
fi

# the short runs of the same tests (and of the hostile-file tests), as make test runs them:
# LOG_DIR/short-runs.log, for the document's short-run figures (whole runs only)
short_tests=(test_locking test_crash_points test_power_loss test_kill test_random_ops
    test_corruption test_recover test_oom test_faults test_trust test_crafted)
if [ "$only" = "  " ]; then
    short=$logs/short-runs.log
    {
        echo "# command: for t in ${short_tests[*]}; do $build_name/tests/\$t; done  (the short runs of make test)"
        echo "# commit: $commit"
        echo "# started: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    } > "$short"
    for t in "${short_tests[@]}"; do
        echo "## $t" >> "$short"
        t0=$(date +%s.%N)
        VLS_TEST_TMP="$scratch" "$build/tests/$t" >> "$short" 2>&1
        rc=$?
        printf '## %s: exit %d, wall %.1f s\n' "$t" "$rc" \
            "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')" >> "$short"
        case $rc in 0) status=pass ;; 77) status=skip ;; *) status=FAIL; touch "$scratch/failed" ;; esac
        printf '  %-22s %-6s %10s %10s  %s\n' "short:$t" "$status" - - "$build_name/tests/$t" \
            >> "$summary"
    done
fi

echo "# ended $(date -u '+%Y-%m-%d %H:%M:%S UTC')" >> "$summary"
cat "$summary"
failed=0
[ -e "$scratch/failed" ] && failed=1
rm -rf "$scratch"
exit "$failed"
