/* cmd_frames.c — import-xyz (trajectories into frame records) and show (print a frame). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "cli.h"
#include "progress.h"
#include "vlstore_frame.h"

/* Key prefixes unique per input path: each path relative to the longest directory prefix the
 * paths share, without its extension ("run1/traj.xyz", "run2/traj.xyz" -> "run1/traj",
 * "run2/traj"; one file "data/water.xyz" -> "water"). */
static size_t common_dir_len(char **paths, int n)
{
    size_t len = 0;
    const char *slash = strrchr(paths[0], '/');
    if (slash)
        len = (size_t)(slash - paths[0]) + 1;
    for (int i = 1; i < n; i++) {
        size_t k = 0;
        while (k < len && paths[i][k] == paths[0][k])
            k++;
        while (k > 0 && paths[0][k - 1] != '/')
            k--; /* back to a whole directory */
        len = k;
    }
    return len;
}

static void key_prefix(const char *path, size_t skip, char *out, size_t cap)
{
    const char *rel = path + skip;
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    snprintf(out, cap, "%s", rel);
    char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
    if (dot && dot != out && (!slash || dot > slash + 1))
        *dot = 0;
}

/* What a file could not keep, said once per distinct message with the number of frames. */
typedef struct {
    char what[256];
    long frames, first;
} dropped_note;

static void note_dropped(dropped_note *notes, int *n, const char *what, long frame)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(notes[i].what, what)) {
            notes[i].frames++;
            return;
        }
    if (*n < 8) {
        snprintf(notes[*n].what, sizeof notes[*n].what, "%s", what);
        notes[*n].frames = 1;
        notes[*n].first = frame;
        (*n)++;
    }
}

int cmd_import_xyz(int argc, char **argv)
{
    static const char use[] =
        "usage: vlstore import-xyz STORE FILE... [--energy-key K] [--forces-key K]\n"
        "                          [--stress-key K] [--float32] [--replace] [--commit-every N]\n"
        "                          [--quiet]\n"
        "Reads extended or plain XYZ trajectories; every frame becomes a frame record keyed\n"
        "<path relative to the files' common directory, without extension>/<frame index>.\n"
        "Everything is kept: every Properties column and comment-line key becomes a frame\n"
        "property typed as ASE types it; energy/forces/stress come from --energy-key etc.\n"
        "(default: energy, else REF_energy; forces, else REF_forces; stress, else REF_stress).\n"
        "Numbers are stored as float64 (exactly as written) unless --float32.\n"
        "An existing key is never overwritten unless --replace.\n"
        "On a terminal, a progress line (bytes read of all files) goes to stderr; --quiet\n"
        "turns it off.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    progress_quiet(cli_take_flag(&argc, argv, "--quiet"));
    long every = 0;
    const char *store = NULL, *ekey = NULL, *fkey = NULL, *skey = NULL;
    int float32 = 0, replace = 0;
    char **files = calloc((size_t)argc, sizeof *files);
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_arg = i + 1 < argc;
        if (!strcmp(a, "--commit-every") && has_arg) {
            char *end;
            every = strtol(argv[++i], &end, 10);
            if (*end || every < 1) {
                free(files);
                return cli_usage(use);
            }
        } else if (!strcmp(a, "--energy-key") && has_arg) {
            ekey = argv[++i];
        } else if (!strcmp(a, "--forces-key") && has_arg) {
            fkey = argv[++i];
        } else if (!strcmp(a, "--stress-key") && has_arg) {
            skey = argv[++i];
        } else if (!strcmp(a, "--float32")) {
            float32 = 1;
        } else if (!strcmp(a, "--replace")) {
            replace = 1;
        } else if (a[0] == '-' && a[1] == '-') {
            free(files);
            return cli_usage(use);
        } else if (!store) {
            store = a;
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (!store || nfiles == 0) {
        free(files);
        return cli_usage(use);
    }
    vls_store *s;
    int rc = vls_open(store, VLS_CREATE, NULL, &s);
    if (rc != VLS_OK) {
        free(files);
        return cli_fail("import-xyz", NULL, rc);
    }
    const size_t skip = common_dir_len(files, nfiles);
    void *buf = NULL;
    size_t cap = 0, len;
    long frames = 0;
    unsigned long long atoms = 0;
    double t0 = cli_now();
    int status = EXIT_OK;
    /* progress in bytes of input: the files' sizes are known up front, their frames are not */
    uint64_t total_bytes = 0, done_bytes = 0;
    for (int fi = 0; fi < nfiles; fi++) {
        struct stat st;
        if (stat(files[fi], &st) == 0 && S_ISREG(st.st_mode))
            total_bytes += (uint64_t)st.st_size;
    }
    progress_start(total_bytes, "bytes");
    for (int fi = 0; fi < nfiles && status == EXIT_OK; fi++) {
        vls_xyz *p;
        FILE *fp = fopen(files[fi], "rb");
        if (!fp) {
            fprintf(stderr, "vlstore import-xyz: cannot open %s: %s\n", files[fi],
                    strerror(errno));
            status = EXIT_FAIL;
            break;
        }
        if ((rc = vls_xyz_open_file(fp, files[fi], &p)) != VLS_OK) {
            fprintf(stderr, "vlstore import-xyz: cannot read %s: %s\n", files[fi],
                    vls_xyz_errmsg(NULL));
            fclose(fp);
            status = EXIT_FAIL;
            break;
        }
        rc = vls_xyz_set_keys(p, ekey, fkey);
        if (rc == VLS_OK)
            rc = vls_xyz_set_stress_key(p, skey);
        if (rc == VLS_OK)
            rc = vls_xyz_set_precision(p, float32 ? 32 : 64);
        char prefix[4096], key[4200];
        key_prefix(files[fi], skip, prefix, sizeof prefix);
        dropped_note notes[8];
        int nnotes = 0;
        vls_frame f;
        long index = 0;
        while (rc == VLS_OK && (rc = vls_xyz_next(p, &f)) == 1) {
            if (*vls_xyz_dropped(p))
                note_dropped(notes, &nnotes, vls_xyz_dropped(p), index);
            rc = vls_frame_encode(&f, buf, cap, &len);
            if (rc == VLS_E_TOOSMALL) {
                void *nb = realloc(buf, len);
                if (!nb) {
                    rc = VLS_E_NOMEM;
                    break;
                }
                buf = nb;
                cap = len;
                rc = vls_frame_encode(&f, buf, cap, &len);
            }
            snprintf(key, sizeof key, "%s/%ld", prefix, index++);
            if (rc == VLS_OK)
                rc = vls_put_str(s, key, buf, len, replace ? 0 : VLS_NOREPLACE);
            if (rc == VLS_E_EXISTS) {
                fprintf(stderr,
                        "vlstore import-xyz: %s: key %s already exists in %s (not "
                        "overwritten; --replace overwrites)\n",
                        files[fi], key, store);
                status = EXIT_FAIL;
                break;
            }
            if (rc == VLS_OK && every > 0 && (frames + 1) % every == 0)
                rc = vls_commit(s);
            if (rc != VLS_OK) {
                cli_fail("import-xyz", s, rc);
                status = EXIT_FAIL;
                break;
            }
            rc = VLS_OK;
            frames++;
            atoms += (unsigned long long)f.nsites;
            if ((frames & 63) == 0) {
                off_t at = ftello(fp); /* the parser reads ahead by its buffer: close enough */
                progress_update(done_bytes + (at > 0 ? (uint64_t)at : 0));
            }
        }
        for (int k = 0; k < nnotes; k++)
            fprintf(stderr, "vlstore import-xyz: %s: not kept in %ld frame(s) from frame %ld: %s\n",
                    files[fi], notes[k].frames, notes[k].first, notes[k].what);
        if (rc < 0 && status == EXIT_OK) {
            fprintf(stderr, "vlstore import-xyz: %s\n", vls_xyz_errmsg(p));
            status = EXIT_FAIL;
        }
        vls_xyz_close(p);
        off_t at = ftello(fp);
        done_bytes += at > 0 ? (uint64_t)at : 0;
        fclose(fp);
        progress_update(done_bytes);
    }
    progress_end();
    free(buf);
    free(files);
    /* frames read before a bad line are still committed: they are whole and correct */
    rc = vls_close(s);
    if (rc != VLS_OK)
        return cli_fail("import-xyz", NULL, rc);
    double dt = cli_now() - t0;
    printf("imported %ld frames (%llu atoms) in %.3f s: %.0f frames/s\n", frames, atoms, dt,
           frames / (dt > 0 ? dt : 1e-9));
    return status;
}

int cmd_show(int argc, char **argv)
{
    static const char use[] = "usage: vlstore show STORE KEY [--json] [--key-format F]\n"
                              "Prints a frame record: name, counts, fields present and the first\n"
                              "rows; --json prints the whole frame with the schema's field names.\n"
                              CLI_KEY_FORMAT_HELP;
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    int json = 0, kf = KEYFMT_TEXT, r;
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if ((r = cli_key_format_arg("show", argc, argv, &i, &kf)) != 0) {
            if (r < 0)
                return cli_usage(use);
        } else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (npos < 2)
            pos[npos++] = argv[i];
        else
            return cli_usage(use);
    }
    if (npos != 2)
        return cli_usage(use);
    unsigned char *key;
    size_t klen;
    if ((r = cli_key_parse("show", kf, pos[1], &key, &klen)) != EXIT_OK)
        return r;
    void *data;
    size_t len;
    r = cli_read_record("show", pos[0], key, klen, &data, &len);
    free(key);
    if (r != EXIT_OK)
        return EXIT_FAIL;
    vls_frame f;
    int rc = vls_frame_view(data, len, &f); /* malloc'd: 16-byte aligned */
    if (rc != VLS_OK) {
        fprintf(stderr, "vlstore show: %s is not a valid frame: %s\n", pos[1], vls_errmsg(NULL));
        vls_free(data);
        return EXIT_FAIL;
    }
    if (json) {
        rc = vls_frame_write_json(stdout, &f, 0);
    } else {
        printf("name      %.*s\n", (int)f.name_len, f.name ? f.name : "");
        printf("nsites    %d\nncodim    %d\n", f.nsites, f.ncodim);
        const int f64 = f.positions64 != NULL;
        printf("fields    types masses positions%s%s%s%s%s%s (%s)\n",
               f.forces || f.forces64 ? " forces" : "", f.has_energy ? " energy" : "",
               f.cell || f.cell64 ? " cell" : "", f.pbc ? " pbc" : "",
               f.charges || f.charges64 ? " charges" : "", f.stress || f.stress64 ? " stress" : "",
               f64 ? "float64" : "float32");
        if (f.has_energy)
            printf("energy    %.10g\n", f.energy);
        if (f.cell || f.cell64) {
            printf("cell     ");
            for (int k = 0; k < 9; k++)
                printf(" %g%s", vls_frame_real(f.cell, f.cell64, (size_t)k),
                       k % 3 == 2 && k < 8 ? " |" : "");
            printf("\n");
        }
        for (int pa = 0; pa < 2; pa++) {
            size_t n = pa ? f.natom_props : f.nprops;
            if (!n)
                continue;
            printf("%s", pa ? "per atom " : "per frame");
            for (size_t i = 0; i < n; i++) {
                vls_prop p;
                if (vls_frame_prop(&f, pa, i, &p) != VLS_OK)
                    break;
                printf(" %.*s:%s", (int)p.name_len, p.name, vls_dtype_name(p.dtype));
                for (int d = pa; d < p.ndim; d++) /* per-atom: the nsites dimension left out */
                    printf("%s%d", d == pa ? "[" : ",", (int)p.shape[d]);
                if (p.ndim > pa)
                    printf("]");
            }
            printf("\n");
        }
        int rows = f.nsites < 5 ? f.nsites : 5;
        const int forces = f.forces || f.forces64;
        printf("first %d atoms: type mass | position%s\n", rows, forces ? " | force" : "");
        for (int a = 0; a < rows && f.ncodim == 3; a++) {
            size_t i = (size_t)a;
            printf("  %3d %9.4f | %10.4f %10.4f %10.4f", f.types[a],
                   vls_frame_real(f.masses, f.masses64, i),
                   vls_frame_real(f.positions, f.positions64, 3 * i),
                   vls_frame_real(f.positions, f.positions64, 3 * i + 1),
                   vls_frame_real(f.positions, f.positions64, 3 * i + 2));
            if (forces)
                printf(" | %10.4f %10.4f %10.4f", vls_frame_real(f.forces, f.forces64, 3 * i),
                       vls_frame_real(f.forces, f.forces64, 3 * i + 1),
                       vls_frame_real(f.forces, f.forces64, 3 * i + 2));
            printf("\n");
        }
    }
    vls_free(data);
    return rc == VLS_OK ? EXIT_OK : EXIT_FAIL;
}
