/*
 * cmd_convert.c — `vlstore convert SRC OUT.vls`: ASE databases and LMDBs of pickled Atoms into
 * frame records. Reading them takes ASE and pickle, so the work is done by the Python module
 * vlstore.convert (python/vlstore/convert.py), which this command runs with Debian's
 * /usr/bin/python3 (or $VLSTORE_PYTHON); the vlstore package must be importable by it
 * (`make python`, or PYTHONPATH).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cmd_convert(int argc, char **argv)
{
    static const char use[] =
        "usage: vlstore convert SRC OUT.vls [--replace] [--float32] [--quiet]\n"
        "Converts an ASE database (.db) or an LMDB of pickled ase.Atoms (fairchem's\n"
        "LmdbDataset layout: a .lmdb file, an LMDB directory, or a directory of *.lmdb shards)\n"
        "into frame records keyed <source stem>/<row id or LMDB key>, keeping every info,\n"
        "arrays and calculator entry. Unreadable entries are listed (the rest are converted;\n"
        "exit status 1). Runs python3 -m vlstore.convert ($VLSTORE_PYTHON, default\n"
        "/usr/bin/python3; the vlstore Python package must be importable: make python).\n"
        "Unpickling runs code chosen by whoever wrote the LMDB: convert only files you trust.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    int npos = 0;
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-' || !argv[i][1])
            npos++;
        else if (strcmp(argv[i], "--replace") && strcmp(argv[i], "--float32") &&
                 strcmp(argv[i], "--quiet"))
            return cli_usage(use);
    if (npos != 2)
        return cli_usage(use);
    static char py[4096];
    const char *env = getenv("VLSTORE_PYTHON");
    snprintf(py, sizeof py, "%s", env && *env ? env : "/usr/bin/python3");
    char **args = calloc((size_t)argc + 4, sizeof *args);
    if (!args)
        return EXIT_FAIL;
    args[0] = py;
    args[1] = "-m";
    args[2] = "vlstore.convert";
    for (int i = 1; i < argc; i++)
        args[2 + i] = argv[i];
    fflush(NULL);
    execv(py, args);
    fprintf(stderr, "vlstore convert: cannot run %s: %s (set VLSTORE_PYTHON)\n", py,
            strerror(errno));
    free(args);
    return EXIT_FAIL;
}
