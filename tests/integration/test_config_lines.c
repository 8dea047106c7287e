/* Integration: configuration values longer than a line of inih's (a real
 * Content-Security-Policy), on one line or continued with '\', reach the
 * client whole. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct daemon d;

static void cleanup(void) { daemon_kill(&d); }

TestSuite(config_lines, .fini = cleanup);

/* A policy of n bytes: "default-src 'self'; img-src https://i0.example.org ..." */
static void policy(char *out, size_t n)
{
    size_t len = (size_t)snprintf(out, n + 1, "default-src 'self'; img-src");

    for (int i = 0; len + 30 < n; i++)
        len += (size_t)snprintf(out + len, n + 1 - len, " https://i%d.example.org", i);
    memset(out + len, 'x', n - len);
    out[n] = '\0';
}

/* The same text as continued lines of at most 100 characters, each broken
 * at a space, ending in " \" and indented on the next line. */
static void continued(const char *text, char *out, size_t cap)
{
    size_t len = 0;

    while (strlen(text) > 100) {
        const char *cut = text + 100;

        while (cut > text && *cut != ' ')
            cut--;
        len += (size_t)snprintf(out + len, cap - len, "%.*s \\\n    ", (int)(cut - text), text);
        text = cut + 1;
    }
    snprintf(out + len, cap - len, "%s", text);
}

Test(config_lines, a_4k_header_value_reaches_curl_on_one_line_or_continued)
{
    static char csp[4097], folded[8192], ini[16384], out[16384], want[8192];

    policy(csp, 4096);
    continued(csp, folded, sizeof folded);
    cr_assert(strchr(folded, '\n'), "the continued form has several lines");
    snprintf(ini, sizeof ini,
             "[static /]\nroot = %%ROOT%%\n"
             "header = Content-Security-Policy: %s\n"
             "header = X-Continued: %s\n",
             csp, folded);
    daemon_start(&d, ini);
    site_write(&d, "index.html", "<p>hi</p>\n", 10);

    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS -o /dev/null -D - http://127.0.0.1:%u/index.html | tr -d '\\r'",
                         d.port),
                 0);
    snprintf(want, sizeof want, "\nContent-Security-Policy: %s\n", csp);
    cr_assert(strstr(out, want), "the 4,096-byte policy arrives whole: %.300s", out);
    snprintf(want, sizeof want, "\nX-Continued: %s\n", csp);
    cr_assert(strstr(out, want), "so does the continued one, joined with single spaces: %.300s",
              out);
    cr_assert_eq(daemon_stop(&d), 0);
}
