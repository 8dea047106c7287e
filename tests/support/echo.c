/* echo.c - a route kind for tests only: answers a request with its own body, whole or streamed
 * both ways. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io.h"
#include "core/log.h"
#include "echo_stream.h"
#include "handlers/kinds.h"

/*
 * [echo MATCH], linked into the test build of the daemon (cohttpd-test)
 * only, as the table's test kind (handlers/kinds.c). Two keys: hold_fifo
 * (a FIFO's path), and fail_worker_init = N, which makes the worker state
 * of the first N workers that prepare the generation fail (-EIO), so that
 * a test sees what a worker-side failure does at startup or reload; no
 * route or worker state otherwise. The path below the route's prefix
 * picks what it does:
 *
 *   /stream     the body streamed back as it arrives (echo_stream.h)
 *   /flush3     a 10-byte answer whose head and first 3 bytes are flushed
 *               at once; the other 7 follow when a byte comes on the
 *               FIFO hold_fifo (500 without one)
 *   /late-body  a chunked answer begun before the body is read
 *               (echo_late_body in echo_stream.h)
 *   /upgrade    101, then every byte sent back (echo_tunnel in
 *               echo_stream.h)
 *   otherwise   the whole body read (max_body_size bounds it), then
 *               answered 200 with the same bytes and its Content-Type
 *
 * Every request registers a cleanup that logs "echo: MODE request cleaned
 * up" at info level, so that a test sees cleanups run.
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

/* The whole body, then the answer. arg is unused. */
static void echo_whole(struct http_exchange *x, void *arg)
{
    char *body = NULL;
    ssize_t len = echo_read_body(x, &body);
    const char *type;
    size_t type_len;

    (void)arg;
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

/* The route's keys. */
struct echo_conf {
    const char *hold_fifo;     /* /flush3 waits for a byte on this FIFO; NULL: none */
    unsigned fail_worker_init; /* workers whose worker_init fails, per generation */
};

/* Waits for a byte on the FIFO at path (opened read-write, so that it has
 * a writer and waits rather than seeing an end). Nothing of the client's
 * is waited on: the engine sends nothing by itself meanwhile. 0 or -errno. */
static int echo_hold(struct http_exchange *x, const char *path)
{
    struct loop_watch w = {.fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)};
    char c;
    ssize_t n;

    if (w.fd < 0)
        return -errno;
    n = loop_watch_add(x->loop, &w);
    if (n == 0) {
        n = co_read(&w, &c, 1, loop_now(x->loop) + x->site->limits.body_timeout_ms);
        loop_watch_del(&w);
    }
    close(w.fd);
    return n == 1 ? 0 : (n < 0 ? (int)n : -EPIPE);
}

/* Head and "abc" of a 10-byte body, flushed; "defghij" once a byte came on
 * the route's hold_fifo. arg is the route's struct echo_conf. */
static void echo_flush3(struct http_exchange *x, void *arg)
{
    const struct echo_conf *conf = arg;

    if (!conf->hold_fifo) {
        http_resp_error(x, 500, NULL);
        return;
    }
    if (http_resp_begin(x, 200) < 0 || http_resp_stream(x, 10) < 0 ||
        http_resp_write(x, "abc", 3) < 0 || http_resp_flush(x) < 0)
        return;
    if (echo_hold(x, conf->hold_fifo) == 0 && http_resp_write(x, "defghij", 7) == 0)
        http_resp_finish(x);
}

static const struct echo_mode {
    const char *path; /* below the route's prefix; NULL: the default */
    const char *name; /* for the log */
    void (*run)(struct http_exchange *x, void *arg);
} echo_modes[] = {
    {.path = "/stream", .name = "stream", .run = echo_stream},
    {.path = "/flush3", .name = "flush3", .run = echo_flush3},
    {.path = "/late-body", .name = "late-body", .run = echo_late_body},
    {.path = "/upgrade", .name = "upgrade", .run = echo_tunnel},
    {.path = NULL, .name = "whole-body", .run = echo_whole},
};

/* data: the mode's index in echo_modes. */
static void echo_cleanup(void *data)
{
    log_msg(LOG_LVL_INFO, "echo: %s request cleaned up", echo_modes[(uintptr_t)data].name);
}

static const struct echo_mode *echo_mode_of(const char *rest, size_t rest_len)
{
    const struct echo_mode *m = echo_modes;

    for (; m->path; m++)
        if (strlen(m->path) == rest_len && memcmp(m->path, rest, rest_len) == 0)
            break;
    return m;
}

static void echo_handle(struct http_exchange *x, void *state, const char *rest, size_t rest_len)
{
    const struct echo_mode *m = echo_mode_of(rest, rest_len);

    if (http_exchange_defer(x, echo_cleanup, (void *)(uintptr_t)(m - echo_modes)) < 0)
        return;
    m->run(x, state);
}

static void echo_describe(FILE *out, const void *conf, const struct handler_target *t)
{
    (void)conf;
    fprintf(out, "echo: %s\n", echo_mode_of(t->rest, t->rest_len)->name);
}

/* Worker states still to refuse for the generation opened last: set by
 * open (main thread, before the workers prepare the generation), counted
 * down by worker_init (worker threads). */
static _Atomic long echo_failures_left;

/* The route state is the conf; arms the generation's worker_init failures. */
static int echo_open(const void *conf, size_t index, void **state, char *err, size_t err_len)
{
    const struct echo_conf *c = conf;

    (void)err;
    (void)err_len;
    if (index == 0)
        atomic_store(&echo_failures_left, 0);
    atomic_fetch_add(&echo_failures_left, (long)c->fail_worker_init);
    *state = (void *)c;
    return 0;
}

static void echo_close(void *state) { (void)state; }

/* No worker state (NULL), or the failure fail_worker_init asked for. */
static int echo_worker_init(void **worker, size_t n_routes)
{
    (void)n_routes;
    *worker = NULL;
    return atomic_fetch_sub(&echo_failures_left, 1) > 0 ? -EIO : 0;
}

static void echo_worker_teardown(void *worker) { (void)worker; }

static const struct key_spec echo_keys[] = {
    {.name = "hold_fifo", .type = VT_TEXT, .offset = offsetof(struct echo_conf, hold_fifo)},
    {.name = "fail_worker_init",
     .type = VT_NUMBER,
     .offset = offsetof(struct echo_conf, fail_worker_init),
     .width = sizeof(unsigned),
     .min = 0,
     .max = 1024},
};

static const struct section_spec echo_schema = {.keys = echo_keys,
                                                .n_keys = sizeof echo_keys / sizeof echo_keys[0]};

const struct handler_kind handler_test_kind = {
    .name = "echo",
    .schema = &echo_schema,
    .conf_size = sizeof(struct echo_conf),
    .open = echo_open,
    .close = echo_close,
    .worker_init = echo_worker_init,
    .worker_teardown = echo_worker_teardown,
    .handle = echo_handle,
    .describe = echo_describe,
};
