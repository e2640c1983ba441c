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
function goal(text, target, measured, ok) {
  printf "| %s | %s | %s | %s |\n", text, target, measured, verdict(ok)
}
NR == 1 { next }
{
  p = $1; key = p SUBSEP $2 SUBSEP $3
  rps[key] = $6; vm[key] = $10; limit[p] = $13; reads[key] = $15; kb[key] = $16
  if (!(p in seen)) { seen[p] = 1; order[++np] = p }
  rows[p] = rows[p] sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
    $2, $3, $4, $6, $7, $9, $15, $16, $10, $11, ($13 > 0 ? sprintf("%.2f", $6 / $13) : "-"),
    $12, $14)
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
    print "| engine | order | records | records/s | MB/s records | MB/s disk | reads/record | KB/record | peak RSS MiB | cgroup peak MiB | ÷ limit | memory limit MiB | status |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    printf "%s\n", rows[p]
    L = rps[p, "vlstore", "loader"]; G = rps[p, "vlstore", "random"]
    LL = rps[p, "lmdb", "loader"]; LR = rps[p, "lmdb", "random"]
    print "| goal (issue 14) | target | measured | |"
    print "|---|---:|---:|---|"
    goal("loader epoch >= 95 % of the limit", sprintf("%d", 0.95 * limit[p]),
         sprintf("%d (%.0f %%)", L, limit[p] ? 100 * L / limit[p] : 0), L >= 0.95 * limit[p])
    if (LL > 0)
      goal(sprintf("loader >= 0.9 x (ratio %.2f / LMDB ratio %.2f) x LMDB in loader order", ratio, lratio),
           sprintf("%d", 0.9 * ratio / lratio * LL), L, L >= 0.9 * ratio / lratio * LL)
    if (LR > 0) {
      goal("loader >= 5 x LMDB random", 5 * LR, L, L >= 5 * LR)
      goal("get_many random >= 2 x LMDB random", 2 * LR, G, G >= 2 * LR)
      split("vlstore-pread|vlstore-ra|vlstore-ra-pread", alt, "|")
      split("VLS_NOMMAP (block reads)|64 KiB blocks (vls_options_random_access)|64 KiB blocks, VLS_NOMMAP", altw, "|")
      for (a = 1; a <= 3; a++)
        if ((p SUBSEP alt[a] SUBSEP "random") in rps)
          goal("get_many random, " altw[a] " >= 2 x LMDB random", 2 * LR,
               rps[p, alt[a], "random"], rps[p, alt[a], "random"] >= 2 * LR)
    }
    # the loader's own memory: (threads + n_buffers + 1) read units of read_size chunks, with
    # the defaults 1 + 2 + 1 units of 4 x 4 MiB = 64 MiB; plus the 64 MiB the issue allows
    split("vlstore vlstore4 vlstore-2ranks", who, " ")
    split("1 file|4 files|2 ranks (largest process)", what, "|")
    for (w = 1; w <= 3; w++)
      if ((p SUBSEP who[w] SUBSEP "loader") in vm)
        goal("loader peak RSS <= 64 MiB of read units + 64 MiB, " what[w], 128,
             vm[p, who[w], "loader"], vm[p, who[w], "loader"] <= 128)
    print ""
  }
}
