/* Tests of the prepared responses of server/http/response.c (http_resp_prepare,
 * http_resp_prepared) through the in-process loopback harness: the bytes sent from a kept
 * head are those the step-by-step calls send. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "head_split.h"
#include "http/date.h"
#include "loopback.h"

static const char body[] = "<p>twenty-one bytes</p>";

struct kept {
    struct http_prepared head;
    int fd; /* a file holding body */
};

/* /build answers step by step and keeps its head; /kept and /kept-file
 * answer from the kept head, with the body from memory or from the file. */
static void prepared_handler(struct http_exchange *x, void *arg)
{
    struct kept *k = arg;

    if (strcmp(x->path, "/build") == 0) {
        if (http_resp_begin(x, 200) < 0)
            return;
        http_resp_header(x, "Content-Type", 12, "text/html", 9);
        http_resp_header(x, "X-Kept", 6, "yes", 3);
        cr_assert_eq(http_resp_prepare(x, sizeof body - 1, &k->head), 0);
        http_resp_body(x, body, sizeof body - 1);
    } else if (strcmp(x->path, "/kept") == 0) {
        http_resp_prepared(x, &k->head, body, -1);
    } else {
        http_resp_prepared(x, &k->head, NULL, k->fd);
    }
}

/* The response at *at in out (its head with the Date value blanked, and
 * its body when it has one); moves *at past it. */
static void next_response(const char *out, size_t *at, char *head, size_t cap, bool has_body,
                          char *got_body)
{
    size_t body_len = has_body ? sizeof body - 1 : 0;

    cr_assert(head_split(out, at, body_len, head, cap), "a whole head at %zu in: %s", *at, out);
    memcpy(got_body, out + *at - body_len, body_len);
    got_body[body_len] = '\0';
}

static void kept_head_sends_the_same_bytes(struct http_head_lines *lines)
{
    static const char reqs[] = "GET /build HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /kept HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /kept-file HTTP/1.1\r\nHost: x\r\n\r\n"
                               "HEAD /kept HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /kept HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char path[] = "/tmp/cohttpd-prepared-XXXXXX", out[16384], first[2048], head[2048],
         got[sizeof body], want_close[2100];
    struct kept k = {.fd = mkstemp(path)};
    struct loopback lb;
    size_t len = 0, at = 0;

    cr_assert_geq(k.fd, 0);
    unlink(path);
    cr_assert_eq(write(k.fd, body, sizeof body - 1), (ssize_t)sizeof body - 1);
    loopback_start(&lb, prepared_handler, &k, NULL);
    lb.site.head_lines = lines;
    cr_assert(loopback_send(&lb, reqs, sizeof reqs - 1));
    loopback_read_to_end(&lb, out, sizeof out, &len);
    loopback_stop(&lb);
    next_response(out, &at, first, sizeof first, true, got);
    cr_assert_str_eq(got, body);
    cr_assert_not_null(strstr(first, "Content-Length: 23\r\n\r\n"), "%s", first);
    cr_assert_eq(
        strncmp(first, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Kept: yes\r\n", 55), 0,
        "%s", first);
    for (int i = 0; i < 2; i++) {
        next_response(out, &at, head, sizeof head, true, got);
        cr_assert_str_eq(head, first, "response %d from the kept head", i + 2);
        cr_assert_str_eq(got, body, "response %d's body", i + 2);
    }
    next_response(out, &at, head, sizeof head, false, got);
    cr_assert_str_eq(head, first, "HEAD from the kept head: the same head, no body");
    next_response(out, &at, head, sizeof head, true, got);
    snprintf(want_close, sizeof want_close, "%.*sConnection: close\r\n\r\n", (int)strlen(first) - 2,
             first);
    cr_assert_str_eq(head, want_close, "the last one says it closes");
    cr_assert_str_eq(got, body);
    cr_assert_eq(at, len, "nothing after the last response: %s", out + at);
    http_prepared_free(&k.head);
    close(k.fd);
}

Test(response, a_kept_head_sends_what_the_calls_step_by_step_send)
{
    kept_head_sends_the_same_bytes(NULL);
}

Test(response, a_kept_head_with_the_sites_date_and_server_lines)
{
    struct http_head_lines *lines = http_head_lines_new("cohttpd");

    cr_assert_not_null(lines);
    kept_head_sends_the_same_bytes(lines);
    free(lines);
}

Test(response, a_kept_head_with_a_long_server_line)
{
    char server[1500];
    struct http_head_lines *lines;

    memset(server, 's', sizeof server - 1);
    server[sizeof server - 1] = '\0';
    lines = http_head_lines_new(server);
    cr_assert_not_null(lines);
    kept_head_sends_the_same_bytes(lines);
    free(lines);
}

/* /step answers as /build does without keeping its head; the rest as
 * prepared_handler. */
static void dated_handler(struct http_exchange *x, void *arg)
{
    if (strcmp(x->path, "/step") != 0) {
        prepared_handler(x, arg);
        return;
    }
    if (http_resp_begin(x, 200) < 0)
        return;
    http_resp_header(x, "Content-Type", 12, "text/html", 9);
    http_resp_header(x, "X-Kept", 6, "yes", 3);
    http_resp_body(x, body, sizeof body - 1);
}

/* The Date value of the head at out + at (29 bytes and a NUL into date). */
static void date_at(const char *out, size_t at, char *date)
{
    size_t len;
    const char *v = loopback_header(out + at, "Date", &len);

    cr_assert_not_null(v, "a Date in: %s", out + at);
    cr_assert_eq(len, 29);
    memcpy(date, v, 29);
    date[29] = '\0';
}

/* Serves reqs on a new connection with dated_handler and k, on a site
 * with lines; reads every response into out (cap bytes). */
static void serve_dated(struct kept *k, struct http_head_lines *lines, const char *reqs, char *out,
                        size_t cap)
{
    struct loopback lb;
    size_t len = 0;

    loopback_start(&lb, dated_handler, k, NULL);
    lb.site.head_lines = lines;
    cr_assert(loopback_send(&lb, reqs, strlen(reqs)));
    loopback_read_to_end(&lb, out, cap, &len);
    loopback_stop(&lb);
}

Test(response, a_kept_head_carries_the_date_of_each_response)
{
    struct http_head_lines *lines = http_head_lines_new("cohttpd");
    char out1[8192], out2[8192], head[2048], step[2048], got[sizeof body], d_kept1[30], d_step[30],
        d_kept2[30];
    struct kept k = {.fd = -1};
    size_t at = 0;
    time_t t0;

    cr_assert_not_null(lines);
    serve_dated(&k, lines,
                "GET /build HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /kept HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /kept HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                out1, sizeof out1);
    next_response(out1, &at, step, sizeof step, true, got);
    date_at(out1, at, d_kept1);
    next_response(out1, &at, head, sizeof head, true, got);
    cr_assert_str_eq(head, step);
    /* A second later, the kept head sends that second's Date. */
    t0 = time(NULL);
    while (time(NULL) == t0)
        usleep(50 * 1000);
    serve_dated(&k, lines,
                "GET /step HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /kept HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /kept HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                out2, sizeof out2);
    at = 0;
    date_at(out2, at, d_step);
    next_response(out2, &at, step, sizeof step, true, got);
    date_at(out2, at, d_kept2);
    next_response(out2, &at, head, sizeof head, true, got);
    cr_assert_str_eq(head, step, "the same head as step by step");
    cr_assert_str_neq(d_kept1, d_kept2, "the kept head's Date moved on: %s", out2);
    cr_assert_str_eq(d_kept2, d_step, "the Date a head made step by step shows: %s", out2);
    http_prepared_free(&k.head);
    free(lines);
}

/* Answers 304 step by step and tries to keep its head. */
static void not_modified_handler(struct http_exchange *x, void *arg)
{
    struct http_prepared p = {0};

    if (http_resp_begin(x, 304) < 0)
        return;
    *(int *)arg = http_resp_prepare(x, 0, &p);
    http_resp_body(x, NULL, 0);
}

Test(response, a_head_without_a_body_is_not_kept)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char out[4096];
    size_t len = 0;
    int rc = 0;
    struct loopback lb;

    loopback_start(&lb, not_modified_handler, &rc, NULL);
    cr_assert(loopback_send(&lb, req, sizeof req - 1));
    loopback_read_to_end(&lb, out, sizeof out, &len);
    loopback_stop(&lb);
    cr_assert_eq(strncmp(out, "HTTP/1.1 304 ", 13), 0, "%s", out);
    cr_assert_eq(rc, -EINVAL, "a 304 has no length to keep");
}
