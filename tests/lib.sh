# tests/lib.sh — the harness every tests/test_*.sh sources (bash), after setting TMP when it uses
# expect_exit/err_has/out_has/out_is_empty (they keep the last command's output in $TMP/out and
# $TMP/err). It counts checks and ends the test with one verdict:
#   ok                        count a pass
#   ok CMD...                 run CMD: a pass when it exits 0, a failure otherwise
#   bad MESSAGE               count a failure, naming the test's line
#   check WHAT CMD...         run CMD (output shown): a pass when it exits 0
#   check_quiet WHAT CMD...   the same, CMD's output shown only when it fails
#   is WHAT GOT WANTED        a pass when the two strings are equal
#   skip WHY                  count a check that could not run here (missing tool, package)
#   expect_exit CODE CMD...   a pass when CMD exits with CODE; output in $TMP/out, $TMP/err
#   err_has TEXT, out_has TEXT, out_is_empty   about the last expect_exit's output
#   finish                    print "NAME: P passed, F failed, S skipped" and exit with
#                             1 if a check failed or none ran at all (a test that proved nothing
#                             fails), 77 if any was skipped (ctest reports SKIP_RETURN_CODE 77 as
#                             "Skipped", never as a pass), else 0.
#   skip_test WHY             the whole test cannot run here: say why and exit 77.
# shellcheck shell=bash

pass=0
fail=0
skipped=0
VLS_TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)

# file:line of the test's own call, however deep inside this file the failure was counted
vls_where() {
    local i
    for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
        if [ "${BASH_SOURCE[i]}" != "${BASH_SOURCE[0]}" ]; then
            echo "${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}"
            return
        fi
    done
    echo "?"
}

bad() {
    fail=$((fail + 1))
    echo "FAIL ($(vls_where)): $*" >&2
}
check() { # check WHAT CMD...
    local what=$1
    shift
    if "$@"; then pass=$((pass + 1)); else bad "$what"; fi
}
ok() {
    if [ $# -eq 0 ]; then
        pass=$((pass + 1))
    else
        check "$*" "$@"
    fi
}
check_quiet() { # check_quiet WHAT CMD... : CMD's output is shown only if it fails
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then
        pass=$((pass + 1))
    else
        bad "$what: $*"
        printf '%s\n' "$out" >&2
    fi
}
is() { # is WHAT GOT WANTED
    if [ "$2" == "$3" ]; then pass=$((pass + 1)); else bad "$1: got '$2', wanted '$3'"; fi
}
skip() { # skip WHY
    skipped=$((skipped + 1))
    echo "SKIP ($(vls_where)): $*" >&2
}
expect_exit() { # expect_exit CODE CMD... : stdout in $TMP/out, stderr in $TMP/err
    local want=$1 got=0
    shift
    "$@" >"${TMP:?lib.sh: set TMP before expect_exit}/out" 2>"$TMP/err" || got=$?
    if [ "$got" -eq "$want" ]; then
        pass=$((pass + 1))
    else
        bad "exit $got, wanted $want: $* — stderr: $(head -c 300 "$TMP/err")"
    fi
}
err_has() { # err_has TEXT : the last command's stderr contains TEXT
    if grep -qF -- "$1" "$TMP/err"; then pass=$((pass + 1)); else bad "stderr lacks '$1': $(head -c 300 "$TMP/err")"; fi
}
out_has() { # out_has TEXT : the last command's stdout contains TEXT
    if grep -qF -- "$1" "$TMP/out"; then pass=$((pass + 1)); else bad "stdout lacks '$1': $(head -c 600 "$TMP/out")"; fi
}
out_is_empty() {
    if [ ! -s "$TMP/out" ]; then pass=$((pass + 1)); else bad "stdout not empty: $(head -c 100 "$TMP/out")"; fi
}

skip_test() { # skip_test WHY : nothing of this test can run here
    echo "$VLS_TEST_NAME: SKIPPED: $*" >&2
    exit 77
}

finish() {
    echo "$VLS_TEST_NAME: $pass passed, $fail failed, $skipped skipped"
    if [ "$fail" -ne 0 ]; then
        exit 1
    fi
    if [ "$pass" -eq 0 ] && [ "$skipped" -eq 0 ]; then
        echo "FAIL: $VLS_TEST_NAME ran no check" >&2
        exit 1
    fi
    if [ "$skipped" -ne 0 ]; then
        exit 77
    fi
    exit 0
}
