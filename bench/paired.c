/*
 * paired.c — alternating rounds (docs/BENCH.md, "Alternating rounds"): vlstore against
 * raw-blosc (write, scan), and vlstore's loader against LMDB (block epoch).
 */
#include "driver.h"

#include <stdlib.h>
#include <string.h>
#ifndef VLS_BENCH_NO_VLSTORE
#include <vlstore.h>
#endif

/* Issue 3 asks for vlstore's write and scan as a share of raw Blosc's. Run one engine after
 * the other, minutes apart, and the other tenants of a shared machine move that share by
 * ±20 % between runs. Here the two alternate: each round writes and scans vlstore and raw
 * Blosc back to back (who goes first alternates too), and the share is the median over
 * rounds of the round's own ratio. */
int run_paired(const bench_engine_ops *const ops[2], const bench_config *cfg,
                      const char *base, plan *p)
{
    int rounds = 2 * p->a->reps + 1 > 9 ? 9 : 2 * p->a->reps + 1;
    bench_engine e[2];
    result r[2];
    double ws[2][9], ss[2][9], wq[9], sq[9];
    int rc = 0, ready[2] = {0, 0};
    for (int i = 0; i < 2 && rc == 0; i++)
        ready[i] = (rc = engine_setup(&e[i], &r[i], ops[i], cfg, base, "paired-")) == 0;
    for (int k = 0; k < rounds && rc == 0; k++)
        for (int j = 0; j < 2 && rc == 0; j++) {
            int i = (k + j) % 2;
            if ((rc = timed_write(&e[i], p, 1, &ws[i][k])) != 0)
                break;
            if (dir_prewarm(e[i].dir) < 0) {
                rc = bench_fail(&e[i], "cannot read the files in %s", e[i].dir);
                break;
            }
            if ((rc = ops[i]->open(&e[i], p->w)) != 0)
                break;
            rc = timed_scan(&e[i], p, &r[i], &ss[i][k]);
            ops[i]->close(&e[i]);
        }
#ifndef VLS_BENCH_NO_VLSTORE
    /* What checking every chunk costs: vlstore hashes each chunk's compressed bytes once per
     * handle; raw Blosc checks nothing. Timed over the whole file held in memory. */
    if (rc == 0) {
        uint64_t n = dir_bytes(e[0].dir);
        unsigned char *buf = n ? malloc(n) : NULL;
        double best = 0;
        if (buf && dir_read_all(e[0].dir, buf, n) == 0)
            for (int t = 0; t < 5; t++) {
                double t0 = now_sec();
                uint64_t h = 0;
                for (uint64_t at = 0; at < n; at += (uint64_t)4 << 20)
                    h ^= vls_hash64(buf + at, n - at < ((uint64_t)4 << 20) ? (size_t)(n - at)
                                                                             : (size_t)4 << 20);
                double dt = now_sec() - t0 + (double)(h & 1) * 1e-12; /* keep h alive */
                if (t == 0 || dt < best)
                    best = dt;
            }
        p->paired_hash_s = best;
        free(buf);
    }
#endif
    for (int i = 0; i < 2; i++) {
        p->paired_scan[i] = r[i].t[PH_SCAN];
        if (rc == 0 && r[i].bad)
            rc = bench_fail(&e[i], "%llu records failed the check in the paired rounds; "
                            "first: %s", (unsigned long long)r[i].bad, r[i].bad_what);
        if (rc != 0 && e[i].err[0])
            note(ops[i]->name, "paired rounds FAILED: %s", e[i].err);
        if (ready[i] && ops[i]->fini)
            ops[i]->fini(&e[i]);
        if (!p->a->keep)
            dir_remove(e[i].dir);
    }
    if (rc != 0)
        return -1;
    for (int k = 0; k < rounds; k++) {
        wq[k] = ws[1][k] / ws[0][k]; /* speed ratio = time ratio, inverted */
        sq[k] = ss[1][k] / ss[0][k];
    }
    double total = (double)p->w->total;
    p->paired_rounds = rounds;
    p->paired_write_q = percentile(wq, (size_t)rounds, 0.5);
    p->paired_scan_q = percentile(sq, (size_t)rounds, 0.5);
    for (int i = 0; i < 2; i++) {
        p->paired_write_mbs[i] = total / percentile(ws[i], (size_t)rounds, 0.5) / 1e6;
        p->paired_scan_mbs[i] = total / percentile(ss[i], (size_t)rounds, 0.5) / 1e6;
    }
    note("paired", "%d rounds: write %.0f %% of raw-blosc, scan %.0f %%", rounds,
         100 * p->paired_write_q, 100 * p->paired_scan_q);
    return 0;
}

/* The training-path comparison the same way: vlstore's loader and LMDB each read the block
 * epoch (the same keys in the same batches) once per round, back to back, who goes first
 * alternating; the ratio is the median over rounds of each round's own ratio. Each store is
 * written once, untimed, and its files are read into the page cache first, as in phase 6. */
int run_paired_block(const bench_engine_ops *const ops[2], const bench_config *cfg,
                     const char *base, plan *p)
{
    int rounds = 2 * p->a->reps + 1 > 9 ? 9 : 2 * p->a->reps + 1;
    bench_engine e[2];
    result r[2];
    double rps[2][9], q[9], secs;
    int rc = 0, ready[2] = {0, 0};
    for (int i = 0; i < 2 && rc == 0; i++) {
        ready[i] = (rc = engine_setup(&e[i], &r[i], ops[i], cfg, base, "paired-block-")) == 0;
        if (rc == 0)
            rc = timed_write(&e[i], p, 0, &secs);
        if (rc == 0 && dir_prewarm(e[i].dir) < 0)
            rc = bench_fail(&e[i], "cannot read the files in %s", e[i].dir);
    }
    for (int k = 0; k < rounds && rc == 0; k++)
        for (int j = 0; j < 2 && rc == 0; j++) {
            int i = (k + j) % 2;
            size_t done = 0;
            if (ops[i]->loader_epoch) {
                rc = loader_block_epoch(&e[i], p, &r[i]);
                rps[i][k] = r[i].block_rps;
            } else if ((rc = ops[i]->open(&e[i], p->w)) == 0) {
                rc = timed_batches(&e[i], p, &r[i], PH_BLOCK, p->block, p->block_len,
                                   p->nblock_batches, &rps[i][k], &done);
                ops[i]->close(&e[i]);
            }
        }
    for (int i = 0; i < 2; i++) {
        p->paired_block[i] = r[i].t[PH_BLOCK];
        if (rc == 0 && !result_clean(&r[i]))
            rc = bench_fail(&e[i], "the block epoch rounds served records wrong; first: %s",
                            r[i].bad_what);
        if (rc != 0 && e[i].err[0])
            note(ops[i]->name, "block rounds FAILED: %s", e[i].err);
        if (ready[i] && ops[i]->fini)
            ops[i]->fini(&e[i]);
        if (!p->a->keep)
            dir_remove(e[i].dir);
    }
    if (rc != 0)
        return -1;
    for (int k = 0; k < rounds; k++)
        q[k] = rps[0][k] / rps[1][k];
    p->block_rounds = rounds;
    p->block_q = percentile(q, (size_t)rounds, 0.5);
    for (int i = 0; i < 2; i++)
        p->block_rps[i] = percentile(rps[i], (size_t)rounds, 0.5);
    note("paired", "%d rounds: block epoch, vlstore's loader at %.2fx LMDB", rounds, p->block_q);
    return 0;
}
