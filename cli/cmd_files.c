/* cmd_files.c — import (a directory tree into a store) and export (the reverse). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"

static struct {
    vls_store *s;
    size_t root_len;
    long commit_every, done;
    int rc;
    double t0;
    unsigned long long bytes;
} imp;

static uint64_t walk_bytes;

static int size_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (type == FTW_F && S_ISREG(st->st_mode))
        walk_bytes += (uint64_t)st->st_size;
    return 0;
}

static int import_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || !S_ISREG(st->st_mode))
        return 0;
    const char *key = path + imp.root_len;
    while (*key == '/')
        key++;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "vlstore import: cannot open %s: %s\n", path, strerror(errno));
        imp.rc = VLS_E_IO;
        return 1;
    }
    size_t len = (size_t)st->st_size;
    unsigned char *buf = malloc(len ? len : 1);
    int ok = buf && fread(buf, 1, len, f) == len;
    fclose(f);
    if (!ok) {
        free(buf);
        fprintf(stderr, "vlstore import: cannot read %s\n", path);
        imp.rc = VLS_E_IO;
        return 1;
    }
    int rc = vls_put_str(imp.s, key, buf, len, 0);
    free(buf);
    if (rc == VLS_OK && imp.commit_every > 0 && (imp.done + 1) % imp.commit_every == 0)
        rc = vls_commit(imp.s);
    if (rc != VLS_OK) {
        imp.rc = rc;
        return 1;
    }
    imp.done++;
    imp.bytes += len;
    progress_update(imp.bytes);
    return 0;
}

int cmd_import(int argc, char **argv)
{
    static const char use[] = "usage: vlstore import STORE DIR [--commit-every N] [--quiet]\n"
                              "Stores every regular file under DIR, keyed by its path relative to\n"
                              "DIR. Commits every N files (default: once at the end).\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    progress_quiet(cli_take_flag(&argc, argv, "--quiet"));
    const char *pos[2];
    int npos = 0;
    long every = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--commit-every") && i + 1 < argc) {
            char *end;
            every = strtol(argv[++i], &end, 10);
            if (*end || every < 1)
                return cli_usage(use);
        } else if (npos < 2) {
            pos[npos++] = argv[i];
        } else {
            return cli_usage(use);
        }
    }
    if (npos != 2)
        return cli_usage(use);
    struct stat st;
    if (stat(pos[1], &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "vlstore import: %s is not a directory\n", pos[1]);
        return EXIT_FAIL;
    }
    int rc = vls_open(pos[0], VLS_CREATE, NULL, &imp.s);
    if (rc != VLS_OK)
        return cli_fail("import", NULL, rc);
    imp.root_len = strlen(pos[1]);
    imp.commit_every = every;
    imp.done = 0;
    imp.rc = VLS_OK;
    imp.t0 = cli_now();
    imp.bytes = 0;
    walk_bytes = 0; /* a first walk sizes the progress line: stat calls, no reads */
    nftw(pos[1], size_one, 32, FTW_PHYS);
    progress_start(walk_bytes, "bytes");
    nftw(pos[1], import_one, 32, FTW_PHYS);
    progress_end();
    if (imp.rc == VLS_OK)
        imp.rc = vls_commit(imp.s);
    if (imp.rc != VLS_OK) {
        if (imp.rc != VLS_E_IO)
            cli_fail("import", imp.s, imp.rc);
        vls_close(imp.s);
        return EXIT_FAIL;
    }
    rc = vls_close(imp.s);
    printf("imported %ld files (%llu bytes) in %.2f s\n", imp.done, imp.bytes, cli_now() - imp.t0);
    return rc == VLS_OK ? EXIT_OK : EXIT_FAIL;
}

/* Creates the parent directories of path. */
static int make_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int r = mkdir(path, 0755);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

int cmd_export(int argc, char **argv)
{
    static const char use[] = "usage: vlstore export STORE DIR [--quiet]\n"
                              "Writes every record to DIR/KEY (the reverse of import). Keys that\n"
                              "are not safe relative paths ('..', absolute, NUL) are refused.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    progress_quiet(cli_take_flag(&argc, argv, "--quiet"));
    if (argc != 3)
        return cli_usage(use);
    vls_store *s;
    if (cli_open("export", argv[1], VLS_RDONLY, &s) != EXIT_OK)
        return EXIT_FAIL;
    if (mkdir(argv[2], 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "vlstore export: cannot create %s: %s\n", argv[2], strerror(errno));
        vls_close(s);
        return EXIT_FAIL;
    }
    uint64_t pos = 0, len, n = 0, seen = 0;
    const void *key;
    size_t klen;
    int status = EXIT_OK;
    progress_start(vls_count(s), "records");
    while (vls_iter_next(s, &pos, &key, &klen, &len) == 1) {
        char path[PATH_MAX], name[PATH_MAX];
        progress_update(++seen);
        if (klen >= sizeof name || memchr(key, 0, klen)) {
            fprintf(stderr, "vlstore export: skipping a key that is not a file name\n");
            status = EXIT_FAIL;
            continue;
        }
        memcpy(name, key, klen);
        name[klen] = 0;
        if (name[0] == '/' || strstr(name, "..") ||
            snprintf(path, sizeof path, "%s/%s", argv[2], name) >= (int)sizeof path) {
            fprintf(stderr, "vlstore export: skipping unsafe key '");
            cli_print_escaped(stderr, name, klen);
            fprintf(stderr, "'\n");
            status = EXIT_FAIL;
            continue;
        }
        void *data;
        size_t dlen;
        int rc = vls_get_alloc(s, name, klen, &data, &dlen);
        if (rc != VLS_OK) {
            cli_fail("export", s, rc);
            status = EXIT_FAIL;
            continue;
        }
        FILE *f = make_parents(path) == 0 ? fopen(path, "wb") : NULL;
        int ok = f && fwrite(data, 1, dlen, f) == dlen;
        if (f)
            ok &= fclose(f) == 0;
        vls_free(data);
        if (!ok) {
            fprintf(stderr, "vlstore export: cannot write %s: %s\n", path, strerror(errno));
            status = EXIT_FAIL;
            continue;
        }
        n++;
    }
    progress_end();
    vls_close(s);
    printf("exported %llu records\n", (unsigned long long)n);
    return status;
}
