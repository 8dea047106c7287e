/* cli.c - tests of daemon/cli.c: options, usage errors, config lookup, -t -T --route -r output. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/cli.h"
#include "handlers/redirect.h"
#include "handlers/static.h"

static char dir[1024]; /* the test's temporary directory (real path); also the cwd */

static void write_file(const char *rel, const char *text)
{
    FILE *f = fopen(rel, "w");

    cr_assert_not_null(f, "fopen %s", rel);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    char tmpl[] = "/tmp/cohttpd-cli-XXXXXX", real[PATH_MAX];

    cr_assert_not_null(mkdtemp(tmpl));
    cr_assert_not_null(realpath(tmpl, real));
    cr_assert_lt(strlen(real), sizeof(dir));
    memcpy(dir, real, strlen(real) + 1);
    cr_assert_eq(chdir(dir), 0);
    cr_assert_eq(mkdir("www", 0755), 0);
    cr_assert_eq(mkdir("docs", 0755), 0);
    unsetenv("COHTTPD_CONFIG");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

TestSuite(cli, .init = setup, .fini = teardown);

__attribute__((format(printf, 1, 2))) static const char *fmt(const char *f, ...)
{
    static char bufs[4][PATH_MAX + 512];
    static int next;
    char *b = bufs[next++ % 4];
    va_list ap;

    va_start(ap, f);
    vsnprintf(b, sizeof(bufs[0]), f, ap);
    va_end(ap);
    return b;
}

/* Output captured from a FILE *. */
struct capture {
    FILE *f;
    char *buf;
    size_t len;
};

static void capture_open(struct capture *c)
{
    *c = (struct capture){0};
    c->f = open_memstream(&c->buf, &c->len);
    cr_assert_not_null(c->f);
}

static const char *capture_text(struct capture *c)
{
    fflush(c->f);
    return c->buf;
}

static void capture_close(struct capture *c)
{
    fclose(c->f);
    free(c->buf);
}

/* argv storage: getopt may reorder pointers, never the strings. */
struct args {
    char *argv[16];
    int argc;
};

/* Parses "cohttpd" followed by the given arguments (NULL-terminated);
 * returns cli_parse's result, with its stderr in *err (caller closes). */
static int parse(struct cli *cli, struct capture *err, ...)
{
    static struct args a;
    const char *arg;
    va_list ap;

    a = (struct args){.argv = {"cohttpd"}, .argc = 1};
    va_start(ap, err);
    while ((arg = va_arg(ap, const char *)) != NULL && a.argc < 15)
        a.argv[a.argc++] = (char *)arg;
    va_end(ap);
    a.argv[a.argc] = NULL;
    capture_open(err);
    return cli_parse(cli, a.argc, a.argv, err->f);
}

/* ---- parsing --------------------------------------------------------------- */

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

Test(cli, no_options_runs)
{
    struct cli cli;
    struct capture err;

    cr_assert_eq(parse(&cli, &err, NULL), 0);
    cr_expect_eq(cli.mode, CLI_RUN);
    cr_expect_null(cli.config);
    cr_expect_null(cli.root);
    cr_expect_eq(cli.over.n_listen, 0);
    cr_expect(!cli.over.quiet && !cli.over.autoindex);
    cr_expect_null(cli.route);
    cr_expect_str_eq(capture_text(&err), "");
    capture_close(&err);
}

Test(cli, each_option_short_and_long)
{
    static const struct {
        const char *args[4];
        enum cli_mode mode;
        const char *config, *root, *listen, *route;
    } cases[] = {
        {{"-c", "a.ini"}, CLI_RUN, "a.ini", NULL, NULL, NULL},
        {{"--config", "a.ini"}, CLI_RUN, "a.ini", NULL, NULL, NULL},
        {{"--config=b.ini"}, CLI_RUN, "b.ini", NULL, NULL, NULL},
        {{"-r", "site", "-l", "*:80"}, CLI_RUN, NULL, "site", "*:80", NULL},
        {{"--root", "site", "--listen", "[::1]:80"}, CLI_RUN, NULL, "site", "[::1]:80", NULL},
        {{"-r", "site"}, CLI_RUN, NULL, "site", NULL, NULL},
        {{"-t"}, CLI_TEST, NULL, NULL, NULL, NULL},
        {{"--test", "-c", "x.ini"}, CLI_TEST, "x.ini", NULL, NULL, NULL},
        {{"-tc", "y.ini"}, CLI_TEST, "y.ini", NULL, NULL, NULL},
        {{"-T"}, CLI_DUMP, NULL, NULL, NULL, NULL},
        {{"--dump", "-r", "site"}, CLI_DUMP, NULL, "site", NULL, NULL},
        {{"--route", "GET http://x/"}, CLI_ROUTE, NULL, NULL, NULL, "GET http://x/"},
        {{"--route=HEAD http://y/a", "-c", "z.ini"},
         CLI_ROUTE,
         "z.ini",
         NULL,
         NULL,
         "HEAD http://y/a"},
        {{"-V"}, CLI_VERSION, NULL, NULL, NULL, NULL},
        {{"--version"}, CLI_VERSION, NULL, NULL, NULL, NULL},
        {{"-h"}, CLI_HELP, NULL, NULL, NULL, NULL},
        {{"--help"}, CLI_HELP, NULL, NULL, NULL, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *const *a = cases[i].args;
        struct cli cli;
        struct capture err;
        int rc = parse(&cli, &err, a[0], a[1], a[2], a[3], NULL);

        cr_expect_eq(rc, 0, "case %zu (%s): %s", i, a[0], capture_text(&err));
        cr_expect_eq(cli.mode, cases[i].mode, "case %zu (%s)", i, a[0]);
        cr_expect(same_str(cli.config, cases[i].config), "case %zu (%s): config", i, a[0]);
        cr_expect(same_str(cli.root, cases[i].root), "case %zu (%s): root", i, a[0]);
        cr_expect(same_str(cli.over.n_listen ? cli.over.listen[0] : NULL, cases[i].listen),
                  "case %zu (%s): listen", i, a[0]);
        cr_expect(same_str(cli.route, cases[i].route), "case %zu (%s): route", i, a[0]);
        capture_close(&err);
    }
}

Test(cli, usage_errors_exit_2_with_a_message)
{
    static const struct {
        const char *args[5];
        const char *msg;
    } cases[] = {
        {{"--autoindex", "-c", "a.ini"}, "option --autoindex needs -r DIR"},
        {{"-r", "site", "-c", "a.ini"}, "options -r and -c cannot be combined"},
        {{"-t", "-T"}, "options -t and -T cannot be combined"},
        {{"--dump", "--route", "GET http://x/"}, "options --dump and --route cannot be combined"},
        {{"--route", "GET http://x/", "-t"}, "options --route and -t cannot be combined"},
        {{"-V", "-h"}, "options -V and -h cannot be combined"},
        {{"-t", "--test"}, "option --test is given twice"},
        {{"-c", "a", "--config", "b"}, "option --config is given twice"},
        {{"-r", "a", "-r", "b"}, "option -r is given twice"},
        {{"-x"}, "unknown option '-x'"},
        {{"--bogus"}, "unknown option '--bogus'"},
        {{"-c"}, "option -c needs an argument"},
        {{"--root"}, "option --root needs an argument"},
        {{"--route"}, "option --route needs an argument"},
        {{"serve"}, "unexpected argument 'serve'"},
        {{"-c", "a.ini", "extra"}, "unexpected argument 'extra'"},
        {{"-c", ""}, "option -c needs a non-empty argument"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *const *a = cases[i].args;
        struct cli cli;
        struct capture err;
        int rc = parse(&cli, &err, a[0], a[1], a[2], a[3], a[4], NULL);

        cr_expect_eq(rc, CLI_EXIT_USAGE, "case %zu (%s)", i, a[0]);
        cr_expect_str_eq(capture_text(&err),
                         fmt("cohttpd: %s\nTry 'cohttpd -h' for help.\n", cases[i].msg));
        capture_close(&err);
    }
}

Test(cli, parse_can_run_again)
{
    struct cli cli;
    struct capture err;

    cr_assert_eq(parse(&cli, &err, "-t", "-c", "one.ini", NULL), 0);
    capture_close(&err);
    cr_assert_eq(parse(&cli, &err, "-c", "two.ini", NULL), 0);
    cr_expect_eq(cli.mode, CLI_RUN);
    cr_expect_str_eq(cli.config, "two.ini");
    capture_close(&err);
}

/* ---- config lookup --------------------------------------------------------- */

Test(cli, config_lookup_order)
{
    struct cli none = {.mode = CLI_RUN}, with_c = {.mode = CLI_RUN, .config = "mine.ini"};
    struct cli with_r = {.mode = CLI_RUN, .root = "www"};

    cr_expect_str_eq(cli_config_path(&none), "/etc/cohttpd/cohttpd.ini");
    cr_assert_eq(mkdir("config", 0755), 0);
    write_file("config/cohttpd.ini", "");
    cr_expect_str_eq(cli_config_path(&none), "config/cohttpd.ini");
    setenv("COHTTPD_CONFIG", "/srv/site.ini", 1);
    cr_expect_str_eq(cli_config_path(&none), "/srv/site.ini");
    cr_expect_str_eq(cli_config_path(&with_c), "mine.ini", "-c beats $COHTTPD_CONFIG");
    cr_expect_null(cli_config_path(&with_r), "-r reads no file");
    setenv("COHTTPD_CONFIG", "", 1);
    cr_expect_str_eq(cli_config_path(&none), "config/cohttpd.ini", "an empty variable is unset");
    unlink("config/cohttpd.ini");
    cr_expect_str_eq(cli_config_path(&none), "/etc/cohttpd/cohttpd.ini");
}

Test(cli, execute_reads_cohttpd_config)
{
    struct cli cli = {.mode = CLI_TEST};
    struct config cfg;
    struct capture out, err;

    write_file("env.ini", "[static /]\nroot = www\n");
    setenv("COHTTPD_CONFIG", "env.ini", 1);
    capture_open(&out);
    capture_open(&err);
    cr_expect_eq(cli_execute(&cli, &cfg, out.f, err.f), 0);
    cr_expect_str_eq(capture_text(&out), "env.ini: configuration OK\n");
    cr_expect_str_eq(capture_text(&err), "");
    capture_close(&out);
    capture_close(&err);
}

/* ---- cli_execute ----------------------------------------------------------- */

/* Runs cli_execute for cli; out and err are captured (caller closes). */
static int execute(const struct cli *cli, struct config *cfg, struct capture *out,
                   struct capture *err)
{
    capture_open(out);
    capture_open(err);
    return cli_execute(cli, cfg, out->f, err->f);
}

Test(cli, test_mode_reports_ok_or_every_error)
{
    struct cli good = {.mode = CLI_TEST, .config = "good.ini"};
    struct cli bad = {.mode = CLI_TEST, .config = "bad.ini"};
    struct config cfg;
    struct capture out, err;

    write_file("good.ini", "[static /]\nroot = www\n");
    write_file("bad.ini", "[server]\nworkers = x\n[static /]\nroot = nope\n");
    cr_expect_eq(execute(&good, &cfg, &out, &err), 0);
    cr_expect_str_eq(capture_text(&out), "good.ini: configuration OK\n");
    cr_expect_str_eq(capture_text(&err), "");
    cr_expect_null(cfg.blocks, "the configuration is freed");
    capture_close(&out);
    capture_close(&err);
    cr_expect_eq(execute(&bad, &cfg, &out, &err), 1);
    cr_expect_str_eq(capture_text(&out), "");
    cr_expect_str_eq(capture_text(&err),
                     fmt("bad.ini:2: invalid value 'x' for 'workers' (auto or a number from 1 to "
                         "1024)\nbad.ini:4: root '%s/nope' does not exist\n",
                         dir));
    capture_close(&out);
    capture_close(&err);
}

Test(cli, test_mode_with_root)
{
    struct cli cli = {.mode = CLI_TEST, .root = "www"};
    struct config cfg;
    struct capture out, err;

    cr_expect_eq(execute(&cli, &cfg, &out, &err), 0);
    cr_expect_str_eq(capture_text(&out), "command line: configuration OK\n");
    capture_close(&out);
    capture_close(&err);
}

Test(cli, run_mode_with_root_builds_a_config)
{
    struct cli cli = {
        .mode = CLI_RUN, .root = "www", .over = {.listen = {"*:9090"}, .n_listen = 1}};
    struct config cfg;
    struct capture out, err;
    const struct static_conf *sc;

    cr_assert_eq(execute(&cli, &cfg, &out, &err), CLI_CONTINUE, "%s", capture_text(&err));
    cr_expect_str_eq(capture_text(&out), "");
    cr_assert_eq(cfg.n_routes, 1);
    cr_expect_eq(cfg.routes[0].kind, &static_kind);
    cr_expect_str_eq(cfg.routes[0].prefix, "/");
    cr_expect_null(cfg.routes[0].host);
    cr_expect_str_eq(cfg.routes[0].name, "[static /]");
    sc = cfg.routes[0].conf;
    cr_expect_str_eq(sc->root, fmt("%s/www", dir));
    cr_expect_str_eq(sc->index[0], "index.html");
    cr_assert_eq(cfg.server.n_listen, 1);
    cr_expect_str_eq(cfg.server.listen[0].text, "*:9090");
    cr_expect_str_eq(cfg.path, "command line");
    cr_expect_not_null(router_match(cfg.router, "any", 3, "/x", 2));
    config_free(&cfg);
    capture_close(&out);
    capture_close(&err);
}

Test(cli, from_root_defaults_and_errors)
{
    const struct config_overrides foo = {.listen = {"foo"}, .n_listen = 1};
    struct config cfg;
    struct config_errors errs = {0};

    cr_assert_eq(config_from_root(fmt("%s/docs", dir), NULL, &cfg, &errs), 0);
    cr_expect_str_eq(cfg.server.listen[0].text, "127.0.0.1:8080");
    cr_expect_str_eq(((const struct static_conf *)cfg.routes[0].conf)->root, fmt("%s/docs", dir));
    config_free(&cfg);
    cr_assert_eq(config_from_root("nope", &foo, &cfg, &errs), -1);
    cr_assert_eq(errs.n, 2);
    cr_expect_str_eq(errs.items[0].text, fmt("command line: root '%s/nope' does not exist", dir));
    cr_expect_str_eq(errs.items[1].text, "command line: invalid listen address 'foo' (HOST:PORT, "
                                         "[V6]:PORT, *:PORT or unix:/path)");
    config_errors_free(&errs);
}

Test(cli, run_mode_with_a_bad_config_exits_1)
{
    struct cli cli = {.mode = CLI_RUN, .root = "missing-dir"};
    struct config cfg;
    struct capture out, err;

    cr_expect_eq(execute(&cli, &cfg, &out, &err), 1);
    cr_expect_str_eq(capture_text(&err),
                     fmt("command line: root '%s/missing-dir' does not exist\n", dir));
    cr_expect_null(cfg.router);
    capture_close(&out);
    capture_close(&err);
}

Test(cli, missing_config_file_exits_1)
{
    struct cli cli = {.mode = CLI_RUN, .config = "absent.ini"};
    struct config cfg;
    struct capture out, err;

    cr_expect_eq(execute(&cli, &cfg, &out, &err), 1);
    cr_expect_str_eq(capture_text(&err), "absent.ini: cannot open: No such file or directory\n");
    capture_close(&out);
    capture_close(&err);
}

Test(cli, dump_mode_prints_a_loadable_config)
{
    struct cli cli = {.mode = CLI_DUMP, .config = "site.ini"};
    struct config cfg;
    struct config_errors errs = {0};
    struct capture out, err;

    write_file("site.ini", "[limits]\nheader_timeout = 2s\n[static /]\nroot = www\n");
    cr_expect_eq(execute(&cli, &cfg, &out, &err), 0);
    cr_expect_eq(strncmp(capture_text(&out), "; cohttpd configuration from site.ini", 37), 0);
    cr_expect(strstr(capture_text(&out), "\nheader_timeout = 2s\n") != NULL);
    cr_expect(strstr(capture_text(&out), fmt("\n[static /]\nroot = %s/www\n", dir)) != NULL);
    write_file("dumped.ini", capture_text(&out));
    cr_expect_eq(config_load("dumped.ini", &cfg, &errs), 0);
    cr_expect_eq(cfg.limits.header_timeout_ms, 2000);
    config_free(&cfg);
    capture_close(&out);
    capture_close(&err);
}

Test(cli, help_and_version)
{
    struct cli help = {.mode = CLI_HELP}, version = {.mode = CLI_VERSION};
    static const char *const options[] = {"-c, --config FILE",
                                          "-r, --root DIR",
                                          "-l, --listen ADDR",
                                          "-t, --test",
                                          "-T, --dump",
                                          "--route 'METHOD http://host/path'",
                                          "-V, --version",
                                          "-h, --help",
                                          "COHTTPD_CONFIG",
                                          "config/cohttpd.ini",
                                          "/etc/cohttpd/cohttpd.ini"};
    static const char *const built_with[] = {
        "\nllhttp: ", "\ninih: r", "\nlibsystemd: ", "\ncompiler: ", "\ncoroutine switch: "};
    struct config cfg;
    struct capture out, err;

    cr_expect_eq(execute(&help, &cfg, &out, &err), 0);
    cr_expect_eq(strncmp(capture_text(&out), "Usage: cohttpd ", 15), 0);
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
        cr_expect(strstr(capture_text(&out), options[i]) != NULL, "help lacks %s", options[i]);
    capture_close(&out);
    capture_close(&err);
    cr_expect_eq(execute(&version, &cfg, &out, &err), 0);
    cr_expect_eq(strncmp(capture_text(&out), "cohttpd " COHTTPD_VERSION "\n",
                         strlen("cohttpd " COHTTPD_VERSION "\n")),
                 0, "%s", capture_text(&out));
    for (size_t i = 0; i < sizeof(built_with) / sizeof(built_with[0]); i++)
        cr_expect(strstr(capture_text(&out), built_with[i]) != NULL, "-V lacks %s", built_with[i]);
    capture_close(&out);
    capture_close(&err);
}

/* ---- --route --------------------------------------------------------------- */

static const char site_ini[] = "[static /]\n"                 /* 1 */
                               "root = www\n"                 /* 2 */
                               "[static example.com/docs/]\n" /* 3 */
                               "root = docs\n"                /* 4 */
                               "fallback = /index.html\n"     /* 5 */
                               "[redirect old.test/]\n"       /* 6 */
                               "to = https://new.test/\n"     /* 7 */
                               "[redirect /gone]\n"           /* 8 */
                               "to = /here\n"                 /* 9 */
                               "status = 302\n";              /* 10 */

/* Loads site.ini and runs --route request: returns the exit code, the
 * output in *out_text (caller frees). */
static int route(const char *request, char **out_text, char **err_text)
{
    struct config cfg;
    struct config_errors errs = {0};
    struct capture out, err;
    int rc;

    write_file("site.ini", site_ini);
    cr_assert_eq(config_load("site.ini", &cfg, &errs), 0);
    capture_open(&out);
    capture_open(&err);
    rc = cli_print_route(&cfg, request, out.f, err.f);
    *out_text = strdup(capture_text(&out));
    *err_text = strdup(capture_text(&err));
    capture_close(&out);
    capture_close(&err);
    config_free(&cfg);
    return rc;
}

Test(cli, route_static_file)
{
    char *out, *err;

    cr_expect_eq(route("GET http://Example.com:8080/docs/guide/a.html", &out, &err), 0);
    cr_expect_str_eq(out, fmt("request: GET http://Example.com:8080/docs/guide/a.html\n"
                              "path: /docs/guide/a.html\n"
                              "route: [static example.com/docs/] at site.ini:3\n"
                              "handler: static\n"
                              "file: %s/docs/guide/a.html\n"
                              "fallback: %s/docs/index.html (when no file matches)\n",
                              dir, dir));
    cr_expect_str_eq(err, "");
    free(out);
    free(err);
}

Test(cli, route_static_directory_and_normalised_path)
{
    char *out, *err;

    cr_assert_eq(mkdir("www/b", 0755), 0);
    cr_expect_eq(route("HEAD http://other.test/a/%2e%2e/b//", &out, &err), 0);
    cr_expect_str_eq(out, fmt("request: HEAD http://other.test/a/%%2e%%2e/b//\n"
                              "path: /b/\n"
                              "route: [static /] at site.ini:1\n"
                              "handler: static\n"
                              "file: %s/www/b/\n"
                              "index: index.html\n"
                              "autoindex: off\n",
                              dir));
    free(out);
    free(err);
    cr_expect_eq(route("GET http://example.com/docsx", &out, &err), 0);
    cr_expect(strstr(out, "route: [static /] at site.ini:1\n") != NULL,
              "/docsx is not below /docs/: %s", out);
    free(out);
    free(err);
}

Test(cli, route_redirects)
{
    char *out, *err;

    cr_expect_eq(route("GET http://old.test/a/b?q=1", &out, &err), 0);
    cr_expect_str_eq(out, "request: GET http://old.test/a/b?q=1\n"
                          "path: /a/b\n"
                          "route: [redirect old.test/] at site.ini:6\n"
                          "handler: redirect\n"
                          "redirect: 301 https://new.test/a/b?q=1\n");
    free(out);
    free(err);
    cr_expect_eq(route("POST http://any.test/gone/deeper", &out, &err), 0);
    cr_expect(strstr(out, "route: [redirect /gone] at site.ini:8\nhandler: redirect\n"
                          "redirect: 302 /here\n") != NULL,
              "%s", out);
    free(out);
    free(err);
}

Test(cli, route_none)
{
    char *out, *err;
    struct config cfg;
    struct config_errors errs = {0};
    struct capture o, e;

    cr_expect_eq(route("GET http://x.test/../etc/passwd", &out, &err), 1);
    cr_expect_str_eq(out, "request: GET http://x.test/../etc/passwd\n"
                          "route: none (400 Bad Request: the path is refused before routing)\n");
    free(out);
    free(err);
    write_file("host-only.ini", "[static example.com/]\nroot = www\n");
    cr_assert_eq(config_load("host-only.ini", &cfg, &errs), 0);
    capture_open(&o);
    capture_open(&e);
    cr_expect_eq(cli_print_route(&cfg, "GET http://other.test/", o.f, e.f), 1);
    cr_expect_str_eq(capture_text(&o), "request: GET http://other.test/\npath: /\n"
                                       "route: none (404 Not Found)\n");
    capture_close(&o);
    capture_close(&e);
    config_free(&cfg);
}

Test(cli, route_malformed_requests_exit_2)
{
    static const char *const bad[] = {
        "GET",           "http://x/", "GET ftp://x/", "GET http:///a", "GET http://x/ extra",
        "G(T http://x/", ""};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out, *err;

        cr_expect_eq(route(bad[i], &out, &err), CLI_EXIT_USAGE, "'%s'", bad[i]);
        cr_expect_str_eq(err, fmt("cohttpd: --route needs 'METHOD http://host/path', not '%s'\n"
                                  "Try 'cohttpd -h' for help.\n",
                                  bad[i]));
        cr_expect_str_eq(out, "");
        free(out);
        free(err);
    }
}

Test(cli, route_mode_through_execute)
{
    struct cli cli = {.mode = CLI_ROUTE, .root = "www", .route = "GET http://h/x.css"};
    struct config cfg;
    struct capture out, err;

    cr_expect_eq(execute(&cli, &cfg, &out, &err), 0);
    cr_expect(strstr(capture_text(&out), "route: [static /] at command line\n") != NULL, "%s",
              capture_text(&out));
    cr_expect(strstr(capture_text(&out), fmt("file: %s/www/x.css\n", dir)) != NULL);
    capture_close(&out);
    capture_close(&err);
}

Test(cli, print_check)
{
    struct config_errors errs = {0};
    struct config cfg;
    struct capture out, err;

    write_file("two.ini", "[server]\nworkers = 0\nstack_size = 1\n");
    cr_assert_eq(config_load("two.ini", &cfg, &errs), -1);
    capture_open(&out);
    capture_open(&err);
    cr_expect_eq(cli_print_check("two.ini", -1, &errs, out.f, err.f), 1);
    cr_expect_str_eq(capture_text(&out), "");
    cr_expect_str_eq(capture_text(&err),
                     "two.ini:2: invalid value '0' for 'workers' (auto or a number from 1 to "
                     "1024)\ntwo.ini:3: stack_size = 1 is out of range (16k to 8m)\n");
    cr_expect_eq(cli_print_check("ok.ini", 0, &errs, out.f, err.f), 0);
    cr_expect_str_eq(capture_text(&out), "ok.ini: configuration OK\n");
    capture_close(&out);
    capture_close(&err);
    config_errors_free(&errs);
}

Test(cli, listen_repeats_and_replaces_the_files_quiet_turns_logs_down)
{
    struct cli cli;
    struct capture err;
    struct config cfg;
    struct config_errors errs = {0};

    write_file("two.ini", "[server]\nlisten = 127.0.0.1:8081\naccess_log = stderr\n"
                          "[static /]\nroot = www\n");
    cr_assert_eq(
        parse(&cli, &err, "-c", "two.ini", "-l", "127.0.0.1:0", "--listen", "[::1]:0", "-q", NULL),
        0, "%s", capture_text(&err));
    capture_close(&err);
    cr_assert_eq(cli.over.n_listen, 2);
    cr_assert_eq(cli_load_config(&cli, &cfg, &errs), 0, "%s", errs.n ? errs.items[0].text : "");
    cr_assert_eq(cfg.server.n_listen, 2, "-l replaces the file's listen lines");
    cr_expect_str_eq(cfg.server.listen[0].text, "127.0.0.1:0");
    cr_expect_str_eq(cfg.server.listen[1].text, "[::1]:0");
    cr_expect_eq(cfg.server.access_log.target, CONFIG_LOG_OFF, "-q: no access log");
    cr_expect_eq(cfg.server.log_level, LOG_LVL_WARN, "-q: warnings only");
    config_free(&cfg);
}

Test(cli, autoindex_lists_directories_of_the_root)
{
    struct cli cli;
    struct capture err;
    struct config cfg;
    struct config_errors errs = {0};

    cr_assert_eq(parse(&cli, &err, "-r", "www", "--autoindex", NULL), 0, "%s", capture_text(&err));
    capture_close(&err);
    cr_assert_eq(cli_load_config(&cli, &cfg, &errs), 0, "%s", errs.n ? errs.items[0].text : "");
    cr_expect(((const struct static_conf *)cfg.routes[0].conf)->autoindex);
    config_free(&cfg);
}
