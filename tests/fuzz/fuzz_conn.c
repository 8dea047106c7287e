/* fuzz_conn.c - libFuzzer harness for the HTTP engine (server/http/conn.c, response.c,
 * server.c, accesslog.c): arbitrary bytes through a real connection, no network.
 *
 * One loop and one http_server live for the whole run. Each input is
 * written, in pieces derived from its hash, into one end of a socketpair
 * whose other end the server accepted; then the write side is shut down
 * and the loop runs, one iteration at a time, until the server has closed
 * the connection. The site's dispatch answers by path: "/s" streams chunked,
 * "/k" streams with a known length, "/b" sends a body larger than the output
 * queue, "/e" a 404, "/n" nothing (the engine answers 500), "/h" a head it
 * never finishes, "/p" a stream it never finishes, "/l" reads the body
 * after its head went out, "/r" sends the request body as a raw response
 * head, "/u" takes the connection over after a 101 and echoes what follows,
 * "/w" is the streaming echo (tests/support/echo_stream.c), anything else a
 * fixed 200; other POST and PUT bodies are read with http_body_read first. Everything
 * the server wrote must parse as HTTP/1.1 responses with a Date, a length
 * (or chunked, or close-delimited with Connection: close), and nothing
 * after a Connection: close. Any violation aborts. One input in four runs
 * under small limits to reach 413, 414 and 431. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/io.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/timer.h"
#include "http/accesslog.h"
#include "http/exchange.h"
#include "http/server.h"

#include "echo_stream.h"

#define FUZZ_MAX_OUT        (4u << 20) /* bytes of responses kept per input */
#define FUZZ_MAX_ITERATIONS 100000     /* loop iterations per input before calling it a hang */
#define FUZZ_BIG_BODY       40000      /* "/b": more than the engine's output queue */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The engine and what it serves, built at the first input. */
struct fuzz_env {
    struct loop *loop;
    struct http_server *srv;
    struct access_log *log;
    struct http_site site_default;
    struct http_site site_small;
    struct timer stop_timer;
    char *out;
    bool dump; /* FUZZ_CONN_DUMP set: print every input's responses */
    bool cut;  /* a handler of this input left a response cut short */
};

static struct fuzz_env env;

/* Aborts with a note on stderr: libFuzzer saves the input as a crash. */
__attribute__((noreturn)) static void fail(const char *what, const char *out, size_t len)
{
    fprintf(stderr, "fuzz_conn: %s\n--- %zu bytes of responses:\n%.*s\n---\n", what, len,
            (int)(len < 4096 ? len : 4096), out);
    abort();
}

static void stream_parts(struct http_exchange *x, int64_t total)
{
    if (http_resp_begin(x, 200) < 0)
        return;
    http_resp_header(x, "Content-Type", 12, "text/plain", 10);
    if (http_resp_stream(x, total) < 0)
        return;
    http_resp_write(x, "abc", 3);
    http_resp_write(x, "def", 3);
    http_resp_finish(x);
}

/* Reads a POST or PUT body whole; false when it failed (then answered). */
static bool read_body(struct http_exchange *x)
{
    const char *data;
    ssize_t n;

    if (x->req->method != HTTP_POST && x->req->method != HTTP_PUT)
        return true;
    while ((n = http_body_read(x, &data)) > 0)
        if (data == NULL)
            abort();
    if (n == 0)
        return true;
    http_resp_error(x, http_body_status(x) ? http_body_status(x) : 400, NULL);
    return false;
}

/* "/l": the head and a first piece go out, then the body is read. */
static void late_body(struct http_exchange *x)
{
    const char *data;
    char line[32];
    size_t got = 0;
    ssize_t n;

    if (http_resp_begin(x, 200) < 0 || http_resp_stream(x, -1) < 0 ||
        http_resp_write(x, "late:", 5) < 0 || http_resp_flush(x) < 0)
        return;
    while ((n = http_body_read(x, &data)) > 0)
        got += (size_t)n;
    if (n < 0)
        return; /* cut: the engine closes */
    n = snprintf(line, sizeof line, "%zu", got);
    if (http_resp_write(x, line, (size_t)n) == 0)
        http_resp_finish(x);
}

/* True when s[0..len) holds word, ignoring case. */
static bool contains_ci(const char *s, size_t len, const char *word)
{
    size_t wl = strlen(word);

    for (size_t i = 0; i + wl <= len; i++) {
        if (strncasecmp(s + i, word, wl) == 0)
            return true;
    }
    return false;
}

/* "/r": the request body (up to 4 KiB) is the raw response head (one
 * naming the checker's own markers is answered 403 instead). */
static void raw_head(struct http_exchange *x)
{
    static char head[4096];
    const char *data;
    size_t len = 0;
    ssize_t n;

    while ((n = http_body_read(x, &data)) > 0) {
        size_t take = (size_t)n < sizeof head - len ? (size_t)n : sizeof head - len;

        memcpy(head + len, data, take);
        len += take;
    }
    if (n < 0) {
        http_resp_error(x, http_body_status(x) ? http_body_status(x) : 400, NULL);
        return;
    }
    if (contains_ci(head, len, "X-Head") || contains_ci(head, len, "X-Cut") ||
        contains_ci(head, len, "octet-stream")) {
        http_resp_error(x, 403, NULL);
        return;
    }
    if (http_resp_raw(x, head, len) == 0 && http_resp_write(x, "raw", 3) != -EINVAL &&
        http_resp_finish(x) == -EMSGSIZE)
        env.cut = true; /* shorter than its Content-Length: the engine closes */
}

/* "/u": 101, then the bytes behind the request and all that follows are
 * echoed until the client closes. */
static void takeover(struct http_exchange *x)
{
    struct http_takeover t;
    char buf[512];
    ssize_t n;

    if (http_resp_begin(x, 101) < 0)
        return;
    http_resp_header(x, "Upgrade", 7, "fuzz", 4);
    http_resp_header(x, "Connection", 10, "upgrade", 7);
    if (http_resp_takeover(x, &t) < 0) {
        if (x->state == HTTP_RESP_HEAD)
            http_resp_body(x, NULL, 0);
        return;
    }
    if (co_write(t.client, t.buffered, t.buffered_len, loop_now(x->loop) + 1000) < 0)
        return;
    while ((n = co_read(t.client, buf, sizeof buf, loop_now(x->loop) + 1000)) > 0)
        if (co_write(t.client, buf, (size_t)n, loop_now(x->loop) + 1000) < 0)
            return;
}

/* The routes that read the body first, then answer in one go. */
static void fixed_dispatch(struct http_exchange *x)
{
    static char big[FUZZ_BIG_BODY];

    if (!read_body(x))
        return;
    switch (x->path_len > 1 ? x->path[1] : '/') {
    case 's': stream_parts(x, -1); return;
    case 'k': stream_parts(x, 6); return;
    case 'p':
        if (http_resp_begin(x, 200) < 0)
            return;
        http_resp_header(x, "X-Cut", 5, "1", 1);
        if (http_resp_stream(x, 100) == 0)
            http_resp_write(x, "cut", 3);
        return;
    case 'h': http_resp_begin(x, 200); return;
    case 'n': return;
    case 'e': http_resp_error(x, 404, NULL); return;
    case 'a': http_resp_error(x, 405, "GET, HEAD"); return;
    case 'b':
        memset(big, 'b', sizeof big);
        if (http_resp_begin(x, 200) == 0)
            http_resp_body(x, big, sizeof big);
        return;
    default:
        if (http_resp_begin(x, 200) < 0)
            return;
        http_resp_header(x, "X-Head", 6, x->head_only ? "1" : "0", 1);
        http_resp_body(x, "hello\n", 6);
    }
}

static void fuzz_dispatch(struct http_exchange *x, void *app)
{
    char route = x->path_len > 1 ? x->path[1] : '/';

    (void)app;
    /* HEAD answers must say X-Head for the checker: the fixed routes. */
    if (x->head_only && (route == 'r' || route == 'w'))
        route = '/';
    switch (route) {
    case 'l': late_body(x); break;
    case 'r': raw_head(x); break;
    case 'u': takeover(x); return;
    case 'w': echo_stream(x, NULL); break;
    default: fixed_dispatch(x); return;
    }
    /* A streamed answer its handler gave up on may be cut (then closed). */
    if (x->state == HTTP_RESP_STREAMING)
        env.cut = true;
}

static void stop_loop(struct timer *t)
{
    (void)t;
    loop_stop(env.loop);
}

static void env_init(void)
{
    struct http_limits small = http_limits_default();
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

    small.max_header_size = 1024;
    small.max_headers = 8;
    small.max_body_size = 64;
    small.max_keepalive_requests = 3;
    env.site_default = (struct http_site){
        .limits = http_limits_default(),
        .server_header = "cohttpd",
        .dispatch = fuzz_dispatch,
    };
    env.site_small = env.site_default;
    env.site_small.limits = small;
    env.site_small.server_header = NULL;
    env.loop = loop_new(64 * 1024);
    env.log = env.loop && devnull >= 0 ? access_log_new(env.loop, devnull, HTTP_LOG_JSON) : NULL;
    env.srv = env.log ? http_server_new(env.loop, &env.site_default, env.log) : NULL;
    env.out = malloc(FUZZ_MAX_OUT);
    if (!env.srv || !env.out)
        abort();
    timer_init(&env.stop_timer, stop_loop);
    env.dump = getenv("FUZZ_CONN_DUMP") != NULL;
    log_set_level(env.dump ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
}

/* One loop iteration: the timer due now stops it once its events are handled. */
static void iterate(void)
{
    timer_arm(loop_timers(env.loop), &env.stop_timer, loop_now(env.loop));
    if (loop_run(env.loop) < 0)
        abort();
}

/* The next piece of the input: whole (rng 0) or 1..97 bytes. */
static size_t next_piece(uint64_t *rng, size_t left)
{
    size_t step;

    if (*rng == 0)
        return left;
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    step = (*rng & 3) == 0 ? 1 : 1 + (size_t)(*rng >> 8) % 97;
    return step < left ? step : left;
}

/* Reads what the server wrote; returns false once it closed (or reset). */
static bool drain(int fd, size_t *len, bool *reset)
{
    for (;;) {
        ssize_t n = read(fd, env.out + *len, FUZZ_MAX_OUT - *len);

        if (n > 0) {
            *len += (size_t)n;
            if (*len == FUZZ_MAX_OUT)
                fail("more output than expected", env.out, *len);
            continue;
        }
        if (n == 0)
            return false;
        if (errno == EAGAIN)
            return true;
        if (errno == EINTR)
            continue;
        *reset = true; /* ECONNRESET: unread input was left behind */
        return false;
    }
}

/* Feeds data through a new connection; the responses land in env.out. */
static size_t converse(const uint8_t *data, size_t size, uint64_t rng, bool *reset)
{
    struct sockaddr_un peer = {.sun_family = AF_UNIX};
    size_t sent = 0, len = 0;
    bool shut = false, open_ = true;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    if (http_server_accept(env.srv, sv[0], (struct sockaddr *)&peer, sizeof peer.sun_family, NULL,
                           0) < 0)
        abort();
    for (long i = 0; open_; i++) {
        if (sent < size) {
            ssize_t n = send(sv[1], data + sent, next_piece(&rng, size - sent), MSG_NOSIGNAL);

            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN)
                sent = size; /* the server closed its end: the rest is dropped */
        } else if (!shut) {
            shutdown(sv[1], SHUT_WR);
            shut = true;
        }
        iterate();
        open_ = drain(sv[1], &len, reset) || http_server_connections(env.srv) > 0;
        if (i > FUZZ_MAX_ITERATIONS)
            fail("the connection never closed", env.out, len);
    }
    close(sv[1]);
    return len;
}

/* The value of header name in head[0..len), or NULL. */
static const char *header(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);

    for (const char *p = memmem(head, len, "\r\n", 2); p && p + 2 < head + len;
         p = memmem(p + 2, (size_t)(head + len - p - 2), "\r\n", 2)) {
        const char *line = p + 2, *end = memmem(line, (size_t)(head + len - line), "\r\n", 2);

        if (end && (size_t)(end - line) > nl + 1 && strncasecmp(line, name, nl) == 0 &&
            line[nl] == ':') {
            *vlen = (size_t)(end - line) - nl - 2;
            return line + nl + 2;
        }
    }
    return NULL;
}

/* Bytes of a chunked body at p[0..len), or 0 when it is malformed or cut. */
static size_t chunked_length(const char *p, size_t len)
{
    size_t off = 0;

    for (;;) {
        size_t size = 0, digits = 0;

        while (off < len && digits < 8 && strchr("0123456789abcdef", p[off]) && p[off]) {
            size = size * 16 + (size_t)(p[off] <= '9' ? p[off] - '0' : p[off] - 'a' + 10);
            off++, digits++;
        }
        if (digits == 0 || off + 2 > len || memcmp(p + off, "\r\n", 2) != 0)
            return 0;
        off += 2;
        if (size == 0)
            return off + 2 <= len && memcmp(p + off, "\r\n", 2) == 0 ? off + 2 : 0;
        if (off + size + 2 > len || memcmp(p + off + size, "\r\n", 2) != 0)
            return 0;
        off += size + 2;
    }
}

/* True when no body follows a head at out[0..len): the stream ends there
 * or the next response starts (a HEAD answer keeps its length fields). */
static bool no_body_follows(const char *out, size_t len)
{
    return len == 0 || (len >= 9 && memcmp(out, "HTTP/1.1 ", 9) == 0);
}

/* The length of the body after a head of head bytes at out[0..len). */
static size_t body_length(const char *out, size_t head, size_t len, bool reset, bool closes)
{
    size_t vlen, body;
    const char *v = header(out, head, "Content-Length", &vlen);
    const char *xhead = header(out, head, "X-Head", &vlen);
    const char *type = header(out, head, "Content-Type", &vlen);
    /* The echo's body is the client's: it may look like a response. */
    bool echo = type && vlen == 24 && memcmp(type, "application/octet-stream", 24) == 0;

    if (xhead && xhead[0] == '1')
        return 0; /* the dispatch answered a HEAD */
    if (v) {
        body = (size_t)strtoull(v, NULL, 10);
        if (body > 0 && !xhead && !echo && no_body_follows(out + head, len - head))
            return 0;
        if (head + body > len) {
            /* Only a response its handler left unfinished may be cut (the
             * connection then closes), or one lost to a reset. */
            if (!reset && !env.cut && !header(out, head, "X-Cut", &vlen))
                fail("a body shorter than its Content-Length", out, len);
            return len - head;
        }
        return body;
    }
    if (header(out, head, "Transfer-Encoding", &vlen)) {
        if (no_body_follows(out + head, len - head))
            return 0;
        body = chunked_length(out + head, len - head);
        if (body == 0 && !reset && !env.cut)
            fail("a bad chunked body", out, len);
        return body ? body : len - head;
    }
    if (!closes)
        fail("neither a length nor chunked nor Connection: close", out, len);
    return len - head; /* close-delimited */
}

/* Checks one response at out[0..len); returns its length. */
static size_t check_response(const char *out, size_t len, bool reset, bool *closes)
{
    const char *end = memmem(out, len, "\r\n\r\n", 4), *v;
    size_t head, vlen;
    int status;

    if (len < 13 || !end) {
        if (reset)
            return len; /* the rest was lost to the reset */
        fail("a response cut in its head", out, len);
    }
    if (memcmp(out, "HTTP/1.1 ", 9) != 0 || out[12] != ' ')
        fail("not a status line", out, len);
    for (int i = 9; i < 12; i++)
        if (out[i] < '0' || out[i] > '9')
            fail("bad status code", out, len);
    head = (size_t)(end - out) + 4;
    status = (out[9] - '0') * 100 + (out[10] - '0') * 10 + (out[11] - '0');
    if (status == 100)
        return head; /* 100 Continue: no fields, no body */
    if (status == 101) {
        if (!header(out, head, "Date", &vlen) || header(out, head, "Content-Length", &vlen) ||
            header(out, head, "Transfer-Encoding", &vlen))
            fail("a 101 without a Date, or with a length", out, len);
        *closes = true;
        return len; /* the rest is the tunnel's */
    }
    if (status < 200 || !header(out, head, "Date", &vlen))
        fail("no Date, or an unexpected 1xx", out, len);
    v = header(out, head, "Connection", &vlen);
    *closes = v && vlen == 5 && strncasecmp(v, "close", 5) == 0;
    if (status == 204 || status == 304)
        return head;
    return head + body_length(out, head, len, reset, *closes);
}

static void check_stream(const char *out, size_t len, bool reset)
{
    size_t off = 0;

    while (off < len) {
        bool closes = false;

        off += check_response(out + off, len - off, reset, &closes);
        if (closes && off < len)
            fail("bytes after a Connection: close response", out, len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = 0xcbf29ce484222325ULL;
    bool reset = false;
    size_t len;

    if (!env.loop)
        env_init();
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 0x100000001b3ULL;
    http_server_set_site(env.srv, (seed & 3) == 0 ? &env.site_small : &env.site_default);
    env.cut = false;
    len = converse(data, size, (seed >> 2) & 1 ? seed | 1 : 0, &reset);
    if (env.dump)
        fprintf(stderr, "--- %zu bytes%s:\n%.*s\n", len, reset ? " (reset)" : "", (int)len,
                env.out);
    check_stream(env.out, len, reset);
    if (http_server_connections(env.srv) != 0 || loop_coroutines(env.loop) != 0)
        fail("a connection or coroutine outlived its socket", env.out, len);
    access_log_flush(env.log);
    return 0;
}
