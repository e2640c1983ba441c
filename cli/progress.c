/* progress.c — see progress.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"

static struct {
    int quiet, active, forced, started;
    uint64_t total, done;
    const char *what;
    double t0, last;
    int width; /* characters of the last line drawn, to clear it */
} pg;

void progress_quiet(int quiet)
{
    pg.quiet = quiet;
}

static void human_time(double s, char *out, size_t cap)
{
    if (s < 0 || s > 1e7)
        snprintf(out, cap, "?");
    else if (s < 60)
        snprintf(out, cap, "%.0fs", s);
    else if (s < 3600)
        snprintf(out, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(out, cap, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

static void draw(int final)
{
    double now = cli_now(), secs = now - pg.t0;
    double rate = secs > 0 ? (double)pg.done / secs : 0;
    int bytes = !strcmp(pg.what, "bytes");
    double scale = bytes ? 1e-6 : 1;
    const char *unit = bytes ? "MB" : pg.what;
    char line[200], left[32];
    int n;
    if (pg.total) {
        human_time(rate > 0 ? (double)(pg.total - (pg.done < pg.total ? pg.done : pg.total)) / rate
                            : -1, left, sizeof left);
        n = snprintf(line, sizeof line, "%.*f/%.*f %s (%.1f%%), %.*f %s/s, %s left",
                     bytes, (double)pg.done * scale, bytes, (double)pg.total * scale, unit,
                     100.0 * (double)pg.done / (double)pg.total, bytes ? 1 : 0, rate * scale,
                     unit, final ? "0s" : left);
    } else {
        n = snprintf(line, sizeof line, "%.*f %s, %.*f %s/s", bytes, (double)pg.done * scale,
                     unit, bytes ? 1 : 0, rate * scale, unit);
    }
    if (n < 0)
        return;
    if (pg.forced) {
        fprintf(stderr, "progress: %s\n", line);
    } else {
        fprintf(stderr, "\r%s%*s", line, pg.width > n ? pg.width - n : 0, "");
        pg.width = n;
    }
    fflush(stderr);
    pg.last = now;
}

void progress_start(uint64_t total, const char *what)
{
    const char *env = getenv("VLSTORE_PROGRESS");
    pg.forced = env && !strcmp(env, "1");
    pg.active = !pg.quiet && (pg.forced || isatty(STDERR_FILENO));
    pg.total = total;
    pg.done = 0;
    pg.what = what ? what : "items";
    pg.t0 = pg.last = cli_now();
    pg.width = 0;
    pg.started = 1;
}

void progress_update(uint64_t done)
{
    pg.done = done;
    if (!pg.active)
        return;
    if (cli_now() - pg.last >= 0.2)
        draw(0);
}

static void follow(void *ctx, const char *what, uint64_t done, uint64_t total)
{
    (void)ctx;
    if (!pg.started || strcmp(what, pg.what) != 0) { /* a new phase: a new line */
        progress_end();
        progress_start(total, what);
    }
    progress_update(done);
}

void progress_library(int on)
{
    vls_progress_set(on ? follow : NULL, NULL);
}

void progress_end(void)
{
    pg.started = 0;
    if (!pg.active)
        return;
    if (pg.forced) {
        draw(1);
    } else {
        fprintf(stderr, "\r%*s\r", pg.width, "");
        fflush(stderr);
    }
    pg.active = 0;
}
