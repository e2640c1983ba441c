/* cmd_loader.c — `vlstore epoch`: one epoch through the block-shuffle loader, with its
 * throughput and shuffle quality, or the served keys one per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vlstore_loader.h"

static const char epoch_usage[] =
    "usage: vlstore epoch STORE... [options]\n"
    "Runs one epoch of the block-shuffle loader over the stores (one dataset) and prints\n"
    "its throughput, or the keys served, one per line.\n"
    "  --batch-size N   records per batch (64)\n"
    "  --read-size N    chunk groups read and shuffled together (4)\n"
    "  --seed S         shuffle seed (0)\n"
    "  --epoch E        epoch number: a new order for each (0)\n"
    "  --rank R --world W   serve share R of W (0 of 1)\n"
    "  --threads N      decode threads per read (1)\n"
    "  --buffers N      batches kept valid (2)\n"
    "  --no-shuffle     storage order\n"
    "  --no-merge       keep a short final group on its own\n"
    "  --drop-last      drop the final short batch\n"
    "  --no-prefetch    read inline instead of on a background thread\n"
    "  --print-keys     print each served key\n"
    CLI_KEY_FORMAT_HELP;

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return 0;
    *out = v;
    return 1;
}

int cmd_epoch(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(epoch_usage, stdout);
        return EXIT_OK;
    }
    vls_loader_options o;
    vls_loader_options_init(&o);
    int print_keys = 0, kf = KEYFMT_TEXT, kr;
    const char **paths = calloc((size_t)argc, sizeof *paths);
    size_t npaths = 0;
    if (!paths)
        return EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t v = 0;
        int has_value = i + 1 < argc;
        if ((kr = cli_key_format_arg("epoch", argc, argv, &i, &kf)) != 0) {
            if (kr < 0) {
                free(paths);
                return cli_usage(epoch_usage);
            }
        } else if (!strcmp(a, "--no-shuffle"))
            o.shuffle = 0;
        else if (!strcmp(a, "--no-merge"))
            o.merge_last = 0;
        else if (!strcmp(a, "--drop-last"))
            o.drop_last = 1;
        else if (!strcmp(a, "--no-prefetch"))
            o.prefetch = 0;
        else if (!strcmp(a, "--print-keys"))
            print_keys = 1;
        else if (!strncmp(a, "--", 2)) {
            if (!has_value || !parse_u64(argv[i + 1], &v)) {
                fprintf(stderr, "vlstore epoch: %s needs a whole number\n", a);
                free(paths);
                return cli_usage(epoch_usage);
            }
            i++;
            if (!strcmp(a, "--batch-size") && v >= 1 && v <= UINT32_MAX)
                o.batch_size = (uint32_t)v;
            else if (!strcmp(a, "--read-size") && v >= 1 && v <= UINT32_MAX)
                o.read_size = (uint32_t)v;
            else if (!strcmp(a, "--seed"))
                o.seed = v;
            else if (!strcmp(a, "--epoch"))
                o.epoch = v;
            else if (!strcmp(a, "--rank") && v <= UINT32_MAX)
                o.rank = (uint32_t)v;
            else if (!strcmp(a, "--world") && v >= 1 && v <= UINT32_MAX)
                o.world = (uint32_t)v;
            else if (!strcmp(a, "--threads") && v >= 1 && v <= 256)
                o.threads = (int32_t)v;
            else if (!strcmp(a, "--buffers") && v >= 1 && v <= 1024)
                o.n_buffers = (uint32_t)v;
            else {
                fprintf(stderr, "vlstore epoch: unknown option or bad value: %s %s\n", a,
                        argv[i]);
                free(paths);
                return cli_usage(epoch_usage);
            }
        } else {
            paths[npaths++] = a;
        }
    }
    if (npaths == 0) {
        free(paths);
        return cli_usage(epoch_usage);
    }
    if (o.rank >= o.world) {
        fprintf(stderr, "vlstore epoch: --rank %u must be below --world %u\n", o.rank, o.world);
        free(paths);
        return cli_usage(epoch_usage);
    }

    /* The stores are opened here, once, and handed to the loader: their record counts place
     * each file in the dataset's storage order for the shuffle-quality figures. Opened as
     * vls_loader_open would: read-only, no chunk cache (the loader reads whole chunks). */
    double t0 = cli_now();
    int exit_code = EXIT_FAIL;
    vls_loader *ld = NULL;
    vls_store **stores = calloc(npaths, sizeof *stores);
    uint64_t *file_base = calloc(npaths + 1, sizeof *file_base);
    vls_options so;
    vls_options_init(&so);
    so.cache_bytes = 0;
    int rc = stores && file_base ? VLS_OK : VLS_E_NOMEM;
    for (size_t f = 0; rc == VLS_OK && f < npaths; f++) {
        rc = vls_open(paths[f], VLS_RDONLY, &so, &stores[f]);
        if (rc != VLS_OK)
            fprintf(stderr, "vlstore epoch: %s: %s\n", vls_strerror(rc), vls_errmsg(NULL));
        else
            file_base[f + 1] = file_base[f] + vls_count(stores[f]);
    }
    if (rc != VLS_OK)
        goto done;
    rc = vls_loader_open_stores(stores, npaths, &o, &ld);
    if (rc != VLS_OK) {
        fprintf(stderr, "vlstore epoch: %s: %s\n", vls_strerror(rc), vls_loader_errmsg(NULL));
        goto done;
    }
    double t1 = cli_now();
    vls_loader_info info;
    vls_loader_info_get(ld, &info);

    /* shuffle quality, measured on the served order: how far each record lands from its
     * place in storage order (relative to what a uniform permutation gives, N/3), and how
     * often two records served one after another are storage neighbours */
    double displacement = 0;
    uint64_t served = 0, bytes = 0, neighbours = 0, prev = UINT64_MAX, batches = 0;
    const vls_record *recs;
    size_t n;
    double t2 = cli_now();
    while ((rc = vls_loader_next(ld, &recs, &n)) == 1) {
        batches++;
        for (size_t i = 0; i < n; i++) {
            const vls_record *r = &recs[i];
            if (print_keys) {
                cli_key_print(stdout, kf, r->key, r->klen);
                putchar('\n');
            }
            uint64_t g = file_base[r->file] + r->index;
            /* displacement is reported for a whole dataset (world 1) only */
            displacement += g > served ? (double)(g - served) : (double)(served - g);
            neighbours += prev != UINT64_MAX && g == prev + 1;
            prev = g;
            served++;
            bytes += r->len;
        }
    }
    double t3 = cli_now();
    if (rc < 0) {
        fprintf(stderr, "vlstore epoch: %s: %s\n", vls_strerror(rc), vls_loader_errmsg(ld));
        goto done;
    }
    vls_loader_info_get(ld, &info);
    if (!print_keys) {
        double secs = t3 - t2 > 0 ? t3 - t2 : 1e-9;
        printf("epoch %llu (seed %llu), rank %u of %u: %llu records in %llu batches of %u "
               "(%llu records in %llu groups in all)\n", (unsigned long long)o.epoch,
               (unsigned long long)o.seed, o.rank, o.world, (unsigned long long)served,
               (unsigned long long)batches, o.batch_size, (unsigned long long)info.records,
               (unsigned long long)info.groups);
        printf("read %.1f MB in %llu reads of %u groups in %.3f s: %.0f MB/s, %.0f records/s "
               "(open %.3f s; waited %.3f s for reads; %d decode thread%s, prefetch %s)\n",
               bytes / 1e6, (unsigned long long)info.reads_done, o.read_size, secs,
               bytes / 1e6 / secs, served / secs, t1 - t0, info.wait_ns / 1e9, o.threads,
               o.threads == 1 ? "" : "s", o.prefetch ? "on" : "off");
        if (o.world == 1 && served > 1)
            printf("shuffle: mean displacement %.3f of a uniform permutation's; %.2f%% of "
                   "consecutive records are storage neighbours\n",
                   displacement / served / (served / 3.0), 100.0 * neighbours / (served - 1));
    }
    exit_code = EXIT_OK;
done:
    vls_loader_close(ld);
    for (size_t f = 0; stores && f < npaths; f++)
        vls_close(stores[f]);
    free(stores);
    free(file_base);
    free(paths);
    return exit_code;
}
