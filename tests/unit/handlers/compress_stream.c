/* Unit tests of server/handlers/compress_stream.c: a proxied response head read and rewritten. */
#include <criterion/criterion.h>
#include <string.h>

#include "handlers/compress_stream.h"

#define HEAD                                                                                       \
    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 5000\r\n"        \
    "ETag: \"abc\"\r\nX-Other: kept\r\n\r\n"

#define PARTIAL                                                                                    \
    "HTTP/1.1 206 Partial\r\nContent-Range: bytes 0-1/9\r\nContent-Encoding: gzip\r\n\r\n"

Test(compress_stream, a_raw_head_says_what_decides_compression)
{
    struct cstream_head h;

    cstream_raw_parse(HEAD, strlen(HEAD), &h);
    cr_expect_eq(h.status, 200);
    cr_assert_not_null(h.type);
    cr_expect_eq(h.type_len, strlen("text/html; charset=utf-8"));
    cr_expect_eq(strncmp(h.type, "text/html; charset=utf-8", h.type_len), 0);
    cr_expect_not(h.has_encoding);
    cr_expect_not(h.has_range);
    cstream_raw_parse(PARTIAL, strlen(PARTIAL), &h);
    cr_expect_eq(h.status, 206);
    cr_expect_null(h.type);
    cr_expect(h.has_encoding);
    cr_expect(h.has_range);
}

Test(compress_stream, without_a_compressor_a_raw_head_is_left_alone)
{
    char head[256] = HEAD;
    size_t len = strlen(HEAD);

    cr_expect_eq(cstream_raw_head(NULL, head, &len, sizeof head), 0);
    cr_expect_eq(len, strlen(HEAD));
    cr_expect_str_eq(head, HEAD);
}
