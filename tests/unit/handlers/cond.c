/* cond.c - tests for server/handlers/cond.c: ETags, RFC 9110 §13.2.2 order, If-Range. */
#include <criterion/criterion.h>
#include <string.h>

#include "handlers/cond.h"

#define MTIME 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */
#define SAME  "Sun, 06 Nov 1994 08:49:37 GMT"
#define OLDER "Sun, 06 Nov 1994 08:49:36 GMT"
#define NEWER "Sun, 06 Nov 1994 08:49:38 GMT"
#define ETAG  "\"abc\""

Test(cond, etag_format)
{
    char out[COND_ETAG_MAX];

    cr_assert_eq(cond_etag_format(out, sizeof out, 0x1234, 0x10, 1, 5), 18);
    cr_assert_str_eq(out, "\"1234-3b9aca05-10\"");
    cr_assert_eq(cond_etag_format(out, sizeof out, 0, 0x10, 1, 5), 13);
    cr_assert_str_eq(out, "\"3b9aca05-10\"");
    cr_assert_eq(cond_etag_format(out, sizeof out, 0, 0, 0, 0), 5);
    cr_assert_str_eq(out, "\"0-0\"");
    cr_assert_eq(cond_etag_format(out, sizeof out, UINT64_MAX, UINT64_MAX, INT64_MAX, 999999999),
                 52);
    cr_assert_lt(52, COND_ETAG_MAX);
    cr_assert_eq(out[0], '"');
    cr_assert_eq(out[51], '"');
    /* too small: the length is reported, nothing half-written */
    cr_assert_eq(cond_etag_format(out, 5, 0, 0, 0, 0), 5);
    cr_assert_str_eq(out, "");
    cr_assert_eq(cond_etag_format(NULL, 0, 0, 0, 0, 0), 5);
}

Test(cond, etag_changes_with_each_input)
{
    char a[COND_ETAG_MAX], b[COND_ETAG_MAX];

    cond_etag_format(a, sizeof a, 7, 100, 1000, 1);
    cond_etag_format(b, sizeof b, 7, 100, 1000, 2); /* same second, new nanoseconds */
    cr_expect_str_neq(a, b);
    cond_etag_format(b, sizeof b, 7, 101, 1000, 1);
    cr_expect_str_neq(a, b);
    cond_etag_format(b, sizeof b, 8, 100, 1000, 1);
    cr_expect_str_neq(a, b);
    cond_etag_format(b, sizeof b, 7, 100, 1001, 1);
    cr_expect_str_neq(a, b);
    cond_etag_format(b, sizeof b, 7, 100, 1000, 1);
    cr_expect_str_eq(a, b);
}

struct cond_case {
    const char *name;
    bool other_method; /* not GET/HEAD */
    const char *im, *ius, *inm, *ims;
    const char *etag; /* the representation's; "-" for none */
    enum cond_result want;
};

static const struct cond_case cases[] = {
    {.name = "no preconditions", .want = COND_PROCEED},
    {.name = "no preconditions, POST", .other_method = true, .want = COND_PROCEED},
    /* 1. If-Match: strong comparison */
    {.name = "IM equal", .im = ETAG, .want = COND_PROCEED},
    {.name = "IM differs", .im = "\"xyz\"", .want = COND_PRECONDITION_FAILED},
    {.name = "IM star", .im = "*", .want = COND_PROCEED},
    {.name = "IM star, no etag", .im = "*", .etag = "-", .want = COND_PROCEED},
    {.name = "IM list", .im = "\"x\", \"abc\"", .want = COND_PROCEED},
    {.name = "IM list no match", .im = "\"x\", \"y\"", .want = COND_PRECONDITION_FAILED},
    {.name = "IM weak tag", .im = "W/\"abc\"", .want = COND_PRECONDITION_FAILED},
    {.name = "IM own weak", .im = ETAG, .etag = "W/\"abc\"", .want = COND_PRECONDITION_FAILED},
    {.name = "IM no own etag", .im = ETAG, .etag = "-", .want = COND_PRECONDITION_FAILED},
    {.name = "IM unquoted", .im = "abc", .want = COND_PRECONDITION_FAILED},
    {.name = "IM junk before match", .im = "\"x\" junk, \"abc\"", .want = COND_PRECONDITION_FAILED},
    {.name = "IM match before junk", .im = "\"abc\", junk", .want = COND_PROCEED},
    {.name = "IM star in a list", .im = "\"x\", *", .want = COND_PRECONDITION_FAILED},
    {.name = "IM POST equal", .other_method = true, .im = ETAG, .want = COND_PROCEED},
    {.name = "IM POST differs",
     .other_method = true,
     .im = "\"x\"",
     .want = COND_PRECONDITION_FAILED},
    /* 2. If-Unmodified-Since, only without If-Match */
    {.name = "IUS same", .ius = SAME, .want = COND_PROCEED},
    {.name = "IUS newer", .ius = NEWER, .want = COND_PROCEED},
    {.name = "IUS older", .ius = OLDER, .want = COND_PRECONDITION_FAILED},
    {.name = "IUS invalid", .ius = "yesterday", .want = COND_PROCEED},
    {.name = "IUS older, POST",
     .other_method = true,
     .ius = OLDER,
     .want = COND_PRECONDITION_FAILED},
    {.name = "IUS ignored with IM", .im = ETAG, .ius = OLDER, .want = COND_PROCEED},
    {.name = "IUS before INM", .ius = OLDER, .inm = ETAG, .want = COND_PRECONDITION_FAILED},
    /* 3. If-None-Match: weak comparison */
    {.name = "INM equal", .inm = ETAG, .want = COND_NOT_MODIFIED},
    {.name = "INM weak tag", .inm = "W/\"abc\"", .want = COND_NOT_MODIFIED},
    {.name = "INM own weak", .inm = ETAG, .etag = "W/\"abc\"", .want = COND_NOT_MODIFIED},
    {.name = "INM differs", .inm = "\"xyz\"", .want = COND_PROCEED},
    {.name = "INM list", .inm = "\"x\",W/\"abc\"", .want = COND_NOT_MODIFIED},
    {.name = "INM list no match", .inm = "\"x\", \"y\"", .want = COND_PROCEED},
    {.name = "INM empty elements", .inm = " , \"abc\" ,", .want = COND_NOT_MODIFIED},
    {.name = "INM comma inside tag",
     .inm = "\"a,b\"",
     .etag = "\"a,b\"",
     .want = COND_NOT_MODIFIED},
    {.name = "INM prefix only", .inm = "\"ab\"", .want = COND_PROCEED},
    {.name = "INM star", .inm = "*", .want = COND_NOT_MODIFIED},
    {.name = "INM no own etag", .inm = ETAG, .etag = "-", .want = COND_PROCEED},
    {.name = "INM POST equal", .other_method = true, .inm = ETAG, .want = COND_PRECONDITION_FAILED},
    {.name = "INM POST star", .other_method = true, .inm = "*", .want = COND_PRECONDITION_FAILED},
    {.name = "INM POST differs", .other_method = true, .inm = "\"x\"", .want = COND_PROCEED},
    {.name = "IM before INM", .im = "\"x\"", .inm = ETAG, .want = COND_PRECONDITION_FAILED},
    {.name = "IM and INM pass", .im = ETAG, .inm = "\"x\"", .want = COND_PROCEED},
    /* 4. If-Modified-Since, GET/HEAD only, only without If-None-Match */
    {.name = "IMS same", .ims = SAME, .want = COND_NOT_MODIFIED},
    {.name = "IMS newer", .ims = NEWER, .want = COND_NOT_MODIFIED},
    {.name = "IMS older", .ims = OLDER, .want = COND_PROCEED},
    {.name = "IMS invalid", .ims = "Sun, 06 Nov 1994", .want = COND_PROCEED},
    {.name = "IMS rfc850", .ims = "Sunday, 06-Nov-94 08:49:37 GMT", .want = COND_NOT_MODIFIED},
    {.name = "IMS asctime", .ims = "Sun Nov  6 08:49:37 1994", .want = COND_NOT_MODIFIED},
    {.name = "IMS POST ignored", .other_method = true, .ims = NEWER, .want = COND_PROCEED},
    {.name = "IMS ignored with INM", .inm = "\"x\"", .ims = NEWER, .want = COND_PROCEED},
    {.name = "INM wins over old IMS", .inm = ETAG, .ims = OLDER, .want = COND_NOT_MODIFIED},
    {.name = "IUS passes then IMS", .ius = NEWER, .ims = SAME, .want = COND_NOT_MODIFIED},
    {.name = "IM passes then INM", .im = "*", .inm = "*", .want = COND_NOT_MODIFIED},
    /* empty values count as absent */
    {.name = "IM empty", .im = "", .want = COND_PROCEED},
    {.name = "INM empty", .inm = "", .ims = SAME, .want = COND_NOT_MODIFIED},
};

static void set_field(const char *v, const char **p, size_t *len)
{
    *p = v;
    *len = v ? strlen(v) : 0;
}

Test(cond, evaluate_table)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct cond_case *c = &cases[i];
        struct cond_request r = {.get_or_head = !c->other_method};
        const char *etag = c->etag ? c->etag : ETAG;
        enum cond_result got;

        set_field(c->im, &r.if_match, &r.if_match_len);
        set_field(c->ius, &r.if_unmodified_since, &r.if_unmodified_since_len);
        set_field(c->inm, &r.if_none_match, &r.if_none_match_len);
        set_field(c->ims, &r.if_modified_since, &r.if_modified_since_len);
        if (strcmp(etag, "-") == 0)
            got = cond_evaluate(&r, NULL, 0, MTIME);
        else
            got = cond_evaluate(&r, etag, strlen(etag), MTIME);
        cr_expect_eq(got, c->want, "%s: got %d, want %d", c->name, got, c->want);
    }
}

struct if_range_case {
    const char *value;
    const char *etag;
    bool want;
};

static const struct if_range_case if_range_cases[] = {
    {.value = NULL, .etag = ETAG, .want = true},
    {.value = "", .etag = ETAG, .want = true},
    {.value = ETAG, .etag = ETAG, .want = true},
    {.value = "\"abd\"", .etag = ETAG, .want = false},
    {.value = "W/\"abc\"", .etag = ETAG, .want = false},
    {.value = ETAG, .etag = "W/\"abc\"", .want = false},
    {.value = ETAG, .etag = NULL, .want = false},
    {.value = "\"abc\" junk", .etag = ETAG, .want = false},
    {.value = "\"abc\", \"abc\"", .etag = ETAG, .want = false},
    {.value = "\"abc", .etag = ETAG, .want = false},
    {.value = SAME, .etag = ETAG, .want = true},
    {.value = OLDER, .etag = ETAG, .want = false},
    {.value = NEWER, .etag = ETAG, .want = false},
    {.value = "Sunday, 06-Nov-94 08:49:37 GMT", .etag = ETAG, .want = true},
    {.value = "not a date", .etag = ETAG, .want = false},
    {.value = "*", .etag = ETAG, .want = false},
};

Test(cond, if_range)
{
    for (size_t i = 0; i < sizeof if_range_cases / sizeof if_range_cases[0]; i++) {
        const struct if_range_case *c = &if_range_cases[i];
        size_t len = c->value ? strlen(c->value) : 0;
        size_t etag_len = c->etag ? strlen(c->etag) : 0;

        cr_expect_eq(cond_if_range(c->value, len, c->etag, etag_len, MTIME), c->want,
                     "case %zu: If-Range %s", i, c->value ? c->value : "(absent)");
    }
}

Test(cond, if_range_date_starting_with_w)
{
    /* a weekday starting with 'W' is a date, not a weak tag */
    static const char v[] = "Wed, 21 Oct 2015 07:28:00 GMT";

    cr_assert(cond_if_range(v, sizeof v - 1, ETAG, 5, 1445412480));
    cr_assert_not(cond_if_range(v, sizeof v - 1, ETAG, 5, 1445412481));
}
