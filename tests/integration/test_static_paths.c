/* Integration: the static handler's paths: traversal, symlinks, dotfiles, methods, directories. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "test_static_util.h"

#define SECRET "S3CR3T-outside-the-root-7d1f0c"

static struct daemon d;

static void stop(void)
{
    if (d.pid > 0)
        cr_assert_eq(daemon_stop(&d), 0, "cohttpd must exit 0 on SIGTERM");
}

TestSuite(static_paths, .fini = stop);

static void write_path(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static void symlink_in_root(const char *target, const char *name)
{
    char path[600];

    snprintf(path, sizeof path, "%s/%s", d.root, name);
    cr_assert_eq(symlink(target, path), 0, "symlink %s", path);
}

/* A site with a secret beside the root and every kind of link pointing at it. */
static void start_traversal_site(void)
{
    char secret[400], path[600], path2[600];

    daemon_start(&d, "[static /]\nroot = %ROOT%\n");
    snprintf(secret, sizeof secret, "%s/secret.txt", d.dir);
    write_path(secret, SECRET "\n");
    site_write(&d, "a.txt", "alpha\n", 6);
    site_write(&d, "sub/b.txt", "bravo\n", 6);
    symlink_in_root("../secret.txt", "out");
    symlink_in_root(secret, "abs");
    symlink_in_root("chain2", "chain1");
    symlink_in_root("chain3", "chain2");
    symlink_in_root("../secret.txt", "chain3");
    symlink_in_root("/etc/passwd", "passwd");
    symlink_in_root("..", "updir");
    symlink_in_root(d.dir, "absdir");
    symlink_in_root("/proc/self/root", "procroot");
    symlink_in_root("/proc/self/cwd", "proccwd");
    symlink_in_root("a.txt", "inlink");
    symlink_in_root("../a.txt", "sub/rel");
    snprintf(path, sizeof path, "%s/a.txt", d.root);
    snprintf(path2, sizeof path2, "%s/hard.txt", d.root);
    cr_assert_eq(link(path, path2), 0);
}

Test(static_paths, traversal_attempts_never_leak_the_secret)
{
    char procroot[700];
    const char *targets[] = {
        "/../secret.txt",
        "/../../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/%252e%252e/secret.txt",
        "/%252e%252e%252fsecret.txt",
        "/..\\secret.txt",
        "/..%5csecret.txt",
        "/%5c..%5csecret.txt",
        "//secret.txt",
        "//../secret.txt",
        "/./../secret.txt",
        "/sub/./../../secret.txt",
        "/a.txt/../../secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/..;/secret.txt",
        "/....//secret.txt",
        "/..%00/secret.txt",
        "/secret.txt%00.txt",
        "http://x/../secret.txt",
        "http://x/%2e%2e/secret.txt",
        "http://x//../secret.txt",
        "../secret.txt",
        "/out",
        "/%6f%75%74",
        "/sub/../out",
        "/abs",
        "/chain1",
        "/chain2",
        "/passwd",
        "/updir/secret.txt",
        "/updir/",
        "/absdir/secret.txt",
        "/proccwd/secret.txt",
        procroot,
    };
    size_t n = sizeof targets / sizeof targets[0];

    start_traversal_site();
    snprintf(procroot, sizeof procroot, "/procroot%s/secret.txt", d.dir);
    cr_assert_geq(n, 25);
    for (size_t i = 0; i < n; i++) {
        struct st_resp r = st_get(d.port, targets[i], "");

        cr_assert(r.status == 400 || r.status == 403 || r.status == 404,
                  "%s: expected 400/403/404, got: %s", targets[i], r.raw);
        cr_assert_not(st_contains(&r, SECRET), "%s leaked the secret: %s", targets[i], r.raw);
        cr_assert_not(st_contains(&r, "root:x:0:0"), "%s leaked /etc/passwd", targets[i]);
        st_free(&r);
    }
}

Test(static_paths, links_inside_the_root_are_served)
{
    const char *targets[] = {"/a.txt", "/inlink", "/hard.txt", "/sub/rel", "/sub/../a.txt"};

    start_traversal_site();
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        struct st_resp r = st_get(d.port, targets[i], "");

        cr_assert_eq(r.status, 200, "%s: %s", targets[i], r.raw);
        cr_assert(st_body_is(&r, "alpha\n", 6), "%s: %s", targets[i], r.raw);
        st_free(&r);
    }
}

Test(static_paths, curl_path_as_is_cannot_climb_out)
{
    char out[4096];

    start_traversal_site();
    run_cmd(out, sizeof out, "curl -s -i --path-as-is 'http://127.0.0.1:%u/sub/../../secret.txt'",
            d.port);
    cr_assert(strstr(out, "HTTP/1.1 400 "), "%s", out);
    cr_assert_null(strstr(out, SECRET));
    run_cmd(out, sizeof out, "curl -s -i 'http://127.0.0.1:%u/out'", d.port);
    cr_assert(strstr(out, "HTTP/1.1 404 "), "%s", out);
    cr_assert_null(strstr(out, SECRET));
}

Test(static_paths, dotfiles_are_hidden_by_default)
{
    const char *hidden[] = {
        "/.env",        "/%2eenv",        "/sub/.git/config", "/.well-known/x.txt", "/sub/.hidden",
        "/sub/../.env", "/sub/./.hidden", "//sub//.hidden",   "/sub/%2e%2e/.env"};

    daemon_start(&d, "[static /]\nroot = %ROOT%\n");
    site_write(&d, ".env", "PASSWORD=1\n", 11);
    site_write(&d, "sub/.git/config", "[core]\n", 7);
    site_write(&d, ".well-known/x.txt", "x\n", 2);
    site_write(&d, "sub/.hidden", "h\n", 2);
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        struct st_resp r = st_get(d.port, hidden[i], "");

        cr_assert_eq(r.status, 404, "%s: %s", hidden[i], r.raw);
        cr_assert_not(st_contains(&r, "PASSWORD"), "%s", hidden[i]);
        st_free(&r);
    }
}

Test(static_paths, dotfiles_allow_serves_them)
{
    struct st_resp r;

    daemon_start(&d, "[static /]\nroot = %ROOT%\ndotfiles = allow\n");
    site_write(&d, ".well-known/x.txt", "x\n", 2);
    site_write(&d, ".env", "PASSWORD=1\n", 11);
    r = st_get(d.port, "/.well-known/x.txt", "");
    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert(st_body_is(&r, "x\n", 2));
    st_free(&r);
    r = st_get(d.port, "/.env", "");
    cr_assert_eq(r.status, 200, "%s", r.raw);
    st_free(&r);
}

Test(static_paths, methods_get_head_options_and_405)
{
    const char *refused[] = {"POST", "PUT", "DELETE", "PATCH"};
    char v[128];
    struct st_resp r;

    daemon_start(&d, "[static /]\nroot = %ROOT%\n");
    site_write(&d, "a.txt", "alpha\n", 6);
    r = st_request(d.port, "OPTIONS", "/a.txt", "");
    cr_assert_eq(r.status, 204, "%s", r.raw);
    cr_assert_str_eq(st_header(&r, "Allow", v, sizeof v), "GET, HEAD, OPTIONS");
    cr_assert_eq(r.body_len, 0);
    st_free(&r);
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        r = st_request(d.port, refused[i], "/a.txt", "Content-Length: 0\r\n");
        cr_assert_eq(r.status, 405, "%s: %s", refused[i], r.raw);
        cr_assert_not_null(st_header(&r, "Allow", v, sizeof v), "%s", r.raw);
        cr_assert_str_eq(v, "GET, HEAD, OPTIONS");
        st_free(&r);
    }
    r = st_request(d.port, "HEAD", "/a.txt", "");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(st_header(&r, "Content-Length", v, sizeof v), "6");
    cr_assert_eq(r.body_len, 0, "HEAD has no body: %s", r.raw);
    st_free(&r);
}

Test(static_paths, directory_without_slash_redirects_keeping_the_query)
{
    char v[256];
    struct st_resp r;

    daemon_start(&d, "[static /]\nroot = %ROOT%\n");
    site_write(&d, "docs/index.html", "<p>docs</p>\n", 12);
    site_write(&d, "my dir/index.html", "<p>space</p>\n", 13);
    r = st_get(d.port, "/docs", "");
    cr_assert_eq(r.status, 301, "%s", r.raw);
    cr_assert_str_eq(st_header(&r, "Location", v, sizeof v), "/docs/");
    st_free(&r);
    r = st_get(d.port, "/docs?a=1&b=%20", "");
    cr_assert_eq(r.status, 301, "%s", r.raw);
    cr_assert_str_eq(st_header(&r, "Location", v, sizeof v), "/docs/?a=1&b=%20");
    st_free(&r);
    r = st_get(d.port, "/my%20dir", "");
    cr_assert_eq(r.status, 301, "%s", r.raw);
    cr_assert_str_eq(st_header(&r, "Location", v, sizeof v), "/my%20dir/");
    st_free(&r);
    r = st_get(d.port, "/docs/", "");
    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert(st_body_is(&r, "<p>docs</p>\n", 12));
    cr_assert_str_eq(st_header(&r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
    st_free(&r);
}

Test(static_paths, curl_follows_the_slash_redirect)
{
    char out[4096];

    daemon_start(&d, "[static /]\nroot = %ROOT%\n");
    site_write(&d, "docs/index.html", "<p>docs</p>\n", 12);
    cr_assert_eq(run_cmd(out, sizeof out, "curl -sS -L 'http://127.0.0.1:%u/docs?q=1'", d.port), 0);
    cr_assert_str_eq(out, "<p>docs</p>\n");
}

Test(static_paths, index_files_are_tried_in_order)
{
    struct st_resp r;

    daemon_start(&d, "[static /]\nroot = %ROOT%\nindex = main.htm index.html\n");
    site_write(&d, "both/main.htm", "main\n", 5);
    site_write(&d, "both/index.html", "index\n", 6);
    site_write(&d, "second/index.html", "index\n", 6);
    site_write(&d, "none/page.txt", "page\n", 5);
    r = st_get(d.port, "/both/", "");
    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert(st_body_is(&r, "main\n", 5), "%s", r.raw);
    st_free(&r);
    r = st_get(d.port, "/second/", "");
    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert(st_body_is(&r, "index\n", 6), "%s", r.raw);
    st_free(&r);
    /* No index and no autoindex: 404, so that nothing about the directory shows. */
    r = st_get(d.port, "/none/", "");
    cr_assert_eq(r.status, 404, "%s", r.raw);
    cr_assert_not(st_contains(&r, "page.txt"));
    st_free(&r);
    r = st_get(d.port, "/none/page.txt/", "");
    cr_assert_eq(r.status, 404, "a file asked for as a directory: %s", r.raw);
    st_free(&r);
    r = st_get(d.port, "/missing/", "");
    cr_assert_eq(r.status, 404, "%s", r.raw);
    st_free(&r);
}

Test(static_paths, autoindex_lists_sorted_escaped_names)
{
    char v[128];
    const char *a, *b, *z, *sub;
    struct st_resp r;

    daemon_start(&d, "[static /]\nroot = %ROOT%\nautoindex = on\n");
    site_write(&d, "list/b.txt", "bravo\n", 6);
    site_write(&d, "list/a&<x>\".txt", "12345", 5);
    site_write(&d, "list/z dir/inner.txt", "i\n", 2);
    site_write(&d, "list/.hidden", "h\n", 2);
    site_write(&d, "list/sub/x", "x", 1);
    r = st_get(d.port, "/list/", "");
    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert_str_eq(st_header(&r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
    cr_assert(st_contains(&r, "Index of /list/"), "%s", r.raw);
    a = strstr(r.body, "<a href=\"a%26%3Cx%3E%22.txt\">a&amp;&lt;x&gt;&quot;.txt</a>");
    b = strstr(r.body, "<a href=\"b.txt\">b.txt</a>");
    sub = strstr(r.body, "<a href=\"sub/\">sub/</a>");
    z = strstr(r.body, "<a href=\"z%20dir/\">z dir/</a>");
    cr_assert(a && b && sub && z, "%s", r.body);
    cr_assert(a < b && b < sub && sub < z, "sorted by name: %s", r.body);
    cr_assert(st_contains(&r, "<td>5</td>"), "the size of a file: %s", r.body);
    cr_assert(st_contains(&r, "<a href=\"../\">"), "%s", r.body);
    cr_assert_not(st_contains(&r, ".hidden"), "dotfiles are hidden: %s", r.body);
    cr_assert_not(st_contains(&r, "<x>"), "names are escaped: %s", r.body);
    st_free(&r);
    r = st_request(d.port, "HEAD", "/list/", "");
    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert_eq(r.body_len, 0, "%s", r.raw);
    st_free(&r);
    /* A directory with an index file still serves the index. */
    site_write(&d, "list/sub/index.html", "idx\n", 4);
    r = st_get(d.port, "/list/sub/", "");
    cr_assert(st_body_is(&r, "idx\n", 4), "%s", r.raw);
    st_free(&r);
}

Test(static_paths, autoindex_never_lists_outside_the_root)
{
    const char *targets[] = {"/up/", "/abs/", "/up/www/", "/proc/"};
    char path[600];

    daemon_start(&d, "[static /]\nroot = %ROOT%\nautoindex = on\nfallback = /app.html\n");
    snprintf(path, sizeof path, "%s/secret-name.txt", d.dir);
    write_path(path, SECRET);
    site_write(&d, "app.html", "<app/>\n", 7);
    symlink_in_root("..", "up");
    symlink_in_root(d.dir, "abs");
    symlink_in_root("/proc/self/root", "proc");
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        struct st_resp r = st_get(d.port, targets[i], "");

        cr_assert_eq(r.status, 404, "%s: %s", targets[i], r.raw);
        cr_assert_not(st_contains(&r, "secret-name"), "%s listed the outside", targets[i]);
        cr_assert_not(st_contains(&r, "<app/>"), "%s: no fallback for a way out", targets[i]);
        st_free(&r);
    }
}

Test(static_paths, autoindex_follows_the_dotfiles_setting_and_curl_reads_it)
{
    char out[8192];

    daemon_start(&d, "[static /]\nroot = %ROOT%\nautoindex = on\ndotfiles = allow\n");
    site_write(&d, "l/.shown", "s\n", 2);
    site_write(&d, "l/plain", "p\n", 2);
    cr_assert_eq(run_cmd(out, sizeof out, "curl -sS 'http://127.0.0.1:%u/l/'", d.port), 0);
    cr_assert(strstr(out, "<a href=\".shown\">.shown</a>"), "%s", out);
    cr_assert(strstr(out, "<a href=\"plain\">plain</a>"), "%s", out);
}

Test(static_paths, spa_fallback_serves_the_app_for_missing_paths)
{
    struct st_resp r;
    char v[128];

    daemon_start(&d, "[static /]\nroot = %ROOT%\nfallback = /app.html\n");
    site_write(&d, "app.html", "<app/>\n", 7);
    site_write(&d, "real.txt", "real\n", 5);
    site_write(&d, ".env", "PASSWORD=1\n", 11);
    r = st_get(d.port, "/users/42/profile", "");
    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert(st_body_is(&r, "<app/>\n", 7), "%s", r.raw);
    cr_assert_str_eq(st_header(&r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
    st_free(&r);
    r = st_get(d.port, "/deep/dir/", "");
    cr_assert_eq(r.status, 200, "%s", r.raw);
    cr_assert(st_body_is(&r, "<app/>\n", 7), "%s", r.raw);
    st_free(&r);
    r = st_get(d.port, "/real.txt", "");
    cr_assert(st_body_is(&r, "real\n", 5), "%s", r.raw);
    st_free(&r);
    r = st_get(d.port, "/.env", "");
    cr_assert_eq(r.status, 404, "a hidden dotfile is not replaced by the app: %s", r.raw);
    st_free(&r);
}

Test(static_paths, configured_headers_are_on_every_response)
{
    const char *targets[] = {"/a.txt", "/missing", "/dir", "/dir/"};
    const char *methods[] = {"GET", "GET", "GET", "DELETE"};
    const int statuses[] = {200, 404, 301, 405};
    char v[128];

    daemon_start(&d, "[static /]\nroot = %ROOT%\ncache_control = public, max-age=60\n"
                     "header = X-Content-Type-Options: nosniff\nheader = X-Frame-Options: DENY\n");
    site_write(&d, "a.txt", "alpha\n", 6);
    site_write(&d, "dir/index.html", "i\n", 2);
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        struct st_resp r = st_request(d.port, methods[i], targets[i], "");

        cr_assert_eq(r.status, statuses[i], "%s %s: %s", methods[i], targets[i], r.raw);
        cr_assert_not_null(st_header(&r, "X-Content-Type-Options", v, sizeof v), "%s", r.raw);
        cr_assert_str_eq(v, "nosniff");
        cr_assert_not_null(st_header(&r, "X-Frame-Options", v, sizeof v), "%s", r.raw);
        cr_assert_str_eq(v, "DENY");
        st_free(&r);
    }
    {
        struct st_resp r = st_get(d.port, "/a.txt", "");

        cr_assert_str_eq(st_header(&r, "Cache-Control", v, sizeof v), "public, max-age=60");
        st_free(&r);
    }
}
