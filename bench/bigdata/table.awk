# table.awk — results.tsv (from run.sh) to table.md: one table per profile, then issue 14's
# goals computed from the same run. Variables: ceil (the `vls_bigdata ceiling` RESULT line),
# lmdb_bytes (size of lmdb.mdb), logical (bytes of records).
function val(line, key,   m) {
  if (match(" " line, " " key "=[^ ]*")) {
    m = substr(" " line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
    return m + 0
  }
  return 0
}
function verdict(ok) { return ok ? "met" : "**missed**" }
NR == 1 { next }
{
  p = $1; key = p SUBSEP $2 SUBSEP $3
  rps[key] = $6; vm[key] = $10; cgp[key] = $12; limit[p] = $13; memlim[p] = $12
  if (!(p in seen)) { seen[p] = 1; order[++np] = p }
  rows[p] = rows[p] sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
    $2, $3, $4, $6, $7, $8, $9, $10, $11, ($13 > 0 ? sprintf("%.2f", $6 / $13) : "-"), $14)
  memlim[p] = $12
}
END {
  ratio = val(ceil, "ratio"); mean = val(ceil, "mean_record")
  lratio = lmdb_bytes > 0 ? logical / lmdb_bytes : 0
  printf "Decode ceiling (1 core, page cache): %d records/s, %.2f GB/s; vlstore ratio %.3f, " \
         "LMDB ratio %.3f; mean record %d bytes.\n\n", val(ceil, "ceiling_rps"),
         val(ceil, "decode_GBps"), ratio, lratio, mean
  for (i = 1; i <= np; i++) {
    p = order[i]
    printf "### profile %s (limit %d records/s)\n\n", p, limit[p]
    print "| engine | order | records | records/s | MB/s records | MB/s disk (proc) | MB/s disk (blkio) | peak RSS MiB | cgroup peak MiB | ÷ limit | status |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    printf "%s\n", rows[p]
    L = rps[p, "vlstore", "loader"]; G = rps[p, "vlstore", "random"]
    LL = rps[p, "lmdb", "loader"]; LR = rps[p, "lmdb", "random"]
    print "| goal (issue 14) | target | measured | |"
    print "|---|---:|---:|---|"
    printf "| loader epoch >= 95 %% of the limit | %d | %d (%.0f %%) | %s |\n", 0.95 * limit[p], L,
           limit[p] ? 100 * L / limit[p] : 0, verdict(L >= 0.95 * limit[p])
    if (LL > 0)
      printf "| loader >= 0.9 x (ratio %.2f / LMDB ratio %.2f) x LMDB in loader order | %d | %d | %s |\n",
             ratio, lratio, 0.9 * ratio / lratio * LL, L, verdict(L >= 0.9 * ratio / lratio * LL)
    if (LR > 0) {
      printf "| loader >= 5 x LMDB random | %d | %d | %s |\n", 5 * LR, L, verdict(L >= 5 * LR)
      printf "| get_many random >= 2 x LMDB random | %d | %d | %s |\n", 2 * LR, G, verdict(G >= 2 * LR)
    }
    # the loader's own memory: (threads + n_buffers + 1) read units of read_size chunks, with
    # the defaults 1 + 2 + 1 units of 4 x 4 MiB = 64 MiB; plus the 64 MiB the issue allows
    printf "| loader peak RSS <= 64 MiB of read units + 64 MiB | 128 | %d | %s |\n\n",
           vm[p, "vlstore", "loader"], verdict(vm[p, "vlstore", "loader"] <= 128)
  }
}
