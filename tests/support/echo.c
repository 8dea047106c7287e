/* echo.c - a route kind for tests only: answers a request with its own body. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/kinds.h"

/*
 * [echo MATCH], linked into the test build of the daemon (cohttpd-test)
 * only, as the table's test kind (handlers/kinds.c). It reads the whole
 * request body (the engine bounds it with max_body_size) and answers 200
 * with the same bytes and the request's Content-Type. No keys, no route or
 * worker state.
 */

/* Reads the whole body into *out (malloc'd, caller frees). Returns its
 * length, or a negative value: -status to answer, or -errno when the
 * connection is gone. */
static ssize_t echo_read_body(struct http_exchange *x, char **out)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    const char *data;
    ssize_t n;

    while ((n = http_body_read(x, &data)) > 0) {
        if (len + (size_t)n > cap) {
            size_t want = cap ? cap * 2 : 4096;
            char *bigger;

            while (want < len + (size_t)n)
                want *= 2;
            bigger = realloc(buf, want);
            if (!bigger) {
                free(buf);
                return -503;
            }
            buf = bigger;
            cap = want;
        }
        memcpy(buf + len, data, (size_t)n);
        len += (size_t)n;
    }
    if (n < 0) {
        free(buf);
        return n;
    }
    *out = buf;
    return (ssize_t)len;
}

static void echo_handle(struct http_exchange *x, void *state, const char *rest, size_t rest_len)
{
    char *body = NULL;
    ssize_t len = echo_read_body(x, &body);
    const char *type;
    size_t type_len;

    (void)state;
    (void)rest;
    (void)rest_len;
    if (len < 0) {
        if (len <= -400)
            http_resp_error(x, (int)-len, NULL);
        return; /* the connection is gone */
    }
    type = http_req_header(x, "Content-Type", &type_len);
    if (http_resp_begin(x, 200) < 0) {
        free(body);
        return;
    }
    if (type)
        http_resp_header(x, "Content-Type", 12, type, type_len);
    http_resp_body(x, body, (size_t)len);
    free(body);
}

static void echo_describe(FILE *out, const void *conf, const struct handler_target *t)
{
    (void)conf;
    (void)t;
    fputs("echo: the request body, with its Content-Type\n", out);
}

static const struct section_spec echo_schema = {.keys = NULL, .n_keys = 0};

const struct handler_kind handler_test_kind = {
    .name = "echo",
    .schema = &echo_schema,
    .handle = echo_handle,
    .describe = echo_describe,
};
