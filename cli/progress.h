/* progress.h — one progress line on stderr for long commands: done/total, rate, time left.
 *
 *   progress_start(total, "frames");   total 0 when unknown (then no percentage, no ETA)
 *   progress_update(done);             cheap: redraws at most 5 times a second
 *   progress_end();                    clears the line
 *
 * It draws only when stderr is a terminal and progress_quiet(1) was not called (--quiet), so
 * logs and pipes never receive carriage returns. One progress line at a time, one thread.
 * The units are the caller's: "frames", "records", "bytes" (bytes are shown in MB). */
#ifndef VLS_CLI_PROGRESS_H
#define VLS_CLI_PROGRESS_H

#include <stdint.h>

void progress_quiet(int quiet);
void progress_start(uint64_t total, const char *what);
void progress_update(uint64_t done);
void progress_end(void);

/* Shows the progress the library reports (vls_progress_set) for vls_verify, vls_compact*
 * and vls_recover on this line, one phase after another; progress_library(0) stops it.
 * Call progress_end() after the library call. */
void progress_library(int on);

/* For tests: VLSTORE_PROGRESS=1 in the environment draws even when stderr is not a terminal
 * (each redraw then ends with a newline, so a test can count and read the lines). */

#endif
