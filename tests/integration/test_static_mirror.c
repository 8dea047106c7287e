/* Integration: wget mirrors the default site (www/) from the daemon byte for byte. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct daemon d;

static void stop(void)
{
    if (d.pid > 0)
        cr_assert_eq(daemon_stop(&d), 0);
}

TestSuite(static_mirror, .fini = stop);

/* cgi-bin/ holds programs run by a [cgi] route, not pages of the static site. */
#define NOT_CGI "-not -path './cgi-bin/*'"

Test(static_mirror, wget_mirrors_the_default_site_byte_for_byte)
{
    char out[8192], files[4096], mirrored[4096];

    daemon_start(&d, "[static /]\nroot = %ROOT%\n");
    cr_assert_eq(run_cmd(NULL, 0, "cp -a '%s/www/.' '%s/'", COHTTPD_SOURCE_DIR, d.root), 0);
    cr_assert_eq(run_cmd(out, sizeof out,
                         "cd '%s' && wget --mirror -q -nH -P mirror http://127.0.0.1:%u/ 2>&1",
                         d.dir, d.port),
                 0, "wget failed: %s", out);
    cr_assert_eq(
        run_cmd(out, sizeof out, "diff -r -x cgi-bin '%s' '%s/mirror' 2>&1", d.root, d.dir), 0,
        "the mirror differs from the site:\n%s", out);
    cr_assert_str_eq(out, "");
    /* Every file came over, with its modification time from Last-Modified. */
    run_cmd(files, sizeof files,
            "cd '%s' && find . -type f " NOT_CGI " -exec stat -c '%%n %%Y' {} + | sort", d.root);
    run_cmd(mirrored, sizeof mirrored,
            "cd '%s/mirror' && find . -type f " NOT_CGI " -exec stat -c '%%n %%Y' {} + | sort",
            d.dir);
    cr_assert(strstr(files, "./index.html "), "%s", files);
    cr_assert(strstr(files, "./docs/index.html "), "%s", files);
    cr_assert_str_eq(mirrored, files);
}
