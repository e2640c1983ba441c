/* cmd_store.c — put, get, ls, rm, info, verify, compact. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"

/* Streams the bytes of f into a record under key through a vls_record_writer, 1 MiB at a
 * time, so a record of any size is put in bounded memory. len is the input's size when it is
 * a regular file (checked again at the end: a file that grows or shrinks meanwhile fails),
 * else VLS_LEN_UNKNOWN. On any failure the store is rolled back to its last commit. */
static int put_stream(vls_store *s, const unsigned char *key, size_t klen, FILE *f,
                      const char *name, uint64_t len)
{
    enum { PIECE = 1 << 20 };
    unsigned char *buf = malloc(PIECE);
    vls_record_writer *w = NULL;
    int rc = buf ? vls_record_create(s, key, klen, len, 0, &w) : VLS_E_NOMEM;
    size_t n;
    while (rc == VLS_OK && (n = fread(buf, 1, PIECE, f)) > 0)
        rc = vls_record_write(w, buf, n);
    free(buf);
    if (rc == VLS_OK && ferror(f)) {
        fprintf(stderr, "vlstore put: reading %s failed: %s\n", name, strerror(errno));
        vls_record_cancel(w);
        vls_rollback(s);
        return EXIT_FAIL;
    }
    if (rc == VLS_OK) {
        rc = vls_record_finish(w);
        w = NULL;
    }
    if (rc == VLS_OK)
        rc = vls_commit(s);
    if (rc != VLS_OK) {
        cli_fail("put", s, rc);
        vls_record_cancel(w);
        vls_rollback(s);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_put(int argc, char **argv)
{
    static const char use[] = "usage: vlstore put STORE KEY [FILE] [--key-format F]\n"
                              "Stores FILE's bytes (stdin when FILE is '-' or absent) under KEY,\n"
                              "replacing any record under KEY. Creates STORE when missing.\n"
                              CLI_KEY_FORMAT_HELP;
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    char *pos[3];
    int npos = 0, kf = KEYFMT_TEXT, r;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_key_format_arg("put", argc, argv, &i, &kf)) != 0) {
            if (r < 0)
                return cli_usage(use);
        } else if (npos < 3) {
            pos[npos++] = argv[i];
        } else {
            return cli_usage(use);
        }
    }
    if (npos < 2)
        return cli_usage(use);
    unsigned char *key;
    size_t klen;
    if ((r = cli_key_parse("put", kf, pos[1], &key, &klen)) != EXIT_OK)
        return r;
    const char *file = npos == 3 ? pos[2] : "-";
    FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "vlstore put: cannot open %s: %s\n", file, strerror(errno));
        free(key);
        return EXIT_FAIL;
    }
    /* the record is streamed into the store as it is read: an input that is the store itself
     * would be read while it grows (and was stored into itself before) */
    struct stat in_st, store_st;
    int in_known = fstat(fileno(f), &in_st) == 0;
    if (in_known && stat(pos[0], &store_st) == 0 && cli_same_file(&in_st, &store_st)) {
        fprintf(stderr, "vlstore put: refusing to store the store in itself (%s)\n", file);
        r = EXIT_FAIL;
        goto out;
    }
    uint64_t len = in_known && S_ISREG(in_st.st_mode) ? (uint64_t)in_st.st_size
                                                        : VLS_LEN_UNKNOWN;
    vls_store *s;
    int rc = vls_open(pos[0], VLS_CREATE, NULL, &s);
    if (rc != VLS_OK) {
        r = cli_fail("put", NULL, rc);
        goto out;
    }
    r = put_stream(s, key, klen, f, file, len);
    if ((rc = vls_close(s)) != VLS_OK)
        r = cli_fail("put", NULL, rc);
out:
    if (f != stdin)
        fclose(f);
    free(key);
    return r;
}

int cmd_get(int argc, char **argv)
{
    static const char use[] = "usage: vlstore get STORE KEY [-o OUT] [--key-format F]\n"
                              "Writes the record's bytes to stdout, or to OUT (never the store\n"
                              "itself: refused).\n"
                              CLI_KEY_FORMAT_HELP;
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    const char *out = NULL;
    char *pos[2];
    int npos = 0, kf = KEYFMT_TEXT, r;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_key_format_arg("get", argc, argv, &i, &kf)) != 0) {
            if (r < 0)
                return cli_usage(use);
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (npos < 2)
            pos[npos++] = argv[i];
        else
            return cli_usage(use);
    }
    if (npos != 2)
        return cli_usage(use);
    /* `-o STORE` would truncate the store before a byte is written (and `>> STORE` append to
     * it): refuse an output that is the store itself, whatever name it goes by. */
    struct stat store_st, out_st;
    if (stat(pos[0], &store_st) == 0 &&
        (out ? stat(out, &out_st) : fstat(STDOUT_FILENO, &out_st)) == 0 &&
        cli_same_file(&store_st, &out_st)) {
        fprintf(stderr, "vlstore get: refusing to write the record over the store itself (%s)\n",
                out ? out : "stdout");
        return EXIT_FAIL;
    }
    unsigned char *key;
    size_t klen;
    if ((r = cli_key_parse("get", kf, pos[1], &key, &klen)) != EXIT_OK)
        return r;
    if (!out) { /* stdout: all or nothing (bytes that fail the check at the end stay unsent) */
        void *data;
        size_t len;
        r = cli_read_record("get", pos[0], key, klen, &data, &len);
        free(key);
        if (r != EXIT_OK)
            return EXIT_FAIL;
        int ok = fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0;
        vls_free(data);
        if (!ok)
            fprintf(stderr, "vlstore get: cannot write stdout: %s\n", strerror(errno));
        return ok ? EXIT_OK : EXIT_FAIL;
    }
    /* to a file, streamed in pieces: a record of many GiB needs 1 MiB here (and its chunks);
     * the file is removed when the record fails its check */
    vls_store *s;
    vls_record_reader *rd = NULL;
    if (cli_open("get", pos[0], VLS_RDONLY, &s) != EXIT_OK) {
        free(key);
        return EXIT_FAIL;
    }
    int rc = vls_record_open(s, key, klen, &rd, NULL);
    free(key);
    FILE *f = rc != VLS_OK ? NULL : fopen(out, "wb");
    int ok = f != NULL;
    static unsigned char piece[1 << 20];
    size_t got = 1;
    while (rc == VLS_OK && ok && got > 0) {
        rc = vls_record_read(rd, piece, sizeof piece, &got);
        ok = rc != VLS_OK || fwrite(piece, 1, got, f) == got;
    }
    if (f)
        ok &= fclose(f) == 0;
    vls_record_close(rd);
    if (rc != VLS_OK) {
        cli_fail("get", s, rc);
        if (f) /* never leave a file of bytes that failed their check */
            unlink(out);
    } else if (!ok) {
        fprintf(stderr, "vlstore get: cannot write %s: %s\n", out, strerror(errno));
    }
    vls_close(s);
    return rc == VLS_OK && ok ? EXIT_OK : EXIT_FAIL;
}

int cmd_ls(int argc, char **argv)
{
    static const char use[] = "usage: vlstore ls STORE [-l] [--key-format F]\n"
                              "Lists keys one per line in storage order; -l adds sizes.\n"
                              CLI_KEY_FORMAT_HELP;
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    int lng = 0, kf = KEYFMT_TEXT, r;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_key_format_arg("ls", argc, argv, &i, &kf)) != 0) {
            if (r < 0)
                return cli_usage(use);
        } else if (!strcmp(argv[i], "-l"))
            lng = 1;
        else if (!path)
            path = argv[i];
        else
            return cli_usage(use);
    }
    if (!path)
        return cli_usage(use);
    vls_store *s;
    if (cli_open("ls", path, VLS_RDONLY, &s) != EXIT_OK)
        return EXIT_FAIL;
    uint64_t pos = 0, len;
    const void *key;
    size_t klen;
    while (vls_iter_next(s, &pos, &key, &klen, &len) == 1) {
        if (lng)
            printf("%12llu  ", (unsigned long long)len);
        cli_key_print(stdout, kf, key, klen);
        putchar('\n');
    }
    vls_close(s);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

int cmd_rm(int argc, char **argv)
{
    static const char use[] = "usage: vlstore rm STORE KEY [--key-format F]\n"
                              "Deletes the record under KEY (its space is reclaimed by compact).\n"
                              CLI_KEY_FORMAT_HELP;
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    char *pos[2];
    int npos = 0, kf = KEYFMT_TEXT, r;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_key_format_arg("rm", argc, argv, &i, &kf)) != 0) {
            if (r < 0)
                return cli_usage(use);
        } else if (npos < 2) {
            pos[npos++] = argv[i];
        } else {
            return cli_usage(use);
        }
    }
    if (npos != 2)
        return cli_usage(use);
    unsigned char *key;
    size_t klen;
    if ((r = cli_key_parse("rm", kf, pos[1], &key, &klen)) != EXIT_OK)
        return r;
    vls_store *s;
    if (cli_open("rm", pos[0], VLS_RDWR, &s) != EXIT_OK) {
        free(key);
        return EXIT_FAIL;
    }
    int rc = vls_delete(s, key, klen);
    free(key);
    if (rc == VLS_OK)
        rc = vls_commit(s);
    if (rc != VLS_OK) {
        cli_fail("rm", s, rc);
        vls_close(s);
        return EXIT_FAIL;
    }
    return vls_close(s) == VLS_OK ? EXIT_OK : EXIT_FAIL;
}

int cmd_info(int argc, char **argv)
{
    static const char use[] = "usage: vlstore info STORE [--json]\n"
                              "Records, logical and file bytes, compression ratio, chunks and the\n"
                              "store's settings.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    int json = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!path)
            path = argv[i];
        else
            return cli_usage(use);
    }
    if (!path)
        return cli_usage(use);
    vls_store *s;
    if (cli_open("info", path, VLS_RDONLY, &s) != EXIT_OK)
        return EXIT_FAIL;
    vls_stat st = {.struct_size = sizeof st};
    vls_stat_get(s, &st);
    vls_close(s);
    double ratio = st.file_bytes ? (double)st.logical_bytes / (double)st.file_bytes : 0.0;
    const vls_options *o = &st.options;
    if (json) {
        printf("{\"records\": %llu, \"logical_bytes\": %llu, \"dead_bytes\": %llu, "
               "\"file_bytes\": %llu, \"ratio\": %.4f, \"chunks\": %llu, \"commits\": %llu, "
               "\"format_version\": %u, \"chunk_size\": %u, \"codec\": \"%s\", \"level\": %d, "
               "\"shuffle\": %d, \"typesize\": %d, \"block_size\": %u, \"placement\": \"%s\"}\n",
               (unsigned long long)st.records, (unsigned long long)st.logical_bytes,
               (unsigned long long)st.dead_bytes, (unsigned long long)st.file_bytes, ratio,
               (unsigned long long)st.chunks, (unsigned long long)st.commits, st.format_version,
               o->chunk_size, vls_compressor_name(o->codec), o->level, o->shuffle, o->typesize,
               o->block_size, vls_placement_name(o->placement));
    } else {
        printf("records        %llu\n", (unsigned long long)st.records);
        printf("logical bytes  %llu\n", (unsigned long long)st.logical_bytes);
        printf("dead bytes     %llu\n", (unsigned long long)st.dead_bytes);
        printf("file bytes     %llu\n", (unsigned long long)st.file_bytes);
        printf("ratio          %.3f\n", ratio);
        printf("chunks         %llu\n", (unsigned long long)st.chunks);
        printf("commits        %llu\n", (unsigned long long)st.commits);
        printf("format         %u\n", st.format_version);
        printf("settings       chunk %u B, codec %s level %d, shuffle %d, typesize %d, "
               "block %u B, placement %s\n", o->chunk_size, vls_compressor_name(o->codec), o->level,
               o->shuffle, o->typesize, o->block_size, vls_placement_name(o->placement));
    }
    return EXIT_OK;
}

static void print_problem(void *ctx, const char *what)
{
    (void)ctx;
    fprintf(stderr, "%s%s\n", strncmp(what, "note: ", 6) == 0 ? "" : "problem: ", what);
}

int cmd_verify(int argc, char **argv)
{
    static const char use[] = "usage: vlstore verify [--strict] [--quiet] STORE\n"
                              "Reads and checks every chunk, index entry and record, in memory\n"
                              "that does not grow with the store. Exit 0 when sound, 1 listing\n"
                              "each problem once (a damaged chunk names the keys of the records\n"
                              "it holds). Uncommitted bytes after the last commit (a write\n"
                              "interrupted by a crash; nothing committed is lost) are a note,\n"
                              "and exit 0; --strict counts them as a problem.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    progress_quiet(cli_take_flag(&argc, argv, "--quiet"));
    unsigned vflags = cli_take_flag(&argc, argv, "--strict") ? VLS_VERIFY_STRICT : 0;
    if (argc != 2)
        return cli_usage(use);
    vls_store *s;
    vls_options o;
    vls_options_init(&o);
    o.cache_bytes = 0; /* every chunk is read once: a cache would only hold memory */
    /* pread, not mapped: a file cut short by another process, or a media error, is an error
     * to report, not SIGBUS */
    int rc = vls_open(argv[1], VLS_RDONLY | VLS_NOMMAP, &o, &s);
    if (rc != VLS_OK)
        return cli_fail("verify", NULL, rc);
    uint64_t problems = 0;
    progress_library(1);
    rc = vls_verify_flags(s, vflags, print_problem, NULL, &problems);
    progress_library(0);
    progress_end();
    vls_stat st = {.struct_size = sizeof st};
    vls_stat_get(s, &st);
    vls_close(s);
    if (rc != VLS_OK) {
        fprintf(stderr, "vlstore verify: %s: %llu problem(s)\n", argv[1],
                (unsigned long long)problems);
        return EXIT_FAIL;
    }
    printf("%s: sound (%llu records, %llu chunks)\n", argv[1], (unsigned long long)st.records,
           (unsigned long long)st.chunks);
    return EXIT_OK;
}

int cmd_compact(int argc, char **argv)
{
    static const char use[] =
        "usage: vlstore compact STORE [OUT] [--shuffle SEED] [--quiet]\n"
        "Rewrites STORE without dead space into OUT, or in place (a new file renamed over the\n"
        "old one once it is complete and synced).\n"
        "  --shuffle SEED   write the records in a random order drawn from SEED, so that the\n"
        "                   loader's block shuffle mixes a dataset written in time order\n"
        "                   (docs/LOADER.md, \"Shuffle on write\")\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    progress_quiet(cli_take_flag(&argc, argv, "--quiet"));
    const char *pos[2];
    int npos = 0, shuffle = 0;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shuffle")) {
            char *end;
            if (i + 1 >= argc || !*argv[i + 1] || *argv[i + 1] == '-' ||
                (errno = 0, seed = strtoull(argv[i + 1], &end, 10), *end || errno)) {
                fprintf(stderr, "vlstore compact: --shuffle needs a seed, a whole number\n");
                return cli_usage(use);
            }
            shuffle = 1;
            i++;
        } else if (npos < 2) {
            pos[npos++] = argv[i];
        } else {
            return cli_usage(use);
        }
    }
    if (npos < 1)
        return cli_usage(use);
    const char *out = npos == 2 ? pos[1] : NULL;
    struct stat before, after;
    stat(pos[0], &before);
    progress_library(1);
    int rc = shuffle ? vls_compact_file_shuffled(pos[0], out, seed) : vls_compact_file(pos[0], out);
    progress_library(0);
    progress_end();
    if (rc != VLS_OK)
        return cli_fail("compact", NULL, rc);
    if (stat(out ? out : pos[0], &after) == 0)
        printf("compacted: %lld -> %lld bytes\n", (long long)before.st_size,
               (long long)after.st_size);
    return EXIT_OK;
}
