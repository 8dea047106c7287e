/* Integration: precompressed siblings (FILE.br, FILE.gz) chosen by Accept-Encoding. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "test_static_util.h"

#define PAGE "<!DOCTYPE html><h1>the original page</h1><p>compress me, compress me</p>\n"

static struct daemon d;
static unsigned char br[512], gz[512];
static size_t br_len, gz_len;

/* A valid brotli stream holding in[0..len) as one stored (uncompressed)
 * meta-block: WBITS 16, MNIBBLES 4, ISUNCOMPRESSED, then an empty last one. */
static size_t brotli_stored(const char *in, size_t len, unsigned char *out)
{
    size_t m = len - 1;

    out[0] = (unsigned char)((m & 0xf) << 4);
    out[1] = (unsigned char)(m >> 4);
    out[2] = (unsigned char)(((m >> 12) & 0xf) | 0x10);
    memcpy(out + 3, in, len);
    out[3 + len] = 0x03;
    return len + 4;
}

static size_t read_site_file(const char *rel, unsigned char *out, size_t cap)
{
    char path[600];
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "%s/%s", d.root, rel);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    n = fread(out, 1, cap, f);
    fclose(f);
    return n;
}

static void make_site(void)
{
    site_write(&d, "page.html", PAGE, strlen(PAGE));
    br_len = brotli_stored(PAGE, strlen(PAGE), br);
    site_write(&d, "page.html.br", br, br_len);
    cr_assert_eq(run_cmd(NULL, 0, "gzip -9 -n -k %s/page.html", d.root), 0);
    gz_len = read_site_file("page.html.gz", gz, sizeof gz);
    cr_assert_gt(gz_len, 18);
    site_write(&d, "only.css", "body{color:red}\n", 16);
    cr_assert_eq(run_cmd(NULL, 0, "gzip -n -k %s/only.css", d.root), 0);
    site_write(&d, "plain.txt", "plain\n", 6);
}

static void start(void)
{
    daemon_start(&d, "[static /]\nroot = %ROOT%\n");
    make_site();
}

static void stop(void)
{
    if (d.pid > 0)
        cr_assert_eq(daemon_stop(&d), 0);
}

TestSuite(static_encoding, .init = start, .fini = stop);
TestSuite(static_encoding_conf, .fini = stop);

Test(static_encoding, curl_compressed_gets_brotli_and_decodes_it)
{
    char out[4096];

    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS --compressed -D %s/h -o %s/body http://127.0.0.1:%u/page.html "
                         "&& cmp %s/body %s/page.html && grep -i '^content-encoding' %s/h",
                         d.dir, d.dir, d.port, d.dir, d.root, d.dir),
                 0, "%s", out);
    cr_assert_str_eq(out, "Content-Encoding: br\r\n");
}

Test(static_encoding, curl_compressed_gets_gzip_when_only_gz_exists)
{
    char out[4096];

    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS --compressed -D %s/h -o %s/body http://127.0.0.1:%u/only.css "
                         "&& cmp %s/body %s/only.css && grep -i '^content-encoding' %s/h",
                         d.dir, d.dir, d.port, d.dir, d.root, d.dir),
                 0, "%s", out);
    cr_assert_str_eq(out, "Content-Encoding: gzip\r\n");
}

Test(static_encoding, accept_encoding_picks_the_representation)
{
    const struct {
        const char *accept;   /* NULL: no header */
        const char *encoding; /* NULL: identity */
    } cases[] = {
        {NULL, NULL},
        {"gzip", "gzip"},
        {"br", "br"},
        {"gzip, br", "br"},
        {"gzip;q=1, br;q=0.5", "gzip"},
        {"br;q=0", NULL},
        {"br;q=0, gzip", "gzip"},
        {"*", "br"},
        {"*;q=0.5, br;q=0", "gzip"},
        {"identity", NULL},
        {"gzip;q=0.5, identity", NULL},
        {"GZIP", "gzip"},
        {"x-gzip", "gzip"},
        {"gzip;q=abc", NULL},
        {"deflate, zstd", NULL},
        {"br;q=0.001", NULL},
        {"br;q=0.001, identity;q=0", "br"},
        {"", NULL},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char headers[256] = "", v[128];
        struct st_resp r;
        const char *enc = cases[i].encoding;

        if (cases[i].accept)
            snprintf(headers, sizeof headers, "Accept-Encoding: %s\r\n", cases[i].accept);
        r = st_get(d.port, "/page.html", headers);
        cr_assert_eq(r.status, 200, "%s", r.raw);
        cr_assert_str_eq(st_header(&r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
        cr_assert_str_eq(st_header(&r, "Vary", v, sizeof v), "Accept-Encoding");
        if (!enc) {
            cr_assert_null(st_header(&r, "Content-Encoding", v, sizeof v), "%s: %s",
                           cases[i].accept, r.raw);
            cr_assert(st_body_is(&r, PAGE, strlen(PAGE)), "%s", cases[i].accept);
        } else {
            cr_assert_not_null(st_header(&r, "Content-Encoding", v, sizeof v), "%s: %s",
                               cases[i].accept, r.raw);
            cr_assert_str_eq(v, enc, "%s", cases[i].accept);
            if (strcmp(enc, "br") == 0)
                cr_assert(st_body_is(&r, br, br_len), "%s", cases[i].accept);
            else
                cr_assert(st_body_is(&r, gz, gz_len), "%s", cases[i].accept);
        }
        st_free(&r);
    }
}

Test(static_encoding, each_representation_has_its_own_etag)
{
    char e_id[128], e_gz[128], e_br[128], v[128], h[256];
    struct st_resp r;

    r = st_get(d.port, "/page.html", "");
    st_header(&r, "ETag", e_id, sizeof e_id);
    st_free(&r);
    r = st_get(d.port, "/page.html", "Accept-Encoding: gzip\r\n");
    st_header(&r, "ETag", e_gz, sizeof e_gz);
    st_free(&r);
    r = st_get(d.port, "/page.html", "Accept-Encoding: br\r\n");
    st_header(&r, "ETag", e_br, sizeof e_br);
    st_free(&r);
    cr_assert(strcmp(e_id, e_gz) && strcmp(e_id, e_br) && strcmp(e_gz, e_br), "%s %s %s", e_id,
              e_gz, e_br);
    snprintf(h, sizeof h, "Accept-Encoding: gzip\r\nIf-None-Match: %s\r\n", e_gz);
    r = st_get(d.port, "/page.html", h);
    cr_assert_eq(r.status, 304, "%s", r.raw);
    cr_assert_str_eq(st_header(&r, "Vary", v, sizeof v), "Accept-Encoding");
    cr_assert_str_eq(st_header(&r, "ETag", v, sizeof v), e_gz);
    st_free(&r);
    snprintf(h, sizeof h, "If-None-Match: %s\r\n", e_gz);
    r = st_get(d.port, "/page.html", h);
    cr_assert_eq(r.status, 200, "another representation is selected: %s", r.raw);
    cr_assert(st_body_is(&r, PAGE, strlen(PAGE)));
    st_free(&r);
}

Test(static_encoding, ranges_apply_to_the_compressed_representation)
{
    char v[128], want[64];
    struct st_resp r =
        st_get(d.port, "/page.html", "Accept-Encoding: gzip\r\nRange: bytes=0-3\r\n");

    cr_assert_eq(r.status, 206, "%s", r.raw);
    snprintf(want, sizeof want, "bytes 0-3/%zu", gz_len);
    cr_assert_str_eq(st_header(&r, "Content-Range", v, sizeof v), want);
    cr_assert_str_eq(st_header(&r, "Content-Encoding", v, sizeof v), "gzip");
    cr_assert(st_body_is(&r, gz, 4));
    st_free(&r);
    r = st_request(d.port, "HEAD", "/page.html", "Accept-Encoding: gzip\r\n");
    snprintf(want, sizeof want, "%zu", gz_len);
    cr_assert_str_eq(st_header(&r, "Content-Length", v, sizeof v), want);
    cr_assert_eq(r.body_len, 0);
    st_free(&r);
}

Test(static_encoding, files_without_siblings_and_siblings_themselves)
{
    char v[128];
    struct st_resp r = st_get(d.port, "/plain.txt", "Accept-Encoding: gzip, br\r\n");

    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert_null(st_header(&r, "Content-Encoding", v, sizeof v));
    cr_assert_str_eq(st_header(&r, "Vary", v, sizeof v), "Accept-Encoding");
    cr_assert(st_body_is(&r, "plain\n", 6));
    st_free(&r);
    r = st_get(d.port, "/page.html.gz", "Accept-Encoding: gzip\r\n");
    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert_null(st_header(&r, "Content-Encoding", v, sizeof v), "%s", r.raw);
    cr_assert(st_body_is(&r, gz, gz_len));
    st_free(&r);
}

/* Once a file's siblings are known to be absent its field is no longer
 * read: every value still gets the file itself, with Vary. */
Test(static_encoding, known_absent_siblings_leave_every_value_the_file_itself)
{
    static const char *const fields[] = {
        "Accept-Encoding: br\r\n", "Accept-Encoding: gzip;q=0, *\r\n",
        "Accept-Encoding: identity;q=0\r\n", "Accept-Encoding: GZIP, x-gzip;q=0.5\r\n", ""};
    char v[128];

    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            struct st_resp r = st_get(d.port, "/plain.txt", fields[i]);

            cr_assert_eq(r.status, 200, "%s", r.raw);
            cr_assert_null(st_header(&r, "Content-Encoding", v, sizeof v), "%s", r.raw);
            cr_assert_str_eq(st_header(&r, "Vary", v, sizeof v), "Accept-Encoding");
            cr_assert(st_body_is(&r, "plain\n", 6));
            st_free(&r);
        }
    }
}

Test(static_encoding_conf, only_configured_encodings_are_served)
{
    char v[128];
    struct st_resp r;

    daemon_start(&d, "[static /]\nroot = %ROOT%\nprecompressed = gz\n");
    make_site();
    r = st_get(d.port, "/page.html", "Accept-Encoding: br\r\n");
    cr_assert_null(st_header(&r, "Content-Encoding", v, sizeof v), "%s", r.raw);
    cr_assert(st_body_is(&r, PAGE, strlen(PAGE)));
    st_free(&r);
    r = st_get(d.port, "/page.html", "Accept-Encoding: br, gzip\r\n");
    cr_assert_str_eq(st_header(&r, "Content-Encoding", v, sizeof v), "gzip");
    st_free(&r);
}

Test(static_encoding_conf, precompressed_off_sends_identity_without_vary)
{
    char v[128];
    struct st_resp r;

    daemon_start(&d, "[static /]\nroot = %ROOT%\nprecompressed =\n");
    make_site();
    r = st_get(d.port, "/page.html", "Accept-Encoding: br, gzip\r\n");
    cr_assert_null(st_header(&r, "Content-Encoding", v, sizeof v), "%s", r.raw);
    cr_assert_null(st_header(&r, "Vary", v, sizeof v), "%s", r.raw);
    cr_assert(st_body_is(&r, PAGE, strlen(PAGE)));
    st_free(&r);
}

/* A sibling served for its original (with Content-Encoding and the
 * original's type) and the same file asked for by its own name (as itself)
 * keep their own headers, in either order, on every worker. */
Test(static_encoding, a_sibling_and_the_same_file_by_name_keep_their_own_headers)
{
    for (int i = 0; i < 8; i++) {
        char v[128];
        struct st_resp r = st_get(d.port, "/page.html", "Accept-Encoding: gzip\r\n");

        cr_assert_eq(r.status, 200, "%s", r.raw);
        cr_assert_str_eq(st_header(&r, "Content-Encoding", v, sizeof v), "gzip", "%s", r.raw);
        cr_assert_not_null(strstr(st_header(&r, "Content-Type", v, sizeof v), "text/html"), "%s",
                           r.raw);
        cr_assert(st_body_is(&r, gz, gz_len));
        st_free(&r);
        r = st_get(d.port, "/page.html.gz", "");
        cr_assert_eq(r.status, 200, "%s", r.raw);
        cr_assert_null(st_header(&r, "Content-Encoding", v, sizeof v), "%s", r.raw);
        cr_assert_null(strstr(st_header(&r, "Content-Type", v, sizeof v), "text/html"), "%s",
                       r.raw);
        cr_assert(st_body_is(&r, gz, gz_len));
        st_free(&r);
    }
}
