/* compress_stream.h - streamed CGI and proxy responses compressed as their bytes arrive. */
#ifndef COHTTPD_HANDLERS_COMPRESS_STREAM_H
#define COHTTPD_HANDLERS_COMPRESS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "http/exchange.h"

/* One response being compressed; opaque. */
struct cstream;

/* What a response head says that decides whether it is compressed. */
struct cstream_head {
    int status;
    const char *type; /* Content-Type's value, or NULL when absent */
    size_t type_len;
    bool has_encoding; /* a Content-Encoding field (the body is coded already) */
    bool has_range;    /* a Content-Range field */
};

/*
 * The compressor for x's response with head h when the route compresses
 * (on), else NULL (the body goes as it is). It compresses when: the
 * request asks for no Range; Accept-Encoding accepts br,
 * zstd or gzip (preferred in that order among equal weights) at least as
 * much as identity; h's status is 200 to 299 but 204 and 206; h has no
 * Content-Encoding and no Content-Range; its type is one of those static
 * routes compress by default (text/html, text/css, application/json ...),
 * never text/event-stream. For a HEAD it codes nothing but gives the
 * head the GET would get (Content-Encoding, Vary, a weak ETag, no
 * Content-Length). The compressor belongs to x (freed by a cleanup of
 * x). Never yields.
 */
struct cstream *cstream_open(struct http_exchange *x, bool on, const struct cstream_head *h);

/* Adds one header field of the response being begun: as it is, but an
 * ETag made weak ("W/" before it) and a Content-Length dropped when cs
 * compresses (cs may be NULL). Never yields. */
void cstream_header(const struct cstream *cs, struct http_exchange *x, const char *name,
                    size_t name_len, const char *value, size_t value_len);

/* Adds Content-Encoding and Vary: Accept-Encoding (nothing when cs is
 * NULL). Never yields. */
void cstream_coding_headers(const struct cstream *cs, struct http_exchange *x);

/*
 * Rewrites a raw response head (http_resp_raw's form, head[0..*len) in a
 * buffer of cap bytes) for cs: Content-Length lines dropped, an ETag made
 * weak, Content-Encoding and Vary: Accept-Encoding added before the empty
 * line. Returns 0 (*len updated), or -ENOSPC when it does not fit (head
 * unchanged). Nothing to do when cs is NULL. Never yields.
 */
int cstream_raw_head(const struct cstream *cs, char *head, size_t *len, size_t cap);

/* What a raw head (http_resp_raw's form) says for cstream_open. Spans
 * point into head. Pure. */
void cstream_raw_parse(const char *head, size_t len, struct cstream_head *h);

/*
 * http_resp_write_nowait through cs (straight to it when cs is NULL):
 * compresses data and flushes the coder, so that what arrived leaves now.
 * Returns the bytes of data taken (> 0), or -EAGAIN when the client cannot
 * take the compressed bytes yet: the caller then waits for LOOP_WRITE and
 * calls again with the same data (as with a TLS write), -errno. Never
 * yields.
 */
ssize_t cstream_write_nowait(struct cstream *cs, struct http_exchange *x, const void *data,
                             size_t len);

/* Ends the compressed stream (its last bytes sent, waiting as needed),
 * then http_resp_finish(x); only the latter when cs is NULL. 0 or -errno.
 * May yield. */
int cstream_finish(struct cstream *cs, struct http_exchange *x);

/* --route: "compress: ... streamed ..." for a cgi or proxy route. */
void cstream_describe(FILE *out, bool on);

#endif
