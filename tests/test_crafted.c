/* test_crafted.c — hostile files: a generator of crafted stores whose checksums are all valid
 * (XXH3 is no MAC: a forger, or a buggy writer, recomputes them) but whose contents lie, and
 * the proof that every one ends in a clear error: never wrong bytes, never a crash (Debian's
 * Blosc 1 aborts on its asserts), never an allocation of what the file claims.
 *
 * Each case starts from the same store, changes it through a writer handle (the in-memory
 * index, and stored bytes re-checksummed), commits the index as it then stands (a full
 * segment, valid checksums), and reads the result in a child process under a 256 MiB address
 * space limit, in four ways (mmap or pread, cache on or off): vls_get and vls_get_alloc of
 * every key, vls_get_many of all keys, vls_read_chunk of every chunk, vls_verify; and one
 * loader epoch (whole-chunk reads, records joined across chunks). A case
 * passes when every read returns the original bytes or an error with a message, and at least
 * one read (or the open) reports the lie. Classes: chunk entries reordered, dropped,
 * duplicated; Blosc header bytes (version, flags, typesize) and fields (nbytes, blocksize,
 * cbytes) changed; block starts and compressed bytes changed; records moved or resized by a
 * few bytes; chunk, record and index segment sizes claiming far more than the file holds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "testutil.h"
#include "vlstore_loader.h"

enum { NREC = 240, MAXLEN = 3000 };
static unsigned char *orig[NREC];
static size_t orig_len[NREC];
static char names[NREC][8];
static const char *base_path, *case_path;

static void key_of(int i, vls_key *k)
{
    k->data = names[i];
    k->len = strlen(names[i]);
}

static void make_base(void)
{
    vls_options o;
    vls_options_init(&o);
    o.chunk_size = 16384;
    o.block_size = 4096;
    o.write_behind = 0;
    vls_store *s;
    uint64_t seed = 7;
    CHECK_OK(NULL, vls_open(base_path, VLS_CREATE | VLS_NOSYNC, &o, &s));
    for (int i = 0; i < NREC; i++) {
        snprintf(names[i], sizeof names[i], "f%04d", i);
        orig_len[i] = 50 + test_rand(&seed) % (MAXLEN - 50);
        orig[i] = malloc(orig_len[i]);
        test_fill(orig[i], orig_len[i], (uint64_t)i, 1);
        CHECK_OK(s, vls_put_str(s, names[i], orig[i], orig_len[i], 0));
    }
    CHECK_OK(NULL, vls_close(s));
}

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0)
        ok = fwrite(buf, 1, n, b) == n;
    if (a)
        fclose(a);
    if (b)
        fclose(b);
    return ok;
}

static void file_rw(const char *path, uint64_t off, void *buf, size_t len, int write)
{
    FILE *f = fopen(path, write ? "r+b" : "rb");
    if (!f)
        return;
    fseek(f, (long)off, SEEK_SET);
    if (write)
        (void)!fwrite(buf, 1, len, f);
    else
        (void)!fread(buf, 1, len, f);
    fclose(f);
}

/* After changing chunk ci's stored bytes in the file: its frame header and index entry get
 * the new payload hash, so every checksum is valid again. */
static void rechecksum_chunk(vls_store *s, uint64_t ci)
{
    idx_chunk *c = &s->ix.c[ci];
    unsigned char *p = malloc(c->payload);
    unsigned char fh[FMT_FRAME_HDR_SIZE];
    file_rw(case_path, c->file_off + FMT_FRAME_HDR_SIZE, p, c->payload, 0);
    fmt_frame f = {c->payload, c->raw, c->codec, fmt_hash(p, c->payload)};
    fmt_frame_encode(&f, fh);
    file_rw(case_path, c->file_off, fh, sizeof fh, 1);
    c->hash = f.payload_hash;
    free(p);
}

/* Writes n bytes into chunk ci's payload at `at`, re-checksummed. 0 when that changes
 * nothing (the bytes were already there) or lies outside the payload: no case then. */
static int poke_payload(vls_store *s, uint64_t ci, uint64_t at, unsigned char *bytes, size_t n)
{
    idx_chunk *c = &s->ix.c[ci];
    unsigned char old[8];
    if (at + n > c->payload || n > sizeof old)
        return 0;
    file_rw(case_path, c->file_off + FMT_FRAME_HDR_SIZE + at, old, n, 0);
    if (memcmp(old, bytes, n) == 0)
        return 0;
    file_rw(case_path, c->file_off + FMT_FRAME_HDR_SIZE + at, bytes, n, 1);
    rechecksum_chunk(s, ci);
    return 1;
}

typedef struct {
    int kind; /* see mutate() */
    int a, b;
    uint64_t v;
} mutation;

enum { M_SWAP, M_DROP, M_DUP, M_BYTE, M_FIELD, M_BSTART, M_FLIP, M_MOVE, M_RESIZE, M_RAW,
       M_RECLEN, M_SEGRAW, M_KINDS };
static const char *kind_names[M_KINDS] = {
    "chunk entries reordered", "chunk entry dropped", "chunk entry duplicated",
    "Blosc header byte (version/flags/typesize)", "Blosc header field (nbytes/blocksize/cbytes)",
    "Blosc block start", "compressed byte changed", "record moved", "record resized",
    "chunk raw size huge", "record length huge", "index segment raw size huge"};

/* Applies m to the writer handle s over case_path; returns 0 when the case does not apply. */
static int mutate(vls_store *s, const mutation *m)
{
    vls_index *ix = &s->ix;
    switch (m->kind) {
    case M_SWAP: {
        if ((uint64_t)m->b >= ix->nc)
            return 0;
        idx_chunk t = ix->c[m->a];
        uint64_t la = ix->c[m->a].logical, lb = ix->c[m->b].logical;
        ix->c[m->a] = ix->c[m->b];
        ix->c[m->b] = t;
        ix->c[m->a].logical = la; /* recomputed at open anyway */
        ix->c[m->b].logical = lb;
        return 1;
    }
    case M_DROP:
        if ((uint64_t)m->a >= ix->nc)
            return 0;
        memmove(&ix->c[m->a], &ix->c[m->a + 1], (ix->nc - (uint64_t)m->a - 1) * sizeof *ix->c);
        ix->nc--;
        return 1;
    case M_DUP:
        if ((uint64_t)m->a + 1 >= ix->nc)
            return 0;
        ix->c[m->a + 1] = ix->c[m->a];
        return 1;
    case M_BYTE: {
        unsigned char b = (unsigned char)m->v, head[4];
        if (ix->c[m->a].codec == FMT_CODEC_RAW)
            return 0;
        file_rw(case_path, ix->c[m->a].file_off + FMT_FRAME_HDR_SIZE, head, 4, 0);
        if (m->b == 2 && head[3] == 1 && ((head[2] ^ b) & ~1u) == 0)
            return 0; /* byte shuffle of 1-byte items is no shuffle: the same bytes decode */
        return poke_payload(s, (uint64_t)m->a, (uint64_t)m->b, &b, 1);
    }
    case M_FIELD: {
        unsigned char le[4];
        if (ix->c[m->a].codec == FMT_CODEC_RAW)
            return 0;
        put_le32(le, (uint32_t)m->v);
        return poke_payload(s, (uint64_t)m->a, (uint64_t)m->b, le, 4);
    }
    case M_BSTART: {
        unsigned char le[4];
        if (ix->c[m->a].codec == FMT_CODEC_RAW)
            return 0;
        put_le32(le, (uint32_t)m->v);
        return poke_payload(s, (uint64_t)m->a, 16 + 4 * (uint64_t)m->b, le, 4);
    }
    case M_FLIP: {
        idx_chunk *c = &ix->c[m->a];
        uint64_t at = 16 + m->v % (c->payload > 16 ? c->payload - 16 : 1);
        unsigned char b;
        file_rw(case_path, c->file_off + FMT_FRAME_HDR_SIZE + at, &b, 1, 0);
        b ^= (unsigned char)(1u << (m->b & 7));
        return poke_payload(s, (uint64_t)m->a, at, &b, 1);
    }
    case M_MOVE:
        if ((int64_t)ix->e[m->a].off + m->b < 0)
            return 0;
        ix->e[m->a].off = (uint64_t)((int64_t)ix->e[m->a].off + m->b);
        return 1;
    case M_RESIZE:
        ix->e[m->a].len = (uint64_t)((int64_t)ix->e[m->a].len + m->b);
        return 1;
    case M_RAW:
        ix->c[m->a].raw = (uint32_t)m->v;
        return 1;
    case M_RECLEN:
        ix->e[m->a].len = m->v;
        return 1;
    default:
        return 0;
    }
}

/* The newest segment's header claims raw_size v (its header checksum recomputed). */
static void craft_segment_raw(uint64_t v)
{
    vls_store *s;
    if (vls_open(case_path, VLS_RDONLY, NULL, &s) != VLS_OK)
        return;
    uint64_t at = s->seg_offset;
    vls_close(s);
    unsigned char hb[FMT_SEG_HDR_SIZE];
    fmt_segment seg;
    file_rw(case_path, at, hb, sizeof hb, 0);
    if (fmt_segment_decode(hb, &seg) != VLS_OK)
        return;
    seg.raw_size = v == 0 ? seg.stored_size * 255 : v;
    fmt_segment_encode(&seg, hb);
    file_rw(case_path, at, hb, sizeof hb, 1);
}

static int same(int i, const void *p, size_t len)
{
    return len == orig_len[i] && memcmp(p, orig[i], len) == 0;
}

/* Names the read path that handed out wrong bytes (the case's line says which file). */
static int say_wrong(const char *call, int variant, int i)
{
    fprintf(stderr, "  wrong bytes: %s, record %d, %s%s\n", call, i,
            variant < 0 ? "loader" : variant & 2 ? "pread" : "mapped",
            variant < 0 ? "" : variant & 1 ? ", with a cache" : "");
    return 1;
}

/* Child: reads the crafted file every way. Exit 0: every read right or a clear error and at
 * least one error; 1: wrong bytes returned; 2: nothing noticed; 3: an error without message;
 * 4: an allocation of what the file claims failed (VLS_E_NOMEM). */
static int read_everything(void)
{
    int errors = 0, wrong = 0, silent = 0, nomem = 0;
    static unsigned char buf[MAXLEN * NREC];
    for (int variant = 0; variant < 4; variant++) {
        vls_options o;
        vls_options_init(&o);
        o.cache_bytes = variant & 1 ? 1 << 20 : 0;
        o.threads = 2;
        vls_store *s;
        int rc = vls_open(case_path, VLS_RDONLY | (variant & 2 ? VLS_NOMMAP : 0), &o, &s);
        if (rc != VLS_OK) {
            errors++;
            silent += vls_errmsg(NULL)[0] == 0;
            nomem += rc == VLS_E_NOMEM;
            continue;
        }
#define SEEN(rc_)                                                                          \
    do {                                                                                   \
        errors++;                                                                          \
        silent += vls_errmsg(s)[0] == 0;                                                   \
        nomem += (rc_) == VLS_E_NOMEM;                                                     \
    } while (0)
        for (int i = 0; i < NREC; i++) {
            size_t len = 0;
            rc = vls_get(s, names[i], strlen(names[i]), buf, MAXLEN, &len);
            if (rc == VLS_OK && !same(i, buf, len))
                wrong += say_wrong("vls_get", variant, i);
            else if (rc != VLS_OK && rc != VLS_E_TOOSMALL)
                SEEN(rc);
            void *p = NULL;
            rc = vls_get_alloc(s, names[i], strlen(names[i]), &p, &len);
            if (rc == VLS_OK && !same(i, p, len))
                wrong += say_wrong("vls_get_alloc", variant, i);
            else if (rc != VLS_OK)
                SEEN(rc);
            vls_free(p);
        }
        vls_key keys[NREC];
        vls_span spans[NREC];
        for (int i = 0; i < NREC; i++)
            key_of(i, &keys[i]);
        rc = vls_get_many(s, NREC, keys, buf, sizeof buf, spans, NULL);
        if (rc != VLS_OK)
            SEEN(rc);
        for (int i = 0; i < NREC; i++)
            if (spans[i].status == VLS_OK &&
                !same(i, buf + spans[i].offset, (size_t)spans[i].length))
                wrong += say_wrong("vls_get_many", variant, i);
        static unsigned char chunk[1 << 20];
        for (uint64_t c = 0; c < vls_chunk_count(s); c++) {
            size_t len;
            rc = vls_read_chunk(s, c, chunk, sizeof chunk, &len);
            if (rc != VLS_OK)
                SEEN(rc);
        }
        uint64_t problems = 0;
        rc = vls_verify(s, NULL, NULL, &problems);
        if (rc != VLS_OK)
            SEEN(rc);
        vls_close(s);
    }
    /* one loader epoch: every record it serves must be the original, or the epoch fails */
    vls_loader_options lo;
    vls_loader_options_init(&lo);
    lo.batch_size = 16;
    vls_loader *ld;
    const char *paths[1] = {case_path};
    if (vls_loader_open(paths, 1, &lo, &ld) != VLS_OK) {
        errors++;
        silent += vls_errmsg(NULL)[0] == 0;
    } else {
        const vls_record *recs;
        size_t m;
        int rc;
        while ((rc = vls_loader_next(ld, &recs, &m)) == 1)
            for (size_t k = 0; k < m; k++) {
                /* keys are not terminated: parse "fNNNN" within its klen bytes (atoi read
                 * past the key into whatever followed it: valgrind saw it, and a digit there
                 * made a served record count as wrong now and then) */
                char name[8] = "";
                if (recs[k].klen < sizeof name)
                    memcpy(name, recs[k].key, recs[k].klen);
                int i = name[0] == 'f' ? atoi(name + 1) : -1;
                if (i < 0 || i >= NREC || strcmp(name, names[i]) != 0 ||
                    !same(i, recs[k].data, (size_t)recs[k].len))
                    wrong += say_wrong("vls_loader_next", -1, i);
            }
        if (rc < 0) {
            errors++;
            silent += vls_loader_errmsg(ld)[0] == 0;
        }
        vls_loader_close(ld);
    }
    if (wrong)
        return 1;
    if (nomem)
        return 4;
    if (silent)
        return 3;
    return errors ? 0 : 2;
}

int main(void)
{
    static char bp[600], cp[600];
    snprintf(bp, sizeof bp, "%s", test_path("crafted-base"));
    snprintf(cp, sizeof cp, "%s", test_path("crafted-case"));
    base_path = bp;
    case_path = cp;
    make_base();

    /* the list of cases */
    static mutation ms[2000];
    int n = 0;
    for (int a = 0; a < 6; a++)
        for (int b = a + 1; b < 7; b++)
            ms[n++] = (mutation){M_SWAP, a, b, 0};
    for (int a = 0; a < 24; a++)
        ms[n++] = (mutation){M_DROP, a, 0, 0};
    for (int a = 0; a < 24; a++)
        ms[n++] = (mutation){M_DUP, a, 0, 0};
    static const uint8_t versions[] = {0, 1, 3, 4, 255}, flags[] = {0x00, 0x01, 0x02, 0x03,
        0x04, 0x05, 0x06, 0x08, 0x10, 0x11, 0x20, 0x40, 0x60, 0x80, 0xe0, 0xff},
        typesizes[] = {0, 1, 2, 3, 5, 7, 8, 16, 17, 64, 128, 255};
    for (int ci = 0; ci < 3; ci++) {
        for (size_t i = 0; i < sizeof versions; i++)
            ms[n++] = (mutation){M_BYTE, ci, 0, versions[i]};
        for (size_t i = 0; i < sizeof versions; i++)
            ms[n++] = (mutation){M_BYTE, ci, 1, versions[i]};
        for (size_t i = 0; i < sizeof flags; i++)
            ms[n++] = (mutation){M_BYTE, ci, 2, flags[i]};
        for (size_t i = 0; i < sizeof typesizes; i++)
            ms[n++] = (mutation){M_BYTE, ci, 3, typesizes[i]};
        static const uint64_t fields[] = {0, 1, 15, 16, 4095, 4096, 4097, 8192, 16383, 16384,
                                          16385, 65536, 1u << 20, 0x7fffffffu, 0xffffffffu};
        for (int f = 0; f < 3; f++)
            for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
                ms[n++] = (mutation){M_FIELD, ci, 4 + 4 * f, fields[i]};
        for (int b = 0; b < 4; b++) {
            static const uint64_t starts[] = {0, 15, 16, 17, 100, 4000, 0x7fffffffu, 0xffffffffu};
            for (size_t i = 0; i < sizeof starts / sizeof *starts; i++)
                ms[n++] = (mutation){M_BSTART, ci, b, starts[i]};
        }
        for (int k = 0; k < 40; k++)
            ms[n++] = (mutation){M_FLIP, ci, k, (uint64_t)k * 7919u};
    }
    for (int r = 0; r < NREC; r += 16)
        for (int d = -3; d <= 3; d++)
            if (d)
                ms[n++] = (mutation){M_MOVE, r, d, 0};
    for (int r = 1; r < NREC; r += 24) {
        ms[n++] = (mutation){M_RESIZE, r, 1, 0};
        ms[n++] = (mutation){M_RESIZE, r, -1, 0};
    }
    static const uint64_t raws[] = {1u << 30, 16385, 32768, 1u << 24, 1};
    for (int ci = 0; ci < 3; ci++)
        for (size_t i = 0; i < sizeof raws / sizeof *raws; i++)
            ms[n++] = (mutation){M_RAW, ci, 0, raws[i]};
    static const uint64_t lens[] = {(uint64_t)1 << 40, (uint64_t)1 << 30, (uint64_t)1 << 25,
                                    1u << 20};
    for (int r = 0; r < NREC; r += 60)
        for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
            ms[n++] = (mutation){M_RECLEN, r, 0, lens[i]};
    static const uint64_t segraws[] = {0, (uint64_t)1 << 40, (uint64_t)1 << 31, 1u << 30};
    for (size_t i = 0; i < sizeof segraws / sizeof *segraws; i++)
        ms[n++] = (mutation){M_SEGRAW, 0, 0, segraws[i]};

    int made = 0, per_kind[M_KINDS] = {0}, outcome[6][M_KINDS] = {{0}}, crashed[M_KINDS] = {0};
    const char *only = getenv("VLS_CRAFTED_CASE"); /* one case, to look at it closely */
    for (int i = 0; i < n; i++) {
        const mutation *m = &ms[i];
        if (only && atoi(only) != i)
            continue;
        if (!copy_file(base_path, case_path))
            continue;
        if (m->kind == M_SEGRAW) {
            craft_segment_raw(m->v);
        } else {
            vls_store *s;
            if (vls_open(case_path, VLS_RDWR | VLS_NOSYNC, NULL, &s) != VLS_OK)
                continue;
            int applies = mutate(s, m);
            s->dirty = 1;
            s->seg_offset = 0;
            int rc = applies ? vls_commit(s) : VLS_OK;
            store_free(s); /* no further commit */
            if (!applies)
                continue;
            if (rc != VLS_OK) { /* the writer itself refused to write this index */
                made++;
                per_kind[m->kind]++;
                outcome[0][m->kind]++;
                continue;
            }
        }
        made++;
        per_kind[m->kind]++;
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            test_limit_memory((size_t)256 << 20); /* a reader allocating past it: "nomem" */
            int result = read_everything();
            _exit(result == 0 && test_memory_exceeded() ? 4 : result);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) <= 4) {
            outcome[WEXITSTATUS(status)][m->kind]++;
            if (WEXITSTATUS(status))
                fprintf(stderr, "case %d (%s, %d, %d, %llu): outcome %d\n", i,
                        kind_names[m->kind], m->a, m->b, (unsigned long long)m->v,
                        WEXITSTATUS(status));
        } else {
            crashed[m->kind]++;
            fprintf(stderr, "case %d (%s, %d, %d, %llu): reader died (status %d)\n", i,
                    kind_names[m->kind], m->a, m->b, (unsigned long long)m->v, status);
        }
    }
    int total_ok = 0;
    printf("%-46s %6s %6s %6s %6s %6s %6s %6s\n", "class", "files", "error", "wrong",
           "unseen", "nomsg", "nomem", "crash");
    for (int k = 0; k < M_KINDS; k++) {
        printf("%-46s %6d %6d %6d %6d %6d %6d %6d\n", kind_names[k], per_kind[k],
               outcome[0][k], outcome[1][k], outcome[2][k], outcome[3][k], outcome[4][k],
               crashed[k]);
        total_ok += outcome[0][k];
        CHECK(outcome[0][k] == per_kind[k]);
    }
    printf("%d crafted files, %d ended in a clear error\n", made, total_ok);
    CHECK(made > (only ? 0 : 500));
    unlink(base_path);
    unlink(case_path);
    for (int i = 0; i < NREC; i++)
        free(orig[i]);
    return test_done("test_crafted");
}
