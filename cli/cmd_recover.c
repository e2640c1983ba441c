/* cmd_recover.c — vlstore recover: salvage the intact records of a damaged store. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "progress.h"

static void print_finding(void *ctx, const char *what)
{
    (void)ctx;
    fprintf(stderr, "skipped: %s\n", what);
}

int cmd_recover(int argc, char **argv)
{
    static const char use[] =
        "usage: vlstore recover STORE OUT [--quiet]\n"
        "Writes every intact record of the (damaged) STORE to a new store OUT, which must not\n"
        "exist. STORE is only read. Its header and commit trailers are not trusted: chunk\n"
        "frames and index segments are found by scanning the file, the newest index segments\n"
        "that verify name the records, and each record is checked against its hash before it\n"
        "is copied. What is skipped is listed on stderr (damaged chunks with their offsets,\n"
        "the keys of lost records, damaged index segments). Records that no surviving index\n"
        "segment names cannot be recovered: their keys are lost with the index.\n"
        "Exit status: 0 everything was salvaged, 1 something was lost (or OUT could not be\n"
        "written), 2 usage error.\n";
    if (cli_wants_help(argc, argv))
        return printf("%s", use), EXIT_OK;
    progress_quiet(cli_take_flag(&argc, argv, "--quiet"));
    if (argc != 3)
        return cli_usage(use);
    vls_recover_stats st;
    progress_library(1);
    int rc = vls_recover(argv[1], argv[2], print_finding, NULL, &st);
    progress_library(0);
    progress_end();
    if (rc != VLS_OK)
        return cli_fail("recover", NULL, rc);
    printf("%s: recovered %llu records (%llu bytes) into %s\n", argv[1],
           (unsigned long long)st.records, (unsigned long long)st.bytes, argv[2]);
    printf("chunks: %llu indexed, %llu damaged; index segments: %llu replayed, %llu lost\n",
           (unsigned long long)st.chunks, (unsigned long long)st.chunks_damaged,
           (unsigned long long)st.segments, (unsigned long long)st.segments_lost);
    if (st.lost == 0) {
        printf("nothing lost\n");
        return EXIT_OK;
    }
    printf("LOST: %llu records with damaged bytes, %llu index segments, %llu chunk frames "
           "(%llu bytes) that no index names\n",
           (unsigned long long)st.records_lost, (unsigned long long)st.segments_lost,
           (unsigned long long)st.unnamed_chunks, (unsigned long long)st.unnamed_bytes);
    return EXIT_FAIL;
}
