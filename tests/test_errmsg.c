/* test_errmsg — the one error-message convention of every handle type (vlstore.h, Conventions):
 * vls_errmsg(store), vls_depot_errmsg(d), vls_loader_errmsg(ld), vls_xyz_errmsg(p) give the
 * detail of the handle's last failure; NULL gives the calling thread's last failure that had no
 * handle, the same string for all four; a message stays until the next failure on the same
 * handle in the same thread (successes never clear it); a thread keeps its last 8 failing
 * stores; and vls_contains() never answers "present" with an error. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vlstore_depot.h"
#include "vlstore_frame.h"
#include "vlstore_loader.h"

static vls_store *memory_store(void)
{
    vls_store *s = NULL;
    CHECK_OK(NULL, vls_open(NULL, VLS_CREATE, NULL, &s));
    return s;
}

/* A failure on s whose message names `tag` (a missing key). */
static void fail_on(vls_store *s, const char *tag)
{
    uint64_t len;
    CHECK(vls_size(s, tag, strlen(tag), &len) == VLS_E_NOTFOUND);
}

static void test_null_is_the_threads_handleless_failure_for_every_handle_type(void)
{
    vls_store *s = (vls_store *)1;
    CHECK(vls_open(test_path("no-such-dir/x.vls"), VLS_RDONLY, NULL, &s) != VLS_OK && !s);
    CHECK(strstr(vls_errmsg(NULL), "no-such-dir") != NULL);
    CHECK(strcmp(vls_loader_errmsg(NULL), vls_errmsg(NULL)) == 0);
    CHECK(strcmp(vls_depot_errmsg(NULL), vls_errmsg(NULL)) == 0);
    CHECK(strcmp(vls_xyz_errmsg(NULL), vls_errmsg(NULL)) == 0);

    /* each layer's failed open lands there too */
    vls_depot *d = (vls_depot *)1;
    CHECK(vls_depot_open(NULL, &vls_codec_bytes, &d) == VLS_E_INVAL && !d);
    CHECK(strstr(vls_depot_errmsg(NULL), "vls_depot_open") != NULL);
    vls_loader_options lo;
    vls_loader_options_init(&lo);
    lo.batch_size = 0;
    vls_loader *ld = (vls_loader *)1;
    const char *paths[] = {"unused.vls"};
    CHECK(vls_loader_open(paths, 1, &lo, &ld) == VLS_E_INVAL && !ld);
    CHECK(strstr(vls_loader_errmsg(NULL), "batch_size") != NULL);
    vls_xyz *p = (vls_xyz *)1;
    CHECK(vls_xyz_open(test_path("missing.xyz"), &p) == VLS_E_IO && !p);
    CHECK(strstr(vls_xyz_errmsg(NULL), "missing.xyz") != NULL);
    /* and handle-less calls */
    unsigned char junk[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    CHECK(vls_frame_verify(junk, sizeof junk) != VLS_OK);
    CHECK(strstr(vls_errmsg(NULL), "root") != NULL);
}

static void test_message_kept_until_the_next_failure_on_that_handle(void)
{
    vls_store *s = memory_store();
    fail_on(s, "first-missing");
    CHECK(strstr(vls_errmsg(s), "first-missing") != NULL);
    /* successes on s, and failures elsewhere, leave it alone */
    CHECK_OK(s, vls_put_str(s, "k", "v", 1, 0));
    char buf[4];
    uint64_t len;
    CHECK_OK(s, vls_get_str(s, "k", buf, sizeof buf, &len));
    CHECK(vls_frame_verify(NULL, 1) == VLS_E_INVAL);
    vls_store *other = memory_store();
    fail_on(other, "other-missing");
    CHECK(strstr(vls_errmsg(s), "first-missing") != NULL);
    CHECK(strstr(vls_errmsg(other), "other-missing") != NULL);
    /* the handle-less message is not disturbed by handle failures */
    CHECK(strstr(vls_errmsg(NULL), "NULL") != NULL);
    fail_on(s, "second-missing");
    CHECK(strstr(vls_errmsg(s), "second-missing") != NULL);
    CHECK_OK(NULL, vls_close(other));
    CHECK_OK(NULL, vls_close(s));
}

static void test_a_thread_keeps_its_last_8_failing_stores(void)
{
    vls_store *s[9];
    char tag[32];
    for (int i = 0; i < 9; i++) {
        s[i] = memory_store();
        snprintf(tag, sizeof tag, "missing-%d", i);
        fail_on(s[i], tag);
    }
    CHECK(strcmp(vls_errmsg(s[0]), "") == 0); /* the oldest was replaced */
    for (int i = 1; i < 9; i++) {
        snprintf(tag, sizeof tag, "missing-%d", i);
        CHECK(strstr(vls_errmsg(s[i]), tag) != NULL);
    }
    for (int i = 0; i < 9; i++)
        CHECK_OK(NULL, vls_close(s[i]));
}

struct thread_arg {
    vls_store *s;
    int saw_empty, saw_own;
};

static void *other_thread(void *p)
{
    struct thread_arg *a = p;
    a->saw_empty = strcmp(vls_errmsg(a->s), "") == 0 && strcmp(vls_errmsg(NULL), "") == 0;
    fail_on(a->s, "thread-missing");
    a->saw_own = strstr(vls_errmsg(a->s), "thread-missing") != NULL;
    return NULL;
}

static void test_messages_are_per_thread(void)
{
    vls_store *s = memory_store();
    fail_on(s, "main-missing");
    struct thread_arg a = {s, 0, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, &a) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(a.saw_empty && a.saw_own);
    CHECK(strstr(vls_errmsg(s), "main-missing") != NULL); /* the other thread's did not land here */
    CHECK_OK(NULL, vls_close(s));
}

static void test_depot_and_loader_follow_the_pattern(void)
{
    vls_store *s = memory_store();
    CHECK_OK(s, vls_put_str(s, "a", "x", 1, 0));
    CHECK_OK(s, vls_commit(s));
    vls_depot *d = NULL;
    CHECK_OK(s, vls_depot_open(s, &vls_codec_bytes, &d));
    vls_bytes b;
    CHECK(vls_depot_view_str(d, "zz", &b) == VLS_E_NOTFOUND);
    CHECK(strstr(vls_depot_errmsg(d), "zz") != NULL);
    CHECK(strcmp(vls_depot_errmsg(d), vls_errmsg(s)) == 0);
    CHECK_OK(s, vls_depot_view_str(d, "a", &b));
    CHECK(strstr(vls_depot_errmsg(d), "zz") != NULL);
    vls_depot_close(d);

    vls_loader *ld = NULL;
    CHECK(vls_loader_open_stores(&s, 1, NULL, &ld) == VLS_OK && ld);
    if (ld) {
        vls_loader_position pos = {0, 0, 12345};
        CHECK(vls_loader_seek(ld, &pos) == VLS_E_INVAL);
        CHECK(strstr(vls_loader_errmsg(ld), "fingerprint") != NULL);
        const vls_record *recs;
        size_t n;
        CHECK(vls_loader_start_epoch(ld, 0) == VLS_OK);
        CHECK(vls_loader_next(ld, &recs, &n) == 1 && n == 1);
        CHECK(strstr(vls_loader_errmsg(ld), "fingerprint") != NULL);
        vls_loader_close(ld);
    }
    CHECK(vls_loader_next(NULL, NULL, NULL) == VLS_E_INVAL);
    CHECK(strstr(vls_loader_errmsg(NULL), "NULL loader") != NULL);
    CHECK_OK(NULL, vls_close(s));
}

static void test_xyz_parser_keeps_its_message(void)
{
    static const char text[] = "2\ncomment\nH 0 0 0\nH 0 0\n";
    vls_xyz *p = NULL;
    CHECK(vls_xyz_open_mem(text, sizeof text - 1, "two.xyz", &p) == VLS_OK);
    vls_frame f;
    CHECK(vls_xyz_next(p, &f) == VLS_E_CORRUPT);
    CHECK(strstr(vls_xyz_errmsg(p), "two.xyz:4") != NULL);
    CHECK(vls_frame_verify(NULL, 1) == VLS_E_INVAL); /* a handle-less failure elsewhere */
    CHECK(strstr(vls_xyz_errmsg(p), "two.xyz:4") != NULL);
    vls_xyz_close(p);
}

static void test_contains_never_reads_an_error_as_present(void)
{
    vls_store *s = memory_store();
    CHECK_OK(s, vls_put_str(s, "here", "1", 1, 0));
    int found = 7;
    CHECK_OK(s, vls_contains(s, "here", 4, &found));
    CHECK(found == 1);
    CHECK_OK(s, vls_contains(s, "gone", 4, &found));
    CHECK(found == 0);
    found = 7;
    CHECK(vls_contains(s, NULL, 0, &found) == VLS_E_INVAL && found == 0);
    found = 7;
    CHECK(vls_contains(NULL, "here", 4, &found) == VLS_E_INVAL && found == 0);
    CHECK(vls_contains(s, "here", 4, NULL) == VLS_E_INVAL);
    CHECK_OK(NULL, vls_close(s));
}

int main(void)
{
    test_null_is_the_threads_handleless_failure_for_every_handle_type();
    test_message_kept_until_the_next_failure_on_that_handle();
    test_a_thread_keeps_its_last_8_failing_stores();
    test_messages_are_per_thread();
    test_depot_and_loader_follow_the_pattern();
    test_xyz_parser_keeps_its_message();
    test_contains_never_reads_an_error_as_present();
    return test_done("test_errmsg");
}
