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

struct http_policy;

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
 *
 * The contract of the exchange, whatever the handler does:
 *
 * - Errors. Every call returns -errno for a failure of the system or the
 *   connection (-EPIPE, -ECONNRESET, -ETIMEDOUT ...). When the request
 *   itself is at fault (a malformed, oversized or stalled body), the call
 *   fails with -errno too, and the HTTP status that failure deserves is a
 *   separate result: http_body_status(). A write that fails leaves the
 *   connection broken: the engine closes it when the handler returns.
 *
 * - The request body belongs to the handler until it returns: the engine
 *   never reads it on its own while the handler runs, with one exception.
 *   A handler that never touched the body (no http_body_* call, no
 *   http_poll() for reading) and answers in one call (http_resp_body,
 *   http_resp_sendfile, http_resp_error) has the body settled first: read
 *   and dropped if it is small, and a bad one (400, 408, 413, 431) becomes
 *   the answer instead. A handler that will read the body after answering
 *   so calls http_body_claim() first. What is left unread when the handler
 *   returns is drained by the engine (up to 64 KiB, within body_timeout)
 *   so that the connection can persist, or the connection is closed.
 *
 * - Memory: the request's spans, the exchange and everything the engine
 *   hands out (body spans, the takeover's buffered bytes) live in the
 *   connection's working memory; they are valid until the handler returns
 *   (body spans: until the next body call). The engine keeps at most its
 *   read buffer and its 16 KiB output queue per connection; a handler
 *   relaying between the client and another descriptor keeps its own
 *   bounded buffers (CGI and the proxy: 64 KiB per direction).
 *
 * - Yielding: calls documented "may yield" park the connection coroutine
 *   in the loop; the _nowait calls, http_body_claim and the header calls
 *   never do. A handler may spawn helper coroutines (loop_spawn on
 *   x->loop) that use the client's watch beside it (one reading, one
 *   writing: see struct loop_watch) or its own descriptors; they must have
 *   ended when the handler returns, as the connection may be freed then.
 *
 * - Ending: when the handler returns, its cleanups (http_exchange_defer)
 *   run, an unfinished response is cut (the connection closes), the body
 *   is drained, and the next request is read; after a takeover the
 *   connection closes. If the worker stops while the handler waits, the
 *   coroutine is cancelled: the cleanups run then, and the handler's stack
 *   is dropped without running further.
 */
struct http_exchange {
    struct conn *conn;
    struct loop *loop;
    const struct http_site *site;   /* the configuration this request runs under */
    const struct http_request *req; /* the parsed head; spans valid until the end */
    const char *path;               /* normalised, decoded path (NUL-terminated) */
    size_t path_len;
    bool path_trailing_slash; /* the decoded path ended with '/' */
    bool path_encoded_slash;  /* the target held "%2F", kept so in path (see url.h) */
    bool path_dot_segment;    /* false: no segment of path starts with '.' (url.h) */
    bool head_only;           /* HEAD: bodies are counted, not sent */
    bool keep_alive;          /* a handler may clear it to close after */
    int status;               /* status of the response begun */
    enum http_resp_state state;
    uint64_t body_bytes; /* body bytes of the response (for the log) */
    /* What the access log and the status page record beside the status.
     * route[0..route_len) is the route's section as written ("static /"),
     * set by the site's dispatch; NULL when no route matched. A handler
     * that hands the request on (a CGI script, an upstream) names it with
     * http_exchange_set_upstream(), which keeps a copy for the log, with
     * its time in upstream_us (-1: unknown): the JSON log writes them as
     * "upstream" and "upstream_time_us" when upstream is set. */
    const char *route;
    size_t route_len;
    const char *upstream;
    int64_t upstream_us;
    uint64_t bytes_in;    /* request head and raw body bytes taken (the engine counts) */
    uint64_t duration_us; /* set by the engine when the request ends, for the log */
    const struct sockaddr *peer;
    socklen_t peer_len;
    const struct sockaddr *local;
    socklen_t local_len;
    /* The real client (http/client.h): the peer, or, when the peer is one
     * of [server] trusted_proxies, the address its X-Forwarded-For or
     * Forwarded names (port 0 when the header gave none). Always set, for
     * the access log, CGI's REMOTE_ADDR, access control and the proxy. */
    const struct sockaddr *client;
    socklen_t client_len;
    /* The peer is a trusted proxy and its forwarding headers (if any) were
     * well formed: a proxy handler appends to them instead of replacing
     * them. */
    bool forwarded_trusted;
    /* The matched route's site keys (http/policy.h: error pages ...), set
     * by the site's dispatch; NULL before routing. */
    const struct http_policy *policy;
    /* The user whose basic-authentication credentials the route checked
     * and accepted (NUL-terminated, owned by the route's configuration),
     * NULL when the route authenticates no one: CGI's REMOTE_USER. */
    const char *auth_user;
    /* The handler's own state in this worker for the site's generation,
     * opaque to the engine: the site's dispatch sets it for the handler. */
    void *handler_worker;
    /* private to the engine (response.c, body.c, exchange.c) */
    size_t head_start;
    size_t lines_start; /* the first header line, from head_start */
    bool head_overflow; /* a header did not fit: the head cannot be sent */
    bool chunked;
    bool has_length;
    uint64_t length;    /* the Content-Length sent, when has_length */
    uint64_t out_start; /* the connection's output offset where this response begins */
    size_t head_len;    /* bytes of the response head, once ended */
    uint64_t start_ns;  /* the loop's clock when the request's first byte was taken */
    bool in_error_page; /* an error page is being served: no other */
};

/*
 * Starts the response head with status. Then add headers with
 * http_resp_header(); the engine adds Date, Server, the length and
 * Connection itself. Never touches the request body. Returns 0, -ENOSPC
 * when a head is already begun, or -errno (queued output could not be
 * sent).
 */
int http_resp_begin(struct http_exchange *x, int status);

/* Adds "name: value". Returns 0 or -ENOSPC when the head would exceed its
 * buffer (the response then becomes a 500: no head goes out without a
 * header its handler added). */
int http_resp_header(struct http_exchange *x, const char *name, size_t name_len, const char *value,
                     size_t value_len);

/* Adds header lines as they are, "name: value\r\n" each, which the caller
 * made or checked (a head kept whole goes through http_resp_prepare()).
 * Returns 0 or -ENOSPC, as http_resp_header(). */
int http_resp_header_lines(struct http_exchange *x, const char *lines, size_t len);

/* Adds a header whose value is formatted like printf. */
int http_resp_headerf(struct http_exchange *x, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Ends the head with Content-Length: len and sends body (not for HEAD or
 * 304). Small responses are queued so that pipelined responses leave in one
 * write; larger ones are written at once. An unclaimed request body is
 * settled first (see above): a bad one replaces this answer, and the call
 * returns -EBADMSG (http_body_status() says which status went out). May
 * yield. Returns 0 or -errno (the connection is then closed).
 */
int http_resp_body(struct http_exchange *x, const void *body, size_t len);

/*
 * Ends the head with Content-Length: len and sends len bytes of fd from
 * offset with sendfile (the head goes first with MSG_MORE). May yield.
 * Returns 0 or -errno (the connection is then closed).
 */
int http_resp_sendfile(struct http_exchange *x, int fd, off_t offset, size_t len);

/* A response head kept to be sent again and again (a cached file's 200):
 * the status line and header lines of a head begun on an exchange, and
 * the Content-Length line of the body that goes with it. The engine still
 * adds Date, Server, Connection and the blank line to each response sent
 * from it; for a keep-alive response on a site with head_lines it keeps
 * the whole head, its Date and Server lines written again when the second
 * changes. A zeroed struct holds nothing. */
struct http_prepared {
    char *bytes;       /* malloc'd: the status line, header lines, the room for
                          Date and Server, the length line, "\r\n" */
    size_t lines_len;  /* the status line and header lines */
    size_t status_len; /* the status line */
    size_t date_len;   /* room for the site's Date and Server lines after them */
    size_t length_len; /* the length line, after that room */
    int status;
    uint64_t length;
    /* Whose Date and Server lines fill the room, and for which second;
     * NULL: not filled yet. */
    const struct http_head_lines *date_of;
    int64_t date_second;
};

/* Copies the head begun on x (its status line and the header lines added
 * so far) and the Content-Length line of length into *p, which owns the
 * copy (http_prepared_free), with room for the Date and Server lines of
 * x's site. Returns 0, -EINVAL when no head is begun, a header did not fit
 * or the status has no body, -ENOMEM. Never yields. */
int http_resp_prepare(const struct http_exchange *x, uint64_t length, struct http_prepared *p);

/* Frees what p holds and zeroes it (p itself is the caller's). */
void http_prepared_free(struct http_prepared *p);

/*
 * Sends a whole response from p: the bytes http_resp_begin(p->status),
 * the same header lines and http_resp_body(body, p->length) send, or with
 * body NULL http_resp_sendfile(fd, 0, p->length), in fewer steps. The
 * request body is settled as theirs is. p keeps the Date and Server lines
 * last sent from it: it serves the site it was prepared on (or one whose
 * head_lines outlive p). Returns as they do; -ENOSPC when a head is
 * already begun. May yield.
 */
int http_resp_prepared(struct http_exchange *x, struct http_prepared *p, const void *body, int fd);

/*
 * Ends the head with Content-Length: total (or, when total < 0, chunked
 * coding — close-delimited for HTTP/1.0) and sends it; the body follows
 * through http_resp_write() and http_resp_finish(). May yield.
 */
int http_resp_stream(struct http_exchange *x, int64_t total);

/* Sends body bytes of a streamed response, waiting as needed (up to
 * send_timeout between successful writes). May yield. 0, -EMSGSIZE past
 * a known length (nothing written), or -errno. */
int http_resp_write(struct http_exchange *x, const void *data, size_t len);

/* Sends part of fd with sendfile inside a streamed response with a known
 * length (e.g. one part of multipart/byteranges); -EINVAL in a chunked one.
 * May yield. */
int http_resp_write_file(struct http_exchange *x, int fd, off_t offset, size_t len);

/* Ends a streamed response (the last chunk when chunked). 0 or -errno;
 * -EMSGSIZE when fewer bytes than a known length were written (the
 * connection then closes: the response must not look complete). */
int http_resp_finish(struct http_exchange *x);

/*
 * Answers with status and its short text body from status.c (plus, for
 * 405, the Allow header given in allow, else NULL). Logs nothing: the
 * access log records it. May yield. Returns 0 or -errno.
 */
int http_resp_error(struct http_exchange *x, int status, const char *allow);

/* The status the access log and the status page record for a request
 * whose client left before any response began (nginx's 499). Never sent. */
#define HTTP_STATUS_CLIENT_GONE 499

/* Says that the client went away before a response began (a handler saw
 * -ECONNRESET, -EPIPE, or http_client_gone()): nothing is sent for it,
 * the connection closes (after what earlier pipelined requests were
 * answered), and the request is recorded as
 * HTTP_STATUS_CLIENT_GONE, without the "sent no response" error line. A
 * head begun and not ended is dropped. After the response began it does
 * nothing (the status begun is recorded; the response is cut). Never
 * yields. */
void http_resp_client_gone(struct http_exchange *x);

/*
 * Answers status with the error page configured for it (error_page in the
 * route, else in [server]), when there is one and it can be read: the page
 * goes out with status, plus the header name: value when name is not NULL
 * (Allow for a 405, Content-Range for a 416). http_resp_error() tries it
 * first; a handler that answers an error of its own with more headers calls
 * it before its own answer. Returns 0 when the page was sent (or its
 * sending failed: -errno), -ENOENT when there is none (nothing was sent:
 * answer as usual). May yield.
 */
int http_resp_error_page(struct http_exchange *x, int status, const char *name, const char *value);

/*
 * Sends an interim response now, before the final one: status 100 or
 * 102 to 199 (never 101: that is http_resp_takeover()'s), the reason
 * phrase from status.c, and lines ("name: value\r\n" each, e.g. 103 Early
 * Hints' Link headers; len 0: none), which the handler keeps. Only while
 * no response began. Dropped (0, nothing sent) for an HTTP/1.0 client,
 * which knows no interim response, and for a 100 the client did not ask
 * for with Expect or already got; a 100 sent here is not sent again by a
 * body read. May yield (the queue is written out). Returns 0, -EINVAL (a
 * status outside those, a response begun, lines not CRLF-ended header
 * lines), -ENOSPC (larger than the output queue) or -errno.
 */
int http_resp_interim(struct http_exchange *x, int status, const char *lines, size_t len);

/* ---- the request body ---- */

/*
 * Reads the request body: on success *data points to the next decoded
 * bytes (valid until the next body call) and the count is returned; 0 at
 * the end of the body. Sends "100 Continue" first when the client asked
 * for it and no response began. Waits up to body_timeout for bytes. May
 * yield. Errors: -EBADMSG (malformed: chunk syntax, a chunk line over the
 * buffer), -EFBIG (over max_body_size), -EMSGSIZE (trailers over
 * max_header_size), -ETIMEDOUT (body_timeout), -ECONNRESET (the client
 * closed mid-body), other -errno; http_body_status() then says what HTTP
 * status the failure deserves. A failure is final: later calls repeat it.
 */
ssize_t http_body_read(struct http_exchange *x, const char **data);

/* Like http_body_read(), without waiting: the decoded bytes already here
 * (buffered, or readable from the socket at once), 0 at the end of the
 * body, -EAGAIN when none are (wait with http_poll() for LOOP_READ), or an
 * error as above. Never yields. */
ssize_t http_body_read_nowait(struct http_exchange *x, const char **data);

/* The HTTP status a failed body read deserves: 400 (malformed), 408
 * (timeout), 413 (too large), 431 (trailers too large); 0 while the body
 * has not failed, or when the client is gone (nobody to answer). */
int http_body_status(const struct http_exchange *x);

/* True once the body was read to its end (or the request has none). */
bool http_body_done(const struct http_exchange *x);

/* Tells the engine that the handler will read the body, even after a
 * response sent in one call: it is then never settled for the handler.
 * When the client waits for "100 Continue" and no response began, it is
 * queued now (and sent as far as the socket takes it), so a handler that
 * begins its response before reading claims the body first. Every
 * http_body_* read and http_poll() for reading claims it too. Never
 * yields (unless 16 KiB of pipelined answers wait before it). Returns 0 or
 * -errno. */
int http_body_claim(struct http_exchange *x);

/* ---- full-duplex streaming ---- */

/*
 * Writes what fits of a streamed response now, without waiting: returns
 * the bytes taken (> 0; fewer than len when the socket is full), -EAGAIN
 * when nothing fits (wait with http_poll() for LOOP_WRITE), -EMSGSIZE when
 * len goes past the Content-Length given to http_resp_stream() or
 * http_resp_raw(), -EINVAL outside a streamed response, or -errno. Bytes
 * taken are the engine's: some may still sit in its output queue; they
 * leave with the next write, flush or poll, or when the response ends.
 * Never yields.
 */
ssize_t http_resp_write_nowait(struct http_exchange *x, const void *data, size_t len);

/* Sends everything queued (the head included) now, even when the response
 * has a Content-Length and is not complete. May yield (up to send_timeout).
 * Returns 0, -EINVAL while a head is begun but not ended, or -errno. */
int http_resp_flush(struct http_exchange *x);

/*
 * Waits, under one deadline (an absolute loop_now() time; 0: none), on the
 * client and on n other watches (pipes, a pidfd, an upstream socket: each
 * registered with the exchange's loop; n <= 30). client holds LOOP_READ
 * (a body read would not wait: bytes are here, or the body ended or
 * failed) and/or LOOP_WRITE (http_resp_write_nowait() would take bytes),
 * or 0; events[i] is what watches[i] is waited for. Queued output is sent
 * while waiting, and "100 Continue" when the client asked for it and the
 * handler waits to read. client may also hold LOOP_HUP, which claims
 * nothing: the client counts as ready when its socket turns readable or
 * hangs up (whether it left, http_client_gone() tells; one that sent
 * more, say a pipelined request, stays readable: stop asking for
 * LOOP_HUP then). Returns a mask: bit 0 for the client, bit i + 1
 * for watches[i]; a hang-up counts as ready. The time spent waiting for
 * the client counts against min_body_rate (waiting to read) and
 * min_send_rate (waiting for queued output to leave), as a blocking read
 * or write does: a client that falls below one makes this and every later
 * http_poll() return -ECONNABORTED (the body fails with 408, an output
 * cut short closes the connection). Or -ETIMEDOUT, -ECANCELED,
 * -EINVAL (n too large, or LOOP_WRITE while a head is begun and not
 * ended), -EBUSY (another coroutine waits on a watch for
 * the same direction), -errno (the client's output failed). May yield.
 */
int http_poll(struct http_exchange *x, uint32_t client, struct loop_watch *const *watches,
              const uint32_t *events, size_t n, uint64_t deadline);

/* ---- per-request cleanups ---- */

/* At most this many cleanups per request. */
#define HTTP_MAX_CLEANUPS 24

/* The longest name http_exchange_set_upstream() keeps, NUL included. */
#define HTTP_UPSTREAM_NAME_MAX 256

/*
 * Registers fn(data) to run once when this request ends, on every path:
 * after the handler returns (whatever it sent, whatever failed), or when
 * the connection's coroutine is cancelled (the worker stops). Last
 * registered runs first. Unlike coro_defer(), it never outlives the
 * request on a keep-alive connection. fn runs on the loop's thread and
 * must not yield. Returns 0, or -ENOMEM when HTTP_MAX_CLEANUPS are pending.
 */
int http_exchange_defer(struct http_exchange *x, void (*fn)(void *data), void *data);

/* ---- connection takeover (101 Switching Protocols) ---- */

struct http_takeover {
    struct loop_watch *client; /* the client socket, in the exchange's loop */
    const char *buffered;      /* bytes the client sent after the request */
    size_t buffered_len;
};

/*
 * Ends the head begun with http_resp_begin(x, 101) (the handler added
 * Upgrade and Connection: upgrade; the engine adds Date and Server, no
 * length, no Connection: close), sends it, and hands the connection over:
 * t->client is the client socket, for co_read/co_write/co_poll (a reader
 * and a writer coroutine may use it at once); t->buffered holds the bytes
 * that came behind the request, which the handler relays first. The
 * handler must not close or unwatch t->client: the engine closes the
 * connection when the handler returns. Everything stays valid until then.
 * May yield. Returns 0; -EINVAL without a begun 101 head; -EBUSY when the
 * request has a body not read to its end (read it first); -errno when the
 * head could not be sent.
 */
int http_resp_takeover(struct http_exchange *x, struct http_takeover *t);

/* ---- a raw response head (nph- scripts) ---- */

/*
 * Starts the response with a head the handler produced whole: a status
 * line ("HTTP/1.0" or "HTTP/1.1", a status 200-599, a reason) and header
 * lines, each ending in CRLF, then an empty line; len covers exactly
 * that. The engine validates it and never lets an invalid one through:
 * no bare CR or LF, no obs-fold, no control byte, header names made of
 * token characters, at most one Content-Length (digits), no
 * Transfer-Encoding. It sends the status line as HTTP/1.1 with the
 * handler's code and reason, keeps the header lines except Connection,
 * Keep-Alive, Content-Length, Date and Server (its own), and frames the
 * body itself: with the handler's Content-Length, which it then enforces
 * (a longer write is -EMSGSIZE, a shorter body closes the connection),
 * else chunked (close-delimited for HTTP/1.0); none for HEAD, 204 and
 * 304. The body follows through http_resp_write*() and http_resp_finish().
 * Returns 0; -EBADMSG for an invalid head, which the engine then answers
 * with 502 itself (nothing of the handler's goes out); -EINVAL when a
 * response already began; -ENOSPC when the head does not fit (then 500);
 * -errno. May yield.
 */
int http_resp_raw(struct http_exchange *x, const char *head, size_t len);

/*
 * http_resp_raw() in steps, for a head the handler already took apart and
 * checked under the same rules (an upstream's, parsed by llhttp and the
 * proxy): http_resp_raw_begin() starts it with status (200-599) and reason
 * (no control byte); the handler adds its header lines with
 * http_resp_header() (token names, no control byte in values, none of
 * Transfer-Encoding or the engine's own: Connection, Keep-Alive,
 * Content-Length, Date, Server); http_resp_raw_end() ends the head and
 * frames the body as http_resp_raw() does, with content_length (-1: none).
 * Nothing is parsed again. Begin returns 0, -EINVAL when a response
 * already began, -ENOSPC; end returns 0 or -errno and may yield.
 */
int http_resp_raw_begin(struct http_exchange *x, int status, const char *reason, size_t reason_len);
int http_resp_raw_end(struct http_exchange *x, int64_t content_length);

/* ---- request helpers ---- */

/* The value of a request header, or NULL (len 0). Case-insensitive. */
const char *http_req_header(const struct http_exchange *x, const char *name, size_t *len);

/* The same for one of the indexed fields (enum http_field in
 * http/parser.h), in constant time: what the handlers' hot paths use.
 * Inline: a lookup is a few instructions, less than a call. */
static inline const char *http_req_field(const struct http_exchange *x, enum http_field f,
                                         size_t *len)
{
    const struct http_header *h = http_request_field(x->req, f);

    *len = h ? h->value.len : 0;
    return h ? h->value.p : NULL;
}

/* True when the client has gone: its connection was reset, or it closed
 * its side with nothing left to read (a MSG_PEEK read, without waiting,
 * tells). For a handler that waits on other descriptors alone (a script
 * that has not answered yet) and checks now and then whether anyone still
 * waits for the answer. Never yields. */
bool http_client_gone(const struct http_exchange *x);

/* Names what the request was handed on to (a script's path, an upstream's
 * address) for the access log, with the time it took in us (-1: unknown).
 * The name is copied (at most HTTP_UPSTREAM_NAME_MAX - 1 bytes are kept),
 * so it may live on the handler's stack; x->upstream points at the copy
 * until the request ends. May be called again to update either. Never
 * yields. */
void http_exchange_set_upstream(struct http_exchange *x, const char *name, int64_t us);

/* Writes v in decimal at out (room for 20 digits, no NUL); returns the
 * number of digits. Never yields. */
size_t http_u64_text(char *out, uint64_t v);

/* The connection's own address into *ss: x->local, or, when that is a
 * wildcard listener's (0.0.0.0, ::), the address the client reached
 * (getsockname). Returns its length, or 0 when unknown. Never yields. */
socklen_t http_local_addr(const struct http_exchange *x, struct sockaddr_storage *ss);

/* The loop's clock as a wall time (seconds), for Date-like decisions. */
int64_t http_now(const struct http_exchange *x);

/* Body bytes of the response the client was actually given: what left
 * through the socket (or waits in the engine's queue of a connection still
 * sound), the head not counted; 0 for HEAD. Never yields. */
uint64_t http_resp_body_sent(const struct http_exchange *x);

/* Counts one lookup in a worker's open-file cache (hit: the entry was
 * there) for the status page. Never yields. */
void http_count_file_cache(struct http_exchange *x, bool hit);

/* What a handler running scripts (CGI) tells the status page. */
enum http_script_event {
    HTTP_SCRIPT_STARTED,        /* one more running */
    HTTP_SCRIPT_ENDED,          /* one fewer running (however it ended) */
    HTTP_SCRIPT_KILLED_TIMEOUT, /* killed at its time limit */
    HTTP_SCRIPT_KILLED_GONE,    /* killed because its client left */
};

/* Counts ev for the worker's status page. Never yields. */
void http_count_script(struct http_exchange *x, enum http_script_event ev);

/* Microseconds since the request's first byte was taken. Never yields. */
uint64_t http_exchange_elapsed_us(const struct http_exchange *x);

#endif
