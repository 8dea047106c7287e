/* Integration: CGI and proxied responses compressed while they stream (compress = on). */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "test_cgi_util.h"

/* up: the upstream (a static file and the scripts, uncompressed); d: the
 * daemon under test, compressing its CGI route and a proxy route to up. */
static struct daemon up, d;

/* Writes its first piece, then waits (at most 30 s) for the file "go" the
 * test creates once it has decoded that piece, then writes its last one. */
#define STREAM_SCRIPT                                                                              \
    "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\nETag: \"v1\"\\r\\n\\r\\n'\n"                 \
    "seq 1 3000 | sed 's/^/first piece line /'\necho FIRST-PIECE-END\n"                            \
    "i=0\nwhile [ ! -e \"$GO\" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done\n"            \
    "if [ -e \"$GO\" ]; then echo RELEASED; else echo NEVER-RELEASED; fi\n"                        \
    "seq 1 3000 | sed 's/^/last piece line /'\n"

static char go_path[1300];

static void start(void)
{
    char ini[8192], text[65536];
    size_t n = 0;

    daemon_prepare(&up, "[static /files/]\nroot = %ROOT%/files\n"
                        "[cgi /cgi-bin/]\nroot = %ROOT%/cgi-bin\nenv = GO=%ROOT%/go\n");
    while (n + 40 < sizeof text)
        n += (size_t)snprintf(text + n, sizeof text - n, "line %zu of a text file\n", n);
    site_write(&up, "files/page.txt", text, n);
    cgi_script_at(&up, "cgi-bin/stream.sh", STREAM_SCRIPT);
    cgi_script_at(&up, "cgi-bin/sse.sh",
                  "#!/bin/sh\nprintf 'Content-Type: text/event-stream\\r\\n\\r\\n'\n"
                  "printf 'data: one\\n\\n'\n");
    daemon_start_prepared(&up, cohttpd_bin());
    snprintf(go_path, sizeof go_path, "%s/go", up.root);
    snprintf(ini, sizeof ini,
             "[cgi /cgi-bin/]\nroot = %s/cgi-bin\nenv = GO=%s\ncompress = on\n"
             "[cgi /plain-cgi/]\nroot = %s/cgi-bin\nenv = GO=%s\n"
             "[proxy /up/]\nupstream = 127.0.0.1:%u\nstrip_prefix = on\ncompress = on\n",
             up.root, go_path, up.root, go_path, up.port);
    daemon_start(&d, ini);
}

static void stop(void)
{
    if (d.pid > 0)
        cr_assert_eq(daemon_stop(&d), 0);
    if (up.pid > 0)
        cr_assert_eq(daemon_stop(&up), 0);
}

TestSuite(compress_stream, .init = start, .fini = stop, .timeout = 120);

/* ---- streaming: the first piece arrives decoded before the script ends ---- */

struct stream_got {
    char body[200000];
    size_t len;
    bool released; /* the go file was created */
    char encoding[64];
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct stream_got *g = arg;
    size_t len = size * n, room = sizeof g->body - 1 - g->len;

    memcpy(g->body + g->len, data, len < room ? len : room);
    g->len += len < room ? len : room;
    g->body[g->len] = '\0';
    if (!g->released && strstr(g->body, "FIRST-PIECE-END\n")) {
        FILE *f = fopen(go_path, "w");

        if (f)
            fclose(f);
        g->released = f != NULL;
    }
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct stream_got *g = arg;
    size_t len = size * n;

    if (len > 18 && strncasecmp(data, "Content-Encoding: ", 18) == 0)
        snprintf(g->encoding, sizeof g->encoding, "%.*s", (int)(len - 20), data + 18);
    return len;
}

/* GETs path with libcurl asking for coding (decoded by libcurl) into g. */
static void stream_get(const char *path, const char *coding, struct stream_got *g)
{
    char url[256];
    CURL *c = curl_easy_init();
    CURLcode rc;

    unlink(go_path);
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", d.port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, coding);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 90L);
    rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    cr_assert_eq(rc, CURLE_OK, "%s: %s; got %zu bytes", path, curl_easy_strerror(rc), g->len);
}

static void assert_streamed(const char *path, const char *coding)
{
    struct stream_got *g = calloc(1, sizeof *g);

    cr_assert_not_null(g);
    stream_get(path, coding, g);
    cr_assert_str_eq(g->encoding, coding, "%s: no %s coding", path, coding);
    cr_assert(g->released, "%s: the first piece never arrived decoded", path);
    cr_assert_not_null(strstr(g->body, "FIRST-PIECE-END\nRELEASED\n"),
                       "%s: the first piece did not arrive before the script ended: %.200s", path,
                       strstr(g->body, "FIRST-PIECE-END") ?: g->body);
    cr_assert_not_null(strstr(g->body, "\nlast piece line 3000\n"), "%s: the end is missing", path);
    free(g);
}

Test(compress_stream, a_cgi_script_is_compressed_piece_by_piece)
{
    assert_streamed("/cgi-bin/stream.sh", "gzip");
    assert_streamed("/cgi-bin/stream.sh", "br");
    assert_streamed("/cgi-bin/stream.sh", "zstd");
}

Test(compress_stream, a_proxied_stream_is_compressed_piece_by_piece)
{
    assert_streamed("/up/cgi-bin/stream.sh", "gzip");
}

/* ---- what is compressed, and what never is -------------------------------- */

/* curl's headers and exit status for path with args; the decoded body goes
 * to d.dir/NAME. */
static int fetch_to(const char *args, const char *path, const char *name, char *head, size_t cap)
{
    return run_cmd(head, cap, "curl -sS -D - -o %s/%s %s http://127.0.0.1:%u%s", d.dir, name, args,
                   d.port, path);
}

Test(compress_stream, curl_compressed_gets_the_upstream_file_byte_for_byte)
{
    char head[4096], v[256], cmd[2048], out[4096];
    char *etag_up;

    cr_assert_eq(run_cmd(head, sizeof head, "curl -sS -D - -o /dev/null http://127.0.0.1:%u%s",
                         up.port, "/files/page.txt"),
                 0, "%s", head);
    cr_assert_not_null(response_header(head, "ETag", v, sizeof v), "%s", head);
    etag_up = strdup(v);
    cr_assert_eq(fetch_to("--compressed -H 'Accept-Encoding: gzip'", "/up/files/page.txt", "page",
                          head, sizeof head),
                 0, "%s", head);
    cr_assert_eq(response_status(head), 200, "%s", head);
    cr_assert_not_null(response_header(head, "Content-Encoding", v, sizeof v), "%s", head);
    cr_assert_str_eq(v, "gzip", "%s", head);
    cr_assert_not_null(response_header(head, "Vary", v, sizeof v), "%s", head);
    cr_assert_not_null(strstr(head, "Accept-Encoding"), "%s", head);
    cr_assert_not_null(response_header(head, "ETag", v, sizeof v), "%s", head);
    cr_assert(strncmp(v, "W/", 2) == 0 && strcmp(v + 2, etag_up) == 0,
              "ETag %s is not the weak form of the upstream's %s", v, etag_up);
    cr_assert_null(response_header(head, "Content-Length", v, sizeof v), "%s", head);
    snprintf(cmd, sizeof cmd, "cmp %s/page %s/files/page.txt", d.dir, up.root);
    cr_assert_eq(run_cmd(out, sizeof out, "%s 2>&1", cmd), 0, "%s", out);
    free(etag_up);
}

/* path answered with args has no Content-Encoding; returns the status. */
static int assert_not_compressed(const char *args, const char *path)
{
    char head[4096], v[256];

    cr_assert_eq(fetch_to(args, path, "raw", head, sizeof head), 0, "%s", head);
    cr_assert_null(response_header(head, "Content-Encoding", v, sizeof v), "%s: %s", path, head);
    return response_status(head);
}

Test(compress_stream, event_streams_are_never_compressed)
{
    char *body;
    char path[1100];

    cr_assert_eq(assert_not_compressed("-H 'Accept-Encoding: gzip'", "/cgi-bin/sse.sh"), 200);
    snprintf(path, sizeof path, "%s/raw", d.dir);
    body = file_slurp(path);
    cr_assert_str_eq(body, "data: one\n\n");
    free(body);
    cr_assert_eq(assert_not_compressed("-H 'Accept-Encoding: gzip'", "/up/cgi-bin/sse.sh"), 200);
}

Test(compress_stream, ranges_and_other_routes_go_as_they_are)
{
    char head[4096];

    cr_assert_eq(assert_not_compressed("-H 'Accept-Encoding: gzip' -r 0-99", "/up/files/page.txt"),
                 206);
    cr_assert_eq(assert_not_compressed("-H 'Accept-Encoding: identity'", "/up/files/page.txt"),
                 200);
    /* the route without compress = on */
    cr_assert_eq(run_cmd(head, sizeof head,
                         "touch %s; curl -sS -D - -o /dev/null -H 'Accept-Encoding: gzip' "
                         "http://127.0.0.1:%u/plain-cgi/stream.sh",
                         go_path, d.port),
                 0, "%s", head);
    cr_assert_null(strstr(head, "Content-Encoding"), "%s", head);
}

/* The coding headers of a GET and of a HEAD of path, both asking for gzip:
 * a HEAD gets what the GET would, and no body. */
static void assert_head_like_get(const char *path)
{
    char get[4096], head[4096], v[256], w[256];
    static const char *const same[] = {"Content-Encoding", "Vary", "ETag", "Content-Type"};

    cr_assert_eq(run_cmd(get, sizeof get,
                         "touch %s; curl -sS -D - -o /dev/null -H 'Accept-Encoding: gzip' "
                         "http://127.0.0.1:%u%s",
                         go_path, d.port, path),
                 0, "%s", get);
    cr_assert_eq(run_cmd(head, sizeof head,
                         "curl -sS -I -H 'Accept-Encoding: gzip' http://127.0.0.1:%u%s", d.port,
                         path),
                 0, "%s", head);
    cr_assert_eq(response_status(head), 200, "%s: %s", path, head);
    cr_assert_not_null(response_header(get, "Content-Encoding", v, sizeof v), "%s: %s", path, get);
    cr_assert_str_eq(v, "gzip", "%s: %s", path, get);
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        cr_assert_not_null(response_header(head, same[i], w, sizeof w), "%s: HEAD has no %s: %s",
                           path, same[i], head);
        cr_assert_not_null(response_header(get, same[i], v, sizeof v), "%s: %s", path, get);
        cr_assert_str_eq(w, v, "%s: %s differs: HEAD %s, GET %s", path, same[i], head, get);
    }
    cr_assert_null(response_header(head, "Content-Length", v, sizeof v), "%s: %s", path, head);
}

Test(compress_stream, a_head_gets_the_coding_headers_of_the_get)
{
    assert_head_like_get("/cgi-bin/stream.sh");
    assert_head_like_get("/up/files/page.txt");
}

Test(compress_stream, dry_runs_show_the_setting)
{
    char out[16384];

    cr_assert_eq(run_cmd(out, sizeof out,
                         "%s --route 'GET http://localhost/up/x' -c %s 2>&1; %s -T -c %s 2>&1",
                         cohttpd_bin(), d.config, cohttpd_bin(), d.config),
                 0, "%s", out);
    cr_assert_not_null(strstr(out, "compress: br, zstd or gzip by Accept-Encoding, streamed"), "%s",
                       out);
    cr_assert_not_null(strstr(out, "[cgi /plain-cgi/]"), "%s", out);
    cr_assert_not_null(strstr(strstr(out, "[cgi /plain-cgi/]"), "compress = off\n"), "%s", out);
    cr_assert_not_null(strstr(strstr(out, "[proxy /up/]"), "compress = on\n"), "%s", out);
}
