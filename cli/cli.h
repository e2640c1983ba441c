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
/* Removes every argv entry equal to flag (argc shrinks); returns how many there were. For
 * flags such as --quiet that may stand anywhere. */
int cli_take_flag(int *argc, char **argv, const char *flag);
/* True if argv[i] is -h/--help. */
int cli_wants_help(int argc, char **argv);
/* Opens an existing store read-only, or fails with a message. */
int cli_open(const char *cmd, const char *path, unsigned flags, vls_store **s);
/* Reads the record under `key` (klen bytes) from the store at path (read-only) into a buffer
 * the caller frees with vls_free; on failure prints the message and returns EXIT_FAIL. */
int cli_read_record(const char *cmd, const char *path, const void *key, size_t klen,
                    void **data, size_t *len);

/* ---- keys on the command line (keys.c): --key-format text|hex|u64 ---- */
enum { KEYFMT_TEXT, KEYFMT_HEX, KEYFMT_U64 };
#define CLI_KEY_FORMAT_HELP                                                                   \
    "  --key-format F   how KEY is typed and keys are shown: text (default; control and\n"     \
    "                   non-UTF-8 bytes shown as \\xHH), hex, or u64 (8-byte integer keys,\n" \
    "                   as Python's int keys and vls_put_u64 write them, as numbers)\n"
int cli_key_format_from_name(const char *name); /* -1 if unknown */
/* If argv[*i] is --key-format F (or --key-format=F), sets *fmt, advances *i past the value
 * and returns 1; returns 0 if it is another argument, -1 (message printed) for a bad value. */
int cli_key_format_arg(const char *cmd, int argc, char **argv, int *i, int *fmt);
/* Turns a key typed on the command line into its bytes (malloc'd, caller frees).
 * Returns EXIT_OK, or EXIT_USAGE / EXIT_FAIL with the message printed. */
int cli_key_parse(const char *cmd, int fmt, const char *arg, unsigned char **key, size_t *klen);
/* Shows a key on one line's worth of characters (no newline), in the given format. */
void cli_key_print(FILE *f, int fmt, const void *key, size_t klen);

/* ---- text and JSON output (json.c) ---- */
/* Bytes as text that is safe on a terminal, on one line: valid UTF-8 as is except control
 * characters (C0, DEL, C1), which are written \xHH like bytes that are not UTF-8; '\\' is
 * doubled. */
void cli_print_escaped(FILE *f, const void *data, size_t len);
int cli_is_utf8(const void *data, size_t len);
/* A JSON string of the bytes (callers pass UTF-8; see cli_is_utf8). */
void cli_json_string(FILE *f, const void *data, size_t len);
/* A JSON number with a decimal point whatever the locale; null when not finite. */
void cli_json_number(FILE *f, double v);
double cli_now(void);
struct stat;
/* True when a and b describe the same file (device and inode): another name, a hard link or a
 * symlink of it. The CLI refuses to write a store's bytes over the store or into itself. */
int cli_same_file(const struct stat *a, const struct stat *b);

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
int cmd_meta(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_stats(int argc, char **argv);

#endif
