/* Integration: how a request flows through the proxy: the upstream in the access log,
 * interim responses, a client that leaves, encoded bytes in the target. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "proxy_fake.h"

#define WAIT_MS 30000 /* the longest any step waits */

static struct daemon d;
static struct fake up;
static char logdir[64]; /* outside the daemon's directory: it outlives daemon_stop */

static void fini(void)
{
    daemon_kill(&d);
    fake_kill(&up);
    if (logdir[0])
        run_cmd(NULL, 0, "rm -rf '%s'", logdir);
}

TestSuite(proxy_flow, .fini = fini);

static char *daemon_log(void) { return file_slurp(d.log); }

/* Starts a fake upstream in mode and the daemon in front of it, with the
 * JSON access log in logdir/access.log and extra lines in the route. */
static void start(enum fake_mode mode, const char *extra)
{
    char ini[1024];

    fake_start(&up, mode);
    snprintf(logdir, sizeof logdir, "/tmp/cohttpd-pxlog-XXXXXX");
    cr_assert_not_null(mkdtemp(logdir));
    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = %s/access.log\n"
             "access_log_format = json\n[static /]\nroot = %%ROOT%%\n"
             "[proxy /api/]\nupstream = 127.0.0.1:%u\n%s",
             logdir, up.port, extra);
    daemon_start(&d, ini);
}

/* curl with opts on path: the status (or -exit code). */
static int curl_status(const char *opts, const char *path)
{
    char out[64];
    int rc = run_cmd(out, sizeof out,
                     "curl -sS %s -o /dev/null -w '%%{http_code}' 'http://127.0.0.1:%u%s'", opts,
                     d.port, path);

    return rc == 0 ? atoi(out) : -rc;
}

Test(proxy_flow, the_json_access_log_names_the_upstream_and_its_time)
{
    char out[512], want[128];

    start(FAKE_OK, "");
    cr_assert_eq(curl_status("", "/api/x"), 200, "%s", daemon_log());
    cr_assert_eq(curl_status("", "/static.txt"), 404, "%s", daemon_log());
    cr_assert_eq(daemon_stop(&d), 0); /* stopping writes what is buffered */
    cr_assert_eq(
        run_cmd(out, sizeof out,
                "python3 -c 'import json, sys\n"
                "for l in open(sys.argv[1]):\n"
                "    o = json.loads(l)\n"
                "    t = o.get(\"upstream_time_us\")\n"
                "    print(o[\"status\"], o.get(\"upstream\"), isinstance(t, int) and t >= 0)"
                "' '%s/access.log'",
                logdir),
        0, "%s", out);
    snprintf(want, sizeof want, "200 127.0.0.1:%u True\n404 None False\n", up.port);
    cr_assert_str_eq(out, want, "the log's lines, as read back");
}
