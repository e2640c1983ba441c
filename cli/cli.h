/* cli.h — the vlstore command: one function per subcommand, shared helpers. */
#ifndef VLS_CLI_H
#define VLS_CLI_H

#include <stdio.h>

#include "vlstore.h"

/* exit codes */
#define EXIT_OK 0
#define EXIT_FAIL 1  /* the operation failed: missing key, corrupt file, I/O error... */
#define EXIT_USAGE 2 /* bad command line */

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

/* Prints "vlstore CMD: <message>" with the store's detail and returns EXIT_FAIL. */
int cli_fail(const char *cmd, vls_store *s, int rc);
int cli_usage(const char *usage);
/* True if argv[i] is -h/--help. */
int cli_wants_help(int argc, char **argv);
/* Opens an existing store read-only, or fails with a message. */
int cli_open(const char *cmd, const char *path, unsigned flags, vls_store **s);
/* Reads the record under a C-string key from the store at path (read-only) into a buffer
 * the caller frees with vls_free; on failure prints the message and returns EXIT_FAIL. */
int cli_read_record(const char *cmd, const char *path, const char *key, void **data,
                    size_t *len);
double cli_now(void);

int cmd_put(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_import_xyz(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_export_xyz(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_epoch(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
