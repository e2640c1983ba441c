#!/usr/bin/env bash
# bench/bigdata/run.sh — bigger than memory, slower than RAM (docs/BENCH.md, "Bigger than
# memory"). Every engine reads the same records from a slow disk inside a cgroup whose memory
# limit includes the page cache:
#   - the disk: a file-backed loop device with direct I/O (losetup --direct-io=on, so the host's
#     page cache does not serve it), read_ahead_kb 128, ext4 made on it, mounted in a temp dir;
#   - the cgroup (v1): memory.limit_in_bytes = the profile's memory plus the process's own
#     needs; blkio.throttle.read_bps_device / read_iops_device on the loop device's MAJ:MIN;
#   - before every run the file system is unmounted and mounted again: nothing of the data is
#     in the page cache, and no other process's cache is touched (no drop_caches).
# Writes table.md, results.dat and results.png into --out (default build/bigdata), never into
# tracked files.
#
#   run.sh [--profile default|nvme|ci|all] [--out DIR] [--bin PATH] [--work DIR]
#          [--size-mib N] [--mem-mib N] [--bps N] [--iops N] [--sample N] [--overhead-mib N]
#
# Profiles: default = 4 GiB of records, 1 GiB memory, 250 MB/s, 2,500 IOPS; nvme = the same
# without the throttle; all = default then nvme on the same files (what `make bench-bigdata`
# runs); ci = 96 MiB, 32 MiB, 40 MB/s, 1,000 IOPS (the ctest test).
# Exit 77 (a skip) with the reason when the machine cannot do this: not root, no cgroup v1
# memory + blkio hierarchy (cgroup v2 would need memory.max and io.max instead: not done here),
# no free loop device, no mkfs.ext4.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
profile=all out="" bin="" work="" size="" mem="" bps="" iops="" sample="" overhead=""
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --size-mib) size=$2; shift 2 ;;
    --mem-mib) mem=$2; shift 2 ;;
    --bps) bps=$2; shift 2 ;;
    --iops) iops=$2; shift 2 ;;
    --sample) sample=$2; shift 2 ;;
    --overhead-mib) overhead=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

case "$profile" in
  default|all) : "${size:=4096}" "${mem:=1024}" "${bps:=250000000}" "${iops:=2500}" "${sample:=20000}" ;;
  nvme) : "${size:=4096}" "${mem:=1024}" "${bps:=0}" "${iops:=0}" "${sample:=20000}" ;;
  ci) : "${size:=96}" "${mem:=32}" "${bps:=40000000}" "${iops:=1000}" "${sample:=400}" ;;
  *) echo "run.sh: unknown profile $profile (default, nvme, all, ci)" >&2; exit 2 ;;
esac
: "${out:=$root/build/bigdata}"
: "${bin:=$root/build/bench/bigdata/vls_bigdata}"
# The process's own needs on top of the profile's memory: binaries, the plan and hashes
# (8 bytes a record), and the engine's buffers (the vlstore loader's read units: see
# docs/BENCH.md). Every engine gets the same allowance.
overhead_mib=128
[ "$profile" = ci ] && overhead_mib=64
[ -n "$overhead" ] && overhead_mib=$overhead # e.g. a sanitizer build's shadow memory

skip() { echo "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (loop devices, mount, cgroups)"
if [ ! -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] ||
   [ ! -f /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device ]; then
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    skip "cgroup v2 only (memory.max / io.max); this script drives cgroup v1 memory + blkio"
  fi
  skip "no cgroup v1 memory and blkio (with throttling) hierarchies under /sys/fs/cgroup"
fi
for t in losetup mkfs.ext4 mount umount lsblk; do
  command -v "$t" >/dev/null || skip "$t not found (util-linux, e2fsprogs)"
done
[ -x "$bin" ] || { echo "run.sh: $bin not built (cmake --build build --target vls_bigdata)" >&2; exit 1; }
losetup -f >/dev/null 2>&1 || skip "no free loop device"

: "${work:=${TMPDIR:-/var/tmp}}"
tmp=$(mktemp -d "$work/vls-bigdata.XXXXXX")
cg=vls-bigdata-$$
mnt=$tmp/mnt loop=""
cleanup() {
  set +e
  mountpoint -q "$mnt" && umount "$mnt"
  [ -n "$loop" ] && losetup -d "$loop"
  for c in memory blkio; do
    [ -d /sys/fs/cgroup/$c/$cg ] && rmdir /sys/fs/cgroup/$c/$cg
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# The disk: big enough for every engine's copy (about 5.3 times the records) plus ext4's own.
img_mib=$(( size * 6 + 512 ))
truncate -s "${img_mib}M" "$tmp/disk.img"
loop=$(losetup -f --show --direct-io=on "$tmp/disk.img") || skip "losetup --direct-io=on failed"
dev=$(basename "$loop")
echo 128 > /sys/block/$dev/queue/read_ahead_kb
majmin=$(lsblk -dno MAJ:MIN "$loop" | tr -d ' ')
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$loop"
mkdir -p "$mnt"
mount "$loop" "$mnt"
data=$mnt/data
mkdir -p "$data" "$out"

mkdir /sys/fs/cgroup/memory/$cg /sys/fs/cgroup/blkio/$cg
mcg=/sys/fs/cgroup/memory/$cg bcg=/sys/fs/cgroup/blkio/$cg
# in_cgroup CMD...: runs CMD in both cgroups (the shell joins them, then execs CMD).
in_cgroup() {
  sh -c 'echo $$ > "$1/cgroup.procs" && echo $$ > "$2/cgroup.procs" && shift 2 && exec "$@"' \
    sh "$mcg" "$bcg" "$@"
}
remount() { # empties the page cache of the data set, and only of it
  sync
  umount "$mnt"
  mount "$loop" "$mnt"
}

log=$out/run.log
: > "$log"
echo "# vls_bigdata: $(date -u +%FT%TZ), $(nproc) cores, kernel $(uname -r)" | tee -a "$log"
echo "# disk: $loop ($majmin) over $tmp/disk.img, direct I/O, read_ahead_kb 128, ext4" | tee -a "$log"

# Write every engine's file once, in a cgroup holding the page cache to 2 GiB (so the
# 4-engine write does not push other work on the machine out of memory); not throttled.
echo $(( (2048 > mem * 2 ? 2048 : mem * 2) << 20 )) > "$mcg/memory.limit_in_bytes"
t0=$(date +%s)
in_cgroup "$bin" write "$data" "$size" 42 | tee -a "$log"
echo "# write: $(( $(date +%s) - t0 )) s; files: $(ls -l "$data" | awk 'NR>1{printf "%s %d MB; ", $9, $5/1e6}')" | tee -a "$log"
remount
# the decode ceiling: from the page cache, outside the memory limit
ceil=$("$bin" ceiling "$data" 1 | tee -a "$log" | grep '^RESULT')
remount

results=$out/results.tsv
printf 'profile\tengine\torder\trecords\tsecs\trps\tlogical_MBps\tdisk_MBps\tcg_disk_MBps\tvmhwm_MiB\tcg_peak_MiB\tmem_limit_MiB\tlimit_rps\tstatus\treads_per_record\tKB_per_record\n' > "$results"

# bytes the cgroup read from the loop device (blkio.reset_stats does not reset the throttle
# counters on every kernel: runs take differences)
blkio_read() { # [io_serviced]: read requests instead of bytes
  awk -v d="$majmin" '$1 == d && $2 == "Read" { print $3; f = 1 } END { if (!f) print 0 }' \
    "$bcg/blkio.throttle.${1:-io_service_bytes}"
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

run_profile() { # name bps iops
  local name=$1 pbps=$2 piops=$3
  local limit_bytes=$(( (mem + overhead_mib) << 20 ))
  echo "$limit_bytes" > "$mcg/memory.limit_in_bytes"
  echo "$majmin $pbps" > "$bcg/blkio.throttle.read_bps_device"
  echo "$majmin $piops" > "$bcg/blkio.throttle.read_iops_device"
  local ratio mean ceil_rps limit
  ratio=$(field ratio "$ceil") mean=$(field mean_record "$ceil") ceil_rps=$(field ceiling_rps "$ceil")
  # the limit: min(read bandwidth x ratio / mean record, decode ceiling on the 1 core used)
  # unthrottled, the disk's own sequential bandwidth stands for the throttle: large direct
  # reads of raw.bin, inside the cgroup
  local bw=$pbps
  if [ "$pbps" -eq 0 ]; then
    remount
    bw=$(in_cgroup dd if="$data/raw.bin" of=/dev/null bs=4M count=128 iflag=direct 2>&1 |
         awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print int($1 / $(i - 1)) }')
    echo "# unthrottled sequential read (dd bs=4M iflag=direct): ${bw:-?} B/s" | tee -a "$log"
  fi
  limit=$(awk -v b="${bw:-0}" -v r="$ratio" -v m="$mean" -v c="$ceil_rps" \
    'BEGIN { x = b * r / m; if (b <= 0) x = c; printf "%.0f", x < c ? x : c }')
  echo "# profile $name: memory limit $(( limit_bytes >> 20 )) MiB ($mem + $overhead_mib), reads ${pbps:-0} B/s, ${piops:-0} IOPS (0 = unthrottled); limit $limit records/s" | tee -a "$log"
  # engine, order, ranks (2: two loader processes, one rank each, side by side in the cgroup)
  local runs=("vlstore loader 1" "vlstore4 loader 1" "vlstore loader 2" "vlstore random 1"
              "vlstore-pread random 1" "vlstore-ra random 1" "vlstore-ra-pread random 1"
              "lmdb loader 1" "lmdb random 1" "hdf5 loader 1" "hdf5 random 1" "raw loader 1"
              "raw random 1")
  for r in "${runs[@]}"; do
    set -- $r
    local engine=$1 order=$2 ranks=$3
    remount
    echo 0 > "$mcg/memory.max_usage_in_bytes"
    local cgread0 cgreq0 cgread cgreq
    cgread0=$(blkio_read) cgreq0=$(blkio_read io_serviced)
    local maxrec=0 line="" status=ok
    [ "$order" = random ] && maxrec=$sample
    # the per-record engines read a prefix of the loader's order (rates, not totals, are
    # compared; a whole epoch of them takes minutes at a few thousand records/s)
    [ "$order" = loader ] && [ "${engine#vlstore}" = "$engine" ] && maxrec=$(( sample * 3 ))
    # every process gets the allowance for its own needs
    echo $(( limit_bytes + ((ranks - 1) * overhead_mib << 20) )) > "$mcg/memory.limit_in_bytes"
    local kills0 kills1 k pids=()
    kills0=$(sed -n 's/^oom_kill //p' "$mcg/memory.oom_control")
    for (( k = 0; k < ranks; k++ )); do
      in_cgroup "$bin" read "$data" "$engine" "$order" "$maxrec" 1 $( [ "$ranks" -gt 1 ] && echo "$k $ranks") \
        > "$tmp/out.$k" 2> "$tmp/err.$k" &
      pids+=($!)
    done
    for (( k = 0; k < ranks; k++ )); do
      wait "${pids[$k]}" || status=failed
    done
    if [ "$status" = failed ]; then
      kills1=$(sed -n 's/^oom_kill //p' "$mcg/memory.oom_control")
      [ "${kills1:-0}" != "${kills0:-0}" ] && status=oom-killed
      grep -q "not built in" "$tmp"/err.* && status=not-built
    fi
    cat "$tmp"/err.* >> "$log"
    cat "$tmp"/out.* | tee -a "$log"
    # ranks together: records and bytes add up, the slowest rank sets the time, and the
    # peak resident memory reported is the largest of one process
    line=$(cat "$tmp"/out.* | awk '/^RESULT/ {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        rec += v["records"]; lb += v["logical_MBps"] * v["secs"]; db += v["disk_bytes"]
        if (v["secs"] > secs) secs = v["secs"]; if (v["vmhwm_kb"] > hwm) hwm = v["vmhwm_kb"]
        n++ }
      END { if (n) printf "records=%d secs=%.3f rps=%.0f logical_MBps=%.1f disk_MBps=%.1f vmhwm_kb=%d",
                          rec, secs, rec / secs, lb / secs, db / secs / 1e6, hwm }')
    rm -f "$tmp"/out.* "$tmp"/err.*
    if [ "$ranks" -gt 1 ] && [ "$status" = ok ] &&
       [ "$(field records "$line")" != "$(awk '{ print $6 }' "$data/meta.txt")" ]; then
      echo "run.sh: $ranks ranks served $(field records "$line") records, not the whole set" | tee -a "$log"
      status=failed
    fi
    local cgpeak secs recs
    cgpeak=$(cat "$mcg/memory.max_usage_in_bytes")
    cgread=$(( $(blkio_read) - cgread0 )) cgreq=$(( $(blkio_read io_serviced) - cgreq0 ))
    secs=$(field secs "$line") recs=$(field records "$line")
    [ "$ranks" -gt 1 ] && engine="$engine-${ranks}ranks"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$engine" "$order" \
      "$recs" "$secs" "$(field rps "$line")" "$(field logical_MBps "$line")" \
      "$(field disk_MBps "$line")" \
      "$(awk -v b="${cgread:-0}" -v s="${secs:-0}" 'BEGIN { if (s > 0) printf "%.1f", b / s / 1e6; else print "-" }')" \
      "$(( $(field vmhwm_kb "$line" || echo 0) / 1024 ))" "$(( cgpeak >> 20 ))" \
      "$(( (limit_bytes >> 20) + (ranks - 1) * overhead_mib ))" "$limit" "$status" \
      "$(awk -v q="$cgreq" -v n="${recs:-0}" 'BEGIN { if (n > 0) printf "%.2f", q / n; else print "-" }')" \
      "$(awk -v b="$cgread" -v n="${recs:-0}" 'BEGIN { if (n > 0) printf "%.1f", b / n / 1e3; else print "-" }')" >> "$results"
  done
}

case "$profile" in
  all) run_profile default "$bps" "$iops"; run_profile nvme 0 0 ;;
  nvme) run_profile nvme 0 0 ;;
  *) run_profile "$profile" "$bps" "$iops" ;;
esac

# The table, and the goals of issue 14 computed from it.
lmdb_bytes=$( [ -f "$data/lmdb.mdb" ] && stat -c %s "$data/lmdb.mdb" || echo 0)
logical=$(awk '{ print $8 }' "$data/meta.txt")
awk -F'\t' -v ceil="$ceil" -v lmdb_bytes="$lmdb_bytes" -v logical="$logical" \
  -f "$here/table.awk" "$results" > "$out/table.md"
cat "$out/table.md"
if command -v gnuplot >/dev/null; then
  awk -F'\t' 'NR > 1 { print $1 "/" $2 "-" $3, $6, $13 }' "$results" > "$out/results.dat"
  gnuplot -e "datafile='$out/results.dat'; outfile='$out/results.png'" "$here/plot.gnuplot" &&
    echo "plot: $out/results.png"
fi
# an engine left out of the build (no liblmdb-dev / libhdf5-dev) is listed as not-built
if awk -F'\t' 'NR > 1 && $14 != "ok" && $14 != "not-built" { bad = 1 } END { exit !bad }' "$results"; then
  echo "run.sh: some runs failed (see $log)" >&2
  exit 1
fi
