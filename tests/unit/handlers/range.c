/* range.c - tests for server/handlers/range.c: Range parsing and multipart/byteranges framing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/range.h"

struct range_case {
    const char *value;
    uint64_t size;
    int want;               /* count, 0 (ignore) or -416 */
    struct http_range r[4]; /* the first ranges expected */
};

#define K 10000 /* the representation size of RFC 9110's examples */

static const struct range_case cases[] = {
    /* RFC 9110 §14.1.2 examples */
    {.value = "bytes=0-499", .size = K, .want = 1, .r = {{0, 499}}},
    {.value = "bytes=500-999", .size = K, .want = 1, .r = {{500, 999}}},
    {.value = "bytes=-500", .size = K, .want = 1, .r = {{9500, 9999}}},
    {.value = "bytes=9500-", .size = K, .want = 1, .r = {{9500, 9999}}},
    {.value = "bytes=0-0,-1", .size = K, .want = 2, .r = {{0, 0}, {9999, 9999}}},
    {.value = "bytes= 0-999, 4500-5499, -1000",
     .size = K,
     .want = 3,
     .r = {{0, 999}, {4500, 5499}, {9000, 9999}}},
    {.value = "bytes=500-600,601-999", .size = K, .want = 1, .r = {{500, 999}}},
    {.value = "bytes=500-700,601-999", .size = K, .want = 1, .r = {{500, 999}}},
    /* single bytes, whole representations */
    {.value = "bytes=0-0", .size = 1, .want = 1, .r = {{0, 0}}},
    {.value = "bytes=0-", .size = 1, .want = 1, .r = {{0, 0}}},
    {.value = "bytes=-1", .size = 1, .want = 1, .r = {{0, 0}}},
    {.value = "bytes=9999-", .size = K, .want = 1, .r = {{9999, 9999}}},
    {.value = "bytes=0-9999", .size = K, .want = 1, .r = {{0, 9999}}},
    /* suffix longer than the representation, end clipped */
    {.value = "bytes=-20000", .size = K, .want = 1, .r = {{0, 9999}}},
    {.value = "bytes=-10000", .size = K, .want = 1, .r = {{0, 9999}}},
    {.value = "bytes=0-20000", .size = K, .want = 1, .r = {{0, 9999}}},
    {.value = "bytes=5000-18446744073709551615", .size = K, .want = 1, .r = {{5000, 9999}}},
    /* unsatisfiable ones are dropped, or 416 when none is left */
    {.value = "bytes=10000-", .size = K, .want = -416},
    {.value = "bytes=10000-10005", .size = K, .want = -416},
    {.value = "bytes=-0", .size = K, .want = -416},
    {.value = "bytes=-0,10000-,20000-30000", .size = K, .want = -416},
    {.value = "bytes=18446744073709551615-", .size = K, .want = -416},
    {.value = "bytes=10000-,0-1", .size = K, .want = 1, .r = {{0, 1}}},
    {.value = "bytes=-0,5-5", .size = K, .want = 1, .r = {{5, 5}}},
    /* unit case, whitespace, empty list elements, leading zeros */
    {.value = "BYTES=0-1", .size = K, .want = 1, .r = {{0, 1}}},
    {.value = "Bytes=0-1", .size = K, .want = 1, .r = {{0, 1}}},
    {.value = "bytes=0-1 , 3-4", .size = K, .want = 2, .r = {{0, 1}, {3, 4}}},
    {.value = "bytes=0-1,\t3-4", .size = K, .want = 2, .r = {{0, 1}, {3, 4}}},
    {.value = "bytes=0-1,,3-4", .size = K, .want = 2, .r = {{0, 1}, {3, 4}}},
    {.value = "bytes=, ,0-1", .size = K, .want = 1, .r = {{0, 1}}},
    {.value = "bytes=0-1, ", .size = K, .want = 1, .r = {{0, 1}}},
    {.value = "bytes=0000000000000000000000000001-02", .size = K, .want = 1, .r = {{1, 2}}},
    /* sorting and merging: overlap, adjacency, containment */
    {.value = "bytes=0-10,5-20", .size = K, .want = 1, .r = {{0, 20}}},
    {.value = "bytes=0-9,10-19", .size = K, .want = 1, .r = {{0, 19}}},
    {.value = "bytes=0-9,11-19", .size = K, .want = 2, .r = {{0, 9}, {11, 19}}},
    {.value = "bytes=50-59,0-9", .size = K, .want = 2, .r = {{0, 9}, {50, 59}}},
    {.value = "bytes=0-100,10-20", .size = K, .want = 1, .r = {{0, 100}}},
    {.value = "bytes=9000-,-500", .size = K, .want = 1, .r = {{9000, 9999}}},
    {.value = "bytes=30-39,0-9,20-29,10-19", .size = K, .want = 1, .r = {{0, 39}}},
    {.value = "bytes=-1,0-0,9998-9998", .size = K, .want = 2, .r = {{0, 0}, {9998, 9999}}},
    {.value = "bytes=0-,0-,0-", .size = K, .want = 1, .r = {{0, 9999}}},
    /* malformed: ignored, the whole representation is sent */
    {.value = "", .size = K, .want = 0},
    {.value = "bytes", .size = K, .want = 0},
    {.value = "bytes=", .size = K, .want = 0},
    {.value = "bytes=,", .size = K, .want = 0},
    {.value = "bytes= ", .size = K, .want = 0},
    {.value = "items=0-1", .size = K, .want = 0},
    {.value = "bytes =0-1", .size = K, .want = 0},
    {.value = "byte=0-1", .size = K, .want = 0},
    {.value = "bytes\x1d"
              "0-1",
     .size = K,
     .want = 0},
    {.value = "bytes=1-0", .size = K, .want = 0},
    {.value = "bytes=a-b", .size = K, .want = 0},
    {.value = "bytes=0-1;x", .size = K, .want = 0},
    {.value = "bytes=--1", .size = K, .want = 0},
    {.value = "bytes=-", .size = K, .want = 0},
    {.value = "bytes=0 -1", .size = K, .want = 0},
    {.value = "bytes=0- 1", .size = K, .want = 0},
    {.value = "bytes=+1-2", .size = K, .want = 0},
    {.value = "bytes=0x10-", .size = K, .want = 0},
    {.value = "bytes=0-1,x", .size = K, .want = 0},
    {.value = "bytes=0-1 3-4", .size = K, .want = 0},
    {.value = "bytes=18446744073709551616-", .size = K, .want = 0},
    {.value = "bytes=0-18446744073709551616", .size = K, .want = 0},
    {.value = "bytes=-18446744073709551616", .size = K, .want = 0},
    {.value = "bytes=99999999999999999999999-", .size = K, .want = 0},
    /* an empty representation: only a suffix is satisfiable, and has no byte */
    {.value = "bytes=0-0", .size = 0, .want = -416},
    {.value = "bytes=0-", .size = 0, .want = -416},
    {.value = "bytes=-0", .size = 0, .want = -416},
    {.value = "bytes=-1", .size = 0, .want = 0},
    {.value = "bytes=0-,-5", .size = 0, .want = 0},
    {.value = "bytes=x", .size = 0, .want = 0},
};

Test(range, parse_table)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct range_case *c = &cases[i];
        struct http_range out[RANGE_MAX];
        int n = range_parse(c->value, strlen(c->value), c->size, out, RANGE_MAX);

        cr_expect_eq(n, c->want, "case %zu \"%s\" size %llu: got %d, want %d", i, c->value,
                     (unsigned long long)c->size, n, c->want);
        for (int k = 0; n == c->want && k < n && k < 4; k++) {
            cr_expect_eq(out[k].first, c->r[k].first, "case %zu \"%s\" range %d first", i, c->value,
                         k);
            cr_expect_eq(out[k].last, c->r[k].last, "case %zu \"%s\" range %d last", i, c->value,
                         k);
        }
    }
}

/* Builds "bytes=" and count specs "i*mul-i*mul" (or "i*mul-" when open). */
static void build(char *buf, size_t cap, int count, bool open, int mul)
{
    size_t len = (size_t)snprintf(buf, cap, "bytes=");

    for (int i = 0; i < count; i++) {
        if (open)
            len += (size_t)snprintf(buf + len, cap - len, "%d-", i * mul);
        else
            len += (size_t)snprintf(buf + len, cap - len, "%d-%d", i * mul, i * mul);
        if (i + 1 < count)
            len += (size_t)snprintf(buf + len, cap - len, ",");
    }
    cr_assert_lt(len, cap);
}

Test(range, many_ranges_up_to_the_cap)
{
    char v[4096];
    struct http_range out[RANGE_MAX];
    int n;

    build(v, sizeof v, RANGE_MAX, false, 2); /* 0-0,2-2,4-4...: no merging */
    n = range_parse(v, strlen(v), K, out, RANGE_MAX);
    cr_assert_eq(n, RANGE_MAX);
    for (int i = 0; i < n; i++) {
        cr_expect_eq(out[i].first, (uint64_t)(2 * i));
        cr_expect_eq(out[i].last, (uint64_t)(2 * i));
    }
    build(v, sizeof v, RANGE_MAX + 1, false, 2);
    cr_assert_eq(range_parse(v, strlen(v), K, out, RANGE_MAX), 0, "17 ranges: whole file");
}

Test(range, caller_cap_below_range_max)
{
    struct http_range out[2];

    cr_assert_eq(range_parse("bytes=0-0,5-5", 13, K, out, 2), 2);
    cr_assert_eq(range_parse("bytes=0-0,5-5,9-9", 17, K, out, 2), 0);
    cr_assert_eq(range_parse("bytes=0-0,1-1,2-2", 17, K, out, 1), 1);
    cr_assert_eq(out[0].last, 2);
}

Test(range, many_specs_that_merge)
{
    char v[4096];
    struct http_range out[RANGE_MAX];

    /* 100 specs, all adjacent: one range */
    build(v, sizeof v, RANGE_SPECS_MAX, false, 1);
    cr_assert_eq(range_parse(v, strlen(v), K, out, RANGE_MAX), 1);
    cr_assert_eq(out[0].first, 0);
    cr_assert_eq(out[0].last, RANGE_SPECS_MAX - 1);
    /* the same 100 overlapping "0-" specs (the "Apache killer" shape): one range */
    build(v, sizeof v, RANGE_SPECS_MAX, true, 0);
    cr_assert_eq(range_parse(v, strlen(v), K, out, RANGE_MAX), 1);
    cr_assert_eq(out[0].last, K - 1);
    /* one more spec than allowed: ignored */
    build(v, sizeof v, RANGE_SPECS_MAX + 1, false, 1);
    cr_assert_eq(range_parse(v, strlen(v), K, out, RANGE_MAX), 0);
}

Test(range, total_never_exceeds_size)
{
    static const char *const values[] = {
        "bytes=0-,0-,-10000,500-",
        "bytes=-1,-2,-3,-9999",
        "bytes=0-9999,1-9998,2-9997",
    };

    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct http_range out[RANGE_MAX];
        int n = range_parse(values[i], strlen(values[i]), K, out, RANGE_MAX);
        uint64_t total = 0;

        cr_assert_gt(n, 0);
        for (int k = 0; k < n; k++)
            total += out[k].last - out[k].first + 1;
        cr_expect_leq(total, K, "%s", values[i]);
    }
}

Test(range, only_len_bytes_read)
{
    struct http_range out[RANGE_MAX];

    cr_assert_eq(range_parse("bytes=0-1xyz", 9, K, out, RANGE_MAX), 1);
    cr_assert_eq(out[0].last, 1);
    cr_assert_eq(range_parse(NULL, 0, K, out, RANGE_MAX), 0);
}

Test(range, content_range_formats)
{
    char out[RANGE_CONTENT_RANGE_MAX];
    struct http_range r = {.first = 0, .last = 499};
    struct http_range big = {.first = UINT64_MAX - 1, .last = UINT64_MAX - 1};

    cr_assert_eq(range_format_content_range(out, sizeof out, &r, K), 17);
    cr_assert_str_eq(out, "bytes 0-499/10000");
    cr_assert_eq(range_format_unsatisfied(out, sizeof out, K), 13);
    cr_assert_str_eq(out, "bytes */10000");
    cr_assert_eq(range_format_unsatisfied(out, sizeof out, 0), 9);
    cr_assert_str_eq(out, "bytes */0");
    cr_assert_lt(range_format_content_range(out, sizeof out, &big, UINT64_MAX), sizeof out);
    cr_assert_str_eq(out, "bytes 18446744073709551614-18446744073709551614/18446744073709551615");
    /* too small: the length is still reported, out is empty */
    cr_assert_eq(range_format_content_range(out, 17, &r, K), 17);
    cr_assert_str_eq(out, "");
    cr_assert_eq(range_format_content_range(NULL, 0, &r, K), 17);
}

Test(range, boundary)
{
    char a[RANGE_BOUNDARY_LEN + 1], b[RANGE_BOUNDARY_LEN + 1], c[RANGE_BOUNDARY_LEN + 1];

    cr_assert_eq(range_boundary_format(a, sizeof a, 1), RANGE_BOUNDARY_LEN);
    cr_assert_eq(range_boundary_format(b, sizeof b, 2), RANGE_BOUNDARY_LEN);
    cr_assert_eq(range_boundary_format(c, sizeof c, 1), RANGE_BOUNDARY_LEN);
    cr_assert_eq(strlen(a), RANGE_BOUNDARY_LEN);
    cr_assert_str_neq(a, b);
    cr_assert_str_eq(a, c);
    cr_assert_eq(strspn(a, "0123456789abcdefghijklmnopqrstuvwxyz"), RANGE_BOUNDARY_LEN);
}

Test(range, part_header_and_closing_text)
{
    char out[256];
    struct http_range r = {.first = 0, .last = 0};
    size_t n = range_format_part_header(out, sizeof out, "B", 1, "text/plain", 10, &r, 5);

    cr_assert_eq(n, strlen(out));
    cr_assert_str_eq(out, "\r\n--B\r\nContent-Type: text/plain\r\n"
                          "Content-Range: bytes 0-0/5\r\n\r\n");
    cr_assert_eq(range_format_closing(out, sizeof out, "B", 1), 9);
    cr_assert_str_eq(out, "\r\n--B--\r\n");
}

/* Produces the whole multipart body the way the static handler streams it. */
static size_t produce(char *buf, size_t cap, const char *body, uint64_t size,
                      const struct http_range *r, size_t n, const char *boundary, const char *type)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        size_t part = r[i].last - r[i].first + 1;

        len += range_format_part_header(buf + len, cap - len, boundary, strlen(boundary), type,
                                        strlen(type), &r[i], size);
        cr_assert_lt(len + part, cap);
        memcpy(buf + len, body + r[i].first, part);
        len += part;
    }
    len += range_format_closing(buf + len, cap - len, boundary, strlen(boundary));
    cr_assert_lt(len, cap);
    return len;
}

Test(range, multipart_length_equals_produced_bytes)
{
    static const char *const values[] = {
        "bytes=0-0,-1", "bytes=0-99,200-299,-50", "bytes=1-1,3-3,5-5,7-7,9-9,11-11",
        "bytes=0-",     "bytes=100-,0-9",         "bytes=990-,-5,0-0",
    };
    const uint64_t size = 1000;
    char body[1000];
    char boundary[RANGE_BOUNDARY_LEN + 1];
    const char *type = "text/html; charset=utf-8";
    size_t cap = 64 * 1024;
    char *buf = malloc(cap);

    cr_assert_not_null(buf);
    for (size_t i = 0; i < size; i++)
        body[i] = (char)('a' + i % 26);
    range_boundary_format(boundary, sizeof boundary, 42);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct http_range r[RANGE_MAX];
        int n = range_parse(values[i], strlen(values[i]), size, r, RANGE_MAX);
        size_t produced;

        cr_assert_gt(n, 0, "%s", values[i]);
        produced = produce(buf, cap, body, size, r, (size_t)n, boundary, type);
        cr_expect_eq(range_multipart_length(r, (size_t)n, boundary, strlen(boundary), type,
                                            strlen(type), size),
                     produced, "%s", values[i]);
        /* the first part's body follows its header */
        cr_expect_eq(memcmp(buf + range_format_part_header(NULL, 0, boundary, strlen(boundary),
                                                           type, strlen(type), &r[0], size),
                            body + r[0].first, r[0].last - r[0].first + 1),
                     0);
    }
    free(buf);
}
