/* Integration: real CGI programs through the cgi route: php-cgi and git http-backend. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static struct daemon d;

static void stop(void) { cr_assert_eq(daemon_stop(&d), 0, "the daemon exits cleanly"); }

/* Starts the daemon on ini after making dir/www/cgi-bin. */
static void start_with(const char *ini) { daemon_start_with_dir(&d, ini, "cgi-bin"); }

/* Writes a file below the site with mode. */
static void site_file(const char *rel, const char *text, mode_t mode)
{
    char path[600];

    site_write(&d, rel, text, strlen(text));
    snprintf(path, sizeof path, "%s/%s", d.root, rel);
    cr_assert_eq(chmod(path, mode), 0, "chmod %s: %s", path, strerror(errno));
}

/* ---- php-cgi ---- */

static void start_php(void)
{
    cr_assert_eq(access("/usr/bin/php-cgi", X_OK), 0,
                 "php-cgi is missing: packaging/install-deps --test installs it");
    start_with("[cgi /php/]\nroot = %ROOT%/cgi-bin\nenv = PHP_INI_SCAN_DIR=%ROOT%/php.d\n");
    site_file("php.d/test.ini", "upload_max_filesize = 16M\npost_max_size = 32M\n", 0644);
    site_file("cgi-bin/info.php",
              "#!/usr/bin/php-cgi\n<?php\nheader('Content-Type: text/plain');\n"
              "foreach (['REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', "
              "'SERVER_PORT', 'HTTP_X_TEST'] as $k) echo $k, '=', $_SERVER[$k] ?? '-', \"\\n\";\n"
              "foreach ($_POST as $k => $v) echo 'post ', $k, '=', $v, \"\\n\";\n"
              "foreach ($_FILES as $k => $f) echo 'file ', $k, ' ', $f['size'], ' ', "
              "md5_file($f['tmp_name']), \"\\n\";\n",
              0755);
    site_file("cgi-bin/go.php",
              "#!/usr/bin/php-cgi\n<?php\nheader('Location: /elsewhere?from=php');\n", 0755);
}

TestSuite(cgi_php, .init = start_php, .fini = stop);

Test(cgi_php, a_page_reads_server_variables)
{
    char out[4096], want[256];

    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS -H 'X-Test: hello' 'http://127.0.0.1:%u/php/info.php/extra?q=1' "
                         "2>&1",
                         d.port),
                 0, "%s", out);
    snprintf(want, sizeof want,
             "REQUEST_METHOD=GET\nSCRIPT_NAME=/php/info.php\nPATH_INFO=/extra\nQUERY_STRING=q=1\n"
             "SERVER_PORT=%u\nHTTP_X_TEST=hello\n",
             d.port);
    cr_assert_str_eq(out, want, "log: %s", file_slurp(d.log));
}

Test(cgi_php, a_form_post_and_a_file_upload)
{
    char out[4096], file[600], sum[64];

    cr_assert_eq(
        run_cmd(out, sizeof out,
                "curl -sS --data 'name=cohttpd&n=42' http://127.0.0.1:%u/php/info.php 2>&1",
                d.port),
        0, "%s", out);
    cr_assert(strstr(out, "REQUEST_METHOD=POST\n") != NULL, "%s", out);
    cr_assert(strstr(out, "post name=cohttpd\npost n=42\n") != NULL, "%s", out);
    snprintf(file, sizeof file, "%s/upload.bin", d.dir);
    cr_assert_eq(run_cmd(sum, sizeof sum,
                         "head -c 5242880 /dev/urandom > '%s' && md5sum < '%s' | cut -c1-32", file,
                         file),
                 0);
    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS -F 'up=@%s' http://127.0.0.1:%u/php/info.php 2>&1", file,
                         d.port),
                 0, "%s", out);
    sum[32] = '\0';
    cr_assert(strstr(out, "file up 5242880 ") != NULL, "%s", out);
    cr_assert(strstr(out, sum) != NULL, "the upload arrived changed: %s (want %s)", out, sum);
}

Test(cgi_php, header_location_redirects_the_client)
{
    char out[4096], want[128];

    cr_assert_eq(run_cmd(out, sizeof out,
                         "curl -sS -o /dev/null -w '%%{http_code} %%{redirect_url}' "
                         "http://127.0.0.1:%u/php/go.php 2>&1",
                         d.port),
                 0, "%s", out);
    snprintf(want, sizeof want, "302 http://127.0.0.1:%u/elsewhere?from=php", d.port);
    cr_assert_str_eq(out, want);
}

/* ---- git http-backend (smart HTTP) ---- */

static void start_git(void)
{
    char out[8192];

    cr_assert_eq(access("/usr/lib/git-core/git-http-backend", X_OK), 0,
                 "git is missing: packaging/install-deps --test installs it");
    start_with("[cgi /git/]\nroot = %ROOT%/cgi-bin\nenv = GIT_PROJECT_ROOT=%ROOT%/../repos\n"
               "env = GIT_HTTP_EXPORT_ALL=1\n");
    site_file("cgi-bin/git", "#!/bin/sh\nexec /usr/lib/git-core/git-http-backend\n", 0755);
    /* A bare repository with 300 commits, made in one go by fast-import. */
    cr_assert_eq(run_cmd(out, sizeof out,
                         "cd '%s' && git init -q --bare -b main repos/proj.git && "
                         "git -C repos/proj.git config http.receivepack true && "
                         "for i in $(seq 1 300); do m=\"commit $i\"; c=\"content $i\"; "
                         "printf 'commit refs/heads/main\\ncommitter T <t@example.org> %%d +0000\\n"
                         "data %%d\\n%%s\\nM 644 inline file%%d.txt\\ndata %%d\\n%%s\\n' "
                         "$((1700000000 + i)) ${#m} \"$m\" $((i %% 20)) ${#c} \"$c\"; done | "
                         "git -C repos/proj.git fast-import --quiet 2>&1",
                         d.dir),
                 0, "%s", out);
}

TestSuite(cgi_git, .init = start_git, .fini = stop);

Test(cgi_git, clone_and_push_over_smart_http)
{
    char out[8192];

    cr_assert_eq(
        run_cmd(out, sizeof out,
                "cd '%s' && git clone -q http://127.0.0.1:%u/git/git/proj.git work 2>&1 && "
                "git -C work rev-list --count HEAD",
                d.dir, d.port),
        0, "%s\nlog: %s", out, file_slurp(d.log));
    cr_assert_str_eq(out, "300\n", "the clone has every commit");
    /* A push whose pack is larger than postBuffer goes as a chunked body. */
    cr_assert_eq(run_cmd(out, sizeof out,
                         "cd '%s/work' && head -c 300000 /dev/urandom > big.bin && git add big.bin "
                         "&& git -c user.name=T -c user.email=t@example.org commit -qm pushed && "
                         "git -c http.postBuffer=4096 push -q origin main 2>&1 && "
                         "git -C ../repos/proj.git log -1 --format=%%s main && "
                         "git -C ../repos/proj.git rev-list --count main",
                         d.dir),
                 0, "%s\nlog: %s", out, file_slurp(d.log));
    cr_assert_str_eq(out, "pushed\n301\n");
}
