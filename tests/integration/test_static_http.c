/* Integration: static responses: validators, conditional requests, ranges, multipart, HEAD. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"
#include "test_static_util.h"

#define BIG_SIZE   (100 * 1024)
#define SMALL      "0123456789abcdefghij"
#define MTIME      1700000000 /* Tue, 14 Nov 2023 22:13:20 GMT */
#define MTIME_TEXT "Tue, 14 Nov 2023 22:13:20 GMT"
#define OLDER_TEXT "Tue, 14 Nov 2023 22:13:19 GMT"
#define NEWER_TEXT "Tue, 14 Nov 2023 22:13:21 GMT"

static struct daemon d;
static unsigned char big[BIG_SIZE];

static void set_mtime(const char *rel)
{
    char path[600];
    struct timeval tv[2] = {{.tv_sec = MTIME}, {.tv_sec = MTIME}};

    snprintf(path, sizeof path, "%s/%s", d.root, rel);
    cr_assert_eq(utimes(path, tv), 0);
}

static void start(void)
{
    for (size_t i = 0; i < BIG_SIZE; i++)
        big[i] = (unsigned char)((i * 7) ^ (i >> 9));
    daemon_start(&d, "[static /]\nroot = %ROOT%\ncache_control = max-age=10\n");
    site_write(&d, "big.bin", big, BIG_SIZE);
    site_write(&d, "small.txt", SMALL, strlen(SMALL));
    set_mtime("big.bin");
    set_mtime("small.txt");
}

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0); }

TestSuite(static_http, .init = start, .fini = stop);

/* The file behind a target, for checking slices. */
static const unsigned char *content_of(const char *target, size_t *size)
{
    if (strcmp(target, "/big.bin") == 0) {
        *size = BIG_SIZE;
        return big;
    }
    *size = strlen(SMALL);
    return (const unsigned char *)SMALL;
}

static void etag_of(const char *target, char *etag, size_t cap)
{
    struct st_resp r = st_get(d.port, target, "");

    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert_not_null(st_header(&r, "ETag", etag, cap), "%s", r.raw);
    st_free(&r);
}

/* GET target with one extra header line; checks the status. */
static struct st_resp get_with(const char *target, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct st_resp get_with(const char *target, int status, const char *fmt, ...)
{
    char headers[1024];
    va_list ap;
    struct st_resp r;

    va_start(ap, fmt);
    vsnprintf(headers, sizeof headers, fmt, ap);
    va_end(ap);
    r = st_get(d.port, target, headers);
    cr_assert_eq(r.status, status, "%s with %s: %s", target, headers, r.raw);
    return r;
}

Test(static_http, validators_and_accept_ranges_on_200)
{
    const char *targets[] = {"/big.bin", "/small.txt"};

    for (size_t i = 0; i < 2; i++) {
        size_t size;
        const unsigned char *data = content_of(targets[i], &size);
        struct st_resp r = st_get(d.port, targets[i], "");
        char v[128];

        cr_assert_eq(r.status, 200, "%s", r.raw);
        cr_assert(st_body_is(&r, data, size), "%s: body differs", targets[i]);
        cr_assert_str_eq(st_header(&r, "Last-Modified", v, sizeof v), MTIME_TEXT);
        cr_assert_str_eq(st_header(&r, "Accept-Ranges", v, sizeof v), "bytes");
        cr_assert_str_eq(st_header(&r, "Cache-Control", v, sizeof v), "max-age=10");
        cr_assert_not_null(st_header(&r, "ETag", v, sizeof v));
        cr_assert(strlen(v) > 2 && v[0] == '"' && v[strlen(v) - 1] == '"', "strong ETag: %s", v);
        st_free(&r);
    }
}

Test(static_http, if_none_match_and_if_modified_since_give_304)
{
    char etag[128], v[128];
    struct st_resp r;

    etag_of("/big.bin", etag, sizeof etag);
    r = get_with("/big.bin", 304, "If-None-Match: %s\r\n", etag);
    cr_assert_eq(r.body_len, 0, "304 has no body: %s", r.raw);
    cr_assert_null(st_header(&r, "Content-Length", v, sizeof v), "%s", r.raw);
    cr_assert_str_eq(st_header(&r, "ETag", v, sizeof v), etag);
    cr_assert_str_eq(st_header(&r, "Last-Modified", v, sizeof v), MTIME_TEXT);
    cr_assert_str_eq(st_header(&r, "Cache-Control", v, sizeof v), "max-age=10");
    st_free(&r);
    r = get_with("/big.bin", 304, "If-None-Match: \"zzz\", W/%s\r\n", etag);
    st_free(&r);
    r = get_with("/big.bin", 304, "If-None-Match: *\r\n");
    st_free(&r);
    r = get_with("/big.bin", 200, "If-None-Match: \"zzz\"\r\n");
    cr_assert_eq(r.body_len, BIG_SIZE);
    st_free(&r);
    r = get_with("/small.txt", 304, "If-Modified-Since: " MTIME_TEXT "\r\n");
    st_free(&r);
    r = get_with("/small.txt", 304, "If-Modified-Since: " NEWER_TEXT "\r\n");
    st_free(&r);
    r = get_with("/small.txt", 200, "If-Modified-Since: " OLDER_TEXT "\r\n");
    st_free(&r);
    r = get_with("/small.txt", 200, "If-Modified-Since: not a date\r\n");
    st_free(&r);
    /* If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2). */
    r = get_with("/small.txt", 200,
                 "If-None-Match: \"zzz\"\r\nIf-Modified-Since: " MTIME_TEXT "\r\n");
    st_free(&r);
    r = st_request(d.port, "HEAD", "/small.txt", "If-Modified-Since: " MTIME_TEXT "\r\n");
    cr_assert_eq(r.status, 304, "%s", r.raw);
    st_free(&r);
}

Test(static_http, if_match_and_if_unmodified_since_give_412)
{
    char etag[128];
    struct st_resp r;

    etag_of("/small.txt", etag, sizeof etag);
    r = get_with("/small.txt", 412, "If-Match: \"zzz\"\r\n");
    cr_assert_not(st_contains(&r, SMALL));
    st_free(&r);
    r = get_with("/small.txt", 412, "If-Match: W/%s\r\n", etag); /* strong comparison */
    st_free(&r);
    r = get_with("/small.txt", 200, "If-Match: \"zzz\", %s\r\n", etag);
    cr_assert(st_body_is(&r, SMALL, strlen(SMALL)));
    st_free(&r);
    r = get_with("/small.txt", 200, "If-Match: *\r\n");
    st_free(&r);
    r = get_with("/small.txt", 412, "If-Unmodified-Since: " OLDER_TEXT "\r\n");
    st_free(&r);
    r = get_with("/small.txt", 200, "If-Unmodified-Since: " MTIME_TEXT "\r\n");
    st_free(&r);
    /* With If-Match, If-Unmodified-Since is not evaluated. */
    r = get_with("/small.txt", 200, "If-Match: %s\r\nIf-Unmodified-Since: " OLDER_TEXT "\r\n",
                 etag);
    st_free(&r);
    /* If-Match is evaluated before If-None-Match. */
    r = get_with("/small.txt", 412, "If-Match: \"zzz\"\r\nIf-None-Match: %s\r\n", etag);
    st_free(&r);
}

static void check_single(const char *target, const char *range, uint64_t first, uint64_t last)
{
    size_t size;
    const unsigned char *data = content_of(target, &size);
    char v[128], want[128];
    struct st_resp r = get_with(target, 206, "Range: %s\r\n", range);

    snprintf(want, sizeof want, "bytes %llu-%llu/%zu", (unsigned long long)first,
             (unsigned long long)last, size);
    cr_assert_str_eq(st_header(&r, "Content-Range", v, sizeof v), want, "%s %s", target, range);
    cr_assert(st_body_is(&r, data + first, (size_t)(last - first + 1)), "%s %s: %s", target, range,
              r.raw);
    cr_assert_not_null(st_header(&r, "ETag", v, sizeof v));
    st_free(&r);
}

Test(static_http, single_ranges)
{
    const char *targets[] = {"/big.bin", "/small.txt"};

    for (size_t i = 0; i < 2; i++) {
        size_t size;

        content_of(targets[i], &size);
        check_single(targets[i], "bytes=0-9", 0, 9);
        check_single(targets[i], "bytes=5-5", 5, 5);
        check_single(targets[i], "bytes=-7", size - 7, size - 1);
        check_single(targets[i], "bytes=12-", 12, size - 1);
        check_single(targets[i], "bytes=3-99999999", 3, size - 1);
        check_single(targets[i], "bytes=-99999999", 0, size - 1);
        check_single(targets[i], "bytes=0-3,2-8", 0, 8); /* merged */
    }
    check_single("/big.bin", "bytes=1000-60999", 1000, 60999);
}

/* Parses a multipart/byteranges body and checks every part against the file. */
static void check_multipart(const char *target, const char *range, const uint64_t (*want)[2],
                            size_t n)
{
    size_t size, delim_len;
    const unsigned char *data = content_of(target, &size);
    char ctype[256], delim[300], v[256], part_type[128];
    struct st_resp r = get_with(target, 206, "Range: %s\r\n", range);
    const char *p = r.body, *end = r.body + r.body_len, *boundary;

    cr_assert_not_null(st_header(&r, "Content-Type", ctype, sizeof ctype), "%s", r.raw);
    cr_assert_eq(strncmp(ctype, "multipart/byteranges; boundary=", 31), 0, "%s", ctype);
    boundary = ctype + 31;
    cr_assert_str_eq(st_header(&r, "Content-Length", v, sizeof v),
                     (snprintf(part_type, sizeof part_type, "%zu", r.body_len), part_type));
    snprintf(part_type, sizeof part_type, "%s",
             strcmp(target, "/big.bin") == 0 ? "application/octet-stream"
                                             : "text/plain; charset=utf-8");
    delim_len = (size_t)snprintf(delim, sizeof delim, "\r\n--%s\r\n", boundary);
    for (size_t i = 0; i < n; i++) {
        char expect[256];
        const char *head_end;
        uint64_t len = want[i][1] - want[i][0] + 1;

        cr_assert(end - p >= (long)delim_len && memcmp(p, delim, delim_len) == 0,
                  "part %zu delimiter", i);
        p += delim_len;
        head_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        cr_assert_not_null(head_end);
        snprintf(expect, sizeof expect, "Content-Type: %s\r\nContent-Range: bytes %llu-%llu/%zu",
                 part_type, (unsigned long long)want[i][0], (unsigned long long)want[i][1], size);
        cr_assert((size_t)(head_end - p) == strlen(expect) &&
                      memcmp(p, expect, strlen(expect)) == 0,
                  "part %zu head: %.*s", i, (int)(head_end - p), p);
        p = head_end + 4;
        cr_assert((uint64_t)(end - p) >= len && memcmp(p, data + want[i][0], len) == 0,
                  "part %zu bytes", i);
        p += len;
    }
    snprintf(delim, sizeof delim, "\r\n--%s--\r\n", boundary);
    cr_assert((size_t)(end - p) == strlen(delim) && memcmp(p, delim, strlen(delim)) == 0,
              "closing delimiter ends the body");
    st_free(&r);
}

Test(static_http, multiple_ranges_are_multipart)
{
    const uint64_t small[][2] = {{0, 1}, {5, 9}, {18, 19}};
    const uint64_t big3[][2] = {{0, 9999}, {50000, 70000}, {BIG_SIZE - 10, BIG_SIZE - 1}};
    const uint64_t big2[][2] = {{10, 19}, {30, 39}};

    check_multipart("/small.txt", "bytes=0-1,5-9,-2", small, 3);
    check_multipart("/big.bin", "bytes=0-9999, 50000-70000, -10", big3, 3);
    check_multipart("/big.bin", "bytes=30-39,10-19", big2, 2); /* sorted */
}

Test(static_http, unsatisfiable_range_is_416)
{
    const char *ranges[] = {"bytes=200000-", "bytes=102400-102500", "bytes=-0"};
    char v[128];

    for (size_t i = 0; i < 3; i++) {
        struct st_resp r = get_with("/big.bin", 416, "Range: %s\r\n", ranges[i]);

        cr_assert_str_eq(st_header(&r, "Content-Range", v, sizeof v), "bytes */102400");
        cr_assert_lt(r.body_len, 100);
        st_free(&r);
    }
}

Test(static_http, malformed_ranges_are_ignored)
{
    const char *ranges[] = {"bytes=abc", "items=0-1", "bytes=5-1",
                            "bytes 0-1", "bytes=--1", "bytes=0-1;x"};

    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        struct st_resp r = get_with("/small.txt", 200, "Range: %s\r\n", ranges[i]);

        cr_assert(st_body_is(&r, SMALL, strlen(SMALL)), "%s", ranges[i]);
        st_free(&r);
    }
}

Test(static_http, if_range_with_etag_or_date)
{
    char etag[128];
    struct st_resp r;

    etag_of("/small.txt", etag, sizeof etag);
    r = get_with("/small.txt", 206, "Range: bytes=0-3\r\nIf-Range: %s\r\n", etag);
    cr_assert(st_body_is(&r, "0123", 4));
    st_free(&r);
    r = get_with("/small.txt", 200, "Range: bytes=0-3\r\nIf-Range: \"other\"\r\n");
    cr_assert(st_body_is(&r, SMALL, strlen(SMALL)));
    st_free(&r);
    r = get_with("/small.txt", 200, "Range: bytes=0-3\r\nIf-Range: W/%s\r\n", etag);
    st_free(&r);
    r = get_with("/small.txt", 206, "Range: bytes=0-3\r\nIf-Range: " MTIME_TEXT "\r\n");
    cr_assert(st_body_is(&r, "0123", 4));
    st_free(&r);
    r = get_with("/small.txt", 200, "Range: bytes=0-3\r\nIf-Range: " OLDER_TEXT "\r\n");
    st_free(&r);
}

Test(static_http, head_has_the_headers_and_ignores_range)
{
    char v[128];
    struct st_resp r = st_request(d.port, "HEAD", "/big.bin", "Range: bytes=0-9\r\n");

    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert_str_eq(st_header(&r, "Content-Length", v, sizeof v), "102400");
    cr_assert_str_eq(st_header(&r, "Content-Type", v, sizeof v), "application/octet-stream");
    cr_assert_str_eq(st_header(&r, "Last-Modified", v, sizeof v), MTIME_TEXT);
    cr_assert_not_null(st_header(&r, "ETag", v, sizeof v));
    cr_assert_eq(r.body_len, 0);
    st_free(&r);
}

Test(static_http, curl_gets_a_range)
{
    char out[256];

    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS -r 1000-60999 -o %s/part http://127.0.0.1:%u/big.bin && "
                         "dd if=%s/big.bin of=%s/want bs=1000 skip=1 count=60 status=none && "
                         "cmp %s/part %s/want && echo same",
                         d.dir, d.port, d.root, d.dir, d.dir, d.dir),
                 0, "%s", out);
    cr_assert_str_eq(out, "same\n");
}

Test(static_http, pipelined_partial_and_conditional_answers_keep_the_framing)
{
    char etag[128], req[2048];
    size_t len;
    int fd, n;
    char *out;
    size_t tail_len;

    etag_of("/small.txt", etag, sizeof etag);
    n = snprintf(req, sizeof req,
                 "GET /small.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,5-6\r\n\r\n"
                 "GET /small.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n"
                 "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=999999-\r\n\r\n"
                 "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9999,20000-29999\r\n\r\n"
                 "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n",
                 etag);
    fd = tcp_connect(d.port);
    cr_assert(tcp_send_all(fd, req, (size_t)n));
    out = read_responses(fd, 5, HARNESS_WAIT_MS, &len);
    close(fd);
    cr_assert_eq(responses_complete(out, len, false), 5, "%.2000s", out);
    cr_assert(strstr(out, "HTTP/1.1 206 "));
    cr_assert(strstr(out, "HTTP/1.1 304 "));
    cr_assert(strstr(out, "HTTP/1.1 416 "));
    tail_len = strlen("\r\n\r\n" SMALL);
    cr_assert(len > tail_len && memcmp(out + len - tail_len, "\r\n\r\n" SMALL, tail_len) == 0,
              "the last answer ends the stream");
    free(out);
}

Test(static_http, http10_gets_whole_bodies_and_a_close)
{
    const char *req = "GET /small.txt HTTP/1.0\r\nRange: bytes=0-1,4-5\r\n\r\n";
    size_t len;
    bool closed;
    char *out = raw_exchange(d.port, req, strlen(req), HARNESS_WAIT_MS, &len, &closed);
    char v[128];

    cr_assert_eq(response_status(out), 206, "%s", out);
    cr_assert(closed);
    cr_assert_not_null(response_header(out, "Content-Length", v, sizeof v), "%s", out);
    cr_assert(strstr(out, "\r\n\r\n01\r\n") && strstr(out, "\r\n\r\n45\r\n"), "%s", out);
    free(out);
}
