/* cmd_stats.c — `vlstore stats`: what a dataset of frame records holds, as people check it
 * before training: frames, atoms, elements, the natoms histogram, energy and energy per atom,
 * force components, and the least-squares reference energy of each element (the "E0s").
 *
 * One pass over the records, in storage order. Memory: the normal equations of the E0 fit
 * (k x k for k elements present) and two numbers per frame for the histograms. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "cli.h"
#include "progress.h"
#include "vlstore_frame.h"

#define NTYPES (VLS_ELEMENT_MAX + 1) /* types outside 0..118 are counted apart */
#define HIST_BINS 20

typedef struct { /* running mean and variance (Welford) */
    uint64_t n;
    double mean, m2;
} running;

static void running_add(running *r, double x)
{
    r->n++;
    double d = x - r->mean;
    r->mean += d / (double)r->n;
    r->m2 += d * (x - r->mean);
}

static double running_std(const running *r)
{
    return r->n > 1 ? sqrt(r->m2 / (double)(r->n - 1)) : (r->n ? 0.0 : NAN);
}

typedef struct {
    uint64_t records, frames, not_frames, atoms, other_types;
    uint64_t count[NTYPES]; /* atoms per element */
    int32_t nmin, nmax;
    running energy, epa;    /* energy, and energy per atom, over frames that have one */
    uint64_t force_frames, force_components;
    double force_sq, force_max;
    /* the E0 fit: A^T A and A^T E over frames with an energy, A[f][z] = atoms of z in f */
    double *ata, *ate;      /* NTYPES x NTYPES, NTYPES */
    /* per frame, for the histograms */
    int32_t *natoms;
    double *epa_values;
    uint64_t cap;
} stats;

/* Solves the k x k symmetric positive (semi)definite system m x = b in place by Cholesky.
 * Returns 0, or -1 when m is singular to working precision. */
static int cholesky_solve(double *m, double *b, double *x, int k)
{
    double maxdiag = 0;
    for (int i = 0; i < k; i++)
        maxdiag = fmax(maxdiag, m[i * k + i]);
    for (int j = 0; j < k; j++) {
        double d = m[j * k + j];
        for (int p = 0; p < j; p++)
            d -= m[j * k + p] * m[j * k + p];
        if (!(d > 1e-10 * maxdiag))
            return -1;
        d = sqrt(d);
        m[j * k + j] = d;
        for (int i = j + 1; i < k; i++) {
            double s = m[i * k + j];
            for (int p = 0; p < j; p++)
                s -= m[i * k + p] * m[j * k + p];
            m[i * k + j] = s / d;
        }
    }
    for (int i = 0; i < k; i++) { /* L y = b */
        double s = b[i];
        for (int p = 0; p < i; p++)
            s -= m[i * k + p] * x[p];
        x[i] = s / m[i * k + i];
    }
    for (int i = k - 1; i >= 0; i--) { /* L^T x = y */
        double s = x[i];
        for (int p = i + 1; p < k; p++)
            s -= m[p * k + i] * x[p];
        x[i] = s / m[i * k + i];
    }
    return 0;
}

/* The E0s: elements[0..k) are the types present in frames with an energy, e0[i] theirs.
 * When the compositions are linearly dependent (every frame with the same stoichiometry, say)
 * the least-squares problem has no unique answer; a small ridge then gives the
 * minimum-norm one, and *underdetermined is set. Returns k, or -1 out of memory. */
static int fit_e0s(const stats *st, int *elements, double *e0, int *underdetermined)
{
    int k = 0;
    for (int z = 0; z < NTYPES; z++)
        if (st->ata[z * NTYPES + z] > 0)
            elements[k++] = z;
    *underdetermined = 0;
    if (k == 0)
        return 0;
    double *m = malloc(sizeof *m * (size_t)k * (size_t)k), *b = malloc(sizeof *b * (size_t)k);
    if (!m || !b) {
        free(m);
        free(b);
        return -1;
    }
    double maxdiag = 0;
    for (int i = 0; i < k; i++) {
        maxdiag = fmax(maxdiag, st->ata[elements[i] * NTYPES + elements[i]]);
        e0[i] = NAN;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        double ridge = attempt ? 1e-8 * maxdiag : 0;
        for (int i = 0; i < k; i++) {
            b[i] = st->ate[elements[i]];
            for (int j = 0; j < k; j++)
                m[i * k + j] = st->ata[elements[i] * NTYPES + elements[j]] + (i == j ? ridge : 0);
        }
        if (cholesky_solve(m, b, e0, k) == 0)
            break;
        *underdetermined = 1;
    }
    free(m);
    free(b);
    return k;
}

static int add_frame(stats *st, const vls_frame *f)
{
    if (st->frames == st->cap) {
        uint64_t cap = st->cap ? st->cap * 2 : 1024;
        int32_t *n = realloc(st->natoms, cap * sizeof *n);
        if (n)
            st->natoms = n;
        double *e = realloc(st->epa_values, cap * sizeof *e);
        if (e)
            st->epa_values = e;
        if (!n || !e)
            return -1;
        st->cap = cap;
    }
    int32_t n = f->nsites;
    st->natoms[st->frames] = n;
    st->epa_values[st->frames] = NAN;
    st->frames++;
    st->atoms += (uint64_t)n;
    st->nmin = st->frames == 1 || n < st->nmin ? n : st->nmin;
    st->nmax = st->frames == 1 || n > st->nmax ? n : st->nmax;
    uint32_t local[NTYPES] = {0};
    for (int32_t a = 0; a < n; a++) {
        int32_t z = f->types[a];
        if (z >= 0 && z < NTYPES)
            local[z]++;
        else
            st->other_types++;
    }
    for (int z = 0; z < NTYPES; z++)
        st->count[z] += local[z];
    if (f->has_energy && isfinite(f->energy)) {
        running_add(&st->energy, f->energy);
        if (n > 0) {
            double epa = f->energy / n;
            running_add(&st->epa, epa);
            st->epa_values[st->frames - 1] = epa;
        }
        for (int i = 0; i < NTYPES; i++) {
            if (!local[i])
                continue;
            st->ate[i] += local[i] * f->energy;
            for (int j = 0; j < NTYPES; j++)
                if (local[j])
                    st->ata[i * NTYPES + j] += (double)local[i] * local[j];
        }
    }
    if (f->forces || f->forces64) {
        st->force_frames++;
        size_t nc = (size_t)n * (size_t)f->ncodim;
        for (size_t i = 0; i < nc; i++) {
            double c = vls_frame_real(f->forces, f->forces64, i); /* either precision */
            st->force_sq += c * c;
            st->force_max = fmax(st->force_max, fabs(c));
        }
        st->force_components += nc;
    }
    return 0;
}

typedef struct {
    double lo, width;
    uint64_t count[HIST_BINS];
    int bins;
} histogram;

/* Equal-width bins over [lo, hi]; integer data (natoms) gets one bin per value when few. */
static void hist_build(histogram *h, const double *v, uint64_t n, int integer)
{
    double lo = INFINITY, hi = -INFINITY;
    for (uint64_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            lo = fmin(lo, v[i]), hi = fmax(hi, v[i]);
    memset(h, 0, sizeof *h);
    if (!(lo <= hi))
        return;
    h->bins = HIST_BINS;
    if (integer && hi - lo + 1 <= HIST_BINS) {
        h->bins = (int)(hi - lo + 1);
        h->lo = lo - 0.5;
        h->width = 1;
    } else {
        h->lo = lo;
        h->width = hi > lo ? (hi - lo) / HIST_BINS : 1;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        int b = (int)((v[i] - h->lo) / h->width);
        h->count[b < 0 ? 0 : b >= h->bins ? h->bins - 1 : b]++;
    }
}

static void json_hist(const histogram *h)
{
    printf("[");
    for (int b = 0; b < h->bins; b++) {
        printf("%s{\"lo\": ", b ? ", " : "");
        cli_json_number(stdout, h->lo + b * h->width);
        printf(", \"hi\": ");
        cli_json_number(stdout, h->lo + (b + 1) * h->width);
        printf(", \"count\": %llu}", (unsigned long long)h->count[b]);
    }
    printf("]");
}

static void text_hist(const histogram *h, int integer)
{
    uint64_t top = 1;
    for (int b = 0; b < h->bins; b++)
        top = h->count[b] > top ? h->count[b] : top;
    for (int b = 0; b < h->bins; b++) {
        if (integer && h->width == 1)
            printf("  %10.0f          ", h->lo + b + 0.5);
        else
            printf("  [%10.5g, %10.5g) ", h->lo + b * h->width, h->lo + (b + 1) * h->width);
        int bar = (int)(40 * h->count[b] / top);
        printf("%8llu %.*s\n", (unsigned long long)h->count[b], bar,
               "########################################");
    }
}

/* The two histograms as a PNG, through gnuplot (a pipe; data inline). */
static int plot(const char *png, const histogram *hn, const histogram *he, const char *title)
{
    FILE *g = popen("gnuplot", "w");
    if (!g) {
        fprintf(stderr, "vlstore stats: cannot run gnuplot: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    fprintf(g, "set terminal pngcairo size 1200,500 noenhanced\n");
    fprintf(g, "set output '");
    for (const char *c = png; *c; c++) /* a gnuplot single-quoted string doubles quotes */
        fprintf(g, *c == '\'' ? "''" : "%c", *c);
    fprintf(g, "'\nset multiplot layout 1,2 title '");
    for (const char *c = title; *c; c++)
        fprintf(g, *c == '\'' ? "''" : "%c", *c);
    fprintf(g, "'\nset style fill solid 0.6\nset boxwidth 0.9 relative\nset ylabel 'frames'\n");
    const histogram *hs[2] = {hn, he};
    const char *labels[2] = {"atoms per frame", "energy per atom"};
    for (int p = 0; p < 2; p++) {
        fprintf(g, "set title '%s'\nset xlabel '%s'\n", labels[p], labels[p]);
        if (hs[p]->bins == 0) {
            fprintf(g, "set label 1 'no data' at graph 0.5,0.5 center\nplot [0:1] [0:1] NaN "
                       "notitle\nunset label 1\n");
            continue;
        }
        fprintf(g, "plot '-' using 1:2 with boxes notitle\n");
        for (int b = 0; b < hs[p]->bins; b++)
            fprintf(g, "%.17g %llu\n", hs[p]->lo + (b + 0.5) * hs[p]->width,
                    (unsigned long long)hs[p]->count[b]);
        fprintf(g, "e\n");
    }
    fprintf(g, "unset multiplot\n");
    int status = pclose(g);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "vlstore stats: gnuplot failed (is gnuplot installed? "
                "apt-get install gnuplot-nox)\n");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_stats(int argc, char **argv)
{
    static const char use[] =
        "usage: vlstore stats STORE [--json] [--plot FILE.png] [--quiet]\n"
        "Statistics of the frame records: frames, atoms, elements with counts, natoms\n"
        "histogram, energy and energy per atom (mean, std), force components (RMS, max |F|),\n"
        "and the least-squares reference energy per element (E0s: E_frame ~ sum n_Z E0_Z over\n"
        "frames with an energy). Records that are not frames are counted and skipped.\n"
        "--plot draws the natoms and energy-per-atom histograms with gnuplot.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    const char *path = NULL, *png = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--quiet"))
            progress_quiet(1);
        else if (!strcmp(argv[i], "--plot") && i + 1 < argc)
            png = argv[++i];
        else if (!path && strncmp(argv[i], "--", 2))
            path = argv[i];
        else
            return cli_usage(use);
    }
    if (!path)
        return cli_usage(use);
    vls_store *s;
    if (cli_open("stats", path, VLS_RDONLY, &s) != EXIT_OK)
        return EXIT_FAIL;
    stats st = {0};
    st.ata = calloc((size_t)NTYPES * NTYPES, sizeof *st.ata);
    st.ate = calloc(NTYPES, sizeof *st.ate);
    int status = st.ata && st.ate ? EXIT_OK : EXIT_FAIL;
    void *buf = NULL;
    size_t cap = 0;
    uint64_t pos = 0, len;
    const void *key;
    size_t klen;
    progress_start(vls_count(s), "records");
    while (status == EXIT_OK && vls_iter_next(s, &pos, &key, &klen, &len) == 1) {
        uint64_t got;
        if (len > cap) {
            void *nb = realloc(buf, (size_t)len);
            if (!nb) {
                status = EXIT_FAIL;
                break;
            }
            buf = nb;
            cap = (size_t)len;
        }
        int rc = vls_get(s, key, klen, buf, cap, &got);
        if (rc != VLS_OK) {
            status = cli_fail("stats", s, rc);
            break;
        }
        st.records++;
        vls_frame f;
        if (vls_frame_view(buf, (size_t)got, &f) != VLS_OK || f.ncodim < 1) {
            st.not_frames++;
        } else if (add_frame(&st, &f) != 0) {
            status = EXIT_FAIL;
        }
        progress_update(st.records);
    }
    progress_end();
    free(buf);
    vls_close(s);
    int elements[NTYPES], underdetermined = 0, k = 0;
    double e0[NTYPES];
    if (status == EXIT_OK && (k = fit_e0s(&st, elements, e0, &underdetermined)) < 0)
        status = EXIT_FAIL;
    if (status != EXIT_OK) {
        if (!st.ata || k < 0)
            fprintf(stderr, "vlstore stats: out of memory\n");
        goto out;
    }
    /* RMS of the fit's residual per atom, from the sums already kept: no second pass */
    double rss = 0;
    uint64_t fitted = st.energy.n;
    {
        /* |E - A x|^2 = E.E - 2 x.A^T E + x.A^T A x, with E.E from the running moments */
        double ee = st.energy.m2 + (double)st.energy.n * st.energy.mean * st.energy.mean;
        double xate = 0, xatax = 0;
        for (int i = 0; i < k; i++) {
            xate += e0[i] * st.ate[elements[i]];
            for (int j = 0; j < k; j++)
                xatax += e0[i] * e0[j] * st.ata[elements[i] * NTYPES + elements[j]];
        }
        rss = fmax(0, ee - 2 * xate + xatax);
    }
    double mean_atoms = st.frames ? (double)st.atoms / (double)st.frames : NAN;
    double fit_rms = fitted && mean_atoms > 0 ? sqrt(rss / (double)fitted) / mean_atoms : NAN;
    double force_rms = st.force_components ? sqrt(st.force_sq / (double)st.force_components)
                                           : NAN;
    double *nat = calloc(st.frames ? st.frames : 1, sizeof *nat);
    if (!nat) {
        status = EXIT_FAIL;
        goto out;
    }
    for (uint64_t i = 0; i < st.frames; i++)
        nat[i] = st.natoms[i];
    histogram hn, he;
    hist_build(&hn, nat, st.frames, 1);
    hist_build(&he, st.epa_values, st.frames, 0);
    free(nat);

    if (json) {
        printf("{\"records\": %llu, \"frames\": %llu, \"not_frames\": %llu, \"atoms\": %llu, ",
               (unsigned long long)st.records, (unsigned long long)st.frames,
               (unsigned long long)st.not_frames, (unsigned long long)st.atoms);
        printf("\"natoms\": {\"min\": %d, \"max\": %d, \"mean\": ", st.frames ? st.nmin : 0,
               st.frames ? st.nmax : 0);
        cli_json_number(stdout, mean_atoms);
        printf(", \"histogram\": ");
        json_hist(&hn);
        printf("}, \"elements\": {");
        for (int z = 0, first = 1; z < NTYPES; z++)
            if (st.count[z]) {
                printf("%s\"%s\": %llu", first ? "" : ", ", vls_element_symbol(z),
                       (unsigned long long)st.count[z]);
                first = 0;
            }
        printf("}, \"other_types\": %llu, ", (unsigned long long)st.other_types);
        printf("\"energy\": {\"frames\": %llu, \"mean\": ", (unsigned long long)st.energy.n);
        cli_json_number(stdout, st.energy.n ? st.energy.mean : NAN);
        printf(", \"std\": ");
        cli_json_number(stdout, running_std(&st.energy));
        printf("}, \"energy_per_atom\": {\"frames\": %llu, \"mean\": ",
               (unsigned long long)st.epa.n);
        cli_json_number(stdout, st.epa.n ? st.epa.mean : NAN);
        printf(", \"std\": ");
        cli_json_number(stdout, running_std(&st.epa));
        printf(", \"histogram\": ");
        json_hist(&he);
        printf("}, \"forces\": {\"frames\": %llu, \"components\": %llu, \"rms\": ",
               (unsigned long long)st.force_frames, (unsigned long long)st.force_components);
        cli_json_number(stdout, force_rms);
        printf(", \"max_abs\": ");
        cli_json_number(stdout, st.force_components ? st.force_max : NAN);
        printf("}, \"e0s\": {");
        for (int i = 0; i < k; i++) {
            printf("%s\"%s\": ", i ? ", " : "", vls_element_symbol(elements[i]));
            cli_json_number(stdout, e0[i]);
        }
        printf("}, \"e0s_underdetermined\": %s, \"e0s_rms_residual_per_atom\": ",
               underdetermined ? "true" : "false");
        cli_json_number(stdout, fit_rms);
        printf("}\n");
    } else {
        printf("records          %llu (%llu frames, %llu not frames)\n",
               (unsigned long long)st.records, (unsigned long long)st.frames,
               (unsigned long long)st.not_frames);
        printf("atoms            %llu (per frame: min %d, mean %.2f, max %d)\n",
               (unsigned long long)st.atoms, st.frames ? st.nmin : 0, st.frames ? mean_atoms : 0,
               st.frames ? st.nmax : 0);
        printf("elements        ");
        for (int z = 0; z < NTYPES; z++)
            if (st.count[z])
                printf(" %s %llu", vls_element_symbol(z), (unsigned long long)st.count[z]);
        if (st.other_types)
            printf(" (other site types: %llu)", (unsigned long long)st.other_types);
        printf("\n");
        if (st.energy.n) {
            printf("energy           mean %.10g, std %.6g (%llu frames)\n", st.energy.mean,
                   running_std(&st.energy), (unsigned long long)st.energy.n);
            printf("energy per atom  mean %.10g, std %.6g\n", st.epa.mean, running_std(&st.epa));
        } else {
            printf("energy           none\n");
        }
        if (st.force_components)
            printf("forces           RMS component %.6g, max |component| %.6g (%llu frames)\n",
                   force_rms, st.force_max, (unsigned long long)st.force_frames);
        else
            printf("forces           none\n");
        if (k) {
            printf("E0s (least squares over %llu frames; RMS residual %.4g per atom)%s\n",
                   (unsigned long long)fitted, fit_rms,
                   underdetermined ? ":\n  NOT UNIQUE: the compositions are linearly dependent "
                                     "(e.g. one stoichiometry); shown is the minimum-norm fit"
                                   : "");
            for (int i = 0; i < k; i++)
                printf("  %-3s %.10g\n", vls_element_symbol(elements[i]), e0[i]);
        }
        if (hn.bins) {
            printf("atoms per frame histogram\n");
            text_hist(&hn, 1);
        }
        if (he.bins) {
            printf("energy per atom histogram\n");
            text_hist(&he, 0);
        }
    }
    if (fflush(stdout) != 0)
        status = EXIT_FAIL;
    if (png && status == EXIT_OK)
        status = plot(png, &hn, &he, path);
out:
    free(st.ata);
    free(st.ate);
    free(st.natoms);
    free(st.epa_values);
    return status;
}
