/* test_faults — write errors and a full disk. For N = 1, 2, ... the Nth I/O call of a
 * put+commit sequence fails (ENOSPC, EIO, a short write; once and persistently) until the
 * sequence completes. Each failure must return an error code, leave the handle refusing
 * further writes (VLS_E_FAILED), and the file must reopen exactly as of its last commit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "testutil.h"

static int check_contents(const char *path, int expect_new)
{
    vls_store *s;
    int ok = vls_open(path, VLS_RDONLY, NULL, &s) == VLS_OK;
    if (!ok)
        return 0;
    unsigned char buf[300000], want[300000];
    size_t len;
    /* the committed base record is always there */
    test_fill(want, 100000, 1, 1);
    ok &= vls_get_str(s, "base", buf, sizeof buf, &len) == VLS_OK && len == 100000 &&
          memcmp(buf, want, len) == 0;
    int rc = vls_get_str(s, "new", buf, sizeof buf, &len);
    if (expect_new >= 0)
        ok &= expect_new ? rc == VLS_OK : rc == VLS_E_NOTFOUND;
    if (rc == VLS_OK) { /* if the new record is visible it is whole */
        test_fill(want, 250000, 2, 0);
        ok &= len == 250000 && memcmp(buf, want, len) == 0;
    }
    ok &= vls_verify(s, NULL, NULL, NULL) == VLS_OK || expect_new != 1;
    vls_close(s);
    return ok;
}

int main(void)
{
    static const struct {
        int err, persistent, short_write, expect;
    } kinds[] = {{ENOSPC, 0, 0, VLS_E_NOSPC}, {ENOSPC, 1, 1, VLS_E_NOSPC},
                 {EIO, 0, 0, VLS_E_IO},       {EIO, 1, 0, VLS_E_IO}};
    const char *path = test_path("faults");
    unsigned char *rec = malloc(250000);
    long cases = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (long nth = 1;; nth++) {
            vls_options o;
            vls_options_init(&o);
            o.chunk_size = 65536; /* several chunk writes per commit */
            o.block_size = 16384;
            vls_store *s;
            CHECK_OK(NULL, vls_open(path, VLS_CREATE | VLS_TRUNCATE, &o, &s));
            test_fill(rec, 100000, 1, 1);
            CHECK_OK(s, vls_put_str(s, "base", rec, 100000, 0));
            CHECK_OK(s, vls_commit(s));
            test_fill(rec, 250000, 2, 0);
            io_fault_set(nth, kinds[k].err, kinds[k].persistent, kinds[k].short_write);
            int rc = vls_put_str(s, "new", rec, 250000, 0);
            if (rc == VLS_OK)
                rc = vls_commit(s);
            long calls = io_fault_calls();
            io_fault_set(0, 0, 0, 0);
            cases++;
            if (rc == VLS_OK) { /* the sequence completed: N passed its last I/O call */
                CHECK(calls < nth);
                CHECK_OK(s, vls_close(s));
                CHECK(check_contents(path, 1));
                break;
            }
            CHECK(rc == kinds[k].expect);
            CHECK(vls_errmsg(s)[0] != 0);
            /* a failed handle refuses further writes, and close does not commit */
            CHECK_RC(s, vls_put_str(s, "more", "x", 1, 0), VLS_E_FAILED);
            CHECK_RC(s, vls_commit(s), VLS_E_FAILED);
            vls_close(s);
            /* the failure may hit the final sync after the trailer was written: then the new
             * record may be there (whole) or not; before that it must not be */
            CHECK(check_contents(path, -1));
            /* and the file takes new writes after reopening */
            CHECK_OK(NULL, vls_open(path, VLS_RDWR, NULL, &s));
            CHECK_OK(s, vls_put_str(s, "after", "ok", 2, 0));
            CHECK_OK(s, vls_close(s));
            CHECK(check_contents(path, -1));
            if (nth > 1000) {
                CHECK(0);
                break;
            }
        }
    }
    printf("%ld fault cases (ENOSPC/EIO, once/persistent, short writes)\n", cases);
    free(rec);
    return test_done("test_faults");
}
