/* cli.c - the command line: argv into a struct, config lookup, and the -h -V -t -T --route output.
 */
#include "daemon/cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llhttp.h>

#include "daemon/logcheck.h"
#include "handlers/kinds.h"
#include "http/url.h"

#ifndef COHTTPD_VERSION
#define COHTTPD_VERSION "unknown"
#endif
/* The versions pkg-config gave when the build was configured. */
#ifndef COHTTPD_INIH_VERSION
#define COHTTPD_INIH_VERSION "unknown"
#endif
#ifndef COHTTPD_LIBSYSTEMD_VERSION
#define COHTTPD_LIBSYSTEMD_VERSION "unknown"
#endif

#define CLI_OPT_ROUTE     1000 /* --route has no short form */
#define CLI_OPT_AUTOINDEX 1001
#define CLI_URL_MAX       8192

static const struct option cli_options[] = {
    {.name = "config", .has_arg = required_argument, .val = 'c'},
    {.name = "root", .has_arg = required_argument, .val = 'r'},
    {.name = "listen", .has_arg = required_argument, .val = 'l'},
    {.name = "quiet", .has_arg = no_argument, .val = 'q'},
    {.name = "autoindex", .has_arg = no_argument, .val = CLI_OPT_AUTOINDEX},
    {.name = "test", .has_arg = no_argument, .val = 't'},
    {.name = "dump", .has_arg = no_argument, .val = 'T'},
    {.name = "route", .has_arg = required_argument, .val = CLI_OPT_ROUTE},
    {.name = "version", .has_arg = no_argument, .val = 'V'},
    {.name = "help", .has_arg = no_argument, .val = 'h'},
    {.name = NULL},
};

void cli_print_usage(FILE *out)
{
    fputs("Usage: cohttpd [-c FILE]                 run with a configuration file\n"
          "       cohttpd -r DIR [-l ADDR]... [--autoindex]   serve DIR, no file needed\n"
          "       cohttpd -t [-c FILE]              check the configuration\n"
          "       cohttpd -T [-c FILE]              print the effective configuration\n"
          "       cohttpd --route 'GET http://host/path' [-c FILE]\n"
          "       cohttpd -V | -h\n"
          "\n"
          "cohttpd is an asynchronous HTTP/1.1 server daemon.\n"
          "\n"
          "  -c, --config FILE   configuration file; without -c: $COHTTPD_CONFIG, else\n"
          "                      " CLI_LOCAL_CONFIG " if it exists, else " CLI_SYSTEM_CONFIG "\n"
          "  -r, --root DIR      serve DIR as one [static /] route, no configuration file\n"
          "  -l, --listen ADDR   HOST:PORT, [V6]:PORT, *:PORT or unix:/path; repeatable;\n"
          "                      replaces the file's listen lines (default " CONFIG_DEFAULT_LISTEN
          ")\n"
          "                      and prints each bound address on stdout (port 0: the\n"
          "                      kernel's choice): \"listening on http://127.0.0.1:PORT/\"\n"
          "  -q, --quiet         no access log, and only warnings and errors logged\n"
          "      --autoindex     with -r: list directories without an index file\n"
          "  -t, --test          check the configuration, print every error as\n"
          "                      FILE:LINE: message; exit 0 when it is valid, else 1\n"
          "  -T, --dump          print the effective configuration, defaults filled in\n"
          "      --route 'METHOD http://host/path'\n"
          "                      print the route, handler and file that would serve it\n"
          "  -V, --version       print the version and the libraries it was built with\n"
          "  -h, --help          print this help\n"
          "\n"
          "Exit status: 0 success, 1 configuration or startup error, 2 usage error.\n"
          "SIGHUP reloads the configuration; SIGTERM and SIGINT stop gracefully.\n",
          out);
}

/* What -V says about the build, from the compiler's and the libraries' own macros. */
#if defined(__clang__)
#define CLI_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define CLI_COMPILER "gcc " __VERSION__
#else
#define CLI_COMPILER "unknown"
#endif
#if defined(CORO_SWITCH_UCONTEXT)
#define CLI_CORO_SWITCH "ucontext"
#elif defined(__x86_64__)
#define CLI_CORO_SWITCH "assembly (x86_64)"
#elif defined(__aarch64__)
#define CLI_CORO_SWITCH "assembly (aarch64)"
#else
#define CLI_CORO_SWITCH "unknown"
#endif
#if defined(LLHTTP_STRICT_MODE) && LLHTTP_STRICT_MODE
#define CLI_LLHTTP_MODE " (strict mode)"
#else
#define CLI_LLHTTP_MODE ""
#endif

void cli_print_version(FILE *out)
{
    fprintf(out, "cohttpd %s\n", COHTTPD_VERSION);
    fprintf(out, "llhttp: %d.%d.%d%s\n", LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR,
            LLHTTP_VERSION_PATCH, CLI_LLHTTP_MODE);
    fprintf(out, "inih: r%s\n", COHTTPD_INIH_VERSION);
    fprintf(out, "libsystemd: %s\n", COHTTPD_LIBSYSTEMD_VERSION);
    fprintf(out, "compiler: %s\n", CLI_COMPILER);
    fprintf(out, "coroutine switch: %s\n", CLI_CORO_SWITCH);
}

/* Writes "cohttpd: message" and a hint to err; returns CLI_EXIT_USAGE. */
__attribute__((format(printf, 2, 3))) static int cli_usage_error(FILE *err, const char *fmt, ...)
{
    va_list ap;

    fputs("cohttpd: ", err);
    va_start(ap, fmt);
    vfprintf(err, fmt, ap);
    va_end(ap);
    fputs("\nTry 'cohttpd -h' for help.\n", err);
    return CLI_EXIT_USAGE;
}

/* The option as the user typed it, for messages: "-c" or "--config". */
static const char *cli_opt_name(int opt, bool long_form, char *buf, size_t len)
{
    for (const struct option *o = cli_options; o->name; o++) {
        if (o->val == opt) {
            if (long_form || opt == CLI_OPT_ROUTE)
                snprintf(buf, len, "--%s", o->name);
            else
                snprintf(buf, len, "-%c", opt);
            return buf;
        }
    }
    snprintf(buf, len, "-%c", opt);
    return buf;
}

/* Sets a string option once; an empty or repeated one is a usage error. */
static int cli_set_arg(const char **field, const char *name, FILE *err)
{
    if (*field)
        return cli_usage_error(err, "option %s is given twice", name);
    if (!optarg[0])
        return cli_usage_error(err, "option %s needs a non-empty argument", name);
    *field = optarg;
    return 0;
}

static int cli_set_mode(struct cli *cli, enum cli_mode mode, const char *name,
                        const char **mode_name, FILE *err)
{
    if (*mode_name && cli->mode == mode)
        return cli_usage_error(err, "option %s is given twice", name);
    if (*mode_name)
        return cli_usage_error(err, "options %s and %s cannot be combined", *mode_name, name);
    cli->mode = mode;
    *mode_name = name;
    return 0;
}

/* One option from getopt_long; name is its spelling for messages. */
static int cli_option(struct cli *cli, int opt, const char *name, const char **mode_name, FILE *err)
{
    switch (opt) {
    case 'c': return cli_set_arg(&cli->config, name, err);
    case 'r': return cli_set_arg(&cli->root, name, err);
    case 'l':
        if (cli->over.n_listen == CONFIG_MAX_LISTEN)
            return cli_usage_error(err, "too many %s options (at most %d)", name,
                                   CONFIG_MAX_LISTEN);
        cli->over.listen[cli->over.n_listen++] = optarg;
        return 0;
    case 'q': cli->over.quiet = true; return 0;
    case CLI_OPT_AUTOINDEX: cli->over.autoindex = true; return 0;
    case 't': return cli_set_mode(cli, CLI_TEST, name, mode_name, err);
    case 'T': return cli_set_mode(cli, CLI_DUMP, name, mode_name, err);
    case 'V': return cli_set_mode(cli, CLI_VERSION, name, mode_name, err);
    case 'h': return cli_set_mode(cli, CLI_HELP, name, mode_name, err);
    case CLI_OPT_ROUTE:
        if (cli_set_mode(cli, CLI_ROUTE, name, mode_name, err) != 0)
            return CLI_EXIT_USAGE;
        return cli_set_arg(&cli->route, name, err);
    default: return CLI_EXIT_USAGE;
    }
}

static int cli_bad_option(int opt, int argc, char *argv[], FILE *err)
{
    char buf[32];
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

    if (opt == ':')
        return cli_usage_error(err, "option %s needs an argument",
                               cli_opt_name(optopt, strncmp(arg, "--", 2) == 0, buf, sizeof(buf)));
    if (optopt && strncmp(arg, "--", 2) != 0) {
        snprintf(buf, sizeof(buf), "-%c", optopt);
        arg = buf;
    }
    return cli_usage_error(err, "unknown option '%s'", arg);
}

static int cli_check(const struct cli *cli, FILE *err)
{
    if (cli->over.autoindex && !cli->root)
        return cli_usage_error(err, "option --autoindex needs -r DIR");
    if (cli->root && cli->config)
        return cli_usage_error(err, "options -r and -c cannot be combined");
    return 0;
}

int cli_parse(struct cli *cli, int argc, char *argv[], FILE *err)
{
    const char *mode_name = NULL;
    /* Each option's spelling, kept for messages about a later one; at most
     * three options that keep theirs can succeed (-c, -r, one mode) before a
     * repeat fails (-l, -q and --autoindex may repeat and keep none). */
    char names[8][32];
    int opt, index = -1, rc, n = 0;

    *cli = (struct cli){.mode = CLI_RUN};
    opterr = 0;
    optind = 0; /* glibc: a full re-initialisation, so cli_parse can run again */
    while ((opt = getopt_long(argc, argv, "+:c:r:l:qtTVh", cli_options, &index)) != -1) {
        const char *name;

        if (opt == '?' || opt == ':')
            return cli_bad_option(opt, argc, argv, err);
        name = cli_opt_name(opt, index >= 0, names[n], sizeof(names[n]));
        if (opt != 'l' && opt != 'q' && opt != CLI_OPT_AUTOINDEX)
            n = (n + 1) % 8;
        index = -1;
        rc = cli_option(cli, opt, name, &mode_name, err);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error(err, "unexpected argument '%s'", argv[optind]);
    return cli_check(cli, err);
}

const char *cli_config_path(const struct cli *cli)
{
    const char *env;

    if (cli->root)
        return NULL;
    if (cli->config)
        return cli->config;
    env = getenv("COHTTPD_CONFIG");
    if (env && env[0])
        return env;
    if (access(CLI_LOCAL_CONFIG, F_OK) == 0)
        return CLI_LOCAL_CONFIG;
    return CLI_SYSTEM_CONFIG;
}

/* No -c and no file where cli_config_path looked: says where that was and
 * what to do instead. */
static void cli_config_missing(struct config_errors *errs)
{
    const char *env = getenv("COHTTPD_CONFIG");
    char cwd[PATH_MAX], msg[2 * PATH_MAX + 256];

    if (env && env[0])
        snprintf(msg, sizeof msg, "no configuration file at $COHTTPD_CONFIG (%s)", env);
    else
        snprintf(msg, sizeof msg,
                 "no configuration file: looked for $COHTTPD_CONFIG (not set), %s/%s and %s",
                 getcwd(cwd, sizeof cwd) ? cwd : ".", CLI_LOCAL_CONFIG, CLI_SYSTEM_CONFIG);
    config_errors_add(errs, "cohttpd", 0, msg);
    config_errors_add(errs, "cohttpd", 0,
                      "name one with -c FILE, or serve a directory without one with -r DIR");
}

int cli_load_config(const struct cli *cli, struct config *cfg, struct config_errors *errs)
{
    const char *path;
    int rc;

    if (cli->root)
        return config_from_root(cli->root, &cli->over, cfg, errs);
    path = cli_config_path(cli);
    rc = config_load_over(path, &cli->over, cfg, errs);
    if (rc < 0 && !cli->config && access(path, F_OK) < 0 && errno == ENOENT)
        cli_config_missing(errs);
    return rc;
}

int cli_print_check(const char *path, int load_rc, const struct config_errors *errs, FILE *out,
                    FILE *err)
{
    if (load_rc == 0) {
        fprintf(out, "%s: configuration OK\n", path);
        return CLI_EXIT_OK;
    }
    config_errors_print(errs, err);
    return CLI_EXIT_CONFIG;
}

int cli_execute(const struct cli *cli, struct config *cfg, FILE *out, FILE *err)
{
    struct config_errors errs = {0};
    int rc;

    *cfg = (struct config){0};
    if (cli->mode == CLI_HELP || cli->mode == CLI_VERSION) {
        (cli->mode == CLI_HELP ? cli_print_usage : cli_print_version)(out);
        return CLI_EXIT_OK;
    }
    rc = cli_load_config(cli, cfg, &errs);
    if (cli->mode == CLI_TEST) {
        if (rc == 0 && logcheck_run(cfg, &errs) < 0)
            rc = -1;
        rc =
            cli_print_check(cli->root ? "command line" : cli_config_path(cli), rc, &errs, out, err);
    } else if (rc < 0) {
        config_errors_print(&errs, err);
        rc = CLI_EXIT_CONFIG;
    } else if (cli->mode == CLI_RUN) {
        config_errors_free(&errs);
        return CLI_CONTINUE;
    } else if (cli->mode == CLI_DUMP) {
        rc = config_dump(cfg, out) == 0 ? CLI_EXIT_OK : CLI_EXIT_CONFIG;
    } else {
        rc = cli_print_route(cfg, cli->route, out, err);
    }
    config_errors_free(&errs);
    config_free(cfg);
    return rc;
}

/* ---- --route ------------------------------------------------------------- */

struct cli_request {
    const char *method;
    size_t method_len;
    const char *host;
    size_t host_len;
    const char *path; /* as written, before '?' */
    size_t path_len;
    const char *query; /* after '?', before '#' */
    size_t query_len;
};

static bool cli_token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "METHOD http://host[:port]/path[?query][#fragment]" (https:// too). */
static bool cli_request_parse(const char *s, struct cli_request *req)
{
    const char *p = s, *url;

    *req = (struct cli_request){.method = s, .path = "/", .path_len = 1, .query = ""};
    while (cli_token_char(*p))
        p++;
    req->method_len = (size_t)(p - s);
    if (req->method_len == 0 || *p != ' ' || strlen(s) >= CLI_URL_MAX)
        return false;
    while (*p == ' ')
        p++;
    if (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0)
        return false;
    url = p + (p[4] == 's' ? 8 : 7);
    req->host = url;
    req->host_len = strcspn(url, "/?# \t@");
    p = url + req->host_len;
    if (*p == '/') {
        req->path = p;
        req->path_len = strcspn(p, "?# \t");
        p += req->path_len;
    }
    if (*p == '?') {
        req->query = ++p;
        req->query_len = strcspn(p, "# \t");
        p += req->query_len;
    }
    if (*p == '#')
        p += strcspn(p, " \t");
    return req->host_len > 0 && *p == '\0';
}

int cli_print_route(const struct config *cfg, const char *request, FILE *out, FILE *err)
{
    struct cli_request req;
    const struct route *route;
    char path[CLI_URL_MAX], where[PATH_MAX + 16];
    struct handler_target target;
    int len;

    if (!request || !cli_request_parse(request, &req))
        return cli_usage_error(err, "--route needs 'METHOD http://host/path', not '%s'",
                               request ? request : "");
    fprintf(out, "request: %.*s http://%.*s%.*s%s%.*s\n", (int)req.method_len, req.method,
            (int)req.host_len, req.host, (int)req.path_len, req.path, req.query_len ? "?" : "",
            (int)req.query_len, req.query);
    len = url_normalize_path(req.path, req.path_len, path, sizeof(path), NULL);
    if (len < 0) {
        fprintf(out, "route: none (%d %s: the path is refused before routing)\n", -len,
                -len == 400 ? "Bad Request" : "URI Too Long");
        return CLI_EXIT_CONFIG;
    }
    fprintf(out, "path: %s\n", path);
    route =
        cfg->router ? router_match(cfg->router, req.host, req.host_len, path, (size_t)len) : NULL;
    if (!route) {
        fputs("route: none (404 Not Found)\n", out);
        return CLI_EXIT_CONFIG;
    }
    config_where(where, sizeof where, route->file, route->line);
    fprintf(out, "route: %s at %s\nhandler: %s\n", route->name, where, route->kind->name);
    target = (struct handler_target){.method = req.method,
                                     .method_len = req.method_len,
                                     .query = req.query,
                                     .query_len = req.query_len,
                                     .path = path,
                                     .path_len = (size_t)len,
                                     .raw_path = req.path,
                                     .raw_path_len = req.path_len};
    target.rest = route_rest(route, path, (size_t)len, &target.rest_len);
    route->kind->describe(out, route->conf, &target);
    config_describe_site(out, route, cfg);
    return CLI_EXIT_OK;
}
