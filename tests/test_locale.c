/* test_locale.c — JSON stays JSON whatever locale the program set: vls_frame_write_json prints
 * numbers with '.' under a comma-decimal LC_NUMERIC (de_DE.UTF-8), in this thread and in
 * another one, leaves the program's locale as it was, and writes NaN and infinities as the
 * strings "NaN" / "Infinity" / "-Infinity". Each output is parsed by Python's strict json
 * (no NaN literal accepted) and compared value by value; `vlstore show --json` and
 * `vlstore info --json` are checked the same way with LC_ALL=de_DE.UTF-8.
 * Needs the de_DE.UTF-8 locale (scripts/deps.sh test generates it): skipped (exit 77) without. */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vlstore_frame.h"

/* Python's json module, made strict: a bare NaN/Infinity (not JSON) raises. Prints each field
 * listed on the command line as repr(), one a line, to compare with what was written. */
static const char checker[] =
    "import json, sys\n"
    "def bad(c): raise ValueError('not JSON: ' + c)\n"
    "d = json.load(open(sys.argv[1]), parse_constant=bad)\n"
    "for k in sys.argv[2:]: print(k, repr(d[k]))\n";

/* Runs the checker on path for the given fields; 0 when the JSON parsed and the printed fields
 * equal `want` exactly. */
static int json_fields_are(const char *path, const char *fields, const char *want)
{
    char script[512], cmd[2048], out[1024] = {0};
    snprintf(script, sizeof script, "%s.py", path);
    FILE *f = fopen(script, "w");
    if (!f)
        return -1;
    fputs(checker, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' %s", script, path, fields);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    remove(script);
    if (rc != 0 || strcmp(out, want) != 0) {
        fprintf(stderr, "%s: fields %s:\n got: %s\nwant: %s\n", path, fields, out, want);
        return 1;
    }
    return 0;
}

static float positions[6] = {0.25f, -1.5f, 2.75f, 10.125f, 0.5f, -0.0625f};
static float masses[2] = {15.999f, 1.008f};
static int32_t types[2] = {8, 1};

static void make_frame(vls_frame *f, double energy)
{
    vls_frame_init(f);
    f->nsites = 2;
    f->types = types;
    f->masses = masses;
    f->positions = positions;
    f->has_energy = 1;
    f->energy = energy;
}

static int write_to(const char *path, double energy)
{
    vls_frame f;
    make_frame(&f, energy);
    FILE *out = fopen(path, "w");
    if (!out)
        return -1;
    int rc = vls_frame_write_json(out, &f, 0);
    return fclose(out) == 0 ? rc : -1;
}

static const char *want_frame =
    "positions [0.25, -1.5, 2.75, 10.125, 0.5, -0.0625]\nenergy -12.5\n";

static void *thread_body(void *arg)
{
    const char *path = arg;
    return (void *)(intptr_t)write_to(path, -12.5);
}

int main(void)
{
    const char *locales[] = {"de_DE.UTF-8", "de_DE.utf8"};
    const char *loc = NULL;
    for (size_t i = 0; i < 2 && !loc; i++)
        if (setlocale(LC_ALL, locales[i]))
            loc = locales[i];
    if (!loc) {
        test_skip("test_locale: no comma-decimal locale (de_DE.UTF-8): scripts/deps.sh test "
                  "generates it");
        return test_done("test_locale");
    }
    char probe[32];
    snprintf(probe, sizeof probe, "%.2f", 1.25);
    CHECK(strcmp(probe, "1,25") == 0); /* the locale is in force: printf would write "1,25" */

    char path[1100];
    snprintf(path, sizeof path, "%s", test_path("locale-frame"));
    CHECK_RC(NULL, write_to(path, -12.5), VLS_OK);
    CHECK(json_fields_are(path, "positions energy", want_frame) == 0);
    /* the program's locale is untouched by the call */
    snprintf(probe, sizeof probe, "%.2f", 1.25);
    CHECK(strcmp(probe, "1,25") == 0);
    CHECK(strcmp(localeconv()->decimal_point, ",") == 0);

    /* another thread, which inherits the process locale */
    pthread_t t;
    void *ret = NULL;
    CHECK(pthread_create(&t, NULL, thread_body, path) == 0);
    CHECK(pthread_join(t, &ret) == 0);
    CHECK((intptr_t)ret == VLS_OK);
    CHECK(json_fields_are(path, "positions energy", want_frame) == 0);

    /* non-finite values: strings, and the document is still strict JSON */
    CHECK_RC(NULL, write_to(path, NAN), VLS_OK);
    CHECK(json_fields_are(path, "energy", "energy 'NaN'\n") == 0);
    CHECK_RC(NULL, write_to(path, INFINITY), VLS_OK);
    CHECK(json_fields_are(path, "energy", "energy 'Infinity'\n") == 0);
    CHECK_RC(NULL, write_to(path, -INFINITY), VLS_OK);
    CHECK(json_fields_are(path, "energy", "energy '-Infinity'\n") == 0);

    /* the CLI under LC_ALL=de_DE.UTF-8: show --json and info --json parse strictly */
    const char *cli = getenv("VLSTORE");
    if (!cli) {
        test_skip("test_locale: VLSTORE (the CLI) not set: run through ctest for the CLI checks");
    } else {
        char store[1024], frame[1100], cmd[8192];
        snprintf(store, sizeof store, "%s", test_path("locale-store"));
        snprintf(frame, sizeof frame, "%s.bin", store);
        vls_frame f;
        make_frame(&f, -12.5);
        void *buf = NULL;
        size_t len = 0;
        CHECK_RC(NULL, vls_frame_encode_alloc(&f, &buf, &len), VLS_OK);
        FILE *w = fopen(frame, "wb");
        CHECK(w && fwrite(buf, 1, len, w) == len && fclose(w) == 0);
        free(buf);
        snprintf(cmd, sizeof cmd,
                 "LC_ALL=%s '%s' put '%s' fr '%s' && LC_ALL=%s '%s' show '%s' fr --json > '%s.json'",
                 loc, cli, store, frame, loc, cli, store, store);
        CHECK(system(cmd) == 0);
        snprintf(path, sizeof path, "%s.json", store);
        CHECK(json_fields_are(path, "positions energy", want_frame) == 0);
        snprintf(cmd, sizeof cmd, "LC_ALL=%s '%s' info '%s' --json > '%s'", loc, cli, store, path);
        CHECK(system(cmd) == 0);
        CHECK(json_fields_are(path, "records", "records 1\n") == 0);
        remove(frame);
        remove(store);
    }
    remove(path);
    return test_done("test_locale");
}
