/* test_loader — the block-shuffle loader: every record served exactly once per epoch over
 * many combinations of batch size, read size, merge, buffers, ranks, prefetch and files;
 * determinism by seed and epoch; views intact for n_buffers batches; resume; drop_last
 * keeps ranks in step; bad options, missing files and damaged chunks give clear errors.
 * Shuffle quality is reported (not asserted loosely). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vlstore_loader.h"

#define MAX_FILES 3

typedef struct {
    const char *paths[MAX_FILES];
    char *owned[MAX_FILES];
    uint64_t counts[MAX_FILES];
    uint64_t base[MAX_FILES]; /* first global record number of each file */
    uint64_t total;
} dataset;

/* Record i of file f: its length and content follow from (f, i) alone. */
static size_t rec_len(unsigned f, uint64_t i)
{
    uint64_t st = (uint64_t)f * 1000003u + i * 7919u + 1;
    uint64_t r = test_rand(&st);
    if (r % 23 == 0)
        return 0;
    if (r % 97 == 0)
        return 20000 + (size_t)(r >> 40) % 30000; /* bigger than a chunk */
    return 1 + (size_t)(r >> 33) % 3000;
}

static void rec_fill(unsigned f, uint64_t i, unsigned char *buf, size_t len)
{
    test_fill(buf, len, (uint64_t)f << 32 | i, 1);
}

static int rec_ok(unsigned f, uint64_t i, const vls_record *r)
{
    size_t len = rec_len(f, i);
    if (r->len != len || r->file != f || r->index != i)
        return 0;
    char key[48];
    int kl = snprintf(key, sizeof key, "f%u/r%llu", f, (unsigned long long)i);
    if (r->klen != (size_t)kl || memcmp(r->key, key, (size_t)kl) != 0)
        return 0;
    unsigned char *want = malloc(len ? len : 1);
    rec_fill(f, i, want, len);
    int ok = memcmp(want, r->data, len) == 0;
    free(want);
    return ok;
}

static void make_dataset(dataset *d, const char *prefix, unsigned nfiles, uint64_t per_file)
{
    memset(d, 0, sizeof *d);
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 16384; /* many groups from a small store */
    o.block_size = 4096;
    unsigned char *buf = malloc(64 * 1024);
    for (unsigned f = 0; f < nfiles; f++) {
        char name[32];
        snprintf(name, sizeof name, "%s%u.vls", prefix, f);
        d->paths[f] = d->owned[f] = strdup(test_path(name));
        vls_store *s;
        CHECK_OK(NULL, vls_open(d->paths[f], VLS_CREATE, &o, &s));
        uint64_t n = per_file + f * 37; /* files of different sizes */
        for (uint64_t i = 0; i < n; i++) {
            size_t len = rec_len(f, i);
            rec_fill(f, i, buf, len);
            char key[48];
            snprintf(key, sizeof key, "f%u/r%llu", f, (unsigned long long)i);
            CHECK_OK(s, vls_put_str(s, key, buf, len, 0));
            if (i % 500 == 499)
                CHECK_OK(s, vls_commit(s));
        }
        CHECK_OK(s, vls_close(s));
        d->counts[f] = n;
        d->base[f] = d->total;
        d->total += n;
    }
    free(buf);
}

static void free_dataset(dataset *d)
{
    for (unsigned f = 0; f < MAX_FILES; f++)
        free(d->owned[f]);
}

static unsigned nfiles_of(const dataset *d)
{
    unsigned n = 0;
    while (n < MAX_FILES && d->paths[n])
        n++;
    return n;
}

/* Runs one epoch of every rank; checks exactly-once (or, with drop_last, at-most-once and
 * equal batch counts), content, batch sizes, and that the last n_buffers batches stay intact.
 * Returns 1 when all is well. */
static int run_all_ranks(const dataset *d, const vls_loader_options *base)
{
    unsigned nf = nfiles_of(d);
    unsigned char *seen = calloc(d->total, 1);
    int ok = 1;
    uint64_t served_total = 0, min_batches = UINT64_MAX, max_batches = 0;
    for (uint32_t r = 0; r < base->world && ok; r++) {
        vls_loader_options o = *base;
        o.rank = r;
        vls_loader *ld;
        int rc = vls_loader_open(d->paths, nf, &o, &ld);
        if (rc != VLS_OK) {
            fprintf(stderr, "open: %s\n", vls_loader_errmsg(NULL));
            free(seen);
            return 0;
        }
        const vls_record **held = calloc(o.n_buffers, sizeof *held);
        size_t *held_n = calloc(o.n_buffers, sizeof *held_n);
        const vls_record *recs;
        size_t n;
        uint64_t batches = 0;
        vls_loader_info info;
        vls_loader_info_get(ld, &info);
        while ((rc = vls_loader_next(ld, &recs, &n)) == 1) {
            held[batches % o.n_buffers] = recs;
            held_n[batches % o.n_buffers] = n;
            batches++;
            if (n == 0 || n > o.batch_size)
                ok = 0;
            if (n < o.batch_size && batches != info.rank_batches)
                ok = 0; /* only the final batch may be short */
            for (size_t k = 0; k < n; k++) {
                const vls_record *x = &recs[k];
                if (x->file >= nf || x->index >= d->counts[x->file]) {
                    ok = 0;
                    continue;
                }
                uint64_t g = d->base[x->file] + x->index;
                if (seen[g]++)
                    ok = 0; /* served twice */
                if (!rec_ok(x->file, x->index, x))
                    ok = 0;
            }
            /* every batch still held (the last n_buffers) is intact */
            for (uint32_t b = 0; b < o.n_buffers && b < batches; b++)
                for (size_t k = 0; k < held_n[b]; k++)
                    if (!rec_ok(held[b][k].file, held[b][k].index, &held[b][k]))
                        ok = 0;
        }
        if (rc != 0 || batches != info.rank_batches) {
            fprintf(stderr, "rank %u: rc %d (%s), %llu batches of %llu\n", r, rc,
                    vls_loader_errmsg(ld), (unsigned long long)batches,
                    (unsigned long long)info.rank_batches);
            ok = 0;
        }
        served_total += info.rank_records;
        if (batches < min_batches)
            min_batches = batches;
        if (batches > max_batches)
            max_batches = batches;
        free(held);
        free(held_n);
        vls_loader_close(ld);
    }
    uint64_t nseen = 0;
    for (uint64_t g = 0; g < d->total; g++)
        nseen += seen[g];
    if (nseen != served_total)
        ok = 0;
    if (base->drop_last) {
        uint64_t want = (uint64_t)base->world *
                        (d->total / base->world / base->batch_size * base->batch_size);
        if (nseen != want || min_batches != max_batches)
            ok = 0;
    } else if (nseen != d->total || max_batches - min_batches > 1) {
        ok = 0;
    }
    if (!ok)
        fprintf(stderr, "combination failed: files %u batch %u read %u buffers %u world %u "
                "merge %d drop %d prefetch %d shuffle %d: served %llu of %llu\n", nf,
                base->batch_size, base->read_size, base->n_buffers, base->world,
                base->merge_last, base->drop_last, base->prefetch, base->shuffle,
                (unsigned long long)nseen, (unsigned long long)d->total);
    free(seen);
    return ok;
}

static void exactly_once(const dataset *one, const dataset *three)
{
    static const uint32_t batch[] = {1, 7, 64, 1000};
    static const uint32_t readsz[] = {1, 3, 16};
    static const uint32_t buffers[] = {1, 2, 5};
    static const uint32_t world[] = {1, 2, 3, 4, 7, 400}; /* 400 ranks > groups */
    uint64_t st = 42;
    int combos = 0, good = 0;
    for (int t = 0; t < 70; t++) {
        vls_loader_options o;
        vls_loader_options_init(&o);
        o.batch_size = batch[test_rand(&st) % 4];
        o.read_size = readsz[test_rand(&st) % 3];
        o.n_buffers = buffers[test_rand(&st) % 3];
        o.world = world[test_rand(&st) % 6];
        o.merge_last = (int)(test_rand(&st) % 2);
        o.drop_last = (int)(test_rand(&st) % 3 == 0);
        o.prefetch = (int)(test_rand(&st) % 2);
        o.shuffle = (int)(test_rand(&st) % 5 != 0);
        o.threads = 1 + (int)(test_rand(&st) % 4); /* prefetch: up to 4 readers at once */
        o.seed = test_rand(&st);
        o.epoch = test_rand(&st) % 10;
        if (o.world == 400 && o.batch_size == 1)
            o.batch_size = 7; /* keep the run short */
        combos++;
        good += run_all_ranks(t % 2 ? three : one, &o);
    }
    printf("exactly-once: %d of %d random combinations correct\n", good, combos);
    CHECK(good == combos);
}

/* The keys of one whole epoch of rank 0, as record numbers. */
static uint64_t *epoch_order(const dataset *d, const vls_loader_options *o, uint64_t *n)
{
    vls_loader *ld;
    CHECK_OK(NULL, vls_loader_open(d->paths, nfiles_of(d), o, &ld));
    if (!ld)
        return NULL;
    uint64_t *out = malloc(d->total * sizeof *out), k = 0;
    const vls_record *recs;
    size_t m;
    while (vls_loader_next(ld, &recs, &m) == 1)
        for (size_t i = 0; i < m; i++)
            out[k++] = d->base[recs[i].file] + recs[i].index;
    vls_loader_close(ld);
    *n = k;
    return out;
}

static double displacement(const uint64_t *order, uint64_t n)
{
    double sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += order[i] > i ? (double)(order[i] - i) : (double)(i - order[i]);
    return n ? sum / n / (n / 3.0) : 0; /* 1.0 is what a uniform permutation gives */
}

static void determinism_and_quality(const dataset *d)
{
    vls_loader_options o;
    vls_loader_options_init(&o);
    o.seed = 7;
    o.epoch = 3;
    uint64_t n1, n2, n3, n4, n5;
    uint64_t *a = epoch_order(d, &o, &n1);
    uint64_t *b = epoch_order(d, &o, &n2);
    CHECK(n1 == d->total && n2 == n1 && memcmp(a, b, n1 * sizeof *a) == 0);
    o.epoch = 4;
    uint64_t *c = epoch_order(d, &o, &n3);
    CHECK(n3 == n1 && memcmp(a, c, n1 * sizeof *a) != 0);
    o.epoch = 3;
    o.seed = 8;
    uint64_t *e = epoch_order(d, &o, &n4);
    CHECK(n4 == n1 && memcmp(a, e, n1 * sizeof *a) != 0);
    o.shuffle = 0;
    uint64_t *s = epoch_order(d, &o, &n5);
    int sorted = n5 == d->total;
    for (uint64_t i = 0; sorted && i < n5; i++)
        sorted = s[i] == i;
    CHECK(sorted);
    /* how far from storage order, and how many groups mix in a batch */
    double da = displacement(a, n1), ds = displacement(s, n5);
    printf("shuffle quality: mean displacement %.3f of a uniform permutation's "
           "(storage order %.3f), %llu records\n", da, ds, (unsigned long long)n1);
    CHECK(ds == 0.0 && da > 0.5);
    /* neighbours in a batch: how often consecutive served records are storage neighbours */
    uint64_t adjacent = 0;
    for (uint64_t i = 1; i < n1; i++)
        adjacent += a[i] == a[i - 1] + 1;
    printf("shuffle quality: %.2f%% of consecutive served records are storage neighbours\n",
           n1 ? 100.0 * adjacent / n1 : 0);
    CHECK(adjacent < n1 / 10);
    free(a);
    free(b);
    free(c);
    free(e);
    free(s);
}

static void resume(const dataset *d)
{
    vls_loader_options o;
    vls_loader_options_init(&o);
    o.batch_size = 10;
    o.read_size = 2;
    o.seed = 99;
    o.epoch = 1;
    o.world = 2;
    o.rank = 1;
    uint64_t n_all;
    uint64_t *all = epoch_order(d, &o, &n_all);
    static const uint64_t stops[] = {0, 1, 13, 57};
    for (size_t t = 0; t < sizeof stops / sizeof stops[0]; t++) {
        vls_loader *ld;
        CHECK_OK(NULL, vls_loader_open(d->paths, nfiles_of(d), &o, &ld));
        const vls_record *recs;
        size_t m;
        uint64_t k = 0;
        for (uint64_t b = 0; b < stops[t] && vls_loader_next(ld, &recs, &m) == 1; b++)
            k += m;
        vls_loader_position pos;
        CHECK_OK(NULL, vls_loader_tell(ld, &pos));
        CHECK(pos.batch == stops[t] && pos.epoch == 1);
        vls_loader_close(ld);

        /* a new loader (a restarted job) continues exactly where the first stopped */
        CHECK_OK(NULL, vls_loader_open(d->paths, nfiles_of(d), &o, &ld));
        CHECK_OK(NULL, vls_loader_seek(ld, &pos));
        int same = 1;
        while (vls_loader_next(ld, &recs, &m) == 1)
            for (size_t i = 0; i < m; i++)
                same &= k < n_all && all[k++] == d->base[recs[i].file] + recs[i].index;
        CHECK(same && k == n_all);
        vls_loader_close(ld);
    }
    /* a position from other settings is refused with a message */
    vls_loader *ld;
    vls_loader_position pos;
    CHECK_OK(NULL, vls_loader_open(d->paths, nfiles_of(d), &o, &ld));
    CHECK_OK(NULL, vls_loader_tell(ld, &pos));
    vls_loader_close(ld);
    o.batch_size = 11;
    CHECK_OK(NULL, vls_loader_open(d->paths, nfiles_of(d), &o, &ld));
    CHECK(vls_loader_seek(ld, &pos) == VLS_E_INVAL);
    CHECK(strstr(vls_loader_errmsg(ld), "other loader settings") != NULL);
    /* a batch past the end is refused too */
    CHECK_OK(NULL, vls_loader_tell(ld, &pos));
    pos.batch = 1u << 30;
    CHECK(vls_loader_seek(ld, &pos) == VLS_E_INVAL);
    vls_loader_close(ld);
    free(all);
}

static void epochs_in_one_loader(const dataset *d)
{
    vls_loader_options o;
    vls_loader_options_init(&o);
    o.seed = 5;
    vls_loader *ld;
    CHECK_OK(NULL, vls_loader_open(d->paths, nfiles_of(d), &o, &ld));
    for (uint64_t ep = 0; ep < 3; ep++) {
        if (ep)
            CHECK_OK(NULL, vls_loader_start_epoch(ld, ep));
        unsigned char *seen = calloc(d->total, 1);
        const vls_record *recs;
        size_t m;
        uint64_t k = 0;
        int twice = 0;
        while (vls_loader_next(ld, &recs, &m) == 1)
            for (size_t i = 0; i < m; i++, k++)
                twice |= seen[d->base[recs[i].file] + recs[i].index]++;
        CHECK(k == d->total && !twice);
        /* after the end, next keeps saying "end" */
        CHECK(vls_loader_next(ld, &recs, &m) == 0 && m == 0);
        free(seen);
    }
    vls_loader_info info;
    CHECK_OK(NULL, vls_loader_info_get(ld, &info));
    CHECK(info.epoch == 2 && info.records == d->total && info.reads_done > 0);
    vls_loader_close(ld);
}

static void errors(const dataset *d)
{
    vls_loader_options o;
    vls_loader *ld = (vls_loader *)1;
    vls_loader_options_init(&o);
    o.batch_size = 0;
    CHECK(vls_loader_open(d->paths, 1, &o, &ld) == VLS_E_INVAL && ld == NULL);
    CHECK(strstr(vls_loader_errmsg(NULL), "batch_size") != NULL);
    vls_loader_options_init(&o);
    o.rank = 2;
    o.world = 2;
    CHECK(vls_loader_open(d->paths, 1, &o, &ld) == VLS_E_INVAL);
    CHECK(strstr(vls_loader_errmsg(NULL), "rank 2 of world 2") != NULL);
    vls_loader_options_init(&o);
    o.struct_size = 3;
    CHECK(vls_loader_open(d->paths, 1, &o, &ld) == VLS_E_INVAL);

    const char *missing[] = {d->paths[0], test_path("no-such-store.vls")};
    vls_loader_options_init(&o);
    CHECK(vls_loader_open(missing, 2, &o, &ld) == VLS_E_NOTFOUND || ld == NULL);
    CHECK(ld == NULL && strstr(vls_loader_errmsg(NULL), "no-such-store.vls") != NULL);

    /* an empty store: no batches, no error */
    const char *empty = test_path("empty.vls");
    vls_store *s;
    CHECK_OK(NULL, vls_open(empty, VLS_CREATE, NULL, &s));
    CHECK_OK(s, vls_commit(s));
    CHECK_OK(s, vls_close(s));
    CHECK_OK(NULL, vls_loader_open(&empty, 1, &o, &ld));
    const vls_record *recs;
    size_t m;
    CHECK(vls_loader_next(ld, &recs, &m) == 0 && m == 0);
    vls_loader_close(ld);
    vls_loader_close(NULL);

    /* a damaged chunk: the read fails with a checksum or corruption error, never bad bytes */
    const char *bad = test_path("damaged.vls");
    {
        FILE *in = fopen(d->paths[0], "rb"), *out = fopen(bad, "wb");
        int ch;
        long at = 0;
        while ((ch = fgetc(in)) != EOF) {
            if (at == 5000)
                ch ^= 0x40; /* inside the first chunks' compressed bytes */
            fputc(ch, out);
            at++;
        }
        fclose(in);
        fclose(out);
    }
    for (int prefetch = 0; prefetch < 2; prefetch++) {
        vls_loader_options_init(&o);
        o.prefetch = prefetch;
        o.shuffle = 0;
        int rc = vls_loader_open(&bad, 1, &o, &ld);
        if (rc != VLS_OK) { /* acceptable only if the flip hit the index */
            CHECK(rc == VLS_E_CORRUPT || rc == VLS_E_CHECKSUM);
            continue;
        }
        int got_error = 0, wrong = 0;
        while ((rc = vls_loader_next(ld, &recs, &m)) == 1)
            for (size_t i = 0; i < m; i++)
                wrong += !rec_ok(recs[i].file, recs[i].index, &recs[i]);
        got_error = rc < 0;
        CHECK(wrong == 0);
        CHECK(got_error && (rc == VLS_E_CHECKSUM || rc == VLS_E_CORRUPT || rc == VLS_E_CODEC));
        CHECK(strlen(vls_loader_errmsg(ld)) > 0);
        printf("damaged store (prefetch %d): %s: %s\n", prefetch, vls_strerror(rc),
               vls_loader_errmsg(ld));
        /* the error sticks until the epoch is restarted */
        CHECK(vls_loader_next(ld, &recs, &m) == rc);
        vls_loader_close(ld);
    }
}

/* Stores opened by the caller, with uncommitted records in a writer handle's open chunk. */
static void caller_stores(void)
{
    vls_store *s;
    const char *path = test_path("writer.vls");
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, NULL, &s));
    unsigned char buf[3000];
    for (uint64_t i = 0; i < 50; i++) {
        rec_fill(0, i, buf, rec_len(0, i) % 3000);
        CHECK_OK(s, vls_put_u64(s, i, buf, rec_len(0, i) % 3000, 0));
    }
    vls_loader_options o;
    vls_loader_options_init(&o);
    o.batch_size = 8;
    vls_loader *ld;
    CHECK_OK(NULL, vls_loader_open_stores(&s, 1, &o, &ld));
    const vls_record *recs;
    size_t m;
    uint64_t k = 0, bad = 0;
    while (vls_loader_next(ld, &recs, &m) == 1)
        for (size_t i = 0; i < m; i++, k++) {
            size_t len = rec_len(0, recs[i].index) % 3000;
            rec_fill(0, recs[i].index, buf, len);
            bad += recs[i].len != len || memcmp(buf, recs[i].data, len) != 0 ||
                   recs[i].klen != 8;
        }
    CHECK(k == 50 && bad == 0);
    vls_loader_close(ld);
    CHECK_OK(s, vls_close(s));
}

/* Records keep the alignment they were written with: lengths that are multiples of 8 in a
 * store give 8-aligned views (what zero-copy frame views need). */
static void alignment(void)
{
    const char *path = test_path("aligned");
    vls_options so;
    vls_options_init(&so);
    so.chunk_size = 8192;
    so.block_size = 4096;
    vls_store *s;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, &so, &s));
    unsigned char buf[20000];
    uint64_t st = 3;
    for (int i = 0; i < 400; i++) {
        size_t len = 8 * (1 + test_rand(&st) % (i % 50 == 0 ? 2400 : 200));
        test_fill(buf, len, (uint64_t)i, 1);
        CHECK_OK(s, vls_put_u64(s, (uint64_t)i, buf, len, 0));
    }
    CHECK_OK(s, vls_close(s));
    vls_loader_options o;
    vls_loader_options_init(&o);
    o.threads = 2;
    vls_loader *ld;
    CHECK_OK(NULL, vls_loader_open(&path, 1, &o, &ld));
    const vls_record *recs;
    size_t m, served = 0, misaligned = 0, wrong = 0;
    while (vls_loader_next(ld, &recs, &m) == 1)
        for (size_t i = 0; i < m; i++, served++) {
            misaligned += (uintptr_t)recs[i].data % 8 != 0;
            test_fill(buf, (size_t)recs[i].len, recs[i].index, 1);
            wrong += memcmp(buf, recs[i].data, (size_t)recs[i].len) != 0;
        }
    CHECK(served == 400 && misaligned == 0 && wrong == 0);
    vls_loader_close(ld);
}

int main(void)
{
    dataset one, three;
    make_dataset(&one, "one", 1, 1500);
    make_dataset(&three, "three", 3, 700);
    printf("datasets: %llu records in 1 file, %llu in 3 files\n",
           (unsigned long long)one.total, (unsigned long long)three.total);
    exactly_once(&one, &three);
    determinism_and_quality(&three);
    resume(&three);
    epochs_in_one_loader(&one);
    errors(&one);
    caller_stores();
    alignment();
    free_dataset(&one);
    free_dataset(&three);
    return test_done("test_loader");
}
