/* Integration: try (ordered candidates) and its shorthand fallback, through curl. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static struct daemon d;

static void start(void)
{
    char dir[600];

    daemon_prepare(&d, "[server]\nlisten = 127.0.0.1:0\nworkers = 1\n"
                       "[static /]\nroot = %ROOT%\n"
                       "try = {path} {path}.html {path}/ /spa.html\n"
                       "[static /strict/]\nroot = %ROOT%/strict\ntry = {path} {path}.html =410\n"
                       "[static /last/]\nroot = %ROOT%\ntry = {path} /missing.html\n"
                       "[static /app/]\nroot = %ROOT%/app\nfallback = /shell.html\n");
    for (int i = 0; i < 2; i++) {
        snprintf(dir, sizeof dir, "%s/%s", d.root, i ? "app" : "strict");
        cr_assert_eq(mkdir(dir, 0755), 0, "mkdir %s", dir);
    }
    daemon_start_prepared(&d, cohttpd_bin());
    site_write(&d, "about.html", "about page\n", 11);
    site_write(&d, "plain.txt", "plain\n", 6);
    site_write(&d, "docs/index.html", "docs index\n", 11);
    site_write(&d, "spa.html", "single page\n", 12);
    site_write(&d, "strict/a.html", "strict a\n", 9);
    site_write(&d, "strict/dir/index.html", "strict dir\n", 11);
    site_write(&d, "app/shell.html", "app shell\n", 10);
    site_write(&d, "app/real.txt", "real\n", 5);
}

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0, "the daemon exits cleanly"); }

TestSuite(try_files, .init = start, .fini = stop, .timeout = 120);

struct try_case {
    const char *path;
    int status;
    const char *body;
};

static void expect_cases(const struct try_case *c, size_t n)
{
    static struct curl_got g;

    for (size_t i = 0; i < n; i++) {
        curl_fetch(&d, "", c[i].path, &g);
        cr_expect_eq(g.status, c[i].status, "%s: status %d, expected %d:\n%s", c[i].path, g.status,
                     c[i].status, g.head);
        cr_expect_str_eq(g.body, c[i].body, "%s: body '%s', expected '%s'", c[i].path, g.body,
                         c[i].body);
    }
}

Test(try_files, each_kind_of_candidate_in_order)
{
    static const struct try_case cases[] = {
        {"/plain.txt", 200, "plain\n"},  /* {path}: the file itself */
        {"/about", 200, "about page\n"}, /* {path}.html */
        {"/about.html", 200, "about page\n"},
        {"/docs", 200, "docs index\n"},       /* {path}/: the directory's index, no redirect */
        {"/docs/", 200, "docs index\n"},      /* a path ending in '/' is a directory */
        {"/nowhere/x", 200, "single page\n"}, /* the last path, with 200 */
        {"/.hidden", 404, "404 Not Found\n"}, /* dotfiles stay hidden */
    };

    expect_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(try_files, a_final_status_and_a_missing_final_path)
{
    static const struct try_case cases[] = {
        {"/strict/a", 200, "strict a\n"},       {"/strict/missing", 410, "410 Gone\n"}, /* =410 */
        {"/strict/dir", 410, "410 Gone\n"},     /* a directory is no file candidate */
        {"/last/none", 404, "404 Not Found\n"}, /* the final path is missing too */
        {"/last/plain.txt", 200, "plain\n"},
    };

    expect_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(try_files, fallback_is_still_the_shorthand_of_a_final_path)
{
    static const struct try_case cases[] = {
        {"/app/real.txt", 200, "real\n"},
        {"/app/some/route", 200, "app shell\n"},
    };

    expect_cases(cases, sizeof cases / sizeof cases[0]);
}
