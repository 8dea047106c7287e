/* Tests of server/http/response_raw.c through the loopback harness: raw response heads (nph-
 * scripts) that are valid go out framed by the engine; invalid ones never go out. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "loopback.h"

struct raw_case {
    const char *head;
    size_t len;
    const char *body; /* written after the head, NULL for none */
    atomic_int raw_rc, write_rc, finish_rc;
};

#define RAW(s) .head = (s), .len = sizeof(s) - 1

static void raw_handler(struct http_exchange *x, void *arg)
{
    struct raw_case *rc = arg;
    int r = http_resp_raw(x, rc->head, rc->len);

    atomic_store(&rc->raw_rc, r);
    if (r < 0)
        return;
    if (rc->body)
        atomic_store(&rc->write_rc, http_resp_write(x, rc->body, strlen(rc->body)));
    atomic_store(&rc->finish_rc, http_resp_finish(x));
}

/* Two requests on one connection, each answered with rc's head; the
 * responses land in out. Returns how many responses came: 1 when the
 * connection closed after the first. */
static int raw_exchange(struct raw_case *rc, char *out, size_t cap, size_t *len)
{
    static const char req[] = "GET /nph HTTP/1.1\r\nHost: x\r\n\r\n";
    struct loopback lb;
    int count = 0;

    *len = 0;
    loopback_start(&lb, raw_handler, rc, NULL);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    cr_assert(loopback_read_until(&lb, out, cap, len, "\r\n\r\n"), "no response: %s", out);
    loopback_send(&lb, req, sizeof req - 1); /* fails when it closed */
    shutdown(lb.fd, SHUT_WR);
    loopback_read_to_end(&lb, out, cap, len);
    loopback_stop(&lb);
    for (const char *p = out; (p = strstr(p, "HTTP/1.1 ")); p++)
        count++;
    return count;
}

Test(response_raw, a_valid_head_goes_out_with_the_engines_framing)
{
    struct raw_case rc = {RAW("HTTP/1.1 299 Custom Thing\r\nX-A: 1\r\nContent-Length: 5\r\n"
                              "Connection: keep-alive\r\nDate: yesterday\r\n\r\n"),
                          .body = "hello"};
    char out[8192];
    size_t len, vlen;

    cr_assert_eq(raw_exchange(&rc, out, sizeof out, &len), 2, "the connection is kept: %s", out);
    cr_assert_eq(atomic_load(&rc.raw_rc), 0);
    cr_assert_eq(atomic_load(&rc.finish_rc), 0);
    cr_assert_eq(strncmp(out, "HTTP/1.1 299 Custom Thing\r\n", 27), 0, "%s", out);
    cr_assert_not_null(loopback_header(out, "X-A", &vlen), "%s", out);
    cr_assert_eq(strncmp(loopback_header(out, "Content-Length", &vlen), "5\r\n", 3), 0, "%s", out);
    cr_assert_null(strstr(out, "yesterday"), "the engine's Date only: %s", out);
    cr_assert_null(strstr(out, "keep-alive"), "the engine decides the connection: %s", out);
    cr_assert_not_null(strstr(out, "\r\n\r\nhelloHTTP/1.1 299 "), "%s", out);
}

Test(response_raw, a_head_without_a_length_is_sent_chunked)
{
    struct raw_case rc = {RAW("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"),
                          .body = "hello"};
    char out[8192];
    size_t len, vlen;

    raw_exchange(&rc, out, sizeof out, &len);
    cr_assert_eq(strncmp(out, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", out);
    cr_assert_not_null(loopback_header(out, "Transfer-Encoding", &vlen), "%s", out);
    cr_assert_not_null(strstr(out, "\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "%s", out);
}

Test(response_raw, a_204_head_gets_no_length_and_no_body)
{
    struct raw_case rc = {RAW("HTTP/1.1 204 No Content\r\nX-B: 2\r\n\r\n"), .body = "hello"};
    char out[8192];
    size_t len, vlen;

    cr_assert_eq(raw_exchange(&rc, out, sizeof out, &len), 2, "%s", out);
    cr_assert_eq(strncmp(out, "HTTP/1.1 204 No Content\r\n", 25), 0, "%s", out);
    cr_assert_null(loopback_header(out, "Content-Length", &vlen), "%s", out);
    cr_assert_null(loopback_header(out, "Transfer-Encoding", &vlen), "%s", out);
    cr_assert_null(strstr(out, "hello"), "%s", out);
    cr_assert_eq(atomic_load(&rc.write_rc), -EMSGSIZE);
}

Test(response_raw, the_handlers_content_length_is_enforced)
{
    struct raw_case longer = {RAW("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
                              .body = "hello!"};
    struct raw_case shorter = {RAW("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), .body = "hel"};
    char out[8192];
    size_t len;

    raw_exchange(&longer, out, sizeof out, &len);
    cr_assert_eq(atomic_load(&longer.write_rc), -EMSGSIZE, "6 bytes for a length of 5");
    cr_assert_eq(raw_exchange(&shorter, out, sizeof out, &len), 1, "a short body closes: %s", out);
    cr_assert_eq(atomic_load(&shorter.finish_rc), -EMSGSIZE);
    cr_assert(len > 3 && memcmp(out + len - 7, "\r\n\r\nhel", 7) == 0,
              "the 3 bytes, then the end: %s", out);
}

/* Each is refused: 502, and none of its text reaches the client. */
static struct raw_case bad_heads[] = {
    {RAW("HTTP/1.1 200 OK\nX-Evil: 1\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nX-Evil: 1\nX: 2\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nX-Evil: a\rb\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nX-Evil: a\r\n folded\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nX-Evil : a\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\n: a\r\nX-Evil: 1\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nX(Evil): 1\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nX-Evil: a\0b\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nX-Evil: a\x7f\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Evil: 1\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\nX-Evil: 1\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nContent-Length: 5x\r\nX-Evil: 1\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nContent-Length: -1\r\nX-Evil: 1\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nContent-Length:\r\nX-Evil: 1\r\n\r\n")},
    {RAW("HTTP/1.1 100 Continue\r\nX-Evil: 1\r\n\r\n")},
    {RAW("HTTP/1.1 101 Switching\r\nX-Evil: 1\r\n\r\n")},
    {RAW("HTTP/1.1 600 Evil\r\n\r\n")},
    {RAW("HTTP/1.1 20x Evil\r\n\r\n")},
    {RAW("HTTP/2.0 200 Evil\r\n\r\n")},
    {RAW("HTTP/1.1 200Evil\r\n\r\n")},
    {RAW("HTTP/1.1 200 Ev\x01il\r\n\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nX-Evil: 1\r\n")},
    {RAW("HTTP/1.1 200 OK\r\nX-Evil: 1\r\n\r\nbody")},
    {RAW("")},
};

Test(response_raw, invalid_heads_become_502_and_never_reach_the_client)
{
    for (size_t i = 0; i < sizeof bad_heads / sizeof bad_heads[0]; i++) {
        struct raw_case *rc = &bad_heads[i];
        char out[8192];
        size_t len;

        rc->body = "leak";
        raw_exchange(rc, out, sizeof out, &len);
        cr_assert_eq(atomic_load(&rc->raw_rc), -EBADMSG, "case %zu", i);
        cr_assert_eq(strncmp(out, "HTTP/1.1 502 Bad Gateway\r\n", 26), 0, "case %zu: %s", i, out);
        cr_assert_null(strstr(out, "Evil"), "case %zu: %s", i, out);
        cr_assert_null(strstr(out, "leak"), "case %zu: %s", i, out);
    }
}
