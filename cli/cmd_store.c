/* cmd_store.c — put, get, ls, rm, info, verify, compact. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Reads a whole stream into memory. */
static int slurp(FILE *f, unsigned char **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return -1;
    for (;;) {
        if (n == cap) {
            unsigned char *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                return -1;
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

int cmd_put(int argc, char **argv)
{
    static const char use[] = "usage: vlstore put STORE KEY [FILE]\n"
                              "Stores FILE's bytes (stdin when FILE is '-' or absent) under KEY,\n"
                              "replacing any record under KEY. Creates STORE when missing.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    if (argc < 3 || argc > 4)
        return cli_usage(use);
    const char *file = argc == 4 ? argv[3] : "-";
    FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "vlstore put: cannot open %s: %s\n", file, strerror(errno));
        return EXIT_FAIL;
    }
    unsigned char *data;
    size_t len;
    int r = slurp(f, &data, &len);
    if (f != stdin)
        fclose(f);
    if (r != 0) {
        fprintf(stderr, "vlstore put: cannot read %s\n", file);
        return EXIT_FAIL;
    }
    vls_store *s;
    int rc = vls_open(argv[1], VLS_CREATE, NULL, &s);
    if (rc != VLS_OK) {
        free(data);
        return cli_fail("put", NULL, rc);
    }
    rc = vls_put_str(s, argv[2], data, len, 0);
    free(data);
    if (rc == VLS_OK)
        rc = vls_commit(s);
    if (rc != VLS_OK) {
        cli_fail("put", s, rc);
        vls_close(s);
        return EXIT_FAIL;
    }
    return vls_close(s) == VLS_OK ? EXIT_OK : EXIT_FAIL;
}

int cmd_get(int argc, char **argv)
{
    static const char use[] = "usage: vlstore get STORE KEY [-o OUT]\n"
                              "Writes the record's bytes to stdout, or to OUT.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    const char *out = NULL;
    char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (npos < 2)
            pos[npos++] = argv[i];
        else
            return cli_usage(use);
    }
    if (npos != 2)
        return cli_usage(use);
    if (!out) { /* stdout: all or nothing (bytes that fail the check at the end stay unsent) */
        void *data;
        size_t len;
        if (cli_read_record("get", pos[0], pos[1], &data, &len) != EXIT_OK)
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
    if (cli_open("get", pos[0], VLS_RDONLY, &s) != EXIT_OK)
        return EXIT_FAIL;
    int rc = vls_record_open(s, pos[1], strlen(pos[1]), &rd, NULL);
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
    static const char use[] = "usage: vlstore ls STORE [-l]\n"
                              "Lists keys one per line in storage order; -l adds sizes.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    int lng = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-l"))
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
        fwrite(key, 1, klen, stdout);
        putchar('\n');
    }
    vls_close(s);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

int cmd_rm(int argc, char **argv)
{
    static const char use[] = "usage: vlstore rm STORE KEY\n"
                              "Deletes the record under KEY (its space is reclaimed by compact).\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    if (argc != 3)
        return cli_usage(use);
    vls_store *s;
    if (cli_open("rm", argv[1], VLS_RDWR, &s) != EXIT_OK)
        return EXIT_FAIL;
    int rc = vls_delete_str(s, argv[2]);
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
    static const char use[] = "usage: vlstore verify [--strict] STORE\n"
                              "Reads and checks every chunk, index entry and record. Exit 0 when\n"
                              "sound, 1 listing each problem. Uncommitted bytes after the last\n"
                              "commit (a write interrupted by a crash; nothing committed is lost)\n"
                              "are a note, and exit 0; --strict counts them as a problem.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    unsigned vflags = 0;
    if (argc == 3 && strcmp(argv[1], "--strict") == 0) {
        vflags = VLS_VERIFY_STRICT;
        argv++;
        argc--;
    }
    if (argc != 2)
        return cli_usage(use);
    vls_store *s;
    /* pread, not mapped: a file cut short by another process, or a media error, is an error
     * to report, not SIGBUS */
    if (cli_open("verify", argv[1], VLS_RDONLY | VLS_NOMMAP, &s) != EXIT_OK)
        return EXIT_FAIL;
    uint64_t problems = 0;
    int rc = vls_verify_flags(s, vflags, print_problem, NULL, &problems);
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
    static const char use[] = "usage: vlstore compact STORE [OUT]\n"
                              "Rewrites STORE without dead space into OUT, or in place (a new file\n"
                              "renamed over the old one once it is complete and synced).\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    if (argc < 2 || argc > 3)
        return cli_usage(use);
    struct stat before, after;
    stat(argv[1], &before);
    int rc = vls_compact_file(argv[1], argc == 3 ? argv[2] : NULL);
    if (rc != VLS_OK)
        return cli_fail("compact", NULL, rc);
    if (stat(argc == 3 ? argv[2] : argv[1], &after) == 0)
        printf("compacted: %lld -> %lld bytes\n", (long long)before.st_size,
               (long long)after.st_size);
    return EXIT_OK;
}
