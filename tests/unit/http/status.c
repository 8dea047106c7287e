/* status.c - tests for server/http/status.c: reason phrases and error bodies. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "http/status.h"

struct status_case {
    int code;
    const char *reason;
};

/* The reason phrases of RFC 9110 §15 (and RFC 6585 for 428, 429, 431). */
static const struct status_case cases[] = {
    {.code = 100, .reason = "Continue"},
    {.code = 101, .reason = "Switching Protocols"},
    {.code = 200, .reason = "OK"},
    {.code = 201, .reason = "Created"},
    {.code = 204, .reason = "No Content"},
    {.code = 206, .reason = "Partial Content"},
    {.code = 301, .reason = "Moved Permanently"},
    {.code = 302, .reason = "Found"},
    {.code = 303, .reason = "See Other"},
    {.code = 304, .reason = "Not Modified"},
    {.code = 307, .reason = "Temporary Redirect"},
    {.code = 308, .reason = "Permanent Redirect"},
    {.code = 400, .reason = "Bad Request"},
    {.code = 403, .reason = "Forbidden"},
    {.code = 404, .reason = "Not Found"},
    {.code = 405, .reason = "Method Not Allowed"},
    {.code = 408, .reason = "Request Timeout"},
    {.code = 411, .reason = "Length Required"},
    {.code = 412, .reason = "Precondition Failed"},
    {.code = 413, .reason = "Content Too Large"},
    {.code = 414, .reason = "URI Too Long"},
    {.code = 415, .reason = "Unsupported Media Type"},
    {.code = 416, .reason = "Range Not Satisfiable"},
    {.code = 417, .reason = "Expectation Failed"},
    {.code = 421, .reason = "Misdirected Request"},
    {.code = 422, .reason = "Unprocessable Content"},
    {.code = 426, .reason = "Upgrade Required"},
    {.code = 428, .reason = "Precondition Required"},
    {.code = 429, .reason = "Too Many Requests"},
    {.code = 431, .reason = "Request Header Fields Too Large"},
    {.code = 500, .reason = "Internal Server Error"},
    {.code = 501, .reason = "Not Implemented"},
    {.code = 502, .reason = "Bad Gateway"},
    {.code = 503, .reason = "Service Unavailable"},
    {.code = 504, .reason = "Gateway Timeout"},
    {.code = 505, .reason = "HTTP Version Not Supported"},
};

Test(status, every_code_has_reason_and_body)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct status_case *c = &cases[i];
        char want[64];
        size_t len = 0;
        const char *body;

        snprintf(want, sizeof want, "%d %s\n", c->code, c->reason);
        cr_expect_str_eq(http_status_reason(c->code), c->reason, "%d", c->code);
        cr_expect(http_status_known(c->code), "%d", c->code);
        body = http_status_body(c->code, &len);
        cr_expect_str_eq(body, want, "%d", c->code);
        cr_expect_eq(len, strlen(want), "%d", c->code);
    }
}

Test(status, other_rfc9110_codes)
{
    cr_expect_str_eq(http_status_reason(401), "Unauthorized");
    cr_expect_str_eq(http_status_reason(406), "Not Acceptable");
    cr_expect_str_eq(http_status_reason(410), "Gone");
    cr_expect_str_eq(http_status_reason(451), "Unavailable For Legal Reasons");
}

Test(status, unknown_codes)
{
    static const int unknown[] = {0, -1, 99, 102, 299, 418, 499, 599, 600, 1000, 65536};
    size_t len = 0;

    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        cr_expect_str_eq(http_status_reason(unknown[i]), "Unknown", "%d", unknown[i]);
        cr_expect_not(http_status_known(unknown[i]), "%d", unknown[i]);
        cr_expect_str_eq(http_status_body(unknown[i], &len), "Unknown Status\n");
        cr_expect_eq(len, 15);
    }
    cr_expect_str_eq(http_status_body(404, NULL), "404 Not Found\n");
}

Test(status, allows_body)
{
    cr_expect_not(http_status_allows_body(100));
    cr_expect_not(http_status_allows_body(101));
    cr_expect_not(http_status_allows_body(204));
    cr_expect_not(http_status_allows_body(304));
    cr_expect(http_status_allows_body(200));
    cr_expect(http_status_allows_body(206));
    cr_expect(http_status_allows_body(404));
    cr_expect(http_status_allows_body(500));
}
