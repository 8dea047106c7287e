/* exchange.h - one request and its response, as a handler sees them. */
#ifndef COHTTPD_HTTP_EXCHANGE_H
#define COHTTPD_HTTP_EXCHANGE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/loop.h"
#include "http/parser.h"
#include "http/server.h"

struct conn;

enum http_resp_state {
    HTTP_RESP_NONE,      /* nothing sent yet */
    HTTP_RESP_HEAD,      /* http_resp_begin called, headers being added */
    HTTP_RESP_STREAMING, /* head sent, body being streamed */
    HTTP_RESP_DONE,      /* complete */
};

/*
 * Lives in the connection's working memory for the duration of one request.
 * Handlers read the fields and answer through the http_resp_* calls; every
 * call that writes may yield (it runs inside the connection coroutine).
 */
struct http_exchange {
    struct conn *conn;
    struct loop *loop;
    const struct http_site *site;   /* the configuration this request runs under */
    const struct http_request *req; /* the parsed head; spans valid until the end */
    const char *path;               /* normalised, decoded path (NUL-terminated) */
    size_t path_len;
    bool path_trailing_slash; /* the decoded path ended with '/' */
    bool head_only;           /* HEAD: bodies are counted, not sent */
    bool keep_alive;          /* a handler may clear it to close after */
    int status;               /* status of the response begun */
    enum http_resp_state state;
    uint64_t body_bytes; /* body bytes of the response (for the log) */
    const struct sockaddr *peer;
    socklen_t peer_len;
    const struct sockaddr *local;
    socklen_t local_len;
    /* The handler's own state in this worker for the site's generation,
     * opaque to the engine: the site's dispatch sets it for the handler. */
    void *handler_worker;
    /* private to response.c */
    size_t head_start;
    size_t lines_start; /* the first header line, from head_start */
    bool head_overflow; /* a header did not fit: the head cannot be sent */
    bool chunked;
    bool has_length;
};

/*
 * Starts the response head with status. Then add headers with
 * http_resp_header(); the engine adds Date, Server, the length and
 * Connection itself. Returns 0, or -ENOSPC when a head is already begun.
 */
int http_resp_begin(struct http_exchange *x, int status);

/* Adds "name: value". Returns 0 or -ENOSPC when the head would exceed its
 * buffer (the response then becomes a 500: no head goes out without a
 * header its handler added). */
int http_resp_header(struct http_exchange *x, const char *name, size_t name_len, const char *value,
                     size_t value_len);

/* Header lines added so far to the head begun (after its status line),
 * "name: value\r\n" each: a handler may keep them and send the same lines
 * again with http_resp_header_lines(). NULL (len 0) with no head begun or
 * when a header did not fit. */
const char *http_resp_head_lines(const struct http_exchange *x, size_t *len);

/* Adds header lines made by http_resp_head_lines() for an earlier head.
 * Returns 0 or -ENOSPC, as http_resp_header(). */
int http_resp_header_lines(struct http_exchange *x, const char *lines, size_t len);

/* Adds a header whose value is formatted like printf. */
int http_resp_headerf(struct http_exchange *x, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Ends the head with Content-Length: len and sends body (not for HEAD or
 * 304). Small responses are queued so that pipelined responses leave in one
 * write; larger ones are written at once. May yield. Returns 0 or -errno
 * (the connection is then closed).
 */
int http_resp_body(struct http_exchange *x, const void *body, size_t len);

/*
 * Ends the head with Content-Length: len and sends len bytes of fd from
 * offset with sendfile (the head goes first with MSG_MORE). May yield.
 * Returns 0 or -errno (the connection is then closed).
 */
int http_resp_sendfile(struct http_exchange *x, int fd, off_t offset, size_t len);

/*
 * Ends the head with Content-Length: total (or, when total < 0, chunked
 * coding — close-delimited for HTTP/1.0) and sends it; the body follows
 * through http_resp_write() and http_resp_finish(). May yield.
 */
int http_resp_stream(struct http_exchange *x, int64_t total);

/* Sends body bytes of a streamed response. May yield. 0 or -errno. */
int http_resp_write(struct http_exchange *x, const void *data, size_t len);

/* Sends part of fd with sendfile inside a streamed response with a known
 * length (e.g. one part of multipart/byteranges); -EINVAL in a chunked one.
 * May yield. */
int http_resp_write_file(struct http_exchange *x, int fd, off_t offset, size_t len);

/* Ends a streamed response (the last chunk when chunked). 0 or -errno. */
int http_resp_finish(struct http_exchange *x);

/*
 * Answers with status and its short text body from status.c (plus, for
 * 405, the Allow header given in allow, else NULL). Logs nothing: the
 * access log records it. May yield. Returns 0 or -errno.
 */
int http_resp_error(struct http_exchange *x, int status, const char *allow);

/*
 * Reads the request body: on success *data points to the next decoded
 * bytes (valid until the next call) and the count is returned; 0 at the
 * end of the body. Sends "100 Continue" first when the client asked for it.
 * May yield. Returns < 0 on error: -413, -400 (bad body), -408 (timeout),
 * or -errno (connection lost).
 */
ssize_t http_body_read(struct http_exchange *x, const char **data);

/* The value of a request header, or NULL (len 0). Case-insensitive. */
const char *http_req_header(const struct http_exchange *x, const char *name, size_t *len);

/* The loop's clock as a wall time (seconds), for Date-like decisions. */
int64_t http_now(const struct http_exchange *x);

#endif
