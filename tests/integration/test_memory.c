/* Integration: an idle keep-alive connection costs the daemon almost no memory. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define IDLE_CONNS 10000

static void raise_limit(void)
{
    struct rlimit rl;

    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    cr_assert_geq(rl.rlim_cur, IDLE_CONNS + 100, "RLIMIT_NOFILE hard limit too low");
}

/* One request on each connection, answered, then the connection stays idle. */
static void request_on_all(const int *fds, int n)
{
    static const char req[] = "GET /f.html HTTP/1.1\r\nHost: x\r\n\r\n";

    for (int i = 0; i < n; i++)
        cr_assert_eq(send(fds[i], req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)sizeof req - 1);
    for (int i = 0; i < n; i++) {
        size_t len;
        char *out = read_responses(fds[i], 1, 10000, &len);

        cr_assert_eq(response_status(out), 200, "connection %d: %s", i, out);
        free(out);
    }
}

Test(memory, ten_thousand_idle_keepalive_connections)
{
    struct daemon d;
    static int fds[IDLE_CONNS];
    long before, after, per_conn_bytes;
    char body[612];

    raise_limit();
    daemon_start(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
                     "[limits]\nkeepalive_timeout = 5m\n[static /]\nroot = %ROOT%\n");
    memset(body, 'x', sizeof body);
    site_write(&d, "f.html", body, sizeof body);
    /* Warm up the pools and the file path once, then measure. */
    for (int i = 0; i < 100; i++)
        fds[i] = tcp_connect(d.port);
    request_on_all(fds, 100);
    for (int i = 0; i < 100; i++)
        close(fds[i]);
    usleep(200000);
    before = proc_rss_kib(d.pid);
    for (int i = 0; i < IDLE_CONNS; i++)
        fds[i] = tcp_connect(d.port);
    request_on_all(fds, IDLE_CONNS);
    usleep(200000);
    after = proc_rss_kib(d.pid);
    per_conn_bytes = (after - before) * 1024 / IDLE_CONNS;
    cr_log_info("RSS %ld KiB -> %ld KiB for %d idle connections: %ld bytes each", before, after,
                IDLE_CONNS, per_conn_bytes);
    printf("idle keep-alive memory: %ld bytes per connection (%d connections)\n", per_conn_bytes,
           IDLE_CONNS);
    cr_assert_lt(per_conn_bytes, 4096, "%ld bytes of RSS per idle connection", per_conn_bytes);
    /* They are still alive and usable. */
    request_on_all(fds, 10);
    for (int i = 0; i < IDLE_CONNS; i++)
        close(fds[i]);
    cr_assert_eq(daemon_stop(&d), 0);
}
