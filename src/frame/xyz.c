/*
 * xyz.c — streaming reader of XYZ and extended-XYZ files into vls_frame (vls_xyz_*).
 *
 * A file is a sequence of frames:
 *     <atom count>
 *     <comment line: free text, or extended-XYZ key=value pairs>
 *     <one line per atom: whitespace-separated columns>
 * The accepted syntax is specified in docs/FRAME.md ("XYZ input"). Nothing is dropped: every
 * comment-line key and every Properties column reaches the frame, as a core field (positions,
 * forces, energy, cell, ...) or as a named property typed the way ASE's extxyz reader types
 * it, so that a file exported back (vlstore export-xyz) reads in ASE as the original did.
 * One frame is held in memory at a time; arrays grow as atom lines are read, so a lying atom
 * count cannot make the parser allocate more than the atoms actually present.
 * Numbers are parsed in the C locale (strtod_l), whatever LC_NUMERIC the program set.
 *
 * Depends on: elements.c (vls_element_*), the C library.
 */
#include "vlstore_frame.h"

#include "common/error.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* What a Properties column becomes. */
enum col_role { ROLE_PROP, ROLE_SPECIES, ROLE_Z, ROLE_POS, ROLE_FORCES, ROLE_MASSES, ROLE_CHARGES };

typedef struct {
    enum col_role role;
    char type;          /* 'S', 'R', 'I' or 'L' */
    int width;          /* number of whitespace-separated tokens */
    char name[128];
    unsigned char *data; /* this frame's values: R double/float, I int32, L uint8, S size_t
                          * offsets into the string arena (species: unused) */
    size_t cap;          /* bytes */
    int32_t shape_[2];   /* this frame's (nsites, width), for its property */
} column;

/* A key or a value of the comment line: kvtext[off, off+len), part of pair `pair`. */
struct kvpart {
    size_t off, len, pair;
};

/* A key=value of the comment line, and its value typed: elements at `off` in the arena. */
typedef struct {
    size_t key_off, key_len, raw_off;
    int dtype, kind, ndim;
    int32_t shape[2];
    size_t off, count; /* STR: `count` size_t offsets of NUL-terminated strings in the arena */
    int used;          /* consumed by a core field, or superseded by a later equal key */
} info_value;

#define RBUF_SIZE 65536
#define MAX_COLUMNS 4096 /* total tokens per atom line we are willing to handle */

struct vls_xyz {
    /* input */
    FILE *fp;
    int own_fp;
    const char *mem;
    size_t mem_len, mem_pos;
    char *display;
    char *rbuf; /* FILE read buffer */
    size_t rpos, rlen;
    int at_eof;

    /* current line */
    char *line;
    size_t line_len, line_cap;
    long lineno;

    /* sticky error */
    int err;
    char errmsg[512];
    char dropped[256]; /* what the last frame could not keep ("" when nothing) */

    /* per frame */
    long frame_index;
    char *comment;
    size_t comment_cap;
    char *name;
    size_t name_cap;
    unsigned char *arena; /* typed comment-line values, key names, strings */
    size_t arena_len, arena_cap;
    info_value *info;
    size_t ninfo, info_alloc;
    struct kvpart *parts; /* ASE-style splitting of the comment line */
    size_t nparts, parts_alloc;
    char *kvtext;
    size_t kvtext_cap;
    char *scratch; /* a value's copy, split into p->tok (outside the arena, which moves) */
    size_t scratch_cap;
    column *cols;
    size_t ncols, cols_alloc;
    int total_width;
    int have_properties;
    char coldesc[160];

    /* outputs */
    size_t cap; /* atoms the arrays below hold */
    int32_t *types;
    void *default_masses; /* double or float, from the element table */
    double cell[9], stress[9];
    float cell32[9], stress32[9];
    uint8_t pbc[3];
    const char **tok; /* token pointers of one atom line */
    size_t tok_cap;
    vls_prop *props, *atom_props;
    size_t props_alloc, atom_props_alloc;
    const char **strptr; /* string pointers handed out in vls_prop.data */
    size_t strptr_alloc;

    /* options */
    char *energy_key, *forces_key, *stress_key;
    int float64;

    /* symbol cache: 2-character code -> atomic number + 1 (0 = unknown) */
    int16_t symcache[128 * 128];
};

static locale_t c_locale(void) {
    /* One C locale for the process; newlocale is thread-safe, a race only leaks one. */
    static locale_t loc;
    locale_t l = __atomic_load_n(&loc, __ATOMIC_ACQUIRE);
    if (!l) {
        l = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        locale_t expected = (locale_t)0;
        if (l && !__atomic_compare_exchange_n(&loc, &expected, l, 0, __ATOMIC_ACQ_REL,
                                              __ATOMIC_ACQUIRE)) {
            freelocale(l);
            l = expected;
        }
    }
    return l;
}

/*-*************************************
 *  Errors
 ***************************************/
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int perr(vls_xyz *p, int code, const char *fmt, ...) {
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(p->errmsg, sizeof p->errmsg, "%s:%ld: %s", p->display, p->lineno, detail);
    p->err = code;
    return code;
}

/*-*************************************
 *  Opening and closing
 ***************************************/
static int grow(void **ptr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return VLS_OK;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem) return VLS_E_NOMEM;
        n *= 2;
    }
    void *q = realloc(*ptr, n * elem);
    if (!q) return VLS_E_NOMEM;
    *ptr = q;
    *cap = n;
    return VLS_OK;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int xyz_new(const char *display, vls_xyz **out) {
    vls_xyz *p = calloc(1, sizeof *p);
    if (!p) return vls_seterr(NULL, VLS_E_NOMEM, "%s: no memory for an XYZ parser", display);
    p->display = dup_str(display);
    p->comment = calloc(1, 1);
    p->comment_cap = 1;
    if (!p->display || !p->comment || !c_locale()) {
        vls_xyz_close(p);
        return vls_seterr(NULL, VLS_E_NOMEM, "%s: no memory for an XYZ parser", display);
    }
    for (int z = 0; z <= VLS_ELEMENT_MAX; z++) {
        const char *s = vls_element_symbol(z);
        unsigned c0 = (unsigned char)s[0], c1 = (unsigned char)s[1];
        p->symcache[c0 * 128 + c1] = (int16_t)(z + 1);
    }
    *out = p;
    return VLS_OK;
}

int vls_xyz_open_file(FILE *fp, const char *display_name, vls_xyz **out) {
    if (!out || !fp) {
        if (out) *out = NULL;
        return vls_seterr(NULL, VLS_E_INVAL, "vls_xyz_open_file: NULL argument");
    }
    *out = NULL;
    vls_xyz *p;
    int rc = xyz_new(display_name ? display_name : "<stream>", &p);
    if (rc) return rc;
    p->rbuf = malloc(RBUF_SIZE);
    if (!p->rbuf) {
        vls_xyz_close(p);
        return vls_seterr(NULL, VLS_E_NOMEM, "%s: no memory for the read buffer",
                          display_name ? display_name : "<stream>");
    }
    p->fp = fp;
    *out = p;
    return VLS_OK;
}

int vls_xyz_open(const char *path, vls_xyz **out) {
    if (!out || !path) {
        if (out) *out = NULL;
        return vls_seterr(NULL, VLS_E_INVAL, "vls_xyz_open: NULL argument");
    }
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return vls_seterr(NULL, VLS_E_IO, "%s: %s", path, strerror(errno));
    int rc = vls_xyz_open_file(fp, path, out);
    if (rc) {
        fclose(fp);
        return rc;
    }
    (*out)->own_fp = 1;
    return VLS_OK;
}

int vls_xyz_open_mem(const void *data, size_t len, const char *display_name, vls_xyz **out) {
    if (!out || (!data && len)) {
        if (out) *out = NULL;
        return vls_seterr(NULL, VLS_E_INVAL, "vls_xyz_open_mem: NULL argument");
    }
    *out = NULL;
    vls_xyz *p;
    int rc = xyz_new(display_name ? display_name : "<memory>", &p);
    if (rc) return rc;
    p->mem = data ? data : "";
    p->mem_len = len;
    *out = p;
    return VLS_OK;
}

/* Replaces *slot by a copy of s (NULL: no copy). */
static int set_option(char **slot, const char *s) {
    char *d = s ? dup_str(s) : NULL;
    if (s && !d) return VLS_E_NOMEM;
    free(*slot);
    *slot = d;
    return VLS_OK;
}

int vls_xyz_set_keys(vls_xyz *p, const char *energy_key, const char *forces_key) {
    if (!p) return VLS_E_INVAL;
    char *e = NULL, *f = NULL;
    if (set_option(&e, energy_key) || set_option(&f, forces_key)) {
        free(e);
        return VLS_E_NOMEM;
    }
    free(p->energy_key);
    free(p->forces_key);
    p->energy_key = e;
    p->forces_key = f;
    return VLS_OK;
}

int vls_xyz_set_stress_key(vls_xyz *p, const char *stress_key) {
    if (!p) return VLS_E_INVAL;
    return set_option(&p->stress_key, stress_key);
}

int vls_xyz_set_precision(vls_xyz *p, int bits) {
    if (!p || (bits != 32 && bits != 64)) return VLS_E_INVAL;
    p->float64 = bits == 64;
    return VLS_OK;
}

void vls_xyz_close(vls_xyz *p) {
    if (!p) return;
    if (p->own_fp && p->fp) fclose(p->fp);
    free(p->display);
    free(p->rbuf);
    free(p->line);
    free(p->comment);
    free(p->name);
    free(p->arena);
    free(p->info);
    free(p->parts);
    free(p->kvtext);
    free(p->scratch);
    for (size_t i = 0; i < p->cols_alloc; i++) free(p->cols[i].data);
    free(p->cols);
    free(p->types);
    free(p->default_masses);
    free((void *)p->tok);
    free(p->props);
    free(p->atom_props);
    free((void *)p->strptr);
    free(p->energy_key);
    free(p->forces_key);
    free(p->stress_key);
    free(p);
}

const char *vls_xyz_errmsg(const vls_xyz *p) { return p ? p->errmsg : vls_errmsg(NULL); }
const char *vls_xyz_comment(const vls_xyz *p) { return p ? p->comment : ""; }
const char *vls_xyz_dropped(const vls_xyz *p) { return p ? p->dropped : ""; }
long vls_xyz_line(const vls_xyz *p) { return p ? p->lineno : 0; }

/*-*************************************
 *  Lines
 ***************************************/
static int line_append(vls_xyz *p, const char *s, size_t n) {
    if (grow((void **)&p->line, &p->line_cap, p->line_len + n + 1, 1))
        return perr(p, VLS_E_NOMEM, "out of memory for a line of %zu bytes", p->line_len + n);
    memcpy(p->line + p->line_len, s, n);
    p->line_len += n;
    p->line[p->line_len] = '\0';
    return VLS_OK;
}

/* Reads the next line into p->line (NUL-terminated, without "\n" or "\r\n").
 * @return 1 for a line, 0 at the end of the input, or a negative error. */
static int read_line(vls_xyz *p) {
    p->line_len = 0;
    if (grow((void **)&p->line, &p->line_cap, 1, 1))
        return perr(p, VLS_E_NOMEM, "out of memory");
    p->line[0] = '\0';
    int got = 0;
    if (p->mem) {
        if (p->mem_pos >= p->mem_len) return 0;
        const char *s = p->mem + p->mem_pos;
        size_t left = p->mem_len - p->mem_pos;
        const char *nl = memchr(s, '\n', left);
        size_t n = nl ? (size_t)(nl - s) : left;
        int rc = line_append(p, s, n);
        if (rc) return rc;
        p->mem_pos += n + (nl != NULL);
        got = 1;
    } else {
        for (;;) {
            if (p->rpos == p->rlen) {
                if (p->at_eof) break;
                p->rlen = fread(p->rbuf, 1, RBUF_SIZE, p->fp);
                p->rpos = 0;
                if (p->rlen == 0) {
                    if (ferror(p->fp))
                        return perr(p, VLS_E_IO, "read error: %s", strerror(errno));
                    p->at_eof = 1;
                    break;
                }
            }
            const char *s = p->rbuf + p->rpos;
            size_t left = p->rlen - p->rpos;
            const char *nl = memchr(s, '\n', left);
            size_t n = nl ? (size_t)(nl - s) : left;
            int rc = line_append(p, s, n);
            if (rc) return rc;
            got = 1;
            p->rpos += n + (nl != NULL);
            if (nl) break;
        }
        if (!got) return 0;
    }
    if (p->line_len && p->line[p->line_len - 1] == '\r') p->line[--p->line_len] = '\0';
    p->lineno++;
    return 1;
}

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

static int is_blank(const char *s) {
    while (is_space((unsigned char)*s)) s++;
    return *s == '\0';
}

/* Copies at most 40 characters of s for a message. */
static const char *excerpt(const char *s, char *buf, size_t cap) {
    size_t n = strlen(s);
    if (n < cap) return s;
    snprintf(buf, cap, "%.*s...", (int)(cap - 4), s);
    return buf;
}


/*-*************************************
 *  Numbers and booleans, as Python reads them
 ***************************************/

/* A float as Python's float() accepts it (decimal, inf, nan; no hex), in the C locale. */
static int parse_double(const char *s, double *v) {
    if (!*s) return 0;
    for (const char *q = s; *q; q++)
        if (*q == 'x' || *q == 'X' || *q == '(' || *q == ',') return 0;
    char *end;
    *v = strtod_l(s, &end, c_locale());
    return end != s && *end == '\0'; /* ERANGE: +-HUGE_VAL or a tiny value, as Python */
}

/* An integer as Python's int() accepts it (optional sign, digits), within int64. */
static int parse_long(const char *s, long long *v) {
    const char *q = s + (*s == '+' || *s == '-');
    if (!*q) return 0;
    for (; *q; q++)
        if (*q < '0' || *q > '9') return 0;
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return *end == '\0' && errno == 0;
}

static int ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        int x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z') y += 'a' - 'A';
        if (x != y) return 0;
    }
    return *a == *b;
}

/* pbc entries: T/F, True/False in any case, 1/0. */
static int parse_bool(const char *s, uint8_t *v) {
    if (ieq(s, "T") || ieq(s, "True") || strcmp(s, "1") == 0) {
        *v = 1;
        return 1;
    }
    if (ieq(s, "F") || ieq(s, "False") || strcmp(s, "0") == 0) {
        *v = 0;
        return 1;
    }
    return 0;
}

/* Python's str.isspace() for ASCII, which ASE's comment splitter uses. */
static int py_space(int c) { return c == ' ' || (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f); }

/*-*************************************
 *  The arena: this frame's typed values, names and strings
 ***************************************/

/* Reserves n bytes aligned to 8. @return the offset, or (size_t)-1 when out of memory. */
static size_t arena_alloc(vls_xyz *p, size_t n) {
    size_t off = (p->arena_len + 7u) & ~(size_t)7u;
    if (off + n < off || grow((void **)&p->arena, &p->arena_cap, off + n, 1)) return (size_t)-1;
    p->arena_len = off + n;
    return off;
}

/* Copies s[0..n) and a NUL into the arena; s may itself lie in the arena (which may move). */
static size_t arena_str(vls_xyz *p, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    const int inside = p->arena && u >= p->arena && u < p->arena + p->arena_cap;
    const size_t from = inside ? (size_t)(u - p->arena) : 0;
    size_t off = arena_alloc(p, n + 1);
    if (off != (size_t)-1) {
        memmove(p->arena + off, inside ? (const char *)p->arena + from : s, n);
        p->arena[off + n] = '\0';
    }
    return off;
}

#define AT(p, off) ((void *)((p)->arena + (off)))

/*-*************************************
 *  Comment line: ASE's key=value splitting and typing
 ***************************************/

/* Appends one part (a key or a value) to the comment line's split, for pair `pair`. */
static int push_part(vls_xyz *p, size_t off, size_t pair) {
    if (grow((void **)&p->parts, &p->parts_alloc, p->nparts + 1, sizeof *p->parts)) return -1;
    p->parts[p->nparts++] = (struct kvpart){off, 0, pair};
    return 0;
}

/* Splits the comment line into key/value parts exactly as ASE's key_val_str_to_dict does
 * (ase/io/extxyz.py): whitespace separates pairs, '=' separates a key from its value, quotes
 * "..." '...' and brackets {...} [...] group (without nesting), a backslash takes the next
 * character literally. *open_delim receives the closing character still awaited at the end
 * (0 when every group was closed). @return 0, or -1 when out of memory. */
static int split_comment(vls_xyz *p, char *open_delim) {
    const char *s = p->comment;
    size_t n = strlen(s);
    while (n && py_space((unsigned char)s[n - 1])) n--;
    while (n && py_space((unsigned char)*s)) s++, n--;
    if (grow((void **)&p->kvtext, &p->kvtext_cap, n + 1, 1)) return -1;
    size_t w = 0, npairs = 1;
    p->nparts = 0;
    if (push_part(p, 0, 0)) return -1;
    int escaped = 0;
    char delim = 0;
    for (size_t i = 0; i < n; i++) {
        const char c = s[i];
        struct kvpart *last = &p->parts[p->nparts - 1];
        int append = 0;
        if (escaped) {
            append = 1, escaped = 0;
        } else if (c == '\\') {
            escaped = 1;
        } else if (delim) {
            if (c == delim)
                delim = 0;
            else
                append = 1;
        } else if (c == '"' || c == '\'') {
            delim = c;
        } else if (c == '{') {
            delim = '}';
        } else if (c == '[') {
            delim = ']';
        } else if (py_space((unsigned char)c)) {
            if (last->len == 0) continue; /* at the start, or after a separator */
            if (push_part(p, w, npairs++)) return -1;
        } else if (c == '=') {
            /* "key = value": a pair made of one empty part merges into the previous one */
            int lone_empty = last->len == 0 && p->nparts >= 2 &&
                             p->parts[p->nparts - 2].pair != last->pair;
            if (lone_empty) p->nparts--, npairs--;
            if (push_part(p, w, npairs - 1)) return -1;
        } else {
            append = 1;
        }
        if (append) {
            p->kvtext[w++] = c;
            p->parts[p->nparts - 1].len++;
        }
    }
    p->kvtext[w] = '\0';
    *open_delim = delim;
    return 0;
}

/* Tokens of a value as ASE splits them (re.findall(r'[^\s,]+')), in place; p->tok gets them.
 * @return the count, or -1 when out of memory. */
static long value_tokens(vls_xyz *p, char *s) {
    long n = 0;
    for (;;) {
        while (*s && (py_space((unsigned char)*s) || *s == ',')) s++;
        if (!*s) return n;
        if (grow((void **)&p->tok, &p->tok_cap, (size_t)n + 1, sizeof *p->tok)) return -1;
        p->tok[n++] = s;
        while (*s && !py_space((unsigned char)*s) && *s != ',') s++;
        if (*s) *s++ = '\0';
    }
}

/* value_tokens() of a copy of the raw value of iv (in p->scratch, so that the tokens stay
 * valid while the arena grows). @return the count, or -1 when out of memory. */
static long raw_tokens(vls_xyz *p, const info_value *iv) {
    const char *raw = AT(p, iv->raw_off);
    size_t n = strlen(raw);
    if (grow((void **)&p->scratch, &p->scratch_cap, n + 1, 1)) return -1;
    memcpy(p->scratch, raw, n + 1);
    return value_tokens(p, p->scratch);
}

static int is_special_3x3(const char *key) {
    return !strcmp(key, "Lattice") || !strcmp(key, "virial") || !strcmp(key, "stress");
}

/* Types the value of info value `iv` the way ASE does: all integers -> int64, else all floats
 * -> float64 (one: a scalar; 9 under Lattice/virial/stress: a 3x3 matrix in Fortran order),
 * else all T/F -> bool, else "_JSON ..." -> JSON text, else a string.
 * @return 0, or -1 when out of memory. */
static int type_value(vls_xyz *p, info_value *iv) {
#define KEY ((const char *)AT(p, iv->key_off)) /* re-read: allocations move the arena */
    const size_t rawlen = strlen(AT(p, iv->raw_off));
    long n = raw_tokens(p, iv);
    if (n < 0) return -1;
    iv->kind = VLS_PROP_PLAIN;
    iv->ndim = n == 1 ? 0 : 1;
    iv->shape[0] = (int32_t)n;
    iv->count = (size_t)n;
    if (!ieq(KEY, "uid")) {
        int ints = 1, reals = 1;
        for (long i = 0; i < n && (ints || reals); i++) {
            long long lv;
            double dv;
            if (ints && !parse_long(p->tok[i], &lv)) ints = 0;
            if (!ints && !parse_double(p->tok[i], &dv)) reals = 0;
        }
        if (ints || reals) {
            size_t off = arena_alloc(p, 8u * (size_t)n + 8u);
            if (off == (size_t)-1) return -1;
            for (long i = 0; i < n; i++) {
                long long lv = 0;
                double dv = 0;
                if (ints) {
                    parse_long(p->tok[i], &lv);
                    memcpy(p->arena + off + 8 * i, &lv, 8);
                } else {
                    parse_double(p->tok[i], &dv);
                    memcpy(p->arena + off + 8 * i, &dv, 8);
                }
            }
            iv->dtype = ints ? VLS_DT_I64 : VLS_DT_F64;
            iv->off = off;
            if (n == 9 && is_special_3x3(KEY)) { /* reshape((3, 3), order='F') */
                unsigned char t[72];
                memcpy(t, p->arena + off, 72);
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 3; j++) memcpy(p->arena + off + 8 * (3 * i + j), t + 8 * (3 * j + i), 8);
                iv->ndim = 2, iv->shape[0] = iv->shape[1] = 3;
            }
            return 0;
        }
        int bools = n > 0;
        for (long i = 0; i < n && bools; i++)
            if (strcmp(p->tok[i], "T") && strcmp(p->tok[i], "F")) bools = 0;
        if (bools) {
            size_t off = arena_alloc(p, (size_t)n);
            if (off == (size_t)-1) return -1;
            for (long i = 0; i < n; i++) p->arena[off + i] = p->tok[i][0] == 'T';
            iv->dtype = VLS_DT_BOOL;
            iv->off = off;
            return 0;
        }
    }
    const char *raw = AT(p, iv->raw_off);
    int json = !ieq(KEY, "uid") && strncmp(raw, "_JSON ", 6) == 0;
    size_t soff = arena_str(p, raw + (json ? 6 : 0), rawlen - (json ? 6 : 0)); /* may move */
    size_t off = arena_alloc(p, sizeof(size_t));
    if (soff == (size_t)-1 || off == (size_t)-1) return -1;
    memcpy(p->arena + off, &soff, sizeof soff);
    iv->dtype = VLS_DT_STR;
    iv->kind = json ? VLS_PROP_JSON : VLS_PROP_PLAIN;
    iv->ndim = 0;
    iv->count = 1;
    iv->off = off;
    return 0;
#undef KEY
}

/* Reads numbers from a raw value: 1..max of them. @return the count, -1 when a token is not
 * a number, max + 1 when there are more, -2 when out of memory. */
static long raw_numbers(vls_xyz *p, const info_value *iv, double *v, long max) {
    long n = raw_tokens(p, iv);
    if (n < 0) return -2;
    if (n > max) return max + 1;
    for (long i = 0; i < n; i++)
        if (!parse_double(p->tok[i], &v[i])) return -1;
    return n;
}

/* The last info value named `key` (exact, or in any letter case when fold), or NULL. */
static info_value *info_find(vls_xyz *p, const char *key, int fold) {
    for (size_t i = p->ninfo; i-- > 0;) {
        const char *k = AT(p, p->info[i].key_off);
        if (fold ? ieq(k, key) : strcmp(k, key) == 0) return &p->info[i];
    }
    return NULL;
}

/* The info value holding a core field: the explicit key when one was set, else the first of
 * `names` present (exact), else `fold` in any letter case. */
static info_value *info_resolve(vls_xyz *p, const char *explicit_key, const char *const *names,
                                const char *fold) {
    if (explicit_key) return info_find(p, explicit_key, 0);
    for (; *names; names++) {
        info_value *iv = info_find(p, *names, 0);
        if (iv) return iv;
    }
    return fold ? info_find(p, fold, 1) : NULL;
}

/* Marks every value named like iv as consumed (a key given twice: the last one counted). */
static void info_consume(vls_xyz *p, const info_value *iv) {
    for (size_t i = 0; i < p->ninfo; i++)
        if (!strcmp(AT(p, p->info[i].key_off), AT(p, iv->key_off))) p->info[i].used = 1;
}

/* Adds the string property "vlstore:<what>_key" = key, recording where a core field came from
 * (so that export-xyz and vlstore.ase write it back under that name). */
static int add_source_key(vls_xyz *p, const char *what, const char *key, size_t key_len) {
    char name[48];
    snprintf(name, sizeof name, "vlstore:%s_key", what);
    if (grow((void **)&p->info, &p->info_alloc, p->ninfo + 1, sizeof *p->info)) return -1;
    info_value *r = &p->info[p->ninfo];
    memset(r, 0, sizeof *r);
    const unsigned char *u = (const unsigned char *)key; /* key may lie in the arena, */
    const int inside = p->arena && u >= p->arena && u < p->arena + p->arena_cap;
    const size_t key_at = inside ? (size_t)(u - p->arena) : 0; /* which may move below */
    r->key_off = arena_str(p, name, strlen(name));
    r->key_len = strlen(name);
    size_t soff = arena_str(p, inside ? (const char *)p->arena + key_at : key, key_len);
    r->off = arena_alloc(p, sizeof(size_t));
    if (r->key_off == (size_t)-1 || soff == (size_t)-1 || r->off == (size_t)-1) return -1;
    memcpy(p->arena + r->off, &soff, sizeof soff);
    r->dtype = VLS_DT_STR;
    r->count = 1;
    p->ninfo++;
    return 0;
}

/* add_source_key() for a core field taken from the info value iv. */
static int add_source_info(vls_xyz *p, const char *what, const info_value *iv) {
    const size_t key_off = iv->key_off, key_len = iv->key_len; /* iv moves with p->info */
    return add_source_key(p, what, AT(p, key_off), key_len);
}

/*-*************************************
 *  Properties
 ***************************************/
static int add_column(vls_xyz *p, enum col_role role, char type, int width, const char *name) {
    size_t old = p->cols_alloc;
    if (grow((void **)&p->cols, &p->cols_alloc, p->ncols + 1, sizeof *p->cols))
        return perr(p, VLS_E_NOMEM, "out of memory");
    if (p->cols_alloc > old) memset(p->cols + old, 0, (p->cols_alloc - old) * sizeof *p->cols);
    column *c = &p->cols[p->ncols++];
    c->role = role;
    c->type = type;
    c->width = width;
    snprintf(c->name, sizeof c->name, "%s", name);
    p->total_width += width;
    return VLS_OK;
}

static void describe_columns(vls_xyz *p) {
    size_t w = 0;
    p->coldesc[0] = '\0';
    for (size_t i = 0; i < p->ncols && w + 1 < sizeof p->coldesc; i++) {
        int k = snprintf(p->coldesc + w, sizeof p->coldesc - w, "%s%s", i ? " " : "",
                         p->cols[i].name);
        if (k < 0) break;
        w += (size_t)k;
    }
}

static int forces_column(const vls_xyz *p, const char *name, int have_exact) {
    if (p->forces_key) return strcmp(name, p->forces_key) == 0;
    if (have_exact) return strcmp(name, "forces") == 0;
    return strcmp(name, "REF_forces") == 0 || strcmp(name, "force") == 0;
}

/* Sets p->cols from a Properties value (or the plain-XYZ default when props is NULL). */
static int parse_properties(vls_xyz *p, const char *props) {
    p->ncols = 0;
    p->total_width = 0;
    p->have_properties = props != NULL;
    if (!props) {
        int rc = add_column(p, ROLE_SPECIES, 'S', 1, "species");
        if (!rc) rc = add_column(p, ROLE_POS, 'R', 3, "pos");
        describe_columns(p);
        return rc;
    }
    char buf[4096];
    if (strlen(props) >= sizeof buf)
        return perr(p, VLS_E_CORRUPT, "Properties value is longer than %zu bytes", sizeof buf - 1);
    memcpy(buf, props, strlen(props) + 1);
    /* Which column holds the forces: "forces" when present, else REF_forces or force. */
    int have_forces = strstr(props, "forces:R:3") == props || strstr(props, ":forces:R:3");
    int seen[ROLE_CHARGES + 1] = {0};
    char *s = buf;
    while (*s) {
        char *name = s, *type, *cnt;
        char *c1 = strchr(name, ':');
        if (!c1) goto syntax;
        *c1 = '\0';
        type = c1 + 1;
        char *c2 = strchr(type, ':');
        if (!c2) goto syntax;
        *c2 = '\0';
        cnt = c2 + 1;
        char *c3 = strchr(cnt, ':');
        if (c3) {
            *c3 = '\0';
            s = c3 + 1;
        } else {
            s = cnt + strlen(cnt);
        }
        long long width;
        if (!*name || strlen(type) != 1 || !strchr("SRIL", type[0]) || !parse_long(cnt, &width) ||
            width < 1 || width > MAX_COLUMNS)
            return perr(p, VLS_E_CORRUPT,
                        "Properties: expected name:type:count with type S, R, I or L and count "
                        "1..%d, got '%s:%s:%s'",
                        MAX_COLUMNS, name, type, cnt);
        if (strlen(name) >= sizeof p->cols[0].name)
            return perr(p, VLS_E_CORRUPT, "Properties: column name '%.40s...' is too long", name);
        enum col_role role = ROLE_PROP;
        char want_type = 0;
        int want_width = 0;
        if (strcmp(name, "species") == 0) {
            role = ROLE_SPECIES, want_type = 'S', want_width = 1;
        } else if (strcmp(name, "pos") == 0 || strcmp(name, "positions") == 0) {
            role = ROLE_POS, want_type = 'R', want_width = 3;
        } else if (forces_column(p, name, have_forces) && !seen[ROLE_FORCES]) {
            role = ROLE_FORCES, want_type = 'R', want_width = 3;
        } else if (strcmp(name, "Z") == 0) {
            role = ROLE_Z, want_type = 'I', want_width = 1;
        } else if (strcmp(name, "masses") == 0 || strcmp(name, "mass") == 0) {
            role = ROLE_MASSES, want_type = 'R', want_width = 1;
        } else if (strcmp(name, "charges") == 0 || strcmp(name, "charge") == 0 ||
                   strcmp(name, "initial_charges") == 0) {
            role = ROLE_CHARGES, want_type = 'R', want_width = 1;
        }
        if (role != ROLE_PROP) {
            if (type[0] != want_type || width != want_width)
                return perr(p, VLS_E_CORRUPT, "Properties: column '%s' must be %c:%d, got %s:%lld",
                            name, want_type, want_width, type, width);
            if (seen[role]++)
                return perr(p, VLS_E_CORRUPT, "Properties: column '%s' given twice", name);
        }
        for (size_t k = 0; k < p->ncols; k++)
            if (!strcmp(p->cols[k].name, name))
                return perr(p, VLS_E_CORRUPT, "Properties: column '%s' given twice", name);
        if (p->total_width + width > MAX_COLUMNS)
            return perr(p, VLS_E_CORRUPT, "Properties: more than %d columns", MAX_COLUMNS);
        int rc = add_column(p, role, type[0], (int)width, name);
        if (rc) return rc;
    }
    if (!seen[ROLE_POS])
        return perr(p, VLS_E_CORRUPT, "Properties: no 'pos:R:3' column in '%s'", props);
    if (!seen[ROLE_SPECIES] && !seen[ROLE_Z])
        return perr(p, VLS_E_CORRUPT, "Properties: neither 'species:S:1' nor 'Z:I:1' in '%s'",
                    props);
    describe_columns(p);
    return VLS_OK;
syntax:
    return perr(p, VLS_E_CORRUPT, "Properties: expected name:type:count triples, got '%s'",
                props);
}

/* Bytes per value of a column in this frame (species: none, its values go to types). */
static size_t col_elem(const vls_xyz *p, const column *c) {
    switch (c->type) {
    case 'R':
        return p->float64 ? 8 : 4;
    case 'I':
        return 4;
    case 'L':
        return 1;
    default:
        return c->role == ROLE_SPECIES ? 0 : sizeof(size_t);
    }
}

/*-*************************************
 *  Frames
 ***************************************/
static int ensure_atoms(vls_xyz *p, size_t n) {
    if (n > p->cap) {
        size_t cap = p->cap ? p->cap : 64;
        while (cap < n) cap *= 2;
        void *q = realloc(p->types, cap * sizeof(int32_t));
        if (!q) goto nomem;
        p->types = q;
        if (!(q = realloc(p->default_masses, cap * sizeof(double)))) goto nomem;
        p->default_masses = q;
        p->cap = cap;
    }
    for (size_t c = 0; c < p->ncols; c++) {
        column *col = &p->cols[c];
        size_t need = n * (size_t)col->width * col_elem(p, col);
        if (need > col->cap) {
            size_t cap = col->cap ? col->cap : 256;
            while (cap < need) cap *= 2;
            void *q = realloc(col->data, cap);
            if (!q) goto nomem;
            col->data = q;
            col->cap = cap;
        }
    }
    return VLS_OK;
nomem:
    return perr(p, VLS_E_NOMEM, "out of memory for %zu atoms", n);
}

static int species_z(vls_xyz *p, const char *tok) {
    size_t n = strlen(tok);
    if (n >= 1 && n <= 2 && (unsigned char)tok[0] < 128 && (unsigned char)tok[1] < 128) {
        int z = p->symcache[(unsigned char)tok[0] * 128 + (unsigned char)tok[1]];
        if (z) return z - 1;
    }
    return vls_element_number(tok, n);
}

/* Splits and types the comment line, takes the core fields out of it (Lattice, pbc, energy,
 * stress, Properties, name), and leaves every other key as an info value to keep. */
static int read_comment(vls_xyz *p, vls_frame *out) {
    char open_delim = 0, tmp[80];
    p->ninfo = 0;
    p->arena_len = 0;
    p->dropped[0] = '\0';
    if (split_comment(p, &open_delim)) return perr(p, VLS_E_NOMEM, "out of memory");
    for (size_t i = 0; i < p->nparts;) { /* one pair: a key and its value parts */
        size_t j = i + 1;
        while (j < p->nparts && p->parts[j].pair == p->parts[i].pair) j++;
        const struct kvpart *k = &p->parts[i];
        if (k->len == 0) { /* "=value" with no key: nothing to name it by */
            if (j > i + 1 || p->nparts > 1)
                snprintf(p->dropped, sizeof p->dropped, "a value without a key on the comment line");
            i = j;
            continue;
        }
        if (grow((void **)&p->info, &p->info_alloc, p->ninfo + 1, sizeof *p->info))
            return perr(p, VLS_E_NOMEM, "out of memory");
        info_value *iv = &p->info[p->ninfo];
        memset(iv, 0, sizeof *iv);
        iv->key_off = arena_str(p, p->kvtext + k->off, k->len);
        iv->key_len = k->len;
        if (j == i + 1) {
            iv->raw_off = arena_str(p, "T", 1); /* a bare key is True */
        } else {
            size_t total = 0;
            for (size_t q = i + 1; q < j; q++) total += p->parts[q].len + 1;
            iv->raw_off = arena_alloc(p, total);
            if (iv->raw_off != (size_t)-1) {
                char *d = AT(p, iv->raw_off);
                for (size_t q = i + 1; q < j; q++) { /* the value parts, joined by '=' */
                    if (q > i + 1) *d++ = '=';
                    memcpy(d, p->kvtext + p->parts[q].off, p->parts[q].len);
                    d += p->parts[q].len;
                }
                *d = '\0';
            }
        }
        if (iv->key_off == (size_t)-1 || iv->raw_off == (size_t)-1)
            return perr(p, VLS_E_NOMEM, "out of memory");
        /* The same key again: the last one counts (ASE keeps a dict). */
        for (size_t q = 0; q < p->ninfo; q++)
            if (!strcmp(AT(p, p->info[q].key_off), AT(p, iv->key_off))) p->info[q].used = 1;
        p->ninfo++;
        i = j;
    }
    if (open_delim) {
        /* Free text may hold an unbalanced quote; a line that claims to be extended may not. */
        info_value *bad = NULL;
        if (p->ninfo) bad = &p->info[p->ninfo - 1];
        if (strstr(p->comment, "Properties=") || strstr(p->comment, "Lattice="))
            return perr(p, VLS_E_CORRUPT, "comment line: unterminated quoted value of key '%s'",
                        bad ? (const char *)AT(p, bad->key_off) : "");
    }

    info_value *iv = info_find(p, "Properties", 1);
    if (iv) info_consume(p, iv);
    int rc = parse_properties(p, iv ? AT(p, iv->raw_off) : NULL);
    if (rc) return rc;

    double d[9];
    if ((iv = info_find(p, "Lattice", 1))) {
        info_consume(p, iv);
        long n = raw_numbers(p, iv, d, 9);
        if (n == -2) return perr(p, VLS_E_NOMEM, "out of memory");
        if (n != 9)
            return perr(p, VLS_E_CORRUPT, "Lattice: expected 9 numbers, got '%s'",
                        (const char *)AT(p, iv->raw_off));
        for (int i = 0; i < 9; i++) p->cell[i] = d[i], p->cell32[i] = (float)d[i];
        if (p->float64)
            out->cell64 = p->cell;
        else
            out->cell = p->cell32;
        p->pbc[0] = p->pbc[1] = p->pbc[2] = 1; /* extended-XYZ default with a lattice */
        out->pbc = p->pbc;
    }
    if ((iv = info_find(p, "pbc", 1))) {
        info_consume(p, iv);
        long n = raw_tokens(p, iv);
        if (n < 0) return perr(p, VLS_E_NOMEM, "out of memory");
        int ok = n == 3;
        for (long i = 0; ok && i < 3; i++) ok = parse_bool(p->tok[i], &p->pbc[i]);
        if (!ok)
            return perr(p, VLS_E_CORRUPT, "pbc: expected 3 of T/F, got '%s'",
                        (const char *)AT(p, iv->raw_off));
        out->pbc = p->pbc;
    }
    static const char *const energy_names[] = {"energy", "REF_energy", NULL};
    if ((iv = info_resolve(p, p->energy_key, energy_names, "energy"))) {
        info_consume(p, iv);
        const char *raw = AT(p, iv->raw_off);
        if (!parse_double(raw, &out->energy))
            return perr(p, VLS_E_CORRUPT, "%s: expected a number, got '%.60s'",
                        (const char *)AT(p, iv->key_off), raw);
        out->has_energy = 1;
        if (strcmp(AT(p, iv->key_off), "energy") && add_source_info(p, "energy", iv))
            return perr(p, VLS_E_NOMEM, "out of memory");
    }
    static const char *const stress_names[] = {"stress", "REF_stress", NULL};
    if ((iv = info_resolve(p, p->stress_key, stress_names, "stress"))) {
        info_consume(p, iv);
        long n = raw_numbers(p, iv, d, 9);
        if (n == -2) return perr(p, VLS_E_NOMEM, "out of memory");
        if (n == 6) { /* Voigt order xx yy zz yz xz xy */
            double s9[9] = {d[0], d[5], d[4], d[5], d[1], d[3], d[4], d[3], d[2]};
            memcpy(d, s9, sizeof s9);
        } else if (n != 9) {
            return perr(p, VLS_E_CORRUPT, "%s: expected 9 (or 6 Voigt) numbers, got '%.60s'",
                        (const char *)AT(p, iv->key_off), (const char *)AT(p, iv->raw_off));
        }
        for (int i = 0; i < 9; i++) p->stress[i] = d[i], p->stress32[i] = (float)d[i];
        if (p->float64)
            out->stress64 = p->stress;
        else
            out->stress = p->stress32;
        if (strcmp(AT(p, iv->key_off), "stress") && add_source_info(p, "stress", iv))
            return perr(p, VLS_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->ninfo; i++)
        if (!p->info[i].used && p->info[i].dtype == 0 && type_value(p, &p->info[i]))
            return perr(p, VLS_E_NOMEM, "out of memory");

    /* The frame name: the name= value as written (it also stays an info value). */
    const char *nm = (iv = info_find(p, "name", 1)) ? (const char *)AT(p, iv->raw_off) : NULL;
    if (!nm) {
        snprintf(tmp, sizeof tmp, "frame_%ld", p->frame_index);
        nm = tmp;
    }
    size_t nl = strlen(nm);
    if (grow((void **)&p->name, &p->name_cap, nl + 1, 1))
        return perr(p, VLS_E_NOMEM, "out of memory");
    memcpy(p->name, nm, nl + 1);
    out->name = p->name;
    out->name_len = nl;
    return VLS_OK;
}

/* Splits p->line into tokens. @return the token count (stops counting past max+1). */
static int tokenize(vls_xyz *p, int max) {
    char *s = p->line;
    int n = 0;
    for (;;) {
        while (is_space((unsigned char)*s)) s++;
        if (!*s) return n;
        if (n > max) return n; /* too many: enough to report */
        p->tok[n++] = s;
        while (*s && !is_space((unsigned char)*s)) s++;
        if (*s) *s++ = '\0';
    }
}

/* Reads the tokens of atom i into the columns. has_z: types come from the Z column;
 * has_masses: masses come from the masses column (else from the element table). */
static int read_atom(vls_xyz *p, size_t i, int has_z, int has_masses) {
    int t = 0;
    double *dm = p->default_masses;
    for (size_t c = 0; c < p->ncols; c++) {
        column *col = &p->cols[c];
        const size_t w = (size_t)col->width, at = i * w;
        for (size_t k = 0; k < w; k++) {
            const char *tk = p->tok[t + (int)k];
            long long lv;
            double v;
            switch (col->type) {
            case 'S':
                if (col->role == ROLE_SPECIES) {
                    if (has_z) break;
                    int z = species_z(p, tk);
                    if (z < 0)
                        return perr(p, VLS_E_CORRUPT, "column %d (species): unknown element '%s'",
                                    t + 1, tk);
                    p->types[i] = z;
                    if (!has_masses) dm[i] = vls_element_mass(z);
                } else {
                    size_t off = arena_str(p, tk, strlen(tk));
                    if (off == (size_t)-1) return perr(p, VLS_E_NOMEM, "out of memory");
                    memcpy(col->data + (at + k) * sizeof off, &off, sizeof off);
                }
                break;
            case 'I':
                if (!parse_long(tk, &lv) || lv < INT32_MIN || lv > INT32_MAX)
                    return perr(p, VLS_E_CORRUPT, "column %d (%s): expected an integer, got '%s'",
                                t + (int)k + 1, col->name, tk);
                {
                    int32_t v32 = (int32_t)lv;
                    memcpy(col->data + 4 * (at + k), &v32, 4);
                }
                if (col->role == ROLE_Z) {
                    p->types[i] = (int32_t)lv;
                    if (!has_masses) dm[i] = vls_element_mass((int)lv);
                }
                break;
            case 'L':
                if (strcmp(tk, "T") && strcmp(tk, "True") && strcmp(tk, "F") && strcmp(tk, "False"))
                    return perr(p, VLS_E_CORRUPT, "column %d (%s): expected T or F, got '%s'",
                                t + (int)k + 1, col->name, tk);
                col->data[at + k] = tk[0] == 'T';
                break;
            default: /* 'R' */
                if (!parse_double(tk, &v))
                    return perr(p, VLS_E_CORRUPT, "column %d (%s): expected a number, got '%s'",
                                t + (int)k + 1, col->name, tk);
                if (p->float64) {
                    memcpy(col->data + 8 * (at + k), &v, 8);
                } else {
                    float f = (float)v;
                    memcpy(col->data + 4 * (at + k), &f, 4);
                }
            }
        }
        t += col->width;
    }
    return VLS_OK;
}

static column *column_with(vls_xyz *p, enum col_role role) {
    for (size_t c = 0; c < p->ncols; c++)
        if (p->cols[c].role == role) return &p->cols[c];
    return NULL;
}

/* Points the frame at the columns, and builds the property lists: every info value not taken
 * by a core field, and every column that is not species/Z/pos/forces/charges (the masses
 * column is kept both as the masses and as a property, as ASE has it in atoms.arrays). */
static int finish_frame(vls_xyz *p, vls_frame *out, size_t n) {
    const column *pos = column_with(p, ROLE_POS), *frc = column_with(p, ROLE_FORCES);
    const column *mas = column_with(p, ROLE_MASSES), *chg = column_with(p, ROLE_CHARGES);
    out->nsites = (int32_t)n;
    out->ncodim = 3;
    out->types = p->types;
    if (p->float64) {
        out->positions64 = (const double *)(const void *)pos->data;
        out->forces64 = frc ? (const double *)(const void *)frc->data : NULL;
        out->charges64 = chg ? (const double *)(const void *)chg->data : NULL;
        out->masses64 = mas ? (const double *)(const void *)mas->data : p->default_masses;
    } else {
        out->positions = (const float *)(const void *)pos->data;
        out->forces = frc ? (const float *)(const void *)frc->data : NULL;
        out->charges = chg ? (const float *)(const void *)chg->data : NULL;
        if (mas) {
            out->masses = (const float *)(const void *)mas->data;
        } else { /* narrow the table masses in place (doubles -> the first n floats) */
            double *dm = p->default_masses;
            float *fm = p->default_masses;
            for (size_t i = 0; i < n; i++) fm[i] = (float)dm[i];
            out->masses = fm;
        }
    }

    /* Count what the lists need, then fill them; strings get pointers into the arena, which
     * no longer moves. */
    size_t ninfo = 0, nstr = 0, natom = 0;
    for (size_t i = 0; i < p->ninfo; i++)
        if (!p->info[i].used) ninfo++, nstr += p->info[i].dtype == VLS_DT_STR ? p->info[i].count : 0;
    for (size_t c = 0; c < p->ncols; c++) {
        const column *col = &p->cols[c];
        if (col->role != ROLE_PROP && col->role != ROLE_MASSES) continue;
        natom++;
        if (col->type == 'S') nstr += n * (size_t)col->width;
    }
    if (grow((void **)&p->props, &p->props_alloc, ninfo + 1, sizeof *p->props) ||
        grow((void **)&p->atom_props, &p->atom_props_alloc, natom + 1, sizeof *p->atom_props) ||
        grow((void **)&p->strptr, &p->strptr_alloc, nstr + 1, sizeof *p->strptr))
        return perr(p, VLS_E_NOMEM, "out of memory");
    size_t sp = 0, k = 0;
    for (size_t i = 0; i < p->ninfo; i++) {
        info_value *iv = &p->info[i];
        if (iv->used) continue;
        vls_prop *pr = &p->props[k++];
        memset(pr, 0, sizeof *pr);
        pr->name = AT(p, iv->key_off);
        pr->name_len = iv->key_len;
        pr->dtype = iv->dtype;
        pr->kind = iv->kind;
        pr->ndim = iv->ndim;
        pr->shape = iv->ndim ? iv->shape : NULL;
        pr->count = iv->count;
        if (iv->dtype == VLS_DT_STR) {
            for (size_t q = 0; q < iv->count; q++) {
                size_t off;
                memcpy(&off, p->arena + iv->off + q * sizeof off, sizeof off);
                p->strptr[sp + q] = AT(p, off);
            }
            pr->data = p->strptr + sp;
            sp += iv->count;
        } else {
            pr->data = AT(p, iv->off);
        }
    }
    out->props = p->props;
    out->nprops = ninfo;
    k = 0;
    for (size_t c = 0; c < p->ncols; c++) {
        column *col = &p->cols[c];
        if (col->role != ROLE_PROP && col->role != ROLE_MASSES) continue;
        vls_prop *pr = &p->atom_props[k++];
        memset(pr, 0, sizeof *pr);
        pr->name = col->name;
        pr->name_len = strlen(col->name);
        col->shape_[0] = (int32_t)n;
        col->shape_[1] = col->width;
        pr->shape = col->shape_;
        pr->ndim = col->width > 1 ? 2 : 1;
        pr->count = n * (size_t)col->width;
        switch (col->type) {
        case 'R':
            pr->dtype = p->float64 ? VLS_DT_F64 : VLS_DT_F32;
            pr->data = col->data;
            break;
        case 'I':
            pr->dtype = VLS_DT_I32;
            pr->data = col->data;
            break;
        case 'L':
            pr->dtype = VLS_DT_BOOL;
            pr->data = col->data;
            break;
        default:
            pr->dtype = VLS_DT_STR;
            for (size_t q = 0; q < pr->count; q++) {
                size_t off;
                memcpy(&off, col->data + q * sizeof off, sizeof off);
                p->strptr[sp + q] = AT(p, off);
            }
            pr->data = p->strptr + sp;
            sp += pr->count;
        }
    }
    out->atom_props = p->atom_props;
    out->natom_props = natom;
    return VLS_OK;
}

int vls_xyz_next(vls_xyz *p, vls_frame *out) {
    if (!p || !out) return VLS_E_INVAL;
    vls_frame_init(out);
    if (p->err) return p->err;

    /* Atom count, after any blank lines. */
    int rc;
    do {
        rc = read_line(p);
        if (rc <= 0) return rc; /* end of input, or an error */
    } while (is_blank(p->line));
    char tmp[64];
    const char *s = p->line;
    while (is_space((unsigned char)*s)) s++;
    char *end;
    errno = 0;
    long long count = strtoll(s, &end, 10);
    while (is_space((unsigned char)*end)) end++;
    if (end == s || *end != '\0' || count < 0)
        return perr(p, VLS_E_CORRUPT, "expected the atom count (an integer >= 0), got '%s'",
                    excerpt(p->line, tmp, 40));
    if (errno == ERANGE || count > INT32_MAX || (uint64_t)count * 3u * (p->float64 ? 8u : 4u) > VLS_FRAME_MAX_SIZE)
        return perr(p, VLS_E_TOOBIG, "atom count %s is too large for a frame", p->line);
    const long count_line = p->lineno;

    /* Comment line. */
    rc = read_line(p);
    if (rc < 0) return rc;
    if (rc == 0)
        return perr(p, VLS_E_CORRUPT, "expected the comment line of a frame of %lld atoms, got "
                                      "the end of the file", count);
    if (grow((void **)&p->comment, &p->comment_cap, p->line_len + 1, 1))
        return perr(p, VLS_E_NOMEM, "out of memory");
    memcpy(p->comment, p->line, p->line_len + 1);
    rc = read_comment(p, out);
    if (rc) return rc;

    const int has_masses = column_with(p, ROLE_MASSES) != NULL;
    const int has_z = column_with(p, ROLE_Z) != NULL;
    if (grow((void **)&p->tok, &p->tok_cap, (size_t)p->total_width + 2, sizeof *p->tok))
        return perr(p, VLS_E_NOMEM, "out of memory");
    if ((rc = ensure_atoms(p, 1))) return rc;

    int extra = 0;
    for (long long i = 0; i < count; i++) {
        rc = read_line(p);
        if (rc < 0) return rc;
        if (rc == 0)
            return perr(p, VLS_E_CORRUPT,
                        "expected atom line %lld of %lld (frame starting at line %ld), got the "
                        "end of the file",
                        i + 1, count, count_line);
        if ((rc = ensure_atoms(p, (size_t)i + 1))) return rc;
        int ntok = tokenize(p, p->total_width);
        if (ntok < p->total_width || (p->have_properties && ntok > p->total_width))
            return perr(p, VLS_E_CORRUPT, "expected %d columns (%s), got %s%d", p->total_width,
                        p->coldesc, ntok > p->total_width ? "more than " : "",
                        ntok > p->total_width ? p->total_width : ntok);
        if (ntok > p->total_width) extra = 1;
        if ((rc = read_atom(p, (size_t)i, has_z, has_masses))) return rc;
    }
    if (extra)
        snprintf(p->dropped, sizeof p->dropped,
                 "columns after species x y z (a plain XYZ file without Properties= names no "
                 "more; ASE ignores them too)");
    const column *frc = column_with(p, ROLE_FORCES);
    if (frc && strcmp(frc->name, "forces") &&
        add_source_key(p, "forces", frc->name, strlen(frc->name)))
        return perr(p, VLS_E_NOMEM, "out of memory");
    if ((rc = finish_frame(p, out, (size_t)count))) return rc;
    p->frame_index++;
    return 1;
}
