#!/usr/bin/env bash
# verify_memory.sh — peak resident memory and time of `vlstore verify` on a large store, for
# one or more vlstore binaries side by side (before/after a change), in alternating rounds.
#
#   scripts/verify_memory.sh STORE_MB BUILD_DIR_OR_VLSTORE... [--rounds N]
#
# Makes (once, under $TMPDIR) a store of about STORE_MB MB of file: 101k records of ~19 KB
# (12 KB float32-like + 8 KB random bytes), keyed traj<t>/<i>, written with the library of
# the first build through ctypes. Then runs `/usr/bin/time -f '%e %M' vlstore verify` with
# each binary in turn and prints seconds and peak RSS (KB) per round.
set -euo pipefail
mb=${1:?usage: verify_memory.sh STORE_MB VLSTORE... [--rounds N]}
shift
rounds=2
bins=()
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift 2 ;;
    *) bins+=("$1"); shift ;;
    esac
done
for i in "${!bins[@]}"; do [ -d "${bins[$i]}" ] && bins[$i]=${bins[$i]}/vlstore; done
lib=$(dirname "${bins[0]}")/libvlstore.so
store=${TMPDIR:-/tmp}/verify_memory_${mb}.vls
if [ ! -f "$store" ]; then
    /usr/bin/python3 - "$lib" "$store" "$mb" <<'PY'
import array, ctypes, random, struct, sys
lib = ctypes.CDLL(sys.argv[1])
path, target = sys.argv[2].encode(), int(sys.argv[3]) * 1e6
s = ctypes.c_void_p()
assert lib.vls_open(path, 0x2 | 0x4, None, ctypes.byref(s)) == 0  # VLS_CREATE | VLS_TRUNCATE
r = random.Random(1)
base = array.array("f", [r.random() for _ in range(3000)]).tobytes()
i = 0
while True:
    rec = base[(i * 4) % 4000:] + struct.pack("<I", i) * 200 + r.randbytes(8000)
    key = f"traj{i // 1000}/{i % 1000}".encode()
    assert lib.vls_put(s, key, ctypes.c_size_t(len(key)), rec, ctypes.c_size_t(len(rec)), 0) == 0
    i += 1
    if i % 5000 == 0 and lib.vls_commit(s) == 0 and __import__("os").path.getsize(path) > target:
        break
assert lib.vls_close(s) == 0
print(f"{path.decode()}: {i} records")
PY
fi
echo "store: $store, $(stat -c %s "$store") bytes"
for ((r = 1; r <= rounds; r++)); do
    for b in "${bins[@]}"; do
        /usr/bin/time -o "$store.time" -f "round $r  $b: %e s, peak RSS %M KB, exit %x" \
            "$b" verify "$store" > /dev/null 2>&1 || true
        cat "$store.time"
    done
done
