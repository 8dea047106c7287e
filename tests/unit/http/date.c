/* date.c - tests for server/http/date.c: IMF-fixdate formatting, HTTP-date parsing, the cache. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "http/date.h"

struct known_date {
    int64_t t;
    const char *imf;
};

/* Checked against GNU date -u -d @T '+%a, %d %b %Y %H:%M:%S GMT'. */
static const struct known_date known[] = {
    {.t = 0, .imf = "Thu, 01 Jan 1970 00:00:00 GMT"},
    {.t = 784111777, .imf = "Sun, 06 Nov 1994 08:49:37 GMT"},
    {.t = 951782400, .imf = "Tue, 29 Feb 2000 00:00:00 GMT"},
    {.t = 951868799, .imf = "Tue, 29 Feb 2000 23:59:59 GMT"},
    {.t = 951868800, .imf = "Wed, 01 Mar 2000 00:00:00 GMT"},
    {.t = 1078012800, .imf = "Sun, 29 Feb 2004 00:00:00 GMT"},
    {.t = 1709208000, .imf = "Thu, 29 Feb 2024 12:00:00 GMT"},
    {.t = 1735689599, .imf = "Tue, 31 Dec 2024 23:59:59 GMT"},
    {.t = 2147483647, .imf = "Tue, 19 Jan 2038 03:14:07 GMT"},
    {.t = 2147483648, .imf = "Tue, 19 Jan 2038 03:14:08 GMT"},
    {.t = 4107542400, .imf = "Mon, 01 Mar 2100 00:00:00 GMT"}, /* 2100 is not leap */
    {.t = 4107456000, .imf = "Sun, 28 Feb 2100 00:00:00 GMT"},
    {.t = 4102444800, .imf = "Fri, 01 Jan 2100 00:00:00 GMT"},
    {.t = 32503680000, .imf = "Wed, 01 Jan 3000 00:00:00 GMT"},
    {.t = 253402300799, .imf = "Fri, 31 Dec 9999 23:59:59 GMT"},
    {.t = -1, .imf = "Wed, 31 Dec 1969 23:59:59 GMT"},
    {.t = -2208988800, .imf = "Mon, 01 Jan 1900 00:00:00 GMT"},
    {.t = -62135596800, .imf = "Mon, 01 Jan 0001 00:00:00 GMT"},
};

Test(date, format_known)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        char out[HTTP_DATE_LEN + 1];

        http_date_format(known[i].t, out);
        cr_expect_str_eq(out, known[i].imf, "t=%lld", (long long)known[i].t);
        cr_expect_eq(strlen(out), HTTP_DATE_LEN);
    }
}

Test(date, parse_known)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        int64_t t = 12345;

        cr_expect_eq(http_date_parse(known[i].imf, HTTP_DATE_LEN, &t), 0, "%s", known[i].imf);
        cr_expect_eq(t, known[i].t, "%s: got %lld", known[i].imf, (long long)t);
    }
}

Test(date, format_clamps_out_of_range)
{
    char out[HTTP_DATE_LEN + 1];

    http_date_format(INT64_MAX, out);
    cr_assert_str_eq(out, "Fri, 31 Dec 9999 23:59:59 GMT");
    http_date_format(INT64_MIN, out);
    cr_assert_str_eq(out, "Sat, 01 Jan 0000 00:00:00 GMT");
}

Test(date, round_trip_many)
{
    /* every ~1.1 days across 1900..2400, odd seconds included */
    for (int64_t t = -2208988800; t < 13569465600; t += 97231) {
        char out[HTTP_DATE_LEN + 1];
        int64_t back = 0;

        http_date_format(t, out);
        cr_assert_eq(http_date_parse(out, HTTP_DATE_LEN, &back), 0, "%s", out);
        cr_assert_eq(back, t, "%s", out);
    }
}

Test(date, round_trip_every_day_of_leap_cycle)
{
    /* 2000-03-01 .. 2400-03-01: one whole 400-year Gregorian cycle, daily */
    for (int64_t day = 11017; day < 11017 + 146097; day++) {
        char out[HTTP_DATE_LEN + 1];
        int64_t t = day * 86400 + 43210, back = 0;

        http_date_format(t, out);
        cr_assert_eq(http_date_parse(out, HTTP_DATE_LEN, &back), 0, "%s", out);
        cr_assert_eq(back, t, "%s", out);
    }
}

Test(date, three_formats)
{
    static const char *const forms[] = {
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Sun Nov 06 08:49:37 1994",
    };

    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        int64_t t = 0;

        cr_expect_eq(http_date_parse(forms[i], strlen(forms[i]), &t), 0, "%s", forms[i]);
        cr_expect_eq(t, 784111777, "%s", forms[i]);
    }
}

static int parse_at(const char *s, int64_t now, int64_t *t)
{
    return http_date_parse_at(s, strlen(s), now, t);
}

Test(date, rfc850_two_digit_year)
{
    /* now = 2026-01-01: years up to 2076 are 20xx, later ones 19xx */
    const int64_t now = 1767225600;
    int64_t t = 0;

    cr_assert_eq(parse_at("Wednesday, 01-Jan-70 00:00:00 GMT", now, &t), 0);
    cr_assert_eq(t, 3155760000); /* 2070 */
    cr_assert_eq(parse_at("Saturday, 01-Jan-77 00:00:00 GMT", now, &t), 0);
    cr_assert_eq(t, 220924800); /* 1977 */
    cr_assert_eq(parse_at("Saturday, 01-Jan-00 00:00:00 GMT", now, &t), 0);
    cr_assert_eq(t, 946684800); /* 2000 */
    /* now = 2090: "10" is 2110, not 2010 */
    cr_assert_eq(parse_at("Wednesday, 01-Jan-10 00:00:00 GMT", 3786912000, &t), 0);
    cr_assert_eq(t, 4417977600);
}

Test(date, leap_second_and_leap_days)
{
    int64_t t = 0;

    cr_assert_eq(http_date_parse("Wed, 31 Dec 2008 23:59:60 GMT", HTTP_DATE_LEN, &t), 0);
    cr_assert_eq(t, 1230768000); /* 2009-01-01 00:00:00 */
    cr_assert_eq(http_date_parse("Tue, 29 Feb 2000 00:00:00 GMT", HTTP_DATE_LEN, &t), 0);
    cr_assert_eq(http_date_parse("Tue, 29 Feb 2400 00:00:00 GMT", HTTP_DATE_LEN, &t), 0);
    cr_assert_eq(http_date_parse("Mon, 29 Feb 2100 00:00:00 GMT", HTTP_DATE_LEN, &t), -1);
    cr_assert_eq(http_date_parse("Sun, 29 Feb 2023 00:00:00 GMT", HTTP_DATE_LEN, &t), -1);
}

Test(date, invalid_inputs)
{
    static const char *const bad[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 32 Jan 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT; length=123",
        "Sun,  06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994",
        "Sun, 06-Nov-1994 08:49:37 GMT",
        "Sun, 0x Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sun, 06 Nov +994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06 Nov 94 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sun Nov 31 08:49:37 1994",
        "1994-11-06T08:49:37Z",
        "784111777",
        "Sun",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 77;

        cr_expect_eq(http_date_parse(bad[i], strlen(bad[i]), &t), -1, "accepted \"%s\"", bad[i]);
        cr_expect_eq(t, 77, "\"%s\" changed the output", bad[i]);
    }
    cr_expect_eq(http_date_parse(NULL, 0, NULL), -1);
}

Test(date, parse_uses_only_len_bytes)
{
    static const char s[] = "Sun, 06 Nov 1994 08:49:37 GMTtrailing";
    int64_t t = 0;

    cr_assert_eq(http_date_parse(s, HTTP_DATE_LEN, &t), 0);
    cr_assert_eq(t, 784111777);
    cr_assert_eq(http_date_parse(s, HTTP_DATE_LEN - 1, &t), -1);
}

Test(date, cache_reformats_only_on_new_second)
{
    struct http_date_cache c = {0};
    const char *a = http_date_cached(&c, 784111777);

    cr_assert_str_eq(a, "Sun, 06 Nov 1994 08:49:37 GMT");
    cr_assert_eq(http_date_cached(&c, 784111777), a);
    cr_assert_str_eq(http_date_cached(&c, 784111778), "Sun, 06 Nov 1994 08:49:38 GMT");
    cr_assert_str_eq(http_date_cached(&c, 0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

Test(date, cache_zero_second_on_fresh_cache)
{
    /* a zeroed cache must not claim to hold the text for t = 0 already */
    struct http_date_cache c = {0};

    cr_assert_str_eq(http_date_cached(&c, 0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

Test(date, head_lines_carry_date_and_server_and_follow_the_second)
{
    struct http_head_lines *h = http_head_lines_new("cohttpd/1");
    size_t len = 0;
    const char *a;

    cr_assert_not_null(h);
    a = http_head_lines_at(h, 784111777, &len);
    cr_assert_eq(len, strlen("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: cohttpd/1\r\n"));
    cr_assert_eq(memcmp(a, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: cohttpd/1\r\n", len), 0,
                 "%.*s", (int)len, a);
    a = http_head_lines_at(h, 784111778, &len);
    cr_assert_eq(memcmp(a, "Date: Sun, 06 Nov 1994 08:49:38 GMT\r\nServer: cohttpd/1\r\n", len), 0,
                 "the next second shows: %.*s", (int)len, a);
    a = http_head_lines_at(h, 0, &len);
    cr_assert_eq(memcmp(a, "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n", 37), 0,
                 "a fresh struct does not claim to hold second 0: %.*s", (int)len, a);
    free(h);
}

Test(date, head_lines_without_a_server_have_the_date_alone)
{
    const char *servers[] = {NULL, ""};

    for (size_t i = 0; i < 2; i++) {
        struct http_head_lines *h = http_head_lines_new(servers[i]);
        size_t len = 0;
        const char *a;

        cr_assert_not_null(h);
        a = http_head_lines_at(h, 784111777, &len);
        cr_assert_eq(len, 37, "%.*s", (int)len, a);
        cr_assert_eq(memcmp(a, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", 37), 0);
        free(h);
    }
}
