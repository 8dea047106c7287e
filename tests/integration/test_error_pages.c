/* Integration: error_page, per route and from [server], through curl. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "proxy_fake.h"

static struct daemon d;

static const char page_404[] = "<h1>not here</h1>\n";
static const char page_other[] = "<h1>other error</h1>\n";
static const char page_403[] = "<h1>not for you</h1>\n";
static const char page_502[] = "<h1>the script failed</h1>\n";
static const char page_server[] = "<h1>the server's 404</h1>\n";

static void start(void)
{
    char ini[2048];

    snprintf(ini, sizeof ini,
             "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n"
             "error_page = 404 /errors/server404.html\n"
             "[static /]\nroot = %%ROOT%%\n"
             "error_page = 404 410 /errors/404.html\n"
             "error_page = 405 416 /errors/other.html\n"
             "[static /inherit/]\nroot = %%ROOT%%\n"
             "[static /gone/]\nroot = %%ROOT%%\nerror_page = 404 /errors/nope.html\n"
             "[static /private/]\nroot = %%ROOT%%\ndeny = all\n"
             "error_page = 403 /errors/403.html\n"
             "[cgi /cgi-bin/]\nroot = %%ROOT%%/cgi-bin\n"
             "error_page = 502 504 /errors/502.html\n"
             "[proxy /api/]\nupstream = 127.0.0.1:%u\nerror_page = 502 /errors/502.html\n",
             fake_dead_port());
    daemon_start_with_dir(&d, ini, "cgi-bin");
    site_write(&d, "index.html", "home\n", 5);
    site_write(&d, "errors/404.html", page_404, strlen(page_404));
    site_write(&d, "errors/other.html", page_other, strlen(page_other));
    site_write(&d, "errors/403.html", page_403, strlen(page_403));
    site_write(&d, "errors/502.html", page_502, strlen(page_502));
    site_write(&d, "errors/server404.html", page_server, strlen(page_server));
    site_write_script(&d, "cgi-bin/bad.sh", "#!/bin/sh\nprintf 'no header line\\n\\n'\n");
    site_write_script(&d, "cgi-bin/own404.sh",
                      "#!/bin/sh\nprintf 'Status: 404 Not Found\\nContent-Type: text/plain\\n\\n"
                      "the script says so\\n'\n");
}

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0, "the daemon exits cleanly"); }

TestSuite(error_pages, .init = start, .fini = stop, .timeout = 120);

static void curl(struct curl_got *g, const char *args, const char *path)
{
    cr_assert_gt(curl_fetch(&d, args, path, g), 0, "curl %s %s failed", args, path);
}

static void expect_page(const struct curl_got *g, int status, const char *page)
{
    char cl[64];

    cr_expect_eq(g->status, status, "status %d, expected %d:\n%s%s", g->status, status, g->head,
                 g->body);
    cr_expect_str_eq(g->body, page, "the page, with its status %d:\n%s", status, g->head);
    snprintf(cl, sizeof cl, "\nContent-Length: %zu\r\n", strlen(page));
    cr_expect(strstr(g->head, cl), "%s expected in:\n%s", cl, g->head);
}

Test(error_pages, static_errors_get_the_route_s_pages_with_their_status)
{
    struct curl_got g;

    curl(&g, "", "/missing.html");
    expect_page(&g, 404, page_404);
    cr_expect(strstr(g.head, "\nContent-Type: text/html"), "%s", g.head);
    curl(&g, "-X POST -d x", "/index.html");
    expect_page(&g, 405, page_other);
    cr_expect(strstr(g.head, "\nAllow: GET, HEAD, OPTIONS\r\n"), "405 keeps Allow:\n%s", g.head);
    curl(&g, "-H 'Range: bytes=9999-'", "/index.html");
    expect_page(&g, 416, page_other);
    cr_expect(strstr(g.head, "\nContent-Range: bytes */5\r\n"), "416 keeps Content-Range:\n%s",
              g.head);
    curl(&g, "", "/private/index.html");
    expect_page(&g, 403, page_403);
}

Test(error_pages, head_gets_the_status_and_length_without_the_body)
{
    static const char req[] = "HEAD /missing.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    size_t len;
    bool closed;
    char *out = raw_exchange(d.port, req, sizeof req - 1, 10000, &len, &closed);
    const char *end = strstr(out, "\r\n\r\n");

    cr_expect_eq(response_status(out), 404, "%s", out);
    cr_expect(strstr(out, "\r\nContent-Length: 18\r\n"), "the page's length:\n%s", out);
    cr_expect(end && end + 4 == out + len, "no body after the head for HEAD:\n%s", out);
    cr_expect(closed, "the connection closes as asked");
    free(out);
}

Test(error_pages, a_route_without_pages_inherits_server_s_and_a_missing_page_falls_back)
{
    struct curl_got g;

    curl(&g, "", "/inherit/missing.html");
    expect_page(&g, 404, page_server);
    curl(&g, "", "/gone/missing.html");
    expect_page(&g, 404, "404 Not Found\n");
    cr_expect(strstr(g.head, "\nContent-Type: text/plain"), "the built-in text:\n%s", g.head);
    curl(&g, "", "/inherit/index.html");
    cr_expect_eq(g.status, 200, "a page changes only errors: %s", g.head);
    cr_expect_str_eq(g.body, "home\n");
}

Test(error_pages, cgi_and_proxy_failures_get_pages_but_a_script_s_own_status_passes_unchanged)
{
    struct curl_got g;

    curl(&g, "", "/cgi-bin/bad.sh");
    expect_page(&g, 502, page_502);
    curl(&g, "", "/cgi-bin/own404.sh");
    cr_expect_eq(g.status, 404, "%s", g.head);
    cr_expect_str_eq(g.body, "the script says so\n", "the script's own body:\n%s", g.head);
    curl(&g, "", "/api/x");
    expect_page(&g, 502, page_502);
    /* the route's own error_page lines replace [server]'s */
    curl(&g, "", "/cgi-bin/missing.sh");
    expect_page(&g, 404, "404 Not Found\n");
}
