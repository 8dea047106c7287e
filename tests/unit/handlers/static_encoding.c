/* static_encoding.c - tests for server/handlers/static_encoding.c: Accept-Encoding weights and
 * choice. */
#include <criterion/criterion.h>
#include <string.h>

#include "handlers/static_encoding.h"

static struct static_accept parse(const char *v)
{
    struct static_accept a;

    memset(&a, 0x55, sizeof a);
    static_accept_parse(v, v ? strlen(v) : 0, &a);
    return a;
}

#define BR STATIC_ENCODING_BR
#define GZ STATIC_ENCODING_GZIP

Test(static_encoding, weights)
{
    const struct {
        const char *value;
        int br, gzip, identity;
    } cases[] = {
        {NULL, 0, 0, 1000},
        {"", 0, 0, 1000},
        {"gzip", 0, 1000, 1000},
        {"gzip, deflate, br, zstd", 1000, 1000, 1000},
        {"br;q=0.5, gzip;q=0.25", 500, 250, 1000},
        {"br;q=1.000, gzip;q=0.001", 1000, 1, 1000},
        {"br ; q=0.8 ,gzip;Q=0.7", 800, 700, 1000},
        {"*", 1000, 1000, 1000},
        {"*;q=0", 0, 0, 0},
        {"*;q=0.3, br", 1000, 300, 300},
        {"identity;q=0, gzip", 0, 1000, 0},
        {"x-gzip", 0, 1000, 1000},
        {"GZip, BR", 1000, 1000, 1000},
        {"gzip;q=1.5", 0, 0, 1000},    /* over 1: ignored */
        {"gzip;q=0.1234", 0, 0, 1000}, /* four decimals: ignored */
        {"gzip;q=", 0, 0, 1000},
        {"gzip;q=abc, br", 1000, 0, 1000},
        {"gzip;level=9;q=0.5", 0, 500, 1000},
        {"gzip junk, br", 1000, 0, 1000},
        {"gzip;q=0, gzip;q=0.5", 0, 500, 1000}, /* twice: the higher weight */
        {",,, br ,,", 1000, 0, 1000},
        {"compress, deflate", 0, 0, 1000},
        {"brotli, gzipped", 0, 0, 1000},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct static_accept a = parse(cases[i].value);

        cr_expect_eq(a.q[BR], cases[i].br, "%s: br %d", cases[i].value, a.q[BR]);
        cr_expect_eq(a.q[GZ], cases[i].gzip, "%s: gzip %d", cases[i].value, a.q[GZ]);
        cr_expect_eq(a.identity, cases[i].identity, "%s: identity %d", cases[i].value, a.identity);
    }
}

/* Each name counts only for its own coding, whole and in any case: names
 * of the same length, or that share a first letter, never stand in for
 * one another. */
Test(static_encoding, names_match_whole_in_any_case)
{
    const struct {
        const char *value;
        int br, gzip, zstd, identity;
    } cases[] = {
        {"zstd", 0, 0, 1000, 1000},
        {"ZSTD;q=0.5, Gzip;q=0.2", 0, 200, 500, 1000},
        {"zStD, X-Gzip", 0, 1000, 1000, 1000},
        {"zsth, gzap, bz, x-gzap", 0, 0, 0, 1000},
        {"zstd1, gzip~, br!, *x", 0, 0, 0, 1000},
        {"IDENTITY;q=0, zstd", 0, 0, 1000, 0},
        {"identitx;q=0, bR", 1000, 0, 0, 1000},
        {"z, g, b, i, x", 0, 0, 0, 1000},
        {"*, zstd;q=0", 1000, 1000, 0, 1000},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct static_accept a = parse(cases[i].value);

        cr_expect_eq(a.q[BR], cases[i].br, "%s: br %d", cases[i].value, a.q[BR]);
        cr_expect_eq(a.q[GZ], cases[i].gzip, "%s: gzip %d", cases[i].value, a.q[GZ]);
        cr_expect_eq(a.q[STATIC_ENCODING_ZSTD], cases[i].zstd, "%s: zstd %d", cases[i].value,
                     a.q[STATIC_ENCODING_ZSTD]);
        cr_expect_eq(a.identity, cases[i].identity, "%s: identity %d", cases[i].value, a.identity);
    }
}

Test(static_encoding, pick_follows_weights_then_configured_order)
{
    const enum static_encoding both[] = {BR, GZ}, gz_first[] = {GZ, BR}, gz_only[] = {GZ};
    struct static_accept a = parse("gzip, br");

    cr_assert_eq(static_accept_pick(&a, both, 2, 0), BR);
    cr_assert_eq(static_accept_pick(&a, gz_first, 2, 0), GZ);
    cr_assert_eq(static_accept_pick(&a, gz_only, 1, 0), GZ);
    cr_assert_eq(static_accept_pick(&a, both, 0, 0), -1);
    /* skipping what is missing on disk */
    cr_assert_eq(static_accept_pick(&a, both, 2, 1u << BR), GZ);
    cr_assert_eq(static_accept_pick(&a, both, 2, (1u << BR) | (1u << GZ)), -1);
    a = parse("br;q=0.4, gzip;q=0.6");
    cr_assert_eq(static_accept_pick(&a, both, 2, 0), -1, "identity (1) outweighs both");
    a = parse("br;q=0.4, gzip;q=0.6, identity;q=0.1");
    cr_assert_eq(static_accept_pick(&a, both, 2, 0), GZ);
    a = parse("br;q=0, gzip;q=0");
    cr_assert_eq(static_accept_pick(&a, both, 2, 0), -1);
    a = parse(NULL);
    cr_assert_eq(static_accept_pick(&a, both, 2, 0), -1);
}

Test(static_encoding, names_and_suffixes)
{
    cr_assert_str_eq(static_encoding_name(BR), "br");
    cr_assert_str_eq(static_encoding_name(GZ), "gzip");
    cr_assert_str_eq(static_encoding_suffix(BR), ".br");
    cr_assert_str_eq(static_encoding_suffix(GZ), ".gz");
}
