/* mpi_epoch.c — the loader under MPI: every rank opens the same store files and takes its
 * own share of each epoch (rank r of W), with no communication needed to decide who reads
 * what: the same seed and epoch give every rank the same plan.
 *
 * To show the shares are right, the ranks then combine what they read: a count per record
 * (MPI_Allreduce), which must be exactly 1 for every record, and each rank's batch count,
 * which may differ by at most one (ranks step together).
 *
 *   mpirun -n 4 mpi_epoch STORE... [--epochs E] [--batch-size N] [--seed S]
 * Prints one line per rank and epoch, then "every record exactly once: yes" (exit 0) or what
 * went wrong (exit 1). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vlstore_loader.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, world;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);

    const char *paths[64];
    size_t npaths = 0;
    int epochs = 2;
    vls_loader_options o;
    vls_loader_options_init(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch-size") && i + 1 < argc)
            o.batch_size = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            o.seed = strtoull(argv[++i], NULL, 10);
        else if (npaths < 64)
            paths[npaths++] = argv[i];
    }
    if (npaths == 0) {
        if (rank == 0)
            fprintf(stderr, "usage: mpirun -n W mpi_epoch STORE... [--epochs E] "
                            "[--batch-size N] [--seed S]\n");
        MPI_Finalize();
        return 2;
    }
    o.rank = (uint32_t)rank;
    o.world = (uint32_t)world;

    vls_loader *ld;
    int rc = vls_loader_open(paths, npaths, &o, &ld);
    if (rc != VLS_OK) {
        fprintf(stderr, "rank %d: %s: %s\n", rank, vls_strerror(rc), vls_loader_errmsg(NULL));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    vls_loader_info info;
    vls_loader_info_get(ld, &info);

    /* record number across files: file f's records come after those of files 0..f-1 */
    uint64_t *base = calloc(npaths + 1, sizeof *base);
    for (size_t f = 0; f < npaths; f++) {
        vls_store *s;
        if (vls_open(paths[f], VLS_RDONLY, NULL, &s) != VLS_OK)
            MPI_Abort(MPI_COMM_WORLD, 1);
        base[f + 1] = base[f] + vls_count(s);
        vls_close(s);
    }
    uint64_t n = info.records;
    int *mine = calloc(n ? n : 1, sizeof *mine), *all = calloc(n ? n : 1, sizeof *all);
    int ok = 1;
    for (int e = 0; e < epochs; e++) {
        if (e > 0)
            vls_loader_start_epoch(ld, (uint64_t)e);
        memset(mine, 0, (n ? n : 1) * sizeof *mine);
        const vls_record *recs;
        size_t m;
        long batches = 0, records = 0;
        double bytes = 0, t0 = MPI_Wtime();
        while ((rc = vls_loader_next(ld, &recs, &m)) == 1) {
            batches++;
            for (size_t i = 0; i < m; i++) {
                mine[base[recs[i].file] + recs[i].index]++;
                bytes += (double)recs[i].len;
                records++;
            }
        }
        double secs = MPI_Wtime() - t0;
        if (rc < 0) {
            fprintf(stderr, "rank %d: %s: %s\n", rank, vls_strerror(rc), vls_loader_errmsg(ld));
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        printf("rank %d of %d, epoch %d: %ld records in %ld batches, %.1f MB in %.3f s\n", rank,
               world, e, records, batches, bytes / 1e6, secs);
        fflush(stdout);

        MPI_Allreduce(mine, all, (int)n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        long bmin, bmax;
        MPI_Allreduce(&batches, &bmin, 1, MPI_LONG, MPI_MIN, MPI_COMM_WORLD);
        MPI_Allreduce(&batches, &bmax, 1, MPI_LONG, MPI_MAX, MPI_COMM_WORLD);
        uint64_t missing = 0, twice = 0;
        for (uint64_t i = 0; i < n; i++) {
            missing += all[i] == 0;
            twice += all[i] > 1;
        }
        if (rank == 0 && (missing || twice || bmax - bmin > 1)) {
            printf("epoch %d: %llu records missing, %llu served more than once, batches per "
                   "rank %ld..%ld\n", e, (unsigned long long)missing,
                   (unsigned long long)twice, bmin, bmax);
            ok = 0;
        }
    }
    if (rank == 0)
        printf("%llu records, %d ranks, %d epochs: every record exactly once: %s\n",
               (unsigned long long)n, world, epochs, ok ? "yes" : "NO");
    vls_loader_close(ld);
    free(base);
    free(mine);
    free(all);
    MPI_Finalize();
    return ok ? 0 : 1;
}
