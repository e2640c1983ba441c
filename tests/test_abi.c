/* test_abi — the promises that let structs grow (vlstore.h): vls_open refuses a nonzero
 * reserved field of vls_options, naming it (as the loader does for vls_loader_options and a
 * depot for vls_depot_codec); vls_stat_get honours the caller's struct_size, refusing 0 and
 * never writing past its own struct; and the version macros agree with each other. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "vlstore_depot.h"
#include "vlstore_loader.h"

static void test_open_refuses_nonzero_reserved_options_naming_the_field(void)
{
    vls_options o;
    vls_store *s = NULL;
    vls_options_init(&o);
    o.reserved[3] = 5;
    CHECK(vls_open(NULL, VLS_CREATE, &o, &s) == VLS_E_INVAL && s == NULL);
    CHECK(strstr(vls_errmsg(NULL), "reserved[3]") != NULL);
    vls_options_init(&o);
    o.reserved32 = 1;
    CHECK(vls_open(NULL, VLS_CREATE, &o, &s) == VLS_E_INVAL && s == NULL);
    CHECK(strstr(vls_errmsg(NULL), "reserved32") != NULL);
    vls_options_init(&o);
    CHECK_OK(NULL, vls_open(NULL, VLS_CREATE, &o, &s));
    CHECK_OK(NULL, vls_close(s));
}

static void test_loader_and_depot_refuse_nonzero_reserved_fields(void)
{
    vls_store *s = NULL;
    CHECK_OK(NULL, vls_open(NULL, VLS_CREATE, NULL, &s));
    CHECK_OK(s, vls_put_str(s, "a", "x", 1, 0));
    CHECK_OK(s, vls_commit(s));
    vls_loader_options lo;
    vls_loader_options_init(&lo);
    lo.reserved[7] = 1;
    vls_loader *ld = NULL;
    CHECK(vls_loader_open_stores(&s, 1, &lo, &ld) == VLS_E_INVAL && ld == NULL);
    CHECK(strstr(vls_loader_errmsg(NULL), "reserved[7]") != NULL);
    vls_loader_options_init(&lo);
    lo.reserved0 = 2;
    CHECK(vls_loader_open_stores(&s, 1, &lo, &ld) == VLS_E_INVAL && ld == NULL);
    CHECK(strstr(vls_loader_errmsg(NULL), "reserved0") != NULL);

    vls_depot_codec c = vls_codec_bytes;
    c.reserved[1] = &c;
    vls_depot *d = NULL;
    CHECK(vls_depot_open(s, &c, &d) == VLS_E_INVAL && d == NULL);
    CHECK(strstr(vls_depot_errmsg(NULL), "reserved[1]") != NULL);
    CHECK_OK(NULL, vls_close(s));
}

static void test_stat_honours_struct_size(void)
{
    vls_store *s = NULL;
    CHECK_OK(NULL, vls_open(NULL, VLS_CREATE, NULL, &s));
    CHECK_OK(s, vls_put_str(s, "a", "xyz", 3, 0));

    vls_stat st;
    memset(&st, 0, sizeof st);
    CHECK(vls_stat_get(s, &st) == VLS_E_INVAL); /* struct_size forgotten */
    CHECK(strstr(vls_errmsg(s), "struct_size") != NULL);

    vls_stat ok = {.struct_size = sizeof ok};
    CHECK_OK(s, vls_stat_get(s, &ok));
    CHECK(ok.struct_size == sizeof ok && ok.records == 1 && ok.logical_bytes == 3);
    CHECK(ok.options.struct_size == sizeof(vls_options) && ok.format_version >= 1);

    /* a caller built against a newer, longer vls_stat: the tail is never written */
    union {
        vls_stat st;
        unsigned char bytes[sizeof(vls_stat) + 64];
    } newer;
    memset(&newer, 0xA5, sizeof newer);
    newer.st.struct_size = sizeof newer;
    CHECK_OK(s, vls_stat_get(s, &newer.st));
    CHECK(newer.st.struct_size == sizeof(vls_stat) && newer.st.records == 1);
    int tail_untouched = 1;
    for (size_t i = sizeof(vls_stat); i < sizeof newer; i++)
        tail_untouched &= newer.bytes[i] == 0xA5;
    CHECK(tail_untouched);
    CHECK_OK(NULL, vls_close(s));
}

static void test_version_macros_agree(void)
{
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", VLS_VERSION_MAJOR, VLS_VERSION_MINOR, VLS_VERSION_PATCH);
    CHECK(strcmp(v, VLS_VERSION_STRING) == 0);
}

int main(void)
{
    test_open_refuses_nonzero_reserved_options_naming_the_field();
    test_loader_and_depot_refuse_nonzero_reserved_fields();
    test_stat_honours_struct_size();
    test_version_macros_agree();
    return test_done("test_abi");
}
