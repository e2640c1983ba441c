/* main.c — the vlstore command: dispatch to subcommands (one file per group in cli/). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static const cli_command commands[] = {
    {"create", cmd_create, "make an empty store with chosen settings (codec, chunk size...)"},
    {"put", cmd_put, "store a file's bytes (or stdin) under a key"},
    {"get", cmd_get, "write a record's bytes to stdout or a file"},
    {"ls", cmd_ls, "list keys in storage order (-l: with sizes)"},
    {"rm", cmd_rm, "delete a record"},
    {"info", cmd_info, "records, sizes, ratio, chunks and settings (--json)"},
    {"meta", cmd_meta, "show or set the store's metadata (units, level of theory, ...)"},
    {"stats", cmd_stats, "dataset statistics of frame records: elements, energies, E0s"},
    {"verify", cmd_verify, "check every checksum, chunk and record"},
    {"compact", cmd_compact, "rewrite the store without dead space"},
    {"recover", cmd_recover, "salvage the intact records of a damaged store into a new one"},
    {"import", cmd_import, "store every file under a directory"},
    {"export", cmd_export, "write every record to a file under a directory"},
    {"import-xyz", cmd_import_xyz, "every frame of XYZ trajectories becomes a frame record"},
    {"export-xyz", cmd_export_xyz, "frame records back to extended XYZ (as ASE reads them)"},
    {"convert", cmd_convert, "an ASE .db or an LMDB of pickled Atoms into frame records"},
    {"show", cmd_show, "print a frame record (--json: all of it)"},
    {"epoch", cmd_epoch, "one shuffled epoch through the batch loader: speed, or the keys"},
    {"bench", cmd_bench, "the benchmark against LMDB, SQLite, HDF5 (built by make bench)"},
    {"demo", cmd_demo, "the seed example: 300 MD frames through a depot, checked, timed"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: vlstore COMMAND [ARGS...]   (vlstore COMMAND --help for details)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nExit status: 0 success, 1 the operation failed, 2 usage error.\n");
}

int cli_fail(const char *cmd, vls_store *s, int rc)
{
    const char *detail = vls_errmsg(s);
    fprintf(stderr, "vlstore %s: %s%s%s\n", cmd, vls_strerror(rc), detail[0] ? ": " : "", detail);
    return EXIT_FAIL;
}

int cli_usage(const char *text)
{
    fprintf(stderr, "%s", text);
    return EXIT_USAGE;
}

int cli_take_flag(int *argc, char **argv, const char *flag)
{
    int found = 0, j = 1;
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], flag))
            found++;
        else
            argv[j++] = argv[i];
    }
    *argc = j;
    argv[j] = NULL;
    return found;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

int cli_open(const char *cmd, const char *path, unsigned flags, vls_store **s)
{
    int rc = vls_open(path, flags, NULL, s);
    if (rc != VLS_OK)
        return cli_fail(cmd, NULL, rc);
    return EXIT_OK;
}

int cli_read_record(const char *cmd, const char *path, const void *key, size_t klen,
                    void **data, size_t *len)
{
    vls_store *s;
    if (cli_open(cmd, path, VLS_RDONLY, &s) != EXIT_OK)
        return EXIT_FAIL;
    uint64_t n = 0;
    int rc = vls_get_alloc(s, key, klen, data, &n);
    if (rc != VLS_OK)
        cli_fail(cmd, s, rc);
    *len = (size_t)n; /* it is in memory: it fits a size_t */
    vls_close(s);
    return rc == VLS_OK ? EXIT_OK : EXIT_FAIL;
}

int cli_same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("vlstore %s\n", VLS_VERSION_STRING);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "vlstore: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
