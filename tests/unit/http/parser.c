/* parser.c - tests of server/http/parser.c: the request table, splits, limits, fields. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

#define CASE_MAX   2048
#define CASES_MAX  400
#define DIGEST_MAX 16384

/* One row of tests/cases/requests.txt. */
struct req_case {
    int expect;
    bool route; /* status decided after the parser: it must accept */
    bool body;  /* the error is in the body, the head is accepted */
    unsigned line;
    size_t len;
    char bytes[CASE_MAX];
    char comment[160];
};

static struct req_case cases[CASES_MAX];
static size_t case_count;

/* ---- the table loader ---- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* C-style escapes (\r \n \t \0 \\ \xHH) of s[0..n) into out; returns the
 * length, or -1 on a bad escape or overflow. */
static long unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        char c = s[i];

        if (c == '\\') {
            if (++i >= n)
                return -1;
            switch (s[i]) {
            case 'r': c = '\r'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case '0': c = '\0'; break;
            case '\\': c = '\\'; break;
            case 'x':
                if (i + 2 >= n || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0)
                    return -1;
                c = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
                i += 2;
                break;
            default: return -1;
            }
        }
        if (o >= cap)
            return -1;
        out[o++] = c;
    }
    return (long)o;
}

/* tests/cases/requests.txt, found from this file's path. */
static void cases_path(char *out, size_t cap)
{
    const char *self = __FILE__;
    const char *tail = strstr(self, "unit/http/parser.c");
    int n = tail ? (int)(tail - self) : 0;

    snprintf(out, cap, "%.*scases/requests.txt", n, self);
}

static void parse_case_line(char *line, unsigned lineno)
{
    char *tab1 = strchr(line, '\t'), *tab2;
    struct req_case *c = &cases[case_count];
    long len;

    cr_assert_not_null(tab1, "requests.txt:%u: no tab", lineno);
    tab2 = strchr(tab1 + 1, '\t');
    cr_assert_not_null(tab2, "requests.txt:%u: no comment", lineno);
    cr_assert_lt(case_count, CASES_MAX, "requests.txt: too many rows");
    *c = (struct req_case){.line = lineno};
    c->expect = (int)strtol(line, NULL, 10);
    cr_assert(c->expect >= 200 && c->expect <= 599, "requests.txt:%u: bad status", lineno);
    len = unescape(tab1 + 1, (size_t)(tab2 - tab1 - 1), c->bytes, sizeof(c->bytes));
    cr_assert_gt(len, 0, "requests.txt:%u: bad escape", lineno);
    c->len = (size_t)len;
    snprintf(c->comment, sizeof(c->comment), "%s", tab2 + 1);
    c->route = strstr(c->comment, "[route]") != NULL;
    c->body = strstr(c->comment, "[body]") != NULL;
    case_count++;
}

static void load_cases(void)
{
    char path[4096], line[4096];
    unsigned lineno = 0;
    FILE *f;

    cases_path(path, sizeof(path));
    f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    case_count = 0;
    while (fgets(line, sizeof(line), f)) {
        size_t n = strlen(line);

        lineno++;
        cr_assert(n > 0 && line[n - 1] == '\n', "requests.txt:%u: line too long", lineno);
        line[n - 1] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        parse_case_line(line, lineno);
    }
    fclose(f);
}

/* ---- a driver: bytes in at given cut points, a digest of everything out ---- */

struct outcome {
    int status;      /* 0 accepted, -1 incomplete, else the error status */
    size_t head_len; /* 0 unless the head was accepted */
    size_t consumed; /* head + body raw bytes used */
    size_t body_len;
    char body[CASE_MAX];
    char digest[DIGEST_MAX]; /* the request, as offsets into the buffer */
};

static struct http_request scratch_req;

static void put_span(char *d, size_t cap, const char *tag, struct http_span s, const char *base,
                     size_t len)
{
    size_t n = strlen(d);

    if (s.len == 0)
        snprintf(d + n, cap - n, " %s=-", tag);
    else if (s.p >= base && s.p + s.len <= base + len)
        snprintf(d + n, cap - n, " %s=%zu+%zu", tag, (size_t)(s.p - base), s.len);
    else
        snprintf(d + n, cap - n, " %s='%.*s'", tag, (int)s.len, s.p);
}

static void digest_request(struct outcome *o, const struct http_request *r, const char *base,
                           size_t len)
{
    unsigned i;

    snprintf(o->digest, sizeof(o->digest),
             "m=%d v=%u.%u cl=%lld ch=%d ka=%d ex=%d up=%d hl=%zu hc=%u", r->method,
             r->version_major, r->version_minor, (long long)r->content_length, r->chunked,
             r->keep_alive, r->expect_continue, r->upgrade, r->head_len, r->header_count);
    put_span(o->digest, sizeof(o->digest), "mn", r->method_name, base, len);
    put_span(o->digest, sizeof(o->digest), "t", r->target, base, len);
    put_span(o->digest, sizeof(o->digest), "p", r->path, base, len);
    put_span(o->digest, sizeof(o->digest), "q", r->query, base, len);
    put_span(o->digest, sizeof(o->digest), "h", r->host, base, len);
    for (i = 0; i < r->header_count; i++) {
        put_span(o->digest, sizeof(o->digest), "n", r->headers[i].name, base, len);
        put_span(o->digest, sizeof(o->digest), "v", r->headers[i].value, base, len);
    }
}

/* The next amount of input available: the next cut, else everything. */
static size_t next_avail(const size_t *cuts, size_t ncuts, size_t *idx, size_t len)
{
    while (*idx < ncuts && cuts[*idx] == 0)
        (*idx)++;
    return *idx < ncuts ? cuts[(*idx)++] : len;
}

/* Feeds the head from a fresh copy of the bytes available (the caller's
 * buffer may move between reads). Returns the head buffer (to free) or NULL. */
static char *drive_head(struct http_parser *p, const char *buf, size_t len, const size_t *cuts,
                        size_t ncuts, size_t *idx, size_t *avail, struct outcome *o)
{
    char *copy = NULL;

    for (;;) {
        int r;

        free(copy);
        copy = malloc(*avail ? *avail : 1);
        cr_assert_not_null(copy);
        memcpy(copy, buf, *avail);
        r = http_parse_head(p, copy, *avail, &scratch_req);
        if (r < 0) {
            o->status = -r;
            break;
        }
        if (r > 0) {
            cr_assert_eq((size_t)r, scratch_req.head_len);
            cr_assert_leq((size_t)r, *avail);
            o->head_len = (size_t)r;
            digest_request(o, &scratch_req, copy, *avail);
            return copy;
        }
        if (*avail == len) {
            o->status = -1;
            break;
        }
        *avail = next_avail(cuts, ncuts, idx, len);
    }
    free(copy);
    return NULL;
}

/* Checks a body call's results and appends its span to o->body. */
static void keep_span(struct outcome *o, const char *in, size_t n, size_t used, const char *out,
                      size_t out_len)
{
    cr_assert_leq(used, n);
    cr_assert(out_len == 0 || (out >= in && out + out_len <= in + n));
    cr_assert_leq(o->body_len + out_len, sizeof(o->body));
    memcpy(o->body + o->body_len, out, out_len);
    o->body_len += out_len;
}

/* Feeds the body the same way; decoded bytes are appended to o->body. */
static void drive_body(struct http_parser *p, const char *buf, size_t len, const size_t *cuts,
                       size_t ncuts, size_t *idx, size_t avail, struct outcome *o)
{
    size_t pos = o->head_len;
    unsigned guard;

    for (guard = 0; guard < 100000; guard++) {
        size_t n = avail - pos, used = 99999, out_len = 99999;
        const char *out = NULL;
        char *copy = malloc(n ? n : 1);
        int r;

        cr_assert_not_null(copy);
        memcpy(copy, buf + pos, n);
        r = http_parse_body(p, copy, n, &used, &out, &out_len);
        if (r >= 0) {
            keep_span(o, copy, n, used, out, out_len);
            cr_assert(r == 0 || out_len == 0, "a span came with the end of the body");
            pos += used;
        }
        free(copy);
        if (r < 0) {
            o->status = -r;
            return;
        }
        if (r == 1) {
            o->consumed = pos;
            return;
        }
        if (out_len == 0) {
            cr_assert_eq(pos, avail, "0 without a span must consume everything");
            if (avail == len) {
                o->status = -1;
                return;
            }
            avail = next_avail(cuts, ncuts, idx, len);
        }
    }
    cr_assert_fail("http_parse_body made no progress");
}

/* Whether drive() makes llhttp read every head (http_parser_always_llhttp). */
static bool drive_always_llhttp;

/* Parses the first request of buf[0..len) with the bytes arriving at the
 * given cut points. */
static void drive(const struct http_limits *lim, const char *buf, size_t len, const size_t *cuts,
                  size_t ncuts, struct outcome *o)
{
    struct http_parser p;
    size_t idx = 0, avail;
    char *head;

    memset(o, 0, sizeof(*o));
    http_parser_init(&p, lim);
    http_parser_always_llhttp(&p, drive_always_llhttp);
    avail = next_avail(cuts, ncuts, &idx, len);
    head = drive_head(&p, buf, len, cuts, ncuts, &idx, &avail, o);
    if (head == NULL)
        return;
    drive_body(&p, buf, len, cuts, ncuts, &idx, avail, o);
    free(head);
}

static void drive_whole(const struct http_limits *lim, const char *buf, size_t len,
                        struct outcome *o)
{
    drive(lim, buf, len, NULL, 0, o);
}

static void expect_same(const struct outcome *a, const struct outcome *b, unsigned line,
                        const char *how)
{
    cr_expect_eq(a->status, b->status, "requests.txt:%u %s: status %d vs %d", line, how, a->status,
                 b->status);
    cr_expect_eq(a->head_len, b->head_len, "requests.txt:%u %s: head_len", line, how);
    cr_expect_eq(a->consumed, b->consumed, "requests.txt:%u %s: consumed", line, how);
    cr_expect_str_eq(a->digest, b->digest, "requests.txt:%u %s: request fields", line, how);
    cr_expect(a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0,
              "requests.txt:%u %s: decoded body differs", line, how);
}

static struct http_limits default_limits;
static struct outcome whole, split;

static void setup(void)
{
    default_limits = http_limits_default();
    load_cases();
}

/* ---- the table ---- */

Test(parser_table, every_row_gets_its_status, .init = setup)
{
    size_t i;

    cr_assert_geq(case_count, 70, "requests.txt has %zu rows", case_count);
    for (i = 0; i < case_count; i++) {
        const struct req_case *c = &cases[i];

        drive_whole(&default_limits, c->bytes, c->len, &whole);
        if (c->expect == 200 || c->route)
            cr_expect_eq(whole.status, 0, "requests.txt:%u (%s): refused with %d", c->line,
                         c->comment, whole.status);
        else
            cr_expect_eq(whole.status, c->expect, "requests.txt:%u (%s): got %d, want %d", c->line,
                         c->comment, whole.status, c->expect);
        if (c->expect != 200 && !c->route)
            cr_expect_eq(whole.head_len > 0, c->body,
                         "requests.txt:%u (%s): [body] must mark exactly the body errors", c->line,
                         c->comment);
    }
}

Test(parser_table, rows_cover_every_status, .init = setup)
{
    static const int wanted[] = {200, 400, 404, 405, 413, 417, 501, 505};
    size_t i, j;

    for (j = 0; j < sizeof(wanted) / sizeof(wanted[0]); j++) {
        bool seen = false;

        for (i = 0; i < case_count; i++)
            seen = seen || cases[i].expect == wanted[j];
        cr_expect(seen, "no row expects %d", wanted[j]);
    }
}

/* Every row gets the same answer, request fields and body whether or not
 * llhttp is made to read the heads it could only confirm. */
Test(parser_table, every_row_is_the_same_with_llhttp_reading_every_head, .init = setup)
{
    static struct outcome slow;

    for (size_t i = 0; i < case_count; i++) {
        const struct req_case *c = &cases[i];

        drive_always_llhttp = false;
        drive_whole(&default_limits, c->bytes, c->len, &whole);
        drive_always_llhttp = true;
        drive_whole(&default_limits, c->bytes, c->len, &slow);
        expect_same(&whole, &slow, c->line, "llhttp reading every head");
    }
}

/* ---- splits: any arrival pattern gives the same answer ---- */

Test(parser_split, one_byte_at_a_time_matches_whole, .init = setup)
{
    static size_t cuts[CASE_MAX];
    size_t i, k;

    for (i = 0; i < case_count; i++) {
        const struct req_case *c = &cases[i];

        for (k = 0; k < c->len; k++)
            cuts[k] = k + 1;
        drive_whole(&default_limits, c->bytes, c->len, &whole);
        drive(&default_limits, c->bytes, c->len, cuts, c->len, &split);
        expect_same(&whole, &split, c->line, "byte by byte");
    }
}

Test(parser_split, cut_at_every_boundary_matches_whole, .init = setup)
{
    size_t i, k;

    for (i = 0; i < case_count; i++) {
        const struct req_case *c = &cases[i];

        drive_whole(&default_limits, c->bytes, c->len, &whole);
        for (k = 1; k < c->len; k++) {
            char how[64];

            snprintf(how, sizeof(how), "cut at %zu", k);
            drive(&default_limits, c->bytes, c->len, &k, 1, &split);
            expect_same(&whole, &split, c->line, how);
        }
    }
}

Test(parser_split, bodies_decode_the_same_in_any_split, .init = setup)
{
    static const char req[] = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5;ext=1\r\nhello\r\n1\r\n,\r\n6\r\n world\r\n0\r\nT: x\r\n\r\n"
                              "GET / HTTP/1.1\r\n";
    size_t len = sizeof(req) - 1, k, j;

    drive_whole(&default_limits, req, len, &whole);
    cr_assert_eq(whole.status, 0);
    cr_assert_eq(whole.body_len, 12);
    cr_assert_arr_eq(whole.body, "hello, world", 12);
    cr_assert_eq(whole.consumed, len - strlen("GET / HTTP/1.1\r\n"));
    for (k = 1; k < len; k++)
        for (j = k + 1; j < len; j += 7) {
            size_t cuts[2] = {k, j};

            drive(&default_limits, req, len, cuts, 2, &split);
            expect_same(&whole, &split, 0, "two cuts in a chunked body");
        }
}

/* ---- limits ---- */

/* A GET whose head is exactly size bytes (size >= 64), padded in one field. */
static char *head_of_size(size_t size, size_t *len)
{
    static const char start[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
    char *b = malloc(size + 1);
    size_t pad = size - (sizeof(start) - 1) - 4;

    cr_assert_not_null(b);
    memcpy(b, start, sizeof(start) - 1);
    memset(b + sizeof(start) - 1, 'p', pad);
    memcpy(b + size - 4, "\r\n\r\n", 4);
    b[size] = '\0';
    *len = size;
    return b;
}

Test(parser_limits, head_of_exactly_max_header_size_is_accepted)
{
    struct http_limits lim = http_limits_default();
    size_t len;
    char *b = head_of_size(lim.max_header_size, &len);

    drive_whole(&lim, b, len, &whole);
    cr_expect_eq(whole.status, 0);
    cr_expect_eq(whole.head_len, lim.max_header_size);
    free(b);
}

Test(parser_limits, head_one_byte_over_is_431_in_any_split)
{
    struct http_limits lim = http_limits_default();
    size_t len, k;
    char *b = head_of_size(lim.max_header_size + 1, &len);

    drive_whole(&lim, b, len, &whole);
    cr_expect_eq(whole.status, 431);
    for (k = len - 8; k < len; k++) {
        drive(&lim, b, len, &k, 1, &split);
        cr_expect_eq(split.status, 431, "cut at %zu", k);
    }
    free(b);
}

Test(parser_limits, a_head_that_never_ends_is_refused_at_the_limit)
{
    struct http_limits lim = http_limits_default();
    struct http_parser p;
    size_t len;
    char *b = head_of_size(lim.max_header_size + 100, &len);

    http_parser_init(&p, &lim);
    cr_expect_eq(http_parse_head(&p, b, lim.max_header_size - 1, &scratch_req), 0);
    cr_expect_eq(http_parse_head(&p, b, lim.max_header_size, &scratch_req), -431);
    free(b);
}

Test(parser_limits, long_request_line_is_414)
{
    struct http_limits lim = http_limits_default();
    size_t len = lim.max_header_size + 64;
    char *b = malloc(len);

    cr_assert_not_null(b);
    memcpy(b, "GET /", 5);
    memset(b + 5, 'a', len - 5);
    drive_whole(&lim, b, len, &whole);
    cr_expect_eq(whole.status, 414);
    /* the request line fits, the fields do not: 431 */
    memcpy(b + 100, " HTTP/1.1\r\nX: ", 14);
    drive_whole(&lim, b, len, &whole);
    cr_expect_eq(whole.status, 431);
    free(b);
}

/* A GET with Host and n - 1 more fields. */
static size_t head_with_fields(char *b, size_t cap, unsigned n)
{
    size_t len = (size_t)snprintf(b, cap, "GET / HTTP/1.1\r\nHost: a\r\n");
    unsigned i;

    for (i = 1; i < n; i++)
        len += (size_t)snprintf(b + len, cap - len, "X-%u: v\r\n", i);
    len += (size_t)snprintf(b + len, cap - len, "\r\n");
    cr_assert_lt(len, cap);
    return len;
}

Test(parser_limits, max_headers_fields_pass_one_more_is_431)
{
    struct http_limits lim = http_limits_default();
    static char b[8192];
    size_t len;

    len = head_with_fields(b, sizeof(b), lim.max_headers);
    drive_whole(&lim, b, len, &whole);
    cr_expect_eq(whole.status, 0);
    len = head_with_fields(b, sizeof(b), lim.max_headers + 1);
    drive_whole(&lim, b, len, &whole);
    cr_expect_eq(whole.status, 431);
}

Test(parser_limits, max_headers_is_capped_at_HTTP_MAX_HEADERS)
{
    struct http_limits lim = http_limits_default();
    static char b[8192];
    size_t len;

    lim.max_headers = 100000;
    len = head_with_fields(b, sizeof(b), HTTP_MAX_HEADERS);
    drive_whole(&lim, b, len, &whole);
    cr_expect_eq(whole.status, 0);
    cr_expect_eq(scratch_req.header_count, HTTP_MAX_HEADERS);
    len = head_with_fields(b, sizeof(b), HTTP_MAX_HEADERS + 1);
    drive_whole(&lim, b, len, &whole);
    cr_expect_eq(whole.status, 431);
}

Test(parser_limits, content_length_over_max_body_size_is_413_before_the_body)
{
    struct http_limits lim = http_limits_default();
    static const char at[] = "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789";
    static const char over[] = "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";

    lim.max_body_size = 10;
    drive_whole(&lim, at, sizeof(at) - 1, &whole);
    cr_expect_eq(whole.status, 0);
    cr_expect_eq(whole.body_len, 10);
    drive_whole(&lim, over, sizeof(over) - 1, &whole);
    cr_expect_eq(whole.status, 413);
}

Test(parser_limits, chunked_body_over_max_body_size_is_413)
{
    struct http_limits lim = http_limits_default();
    static const char at[] = "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    static const char over[] = "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "5\r\nhello\r\n6\r\n";

    lim.max_body_size = 10;
    drive_whole(&lim, at, sizeof(at) - 1, &whole);
    cr_expect_eq(whole.status, 0);
    cr_expect_eq(whole.body_len, 10);
    drive_whole(&lim, over, sizeof(over) - 1, &whole);
    cr_expect_eq(whole.status, 413);
    cr_expect_eq(whole.body_len, 5, "the first chunk was delivered");
}

/* A chunked PUT whose first chunk line is exactly line bytes, CRLF
 * included, built from leading zeros or an extension. */
static size_t chunk_line_request(char *b, size_t cap, size_t line, int zeros)
{
    size_t len = (size_t)snprintf(b, cap,
                                  "PUT / HTTP/1.1\r\nHost: a\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n");
    size_t fill = line - 3; /* "5" + fill + CRLF */

    if (zeros) {
        memset(b + len, '0', fill);
        b[len + fill] = '5';
    } else {
        b[len] = '5';
        b[len + 1] = ';';
        memset(b + len + 2, 'e', fill - 1);
    }
    len += fill + 1;
    len += (size_t)snprintf(b + len, cap - len, "\r\nhello\r\n0\r\n\r\n");
    cr_assert_lt(len, cap);
    return len;
}

Test(parser_limits, chunk_lines_are_capped_at_4_KiB, .init = setup)
{
    static char b[16384];
    size_t len;
    int zeros;

    for (zeros = 0; zeros < 2; zeros++) {
        len = chunk_line_request(b, sizeof(b), 4096, zeros);
        drive_whole(&default_limits, b, len, &whole);
        cr_expect_eq(whole.status, 0, "zeros=%d", zeros);
        cr_expect_eq(whole.body_len, 5);
        len = chunk_line_request(b, sizeof(b), 4097, zeros);
        drive_whole(&default_limits, b, len, &whole);
        cr_expect_eq(whole.status, 400, "zeros=%d", zeros);
    }
}

Test(parser_limits, chunk_line_cap_holds_when_the_line_arrives_in_pieces, .init = setup)
{
    static char b[16384];
    static size_t cuts[64];
    size_t len = chunk_line_request(b, sizeof(b), 4097, true), k;

    for (k = 0; k < 64; k++)
        cuts[k] = 100 + k * 100;
    drive(&default_limits, b, len, cuts, 64, &split);
    cr_expect_eq(split.status, 400);
}

Test(parser_limits, trailers_are_capped_at_max_header_size)
{
    struct http_limits lim = http_limits_default();
    static char b[4096];
    size_t len;

    lim.max_header_size = 512;
    len = (size_t)snprintf(b, sizeof(b),
                           "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                           "chunked\r\n\r\n0\r\nT: %0500d\r\n\r\n",
                           0);
    drive_whole(&lim, b, len, &whole);
    cr_expect_eq(whole.status, 0, "505 trailer bytes");
    len = (size_t)snprintf(b, sizeof(b),
                           "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                           "chunked\r\n\r\n0\r\nT: %0600d\r\n\r\n",
                           0);
    drive_whole(&lim, b, len, &whole);
    cr_expect_eq(whole.status, 431);
}

Test(parser_limits, trailer_cap_wins_over_a_later_error_in_any_split)
{
    struct http_limits lim = http_limits_default();
    static char b[4096];
    size_t len, k;

    lim.max_header_size = 512;
    len = (size_t)snprintf(b, sizeof(b),
                           "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                           "chunked\r\n\r\n0\r\nT: %0600d\rX\r\n\r\n",
                           0);
    drive_whole(&lim, b, len, &whole);
    cr_expect_eq(whole.status, 431);
    for (k = 60; k < len; k += 13) {
        drive(&lim, b, len, &k, 1, &split);
        cr_expect_eq(split.status, 431, "cut at %zu", k);
    }
    /* an error inside the cap stays 400 */
    len = (size_t)snprintf(b, sizeof(b),
                           "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                           "chunked\r\n\r\n0\r\nT: %0400d\rX%0200d\r\n\r\n",
                           0, 0);
    drive_whole(&lim, b, len, &whole);
    cr_expect_eq(whole.status, 400);
}

/* ---- the fields of an accepted request ---- */

static struct http_parser fp;
static struct http_request freq;

static int head(const char *s)
{
    static struct http_limits lim;

    lim = http_limits_default();
    http_parser_init(&fp, &lim);
    return http_parse_head(&fp, s, strlen(s), &freq);
}

static bool span_is(struct http_span s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* The scan passes over plain bytes several at a time: a NUL, a bare CR or a
 * bare LF is refused, and a tab accepted, at every offset of a field value
 * and of the request target. */
Test(parser_fields, control_bytes_are_judged_at_every_offset)
{
    static const char base[] = "GET /0123456789abcdefghij HTTP/1.1\r\n"
                               "Host: a\r\nX-Value: 0123456789abcdefghijklmnopq\r\n\r\n";
    const size_t len = sizeof base - 1, value = (size_t)(strstr(base, "X-Value: ") - base) + 9,
                 target = 5;
    static const char bad[] = {'\0', '\r', '\n'};
    static struct http_limits lim;
    char buf[sizeof base];

    lim = http_limits_default();
    for (size_t k = 0; k < 20; k++) {
        for (size_t b = 0; b < sizeof bad; b++) {
            memcpy(buf, base, len);
            buf[value + 1 + k] = bad[b];
            http_parser_init(&fp, &lim);
            cr_expect_eq(http_parse_head(&fp, buf, len, &freq), -400,
                         "byte 0x%02x at value offset %zu", (unsigned)bad[b], k + 1);
            memcpy(buf, base, len);
            buf[target + k] = bad[b];
            http_parser_init(&fp, &lim);
            cr_expect_eq(http_parse_head(&fp, buf, len, &freq), -400,
                         "byte 0x%02x at target offset %zu", (unsigned)bad[b], k);
        }
        memcpy(buf, base, len);
        buf[value + 1 + k] = '\t';
        http_parser_init(&fp, &lim);
        cr_expect_eq(http_parse_head(&fp, buf, len, &freq), (int)len, "a tab at value offset %zu",
                     k + 1);
    }
}

Test(parser_fields, a_higher_minor_version_is_http11)
{
    const char *s = "GET /v HTTP/1.7\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

    cr_assert_eq(head(s), (int)strlen(s));
    cr_expect_eq(freq.version_major, 1);
    cr_expect_eq(freq.version_minor, 1, "served as the highest minor version implemented");
    cr_expect(freq.keep_alive, "with 1.1's keep-alive by default");
    cr_expect(freq.chunked);
    cr_expect(span_is(freq.path, "/v"));
    cr_expect_eq(head("GET / HTTP/1.0\r\n\r\n"), 18);
    cr_expect_eq(freq.version_minor, 0);
    cr_expect_eq(head("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), -505);
}

Test(parser_fields, origin_form)
{
    const char *s = "\r\nGET /a/b?x=1&y#frag HTTP/1.1\r\nHost:  example.com:8080 \r\n"
                    "Accept:  */*  \r\nX-Empty:\r\n\r\n";

    cr_assert_eq(head(s), (int)strlen(s));
    cr_expect_eq(freq.head_len, strlen(s), "leading CRLF counted");
    cr_expect_eq(freq.method, HTTP_GET);
    cr_expect(span_is(freq.method_name, "GET"));
    cr_expect(span_is(freq.target, "/a/b?x=1&y#frag"));
    cr_expect(span_is(freq.path, "/a/b"));
    cr_expect(span_is(freq.query, "x=1&y"));
    cr_expect(span_is(freq.host, "example.com:8080"));
    cr_expect_eq(freq.version_major, 1);
    cr_expect_eq(freq.version_minor, 1);
    cr_expect_eq(freq.content_length, -1);
    cr_expect(!freq.chunked && freq.keep_alive && !freq.expect_continue && !freq.upgrade);
    cr_expect_eq(freq.header_count, 3);
    cr_expect(span_is(http_request_header(&freq, "accept", 6)->value, "*/*"));
    cr_expect(span_is(http_request_header(&freq, "X-EMPTY", 7)->value, ""));
    cr_expect_null(http_request_header(&freq, "Accept-Encoding", 15));
    cr_expect(!http_request_has_body(&freq));
}

/* The request line's walk splits an origin-form target where split by
 * hand: the path up to the first '?' before any '#', the query from there
 * to the '#' or the end. A '?' and a '#' (or neither) at every pair of
 * offsets of a target long enough for every lane of the eight-byte steps,
 * with llhttp reading the head and without. */
Test(parser_fields, origin_form_splits_at_the_first_question_mark_before_a_fragment)
{
    static const char base[] = "/0123456789abcdef/ghijklmnop";
    const size_t n = sizeof base - 1;
    unsigned checked = 0;

    for (size_t qi = 1; qi <= n; qi++) {
        for (size_t hi = 1; hi <= n; hi++) {
            for (int always = 0; always < 2; always++) {
                static struct http_limits lim;
                char target[sizeof base], req[128];
                const char *q, *h, *path_end;
                int len;

                memcpy(target, base, sizeof base);
                if (qi < n)
                    target[qi] = '?';
                if (hi < n)
                    target[hi] = '#';
                len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", target);
                cr_assert_gt(len, 0);
                lim = http_limits_default();
                http_parser_init(&fp, &lim);
                http_parser_always_llhttp(&fp, always);
                if (http_parse_head(&fp, req, (size_t)len, &freq) != len) {
                    cr_expect(hi < n, "%s refused", target);
                    continue; /* llhttp refuses some fragments */
                }
                h = strchr(target, '#');
                path_end = h ? h : target + n;
                q = memchr(target, '?', (size_t)(path_end - target));
                cr_expect_eq(freq.path.len, (size_t)((q ? q : path_end) - target), "%s", target);
                cr_expect_eq(freq.path.p, req + 4, "%s", target);
                cr_expect_eq(freq.query.p, req + 4 + (q ? q + 1 - target : path_end - target), "%s",
                             target);
                cr_expect_eq(freq.query.len, q ? (size_t)(path_end - q - 1) : 0, "%s", target);
                checked++;
            }
        }
    }
    cr_expect_gt(checked, n * n, "only %u targets were accepted", checked);
}

Test(parser_fields, absolute_form_takes_the_host_from_the_target)
{
    cr_assert_gt(head("GET http://Example.org:81/p?q HTTP/1.1\r\nHost: other\r\n\r\n"), 0);
    cr_expect(span_is(freq.host, "Example.org:81"));
    cr_expect(span_is(freq.path, "/p"));
    cr_expect(span_is(freq.query, "q"));
    cr_assert_gt(head("GET https://example.org?q HTTP/1.1\r\nHost: example.org\r\n\r\n"), 0);
    cr_expect(span_is(freq.path, "/"));
    cr_expect(span_is(freq.query, "q"));
}

Test(parser_fields, asterisk_and_authority_forms)
{
    cr_assert_gt(head("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    cr_expect(span_is(freq.path, "*"));
    cr_assert_gt(head("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n"), 0);
    cr_expect_eq(freq.method, HTTP_CONNECT);
    cr_expect(span_is(freq.host, "example.org:443"));
    cr_expect_eq(freq.path.len, 0);
    cr_expect_eq(head("CONNECT example.org HTTP/1.1\r\nHost: a\r\n\r\n"), -400, "no port");
    cr_expect_eq(head("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"), -400);
    cr_expect_eq(head("CONNECT a:1 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx"), -400);
    cr_expect_eq(head("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n"), -400);
}

/* The indexed field names, lower case, by kind. */
static const char *const indexed_names[HTTP_F_COUNT] = {
    [HTTP_F_HOST] = "host",
    [HTTP_F_CONTENT_LENGTH] = "content-length",
    [HTTP_F_TRANSFER_ENCODING] = "transfer-encoding",
    [HTTP_F_CONNECTION] = "connection",
    [HTTP_F_PROXY_CONNECTION] = "proxy-connection",
    [HTTP_F_UPGRADE] = "upgrade",
    [HTTP_F_EXPECT] = "expect",
    [HTTP_F_ACCEPT] = "accept",
    [HTTP_F_ACCEPT_ENCODING] = "accept-encoding",
    [HTTP_F_IF_MATCH] = "if-match",
    [HTTP_F_IF_NONE_MATCH] = "if-none-match",
    [HTTP_F_IF_MODIFIED_SINCE] = "if-modified-since",
    [HTTP_F_IF_UNMODIFIED_SINCE] = "if-unmodified-since",
    [HTTP_F_IF_RANGE] = "if-range",
    [HTTP_F_RANGE] = "range",
    [HTTP_F_AUTHORIZATION] = "authorization",
    [HTTP_F_CONTENT_TYPE] = "content-type",
    [HTTP_F_REFERER] = "referer",
    [HTTP_F_USER_AGENT] = "user-agent",
    [HTTP_F_X_FORWARDED_FOR] = "x-forwarded-for",
    [HTTP_F_FORWARDED] = "forwarded",
};

/* The kind of a field name, byte by byte: the reference for
 * http_field_kind, which compares a word at a time. */
static enum http_field reference_kind(const char *name, size_t len)
{
    for (int k = 1; k < HTTP_F_COUNT; k++) {
        const char *want = indexed_names[k];
        size_t i = 0;

        if (strlen(want) != len)
            continue;
        while (i < len && (name[i] == want[i] ||
                           (want[i] >= 'a' && want[i] <= 'z' && name[i] == want[i] - 32)))
            i++;
        if (i == len)
            return (enum http_field)k;
    }
    return HTTP_F_OTHER;
}

/* Every indexed name, with every byte value at every offset (the other
 * case of a letter, a near miss, a control byte), gets the kind a
 * byte-by-byte comparison gives. */
Test(parser_fields, field_kinds_match_a_byte_by_byte_comparison)
{
    unsigned matched = 0;

    for (int k = 1; k < HTTP_F_COUNT; k++) {
        const size_t len = strlen(indexed_names[k]);
        char name[32];

        cr_assert_eq(http_field_kind(indexed_names[k], len), (enum http_field)k);
        for (size_t at = 0; at < len; at++) {
            for (unsigned b = 0; b < 256; b++) {
                enum http_field want;

                memcpy(name, indexed_names[k], len);
                name[at] = (char)b;
                want = reference_kind(name, len);
                cr_expect_eq(http_field_kind(name, len), want, "%s with 0x%02x at %zu",
                             indexed_names[k], b, at);
                matched += want == (enum http_field)k;
            }
        }
    }
    cr_expect_gt(matched, 400, "only %u names matched their kind", matched);
}

Test(parser_fields, headers_are_found_by_whole_name_in_any_case)
{
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"x\"\r\nX-A: 1\r\n\r\n";

    cr_assert_eq(head(s), (int)strlen(s));
    cr_expect(span_is(http_request_header_named(&freq, "if-none-match")->value, "\"x\""));
    cr_expect(span_is(http_request_header_named(&freq, "HOST")->value, "a"));
    cr_expect(span_is(http_request_header_named(&freq, "x-a")->value, "1"));
    cr_expect_null(http_request_header_named(&freq, "Hos"), "a prefix of a name is another name");
    cr_expect_null(http_request_header_named(&freq, "Hosts"));
    cr_expect_null(http_request_header_named(&freq, "If-Match"));
    cr_expect_null(http_request_header_named(&freq, "X_A"), "'-' and '_' differ");
    cr_expect_null(http_request_header_named(&freq, ""));
}

Test(parser_fields, indexed_fields_give_the_first_line_of_their_name)
{
    const char *s = "GET / HTTP/1.1\r\nUser-Agent: u\r\nACCEPT: a\r\nHost: h\r\n"
                    "if-none-match: \"1\"\r\nX-If-Range: no\r\nIf-Range-X: no\r\n"
                    "If-None-Match: \"2\"\r\nRange: bytes=0-1\r\n\r\n";

    cr_assert_eq(head(s), (int)strlen(s));
    cr_expect(span_is(http_request_field(&freq, HTTP_F_IF_NONE_MATCH)->value, "\"1\""));
    cr_expect(span_is(http_request_field(&freq, HTTP_F_HOST)->value, "h"));
    cr_expect(span_is(http_request_field(&freq, HTTP_F_ACCEPT)->value, "a"));
    cr_expect(span_is(http_request_field(&freq, HTTP_F_USER_AGENT)->value, "u"));
    cr_expect(span_is(http_request_field(&freq, HTTP_F_RANGE)->value, "bytes=0-1"));
    cr_expect_null(http_request_field(&freq, HTTP_F_IF_RANGE), "only whole names count");
    cr_expect_null(http_request_field(&freq, HTTP_F_IF_MATCH));
    cr_expect_null(http_request_field(&freq, HTTP_F_AUTHORIZATION));
    /* Every indexed name is found as the walk by name finds it. */
    for (int k = HTTP_F_OTHER + 1; k < HTTP_F_COUNT; k++) {
        const struct http_header *h = http_request_field(&freq, (enum http_field)k);

        if (h)
            cr_expect_eq(http_field_kind(h->name.p, h->name.len), k);
    }
    cr_expect_eq(http_field_kind("If-Unmodified-Since", 19), HTTP_F_IF_UNMODIFIED_SINCE);
    cr_expect_eq(http_field_kind("x-forwarded-FOR", 15), HTTP_F_X_FORWARDED_FOR);
    cr_expect_eq(http_field_kind("Accept-Language", 15), HTTP_F_OTHER);
    cr_expect_eq(http_field_kind("Hos", 3), HTTP_F_OTHER);
}

Test(parser_fields, the_index_follows_headers_edited_by_hand)
{
    const char *s = "GET / HTTP/1.1\r\nContent-Type: t\r\nHost: h\r\nIf-Match: \"m\"\r\n\r\n";
    struct http_request *copy = malloc(sizeof *copy);

    cr_assert_eq(head(s), (int)strlen(s));
    cr_assert_not_null(copy);
    *copy = freq;
    copy->headers[0] = copy->headers[2]; /* Content-Type dropped, If-Match first */
    copy->header_count = 2;
    http_request_index(copy);
    cr_expect_null(http_request_field(copy, HTTP_F_CONTENT_TYPE));
    cr_expect(span_is(http_request_field(copy, HTTP_F_HOST)->value, "h"));
    cr_expect(span_is(http_request_field(copy, HTTP_F_IF_MATCH)->value, "\"m\""));
    free(copy);
}

Test(parser_fields, a_host_takes_the_reg_name_characters_of_rfc3986_and_no_other)
{
    const char *ok = "-._~!$&'()*+,;=";

    for (int c = 1; c < 256; c++) {
        char s[64];
        bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    strchr(ok, c) != NULL;
        int n = snprintf(s, sizeof s, "GET / HTTP/1.1\r\nHost: a%cb\r\n\r\n", c);

        cr_assert_gt(n, 0);
        if (want)
            cr_expect_eq(head(s), n, "byte 0x%02x refused", c);
        else
            cr_expect_lt(head(s), 0, "byte 0x%02x accepted", c);
    }
}

/* A Host is a reg-name, an IPv4 address or a bracketed IPv6 literal,
 * then at most one colon and a port of at most five digits. */
Test(parser_fields, a_host_has_one_colon_before_its_port)
{
    static const struct {
        const char *host;
        bool ok;
    } hosts[] = {
        {"a:80", true},       {"a:", true},         {"a%3A:80", true},   {"127.0.0.1:18295", true},
        {"[::1]:8080", true}, {"a:b:80", false},    {":80", false},      {"a:80:", false},
        {"a%2:80", false},    {"a%:80", false},     {"a:123456", false}, {"a:8o", false},
        {"a::80", false},     {"[::1]x:80", false}, {"%41%42", true},    {"a%4", false},
    };

    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        char s[96];
        int n = snprintf(s, sizeof s, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", hosts[i].host);

        cr_assert_gt(n, 0);
        if (hosts[i].ok)
            cr_expect_eq(head(s), n, "Host %s refused", hosts[i].host);
        else
            cr_expect_eq(head(s), -400, "Host %s accepted", hosts[i].host);
    }
}

Test(parser_fields, keep_alive_follows_rfc9112_9_3)
{
    static const struct {
        const char *req;
        bool keep_alive;
    } rows[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", true},
        {"GET / HTTP/1.0\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
        {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n", false},
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cr_assert_gt(head(rows[i].req), 0, "row %zu", i);
        cr_expect_eq(freq.keep_alive, rows[i].keep_alive, "row %zu", i);
    }
}

Test(parser_fields, expect_and_upgrade)
{
    cr_assert_gt(head("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                      "Content-Length: 3\r\n\r\n"),
                 0);
    cr_expect(freq.expect_continue);
    cr_expect_eq(freq.content_length, 3);
    cr_expect(http_request_has_body(&freq));
    cr_assert_gt(head("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"), 0);
    cr_expect(!freq.expect_continue, "ignored in HTTP/1.0 (RFC 9110 10.1.1)");
    cr_assert_gt(head("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
                      "Upgrade: websocket\r\n\r\n"),
                 0);
    cr_expect(freq.upgrade && freq.keep_alive);
    cr_assert_gt(head("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"), 0);
    cr_expect(!freq.upgrade, "Upgrade without the Connection option");
}

Test(parser_fields, chunked_request)
{
    cr_assert_gt(head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"), 0);
    cr_expect(freq.chunked);
    cr_expect_eq(freq.content_length, -1);
    cr_expect(http_request_has_body(&freq));
}

/* ---- bodies, pipelines, state ---- */

Test(parser_body, no_body_completes_at_once_consuming_nothing)
{
    static const char s[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\n";
    const char *out = NULL;
    size_t used = 7, out_len = 7;
    int r = head(s);

    cr_assert_gt(r, 0);
    cr_expect_eq(http_parse_body(&fp, s + r, sizeof(s) - 1 - (size_t)r, &used, &out, &out_len), 1);
    cr_expect_eq(used, 0);
    cr_expect_eq(out_len, 0);
}

Test(parser_body, pipelined_requests_parse_in_order)
{
    static const char s[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                            "PUT /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                            "PUT /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "2\r\nde\r\n0\r\n\r\n"
                            "HEAD /4 HTTP/1.0\r\n\r\n";
    static const char *paths[] = {"/1", "/2", "/3", "/4"};
    static const char *bodies[] = {"", "abc", "de", ""};
    struct http_limits lim = http_limits_default();
    size_t pos = 0, len = sizeof(s) - 1;
    unsigned i;

    http_parser_init(&fp, &lim);
    for (i = 0; i < 4; i++) {
        char body[16] = "";
        size_t body_len = 0;
        int r = http_parse_head(&fp, s + pos, len - pos, &freq), b;

        cr_assert_gt(r, 0, "request %u", i);
        cr_expect(span_is(freq.path, paths[i]));
        pos += (size_t)r;
        do {
            const char *out;
            size_t used, out_len;

            b = http_parse_body(&fp, s + pos, len - pos, &used, &out, &out_len);
            cr_assert_geq(b, 0);
            memcpy(body + body_len, out, out_len);
            body_len += out_len;
            pos += used;
        } while (b == 0);
        cr_expect_eq(body_len, strlen(bodies[i]), "request %u", i);
        cr_expect_arr_eq(body, bodies[i], body_len);
        http_parser_reset(&fp);
    }
    cr_expect_eq(pos, len);
}

Test(parser_body, the_parser_may_move_between_calls)
{
    static const char s[] = "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "3\r\nabc\r\n0\r\n\r\n";
    static struct http_parser moved;
    const char *out;
    size_t used, out_len, pos;
    int r = head(s);

    cr_assert_gt(r, 0);
    pos = (size_t)r;
    memcpy(&moved, &fp, sizeof(fp));
    memset(&fp, 0xa5, sizeof(fp));
    cr_assert_eq(http_parse_body(&moved, s + pos, 6, &used, &out, &out_len), 0);
    cr_expect_eq(out_len, 3);
    cr_expect_arr_eq(out, "abc", 3);
    pos += used;
    memcpy(&fp, &moved, sizeof(fp));
    memset(&moved, 0x5a, sizeof(moved));
    do {
        r = http_parse_body(&fp, s + pos, sizeof(s) - 1 - pos, &used, &out, &out_len);
        pos += used;
    } while (r == 0 && (used > 0 || out_len > 0));
    cr_expect_eq(r, 1);
    cr_expect_eq(pos, sizeof(s) - 1);
}

Test(parser_body, errors_stick_until_reset)
{
    static const char bad[] = "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
    static const char good[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const char *out;
    size_t used, out_len;

    cr_assert_eq(head(bad), -400);
    cr_expect_eq(http_parse_head(&fp, good, sizeof(good) - 1, &freq), -400);
    cr_expect_eq(http_parse_body(&fp, good, 1, &used, &out, &out_len), -400);
    http_parser_reset(&fp);
    cr_expect_eq(http_parse_head(&fp, good, sizeof(good) - 1, &freq), (int)sizeof(good) - 1);
}

Test(parser_body, a_bad_chunk_after_good_data_keeps_the_good_data_out, .init = setup)
{
    static const char s[] = "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "3\r\nabc\r\nzz\r\n";

    drive_whole(&default_limits, s, sizeof(s) - 1, &whole);
    cr_expect_eq(whole.status, 400);
    cr_expect_eq(whole.body_len, 3);
}

/* ---- field lines llhttp is not given ---- */

static int ref_pause(llhttp_t *ll)
{
    (void)ll;
    return HPE_PAUSED;
}

/* Strict llhttp's verdict on a whole head, every field line included. */
static bool llhttp_accepts(const char *s, size_t len)
{
    llhttp_settings_t settings;
    llhttp_t ll;

    llhttp_settings_init(&settings);
    settings.on_headers_complete = ref_pause;
    llhttp_init(&ll, HTTP_REQUEST, &settings);
    return llhttp_execute(&ll, s, len) == HPE_PAUSED && llhttp_get_error_pos(&ll) == s + len;
}

/* llhttp reads only the field lines its framing depends on; the others are
 * judged by the parser itself, and so are Connection and Proxy-Connection
 * lines in a head without a framing field (llhttp is then not run). Every
 * byte value (but NUL, CR and LF, which the scan refuses first) at every
 * offset of such a field's name and value gets the answer strict llhttp
 * gives over the whole head, also with llhttp made to read every head: a
 * server that let a control byte through, or refused a valid one, fails
 * here. A Connection head that is accepted is accepted without llhttp. */
Test(parser_fields, other_field_lines_are_judged_as_llhttp_would)
{
    /* a short name, one long enough for the eight-byte steps of the name
     * check in every lane, and the connection fields (values that start
     * with each token llhttp matches, long enough for every lane) */
    static const struct {
        const char *head, *field;
    } bases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\nX-Name: 0123456789abcdef\r\n\r\n", "X-"},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-Long-Field-Name-01: 0123456789abcdef\r\n\r\n", "X-"},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close,upgrade\r\n\r\n",
         "Connection"},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close, keep-alive 0123\r\n\r\n", "Connection"},
        {"GET / HTTP/1.0\r\nProxy-Connection: upgrade,, keep-alive\r\n\r\n", "Proxy-Connection"},
    };
    static struct http_limits lim;
    char buf[128];
    unsigned checked = 0, refused = 0;

    lim = http_limits_default();
    for (size_t k = 0; k < sizeof bases / sizeof bases[0]; k++) {
        const char *base = bases[k].head;
        const size_t len = strlen(base), name = (size_t)(strstr(base, bases[k].field) - base),
                     colon = (size_t)(strchr(base + name, ':') - base), value = colon + 2,
                     value_end = (size_t)(strstr(base + value, "\r\n") - base);

        cr_assert_lt(len, sizeof buf);
        for (unsigned b = 1; b < 256; b++) {
            if (b == '\r' || b == '\n')
                continue;
            for (size_t at = name; at < value_end; at++) {
                bool ref;
                int got;

                if (at == colon || at == colon + 1)
                    continue; /* the colon and the space after it */
                memcpy(buf, base, len);
                buf[at] = (char)b;
                if (at == name && (b == ' ' || b == '\t' || b == ':')) {
                    /* obs-fold and an empty name: refused before llhttp (it
                     * would take both) */
                    http_parser_init(&fp, &lim);
                    cr_expect_eq(http_parse_head(&fp, buf, len, &freq), -400, "byte 0x%02x first",
                                 b);
                    continue;
                }
                ref = llhttp_accepts(buf, len);
                http_parser_init(&fp, &lim);
                got = http_parse_head(&fp, buf, len, &freq);
                cr_expect_eq(got, ref ? (int)len : -400,
                             "%s: byte 0x%02x at head offset %zu: %d, llhttp %s", bases[k].field, b,
                             at, got, ref ? "accepts" : "refuses");
                cr_expect(got < 0 || !fp.ll_ready, "%s: byte 0x%02x at %zu: llhttp ran",
                          bases[k].field, b, at);
                http_parser_init(&fp, &lim);
                http_parser_always_llhttp(&fp, true);
                cr_expect_eq(http_parse_head(&fp, buf, len, &freq), got,
                             "%s: byte 0x%02x at head offset %zu: llhttp reading it disagrees",
                             bases[k].field, b, at);
                checked++;
                refused += !ref;
            }
        }
    }
    cr_expect_gt(refused, 3000, "the reference refused only %u of %u heads", refused, checked);
    cr_expect_gt(checked - refused, 3000, "the reference accepted only %u of %u heads",
                 checked - refused, checked);
}

/* One request through the parser with llhttp allowed to skip the head
 * (fast) or made to read it: the answer, and the fields as a digest. */
static int parse_one(const char *buf, size_t len, bool always_llhttp, struct outcome *o,
                     bool *llhttp_ran)
{
    static struct http_limits lim;
    int r;

    lim = http_limits_default();
    memset(o, 0, sizeof(*o));
    http_parser_init(&fp, &lim);
    http_parser_always_llhttp(&fp, always_llhttp);
    r = http_parse_head(&fp, buf, len, &freq);
    if (r > 0)
        digest_request(o, &freq, buf, len);
    *llhttp_ran = fp.ll_ready; /* white-box: llhttp was initialised */
    return r;
}

/* One byte of a target replaced, parsed with llhttp allowed to skip the
 * head and made to read it: both give the same answer and fields, and,
 * past the target's first byte and but for what the scan refuses first
 * (NUL, CR, LF) and two spaces before the version (the request line has
 * single spaces; llhttp skips any number there), strict llhttp's own
 * answer over the whole head (a
 * version above 1.1 given to it as 1.1, the version served, which llhttp
 * 8.1 would refuse). Returns whether the head was accepted without
 * llhttp. */
static bool target_byte_agrees(const char *base, size_t at, unsigned b, bool *refused)
{
    static struct outcome fast, slow;
    const size_t len = strlen(base), minor = (size_t)(strstr(base, " HTTP/1.") - base) + 8;
    char buf[128], ref[128];
    bool fast_ll, slow_ll;
    int rf, rs;

    cr_assert_lt(len, sizeof buf);
    memcpy(buf, base, len);
    buf[at] = (char)b;
    rf = parse_one(buf, len, false, &fast, &fast_ll);
    rs = parse_one(buf, len, true, &slow, &slow_ll);
    cr_expect_eq(rf, rs, "%s byte 0x%02x at %zu: %d, with llhttp %d", base, b, at, rf, rs);
    cr_expect_str_eq(fast.digest, slow.digest, "%s byte 0x%02x at %zu", base, b, at);
    cr_expect(slow_ll || rs < 0, "made to read every head, llhttp did not");
    memcpy(ref, buf, len);
    if (ref[minor] > '1')
        ref[minor] = '1';
    if (buf[at - 1] == ' ')
        cr_expect_eq(rf > 0, b == '/', "%s target starting 0x%02x: %d", base, b, rf);
    else if (b != '\0' && b != '\r' && b != '\n' && !(b == ' ' && buf[at + 1] == ' '))
        cr_expect_eq(rf > 0, llhttp_accepts(ref, len), "%s byte 0x%02x at %zu: %d, llhttp %s", base,
                     b, at, rf, llhttp_accepts(ref, len) ? "accepts" : "refuses");
    if (rf > 0 && b > 0x20 && b < 0x7f && b != '#')
        cr_expect(!fast_ll, "%s byte 0x%02x at %zu: llhttp read a plain head", base, b, at);
    if (rf > 0 && b == '#')
        cr_expect(fast_ll, "%s a fragment at %zu went past llhttp", base, at);
    *refused = rf < 0;
    return rf > 0 && !fast_ll;
}

/* A GET or HEAD without a field line llhttp reads is accepted without
 * llhttp when its target holds only bytes strict llhttp takes there:
 * every byte value at every offset of a target (its start, its path, its
 * query; the path long enough for the eight-byte steps of the check) gets
 * the same answer either way, and llhttp's own; the plain bytes are really
 * accepted without llhttp. */
Test(parser_fields, targets_get_the_same_answer_with_and_without_llhttp)
{
    static const char *const heads[] = {
        "GET /0123456789abcdef/ghij?klmnopqrstu=vw HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n",
        "HEAD /a1b?c2d HTTP/1.0\r\n\r\n",
        "GET /a1b?c2d HTTP/1.4\r\nHost: a\r\n\r\n",
    };
    unsigned skipped = 0, refused = 0, tried = 0;

    for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
        const char *base = heads[h];
        const size_t start = (size_t)(strchr(base, '/') - base);
        const size_t end = (size_t)(strstr(base, " HTTP/") - base);

        for (size_t at = start; at < end; at++) {
            for (unsigned b = 0; b < 256; b++) {
                bool no;

                skipped += target_byte_agrees(base, at, b, &no);
                refused += no;
                tried++;
            }
        }
    }
    cr_expect_gt(skipped, tried / 3, "only %u of %u heads were accepted without llhttp", skipped,
                 tried);
    cr_expect_gt(refused, tried / 3, "only %u of %u heads were refused", refused, tried);
}
