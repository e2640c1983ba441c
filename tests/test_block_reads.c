/* test_block_reads.c — small reads on an unmapped handle (VLS_NOMMAP) read only the Blosc
 * blocks they need (src/store/blockread.c), and still return exactly the stored bytes:
 *  - every record, read in a random order with no chunk cache (so every read is a block
 *    read), with 512 KiB, 64 KiB and "let Blosc choose" blocks, and records that cross blocks;
 *  - get_many in a random order, the same;
 *  - a flipped byte inside a block is reported (VLS_E_CHECKSUM or VLS_E_CODEC), never served;
 *  - a file cut short is reported as an error, never served. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define NREC 600

static size_t rec_len(uint64_t i)
{
    return 1000 + (size_t)(i * 7919 % 90000); /* up to ~90 KiB: many cross 64 KiB blocks */
}

static void key_of(uint64_t i, char key[32])
{
    snprintf(key, 32, "r%05llu", (unsigned long long)i);
}

static void make(const char *path, uint32_t block)
{
    vls_options o;
    vls_options_init(&o);
    o.block_size = block;
    vls_store *s;
    CHECK_OK(NULL, vls_open(path, VLS_CREATE, &o, &s));
    unsigned char *buf = malloc(100000);
    for (uint64_t i = 0; i < NREC; i++) {
        char key[32];
        key_of(i, key);
        test_fill(buf, rec_len(i), i, 1);
        CHECK_OK(s, vls_put_str(s, key, buf, rec_len(i), 0));
    }
    free(buf);
    CHECK_OK(s, vls_close(s));
}

static vls_store *open_unmapped(const char *path)
{
    vls_options o;
    vls_options_init(&o);
    o.cache_bytes = 0; /* no chunk cache: every small read is a block read */
    vls_store *s = NULL;
    CHECK_OK(NULL, vls_open(path, VLS_RDONLY | VLS_NOMMAP, &o, &s));
    return s;
}

/* Reads every record in a shuffled order; returns the number that came back right. */
static uint64_t read_shuffled(vls_store *s, int batched)
{
    uint64_t perm[NREC], seed = 99, good = 0;
    for (uint64_t i = 0; i < NREC; i++)
        perm[i] = i;
    for (uint64_t i = NREC - 1; i > 0; i--) {
        uint64_t j = test_rand(&seed) % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    unsigned char *want = malloc(100000), *got = malloc(8 * 100000);
    for (uint64_t k = 0; k < NREC; k += batched ? 8 : 1) {
        if (!batched) {
            char key[32];
            key_of(perm[k], key);
            size_t len = 0;
            test_fill(want, rec_len(perm[k]), perm[k], 1);
            good += vls_get_str(s, key, got, 100000, &len) == VLS_OK &&
                    len == rec_len(perm[k]) && memcmp(want, got, len) == 0;
            continue;
        }
        char keys[8][32];
        vls_key kk[8];
        vls_span sp[8];
        size_t b = NREC - k < 8 ? NREC - k : 8;
        for (size_t j = 0; j < b; j++) {
            key_of(perm[k + j], keys[j]);
            kk[j].data = keys[j];
            kk[j].len = strlen(keys[j]);
        }
        uint64_t needed;
        if (vls_get_many(s, b, kk, got, 8 * 100000, sp, &needed) != VLS_OK)
            continue;
        for (size_t j = 0; j < b; j++) {
            test_fill(want, rec_len(perm[k + j]), perm[k + j], 1);
            good += sp[j].status == VLS_OK && sp[j].length == rec_len(perm[k + j]) &&
                    memcmp(want, got + sp[j].offset, sp[j].length) == 0;
        }
    }
    free(want);
    free(got);
    return good;
}

int main(void)
{
    const uint32_t blocks[] = {512u << 10, 64u << 10, 0};
    for (size_t b = 0; b < 3; b++) {
        const char *path = test_path("blocks");
        make(path, blocks[b]);
        vls_store *s = open_unmapped(path);
        CHECK(read_shuffled(s, 0) == NREC);
        CHECK(read_shuffled(s, 1) == NREC);
        vls_close(s);

        /* a flipped byte in the middle of the file: reads that touch it fail, none lies */
        struct {
            long off;
        } spot = {0};
        int fd = open(path, O_RDWR);
        off_t size = lseek(fd, 0, SEEK_END);
        spot.off = (long)(size / 3);
        unsigned char byte;
        CHECK(pread(fd, &byte, 1, spot.off) == 1);
        byte ^= 0x5a;
        CHECK(pwrite(fd, &byte, 1, spot.off) == 1);
        close(fd);
        s = open_unmapped(path);
        uint64_t good = read_shuffled(s, 0);
        CHECK(good < NREC); /* the damaged record(s) were not served as good */
        CHECK(good > NREC / 2);
        unsigned char *got = malloc(100000);
        int errors = 0, lies = 0;
        for (uint64_t i = 0; i < NREC; i++) {
            char key[32];
            key_of(i, key);
            size_t len;
            int rc = vls_get_str(s, key, got, 100000, &len);
            if (rc == VLS_E_CHECKSUM || rc == VLS_E_CODEC || rc == VLS_E_CORRUPT)
                errors++;
            else if (rc != VLS_OK)
                lies++; /* an unexpected code */
            else {
                unsigned char *want = malloc(len ? len : 1);
                test_fill(want, len, i, 1);
                lies += len != rec_len(i) || memcmp(want, got, len) != 0;
                free(want);
            }
        }
        CHECK(errors > 0);
        CHECK(lies == 0);
        free(got);
        vls_close(s);
    }
    return test_done("test_block_reads");
}
