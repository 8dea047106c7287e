/* router.c - tests of http/router.c: host groups, whole-segment prefixes, fallback, remainder. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "http/router.h"

/* Two kinds, opaque to the router: it copies a route's kind and never reads it. */
static const char kind_a, kind_b;
#define KIND_A ((const struct handler_kind *)(const void *)&kind_a)
#define KIND_B ((const struct handler_kind *)(const void *)&kind_b)

/* The route table every matching case runs against; a case names the
 * expected route by its index here. */
static const struct route table[] = {
    [0] = {.kind = KIND_A, .host = NULL, .prefix = "/"},
    [1] = {.kind = KIND_A, .host = NULL, .prefix = "/api"},
    [2] = {.kind = KIND_A, .host = "", .prefix = "/cgi-bin/"},
    [3] = {.kind = KIND_A, .host = NULL, .prefix = "/api/v2"},
    [4] = {.kind = KIND_A, .host = "example.com", .prefix = "/"},
    [5] = {.kind = KIND_B, .host = "example.com", .prefix = "/docs"},
    [6] = {.kind = KIND_A, .host = "*.example.com", .prefix = "/"},
    [7] = {.kind = KIND_A, .host = "*.dev.example.com", .prefix = "/x"},
    [8] = {.kind = KIND_B, .host = "only.test", .prefix = "/special"},
    [9] = {.kind = KIND_A, .host = "Mixed.Case.ORG.", .prefix = "/"},
    [10] = {.kind = KIND_A, .host = "*.wild.test", .prefix = "/w/"},
};

#define N_TABLE (sizeof(table) / sizeof(table[0]))

struct match_case {
    const char *host; /* Host header value, NULL for none */
    const char *path;
    int route;        /* index in table, -1 for no route */
    const char *rest; /* expected path below the prefix */
};

static const struct match_case cases[] = {
    /* exact host, longest prefix in its group, segment boundaries */
    {.host = "example.com", .path = "/", .route = 4, .rest = "/"},
    {.host = "example.com", .path = "/docs", .route = 5, .rest = "/"},
    {.host = "example.com", .path = "/docs/", .route = 5, .rest = "/"},
    {.host = "example.com", .path = "/docs/a/b.html", .route = 5, .rest = "/a/b.html"},
    {.host = "example.com", .path = "/docsx", .route = 4, .rest = "/docsx"},
    {.host = "example.com", .path = "/api/x", .route = 4, .rest = "/api/x"},
    /* host case, :port, trailing dot */
    {.host = "EXAMPLE.COM", .path = "/docs/a", .route = 5, .rest = "/a"},
    {.host = "Example.Com:8080", .path = "/docs/a", .route = 5, .rest = "/a"},
    {.host = "example.com.", .path = "/docs", .route = 5, .rest = "/"},
    {.host = "example.com.:443", .path = "/", .route = 4, .rest = "/"},
    {.host = "mixed.case.org", .path = "/a", .route = 9, .rest = "/a"},
    {.host = "MIXED.case.org:1", .path = "/", .route = 9, .rest = "/"},
    /* wildcards: longest suffix first, never the bare domain, label boundary */
    {.host = "a.example.com", .path = "/api", .route = 6, .rest = "/api"},
    {.host = "A.B.EXAMPLE.COM", .path = "/", .route = 6, .rest = "/"},
    {.host = "a.dev.example.com", .path = "/x/y", .route = 7, .rest = "/y"},
    {.host = "a.dev.example.com", .path = "/x", .route = 7, .rest = "/"},
    {.host = "a.dev.example.com", .path = "/y", .route = 6, .rest = "/y"},
    {.host = "dev.example.com", .path = "/x", .route = 6, .rest = "/x"},
    {.host = "xexample.com", .path = "/", .route = 0, .rest = "/"},
    {.host = "example.com.evil", .path = "/api", .route = 1, .rest = "/"},
    /* fallback: the host's group has no matching prefix */
    {.host = "only.test", .path = "/special/a", .route = 8, .rest = "/a"},
    {.host = "only.test", .path = "/special", .route = 8, .rest = "/"},
    {.host = "only.test", .path = "/other", .route = 0, .rest = "/other"},
    {.host = "only.test", .path = "/api/v2/z", .route = 3, .rest = "/z"},
    {.host = "a.wild.test", .path = "/w/1", .route = 10, .rest = "/1"},
    {.host = "a.wild.test", .path = "/cgi-bin/t.sh", .route = 2, .rest = "/t.sh"},
    /* any host: longest whole-segment prefix */
    {.host = NULL, .path = "/api", .route = 1, .rest = "/"},
    {.host = "", .path = "/apix", .route = 0, .rest = "/apix"},
    {.host = "h", .path = "/api/", .route = 1, .rest = "/"},
    {.host = "h", .path = "/api/x", .route = 1, .rest = "/x"},
    {.host = "h", .path = "/api/v2", .route = 3, .rest = "/"},
    {.host = "h", .path = "/api/v21", .route = 1, .rest = "/v21"},
    {.host = "h", .path = "/cgi-bin", .route = 2, .rest = "/"},
    {.host = "h", .path = "/cgi-bin/", .route = 2, .rest = "/"},
    {.host = "h", .path = "/cgi-bin/x/y", .route = 2, .rest = "/x/y"},
    {.host = "h", .path = "/cgi-binx", .route = 0, .rest = "/cgi-binx"},
    {.host = "[::1]:8080", .path = "/a", .route = 0, .rest = "/a"},
    {.host = "127.0.0.1:8080", .path = "/api/v2/", .route = 3, .rest = "/"},
};

static struct router *build(const struct route *routes, size_t n)
{
    struct router *r = NULL;
    int rc = router_new(&r, routes, n, NULL);

    cr_assert_eq(rc, 0, "router_new: %d", rc);
    cr_assert_not_null(r);
    return r;
}

/* The router's copy of table[i] is found again by kind, host and prefix. */
static bool same_route(const struct route *got, int want)
{
    return got->kind == table[want].kind && got->prefix == table[want].prefix &&
           got->host == table[want].host;
}

Test(router, table_driven_matching)
{
    struct router *r = build(table, N_TABLE);

    cr_assert_eq(router_count(r), N_TABLE);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct match_case *c = &cases[i];
        const struct route *got =
            router_match(r, c->host, c->host ? strlen(c->host) : 0, c->path, strlen(c->path));
        const char *rest;
        size_t rest_len;

        if (c->route < 0) {
            cr_expect_null(got, "case %zu (%s %s): expected no route", i, c->host, c->path);
            continue;
        }
        cr_assert_not_null(got, "case %zu (%s %s): no route", i, c->host, c->path);
        cr_expect(same_route(got, c->route), "case %zu (%s %s): got %s%s, want %s%s", i, c->host,
                  c->path, got->host ? got->host : "", got->prefix,
                  table[c->route].host ? table[c->route].host : "", table[c->route].prefix);
        rest = route_rest(got, c->path, strlen(c->path), &rest_len);
        cr_expect(rest_len == strlen(c->rest) && memcmp(rest, c->rest, rest_len) == 0,
                  "case %zu (%s %s): rest '%.*s', want '%s'", i, c->host, c->path, (int)rest_len,
                  rest, c->rest);
    }
    router_free(r);
}

Test(router, no_route_without_any_host_routes)
{
    static const struct route routes[] = {
        {.kind = KIND_A, .host = "example.com", .prefix = "/"},
        {.kind = KIND_A, .host = NULL, .prefix = "/only"},
    };
    struct router *r = build(routes, 2);

    cr_expect_null(router_match(r, "other.org", 9, "/", 1));
    cr_expect_null(router_match(r, "other.org", 9, "/onlyx", 6));
    cr_expect_not_null(router_match(r, "other.org", 9, "/only/x", 7));
    cr_expect_not_null(router_match(r, "example.com", 11, "/anything", 9));
    router_free(r);
}

Test(router, uses_lengths_not_terminators)
{
    static const struct route routes[] = {
        {.kind = KIND_A, .host = "a.test", .prefix = "/a"},
        {.kind = KIND_A, .host = NULL, .prefix = "/"},
    };
    struct router *r = build(routes, 2);
    const char *host = "a.testXYZ", *path = "/a/b?query";
    const struct route *got = router_match(r, host, 6, path, 4);
    const char *rest;
    size_t rest_len;

    cr_assert_not_null(got);
    cr_expect_str_eq(got->prefix, "/a");
    rest = route_rest(got, path, 4, &rest_len);
    cr_expect_eq(rest_len, 2);
    cr_expect_eq(memcmp(rest, "/b", 2), 0);
    /* "a.tes" is not "a.test": falls back to the any-host route. */
    got = router_match(r, host, 5, path, 4);
    cr_expect_str_eq(got->prefix, "/");
    router_free(r);
}

Test(router, empty_table_matches_nothing)
{
    struct router *r = build(NULL, 0);

    cr_expect_null(router_match(r, "x", 1, "/", 1));
    cr_expect_eq(router_count(r), 0);
    router_free(r);
}

Test(router, duplicates_are_refused)
{
    static const struct route dup_prefix[] = {
        {.kind = KIND_A, .prefix = "/"},
        {.kind = KIND_A, .prefix = "/api"},
        {.kind = KIND_B, .prefix = "/api/"},
    };
    static const struct route dup_host[] = {
        {.kind = KIND_A, .host = "Example.COM", .prefix = "/"},
        {.kind = KIND_B, .host = "example.com.", .prefix = "/"},
    };
    struct router *r = NULL;
    struct router_error err = {0};

    cr_expect_eq(router_new(&r, dup_prefix, 3, &err), -EEXIST);
    cr_expect_eq(err.index, 2);
    cr_expect_eq(err.other, 1);
    cr_expect_eq(router_new(&r, dup_host, 2, &err), -EEXIST);
    cr_expect_eq(err.index, 1);
    cr_expect_eq(err.other, 0);
    cr_expect_null(r);
}

Test(router, malformed_patterns_are_refused)
{
    static const char *const bad_hosts[] = {
        "*.", "*", "a..b", "exa mple.com", "host:80", "*example.com", ".example.com", "a.*.com"};
    struct router *r = NULL;
    struct router_error err = {.index = 99};
    struct route bad = {.kind = KIND_A, .prefix = "api"};

    cr_expect_eq(router_new(&r, &bad, 1, &err), -EINVAL, "prefix without '/'");
    cr_expect_eq(err.index, 0);
    bad.prefix = "/";
    for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
        bad.host = bad_hosts[i];
        cr_expect_eq(router_new(&r, &bad, 1, NULL), -EINVAL, "host '%s'", bad_hosts[i]);
    }
    cr_expect_null(r);
}

Test(router, same_match_ignores_kind_case_dot_and_trailing_slash)
{
    struct route a = {.kind = KIND_A, .host = "Example.com", .prefix = "/api/"};
    struct route b = {.kind = KIND_B, .host = "example.COM.", .prefix = "/api"};
    struct route c = {.kind = KIND_A, .host = NULL, .prefix = "/api"};
    struct route d = {.kind = KIND_A, .host = "*.example.com", .prefix = "/api"};

    cr_expect(router_same_match(&a, &b));
    cr_expect_not(router_same_match(&a, &c));
    cr_expect_not(router_same_match(&b, &d));
    c.host = "";
    c.prefix = "/";
    d.host = NULL;
    d.prefix = "/";
    cr_expect(router_same_match(&c, &d));
}

Test(router, route_keeps_name_file_line_and_conf)
{
    int conf = 42;
    struct route routes[] = {
        {.kind = KIND_B,
         .prefix = "/old",
         .conf = &conf,
         .name = "[redirect /old]",
         .file = "site.ini",
         .line = 7},
    };
    struct router *r = build(routes, 1);
    const struct route *got = router_match(r, NULL, 0, "/old/page", 9);

    cr_assert_not_null(got);
    cr_expect_eq(got->conf, &conf);
    cr_expect_str_eq(got->name, "[redirect /old]");
    cr_expect_str_eq(got->file, "site.ini");
    cr_expect_eq(got->line, 7);
    cr_expect_eq(got->kind, KIND_B);
    router_free(r);
}
