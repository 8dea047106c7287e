/* loopback.c - the HTTP engine serving one in-process connection, for engine tests. */
#include "loopback.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/loop.h"

#define LOOPBACK_WAIT_MS 10000

static void loopback_dispatch(struct http_exchange *x, void *app)
{
    struct loopback *lb = app;

    lb->handler(x, lb->arg);
}

static void *loopback_main(void *arg)
{
    struct loopback *lb = arg;
    struct sockaddr_storage peer = {.ss_family = AF_UNIX};

    lb->loop = loop_new(256 * 1024);
    lb->srv = lb->loop ? http_server_new(lb->loop, &lb->site, NULL) : NULL;
    if (lb->srv && http_server_accept(lb->srv, lb->server_fd, (struct sockaddr *)&peer,
                                      sizeof peer.ss_family, NULL, 0) < 0) {
        http_server_free(lb->srv);
        lb->srv = NULL;
    }
    pthread_mutex_lock(&lb->lock);
    lb->started = true;
    pthread_cond_signal(&lb->ready);
    pthread_mutex_unlock(&lb->lock);
    if (!lb->srv)
        return NULL;
    loop_run(lb->loop);
    http_server_drain(lb->srv);
    loop_free(lb->loop);
    http_server_free(lb->srv);
    return NULL;
}

void loopback_start(struct loopback *lb, loopback_handler handler, void *arg,
                    const struct http_limits *limits)
{
    int sv[2];

    *lb = (struct loopback){
        .handler = handler,
        .arg = arg,
        .site = {.limits = limits ? *limits : http_limits_default(),
                 .server_header = "cohttpd",
                 .dispatch = loopback_dispatch},
    };
    lb->site.app = lb;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    lb->server_fd = sv[0];
    lb->fd = sv[1];
    pthread_mutex_init(&lb->lock, NULL);
    pthread_cond_init(&lb->ready, NULL);
    cr_assert_eq(pthread_create(&lb->thread, NULL, loopback_main, lb), 0);
    pthread_mutex_lock(&lb->lock);
    while (!lb->started)
        pthread_cond_wait(&lb->ready, &lb->lock);
    pthread_mutex_unlock(&lb->lock);
    cr_assert_not_null(lb->srv, "the loopback engine did not start");
}

static void loopback_stop_cb(void *arg) { loop_stop(arg); }

void loopback_stop(struct loopback *lb)
{
    cr_assert_eq(loop_post(lb->loop, loopback_stop_cb, lb->loop), 0);
    pthread_join(lb->thread, NULL);
    close(lb->fd);
    pthread_mutex_destroy(&lb->lock);
    pthread_cond_destroy(&lb->ready);
}

bool loopback_send(struct loopback *lb, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = send(lb->fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* One read of what arrives within LOOPBACK_WAIT_MS: > 0 bytes, 0 at the
 * end (or after the wait), < 0 on an error. */
static ssize_t loopback_read_some(struct loopback *lb, char *out, size_t cap)
{
    struct pollfd pfd = {.fd = lb->fd, .events = POLLIN};

    if (cap == 0 || poll(&pfd, 1, LOOPBACK_WAIT_MS) <= 0)
        return 0;
    return read(lb->fd, out, cap);
}

bool loopback_read_until(struct loopback *lb, char *out, size_t cap, size_t *len,
                         const char *needle)
{
    for (;;) {
        ssize_t n;

        out[*len] = '\0';
        if (memmem(out, *len, needle, strlen(needle)))
            return true;
        n = loopback_read_some(lb, out + *len, cap - 1 - *len);
        if (n <= 0)
            return false;
        *len += (size_t)n;
    }
}

size_t loopback_read_to_end(struct loopback *lb, char *out, size_t cap, size_t *len)
{
    size_t start = *len;
    ssize_t n;

    while ((n = loopback_read_some(lb, out + *len, cap - 1 - *len)) > 0)
        *len += (size_t)n;
    out[*len] = '\0';
    return *len - start;
}

const char *loopback_header(const char *out, const char *name, size_t *vlen)
{
    const char *end = strstr(out, "\r\n\r\n");
    size_t nl = strlen(name);

    for (const char *p = strstr(out, "\r\n"); p && end && p < end; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2, *eol = strstr(line, "\r\n");

        if (eol && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;

            while (*v == ' ')
                v++;
            *vlen = (size_t)(eol - v);
            return v;
        }
    }
    return NULL;
}

ssize_t loopback_dechunk(const char *p, size_t len, char *out, size_t cap)
{
    size_t off = 0, n = 0;

    for (;;) {
        char *end;
        unsigned long size = strtoul(p + off, &end, 16);

        if (end == p + off || (size_t)(end - p) + 2 > len || memcmp(end, "\r\n", 2) != 0)
            return -1;
        off = (size_t)(end - p) + 2;
        if (size == 0)
            return off + 2 <= len && memcmp(p + off, "\r\n", 2) == 0 ? (ssize_t)n : -1;
        if (off + size + 2 > len || n + size > cap || memcmp(p + off + size, "\r\n", 2) != 0)
            return -1;
        memcpy(out + n, p + off, size);
        n += size;
        off += size + 2;
    }
}
