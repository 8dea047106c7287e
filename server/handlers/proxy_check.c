/* proxy_check.c - active health: one thread per [proxy] route GETs health_uri from each upstream.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "handlers/proxy_internal.h"

/* The checker of one route in one generation; only its thread touches the
 * counts, the workers read checked_down. */
struct proxy_checker {
    struct proxy_shared *s;
    pthread_t th;
    int stop_fd;       /* an eventfd: readable once the checker must stop */
    _Atomic bool stop; /* the same, for the loop's test */
    unsigned passes[PROXY_MAX_UPSTREAMS], fails[PROXY_MAX_UPSTREAMS]; /* in a row */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits until fd shows events (fd < 0: only for the deadline or a stop).
 * True when it does, false at the deadline or on a stop. */
static bool wait_fd(struct proxy_checker *k, int fd, short events, uint64_t deadline)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = k->stop_fd, .events = POLLIN}, {.fd = fd, .events = events}};
        uint64_t now = mono_ms();
        int n;

        if (atomic_load(&k->stop) || now >= deadline)
            return false;
        n = poll(p, fd < 0 ? 1 : 2, (int)(deadline - now < 60000 ? deadline - now : 60000));
        if (n < 0 && errno != EINTR)
            return false;
        if (n > 0 && p[0].revents)
            return false;
        if (n > 0 && p[1].revents)
            return true;
    }
}

/* Connects to upstream up and sends the check's request; the socket, or -1. */
static int check_send(struct proxy_checker *k, size_t up, uint64_t deadline)
{
    const struct proxy_conf *c = k->s->conf;
    const struct proxy_upstream *u = &c->upstreams[up];
    int fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err = 0, n;
    socklen_t len = sizeof err;
    char req[PROXY_HEALTH_URI + PROXY_ADDR_TEXT + 128];

    if (fd < 0)
        return -1;
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: cohttpd health check\r\n"
                 "Connection: close\r\n\r\n",
                 c->health_uri, strncmp(u->text, "unix:", 5) == 0 ? "localhost" : u->text);
    if ((connect(fd, (const struct sockaddr *)&u->addr, u->addr_len) < 0 && errno != EINPROGRESS) ||
        !wait_fd(k, fd, POLLOUT, deadline) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) ||
        err || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One check of upstream up: true when it answers 2xx or 3xx within
 * health_interval. */
static bool check_one(struct proxy_checker *k, size_t up)
{
    uint64_t deadline = mono_ms() + k->s->conf->health_interval_ms;
    char line[64];
    size_t len = 0;
    int fd = check_send(k, up, deadline);

    if (fd < 0)
        return false;
    while (len < sizeof line - 1 && !memchr(line, '\n', len) && wait_fd(k, fd, POLLIN, deadline)) {
        ssize_t r = recv(fd, line + len, sizeof line - 1 - len, 0);

        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    line[len] = '\0';
    return len >= 12 && strncmp(line, "HTTP/1.", 7) == 0 && line[8] == ' ' &&
           (line[9] == '2' || line[9] == '3');
}

/* Counts one result of upstream up; enough in a row change its state. */
static void check_record(struct proxy_checker *k, size_t up, bool pass)
{
    const struct proxy_conf *c = k->s->conf;
    _Atomic bool *down = &k->s->ups[up].checked_down;

    if (pass) {
        k->fails[up] = 0;
        if (atomic_load(down) && ++k->passes[up] >= c->health_passes) {
            atomic_store(down, false);
            log_info("upstream %s: health check of %s passed %u time%s: back",
                     c->upstreams[up].text, c->health_uri, k->passes[up],
                     k->passes[up] == 1 ? "" : "s");
        }
        return;
    }
    k->passes[up] = 0;
    if (!atomic_load(down) && ++k->fails[up] >= c->health_fails) {
        atomic_store(down, true);
        log_warn("upstream %s: health check of %s failed %u time%s: out until it passes",
                 c->upstreams[up].text, c->health_uri, k->fails[up], k->fails[up] == 1 ? "" : "s");
    }
}

static void *check_main(void *arg)
{
    struct proxy_checker *k = arg;

    while (!atomic_load(&k->stop)) {
        uint64_t next = mono_ms() + k->s->conf->health_interval_ms;

        for (size_t i = 0; i < k->s->conf->n_upstreams && !atomic_load(&k->stop); i++)
            check_record(k, i, check_one(k, i));
        wait_fd(k, -1, 0, next);
    }
    return NULL;
}

int proxy_check_start(struct proxy_shared *s)
{
    struct proxy_checker *k;
    int r;

    if (!s->conf->health_uri[0])
        return 0;
    k = calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    k->s = s;
    k->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (k->stop_fd < 0) {
        r = -errno;
        goto fail;
    }
    r = -pthread_create(&k->th, NULL, check_main, k);
    if (r < 0)
        goto fail;
    s->checker = k;
    return 0;
fail:
    if (k->stop_fd >= 0)
        close(k->stop_fd);
    free(k);
    return r;
}

void proxy_check_stop(struct proxy_shared *s)
{
    struct proxy_checker *k = s->checker;
    uint64_t one = 1;

    if (!k)
        return;
    atomic_store(&k->stop, true);
    if (write(k->stop_fd, &one, sizeof one) < 0)
        log_warn("health checker: cannot signal its stop: %s", strerror(errno));
    pthread_join(k->th, NULL);
    close(k->stop_fd);
    free(k);
    s->checker = NULL;
}
