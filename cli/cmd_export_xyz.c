/*
 * cmd_export_xyz.c — `vlstore export-xyz STORE OUT [KEY...]`: frame records back to extended
 * XYZ, written so that ASE's reader (ase.io.read) gives the Atoms it gave for the original
 * file: every property is written with the syntax ASE types back to the same value (numbers
 * in shortest round-trip form, strings that would read as numbers or booleans as _JSON, 3x3
 * virial/stress in Fortran order), core fields under the key they came from (the
 * vlstore:<field>_key properties written by import-xyz). What cannot be written is said on
 * stderr. docs/FRAME.md, "XYZ output", has the rules.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vlstore_frame.h"

/* Shortest text that strtod reads back to v (the CLI runs in the C locale). `real` adds
 * ".0" to integral values, so that ASE types them as floats. */
static void fmt_real(char *out, size_t cap, double v, int real)
{
    if (isnan(v)) {
        snprintf(out, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "inf" : "-inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    if (real && !strpbrk(out, ".eEn"))
        strncat(out, ".0", cap - strlen(out) - 1);
}

/* Writes s as a double-quoted value for ASE's splitter: '"' and '\' escaped. */
static void put_quoted(FILE *o, const char *s, size_t n)
{
    fputc('"', o);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            fputc('\\', o);
        fputc(s[i], o);
    }
    fputc('"', o);
}

/* A JSON string literal of s[0..n) into a growing buffer. */
typedef struct {
    char *s;
    size_t len, cap;
} text;

static void tx_add(text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *q = realloc(t->s, cap);
        if (!q) {
            fprintf(stderr, "vlstore export-xyz: out of memory\n");
            exit(EXIT_FAIL);
        }
        t->s = q;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void tx_str(text *t, const char *s) { tx_add(t, s, strlen(s)); }

static void tx_json_string(text *t, const char *s, size_t n)
{
    tx_str(t, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, esc[2] = 0;
            tx_str(t, esc);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            tx_str(t, esc);
        } else {
            tx_add(t, (const char *)&c, 1);
        }
    }
    tx_str(t, "\"");
}

/* Element i of a numeric property as text (JSON: NaN / Infinity spelled as Python's json). */
static void fmt_elem(char *out, size_t cap, const vls_prop *p, size_t i, int json)
{
    const char *d = p->data;
    switch (p->dtype) {
    case VLS_DT_F32: {
        float v;
        memcpy(&v, d + 4 * i, 4);
        fmt_real(out, cap, v, 1);
        break;
    }
    case VLS_DT_F64: {
        double v;
        memcpy(&v, d + 8 * i, 8);
        fmt_real(out, cap, v, 1);
        break;
    }
    case VLS_DT_I32: {
        int32_t v;
        memcpy(&v, d + 4 * i, 4);
        snprintf(out, cap, "%ld", (long)v);
        break;
    }
    case VLS_DT_I64: {
        int64_t v;
        memcpy(&v, d + 8 * i, 8);
        snprintf(out, cap, "%lld", (long long)v);
        break;
    }
    default:
        snprintf(out, cap, "%s", d[i] ? (json ? "true" : "T") : (json ? "false" : "F"));
    }
    if (json && (!strcmp(out, "nan") || !strcmp(out, "inf") || !strcmp(out, "-inf")))
        snprintf(out, cap, "%s", out[0] == 'n' ? "NaN" : out[0] == '-' ? "-Infinity" : "Infinity");
}

/* The elements [at, at + shape[d]*...) of p as a nested JSON list. */
static void tx_json_nested(text *t, const vls_prop *p, int d, size_t *at)
{
    if (d == p->ndim) {
        char num[64];
        if (p->dtype == VLS_DT_STR) {
            size_t len;
            const char *s = vls_prop_string(p, (*at)++, &len);
            tx_json_string(t, s, len);
        } else {
            fmt_elem(num, sizeof num, p, (*at)++, 1);
            tx_str(t, num);
        }
        return;
    }
    tx_str(t, "[");
    for (int32_t k = 0; k < p->shape[d]; k++) {
        if (k)
            tx_str(t, ", ");
        tx_json_nested(t, p, d + 1, at);
    }
    tx_str(t, "]");
}

/* Would ASE's comment parser type the bare string s as something other than a string? (It
 * tries int and float arrays of the tokens, then T/F, then a "_JSON " prefix.) */
static int string_retypes(const char *s)
{
    char *copy = strdup(s);
    if (!copy)
        return 1;
    int ntok = 0, numeric = 1, boolean = 1;
    for (char *tok = strtok(copy, " \t\n\r\v\f,"); tok; tok = strtok(NULL, " \t\n\r\v\f,")) {
        ntok++;
        char *end;
        strtod(tok, &end);
        if (*end || strpbrk(tok, "xX("))
            numeric = 0;
        if (strcmp(tok, "T") && strcmp(tok, "F"))
            boolean = 0;
    }
    free(copy);
    return ntok == 0 || numeric || boolean || !strncmp(s, "_JSON ", 6) ||
           strpbrk(s, "\n\r") != NULL;
}

static int is_special_3x3(const char *name, size_t n)
{
    return (n == 6 && !memcmp(name, "virial", 6)) || (n == 6 && !memcmp(name, "stress", 6)) ||
           (n == 7 && !memcmp(name, "Lattice", 7));
}

/* Writes ` key=value` for one per-frame property; @return 0, or -1 when it cannot be written
 * (why in *why). */
static int put_info(FILE *o, const char *name, size_t name_len, const vls_prop *p,
                    const char **why)
{
    text v = {0};
    char num[64];
    int special = is_special_3x3(name, name_len);
    if (p->kind == VLS_PROP_JSON) {
        size_t len;
        const char *s = vls_prop_string(p, 0, &len);
        tx_str(&v, "_JSON ");
        tx_add(&v, s, len);
    } else if (special) {
        /* ASE reads these as 3x3 from 9 numbers in Fortran order, and accepts nothing else */
        if (p->dtype == VLS_DT_STR || p->dtype == VLS_DT_BOOL || p->count != 9 ||
            !((p->ndim == 2 && p->shape[0] == 3 && p->shape[1] == 3) || p->ndim == 1)) {
            *why = "ASE reads this key only as 9 numbers";
            return -1;
        }
        for (int k = 0; k < 9; k++) {
            size_t i = p->ndim == 2 ? (size_t)(3 * (k % 3) + k / 3) : (size_t)k;
            fmt_elem(num, sizeof num, p, i, 0);
            if (k)
                tx_str(&v, " ");
            tx_str(&v, num);
        }
    } else if (p->dtype == VLS_DT_STR && p->ndim == 0) {
        size_t len;
        const char *s = vls_prop_string(p, 0, &len);
        if (string_retypes(s) || strlen(s) != len) {
            tx_str(&v, "_JSON ");
            tx_json_string(&v, s, len);
        } else {
            tx_add(&v, s, len);
        }
    } else if (p->ndim == 0) {
        fmt_elem(num, sizeof num, p, 0, 0);
        tx_str(&v, num);
    } else if (p->ndim == 1 && p->count >= 2 && p->dtype != VLS_DT_STR) {
        for (size_t i = 0; i < p->count; i++) {
            fmt_elem(num, sizeof num, p, i, 0);
            if (i)
                tx_str(&v, " ");
            tx_str(&v, num);
        }
    } else { /* one element, empty, nested, or strings: ASE reads _JSON into an array/list */
        size_t at = 0;
        tx_str(&v, "_JSON ");
        tx_json_nested(&v, p, 0, &at);
    }
    fputc(' ', o);
    put_quoted(o, name, name_len);
    fputc('=', o);
    put_quoted(o, v.s ? v.s : "", v.len);
    free(v.s);
    return 0;
}

/* Where a core field goes: the vlstore:<what>_key property, else the ASE name. */
static const char *source_key(const vls_frame *f, const char *what, char *buf, size_t cap)
{
    char pname[48];
    vls_prop p;
    snprintf(pname, sizeof pname, "vlstore:%s_key", what);
    if (vls_frame_find_prop(f, 0, pname, &p) == VLS_OK && p.dtype == VLS_DT_STR && p.count == 1)
        snprintf(buf, cap, "%s", vls_prop_string(&p, 0, NULL));
    else
        snprintf(buf, cap, "%s", what);
    return buf;
}

/* Can a per-atom property be a Properties column? @return its width, or 0 (why in *why). */
static int column_width(const vls_frame *f, const vls_prop *p, const char **why)
{
    if (p->ndim > 2) {
        *why = "a per-atom array of more than 2 dimensions has no extended-XYZ column form";
        return 0;
    }
    int width = p->ndim == 2 ? (int)p->shape[1] : 1;
    if (width < 1) {
        *why = "a per-atom array of width 0 has no column form";
        return 0;
    }
    if (p->dtype == VLS_DT_STR)
        for (size_t i = 0; i < p->count; i++) {
            const char *s = vls_prop_string(p, i, NULL);
            if (!*s || strpbrk(s, " \t\r\n\v\f")) {
                *why = "a string column value is empty or holds whitespace";
                return 0;
            }
        }
    (void)f;
    return width;
}

static char column_type(int dtype)
{
    switch (dtype) {
    case VLS_DT_F32:
    case VLS_DT_F64:
        return 'R';
    case VLS_DT_BOOL:
        return 'L';
    case VLS_DT_STR:
        return 'S';
    default:
        return 'I';
    }
}

/* One frame as extended XYZ. @return EXIT_OK, or EXIT_FAIL when the frame cannot be written
 * at all (message printed); properties that cannot be written are reported and left out. */
static int write_frame(FILE *o, const vls_frame *f, const char *key)
{
    const size_t n = (size_t)f->nsites;
    if (f->ncodim != 3) {
        fprintf(stderr, "vlstore export-xyz: %s: %d coordinates per site; XYZ has 3\n", key,
                (int)f->ncodim);
        return EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++)
        if (!vls_element_symbol(f->types[i])) {
            fprintf(stderr, "vlstore export-xyz: %s: site %zu has type %d, not an element\n", key,
                    i, (int)f->types[i]);
            return EXIT_FAIL;
        }
    char fkey[256], ekey[256], skey[256], num[64];
    source_key(f, "forces", fkey, sizeof fkey);
    source_key(f, "energy", ekey, sizeof ekey);
    source_key(f, "stress", skey, sizeof skey);
    const int has_forces = f->forces || f->forces64, has_charges = f->charges || f->charges64;

    /* Which per-atom properties become columns. */
    int *width = calloc(f->natom_props + 1, sizeof *width);
    if (!width) {
        fprintf(stderr, "vlstore export-xyz: out of memory\n");
        return EXIT_FAIL;
    }
    fprintf(o, "%zu\n", n);
    fprintf(o, "Properties=species:S:1:pos:R:3");
    if (has_forces)
        fprintf(o, ":%s:R:3", fkey);
    if (has_charges)
        fprintf(o, ":initial_charges:R:1");
    for (size_t k = 0; k < f->natom_props; k++) {
        vls_prop p;
        const char *why = NULL;
        if (vls_frame_prop(f, 1, k, &p) != VLS_OK)
            continue;
        width[k] = column_width(f, &p, &why);
        if (width[k] && (memchr(p.name, ':', p.name_len) || memchr(p.name, ' ', p.name_len) ||
                         memchr(p.name, '"', p.name_len))) {
            width[k] = 0;
            why = "its name holds ':', ' ' or '\"', which a Properties spec cannot";
        }
        if (!width[k]) {
            fprintf(stderr, "vlstore export-xyz: %s: per-atom property '%.*s' not written: %s\n",
                    key, (int)p.name_len, p.name, why);
            continue;
        }
        fprintf(o, ":%.*s:%c:%d", (int)p.name_len, p.name, column_type(p.dtype), width[k]);
    }
    if (f->cell || f->cell64) {
        fprintf(o, " Lattice=\"");
        for (size_t k = 0; k < 9; k++) {
            fmt_real(num, sizeof num, vls_frame_real(f->cell, f->cell64, k), 1);
            fprintf(o, "%s%s", k ? " " : "", num);
        }
        fprintf(o, "\"");
    }
    if (f->pbc)
        fprintf(o, " pbc=\"%s %s %s\"", f->pbc[0] ? "T" : "F", f->pbc[1] ? "T" : "F",
                f->pbc[2] ? "T" : "F");
    if (f->has_energy) {
        fmt_real(num, sizeof num, f->energy, 1);
        fputc(' ', o);
        put_quoted(o, ekey, strlen(ekey));
        fprintf(o, "=%s", num);
    }
    if (f->stress || f->stress64) {
        fputc(' ', o);
        put_quoted(o, skey, strlen(skey));
        fprintf(o, "=\"");
        for (size_t k = 0; k < 9; k++) {
            fmt_real(num, sizeof num, vls_frame_real(f->stress, f->stress64, k), 1);
            fprintf(o, "%s%s", k ? " " : "", num);
        }
        fprintf(o, "\"");
    }
    for (size_t k = 0; k < f->nprops; k++) {
        vls_prop p;
        const char *why = NULL;
        if (vls_frame_prop(f, 0, k, &p) != VLS_OK)
            continue;
        const char *name = p.name;
        size_t name_len = p.name_len;
        if (name_len >= 8 && !memcmp(name, "vlstore:", 8))
            continue; /* bookkeeping, used above */
        if (name_len > 5 && !memcmp(name, "calc:", 5)) { /* a calculator result: ASE's name */
            vls_prop other;
            char plain[256];
            snprintf(plain, sizeof plain, "%.*s", (int)(name_len - 5), name + 5);
            if (vls_frame_find_prop(f, 0, plain, &other) != VLS_OK)
                name += 5, name_len -= 5;
        }
        if (put_info(o, name, name_len, &p, &why))
            fprintf(stderr, "vlstore export-xyz: %s: property '%.*s' not written: %s\n", key,
                    (int)p.name_len, p.name, why);
    }
    fputc('\n', o);

    for (size_t i = 0; i < n; i++) {
        fprintf(o, "%-2s", vls_element_symbol(f->types[i]));
        for (size_t d = 0; d < 3; d++) {
            fmt_real(num, sizeof num, vls_frame_real(f->positions, f->positions64, 3 * i + d), 0);
            fprintf(o, " %s", num);
        }
        for (size_t d = 0; has_forces && d < 3; d++) {
            fmt_real(num, sizeof num, vls_frame_real(f->forces, f->forces64, 3 * i + d), 0);
            fprintf(o, " %s", num);
        }
        if (has_charges) {
            fmt_real(num, sizeof num, vls_frame_real(f->charges, f->charges64, i), 0);
            fprintf(o, " %s", num);
        }
        for (size_t k = 0; k < f->natom_props; k++) {
            vls_prop p;
            if (!width[k] || vls_frame_prop(f, 1, k, &p) != VLS_OK)
                continue;
            for (int c = 0; c < width[k]; c++) {
                size_t at = i * (size_t)width[k] + (size_t)c;
                if (p.dtype == VLS_DT_STR)
                    fprintf(o, " %s", vls_prop_string(&p, at, NULL));
                else {
                    fmt_elem(num, sizeof num, &p, at, 0);
                    fprintf(o, " %s", num);
                }
            }
        }
        fputc('\n', o);
    }
    free(width);
    return EXIT_OK;
}

int cmd_export_xyz(int argc, char **argv)
{
    static const char use[] =
        "usage: vlstore export-xyz STORE OUT.xyz [KEY...]\n"
        "Writes frame records (all, in storage order, or the KEYs given) as extended XYZ that\n"
        "ase.io.read reads back to the same Atoms: every property, the energy/forces/stress\n"
        "under the keys they were imported from. OUT '-' is stdout.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    if (argc < 3)
        return cli_usage(use);
    vls_store *s;
    if (cli_open("export-xyz", argv[1], VLS_RDONLY, &s) != EXIT_OK)
        return EXIT_FAIL;
    FILE *o = strcmp(argv[2], "-") ? fopen(argv[2], "w") : stdout;
    if (!o) {
        perror(argv[2]);
        vls_close(s);
        return EXIT_FAIL;
    }
    int status = EXIT_OK;
    long frames = 0;
    uint64_t pos = 0;
    int ki = 3;
    for (;;) {
        const void *key;
        size_t klen;
        uint64_t len;
        if (argc > 3) {
            if (ki >= argc)
                break;
            key = argv[ki];
            klen = strlen(argv[ki++]);
        } else if (vls_iter_next(s, &pos, &key, &klen, &len) != 1) {
            break;
        }
        char kname[512];
        snprintf(kname, sizeof kname, "%.*s", (int)(klen < 500 ? klen : 500), (const char *)key);
        void *data;
        uint64_t dlen;
        int rc = vls_get_alloc(s, key, klen, &data, &dlen);
        if (rc != VLS_OK) {
            fprintf(stderr, "vlstore export-xyz: %s: %s\n", kname, vls_errmsg(s));
            status = EXIT_FAIL;
            continue;
        }
        vls_frame f;
        rc = vls_frame_view(data, (size_t)dlen, &f); /* malloc'd: aligned */
        if (rc != VLS_OK)
            fprintf(stderr, "vlstore export-xyz: %s is not a valid frame: %s\n", kname,
                    vls_errmsg(NULL));
        else if (write_frame(o, &f, kname) == EXIT_OK)
            frames++;
        if (rc != VLS_OK)
            status = EXIT_FAIL;
        vls_free(data);
    }
    if (o != stdout ? fclose(o) != 0 : fflush(o) != 0) {
        perror(argv[2]);
        status = EXIT_FAIL;
    }
    vls_close(s);
    fprintf(stderr, "exported %ld frames to %s\n", frames, argv[2]);
    return status;
}
