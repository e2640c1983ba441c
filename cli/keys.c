/* keys.c — how the command line names keys and shows them (--key-format text|hex|u64).
 *
 * A store's keys are bytes. Text keys (the CLI's own) are typed as they are; integer keys
 * written from Python or vls_put_u64 are 8 bytes big-endian and are typed and shown as
 * numbers with u64; anything else is named in hex. Whatever the format, a key is shown on one
 * line and never with raw control bytes: in text, control characters, bytes that are not
 * UTF-8 and the backslash are written \xHH (cli_print_escaped), so a key holding a newline
 * cannot pass for two keys and a terminal never receives escape sequences. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_key_format_from_name(const char *name)
{
    if (!strcmp(name, "text"))
        return KEYFMT_TEXT;
    if (!strcmp(name, "hex"))
        return KEYFMT_HEX;
    if (!strcmp(name, "u64"))
        return KEYFMT_U64;
    return -1;
}

int cli_key_format_arg(const char *cmd, int argc, char **argv, int *i, int *fmt)
{
    const char *a = argv[*i], *value;
    if (!strncmp(a, "--key-format=", 13)) {
        value = a + 13;
    } else if (!strcmp(a, "--key-format")) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "vlstore %s: --key-format needs text, hex or u64\n", cmd);
            return -1;
        }
        value = argv[++*i];
    } else {
        return 0;
    }
    if ((*fmt = cli_key_format_from_name(value)) < 0) {
        fprintf(stderr, "vlstore %s: --key-format %s: not text, hex or u64\n", cmd, value);
        return -1;
    }
    return 1;
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int cli_key_parse(const char *cmd, int fmt, const char *arg, unsigned char **key, size_t *klen)
{
    size_t n = strlen(arg);
    unsigned char *k = NULL;
    if (fmt == KEYFMT_U64) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(arg, &end, 10);
        if (!*arg || *arg == '-' || *arg == '+' || *end || errno == ERANGE) {
            fprintf(stderr, "vlstore %s: key '%s' is not a number from 0 to 2^64-1 "
                    "(--key-format u64)\n", cmd, arg);
            return EXIT_USAGE;
        }
        if ((k = malloc(8)))
            vls_key_u64(v, k);
        n = 8;
    } else if (fmt == KEYFMT_HEX) {
        if (n == 0 || n % 2) {
            fprintf(stderr, "vlstore %s: key '%s' is not an even number of hex digits "
                    "(--key-format hex)\n", cmd, arg);
            return EXIT_USAGE;
        }
        n /= 2;
        if ((k = malloc(n)))
            for (size_t i = 0; i < n; i++) {
                int hi = hex_digit(arg[2 * i]), lo = hex_digit(arg[2 * i + 1]);
                if (hi < 0 || lo < 0) {
                    fprintf(stderr, "vlstore %s: key '%s': '%c%c' is not a hex byte "
                            "(--key-format hex)\n", cmd, arg, arg[2 * i], arg[2 * i + 1]);
                    free(k);
                    return EXIT_USAGE;
                }
                k[i] = (unsigned char)(hi << 4 | lo);
            }
    } else if ((k = malloc(n ? n : 1))) { /* an empty key is the library's to refuse */
        memcpy(k, arg, n);
    }
    if (!k) {
        fprintf(stderr, "vlstore %s: out of memory\n", cmd);
        return EXIT_FAIL;
    }
    *key = k;
    *klen = n;
    return EXIT_OK;
}

void cli_key_print(FILE *f, int fmt, const void *key, size_t klen)
{
    const unsigned char *k = key;
    if (fmt == KEYFMT_HEX) {
        for (size_t i = 0; i < klen; i++)
            fprintf(f, "%02x", k[i]);
    } else if (fmt == KEYFMT_U64 && klen == 8) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | k[i];
        fprintf(f, "%llu", (unsigned long long)v);
    } else {
        cli_print_escaped(f, key, klen);
    }
}
