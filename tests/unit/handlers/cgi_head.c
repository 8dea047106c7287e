/* cgi_head.c - tests for server/handlers/cgi_head.c: the script-header parser. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "handlers/cgi_head.h"

static int parse(const char *text, struct cgi_head *h, const char **why)
{
    *why = NULL;
    return cgi_head_parse(text, strlen(text), 16384, h, why);
}

static bool field_is(const struct cgi_field *f, const char *name, const char *value)
{
    return f->name_len == strlen(name) && memcmp(f->name, name, f->name_len) == 0 &&
           f->value_len == strlen(value) && memcmp(f->value, value, f->value_len) == 0;
}

Test(cgi_head, a_block_with_lf_or_crlf_endings)
{
    struct cgi_head h;
    const char *why;
    const char *lf = "Content-Type: text/html\nX-A:  spaced value \t\n\nbody";
    const char *crlf = "Content-Type: text/html\r\nX-A: v\r\n\r\nbody";

    cr_assert_eq(parse(lf, &h, &why), (int)(strlen(lf) - 4));
    cr_expect_eq(h.status, 0);
    cr_expect(h.has_content_type);
    cr_expect_eq(h.content_length, -1);
    cr_assert_eq(h.n_fields, 2);
    cr_expect(field_is(&h.fields[0], "Content-Type", "text/html"));
    cr_expect(field_is(&h.fields[1], "X-A", "spaced value"));
    cr_assert_eq(parse(crlf, &h, &why), (int)(strlen(crlf) - 4));
    cr_expect(field_is(&h.fields[1], "X-A", "v"));
}

Test(cgi_head, status_location_and_length_are_taken_apart)
{
    struct cgi_head h;
    const char *why;

    cr_assert_gt(parse("Status: 404 Not Here\nLocation: /x?y\nContent-Length: 12\n"
                       "Connection: close\nDate: x\nServer: y\nTransfer-Encoding: chunked\n\n",
                       &h, &why),
                 0, "%s", why);
    cr_expect_eq(h.status, 404);
    cr_expect_eq(h.reason_len, 8);
    cr_expect_eq(memcmp(h.reason, "Not Here", 8), 0);
    cr_expect_eq(h.location_len, 4);
    cr_expect(cgi_head_location_local(&h));
    cr_expect_eq(h.content_length, 12);
    cr_expect_eq(h.n_fields, 0, "hop-by-hop fields, Date and Server are not passed on");
    cr_assert_gt(parse("Status: 200\nLocation: //evil.example/\n\n", &h, &why), 0);
    cr_expect_not(cgi_head_location_local(&h), "a network-path reference is not local");
    cr_assert_gt(parse("Location: https://example.org/\n\n", &h, &why), 0);
    cr_expect_not(cgi_head_location_local(&h));
}

Test(cgi_head, incomplete_blocks_ask_for_more)
{
    struct cgi_head h;
    const char *why;

    cr_expect_eq(parse("", &h, &why), 0);
    cr_expect_eq(parse("Content-Type: text/plain\n", &h, &why), 0);
    cr_expect_eq(parse("Content-Type: text/plain\r", &h, &why), 0);
    cr_expect_eq(parse("Content-Type: text/plain\r\n\r", &h, &why), 0);
}

Test(cgi_head, invalid_blocks_are_refused)
{
    static const char *const bad[] = {
        "Bad Name: x\n\n",
        "Content-Type: text/plain\n folded\n\n",
        "Content-Type: text/plain\n\tfolded\n\n",
        "no colon\n\n",
        ": empty name\n\n",
        "X: a\rb\n\n",
        "X: a\r\rb\n\n",
        "X: a\x01\n\n",
        "X: a\x7f\n\n",
        "Status: 99 Low\n\n",
        "Status: 100 Continue\n\n",
        "Status: 600 High\n\n",
        "Status: 2000\n\n",
        "Status: abc\n\n",
        "Status: 200 OK\nStatus: 201 Created\n\n",
        "Location: /a\nLocation: /b\n\n",
        "Content-Length: 1\nContent-Length: 1\n\n",
        "Content-Length: -1\n\n",
        "Content-Length: 1 2\n\n",
        "X: a\rb",
    };
    struct cgi_head h;
    const char *why;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(parse(bad[i], &h, &why), -EBADMSG, "accepted: %s", bad[i]);
        cr_expect_not_null(why, "%s", bad[i]);
    }
}

Test(cgi_head, the_block_is_bounded)
{
    char big[300];
    struct cgi_head h;
    const char *why;

    memset(big, 'a', sizeof big);
    memcpy(big, "X: ", 3);
    cr_expect_eq(cgi_head_parse(big, sizeof big, 256, &h, &why), -EMSGSIZE);
    big[200] = '\n';
    big[201] = '\n';
    cr_expect_eq(cgi_head_parse(big, sizeof big, 256, &h, &why), 202);
    cr_expect_eq(cgi_head_parse(big, 202, 100, &h, &why), -EMSGSIZE);
}

Test(cgi_head, too_many_fields_are_refused)
{
    char text[CGI_HEAD_MAX_FIELDS * 8 + 16];
    size_t n = 0;
    struct cgi_head h;
    const char *why;

    for (int i = 0; i <= CGI_HEAD_MAX_FIELDS; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "X%d: v\n", i % 10);
    text[n++] = '\n';
    cr_expect_eq(cgi_head_parse(text, n, 16384, &h, &why), -EBADMSG);
}
