/* cmd_bench.c — `vlstore bench [ARGS...]`: runs the benchmark program (bench/vls_bench.c, built
 * by `make bench` because it links the peers: LMDB, SQLite, HDF5), passing the arguments on.
 * It looks next to this program (build/bench/vls_bench), then on PATH. Results go where
 * vls_bench puts them: --out DIR, else a new directory under $TMPDIR or /tmp, never the
 * source tree (only `make bench-publish` refreshes the committed results). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char bench_usage[] =
    "usage: vlstore bench [vls_bench options]\n"
    "Runs the benchmark: vlstore against LMDB, SQLite, HDF5 and the raw limits on an MD\n"
    "workload (docs/BENCH.md). `make bench` builds it (and installs what it needs); common\n"
    "options: --size-mib N (512), --quick (64 MiB), --engines a,b,..., --out DIR (default:\n"
    "a new vls_bench-results.XXXXXX under $TMPDIR or /tmp; the path is printed).\n"
    "`vlstore bench --help-bench` shows all of vls_bench's options.\n";

int cmd_bench(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(bench_usage, stdout);
        return EXIT_OK;
    }
    char self[PATH_MAX], path[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args)
        return EXIT_FAIL;
    args[0] = "vls_bench";
    for (int i = 1; i < argc; i++)
        args[i] = !strcmp(argv[i], "--help-bench") ? "--help" : argv[i];
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            snprintf(path, sizeof path, "%s/bench/vls_bench", self);
            if (access(path, X_OK) == 0) {
                execv(path, args);
                fprintf(stderr, "vlstore bench: cannot run %s: %s\n", path, strerror(errno));
                free(args);
                return EXIT_FAIL;
            }
        }
    }
    execvp("vls_bench", args);
    free(args);
    fprintf(stderr, "vlstore bench: the benchmark is not built. Build it with `make bench` (it "
                    "needs liblmdb-dev libsqlite3-dev libhdf5-dev, which make bench installs), "
                    "then run `vlstore bench` again from the build tree.\n");
    return EXIT_FAIL;
}
