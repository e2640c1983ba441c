/* cmd_meta.c — `vlstore meta` (the store's metadata document) and `vlstore create` (an empty
 * store with chosen settings). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char meta_usage[] =
    "usage: vlstore meta STORE [--json]            list every KEY=VALUE\n"
    "       vlstore meta STORE KEY                 print KEY's value\n"
    "       vlstore meta STORE KEY=VALUE... [--delete KEY]...\n"
    "                                              set and delete, in one commit\n"
    "The metadata is a small key/value document kept in the store beside its records (units,\n"
    "level of theory, source, reference energies...). It is committed with the store: a crash\n"
    "keeps the old document or the new one. Listings escape control characters as \\xHH;\n"
    "--json prints one object (a value that is not UTF-8 as {\"hex\": \"...\"}).\n";

/* A value printed alone: as it is, unless it would put control characters on a terminal. */
static void print_value(const unsigned char *v, size_t len)
{
    int safe = cli_is_utf8(v, len);
    for (size_t i = 0; safe && i < len; i++)
        safe = v[i] >= 0x20 || v[i] == '\n' || v[i] == '\t';
    if (safe || !isatty(STDOUT_FILENO))
        fwrite(v, 1, len, stdout);
    else
        cli_print_escaped(stdout, v, len);
    putchar('\n');
}

static int list(vls_store *s, int json)
{
    uint64_t pos = 0;
    const char *key;
    const void *val;
    uint64_t len;
    if (json)
        putchar('{');
    for (int first = 1; vls_meta_next(s, &pos, &key, &val, &len) == 1; first = 0) {
        if (json) {
            printf("%s", first ? "" : ", ");
            cli_json_string(stdout, key, strlen(key));
            printf(": ");
            if (cli_is_utf8(val, len)) {
                cli_json_string(stdout, val, len);
            } else {
                printf("{\"hex\": \"");
                for (size_t i = 0; i < len; i++)
                    printf("%02x", ((const unsigned char *)val)[i]);
                printf("\"}");
            }
        } else {
            cli_print_escaped(stdout, key, strlen(key));
            putchar('=');
            cli_print_escaped(stdout, val, len);
            putchar('\n');
        }
    }
    if (json)
        printf("}\n");
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

int cmd_meta(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return printf("%s", meta_usage), EXIT_OK;
    const char *path = NULL, *get = NULL;
    int json = 0, changes = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--delete") && i + 1 < argc)
            changes++, i++;
        else if (!path)
            path = argv[i];
        else if (strchr(argv[i], '='))
            changes++;
        else if (!get)
            get = argv[i];
        else
            return cli_usage(meta_usage);
    }
    if (!path || (changes && (get || json)) || (get && json))
        return cli_usage(meta_usage);
    vls_store *s;
    if (cli_open("meta", path, changes ? VLS_RDWR : VLS_RDONLY, &s) != EXIT_OK)
        return EXIT_FAIL;
    int status = EXIT_OK, rc = VLS_OK;
    if (!changes && !get) {
        status = list(s, json);
    } else if (get) {
        uint64_t len;
        rc = vls_meta_get(s, get, NULL, 0, &len);
        unsigned char *v = rc == VLS_E_TOOSMALL || rc == VLS_OK ? malloc((size_t)len + 1) : NULL;
        if (v && (rc = vls_meta_get(s, get, v, (size_t)len, &len)) == VLS_OK)
            print_value(v, (size_t)len);
        else if (rc == VLS_E_TOOSMALL)
            rc = VLS_E_NOMEM;
        free(v);
    } else {
        /* KEY=VALUE sets and --delete KEY, in command-line order, then one commit */
        for (int i = 1; rc == VLS_OK && i < argc; i++) {
            if (!strcmp(argv[i], "--delete")) {
                rc = vls_meta_delete(s, argv[++i]);
            } else if (!strcmp(argv[i], "--json") || argv[i] == path) {
                continue;
            } else {
                char *eq = strchr(argv[i], '=');
                *eq = 0;
                rc = vls_meta_set(s, argv[i], eq + 1, strlen(eq + 1));
                *eq = '=';
            }
        }
        if (rc == VLS_OK)
            rc = vls_commit(s);
    }
    if (rc != VLS_OK) {
        cli_fail("meta", s, rc);
        status = EXIT_FAIL;
        if (changes) /* nothing of a failed command reaches the file */
            vls_close(s), s = NULL;
    }
    if (s && vls_close(s) != VLS_OK)
        status = EXIT_FAIL;
    return status;
}

/* ---- create ------------------------------------------------------------------------------ */
static const char create_usage[] =
    "usage: vlstore create STORE [--codec C] [--level L] [--chunk-size N] [--block-size N]\n"
    "                            [--placement P] [--shuffle S] [--typesize T]\n"
    "                            [--random-access] [KEY=VALUE...]\n"
    "Makes an empty store with these settings (fixed for the file's life; the defaults\n"
    "otherwise); fails if STORE exists. KEY=VALUE pairs become its metadata.\n"
    "  --codec C        lz4 (default), lz4hc, zstd, zlib, blosclz, none\n"
    "  --level L        0..9 (9)\n"
    "  --chunk-size N   logical chunk bytes, 4096..1073741824, suffix k/M/G allowed (4M)\n"
    "  --block-size N   Blosc block: what one random read decodes; 0 = Blosc chooses (512k)\n"
    "  --placement P    nocross (default), contiguous, start\n"
    "  --shuffle S      none, byte (default), bit\n"
    "  --typesize T     element size for the shuffle, 1..255 (4)\n"
    "  --random-access  start from the random-access defaults (64k blocks)\n";

/* "4M" -> 4194304; 0 on success. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10, end++;
    else if (*end == 'M')
        shift = 20, end++;
    else if (*end == 'G')
        shift = 30, end++;
    if (*end || v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int cmd_create(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return printf("%s", create_usage), EXIT_OK;
    vls_options o;
    vls_options_init(&o);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--random-access"))
            vls_options_random_access(&o);
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t v = 0;
        if (!strcmp(a, "--random-access") || (strncmp(a, "--", 2) && strchr(a, '=') && path))
            continue;
        if (strncmp(a, "--", 2)) {
            if (path)
                return cli_usage(create_usage);
            path = a;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "vlstore create: %s needs a value\n", a);
            return cli_usage(create_usage);
        }
        const char *val = argv[++i];
        int ok = 1;
        if (!strcmp(a, "--codec"))
            ok = (o.codec = vls_compressor_from_name(val)) >= 0;
        else if (!strcmp(a, "--placement"))
            ok = (o.placement = vls_placement_from_name(val)) >= 0;
        else if (!strcmp(a, "--shuffle"))
            ok = (o.shuffle = !strcmp(val, "none") ? VLS_SHUFFLE_NONE
                              : !strcmp(val, "byte") ? VLS_SHUFFLE_BYTE
                              : !strcmp(val, "bit")  ? VLS_SHUFFLE_BIT : -1) >= 0;
        else if (!strcmp(a, "--level"))
            ok = parse_size(val, &v) == 0 && v <= 9 && (o.level = (int32_t)v, 1);
        else if (!strcmp(a, "--typesize"))
            ok = parse_size(val, &v) == 0 && v >= 1 && v <= 255 && (o.typesize = (int32_t)v, 1);
        else if (!strcmp(a, "--chunk-size"))
            ok = parse_size(val, &v) == 0 && v <= UINT32_MAX && (o.chunk_size = (uint32_t)v, 1);
        else if (!strcmp(a, "--block-size"))
            ok = parse_size(val, &v) == 0 && v <= UINT32_MAX && (o.block_size = (uint32_t)v, 1);
        else {
            fprintf(stderr, "vlstore create: unknown option %s\n", a);
            return cli_usage(create_usage);
        }
        if (!ok) {
            fprintf(stderr, "vlstore create: %s %s: not a valid value\n", a, val);
            return cli_usage(create_usage);
        }
    }
    if (!path)
        return cli_usage(create_usage);
    vls_store *s;
    int rc = vls_open(path, VLS_CREATE | VLS_EXCL, &o, &s);
    if (rc != VLS_OK)
        return cli_fail("create", NULL, rc); /* bad sizes are refused here, with the reason */
    for (int i = 2; rc == VLS_OK && i < argc; i++) {
        if (!strncmp(argv[i], "--", 2)) {
            i += strcmp(argv[i], "--random-access") != 0;
            continue;
        }
        char *eq = strchr(argv[i], '=');
        if (!eq)
            continue;
        *eq = 0;
        rc = vls_meta_set(s, argv[i], eq + 1, strlen(eq + 1));
        *eq = '=';
    }
    if (rc == VLS_OK)
        rc = vls_commit(s);
    if (rc != VLS_OK) {
        cli_fail("create", s, rc);
        vls_close(s);
        unlink(path);
        return EXIT_FAIL;
    }
    vls_stat st = {.struct_size = sizeof st};
    vls_stat_get(s, &st);
    rc = vls_close(s);
    if (rc != VLS_OK)
        return cli_fail("create", NULL, rc);
    const vls_options *f = &st.options;
    printf("%s: chunk %u B, codec %s level %d, shuffle %d, typesize %d, block %u B, "
           "placement %s\n", path, f->chunk_size, vls_compressor_name(f->codec), f->level,
           f->shuffle, f->typesize, f->block_size, vls_placement_name(f->placement));
    return EXIT_OK;
}
