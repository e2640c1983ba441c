/* json.c — the few JSON pieces the CLI writes (meta --json, stats --json): strings from
 * arbitrary bytes and numbers that are always valid JSON. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if the bytes there are not one;
 * *cp receives the code point. */
static size_t utf8_seq(const unsigned char *p, size_t n, unsigned *cp)
{
    unsigned c = p[0];
    size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                                                         : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    unsigned v = len == 1 ? c : c & (0x7fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0; /* overlong, out of range, or a surrogate */
    *cp = v;
    return len;
}

int cli_is_utf8(const void *data, size_t len)
{
    const unsigned char *p = data;
    unsigned cp;
    for (size_t i = 0, n; i < len; i += n)
        if (!(n = utf8_seq(p + i, len - i, &cp)))
            return 0;
    return 1;
}

void cli_print_escaped(FILE *f, const void *data, size_t len)
{
    const unsigned char *p = data;
    unsigned cp;
    for (size_t i = 0, n; i < len; i += n) {
        n = utf8_seq(p + i, len - i, &cp);
        /* C0 and C1 controls and DEL steer terminals; the backslash is the escape itself */
        if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == '\\') {
            if (p[i] == '\\')
                fputs("\\\\", f);
            else
                fprintf(f, "\\x%02x", p[i]);
            n = 1;
        } else {
            fwrite(p + i, 1, n, f);
        }
    }
}

void cli_json_string(FILE *f, const void *data, size_t len)
{
    const unsigned char *p = data;
    putc('"', f);
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '"' || p[i] == '\\')
            fprintf(f, "\\%c", p[i]);
        else if (p[i] == '\n')
            fputs("\\n", f);
        else if (p[i] == '\t')
            fputs("\\t", f);
        else if (p[i] < 0x20 || p[i] == 0x7f)
            fprintf(f, "\\u%04x", p[i]);
        else
            putc(p[i], f);
    }
    putc('"', f);
}

void cli_json_number(FILE *f, double v)
{
    if (!isfinite(v)) { /* JSON has no NaN or Infinity */
        fputs("null", f);
        return;
    }
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    /* a caller's setlocale() may make printf write a decimal comma; JSON wants a point */
    for (char *c = buf; *c; c++)
        if (*c == ',')
            *c = '.';
    fputs(buf, f);
}
