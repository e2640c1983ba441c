#!/usr/bin/env bash
# test_mpi.sh — the loader under MPI (examples/mpi_epoch.c): 4 ranks (and 3) read two store
# files as one dataset for two epochs; together they must read every record exactly once and
# step together (batch counts differ by at most one). Needs openmpi-bin (scripts/deps.sh test).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VLSTORE=${VLSTORE:-$here/../build/vlstore}
MPI_EPOCH=$VLS_BUILD_DIR/examples/mpi_epoch
# shellcheck source=lib.sh
. "$here/lib.sh"
if [ ! -x "$MPI_EPOCH" ] || ! command -v mpirun > /dev/null; then
    skip_test "MPI is not installed (apt-get install libopenmpi-dev openmpi-bin; scripts/deps.sh test)"
fi
mkdir -p "${VLS_TEST_TMP:-/tmp}"
TMP=$(mktemp -d "${VLS_TEST_TMP:-/tmp}/mpi.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

for s in a b; do
    mkdir -p "src_$s"
    for i in $(seq 1 250); do
        head -c $(( (i * 7919) % 12000 + 1 )) /dev/urandom > "src_$s/rec$i"
    done
    "$VLSTORE" import "$s.vls" "src_$s" --commit-every 50 > /dev/null
done

# OpenMPI's own start-up allocations are never freed; under the ASan build LeakSanitizer would
# report them. The loader's memory is leak-checked by test_loader.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
# OpenMPI refuses root unless told; --oversubscribe lets 4 ranks share 2 cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
for n in 4 3; do
    if mpirun -n $n "$MPI_EPOCH" a.vls b.vls --epochs 2 --batch-size 16 --seed 3 > out 2> err &&
       grep -q "500 records, $n ranks, 2 epochs: every record exactly once: yes" out; then
        ok
    else
        bad "$n ranks"
        cat out err >&2
    fi
    cat out
done
finish
