/* Integration: Upgrade through the proxy: WebSocket with python3-websockets on both ends, raw
 * tunnels with early bytes, tunnel_idle_timeout, reloads and SIGTERM. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "proxy_fake.h"

#define WAIT_MS 30000 /* the longest any step waits */

static struct daemon d;
static struct fake up;
static pid_t ws_pid;

static void fini(void)
{
    daemon_kill(&d);
    if (ws_pid > 0) {
        kill(ws_pid, SIGKILL);
        waitpid(ws_pid, NULL, 0);
    }
    fake_kill(&up);
}

TestSuite(proxy_tunnel, .fini = fini);

static void start_proxy(unsigned port, const char *extra)
{
    char ini[1024];

    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n%s"
             "[proxy /api/]\nupstream = 127.0.0.1:%u\n",
             extra, port);
    daemon_start(&d, ini);
}

static char *daemon_log(void) { return file_slurp(d.log); }

/* Runs tests/integration/proxy_ws.py (Debian's python3, not a wrapper
 * earlier on PATH) with args, its output in out; returns its pid. */
static pid_t ws_spawn(const char *out, const char *mode, const char *arg1, const char *arg2)
{
    pid_t pid = harness_fork();

    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execl("/usr/bin/python3", "python3", "-u",
              COHTTPD_SOURCE_DIR "/tests/integration/proxy_ws.py", mode, arg1, arg2, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Starts the WebSocket echo server and the daemon in front of it (extra:
 * more [server] or [limits] lines). Returns the server's output file. */
static void start_ws(const char *extra, char *srv_out, size_t cap)
{
    char *text, *p;
    unsigned port = 0;

    snprintf(srv_out, cap, "/tmp/cohttpd-ws-%d.out", (int)getpid());
    ws_pid = ws_spawn(srv_out, "server", NULL, NULL);
    cr_assert(file_wait_for(srv_out, "port ", WAIT_MS), "the websockets server did not start");
    cr_assert(file_wait_for(srv_out, "\n", WAIT_MS));
    text = file_slurp(srv_out);
    p = strstr(text, "port ");
    if (p)
        port = (unsigned)strtoul(p + 5, NULL, 10);
    cr_assert_neq(port, 0, "%s", text);
    free(text);
    start_proxy(port, extra);
}

/* Waits (bounded) for a spawned client to exit; returns its exit code. */
static int wait_exit(pid_t pid)
{
    long deadline = now_ms() + 5 * WAIT_MS;
    int status = 0;

    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(20000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(proxy_tunnel, websocket_messages_cross_the_tunnel)
{
    char srv[128], cli[400], url[128], *out, *log;
    int rc;

    start_ws("", srv, sizeof srv);
    snprintf(cli, sizeof cli, "%s/client.out", d.dir);
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/api/chat", d.port);
    rc = wait_exit(ws_spawn(cli, "client", url, NULL));
    out = file_slurp(cli);
    log = daemon_log();
    cr_assert_eq(rc, 0, "client: %s\ndaemon: %s", out, log);
    for (const char *const *c = (const char *const[]){"text", "binary", "fragmented", "1MB", "ping",
                                                      "client_close", "server_close", NULL};
         *c; c++) {
        char want[64];

        snprintf(want, sizeof want, "ok %s\n", *c);
        cr_assert(strstr(out, want), "no '%s': %s", *c, out);
    }
    cr_assert(file_wait_for(srv, "closed 4002 client bye", WAIT_MS),
              "the server saw the client's close code");
    free(out);
    free(log);
    unlink(srv);
}

Test(proxy_tunnel, a_tunnel_keeps_running_across_a_reload)
{
    char srv[128], cli[400], go[400], url[128], *out;
    pid_t pid;
    int rc, fd;

    start_ws("", srv, sizeof srv);
    snprintf(cli, sizeof cli, "%s/hold.out", d.dir);
    snprintf(go, sizeof go, "%s/go", d.dir);
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/api/chat", d.port);
    pid = ws_spawn(cli, "hold", url, go);
    cr_assert(file_wait_for(cli, "ready\n", WAIT_MS), "%s", file_slurp(cli));
    cr_assert_eq(kill(d.pid, SIGHUP), 0);
    cr_assert(file_wait_for(d.log, "(config generation 2)", WAIT_MS), "no reload: %s",
              daemon_log());
    fd = open(go, O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    close(fd);
    rc = wait_exit(pid);
    out = file_slurp(cli);
    cr_assert_eq(rc, 0, "client: %s\ndaemon: %s", out, daemon_log());
    cr_assert(strstr(out, "ok after\n"), "%s", out);
    free(out);
    unlink(srv);
}

Test(proxy_tunnel, an_upgrade_answered_without_101_is_a_normal_response)
{
    static const char req[] = "GET /api/x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    static const char again[] = "GET /api/y HTTP/1.1\r\nHost: h\r\n\r\n";
    char *resp;
    size_t len;
    int fd;

    fake_start(&up, FAKE_HEADERS);
    start_proxy(up.port, "");
    fd = tcp_connect(d.port);
    cr_assert(tcp_send_all(fd, req, sizeof req - 1));
    resp = read_responses(fd, 1, WAIT_MS, &len);
    cr_assert_eq(response_status(resp), 200, "%s\n%s", resp, daemon_log());
    cr_assert(strstr(resp, "\r\nUpgrade: websocket\r\n"), "Upgrade went up: %s", resp);
    cr_assert(strstr(resp, "\r\nConnection: upgrade\r\n"), "%s", resp);
    cr_assert(strstr(resp, "\r\nSec-WebSocket-Version: 13\r\n"), "%s", resp);
    free(resp);
    cr_assert(tcp_send_all(fd, again, sizeof again - 1));
    resp = read_responses(fd, 1, WAIT_MS, &len);
    cr_assert_eq(response_status(resp), 200, "the connection goes on as HTTP: %s", resp);
    cr_assert(strstr(resp, "GET /api/y HTTP/1.1\r\n"), "%s", resp);
    cr_assert_null(strstr(resp, "Upgrade"), "%s", resp);
    free(resp);
    close(fd);
}

/* The raw upstream's end of its next connection. */
static int raw_accept(int lfd)
{
    int fd = tcp_accept(lfd, WAIT_MS);

    cr_assert_geq(fd, 0, "the proxy never connected: %s", daemon_log());
    return fd;
}

/* Opens a tunnel: the client sends an Upgrade request with bytes behind it,
 * the raw upstream answers 101 with bytes behind it; each side must get
 * the other's. *ufd gets the upstream's end. Returns the client's. */
static int raw_tunnel(int lfd, int *ufd)
{
    static const char req[] = "GET /api/t HTTP/1.1\r\nHost: h\r\nUpgrade: testproto\r\n"
                              "Connection: upgrade\r\n\r\nclient-early";
    static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: testproto\r\n"
                               "Connection: Upgrade\r\nX-Up: 1\r\n\r\nupstream-early";
    char buf[8192] = "";
    size_t len = 0;
    int fd = tcp_connect(d.port);

    cr_assert(tcp_send_all(fd, req, sizeof req - 1));
    *ufd = raw_accept(lfd);
    cr_assert(tcp_read_until(*ufd, buf, sizeof buf, &len, "\r\n\r\n", WAIT_MS), "%s", buf);
    cr_assert(strstr(buf, "\r\nUpgrade: testproto\r\nConnection: upgrade\r\n"), "%s", buf);
    cr_assert(tcp_send_all(*ufd, resp, sizeof resp - 1));
    /* The client's bytes behind its request belong to the new protocol:
     * they go up once the upstream switched. */
    cr_assert(tcp_read_until(*ufd, buf, sizeof buf, &len, "client-early", WAIT_MS),
              "the client's bytes behind its request reach the upstream: %s\n%s", buf,
              daemon_log());
    len = 0;
    buf[0] = '\0';
    cr_assert(tcp_read_until(fd, buf, sizeof buf, &len, "upstream-early", WAIT_MS),
              "the upstream's bytes behind its 101 reach the client: %s\n%s", buf, daemon_log());
    cr_assert_eq(response_status(buf), 101, "%s", buf);
    cr_assert(strstr(buf, "\r\nX-Up: 1\r\n"), "%s", buf);
    cr_assert(strstr(buf, "\r\nUpgrade: testproto\r\n"), "%s", buf);
    cr_assert(strstr(buf, "\r\nConnection: upgrade\r\n"), "%s", buf);
    cr_assert_null(strstr(buf, "Content-Length"), "%s", buf);
    return fd;
}

/* Sends msg one way through the tunnel and checks it arrives. */
static void relay_ok(int from, int to, const char *msg)
{
    char buf[256] = "";
    size_t len = 0;

    cr_assert(tcp_send_all(from, msg, strlen(msg)));
    cr_assert(tcp_read_until(to, buf, sizeof buf, &len, msg, WAIT_MS), "'%s' got '%s': %s", msg,
              buf, daemon_log());
}

Test(proxy_tunnel, an_idle_tunnel_is_closed_after_tunnel_idle_timeout)
{
    unsigned port;
    int lfd = tcp_listen(&port), cfd, ufd;
    char ini[1024];

    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n"
             "[proxy /api/]\nupstream = 127.0.0.1:%u\ntunnel_idle_timeout = 1s\n",
             port);
    daemon_start(&d, ini);
    cfd = raw_tunnel(lfd, &ufd);
    relay_ok(cfd, ufd, "to-upstream");
    relay_ok(ufd, cfd, "to-client");
    /* Then silence: both ends are closed by the proxy, not by a peer. */
    cr_assert(wait_closed(cfd, WAIT_MS), "the client's end stays open: %s", daemon_log());
    cr_assert(wait_closed(ufd, WAIT_MS), "the upstream's end stays open");
    cr_assert(file_wait_for(d.log, "tunnel idle", WAIT_MS), "%s", daemon_log());
    close(cfd);
    close(ufd);
    close(lfd);
}

Test(proxy_tunnel, a_half_closed_tunnel_still_carries_the_answer)
{
    unsigned port;
    int lfd = tcp_listen(&port), cfd, ufd;

    start_proxy(port, "");
    cfd = raw_tunnel(lfd, &ufd);
    cr_assert_eq(shutdown(cfd, SHUT_WR), 0);
    cr_assert(wait_closed(ufd, WAIT_MS), "the upstream sees the client's end");
    relay_ok(ufd, cfd, "late-answer");
    close(ufd);
    cr_assert(wait_closed(cfd, WAIT_MS), "the client sees the upstream's end");
    close(cfd);
    close(lfd);
}

Test(proxy_tunnel, sigterm_ends_a_tunnel_at_shutdown_timeout)
{
    unsigned port;
    int lfd = tcp_listen(&port), cfd, ufd;

    start_proxy(port, "[limits]\nshutdown_timeout = 10s\n");
    cfd = raw_tunnel(lfd, &ufd);
    cr_assert_eq(kill(d.pid, SIGTERM), 0);
    /* It keeps relaying while the daemon drains, then it is cut. */
    relay_ok(cfd, ufd, "while-draining");
    cr_assert(wait_closed(cfd, WAIT_MS), "the tunnel outlived shutdown_timeout: %s", daemon_log());
    cr_assert_eq(daemon_stop(&d), 0, "a clean exit after shutdown_timeout");
    close(cfd);
    close(ufd);
    close(lfd);
}
