#!/usr/bin/env bash
# test_loader_cli.sh — `vlstore epoch`: the keys served by every rank of a world together are
# exactly the store's keys, each once, over two files; the same seed and epoch give the same
# order, another epoch another; --no-shuffle is storage order; the summary line; usage errors
# (exit 2) and a missing store (exit 1).
# Environment (set by ctest): VLSTORE = the CLI, VLS_TEST_TMP = scratch dir.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VLSTORE=${VLSTORE:-$here/../build/vlstore}
mkdir -p "${VLS_TEST_TMP:-/tmp}"
TMP=$(mktemp -d "${VLS_TEST_TMP:-/tmp}/epoch.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

# shellcheck source=lib.sh
. "$here/lib.sh"

# two stores of files of varied sizes (many chunks each: 64 KiB of random text per 20 files)
for s in a b; do
    mkdir -p "src_$s"
    for i in $(seq 1 300); do
        head -c $(( (i * 7919) % 9000 + 1 )) /dev/urandom | base64 > "src_$s/rec$i"
    done
    "$VLSTORE" import "$s.vls" "src_$s" --commit-every 97 > /dev/null
done
{ "$VLSTORE" ls a.vls; "$VLSTORE" ls b.vls; } > all_keys
check "600 keys listed" test "$(wc -l < all_keys)" -eq 600

# every rank's keys together: each key once
for w in 1 3 4; do
    : > served
    for r in $(seq 0 $((w - 1))); do
        "$VLSTORE" epoch a.vls b.vls --world $w --rank $r --batch-size 16 --seed 5 --print-keys >> served
    done
    check "world $w: every key once" cmp <(sort all_keys) <(sort served)
done

"$VLSTORE" epoch a.vls b.vls --seed 9 --epoch 2 --print-keys > e2a
"$VLSTORE" epoch a.vls b.vls --seed 9 --epoch 2 --print-keys > e2b
"$VLSTORE" epoch a.vls b.vls --seed 9 --epoch 3 --print-keys > e3
check "same seed and epoch: same order" cmp -s e2a e2b
check "another epoch: another order" bash -c "! cmp -s e2a e3"
"$VLSTORE" epoch a.vls b.vls --no-shuffle --print-keys > plain
check "--no-shuffle is storage order" cmp -s plain all_keys

"$VLSTORE" epoch a.vls b.vls --threads 2 --read-size 2 > summary
check "summary names the records and batches" grep -q "rank 0 of 1: 600 records in 10 batches of 64" summary
check "summary has throughput" grep -q "records/s" summary
check "summary has shuffle quality" grep -q "mean displacement" summary

code=0; "$VLSTORE" epoch a.vls --rank 2 --world 2 2> err || code=$?
check "rank >= world is a usage error" test "$code" -eq 2
code=0; "$VLSTORE" epoch a.vls --batch-size 0 2> err || code=$?
check "batch size 0 is a usage error" test "$code" -eq 2
code=0; "$VLSTORE" epoch 2> err || code=$?
check "no store is a usage error" test "$code" -eq 2
code=0; "$VLSTORE" epoch a.vls missing.vls 2> err || code=$?
check "a missing store fails" test "$code" -eq 1
check "the message names the missing store" grep -q "missing.vls" err

finish
