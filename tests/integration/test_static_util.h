/* test_static_util.h - raw HTTP helpers shared by the static handler's integration tests. */
#ifndef COHTTPD_TESTS_TEST_STATIC_UTIL_H
#define COHTTPD_TESTS_TEST_STATIC_UTIL_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* One raw response, its head and body split. */
struct st_resp {
    char *raw; /* malloc'd, NUL-terminated */
    size_t len;
    int status;
    const char *body; /* into raw: after the blank line */
    size_t body_len;
};

/* Sends "METHOD target HTTP/1.1" with Host, extra header lines (each ending
 * in CRLF, or "") and Connection: close on a new connection; reads until
 * the server closes. */
static inline struct st_resp st_request(unsigned port, const char *method, const char *target,
                                        const char *headers)
{
    char req[8192];
    struct st_resp r = {0};
    bool closed;
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n",
                     method, target, headers);
    const char *end;

    cr_assert(n > 0 && (size_t)n < sizeof req);
    r.raw = raw_exchange(port, req, (size_t)n, HARNESS_WAIT_MS, &r.len, &closed);
    r.status = response_status(r.raw);
    end = memmem(r.raw, r.len, "\r\n\r\n", 4);
    r.body = end ? end + 4 : r.raw + r.len;
    r.body_len = (size_t)(r.raw + r.len - r.body);
    return r;
}

static inline struct st_resp st_get(unsigned port, const char *target, const char *headers)
{
    return st_request(port, "GET", target, headers);
}

/* The value of a header of the response (in a static buffer per slot). */
static inline const char *st_header(const struct st_resp *r, const char *name, char *out,
                                    size_t cap)
{
    return response_header(r->raw, name, out, cap);
}

static inline bool st_body_is(const struct st_resp *r, const void *data, size_t len)
{
    return r->body_len == len && memcmp(r->body, data, len) == 0;
}

static inline bool st_contains(const struct st_resp *r, const char *needle)
{
    return memmem(r->raw, r->len, needle, strlen(needle)) != NULL;
}

static inline void st_free(struct st_resp *r)
{
    free(r->raw);
    r->raw = NULL;
}

#endif
