/* Integration: nginx as the proxy's upstream; its access log ($connection,
 * $connection_requests) shows how many upstream connections cohttpd used. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS      30000 /* the longest any step waits */
#define CLIENT_CONNS 5
#define PER_CONN     10

static struct daemon d;
static pid_t nginx_pid;
static char ngdir[64];

static void fini(void)
{
    daemon_kill(&d);
    if (nginx_pid > 0) {
        kill(nginx_pid, SIGKILL);
        waitpid(nginx_pid, NULL, 0);
    }
    if (ngdir[0])
        run_cmd(NULL, 0, "rm -rf '%s'", ngdir);
}

TestSuite(proxy_nginx, .fini = fini);

/* Runs nginx in the foreground with everything below ngdir, on a free
 * 127.0.0.1 port; returns the port once it answers. */
static unsigned nginx_start(void)
{
    char conf[400], out[256];
    unsigned port;
    int lfd = tcp_listen(&port);
    long deadline = now_ms() + WAIT_MS;
    FILE *f;

    close(lfd); /* a free port for nginx to take */
    snprintf(conf, sizeof conf, "%s/nginx.conf", ngdir);
    f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid %s/nginx.pid;\n"
            "error_log %s/error.log;\nevents { worker_connections 64; }\nhttp {\n"
            "  log_format conn '$connection $connection_requests $request_uri';\n"
            "  access_log %s/access.log conn;\n"
            "  client_body_temp_path %s/tmp;\n  proxy_temp_path %s/tmp;\n"
            "  fastcgi_temp_path %s/tmp;\n  uwsgi_temp_path %s/tmp;\n  scgi_temp_path %s/tmp;\n"
            "  keepalive_requests 10000;\n  keepalive_timeout 120s;\n"
            "  server { listen 127.0.0.1:%u; location / { return 200 \"from nginx\\n\"; } }\n"
            "}\n",
            ngdir, ngdir, ngdir, ngdir, ngdir, ngdir, ngdir, ngdir, port);
    cr_assert_eq(fclose(f), 0);
    nginx_pid = harness_fork();
    if (nginx_pid == 0) {
        execl("/usr/sbin/nginx", "nginx", "-p", ngdir, "-e", "stderr", "-c", conf, (char *)NULL);
        _exit(127);
    }
    while (now_ms() < deadline &&
           run_cmd(out, sizeof out, "curl -s -o /dev/null http://127.0.0.1:%u/ping", port) != 0)
        usleep(50000);
    cr_assert_eq(run_cmd(out, sizeof out, "curl -sS http://127.0.0.1:%u/ping 2>&1", port), 0,
                 "nginx did not start: %s", out);
    return port;
}

Test(proxy_nginx, upstream_connections_are_reused_across_client_connections)
{
    char ini[512], urls[4096] = "", out[4096], cmd_out[256], log[400];
    size_t off = 0;
    unsigned port;

    snprintf(ngdir, sizeof ngdir, "/tmp/cohttpd-nginx-XXXXXX");
    cr_assert_not_null(mkdtemp(ngdir));
    port = nginx_start();
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n"
             "[proxy /]\nupstream = 127.0.0.1:%u\nkeepalive_timeout = 60s\n",
             port);
    daemon_start(&d, ini);
    for (int i = 0; i < PER_CONN; i++)
        off += (size_t)snprintf(urls + off, sizeof urls - off, " 'http://127.0.0.1:%u/r%d'", d.port,
                                i);
    /* curl makes one connection for the URLs of one command line */
    for (int c = 0; c < CLIENT_CONNS; c++) {
        cr_assert_eq(run_cmd(out, sizeof out, "curl -sS%s 2>&1", urls), 0, "%s", out);
        cr_assert(strstr(out, "from nginx\n"), "%s\n%s", out, file_slurp(d.log));
    }
    /* nginx writes each request's line as it ends (waited for, up to 30 s),
     * read back as: distinct connections, requests on the busiest, lines */
    snprintf(log, sizeof log, "%s/access.log", ngdir);
    cr_assert_eq(run_cmd(cmd_out, sizeof cmd_out,
                         "for i in $(seq 300); do [ \"$(grep -c /r '%s')\" -ge 50 ] && break; "
                         "sleep 0.1; done; "
                         "awk '/\\/r[0-9]/ { c[$1] = 1; if ($2 > m) m = $2; n++ } "
                         "END { print length(c), m, n }' '%s'",
                         log, log),
                 0);
    cr_assert_str_eq(cmd_out, "1 50 50\n",
                     "one upstream connection for 50 requests on 5 client connections "
                     "(connections, most requests on one, lines): %s",
                     file_slurp(log));
}
