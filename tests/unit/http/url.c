/* url.c - tests for server/http/url.c: path normalisation, decoding, escaping. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/url.h"

struct norm_case {
    const char *in;
    int want;        /* expected length, or -400 */
    const char *out; /* expected path when accepted */
    bool slash;      /* expected trailing slash flag */
};

static const struct norm_case norm_cases[] = {
    /* plain paths */
    {.in = "/", .want = 1, .out = "/", .slash = true},
    {.in = "/index.html", .want = 11, .out = "/index.html"},
    {.in = "/a/b/c", .want = 6, .out = "/a/b/c"},
    {.in = "/dir/", .want = 5, .out = "/dir/", .slash = true},
    /* repeated slashes merge */
    {.in = "//", .want = 1, .out = "/", .slash = true},
    {.in = "///a////b//", .want = 5, .out = "/a/b/", .slash = true},
    {.in = "/a//../b", .want = 2, .out = "/b"},
    /* dot-segments (RFC 3986 §5.2.4) */
    {.in = "/.", .want = 1, .out = "/", .slash = true},
    {.in = "/./a", .want = 2, .out = "/a"},
    {.in = "/a/./b", .want = 4, .out = "/a/b"},
    {.in = "/a/.", .want = 3, .out = "/a/", .slash = true},
    {.in = "/a/..", .want = 1, .out = "/", .slash = true},
    {.in = "/a/b/..", .want = 3, .out = "/a/", .slash = true},
    {.in = "/a/b/../c", .want = 4, .out = "/a/c"},
    {.in = "/a/b/c/./../../g", .want = 4, .out = "/a/g"},
    {.in = "/a/../b/../c/", .want = 3, .out = "/c/", .slash = true},
    {.in = "/.../x", .want = 6, .out = "/.../x"},
    {.in = "/..a/b..", .want = 8, .out = "/..a/b.."},
    {.in = "/.hidden", .want = 8, .out = "/.hidden"},
    /* traversal attempts */
    {.in = "/..", .want = -400},
    {.in = "/../x", .want = -400},
    {.in = "/a/../../x", .want = -400},
    {.in = "/a/./../..", .want = -400},
    {.in = "/%2e%2e/etc/passwd", .want = -400},
    {.in = "/%2E%2E/x", .want = -400},
    {.in = "/.%2e/x", .want = -400},
    {.in = "/a/%2e%2e/%2e%2e/x", .want = -400},
    {.in = "/a/%2e%2e/b", .want = 2, .out = "/b"},
    {.in = "/a/%2e/b", .want = 4, .out = "/a/b"},
    {.in = "/..%2fetc", .want = -400},
    {.in = "/%2e%2e%2fetc", .want = -400},
    /* double encoding is decoded once: a literal name inside the root */
    {.in = "/%252e%252e/x", .want = 9, .out = "/%2e%2e/x"},
    {.in = "/%252e%252e%252f", .want = 10, .out = "/%2e%2e%2f"},
    /* overlong UTF-8 for '.': bytes, not a dot */
    {.in = "/%c0%ae%c0%ae/x", .want = 7, .out = "/\xc0\xae\xc0\xae/x"},
    {.in = "/caf%C3%A9", .want = 6, .out = "/caf\xc3\xa9"},
    /* decoding */
    {.in = "/a%20b", .want = 4, .out = "/a b"},
    {.in = "/%7Euser/", .want = 7, .out = "/~user/", .slash = true},
    {.in = "/a+b", .want = 4, .out = "/a+b"},
    {.in = "/%3f%23", .want = 3, .out = "/?#"},
    {.in = "/%25", .want = 2, .out = "/%"},
    /* refused: separators hidden in escapes, NUL, controls, backslashes */
    {.in = "/a%2Fb", .want = -400},
    {.in = "/a%2fb", .want = -400},
    {.in = "/a%00b", .want = -400},
    {.in = "/a%0a", .want = -400},
    {.in = "/a%0D%0AX-Injected:%201", .want = -400},
    {.in = "/a%7f", .want = -400},
    {.in = "/a%1f", .want = -400},
    {.in = "/a\\b", .want = -400},
    {.in = "/..\\..\\etc", .want = -400},
    {.in = "/a%5Cb", .want = -400},
    {.in = "/a%5c..%5c", .want = -400},
    {.in = "/a\tb", .want = -400},
    /* malformed */
    {.in = "", .want = -400},
    {.in = "a/b", .want = -400},
    {.in = "*", .want = -400},
    {.in = "/%G1", .want = -400},
    {.in = "/%4", .want = -400},
    {.in = "/%", .want = -400},
    {.in = "/%%30", .want = -400},
    {.in = "/a%2", .want = -400},
};

Test(url, normalize_table)
{
    for (size_t i = 0; i < sizeof norm_cases / sizeof norm_cases[0]; i++) {
        const struct norm_case *c = &norm_cases[i];
        size_t len = strlen(c->in);
        char out[256];
        bool slash = !c->slash;
        int n = url_normalize_path(c->in, len, out, sizeof out, &slash);

        cr_expect_eq(n, c->want, "case %zu \"%s\": got %d, want %d", i, c->in, n, c->want);
        if (c->want >= 0 && n == c->want) {
            cr_expect_str_eq(out, c->out, "case %zu \"%s\"", i, c->in);
            cr_expect_eq(slash, c->slash, "case %zu \"%s\": trailing slash", i, c->in);
        }
    }
}

Test(url, raw_nul_refused)
{
    static const char in[] = "/a\0/b";
    char out[16];

    cr_assert_eq(url_normalize_path(in, sizeof in - 1, out, sizeof out, NULL), -400);
}

Test(url, high_bytes_kept_raw)
{
    static const char in[] = "/\xff\x80name";
    char out[16];

    cr_assert_eq(url_normalize_path(in, sizeof in - 1, out, sizeof out, NULL), 7);
    cr_assert_eq(memcmp(out, in, 8), 0);
}

Test(url, out_sized_len_plus_one_suffices)
{
    static const char in[] = "/a/b/c/";
    char out[sizeof in]; /* exactly len + 1 */
    bool slash = false;

    cr_assert_eq(url_normalize_path(in, sizeof in - 1, out, sizeof out, &slash), 7);
    cr_assert_str_eq(out, "/a/b/c/");
    cr_assert(slash);
}

Test(url, out_too_small_is_414)
{
    char out[4];

    cr_assert_eq(url_normalize_path("/abcd", 5, out, sizeof out, NULL), -414);
}

Test(url, length_not_nul_bounded)
{
    /* only len bytes count: the rest of the buffer (a query) is not read */
    static const char in[] = "/a/b?x=/../..";
    char out[32];

    cr_assert_eq(url_normalize_path(in, 4, out, sizeof out, NULL), 4);
    cr_assert_str_eq(out, "/a/b");
}

Test(url, route_variant_keeps_encoded_slash)
{
    static const struct {
        const char *in;
        int want;
        const char *out;
        bool encoded_slash;
    } cases[] = {
        {.in = "/api/a%2Fb", .want = 10, .out = "/api/a%2Fb", .encoded_slash = true},
        {.in = "/api/a%2fb/", .want = 11, .out = "/api/a%2Fb/", .encoded_slash = true},
        {.in = "/x/..%2f..%2f", .want = 13, .out = "/x/..%2F..%2F", .encoded_slash = true},
        {.in = "/a/%2e%2e/b%2Fc", .want = 6, .out = "/b%2Fc", .encoded_slash = true},
        {.in = "/a/b", .want = 4, .out = "/a/b", .encoded_slash = false},
        {.in = "/%252F", .want = 4, .out = "/%2F", .encoded_slash = false},
        {.in = "/../a%2Fb", .want = -400},
        {.in = "/a%2Fb%00", .want = -400},
        {.in = "/a%2Fb\\", .want = -400},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        bool slash, enc = !cases[i].encoded_slash, dot;
        int n = url_normalize_path_route(cases[i].in, strlen(cases[i].in), out, sizeof out, &slash,
                                         &enc, &dot);

        cr_expect_eq(n, cases[i].want, "case %zu \"%s\": got %d", i, cases[i].in, n);
        if (n >= 0 && n == cases[i].want)
            cr_expect_str_eq(out, cases[i].out, "case %zu", i);
        cr_expect_eq(enc, cases[i].encoded_slash, "case %zu \"%s\"", i, cases[i].in);
    }
}

/* True when a segment of the normalised path p starts with '.'. */
static bool starts_a_dot_segment(const char *p)
{
    for (size_t i = 1; p[i]; i++)
        if (p[i] == '.' && p[i - 1] == '/')
            return true;
    return false;
}

Test(url, route_normalisation_tells_whether_a_segment_may_start_with_a_dot)
{
    static const struct {
        const char *in;
        bool dot;
    } cases[] = {
        {"/index.html", false}, {"/a/b.c/d.", false},     {"/", false},
        {"/./a", false},        {"/a/../b", false},       {"/a//b", false},
        {"/.env", true},        {"/%2eenv", true},        {"/sub/.git/config", true},
        {"/sub/../.env", true}, {"/sub/%2e%2e/.x", true}, {"//.hidden", true},
        {"/a/.b/..", true}, /* taken away by "..": may, not does */
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        bool slash, enc, dot = !cases[i].dot;
        int n = url_normalize_path_route(cases[i].in, strlen(cases[i].in), out, sizeof out, &slash,
                                         &enc, &dot);

        cr_assert_geq(n, 0, "\"%s\": %d", cases[i].in, n);
        cr_expect_eq(dot, cases[i].dot, "\"%s\" -> \"%s\"", cases[i].in, out);
    }
}

Test(url, percent_decode)
{
    char out[32];

    cr_assert_eq(url_percent_decode("a%20b+c", 7, out, sizeof out, false), 5);
    cr_assert_str_eq(out, "a b+c");
    cr_assert_eq(url_percent_decode("a%20b+c", 7, out, sizeof out, true), 5);
    cr_assert_str_eq(out, "a b c");
    cr_assert_eq(url_percent_decode("%2F%2f", 6, out, sizeof out, false), 2);
    cr_assert_str_eq(out, "//");
    cr_assert_eq(url_percent_decode("x%00y", 5, out, sizeof out, false), 3);
    cr_assert_eq(memcmp(out, "x\0y", 3), 0);
    cr_assert_eq(url_percent_decode("%zz", 3, out, sizeof out, false), -400);
    cr_assert_eq(url_percent_decode("ab%", 3, out, sizeof out, false), -400);
    cr_assert_eq(url_percent_decode("", 0, out, sizeof out, false), 0);
    cr_assert_eq(url_percent_decode("abcd", 4, out, 4, false), -414);
}

Test(url, html_escape)
{
    static const char in[] = "<a href=\"x\">Tom & Jerry's</a>";
    static const char want[] = "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;";
    char out[128];

    cr_assert_eq(url_html_escape(in, sizeof in - 1, out, sizeof out), sizeof want - 1);
    cr_assert_str_eq(out, want);
    cr_assert_eq(url_html_escape("plain", 5, out, sizeof out), 5);
    cr_assert_str_eq(out, "plain");
    cr_assert_eq(url_html_escape("", 0, out, sizeof out), 0);
    cr_assert_str_eq(out, "");
}

Test(url, html_escape_measures_and_truncates_on_entities)
{
    char out[8];

    cr_assert_eq(url_html_escape("a&b&c", 5, NULL, 0), 13);
    /* "a&amp;b" is 7 bytes + NUL: fits exactly */
    cr_assert_eq(url_html_escape("a&b&c", 5, out, 8), 13);
    cr_assert_str_eq(out, "a&amp;b");
    /* 6 bytes of room: the entity does not fit and is not cut */
    cr_assert_eq(url_html_escape("a&b", 3, out, 6), 7);
    cr_assert_str_eq(out, "a");
    cr_assert_eq(url_html_escape("abc", 3, out, 1), 3);
    cr_assert_str_eq(out, "");
}

Test(url, percent_encode_path)
{
    static const char in[] = "/dir/a b&c?d#e%f\"<>\\é~._-/";
    static const char want[] = "/dir/a%20b%26c%3Fd%23e%25f%22%3C%3E%5C%C3%A9~._-/";
    char out[128];

    cr_assert_eq(url_percent_encode_path(in, sizeof in - 1, out, sizeof out), sizeof want - 1);
    cr_assert_str_eq(out, want);
    cr_assert_eq(url_percent_encode_path("AZaz09", 6, out, sizeof out), 6);
    cr_assert_str_eq(out, "AZaz09");
}

Test(url, percent_encode_truncates_on_escapes)
{
    char out[5];

    cr_assert_eq(url_percent_encode_path("a b c", 5, NULL, 0), 9);
    cr_assert_eq(url_percent_encode_path("a b c", 5, out, sizeof out), 9);
    cr_assert_str_eq(out, "a%20"); /* 4 bytes + NUL; the next escape would not fit */
    cr_assert_eq(url_percent_encode_path("ab c", 4, out, 4), 6);
    cr_assert_str_eq(out, "ab");
}

Test(url, percent_encode_round_trips_through_normalize)
{
    static const char *const names[] = {
        "/a b/c", "/100%/x", "/q?/h#", "/\x01\x7f/", "/%2e%2e/", "/a+b=c;d,e", "/\xc0\xae",
    };

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char enc[64], dec[64];
        size_t n = url_percent_encode_path(names[i], strlen(names[i]), enc, sizeof enc);
        int m;

        cr_assert_lt(n, sizeof enc);
        m = url_normalize_path(enc, n, dec, sizeof dec, NULL);
        if (strpbrk(names[i], "\x01\x7f")) {
            cr_expect_eq(m, -400, "controls stay refused after a round trip: %s", enc);
            continue;
        }
        cr_expect_eq(m, (int)strlen(names[i]), "case %zu: %s", i, enc);
        cr_expect_str_eq(dec, names[i], "case %zu", i);
    }
}

/* Normalises in[0..len) both ways (the one-pass path for plain paths and
 * the whole walk) in the strict and the routing variant, and checks that
 * every answer is the same. */
static void same_both_ways(const char *in, size_t len)
{
    char fast[64], full[64];
    bool slash_fast = false, slash_full = false, enc_fast = false, enc_full = false;
    bool dot_fast = false, dot_full = false;
    int a, b;

    memset(fast, 'x', sizeof fast);
    memset(full, 'y', sizeof full);
    a = url_normalize_path(in, len, fast, sizeof fast, &slash_fast);
    b = url_normalize_path_full(in, len, full, sizeof full, &slash_full, NULL, NULL);
    cr_assert_eq(a, b, "\"%.*s\": %d, the whole walk %d", (int)len, in, a, b);
    if (a >= 0) {
        cr_assert_eq(memcmp(fast, full, (size_t)a + 1), 0, "\"%.*s\": \"%s\", not \"%s\"", (int)len,
                     in, fast, full);
        cr_assert_eq(slash_fast, slash_full, "\"%.*s\": the trailing slash", (int)len, in);
    }
    a = url_normalize_path_route(in, len, fast, sizeof fast, &slash_fast, &enc_fast, &dot_fast);
    b = url_normalize_path_full(in, len, full, sizeof full, &slash_full, &enc_full, &dot_full);
    cr_assert_eq(a, b, "route \"%.*s\": %d, the whole walk %d", (int)len, in, a, b);
    cr_assert_eq(enc_fast, enc_full, "route \"%.*s\": the encoded slash", (int)len, in);
    cr_assert_eq(dot_fast, dot_full, "route \"%.*s\": the dot segment", (int)len, in);
    if (a >= 0 && !dot_fast)
        cr_assert_not(starts_a_dot_segment(fast), "route \"%.*s\" -> \"%s\": a dot segment",
                      (int)len, in, fast);
    if (a >= 0) {
        cr_assert_eq(memcmp(fast, full, (size_t)a + 1), 0, "route \"%.*s\": \"%s\", not \"%s\"",
                     (int)len, in, fast, full);
        cr_assert_eq(slash_fast, slash_full, "route \"%.*s\": the trailing slash", (int)len, in);
    }
}

Test(url, plain_paths_in_one_pass_get_the_whole_walks_answers)
{
    /* Every path of up to six bytes after its '/' over bytes that matter
     * to normalising (separators, dots, escapes, refused and high bytes,
     * letters), then the table's paths. */
    static const char alphabet[] = {'/',  '.',    'a',    '%',    '2', 'F',
                                    '\\', '\x01', '\x7f', '\xc3', 'b'};
    enum { K = sizeof alphabet, MAXLEN = 6 };
    char in[MAXLEN + 2];
    size_t total = 1;

    in[0] = '/';
    same_both_ways(in, 1);
    same_both_ways(in, 0);
    for (size_t n = 1; n <= MAXLEN; n++) {
        total *= K;
        for (size_t v = 0; v < total; v++) {
            size_t t = v;

            for (size_t i = 0; i < n; i++, t /= K)
                in[1 + i] = alphabet[t % K];
            same_both_ways(in, n + 1);
        }
    }
    for (size_t i = 0; i < sizeof norm_cases / sizeof norm_cases[0]; i++)
        same_both_ways(norm_cases[i].in, strlen(norm_cases[i].in));
    same_both_ways("/f612.html", 10);
    same_both_ways("a/b", 3);
}
