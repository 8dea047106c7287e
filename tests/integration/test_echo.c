/* Integration: the test build's echo route kind, through curl; the shipped binary has no such kind.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct daemon d;

static void start(void) { daemon_start_bin(&d, cohttpd_test_bin(), "[echo /echo]\n"); }

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0, "the daemon exits cleanly"); }

TestSuite(echo, .init = start, .fini = stop);

Test(echo, a_body_comes_back_with_its_content_type)
{
    char in[600], out[600], head[600], text[4096], type[128];
    size_t len = 300 * 1024;
    unsigned char *body = malloc(len);
    char *got;
    FILE *f;

    cr_assert_not_null(body);
    for (size_t i = 0; i < len; i++)
        body[i] = (unsigned char)(i * 7 + i / 251);
    snprintf(in, sizeof in, "%s/in.bin", d.dir);
    snprintf(out, sizeof out, "%s/out.bin", d.dir);
    snprintf(head, sizeof head, "%s/head.txt", d.dir);
    f = fopen(in, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(body, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(run_cmd(text, sizeof text,
                         "curl -sS --data-binary @'%s' -H 'Content-Type: application/x-echo-test' "
                         "-D '%s' -o '%s' -w '%%{http_code}' http://127.0.0.1:%u/echo/x 2>&1",
                         in, head, out, d.port),
                 0, "%s", text);
    cr_assert_str_eq(text, "200");
    got = file_slurp(head);
    cr_assert_not_null(response_header(got, "Content-Type", type, sizeof type), "%s", got);
    cr_assert_str_eq(type, "application/x-echo-test");
    free(got);
    cr_assert_eq(run_cmd(text, sizeof text, "cmp '%s' '%s' 2>&1", in, out), 0,
                 "the body came back changed: %s", text);
    free(body);
}

Test(echo, an_empty_body_comes_back_empty)
{
    char text[256];

    cr_assert_eq(run_cmd(text, sizeof text,
                         "curl -sS -X POST -w ' %%{http_code} %%{size_download}' "
                         "http://127.0.0.1:%u/echo 2>&1",
                         d.port),
                 0, "%s", text);
    cr_assert_str_eq(text, " 200 0");
}

Test(echo, the_shipped_binary_refuses_an_echo_route)
{
    struct daemon plain;
    char text[1024];
    int rc;

    daemon_prepare(&plain, "[echo /echo]\n");
    rc = run_cmd(text, sizeof text, "'%s' -t -c '%s' 2>&1", cohttpd_bin(), plain.config);
    daemon_kill(&plain);
    cr_assert_eq(rc, 1, "%s", text);
    cr_assert(strstr(text, "unknown route kind 'echo'") != NULL, "%s", text);
}
