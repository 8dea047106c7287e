/* Integration: static files compressed on the fly with gzip, brotli and zstd, decoded by curl. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct daemon d;

/* About 60 KiB of text that compresses well but not to nothing. */
static void write_text(const char *rel, unsigned seed)
{
    static const char *const words[] = {"alpha", "beta",   "gamma",  "delta", "cohttpd",
                                        "loop",  "server", "static", "file",  "epoll"};
    size_t cap = 64 * 1024, n = 0;
    char *text = malloc(cap);

    srand(seed);
    while (n + 16 < cap - 4096) {
        const char *w = words[rand() % 10];

        n += (size_t)snprintf(text + n, cap - n, "%s%s", w, rand() % 12 ? " " : ".\n");
    }
    site_write(&d, rel, text, n);
    free(text);
}

static void start(void)
{
    daemon_start(&d, "[static /]\nroot = %ROOT%\ncompress = on\nprecompressed =\n");
    write_text("doc.txt", 1);
    site_write(&d, "tiny.txt", "tiny\n", 5);
    write_text("image.png", 2); /* not a listed type */
}

static void stop(void)
{
    if (d.pid > 0)
        cr_assert_eq(daemon_stop(&d), 0);
}

TestSuite(static_compress, .init = start, .fini = stop);

/* GETs path with Accept-Encoding ae, decoding with curl (--compressed);
 * headers go to d.dir/h, the decoded body to d.dir/body. Returns the
 * status; the head is in out. */
static int fetch(const char *ae, const char *extra, const char *path, char *out, size_t cap)
{
    int st = run_cmd(out, cap,
                     "curl -sS --compressed -H 'Accept-Encoding: %s' %s -D %s/h -o %s/body "
                     "http://127.0.0.1:%u%s && cat %s/h",
                     ae, extra, d.dir, d.dir, d.port, path, d.dir);

    cr_assert_eq(st, 0, "curl failed: %s", out);
    return response_status(out);
}

static bool body_is(const char *rel)
{
    return run_cmd(NULL, 0, "cmp -s %s/body %s/%s", d.dir, d.root, rel) == 0;
}

static void check_coding(const char *coding)
{
    char out[4096], v[128], suffix[32];

    cr_assert_eq(fetch(coding, "", "/doc.txt", out, sizeof out), 200, "%s", out);
    cr_assert_not_null(response_header(out, "Content-Encoding", v, sizeof v), "%s", out);
    cr_assert_str_eq(v, coding);
    cr_assert(body_is("doc.txt"), "%s: the decoded body differs from the file", coding);
    cr_assert_not_null(response_header(out, "Vary", v, sizeof v), "%s", out);
    cr_assert_str_eq(v, "Accept-Encoding");
    cr_assert_not_null(response_header(out, "ETag", v, sizeof v), "%s", out);
    snprintf(suffix, sizeof suffix, "-%s\"", coding);
    cr_assert(strlen(v) > strlen(suffix) && strcmp(v + strlen(v) - strlen(suffix), suffix) == 0,
              "ETag %s does not name %s", v, coding);
    cr_assert_not_null(response_header(out, "Content-Length", v, sizeof v), "%s", out);
    cr_assert_lt(atol(v), 40000, "%s is not compressed: %s", coding, out);
    /* again: the kept form, the same bytes */
    cr_assert_eq(fetch(coding, "", "/doc.txt", out, sizeof out), 200, "%s", out);
    cr_assert(body_is("doc.txt"), "%s again: the decoded body differs from the file", coding);
}

Test(static_compress, gzip_is_decoded_to_the_file) { check_coding("gzip"); }
Test(static_compress, brotli_is_decoded_to_the_file) { check_coding("br"); }
Test(static_compress, zstd_is_decoded_to_the_file) { check_coding("zstd"); }

Test(static_compress, q_values_choose_and_refuse)
{
    char out[4096], v[128];

    cr_assert_eq(
        fetch("gzip;q=0.5, zstd;q=0.9, br;q=0.1, identity;q=0.05", "", "/doc.txt", out, sizeof out),
        200);
    cr_assert_str_eq(response_header(out, "Content-Encoding", v, sizeof v), "zstd", "%s", out);
    cr_assert_eq(fetch("gzip, br, zstd", "", "/doc.txt", out, sizeof out), 200);
    cr_assert_str_eq(response_header(out, "Content-Encoding", v, sizeof v), "br", "%s", out);
    cr_assert_eq(fetch("*", "", "/doc.txt", out, sizeof out), 200);
    cr_assert_not_null(response_header(out, "Content-Encoding", v, sizeof v), "%s", out);
    cr_assert_eq(fetch("gzip;q=0, br;q=0, zstd;q=0", "", "/doc.txt", out, sizeof out), 200);
    cr_assert_null(response_header(out, "Content-Encoding", v, sizeof v), "%s", out);
    cr_assert_eq(fetch("*;q=0, identity", "", "/doc.txt", out, sizeof out), 200);
    cr_assert_null(response_header(out, "Content-Encoding", v, sizeof v), "%s", out);
    cr_assert(body_is("doc.txt"));
    cr_assert_eq(fetch("identity", "", "/doc.txt", out, sizeof out), 200);
    cr_assert_null(response_header(out, "Content-Encoding", v, sizeof v), "%s", out);
    cr_assert_not_null(response_header(out, "Vary", v, sizeof v), "identity too: %s", out);
}

Test(static_compress, small_files_and_unlisted_types_go_as_they_are)
{
    char out[4096], v[128];

    cr_assert_eq(fetch("gzip", "", "/tiny.txt", out, sizeof out), 200, "%s", out);
    cr_assert_null(response_header(out, "Content-Encoding", v, sizeof v), "%s", out);
    cr_assert(body_is("tiny.txt"));
    cr_assert_eq(fetch("gzip", "", "/image.png", out, sizeof out), 200, "%s", out);
    cr_assert_null(response_header(out, "Content-Encoding", v, sizeof v), "%s", out);
    cr_assert(body_is("image.png"));
}

Test(static_compress, a_compressed_etag_answers_304)
{
    char out[4096], etag[128], plain[128], opt[300], v[128];

    cr_assert_eq(fetch("gzip", "", "/doc.txt", out, sizeof out), 200, "%s", out);
    cr_assert_not_null(response_header(out, "ETag", etag, sizeof etag));
    cr_assert_eq(fetch("identity", "", "/doc.txt", out, sizeof out), 200, "%s", out);
    cr_assert_not_null(response_header(out, "ETag", plain, sizeof plain));
    cr_assert_str_neq(etag, plain);
    snprintf(opt, sizeof opt, "-H 'If-None-Match: %s'", etag);
    cr_assert_eq(fetch("gzip", opt, "/doc.txt", out, sizeof out), 304, "%s", out);
    cr_assert_str_eq(response_header(out, "ETag", v, sizeof v), etag, "%s", out);
    /* the gzip tag does not stand for the brotli form */
    cr_assert_eq(fetch("br", opt, "/doc.txt", out, sizeof out), 200, "%s", out);
    cr_assert(body_is("doc.txt"));
}

Test(static_compress, a_range_gets_the_identity_bytes)
{
    char out[4096], v[128];

    cr_assert_eq(fetch("gzip, br, zstd", "-r 100-199", "/doc.txt", out, sizeof out), 206, "%s",
                 out);
    cr_assert_null(response_header(out, "Content-Encoding", v, sizeof v), "%s", out);
    cr_assert_not_null(response_header(out, "Content-Range", v, sizeof v), "%s", out);
    cr_assert_eq(strncmp(v, "bytes 100-199/", 14), 0, "%s", out);
    cr_assert_eq(
        run_cmd(NULL, 0, "head -c 200 %s/doc.txt | tail -c 100 | cmp -s - %s/body", d.root, d.dir),
        0, "the range is not the file's bytes 100-199");
}

Test(static_compress, a_changed_file_is_compressed_again)
{
    char out[4096], before[128], after[128] = "";
    long deadline;

    cr_assert_eq(fetch("gzip", "", "/doc.txt", out, sizeof out), 200, "%s", out);
    cr_assert_not_null(response_header(out, "ETag", before, sizeof before));
    write_text("doc.txt", 7);
    cr_assert_eq(run_cmd(NULL, 0, "printf 'the end\\n' >> %s/doc.txt", d.root), 0);
    deadline = now_ms() + 30000;
    do {
        usleep(100000);
        cr_assert_eq(fetch("gzip", "", "/doc.txt", out, sizeof out), 200, "%s", out);
        response_header(out, "ETag", after, sizeof after);
    } while (strcmp(before, after) == 0 && now_ms() < deadline);
    cr_assert_str_neq(before, after, "the ETag never changed: %s", out);
    cr_assert(body_is("doc.txt"), "the new file's gzip form decodes to something else");
}

TestSuite(static_compress_conf, .fini = stop);

Test(static_compress_conf, route_and_T_show_the_compression)
{
    char out[8192];
    int st;

    daemon_prepare(&d, "[static /]\nroot = %ROOT%\ncompress = on\ncompress_types = text/*\n"
                       "compress_level = gzip:9 br:11 zstd:19\ncompress_min_size = 1k\n");
    st = run_cmd(out, sizeof out, "%s --route 'GET http://localhost/a.txt' -c %s 2>&1; %s -T -c %s",
                 cohttpd_bin(), d.config, cohttpd_bin(), d.config);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_not_null(strstr(out, "compress: br, zstd or gzip by Accept-Encoding for 1 types from "
                                   "1024 bytes (levels gzip:9 br:11 zstd:19)"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "compress = on\n"), "%s", out);
    cr_assert_not_null(strstr(out, "compress_types = text/*\n"), "%s", out);
    cr_assert_not_null(strstr(out, "compress_level = gzip:9 br:11 zstd:19\n"), "%s", out);
    run_cmd(NULL, 0, "rm -rf %s", d.dir);
}

Test(static_compress_conf, bad_levels_and_types_are_refused)
{
    char out[8192];
    int st;

    daemon_prepare(&d, "[static /]\nroot = %ROOT%\ncompress_level = gzip:10\n"
                       "compress_types = html\n");
    st = run_cmd(out, sizeof out, "%s -t -c %s 2>&1", cohttpd_bin(), d.config);
    cr_assert_eq(st, 1, "%s", out);
    cr_assert_not_null(strstr(out, ":6: compress_level 'gzip:10': gzip takes a level from 1 to 9"),
                       "%s", out);
    cr_assert_not_null(strstr(out, ":7: compress_types entry 'html' is not a MIME type"), "%s",
                       out);
    run_cmd(NULL, 0, "rm -rf %s", d.dir);
}
