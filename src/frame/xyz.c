/*
 * xyz.c — streaming reader of XYZ and extended-XYZ files into vls_frame (vls_xyz_*).
 *
 * A file is a sequence of frames:
 *     <atom count>
 *     <comment line: free text, or extended-XYZ key=value pairs>
 *     <one line per atom: whitespace-separated columns>
 * The accepted syntax is specified in docs/FRAME.md ("XYZ input"). One frame is held in memory
 * at a time; arrays grow as atom lines are read, so a lying atom count cannot make the parser
 * allocate more than the atoms actually present.
 *
 * Depends on: elements.c (vls_element_*), the C library.
 */
#include "vlstore_frame.h"

#include "common/error.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* What a Properties column means to us. */
enum col_kind { COL_SKIP, COL_SPECIES, COL_POS, COL_FORCES, COL_Z, COL_MASSES, COL_CHARGES };

typedef struct {
    enum col_kind kind;
    char type;      /* 'S', 'R', 'I' or 'L' */
    int width;      /* number of whitespace-separated tokens */
    char name[48];  /* for messages */
} column;

typedef struct {
    size_t key, val; /* offsets into kv_buf */
} kvpair;

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

    /* per frame */
    long frame_index;
    char *comment;
    size_t comment_cap;
    char *name;
    size_t name_cap;
    char *kv_buf; /* unescaped keys and values of the comment line */
    size_t kv_cap;
    kvpair *kv;
    size_t nkv, kv_alloc;
    column *cols;
    size_t ncols, cols_alloc;
    int total_width;
    int have_properties;
    char coldesc[160];

    /* arrays, capacity in atoms */
    size_t cap;
    int32_t *types;
    float *masses, *positions, *forces, *charges;
    float cell[9], stress[9];
    uint8_t pbc[3];
    const char **tok; /* token pointers of one atom line */
    size_t tok_cap;

    /* options */
    char *energy_key, *forces_key;

    /* symbol cache: 2-character code -> atomic number + 1 (0 = unknown) */
    int16_t symcache[128 * 128];
};

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
    if (!p->display || !p->comment) {
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

int vls_xyz_set_keys(vls_xyz *p, const char *energy_key, const char *forces_key) {
    if (!p) return VLS_E_INVAL;
    char *e = energy_key ? dup_str(energy_key) : NULL;
    char *f = forces_key ? dup_str(forces_key) : NULL;
    if ((energy_key && !e) || (forces_key && !f)) {
        free(e);
        free(f);
        return VLS_E_NOMEM;
    }
    free(p->energy_key);
    free(p->forces_key);
    p->energy_key = e;
    p->forces_key = f;
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
    free(p->kv_buf);
    free(p->kv);
    free(p->cols);
    free(p->types);
    free(p->masses);
    free(p->positions);
    free(p->forces);
    free(p->charges);
    free((void *)p->tok);
    free(p->energy_key);
    free(p->forces_key);
    free(p);
}

const char *vls_xyz_errmsg(const vls_xyz *p) { return p ? p->errmsg : vls_errmsg(NULL); }
const char *vls_xyz_comment(const vls_xyz *p) { return p ? p->comment : ""; }
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
 *  Numbers and booleans
 ***************************************/
static int parse_double(const char *s, double *v) {
    if (!*s) return 0;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    if (end == s || *end != '\0') return 0;
    return 1; /* ERANGE: strtod already gave +-HUGE_VAL or a tiny value; accept it */
}

static int parse_long(const char *s, long long *v) {
    if (!*s) return 0;
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return end != s && *end == '\0' && errno == 0;
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

/* Splits `s` (modified in place) at whitespace and commas into at most `max` numbers.
 * @return the count found, or -1 when a token is not a number, or max+1 when there are more. */
static int parse_reals(char *s, double *v, int max) {
    int n = 0;
    for (;;) {
        while (*s && (is_space((unsigned char)*s) || *s == ',')) s++;
        if (!*s) return n;
        char *t = s;
        while (*s && !is_space((unsigned char)*s) && *s != ',') s++;
        char save = *s;
        *s = '\0';
        if (n >= max) return max + 1;
        if (!parse_double(t, &v[n])) return -1;
        n++;
        *s = save;
    }
}

/*-*************************************
 *  Comment line: key=value pairs
 ***************************************/

/* Parses p->comment into p->kv. @return 1 on success, 0 on a syntax error (message in msg). */
static int parse_kv(vls_xyz *p, char *msg, size_t msgcap) {
    const char *s = p->comment;
    size_t n = strlen(s);
    p->nkv = 0;
    if (grow((void **)&p->kv_buf, &p->kv_cap, 2 * n + 4, 1)) return -1;
    char *o = p->kv_buf;
    size_t w = 0;
    for (;;) {
        while (is_space((unsigned char)*s)) s++;
        if (!*s) return 1;
        if (grow((void **)&p->kv, &p->kv_alloc, p->nkv + 1, sizeof *p->kv)) return -1;
        kvpair *kv = &p->kv[p->nkv];
        /* key */
        kv->key = w;
        if (*s == '"') {
            s++;
            while (*s && *s != '"') o[w++] = *s++;
            if (*s != '"') {
                snprintf(msg, msgcap, "unterminated quoted key");
                return 0;
            }
            s++;
        } else {
            while (*s && !is_space((unsigned char)*s) && *s != '=') o[w++] = *s++;
        }
        o[w++] = '\0';
        const char *after_key = s;
        while (is_space((unsigned char)*s)) s++;
        kv->val = w;
        if (*s != '=') { /* a bare key is a boolean flag */
            s = after_key;
            o[w++] = 'T';
            o[w++] = '\0';
            p->nkv++;
            continue;
        }
        s++;
        while (is_space((unsigned char)*s)) s++;
        if (*s == '"') {
            s++;
            while (*s && *s != '"') {
                if (*s == '\\' && s[1]) {
                    s++;
                    o[w++] = *s == 'n' ? '\n' : *s;
                    s++;
                } else {
                    o[w++] = *s++;
                }
            }
            if (*s != '"') {
                snprintf(msg, msgcap, "unterminated quoted value of key '%s'", o + kv->key);
                return 0;
            }
            s++;
        } else if (*s == '{' || *s == '[') {
            char close = *s == '{' ? '}' : ']';
            s++;
            while (*s && *s != close) o[w++] = *s++;
            if (*s != close) {
                snprintf(msg, msgcap, "unterminated %c...%c value of key '%s'", close == '}' ? '{' : '[',
                         close, o + kv->key);
                return 0;
            }
            s++;
        } else {
            while (*s && !is_space((unsigned char)*s)) o[w++] = *s++;
        }
        o[w++] = '\0';
        p->nkv++;
    }
}

static const char *kv_find(const vls_xyz *p, const char *key, int fold) {
    for (size_t i = p->nkv; i-- > 0;) { /* the last occurrence wins */
        const char *k = p->kv_buf + p->kv[i].key;
        if (fold ? ieq(k, key) : strcmp(k, key) == 0) return p->kv_buf + p->kv[i].val;
    }
    return NULL;
}

/*-*************************************
 *  Properties
 ***************************************/
static int add_column(vls_xyz *p, enum col_kind kind, char type, int width, const char *name) {
    if (grow((void **)&p->cols, &p->cols_alloc, p->ncols + 1, sizeof *p->cols))
        return perr(p, VLS_E_NOMEM, "out of memory");
    column *c = &p->cols[p->ncols++];
    c->kind = kind;
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

/* Sets p->cols from a Properties value (or the plain-XYZ default when props is NULL). */
static int parse_properties(vls_xyz *p, const char *props) {
    p->ncols = 0;
    p->total_width = 0;
    p->have_properties = props != NULL;
    if (!props) {
        int rc = add_column(p, COL_SPECIES, 'S', 1, "species");
        if (!rc) rc = add_column(p, COL_POS, 'R', 3, "pos");
        describe_columns(p);
        return rc;
    }
    char buf[1024];
    if (strlen(props) >= sizeof buf)
        return perr(p, VLS_E_CORRUPT, "Properties value is longer than %zu bytes", sizeof buf - 1);
    memcpy(buf, props, strlen(props) + 1);
    int seen[7] = {0};
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
        enum col_kind kind = COL_SKIP;
        char want_type = 0;
        int want_width = 0;
        if (strcmp(name, "species") == 0) {
            kind = COL_SPECIES, want_type = 'S', want_width = 1;
        } else if (strcmp(name, "pos") == 0 || strcmp(name, "positions") == 0) {
            kind = COL_POS, want_type = 'R', want_width = 3;
        } else if (p->forces_key ? strcmp(name, p->forces_key) == 0
                                 : (strcmp(name, "forces") == 0 || strcmp(name, "force") == 0)) {
            kind = COL_FORCES, want_type = 'R', want_width = 3;
        } else if (strcmp(name, "Z") == 0) {
            kind = COL_Z, want_type = 'I', want_width = 1;
        } else if (strcmp(name, "masses") == 0 || strcmp(name, "mass") == 0) {
            kind = COL_MASSES, want_type = 'R', want_width = 1;
        } else if (strcmp(name, "charges") == 0 || strcmp(name, "charge") == 0 ||
                   strcmp(name, "initial_charges") == 0) {
            kind = COL_CHARGES, want_type = 'R', want_width = 1;
        }
        if (kind != COL_SKIP) {
            if (type[0] != want_type || width != want_width)
                return perr(p, VLS_E_CORRUPT, "Properties: column '%s' must be %c:%d, got %s:%lld",
                            name, want_type, want_width, type, width);
            if (seen[kind]++)
                return perr(p, VLS_E_CORRUPT, "Properties: column '%s' given twice", name);
        }
        if (p->total_width + width > MAX_COLUMNS)
            return perr(p, VLS_E_CORRUPT, "Properties: more than %d columns", MAX_COLUMNS);
        int rc = add_column(p, kind, type[0], (int)width, name);
        if (rc) return rc;
    }
    if (!seen[COL_POS])
        return perr(p, VLS_E_CORRUPT, "Properties: no 'pos:R:3' column in '%s'", props);
    if (!seen[COL_SPECIES] && !seen[COL_Z])
        return perr(p, VLS_E_CORRUPT, "Properties: neither 'species:S:1' nor 'Z:I:1' in '%s'",
                    props);
    describe_columns(p);
    return VLS_OK;
syntax:
    return perr(p, VLS_E_CORRUPT, "Properties: expected name:type:count triples, got '%s'",
                props);
}

/*-*************************************
 *  Frames
 ***************************************/
static int ensure_atoms(vls_xyz *p, size_t n, int forces, int charges) {
    if (n <= p->cap && (!forces || p->forces) && (!charges || p->charges)) return VLS_OK;
    size_t cap = p->cap ? p->cap : 64;
    while (cap < n) cap *= 2;
    /* Each array is grown to `cap` atoms; a failure leaves the old ones valid. */
    void *q;
    if (cap > p->cap || !p->types) {
        if (!(q = realloc(p->types, cap * sizeof(int32_t)))) goto nomem;
        p->types = q;
        if (!(q = realloc(p->masses, cap * sizeof(float)))) goto nomem;
        p->masses = q;
        if (!(q = realloc(p->positions, cap * 3 * sizeof(float)))) goto nomem;
        p->positions = q;
        if (p->forces) {
            if (!(q = realloc(p->forces, cap * 3 * sizeof(float)))) goto nomem;
            p->forces = q;
        }
        if (p->charges) {
            if (!(q = realloc(p->charges, cap * sizeof(float)))) goto nomem;
            p->charges = q;
        }
        p->cap = cap;
    }
    if (forces && !p->forces) {
        if (!(p->forces = malloc(p->cap * 3 * sizeof(float)))) goto nomem;
    }
    if (charges && !p->charges) {
        if (!(p->charges = malloc(p->cap * sizeof(float)))) goto nomem;
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

/* Reads the comment line's properties into the frame. */
static int read_comment(vls_xyz *p, vls_frame *out) {
    char msg[200];
    int has_eq = strchr(p->comment, '=') != NULL;
    int ok = 1;
    p->nkv = 0;
    if (has_eq) {
        ok = parse_kv(p, msg, sizeof msg);
        if (ok < 0) return perr(p, VLS_E_NOMEM, "out of memory");
        if (!ok) {
            /* Free text that happens to contain '=': fine, unless it claims to be extended. */
            if (strstr(p->comment, "Properties=") || strstr(p->comment, "Lattice="))
                return perr(p, VLS_E_CORRUPT, "comment line: %s", msg);
            p->nkv = 0;
        }
    }

    int rc = parse_properties(p, kv_find(p, "Properties", 1));
    if (rc) return rc;

    const char *v;
    char tmp[1024];
    double d[9];
    if ((v = kv_find(p, "Lattice", 1))) {
        snprintf(tmp, sizeof tmp, "%s", v);
        if (parse_reals(tmp, d, 9) != 9)
            return perr(p, VLS_E_CORRUPT, "Lattice: expected 9 numbers, got '%s'", v);
        for (int i = 0; i < 9; i++) p->cell[i] = (float)d[i];
        out->cell = p->cell;
        p->pbc[0] = p->pbc[1] = p->pbc[2] = 1; /* extended-XYZ default with a lattice */
        out->pbc = p->pbc;
    }
    if ((v = kv_find(p, "pbc", 1))) {
        snprintf(tmp, sizeof tmp, "%s", v);
        char *s = tmp;
        int n = 0;
        for (;;) {
            while (*s && (is_space((unsigned char)*s) || *s == ',')) s++;
            if (!*s) break;
            char *t = s;
            while (*s && !is_space((unsigned char)*s) && *s != ',') s++;
            if (*s) *s++ = '\0';
            if (n >= 3 || !parse_bool(t, &p->pbc[n]))
                return perr(p, VLS_E_CORRUPT, "pbc: expected 3 of T/F, got '%s'", v);
            n++;
        }
        if (n != 3) return perr(p, VLS_E_CORRUPT, "pbc: expected 3 of T/F, got '%s'", v);
        out->pbc = p->pbc;
    }
    const char *ekey = p->energy_key ? p->energy_key : "energy";
    if ((v = kv_find(p, ekey, p->energy_key == NULL))) {
        if (!parse_double(v, &out->energy))
            return perr(p, VLS_E_CORRUPT, "%s: expected a number, got '%s'", ekey,
                        excerpt(v, tmp, 60));
        out->has_energy = 1;
    }
    if ((v = kv_find(p, "stress", 1))) {
        snprintf(tmp, sizeof tmp, "%s", v);
        int n = parse_reals(tmp, d, 9);
        if (n == 6) { /* Voigt order xx yy zz yz xz xy */
            double s9[9] = {d[0], d[5], d[4], d[5], d[1], d[3], d[4], d[3], d[2]};
            memcpy(d, s9, sizeof s9);
        } else if (n != 9) {
            return perr(p, VLS_E_CORRUPT, "stress: expected 9 (or 6 Voigt) numbers, got '%s'",
                        excerpt(v, tmp, 60));
        }
        for (int i = 0; i < 9; i++) p->stress[i] = (float)d[i];
        out->stress = p->stress;
    }
    const char *nm = kv_find(p, "name", 1);
    char def[48];
    if (!nm) {
        snprintf(def, sizeof def, "frame_%ld", p->frame_index);
        nm = def;
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

/* Reads the tokens of atom i. has_z: types come from the Z column; has_masses: masses come from
 * the masses column (else from the element table). */
static int read_atom(vls_xyz *p, size_t i, int has_z, int has_masses) {
    int t = 0;
    for (size_t c = 0; c < p->ncols; c++) {
        const column *col = &p->cols[c];
        const char *tk = p->tok[t];
        double v[3];
        switch (col->kind) {
        case COL_SKIP:
            break;
        case COL_SPECIES:
            if (!has_z) {
                int z = species_z(p, tk);
                if (z < 0)
                    return perr(p, VLS_E_CORRUPT, "column %d (species): unknown element '%s'",
                                t + 1, tk);
                p->types[i] = z;
                if (!has_masses) p->masses[i] = (float)vls_element_mass(z);
            }
            break;
        case COL_Z: {
            long long z;
            if (!parse_long(tk, &z) || z < INT32_MIN || z > INT32_MAX)
                return perr(p, VLS_E_CORRUPT, "column %d (Z): expected an integer, got '%s'",
                            t + 1, tk);
            p->types[i] = (int32_t)z;
            if (!has_masses) p->masses[i] = (float)vls_element_mass((int)z);
            break;
        }
        case COL_POS:
        case COL_FORCES:
            for (int k = 0; k < 3; k++)
                if (!parse_double(p->tok[t + k], &v[k]))
                    return perr(p, VLS_E_CORRUPT, "column %d (%s): expected a number, got '%s'",
                                t + k + 1, col->name, p->tok[t + k]);
            for (int k = 0; k < 3; k++)
                (col->kind == COL_POS ? p->positions : p->forces)[3 * i + (size_t)k] = (float)v[k];
            break;
        case COL_MASSES:
        case COL_CHARGES:
            if (!parse_double(tk, &v[0]))
                return perr(p, VLS_E_CORRUPT, "column %d (%s): expected a number, got '%s'",
                            t + 1, col->name, tk);
            (col->kind == COL_MASSES ? p->masses : p->charges)[i] = (float)v[0];
            break;
        }
        t += col->width;
    }
    return VLS_OK;
}

static int column_present(const vls_xyz *p, enum col_kind kind) {
    for (size_t c = 0; c < p->ncols; c++)
        if (p->cols[c].kind == kind) return 1;
    return 0;
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
    if (errno == ERANGE || count > INT32_MAX || (uint64_t)count * 3u * 4u > VLS_FRAME_MAX_SIZE)
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

    const int want_forces = column_present(p, COL_FORCES);
    const int want_charges = column_present(p, COL_CHARGES);
    const int has_masses = column_present(p, COL_MASSES);
    const int has_z = column_present(p, COL_Z);
    if (grow((void **)&p->tok, &p->tok_cap, (size_t)p->total_width + 2, sizeof *p->tok))
        return perr(p, VLS_E_NOMEM, "out of memory");
    if ((rc = ensure_atoms(p, 1, want_forces, want_charges))) return rc;

    for (long long i = 0; i < count; i++) {
        rc = read_line(p);
        if (rc < 0) return rc;
        if (rc == 0)
            return perr(p, VLS_E_CORRUPT,
                        "expected atom line %lld of %lld (frame starting at line %ld), got the "
                        "end of the file",
                        i + 1, count, count_line);
        if ((rc = ensure_atoms(p, (size_t)i + 1, want_forces, want_charges))) return rc;
        int ntok = tokenize(p, p->total_width);
        if (ntok < p->total_width || (p->have_properties && ntok > p->total_width))
            return perr(p, VLS_E_CORRUPT, "expected %d columns (%s), got %s%d", p->total_width,
                        p->coldesc, ntok > p->total_width ? "more than " : "",
                        ntok > p->total_width ? p->total_width : ntok);
        if ((rc = read_atom(p, (size_t)i, has_z, has_masses))) return rc;
    }

    out->nsites = (int32_t)count;
    out->ncodim = 3;
    out->types = p->types;
    out->masses = p->masses;
    out->positions = p->positions;
    out->forces = want_forces ? p->forces : NULL;
    out->charges = want_charges ? p->charges : NULL;
    p->frame_index++;
    return 1;
}
