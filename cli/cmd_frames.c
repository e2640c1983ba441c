/* cmd_frames.c — import-xyz (trajectories into frame records) and show (print a frame). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vlstore_frame.h"

/* "dir/water.xyz" -> "water" */
static void file_stem(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, cap, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = 0;
}

int cmd_import_xyz(int argc, char **argv)
{
    static const char use[] = "usage: vlstore import-xyz STORE FILE... [--commit-every N]\n"
                              "Reads extended or plain XYZ trajectories; every frame becomes a\n"
                              "FlatBuffers frame record keyed <file stem>/<frame index>.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    long every = 0;
    const char *store = NULL;
    char **files = calloc((size_t)argc, sizeof *files);
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--commit-every") && i + 1 < argc) {
            char *end;
            every = strtol(argv[++i], &end, 10);
            if (*end || every < 1) {
                free(files);
                return cli_usage(use);
            }
        } else if (!store) {
            store = argv[i];
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
    void *buf = NULL;
    size_t cap = 0, len;
    long frames = 0;
    unsigned long long atoms = 0;
    double t0 = cli_now();
    int status = EXIT_OK;
    for (int fi = 0; fi < nfiles && status == EXIT_OK; fi++) {
        vls_xyz *p;
        if ((rc = vls_xyz_open(files[fi], &p)) != VLS_OK) {
            fprintf(stderr, "vlstore import-xyz: cannot open %s: %s\n", files[fi],
                    vls_strerror(rc));
            status = EXIT_FAIL;
            break;
        }
        char stem[256], key[300];
        file_stem(files[fi], stem, sizeof stem);
        vls_frame f;
        long index = 0;
        while ((rc = vls_xyz_next(p, &f)) == 1) {
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
            snprintf(key, sizeof key, "%s/%ld", stem, index++);
            if (rc == VLS_OK)
                rc = vls_put_str(s, key, buf, len, 0);
            if (rc == VLS_OK && every > 0 && (frames + 1) % every == 0)
                rc = vls_commit(s);
            if (rc != VLS_OK) {
                cli_fail("import-xyz", s, rc);
                status = EXIT_FAIL;
                break;
            }
            frames++;
            atoms += (unsigned long long)f.nsites;
        }
        if (rc < 0 && status == EXIT_OK) {
            fprintf(stderr, "vlstore import-xyz: %s\n", vls_xyz_errmsg(p));
            status = EXIT_FAIL;
        }
        vls_xyz_close(p);
    }
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
        printf("fields    types masses positions%s%s%s%s%s%s\n", f.forces ? " forces" : "",
               f.has_energy ? " energy" : "", f.cell ? " cell" : "", f.pbc ? " pbc" : "",
               f.charges ? " charges" : "", f.stress ? " stress" : "");
        if (f.has_energy)
            printf("energy    %.10g\n", f.energy);
        if (f.cell)
            printf("cell      %g %g %g | %g %g %g | %g %g %g\n", f.cell[0], f.cell[1],
                   f.cell[2], f.cell[3], f.cell[4], f.cell[5], f.cell[6], f.cell[7], f.cell[8]);
        int rows = f.nsites < 5 ? f.nsites : 5;
        printf("first %d atoms: type mass | position%s\n", rows, f.forces ? " | force" : "");
        for (int a = 0; a < rows && f.ncodim == 3; a++) {
            printf("  %3d %9.4f | %10.4f %10.4f %10.4f", f.types[a], f.masses[a],
                   f.positions[3 * a], f.positions[3 * a + 1], f.positions[3 * a + 2]);
            if (f.forces)
                printf(" | %10.4f %10.4f %10.4f", f.forces[3 * a], f.forces[3 * a + 1],
                       f.forces[3 * a + 2]);
            printf("\n");
        }
    }
    vls_free(data);
    return rc == VLS_OK ? EXIT_OK : EXIT_FAIL;
}
