/* mime.c - tests for server/http/mime.c: built-ins, mime.types, overrides, lookups. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/mime.h"

static const char *lookup(const struct mime_table *t, const char *name)
{
    size_t len = 0;
    const char *type = mime_lookup(t, name, strlen(name), &len);

    cr_assert_eq(len, strlen(type), "type_len of %s", name);
    return type;
}

struct lookup_case {
    const char *name;
    const char *type;
};

static const struct lookup_case builtin_cases[] = {
    {.name = "index.html", .type = "text/html; charset=utf-8"},
    {.name = "style.css", .type = "text/css; charset=utf-8"},
    {.name = "app.js", .type = "text/javascript; charset=utf-8"},
    {.name = "mod.mjs", .type = "text/javascript; charset=utf-8"},
    {.name = "data.json", .type = "application/json; charset=utf-8"},
    {.name = "feed.xml", .type = "application/xml; charset=utf-8"},
    {.name = "logo.svg", .type = "image/svg+xml; charset=utf-8"},
    {.name = "site.webmanifest", .type = "application/manifest+json; charset=utf-8"},
    {.name = "notes.txt", .type = "text/plain; charset=utf-8"},
    {.name = "README.md", .type = "text/markdown; charset=utf-8"},
    {.name = "t.csv", .type = "text/csv; charset=utf-8"},
    {.name = "a.png", .type = "image/png"},
    {.name = "a.jpg", .type = "image/jpeg"},
    {.name = "a.jpeg", .type = "image/jpeg"},
    {.name = "a.gif", .type = "image/gif"},
    {.name = "a.webp", .type = "image/webp"},
    {.name = "a.avif", .type = "image/avif"},
    {.name = "favicon.ico", .type = "image/vnd.microsoft.icon"},
    {.name = "f.woff", .type = "font/woff"},
    {.name = "f.woff2", .type = "font/woff2"},
    {.name = "f.ttf", .type = "font/ttf"},
    {.name = "doc.pdf", .type = "application/pdf"},
    {.name = "a.zip", .type = "application/zip"},
    {.name = "m.wasm", .type = "application/wasm"},
    {.name = "v.mp4", .type = "video/mp4"},
    {.name = "v.webm", .type = "video/webm"},
    {.name = "s.mp3", .type = "audio/mpeg"},
    {.name = "s.flac", .type = "audio/flac"},
    {.name = "x.docx",
     .type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {.name = "p.deb", .type = "application/vnd.debian.binary-package"},
    /* case does not matter */
    {.name = "INDEX.HTML", .type = "text/html; charset=utf-8"},
    {.name = "Photo.JpG", .type = "image/jpeg"},
    /* the last extension of the last segment */
    {.name = "archive.tar.gz", .type = "application/gzip"},
    {.name = "/srv/www/a.b/c.txt", .type = "text/plain; charset=utf-8"},
    {.name = "/srv/www/dir.d/file", .type = "application/octet-stream"},
    {.name = ".config.json", .type = "application/json; charset=utf-8"},
    /* no extension */
    {.name = "README", .type = "application/octet-stream"},
    {.name = "file.", .type = "application/octet-stream"},
    {.name = ".bashrc", .type = "application/octet-stream"},
    {.name = "/home/u/.bashrc", .type = "application/octet-stream"},
    {.name = ".html", .type = "application/octet-stream"},
    {.name = "/dir/..png", .type = "application/octet-stream"},
    {.name = "..", .type = "application/octet-stream"},
    {.name = "", .type = "application/octet-stream"},
    {.name = "a.unknownext", .type = "application/octet-stream"},
    {.name = "a.averyveryveryveryverylongextension1", .type = "application/octet-stream"},
};

Test(mime, builtins)
{
    struct mime_table *t = mime_table_new(NULL, NULL, NULL, 0);

    cr_assert_not_null(t);
    for (size_t i = 0; i < sizeof builtin_cases / sizeof builtin_cases[0]; i++)
        cr_expect_str_eq(lookup(t, builtin_cases[i].name), builtin_cases[i].type, "%s",
                         builtin_cases[i].name);
    mime_table_free(t);
}

Test(mime, lookup_reads_only_len_bytes)
{
    struct mime_table *t = mime_table_new(NULL, NULL, NULL, 0);
    size_t len;

    cr_assert_not_null(t);
    cr_assert_str_eq(mime_lookup(t, "a.png.html", 5, &len), "image/png");
    cr_assert_str_eq(mime_lookup(t, "a.htmlx", 6, NULL), "text/html; charset=utf-8");
    mime_table_free(t);
}

/* Writes text to a fresh temporary file; returns its path (caller unlinks). */
static char *temp_file(const char *text)
{
    char *path = strdup("/tmp/cohttpd-mime-XXXXXX");
    int fd;

    cr_assert_not_null(path);
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static const char system_file[] = "# mime.types for the test\n"
                                  "\n"
                                  "text/x-custom\t\tcust  CUST2\n"
                                  "application/x-foo foo # a trailing comment bar\n"
                                  "no-slash-type zzz\n"
                                  "image/x-override jpg\n"
                                  "application/x-noexts\n"
                                  "   application/x-indented   ind\r\n"
                                  "application/x-dots bad.ext ok1\n"
                                  "application/x-last last";

Test(mime, system_file_parsing_and_precedence)
{
    char *path = temp_file(system_file);
    struct mime_table *t = mime_table_new(path, NULL, NULL, 0);

    cr_assert_not_null(t);
    cr_expect_str_eq(lookup(t, "a.cust"), "text/x-custom; charset=utf-8");
    cr_expect_str_eq(lookup(t, "a.cust2"), "text/x-custom; charset=utf-8");
    cr_expect_str_eq(lookup(t, "a.foo"), "application/x-foo");
    cr_expect_str_eq(lookup(t, "a.bar"), "application/octet-stream"); /* in a comment */
    cr_expect_str_eq(lookup(t, "a.zzz"), "application/octet-stream"); /* invalid type */
    cr_expect_str_eq(lookup(t, "a.jpg"), "image/x-override");         /* overrides built-in */
    cr_expect_str_eq(lookup(t, "a.jpeg"), "image/jpeg");              /* built-in kept */
    cr_expect_str_eq(lookup(t, "a.ind"), "application/x-indented");
    cr_expect_str_eq(lookup(t, "a.ok1"), "application/x-dots");
    cr_expect_str_eq(lookup(t, "a.last"), "application/x-last"); /* no final newline */
    cr_expect_str_eq(lookup(t, "a.html"), "text/html; charset=utf-8");
    mime_table_free(t);
    unlink(path);
    free(path);
}

Test(mime, overlong_line_skipped_whole)
{
    static const char tail[] = "text/x-tail tailext\napplication/x-after after\n";
    size_t pad = 3000;
    char *text = malloc(pad + 200);
    char *path;
    struct mime_table *t;

    cr_assert_not_null(text);
    memcpy(text, "application/x-long", 18);
    memset(text + 18, ' ', pad);
    memcpy(text + 18 + pad, tail, sizeof tail);
    path = temp_file(text);
    t = mime_table_new(path, NULL, NULL, 0);
    cr_assert_not_null(t);
    /* the tail of the long line must not be read as a line of its own */
    cr_expect_str_eq(lookup(t, "a.tailext"), "application/octet-stream");
    cr_expect_str_eq(lookup(t, "a.after"), "application/x-after");
    mime_table_free(t);
    unlink(path);
    free(path);
    free(text);
}

Test(mime, missing_system_file_is_not_an_error)
{
    struct mime_table *t = mime_table_new("/nonexistent/mime.types", NULL, NULL, 0);

    cr_assert_not_null(t);
    cr_expect_str_eq(lookup(t, "a.png"), "image/png");
    mime_table_free(t);
}

Test(mime, overrides_win)
{
    char *path = temp_file("image/x-override jpg\ntext/x-custom cust\n");
    static const char *const ext[] = {".jpg", "cust", ".WebManifest", ".latin", ".new"};
    static const char *const type[] = {
        "image/jpeg",
        "application/x-cust",
        "application/x-manifest",
        "text/plain; charset=iso-8859-1",
        "application/vnd.new+json",
    };
    struct mime_table *t = mime_table_new(path, ext, type, 5);

    cr_assert_not_null(t);
    cr_expect_str_eq(lookup(t, "a.jpg"), "image/jpeg");
    cr_expect_str_eq(lookup(t, "a.cust"), "application/x-cust");
    cr_expect_str_eq(lookup(t, "a.webmanifest"), "application/x-manifest");
    cr_expect_str_eq(lookup(t, "a.LATIN"), "text/plain; charset=iso-8859-1");
    cr_expect_str_eq(lookup(t, "a.new"), "application/vnd.new+json; charset=utf-8");
    mime_table_free(t);
    unlink(path);
    free(path);
}

Test(mime, invalid_overrides_refused)
{
    static const char *const bad_ext[] = {"", ".", "a.b", "a/b", "a b", ".x\r"};
    static const char *const bad_type[] = {"nope", "/x", "text/html\r\nX-Evil: 1", "a/\x01"};
    const char *good_ext = ".ok", *good_type = "text/plain";

    for (size_t i = 0; i < sizeof bad_ext / sizeof bad_ext[0]; i++) {
        errno = 0;
        cr_expect_null(mime_table_new(NULL, &bad_ext[i], &good_type, 1), "ext \"%s\"", bad_ext[i]);
        cr_expect_eq(errno, EINVAL);
    }
    for (size_t i = 0; i < sizeof bad_type / sizeof bad_type[0]; i++) {
        errno = 0;
        cr_expect_null(mime_table_new(NULL, &good_ext, &bad_type[i], 1), "type %zu", i);
        cr_expect_eq(errno, EINVAL);
    }
}

Test(mime, large_system_file_grows_table)
{
    /* as many extensions as a distribution's mime.types: the table grows */
    size_t cap = 4000 * 48, len = 0;
    char *text = malloc(cap), *path;
    struct mime_table *t;

    cr_assert_not_null(text);
    for (int i = 0; i < 4000; i++)
        len += (size_t)snprintf(text + len, cap - len, "application/x-gen%d e%d E%dx\n", i, i, i);
    path = temp_file(text);
    t = mime_table_new(path, NULL, NULL, 0);
    cr_assert_not_null(t);
    for (int i = 0; i < 4000; i++) {
        char name[32], want[32];

        snprintf(want, sizeof want, "application/x-gen%d", i);
        snprintf(name, sizeof name, "f.e%d", i);
        cr_assert_str_eq(lookup(t, name), want);
        snprintf(name, sizeof name, "f.e%dX", i);
        cr_assert_str_eq(lookup(t, name), want);
    }
    cr_expect_str_eq(lookup(t, "a.html"), "text/html; charset=utf-8");
    cr_expect_str_eq(lookup(t, "a.e4000"), "application/octet-stream");
    mime_table_free(t);
    unlink(path);
    free(path);
    free(text);
}

Test(mime, real_system_file_loads)
{
    /* /etc/mime.types where present; the built-ins answer otherwise */
    struct mime_table *t = mime_table_new("/etc/mime.types", NULL, NULL, 0);

    cr_assert_not_null(t);
    cr_expect_str_eq(lookup(t, "a.html"), "text/html; charset=utf-8");
    cr_expect_str_eq(lookup(t, "a.png"), "image/png");
    cr_expect_str_eq(lookup(t, "a.nothing-like-this"), "application/octet-stream");
    mime_table_free(t);
}

Test(mime, null_table_gives_default)
{
    cr_assert_str_eq(mime_lookup(NULL, "a.html", 6, NULL), "application/octet-stream");
    mime_table_free(NULL);
}
