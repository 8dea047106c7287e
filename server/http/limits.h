/* limits.h - the [limits] of a configuration, as the HTTP engine reads them. */
#ifndef COHTTPD_HTTP_LIMITS_H
#define COHTTPD_HTTP_LIMITS_H

#include <stddef.h>
#include <stdint.h>

/* Durations in milliseconds, sizes in bytes, rates in bytes per second. 0
 * for max_keepalive_requests means unlimited. Defaults are those of
 * DESIGN.md §4 (http_limits_default). */
struct http_limits {
    uint64_t header_timeout_ms;      /* 10 s */
    uint64_t body_timeout_ms;        /* 30 s */
    uint64_t keepalive_timeout_ms;   /* 15 s */
    uint64_t send_timeout_ms;        /* 30 s */
    uint64_t shutdown_timeout_ms;    /* 30 s */
    size_t max_header_size;          /* 16 KiB: request line + headers */
    unsigned max_headers;            /* 100 */
    uint64_t max_body_size;          /* 16 MiB */
    unsigned max_keepalive_requests; /* 0 */
    uint64_t min_send_rate;          /* bytes/s a response must be taken at; 0: off */
    uint64_t min_body_rate;          /* bytes/s a request body must arrive at; 0: off */
};

static inline struct http_limits http_limits_default(void)
{
    return (struct http_limits){
        .header_timeout_ms = 10000,
        .body_timeout_ms = 30000,
        .keepalive_timeout_ms = 15000,
        .send_timeout_ms = 30000,
        .shutdown_timeout_ms = 30000,
        .max_header_size = 16 * 1024,
        .max_headers = 100,
        .max_body_size = 16 * 1024 * 1024,
        .max_keepalive_requests = 0,
        .min_send_rate = 0,
        .min_body_rate = 0,
    };
}

#endif
