/* config.c - tests of daemon/config*.c: every key, unit and error message, paths, the -T dump. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/config.h"
#include "handlers/redirect.h"
#include "handlers/static.h"

static char dir[1024];     /* the test's temporary directory (real path) */
static char ini[PATH_MAX]; /* dir/c.ini, written by load() */

static void make_dir(const char *rel)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s", path);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f, "fopen %s", path);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    char tmpl[] = "/tmp/cohttpd-config-XXXXXX", real[PATH_MAX];

    cr_assert_not_null(mkdtemp(tmpl));
    cr_assert_not_null(realpath(tmpl, real));
    cr_assert_lt(strlen(real), sizeof(dir));
    memcpy(dir, real, strlen(real) + 1);
    snprintf(ini, sizeof(ini), "%s/c.ini", dir);
    make_dir("www");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

TestSuite(config, .init = setup, .fini = teardown);

/* A formatted string in one of a few rotating static buffers. */
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

static int load(const char *text, struct config *cfg, struct config_errors *errs)
{
    write_file(ini, text);
    return config_load(ini, cfg, errs);
}

static void print_errors(const struct config_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        cr_log_info("error %zu: %s", i, errs->items[i].text);
}

/* text must load; cfg is filled. */
static void load_ok(const char *text, struct config *cfg)
{
    struct config_errors errs = {0};
    int rc = load(text, cfg, &errs);

    print_errors(&errs);
    cr_assert_eq(rc, 0, "load failed with %zu errors (first: %s)", errs.n,
                 errs.n ? errs.items[0].text : "none");
    cr_assert_eq(errs.n, 0);
    config_errors_free(&errs);
}

/* text, a file of global sections only, must load once a route is added
 * below it (a file without a route is refused). */
static void load_global_ok(const char *text, struct config *cfg)
{
    load_ok(fmt("%s\n[static /]\nroot = www\n", text), cfg);
    cr_assert_eq(cfg->n_routes, 1);
}

struct want {
    unsigned line;
    const char *msg;
};

/* text must fail with exactly these errors, in this order. */
static void expect_errors(const char *text, const struct want *want, size_t n)
{
    struct config cfg;
    struct config_errors errs = {0};
    int rc = load(text, &cfg, &errs);

    print_errors(&errs);
    cr_assert_eq(rc, -1, "the config loaded, but should fail");
    cr_assert_eq(errs.n, n, "%zu errors, want %zu (first: %s)", errs.n, n,
                 errs.n ? errs.items[0].text : "none");
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(errs.items[i].line, want[i].line, "error %zu line", i);
        cr_expect_str_eq(errs.items[i].text, fmt("%s:%u: %s", ini, want[i].line, want[i].msg));
    }
    cr_expect_null(cfg.routes, "a failed load leaves nothing behind");
    cr_expect_null(cfg.blocks);
    config_errors_free(&errs);
}

static void expect_error(const char *text, unsigned line, const char *msg)
{
    struct want w = {.line = line, .msg = msg};

    expect_errors(text, &w, 1);
}

static const struct static_conf *static_of(const struct config *cfg, size_t i)
{
    cr_assert_lt(i, cfg->n_routes);
    cr_assert_eq(cfg->routes[i].kind, &static_kind);
    return cfg->routes[i].conf;
}

static const struct redirect_conf *redirect_of(const struct config *cfg, size_t i)
{
    cr_assert_lt(i, cfg->n_routes);
    cr_assert_eq(cfg->routes[i].kind, &redirect_kind);
    return cfg->routes[i].conf;
}

static bool limits_equal(const struct http_limits *a, const struct http_limits *b)
{
    return a->header_timeout_ms == b->header_timeout_ms &&
           a->body_timeout_ms == b->body_timeout_ms &&
           a->keepalive_timeout_ms == b->keepalive_timeout_ms &&
           a->send_timeout_ms == b->send_timeout_ms &&
           a->shutdown_timeout_ms == b->shutdown_timeout_ms &&
           a->max_header_size == b->max_header_size && a->max_headers == b->max_headers &&
           a->max_body_size == b->max_body_size &&
           a->max_keepalive_requests == b->max_keepalive_requests;
}

/* ---- defaults ------------------------------------------------------------ */

Test(config, route_alone_gives_every_default)
{
    struct config cfg;
    struct http_limits def = http_limits_default();
    const struct sockaddr_in *in;

    load_ok("[static /]\nroot = www\n", &cfg);
    cr_assert_eq(cfg.server.n_listen, 1);
    cr_expect_str_eq(cfg.server.listen[0].text, "127.0.0.1:8080");
    cr_expect_eq(cfg.server.listen[0].family, AF_INET);
    in = (const struct sockaddr_in *)&cfg.server.listen[0].addr;
    cr_expect_eq(ntohs(in->sin_port), 8080);
    cr_expect_eq(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK);
    cr_expect_eq(cfg.server.workers, 0);
    cr_expect_null(cfg.server.user);
    cr_expect_null(cfg.server.group);
    cr_expect_not(cfg.server.change_uid);
    cr_expect_not(cfg.server.change_gid);
    cr_expect_eq(cfg.server.max_connections, 100000);
    cr_expect_eq(cfg.server.stack_size, 64 * 1024);
    cr_expect_eq(cfg.server.access_log.target, CONFIG_LOG_STDERR);
    cr_expect_eq(cfg.server.access_log_format, CONFIG_ACCESS_COMBINED);
    cr_expect_eq(cfg.server.error_log.target, CONFIG_LOG_STDERR);
    cr_expect_eq(cfg.server.log_level, LOG_LVL_INFO);
    cr_expect_str_eq(cfg.server.server_header, "cohttpd");
    cr_expect(limits_equal(&cfg.limits, &def));
    cr_expect_eq(cfg.n_mime, 0);
    cr_expect_eq(cfg.n_routes, 1);
    cr_expect_not_null(cfg.router);
    cr_expect_str_eq(cfg.path, ini);
    cr_expect_str_eq(cfg.dir, dir);
    config_free(&cfg);
    cr_expect_null(cfg.router);
}

/* text must fail with one error that names the file (no line) and says msg. */
static void expect_file_error(const char *text, const char *msg)
{
    struct config cfg;
    struct config_errors errs = {0};

    cr_assert_eq(load(text, &cfg, &errs), -1, "the config loaded, but should fail");
    cr_assert_eq(errs.n, 1, "%zu errors, want 1", errs.n);
    cr_expect_eq(errs.items[0].line, 0);
    cr_expect_str_eq(errs.items[0].text, fmt("%s: %s", ini, msg));
    cr_expect_null(cfg.blocks, "a failed load leaves nothing behind");
    config_errors_free(&errs);
}

Test(config, file_that_serves_nothing_is_refused)
{
    static const char empty[] = "the file is empty (or holds only comments): nothing would be "
                                "served; add a route, such as [static /] with root = DIR, and "
                                "a [server] listen = HOST:PORT";
    static const char no_route[] = "no route: nothing would be served; add a route section, "
                                   "such as [static /] with root = DIR, or [redirect /] with "
                                   "to = URL";

    expect_file_error("", empty);
    expect_file_error("\n  \n\t\n", empty);
    expect_file_error("; cohttpd.ini\n# nothing yet\n", empty);
    expect_file_error("[server]\n", no_route);
    expect_file_error("[server]\nlisten = 127.0.0.1:8081\n[limits]\nheader_timeout = 5s\n",
                      no_route);
}

Test(config, static_route_defaults)
{
    struct config cfg;
    const struct static_conf *sc;

    load_ok("[static /]\nroot = www\n", &cfg);
    sc = static_of(&cfg, 0);
    cr_expect_str_eq(sc->root, fmt("%s/www", dir));
    cr_assert_eq(sc->n_index, 1);
    cr_expect_str_eq(sc->index[0], "index.html");
    cr_expect_not(sc->autoindex);
    cr_expect_eq(sc->dotfiles, STATIC_DOTFILES_DENY);
    cr_assert_eq(sc->n_precompressed, 2);
    cr_expect_eq(sc->precompressed[0], STATIC_ENCODING_BR);
    cr_expect_eq(sc->precompressed[1], STATIC_ENCODING_GZIP);
    cr_expect_null(sc->cache_control);
    cr_expect_null(sc->fallback);
    cr_expect_eq(sc->n_headers, 0);
    config_free(&cfg);
}

/* ---- [server] ------------------------------------------------------------ */

Test(config, listen_forms)
{
    struct config cfg;
    const struct config_listen *l;
    const struct sockaddr_in6 *in6;
    const struct sockaddr_in *in4;
    struct in6_addr loop6 = IN6ADDR_LOOPBACK_INIT;

    load_global_ok("[server]\n"
                   "listen = 10.1.2.3:80\n"
                   "listen = [::1]:8443\n"
                   "listen = *:8080\n"
                   "listen = localhost:81\n"
                   "listen = 127.0.0.1:0\n",
                   &cfg);
    cr_assert_eq(cfg.server.n_listen, 5);
    l = cfg.server.listen;
    in4 = (const struct sockaddr_in *)&l[0].addr;
    cr_expect_eq(l[0].family, AF_INET);
    cr_expect_eq(l[0].port, 80);
    cr_expect_eq(ntohl(in4->sin_addr.s_addr), 0x0a010203);
    cr_expect_eq(l[0].addr_len, sizeof(struct sockaddr_in));
    cr_expect_str_eq(l[0].text, "10.1.2.3:80");
    in6 = (const struct sockaddr_in6 *)&l[1].addr;
    cr_expect_eq(l[1].family, AF_INET6);
    cr_expect_eq(ntohs(in6->sin6_port), 8443);
    cr_expect_eq(memcmp(&in6->sin6_addr, &loop6, sizeof(loop6)), 0);
    cr_expect_eq(l[1].addr_len, sizeof(struct sockaddr_in6));
    cr_expect_str_eq(l[1].text, "[::1]:8443");
    in4 = (const struct sockaddr_in *)&l[2].addr;
    cr_expect_eq(in4->sin_addr.s_addr, htonl(INADDR_ANY));
    cr_expect_str_eq(l[2].text, "*:8080");
    cr_expect_str_eq(l[3].text, "127.0.0.1:81");
    cr_expect_eq(l[4].port, 0, "port 0: the kernel picks one");
    cr_expect_null(l[0].path);
    config_free(&cfg);
}

Test(config, listen_unix_path_is_relative_to_the_config)
{
    struct config cfg;
    const struct config_listen *l;
    const struct sockaddr_un *un;

    load_global_ok("[server]\nlisten = unix:run/c.sock\nlisten = unix:/run/abs.sock\n", &cfg);
    l = cfg.server.listen;
    un = (const struct sockaddr_un *)&l[0].addr;
    cr_expect_eq(l[0].family, AF_UNIX);
    cr_expect_str_eq(l[0].path, fmt("%s/run/c.sock", dir));
    cr_expect_str_eq(un->sun_path, l[0].path);
    cr_expect_eq(un->sun_family, AF_UNIX);
    cr_expect_str_eq(l[0].text, fmt("unix:%s/run/c.sock", dir));
    cr_expect_eq(l[0].port, 0);
    cr_expect_str_eq(l[1].path, "/run/abs.sock");
    config_free(&cfg);
}

Test(config, bad_listen_addresses)
{
    static const struct {
        const char *value, *msg;
    } bad[] = {
        {"8080", "invalid listen address '8080' (HOST:PORT, [V6]:PORT, *:PORT or unix:/path)"},
        {"[::1]", "invalid listen address '[::1]' (HOST:PORT, [V6]:PORT, *:PORT or unix:/path)"},
        {"1.2.3.4:99999", "invalid port in listen address '1.2.3.4:99999' (0 to 65535)"},
        {"1.2.3.4:http", "invalid port in listen address '1.2.3.4:http' (0 to 65535)"},
        {"1.2.3.4:", "invalid port in listen address '1.2.3.4:' (0 to 65535)"},
        {"::1:80", "invalid listen address '::1:80' (an IPv6 address goes in brackets: "
                   "[::1]:8080)"},
        {"example.com:80", "listen host 'example.com' is not a numeric address (use an IPv4 "
                           "address, [IPv6], * or localhost)"},
        {"[1.2.3.4]:80", "listen host '[1.2.3.4]:80' is not a numeric address (use an IPv4 "
                         "address, [IPv6], * or localhost)"},
        {"unix:", "listen address 'unix:' needs a socket path"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(fmt("[server]\nlisten = %s\n", bad[i].value), 2, bad[i].msg);
    expect_error("[server]\nlisten =\n", 2, "'listen' needs a value");
    expect_error("[server]\nlisten = localhost:80\nlisten = 127.0.0.1:80\n", 3,
                 "listen address '127.0.0.1:80' is given twice");
}

Test(config, listen_unix_path_too_long)
{
    char value[200];

    memset(value, 'a', 150);
    value[150] = '\0';
    expect_error(fmt("[server]\nlisten = unix:/%s\n", value), 2,
                 fmt("unix socket path '/%s' is too long (at most 107 bytes)", value));
}

Test(config, workers)
{
    struct config cfg;

    load_global_ok("[server]\nworkers = auto\n", &cfg);
    cr_expect_eq(cfg.server.workers, 0);
    config_free(&cfg);
    load_global_ok("[server]\nworkers = 4\n", &cfg);
    cr_expect_eq(cfg.server.workers, 4);
    config_free(&cfg);
    expect_error("[server]\nworkers = 0\n", 2,
                 "invalid value '0' for 'workers' (auto or a number from 1 to 1024)");
    expect_error("[server]\nworkers = many\n", 2,
                 "invalid value 'many' for 'workers' (auto or a number from 1 to 1024)");
    expect_error("[server]\nworkers = 2000\n", 2,
                 "invalid value '2000' for 'workers' (auto or a number from 1 to 1024)");
}

Test(config, user_and_group)
{
    struct config cfg;

    load_global_ok("[server]\nuser = root\n", &cfg);
    cr_expect_str_eq(cfg.server.user, "root");
    cr_expect(cfg.server.change_uid);
    cr_expect_eq(cfg.server.uid, 0);
    cr_expect(cfg.server.change_gid, "the user's primary group");
    cr_expect_eq(cfg.server.gid, 0);
    config_free(&cfg);
    load_global_ok("[server]\nuser = 54321\n", &cfg);
    cr_expect(cfg.server.change_uid);
    cr_expect_eq(cfg.server.uid, 54321);
    cr_expect_not(cfg.server.change_gid, "a bare uid has no primary group");
    config_free(&cfg);
    load_global_ok("[server]\ngroup = root\nuser =\n", &cfg);
    cr_expect_not(cfg.server.change_uid);
    cr_expect(cfg.server.change_gid);
    cr_expect_eq(cfg.server.gid, 0);
    cr_expect_null(cfg.server.user);
    config_free(&cfg);
    expect_error("[server]\n\nuser = no-such-user-cohttpd\n", 3,
                 "unknown user 'no-such-user-cohttpd'");
    expect_error("[server]\ngroup = no-such-group-cohttpd\n", 2,
                 "unknown group 'no-such-group-cohttpd'");
    expect_error("[server]\nuser = a b\n", 2, "invalid user name 'a b'");
}

Test(config, max_connections_and_stack_size)
{
    struct config cfg;

    load_global_ok("[server]\nmax_connections = 5000\nstack_size = 16k\n", &cfg);
    cr_expect_eq(cfg.server.max_connections, 5000);
    cr_expect_eq(cfg.server.stack_size, 16 * 1024);
    config_free(&cfg);
    load_global_ok("[server]\nstack_size = 8m\n", &cfg);
    cr_expect_eq(cfg.server.stack_size, 8 * 1024 * 1024);
    config_free(&cfg);
    expect_error("[server]\nmax_connections = 0\n", 2,
                 "max_connections = 0 is out of range (1 to 16777216)");
    expect_error("[server]\nmax_connections = -1\n", 2,
                 "invalid number '-1' for 'max_connections'");
    expect_error("[server]\nstack_size = 4k\n", 2, "stack_size = 4k is out of range (16k to 8m)");
    expect_error("[server]\nstack_size = 9m\n", 2, "stack_size = 9m is out of range (16k to 8m)");
    expect_error("[server]\nstack_size = 1x\n", 2,
                 "invalid size '1x' for 'stack_size' (a number with an optional k, m or g "
                 "suffix)");
}

Test(config, logs)
{
    struct config cfg;

    make_dir("logs");
    load_global_ok("[server]\naccess_log = off\naccess_log_format = json\nerror_log = journal\n"
                   "log_level = debug\n",
                   &cfg);
    cr_expect_eq(cfg.server.access_log.target, CONFIG_LOG_OFF);
    cr_expect_eq(cfg.server.access_log_format, CONFIG_ACCESS_JSON);
    cr_expect_eq(cfg.server.error_log.target, CONFIG_LOG_JOURNAL);
    cr_expect_eq(cfg.server.log_level, LOG_LVL_DEBUG);
    config_free(&cfg);
    load_global_ok("[server]\naccess_log = logs/access.log\nerror_log = /tmp/cohttpd-error.log\n"
                   "access_log_format = combined\nlog_level = warn\n",
                   &cfg);
    cr_expect_eq(cfg.server.access_log.target, CONFIG_LOG_FILE);
    cr_expect_str_eq(cfg.server.access_log.path, fmt("%s/logs/access.log", dir));
    cr_expect_eq(cfg.server.error_log.target, CONFIG_LOG_FILE);
    cr_expect_str_eq(cfg.server.error_log.path, "/tmp/cohttpd-error.log");
    cr_expect_eq(cfg.server.log_level, LOG_LVL_WARN);
    config_free(&cfg);
    load_global_ok("[server]\naccess_log = journal\nerror_log = stderr\nlog_level = error\n", &cfg);
    cr_expect_eq(cfg.server.access_log.target, CONFIG_LOG_JOURNAL);
    cr_expect_eq(cfg.server.error_log.target, CONFIG_LOG_STDERR);
    cr_expect_eq(cfg.server.log_level, LOG_LVL_ERROR);
    config_free(&cfg);
    expect_error("[server]\naccess_log = nodir/a.log\n", 2,
                 "directory of access_log 'nodir/a.log' does not exist");
    expect_error("[server]\nerror_log = off\n", 2,
                 "'error_log' cannot be off (stderr, journal or a file path)");
    expect_error("[server]\naccess_log =\n", 2,
                 "'access_log' needs a value (stderr, journal, off or a file path)");
    expect_error("[server]\naccess_log_format = xml\n", 2,
                 "invalid value 'xml' for 'access_log_format' (expected combined or json)");
    expect_error("[server]\nlog_level = verbose\n", 2,
                 "invalid value 'verbose' for 'log_level' (expected error, warn, info or debug)");
}

Test(config, server_header)
{
    struct config cfg;

    load_global_ok("[server]\nserver_header = MyServer/1.0 (test)\n", &cfg);
    cr_expect_str_eq(cfg.server.server_header, "MyServer/1.0 (test)");
    config_free(&cfg);
    load_global_ok("[server]\nserver_header =\n", &cfg);
    cr_expect_null(cfg.server.server_header, "empty: no Server header");
    config_free(&cfg);
    expect_error("[server]\nserver_header = a\x01z\n", 2,
                 "'server_header' contains a control character");
}

/* ---- [limits] and units -------------------------------------------------- */

Test(config, limits_every_key_and_unit)
{
    struct config cfg;

    load_global_ok("[limits]\n"
                   "header_timeout = 500ms\n"
                   "body_timeout = 30s\n"
                   "keepalive_timeout = 5m\n"
                   "send_timeout = 1h\n"
                   "shutdown_timeout = 0\n"
                   "max_header_size = 32k\n"
                   "max_headers = 50\n"
                   "max_body_size = 2g\n"
                   "max_keepalive_requests = 1000\n",
                   &cfg);
    cr_expect_eq(cfg.limits.header_timeout_ms, 500);
    cr_expect_eq(cfg.limits.body_timeout_ms, 30000);
    cr_expect_eq(cfg.limits.keepalive_timeout_ms, 300000);
    cr_expect_eq(cfg.limits.send_timeout_ms, 3600000);
    cr_expect_eq(cfg.limits.shutdown_timeout_ms, 0);
    cr_expect_eq(cfg.limits.max_header_size, 32 * 1024);
    cr_expect_eq(cfg.limits.max_headers, 50);
    cr_expect_eq(cfg.limits.max_body_size, 2ull * 1024 * 1024 * 1024);
    cr_expect_eq(cfg.limits.max_keepalive_requests, 1000);
    config_free(&cfg);
}

Test(config, units)
{
    static const struct {
        const char *key, *value;
        uint64_t want;
    } cases[] = {
        {"max_body_size", "16k", 16384},
        {"max_body_size", "16K", 16384},
        {"max_body_size", "1m", 1048576},
        {"max_body_size", "1M", 1048576},
        {"max_body_size", "2g", 2147483648ull},
        {"max_body_size", "4096", 4096},
        {"max_body_size", "0", 0},
        {"header_timeout", "500ms", 500},
        {"header_timeout", "30s", 30000},
        {"header_timeout", "5m", 300000},
        {"header_timeout", "1h", 3600000},
        {"header_timeout", "10", 10000},
        {"header_timeout", "24h", 86400000},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        uint64_t got;

        load_global_ok(fmt("[limits]\n%s = %s\n", cases[i].key, cases[i].value), &cfg);
        got = cases[i].key[0] == 'm' ? cfg.limits.max_body_size : cfg.limits.header_timeout_ms;
        cr_expect_eq(got, cases[i].want, "%s = %s gave %llu", cases[i].key, cases[i].value,
                     (unsigned long long)got);
        config_free(&cfg);
    }
}

Test(config, bad_limits)
{
    static const char dur[] = "(a number with ms, s, m or h; a bare number is seconds)";
    static const char size[] = "(a number with an optional k, m or g suffix)";
    static const struct {
        const char *line, *msg;
    } bad[] = {
        {"header_timeout = 10 s", "invalid duration '10 s' for 'header_timeout'"},
        {"header_timeout = 5d", "invalid duration '5d' for 'header_timeout'"},
        {"header_timeout = 1.5s", "invalid duration '1.5s' for 'header_timeout'"},
        {"header_timeout = -5s", "invalid duration '-5s' for 'header_timeout'"},
        {"header_timeout = s", "invalid duration 's' for 'header_timeout'"},
        {"header_timeout = 5H", "invalid duration '5H' for 'header_timeout'"},
        {"send_timeout = 99999999999999999999ms",
         "invalid duration '99999999999999999999ms' for 'send_timeout'"},
        {"max_body_size = 12x", "invalid size '12x' for 'max_body_size'"},
        {"max_body_size = 1kb", "invalid size '1kb' for 'max_body_size'"},
        {"max_body_size = 99999999999g", "invalid size '99999999999g' for 'max_body_size'"},
        {"max_body_size = 99999999999999999999",
         "invalid size '99999999999999999999' for 'max_body_size'"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *units = strstr(bad[i].msg, "duration") ? dur : size;

        expect_error(fmt("[limits]\n%s\n", bad[i].line), 2, fmt("%s %s", bad[i].msg, units));
    }
    expect_error("[limits]\nheader_timeout = 0\n", 2,
                 "header_timeout = 0s is out of range (1ms to 24h)");
    expect_error("[limits]\nbody_timeout = 25h\n", 2,
                 "body_timeout = 25h is out of range (1ms to 24h)");
    expect_error("[limits]\nkeepalive_timeout = 0ms\n", 2,
                 "keepalive_timeout = 0s is out of range (1ms to 24h)");
    expect_error("[limits]\nmax_header_size = 512\n", 2,
                 "max_header_size = 512 is out of range (1k to 1m)");
    expect_error("[limits]\nmax_headers = 0\n", 2, "max_headers = 0 is out of range (1 to 10000)");
    expect_error("[limits]\nmax_headers = ten\n", 2, "invalid number 'ten' for 'max_headers'");
    expect_error("[limits]\nmax_keepalive_requests = 4294967296\n", 2,
                 "max_keepalive_requests = 4294967296 is out of range (0 to 4294967295)");
    expect_error("[limits]\nheader_timeout =\n", 2, "'header_timeout' needs a value");
}

Test(config, booleans)
{
    static const struct {
        const char *value;
        bool want;
    } cases[] = {{"on", true},  {"off", false}, {"yes", true},
                 {"no", false}, {"true", true}, {"false", false}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;

        load_ok(fmt("[static /]\nroot = www\nautoindex = %s\n", cases[i].value), &cfg);
        cr_expect_eq(static_of(&cfg, 0)->autoindex, cases[i].want, "autoindex = %s",
                     cases[i].value);
        config_free(&cfg);
    }
    expect_error("[static /]\nroot = www\nautoindex = maybe\n", 3,
                 "invalid boolean 'maybe' for 'autoindex' (on/off, yes/no, true/false)");
    expect_error("[static /]\nroot = www\nautoindex = 1\n", 3,
                 "invalid boolean '1' for 'autoindex' (on/off, yes/no, true/false)");
}

/* ---- [mime] -------------------------------------------------------------- */

Test(config, mime)
{
    struct config cfg;

    load_global_ok("[mime]\n.WebManifest = application/manifest+json\n"
                   ".md = text/markdown; charset=utf-8\n",
                   &cfg);
    cr_assert_eq(cfg.n_mime, 2);
    cr_expect_str_eq(cfg.mime[0].ext, ".webmanifest");
    cr_expect_str_eq(cfg.mime[0].type, "application/manifest+json");
    cr_expect_str_eq(cfg.mime[1].ext, ".md");
    cr_expect_str_eq(cfg.mime[1].type, "text/markdown; charset=utf-8");
    config_free(&cfg);
    expect_error("[mime]\nwebmanifest = a/b\n", 2,
                 "[mime] keys are file extensions such as '.webmanifest', not 'webmanifest'");
    expect_error("[mime]\n.tar.gz = a/b\n", 2,
                 "[mime] keys are file extensions such as '.webmanifest', not '.tar.gz'");
    expect_error("[mime]\n.x = nonsense\n", 2,
                 "invalid MIME type 'nonsense' for '.x' (type/subtype)");
    expect_error("[mime]\n.x = text/\n", 2, "invalid MIME type 'text/' for '.x' (type/subtype)");
    expect_error("[mime]\n.a = a/b\n.A = c/d\n", 3, "'.A' is set twice in [mime]");
}

/* ---- [static] ------------------------------------------------------------ */

Test(config, static_every_key)
{
    struct config cfg;
    const struct static_conf *sc;

    load_ok("[static /]\n"
            "root = ./www\n"
            "index = index.html index.htm default.txt\n"
            "autoindex = on\n"
            "dotfiles = allow\n"
            "precompressed = gz br\n"
            "cache_control = public, max-age=3600\n"
            "fallback = /index.html\n"
            "header = X-Content-Type-Options: nosniff\n"
            "header = X-Frame-Options:DENY\n",
            &cfg);
    sc = static_of(&cfg, 0);
    cr_expect_str_eq(sc->root, fmt("%s/www", dir));
    cr_assert_eq(sc->n_index, 3);
    cr_expect_str_eq(sc->index[0], "index.html");
    cr_expect_str_eq(sc->index[1], "index.htm");
    cr_expect_str_eq(sc->index[2], "default.txt");
    cr_expect(sc->autoindex);
    cr_expect_eq(sc->dotfiles, STATIC_DOTFILES_ALLOW);
    cr_assert_eq(sc->n_precompressed, 2);
    cr_expect_eq(sc->precompressed[0], STATIC_ENCODING_GZIP);
    cr_expect_eq(sc->precompressed[1], STATIC_ENCODING_BR);
    cr_expect_str_eq(sc->cache_control, "public, max-age=3600");
    cr_expect_str_eq(sc->fallback, "/index.html");
    cr_assert_eq(sc->n_headers, 2);
    cr_expect_str_eq(sc->headers[0].name, "X-Content-Type-Options");
    cr_expect_eq(sc->headers[0].name_len, 22);
    cr_expect_str_eq(sc->headers[0].value, "nosniff");
    cr_expect_eq(sc->headers[0].value_len, 7);
    cr_expect_str_eq(sc->headers[1].name, "X-Frame-Options");
    cr_expect_str_eq(sc->headers[1].value, "DENY");
    config_free(&cfg);
}

Test(config, static_empty_lists)
{
    struct config cfg;
    const struct static_conf *sc;

    load_ok("[static /]\nroot = www\nindex =\nprecompressed =\n", &cfg);
    sc = static_of(&cfg, 0);
    cr_expect_eq(sc->n_index, 0);
    cr_expect_eq(sc->n_precompressed, 0);
    config_free(&cfg);
}

Test(config, static_errors)
{
    static const struct {
        const char *line, *msg;
    } bad[] = {
        {"index = a/b.html", "index name 'a/b.html' must be a plain file name"},
        {"index = ..", "index name '..' must be a plain file name"},
        {"index = 1 2 3 4 5 6 7 8 9", "index lists more than 8 names"},
        {"dotfiles = hide", "invalid value 'hide' for 'dotfiles' (expected deny or allow)"},
        {"precompressed = zstd", "unknown encoding 'zstd' in precompressed (br, gz)"},
        {"precompressed = br br", "encoding 'br' is listed twice in precompressed"},
        {"fallback = index.html", "fallback 'index.html' must be a plain path starting with '/'"},
        {"fallback = /a/../b", "fallback '/a/../b' must be a plain path starting with '/'"},
        {"header = X-Foo", "header 'X-Foo' is not 'Name: value'"},
        {"header = Bad Name: x", "header name 'Bad Name' is not a valid token"},
        {"header = : x", "header name '' is not a valid token"},
        {"header = X-Empty:", "header 'X-Empty' needs a value without control characters"},
        {"header = Content-Length: 5",
         "header 'Content-Length' is set by cohttpd itself and cannot be configured"},
        {"header = transfer-encoding: chunked",
         "header 'transfer-encoding' is set by cohttpd itself and cannot be configured"},
        {"root =", "'root' needs a value"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (strncmp(bad[i].line, "root", 4) == 0)
            expect_error(fmt("[static /]\n%s\n", bad[i].line), 2, bad[i].msg);
        else
            expect_error(fmt("[static /]\nroot = www\n%s\n", bad[i].line), 3, bad[i].msg);
    }
}

Test(config, static_root_must_be_an_existing_directory)
{
    write_file(fmt("%s/file.txt", dir), "x");
    expect_error("[static /]\nroot = nope\n", 2, fmt("root '%s/nope' does not exist", dir));
    expect_error("[static /]\nroot = file.txt\n", 2,
                 fmt("root '%s/file.txt' is not a directory", dir));
    expect_error("\n[static /docs]\nindex = a.html\n", 2, "[static /docs] needs 'root'");
}

Test(config, static_too_many_headers)
{
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof(text), "[static /]\nroot = www\n");

    for (int i = 0; i < 33; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "header = X-H%d: v\n", i);
    expect_error(text, 35, "too many headers (at most 32 per route)");
}

/* ---- [redirect] ---------------------------------------------------------- */

Test(config, redirect)
{
    struct config cfg;

    load_ok("[redirect example.org/]\nto = https://example.com/\n"
            "[redirect /old]\nto = /new\nstatus = 302\n"
            "[redirect /t]\nto = http://x.test/t\nstatus = 307\n"
            "[redirect /p]\nto = /perm\nstatus = 308\n",
            &cfg);
    cr_assert_eq(cfg.n_routes, 4);
    cr_expect_str_eq(redirect_of(&cfg, 0)->to, "https://example.com/");
    cr_expect_eq(redirect_of(&cfg, 0)->status, 301, "the default status");
    cr_expect_str_eq(redirect_of(&cfg, 1)->to, "/new");
    cr_expect_eq(redirect_of(&cfg, 1)->status, 302);
    cr_expect_eq(redirect_of(&cfg, 2)->status, 307);
    cr_expect_eq(redirect_of(&cfg, 3)->status, 308);
    config_free(&cfg);
    expect_error("[redirect /old]\nto = example.com\n", 2,
                 "redirect target 'example.com' must be an http(s) URL or a path starting with "
                 "'/'");
    expect_error("[redirect /old]\nto = //evil.test/\n", 2,
                 "redirect target '//evil.test/' must be an http(s) URL or a path starting with "
                 "'/'");
    expect_error("[redirect /old]\nto = https://\n", 2,
                 "redirect target 'https://' must be an http(s) URL or a path starting with '/'");
    expect_error("[redirect /old]\nto = /new\nstatus = 303\n", 3,
                 "invalid value '303' for 'status' (expected 301, 302, 307 or 308)");
    expect_error("[redirect /old]\nstatus = 302\n", 1, "[redirect /old] needs 'to'");
}

/* ---- sections and routes ------------------------------------------------- */

Test(config, route_matches_and_positions)
{
    struct config cfg;
    const struct route *r;

    load_ok("[static /]\nroot = www\n"
            "\n"
            "[static Example.COM./docs/]\nroot = www\n"
            "[static *.Example.com/]\nroot = www\n",
            &cfg);
    cr_assert_eq(cfg.n_routes, 3);
    r = cfg.routes;
    cr_expect_null(r[0].host);
    cr_expect_str_eq(r[0].prefix, "/");
    cr_expect_str_eq(r[0].name, "[static /]");
    cr_expect_str_eq(r[0].file, ini);
    cr_expect_eq(r[0].line, 1);
    cr_expect_str_eq(r[1].host, "example.com");
    cr_expect_str_eq(r[1].prefix, "/docs/");
    cr_expect_str_eq(r[1].name, "[static Example.COM./docs/]");
    cr_expect_eq(r[1].line, 4);
    cr_expect_str_eq(r[2].host, "*.example.com");
    r = router_match(cfg.router, "EXAMPLE.com", 11, "/docs/a.html", 12);
    cr_assert_not_null(r);
    cr_expect_eq(r->line, 4, "the built router serves the routes");
    config_free(&cfg);
}

Test(config, status_allow_takes_addresses_and_cidrs)
{
    expect_error("[status /s]\nallow = 127.0.0.1 10.0.0.0/33\n", 2,
                 "allow: '10.0.0.0/33' is not an address or ADDRESS/BITS (IPv4 or IPv6)");
    expect_error("[status /s]\nallow = localhost\n", 2,
                 "allow: 'localhost' is not an address or ADDRESS/BITS (IPv4 or IPv6)");
}

Test(config, bad_section_headers)
{
    static const struct {
        const char *header, *msg;
    } bad[] = {
        {"[statc /]", "unknown route kind 'statc' in [statc /] — did you mean 'static'?"},
        {"[redirct /]", "unknown route kind 'redirct' in [redirct /] — did you mean 'redirect'?"},
        {"[bogus /]",
         "unknown route kind 'bogus' in [bogus /] (static, redirect, cgi, proxy or status)"},
        {"[static]", "[static] needs a match: [static /PATH] or [static HOST/PATH]"},
        {"[static example.com]",
         "[static example.com] needs a path: [static example.com/] or [static /PATH]"},
        {"[static example.com:80/]", "invalid host 'example.com:80' in [static example.com:80/] "
                                     "(a name such as example.com or *.example.com, no port)"},
        {"[static a..b/]", "invalid host 'a..b' in [static a..b/] (a name such as example.com "
                           "or *.example.com, no port)"},
        {"[static /a/../b]", "invalid path prefix '/a/../b' in [static /a/../b] (no '?', '#', "
                             "'%', '//', '.' or '..' segments)"},
        {"[static /a?b]", "invalid path prefix '/a?b' in [static /a?b] (no '?', '#', '%', '//', "
                          "'.' or '..' segments)"},
        {"[static / extra]", "unexpected text after the match in [static / extra]"},
        {"[server", "section header without a closing ']'"},
        {"[server] x", "unexpected text after ']'"},
        {"[sever]", "unknown section [sever] — did you mean [server]?"},
        {"[limit]", "unknown section [limit] — did you mean [limits]?"},
        {"[zzz]", "unknown section [zzz]"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(fmt("; a comment\n%s\nroot = www\nsome_key = 1\n", bad[i].header), 2,
                     bad[i].msg);
}

Test(config, comments_blanks_and_indentation)
{
    struct config cfg;

    load_ok("\xEF\xBB\xBF; cohttpd\n"
            "# another comment\n"
            "  [server] ; the server\n"
            "\tworkers = 3 ; three\n"
            "    max_connections = 10\n"
            "\n"
            "[ static / ]\n"
            "  root = www   \n",
            &cfg);
    cr_expect_eq(cfg.server.workers, 3);
    cr_expect_eq(cfg.server.max_connections, 10, "an indented key is a key, not a continuation");
    cr_assert_eq(cfg.n_routes, 1);
    cr_expect_str_eq(cfg.routes[0].name, "[static /]");
    config_free(&cfg);
}

Test(config, unknown_keys_have_hints)
{
    char text[1024];
    size_t n = 0;

    for (int i = 0; i < 10; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "; line %d\n", i + 1);
    snprintf(text + n, sizeof(text) - n, "[static /]\nrot = www\nroot = www\n");
    expect_error(text, 12, "unknown key 'rot' in [static /] — did you mean 'root'?");
    expect_error("[server]\nworker = 2\n", 2,
                 "unknown key 'worker' in [server] — did you mean 'workers'?");
    expect_error("[server]\nLog_Level = info\n", 2,
                 "unknown key 'Log_Level' in [server] — did you mean 'log_level'?");
    expect_error("[limits]\nheader_timout = 1s\n", 2,
                 "unknown key 'header_timout' in [limits] — did you mean 'header_timeout'?");
    expect_error("[server]\ncolour = blue\n", 2, "unknown key 'colour' in [server]");
    expect_error("[redirect /a]\nto = /b\ntarget = /c\n", 3,
                 "unknown key 'target' in "
                 "[redirect /a]");
}

Test(config, structural_errors)
{
    expect_error("workers = 2\n[server]\n", 1, "key 'workers' is outside any section");
    expect_error("[server]\nworkers = 2\nworkers = 3\n", 3,
                 "'workers' is set twice in [server] (first at line 2)");
    expect_error("[server]\n[limits]\n[server]\n", 3,
                 "section [server] is repeated (first at line 1)");
    expect_error("[server]\njust some words\n", 2,
                 "expected 'key = value', a [section] or a comment");
    expect_error("[server]\n= value\n", 2, "missing key name before '='");
}

Test(config, a_value_longer_than_inih_lines_is_whole)
{
    struct config cfg;
    static char text[8192], value[4001];
    const struct static_conf *sc;

    memset(value, 'x', sizeof value - 1);
    snprintf(text, sizeof text,
             "[server]\nserver_header = %s ; a comment\nworkers = 2\n[static /]\nroot = www\n",
             value);
    load_ok(text, &cfg);
    cr_expect_str_eq(cfg.server.server_header, value, "one 4,000-character line");
    cr_expect_eq(cfg.server.workers, 2);
    config_free(&cfg);

    load_ok("[static /]\nroot = www\n"
            "header = Content-Security-Policy: default-src 'self'; \\\n"
            "    img-src 'self' data:; \\\n"
            "\tscript-src 'self'\n"
            "  header = X-Indented: a key, not a continuation\n",
            &cfg);
    sc = static_of(&cfg, 0);
    cr_assert_eq(sc->n_headers, 2);
    cr_expect_str_eq(sc->headers[0].value,
                     "default-src 'self'; img-src 'self' data:; script-src 'self'",
                     "lines ending in a backslash go on with the next");
    cr_expect_str_eq(sc->headers[1].name, "X-Indented");
    config_free(&cfg);
}

Test(config, errors_in_joined_lines_name_their_first_line)
{
    expect_error("[server]\nworkers = \\\n  many\nlog_level = info\n", 2,
                 "invalid value 'many' for 'workers' (auto or a number from 1 to 1024)");
    expect_error("[server]\nno separator \\\n here\n", 2,
                 "expected 'key = value', a [section] or a comment");
    expect_error("[server]\n; a comment ending in \\\nbogus = 1\n", 3,
                 "unknown key 'bogus' in [server]");
}

Test(config, a_hash_after_a_value_is_no_comment_and_the_error_says_so)
{
    struct want w[] = {
        {.line = 2,
         .msg = "invalid value '2 # two' for 'workers' (auto or a number from 1 to 1024)"},
        {.line = 2,
         .msg = "only ';' starts a comment after a value ('#' only at the start of a line)"},
    };
    struct config cfg;

    expect_errors("[server]\nworkers = 2 # two\n", w, 2);
    load_ok("[server]\nserver_header = a#b ; c\n[static /]\nroot = www\n", &cfg);
    cr_expect_str_eq(cfg.server.server_header, "a#b", "a '#' inside a value is a character");
    config_free(&cfg);
}

Test(config, line_too_long)
{
    static char text[20000], value[17000];

    memset(value, 'x', sizeof value - 1);
    snprintf(text, sizeof(text), "[server]\nserver_header = %s\nworkers = 2\n", value);
    expect_error(text, 2, "line is too long (at most 16384 characters)");
}

Test(config, duplicate_routes)
{
    struct want w[] = {
        {.line = 5,
         .msg = "duplicate route: [redirect /api/] matches the same host and path as "
                "[static /api] at line 3"},
        {.line = 7,
         .msg = "duplicate route: [static example.COM./] matches the same host and "
                "path as [static Example.com/] at line 1"},
    };

    expect_errors("[static Example.com/]\nroot = www\n"
                  "[static /api]\nroot = www\n"
                  "[redirect /api/]\nto = /x\n"
                  "[static example.COM./]\nroot = www\n",
                  w, 2);
}

Test(config, every_error_at_once_in_line_order)
{
    struct want w[] = {
        {.line = 2, .msg = "invalid value 'lots' for 'workers' (auto or a number from 1 to 1024)"},
        {.line = 3, .msg = "stack_size = 1k is out of range (16k to 8m)"},
        {.line = 5,
         .msg = "invalid duration '10x' for 'header_timeout' (a number with ms, s, m "
                "or h; a bare number is seconds)"},
        {.line = 6, .msg = "unknown key 'max_header' in [limits] — did you mean 'max_headers'?"},
        {.line = 7, .msg = "unknown section [mim] — did you mean [mime]?"},
        {.line = 9, .msg = "[static /] needs 'root'"},
        {.line = 10,
         .msg = "invalid boolean 'sometimes' for 'autoindex' (on/off, yes/no, "
                "true/false)"},
        {.line = 11, .msg = "[cgi /cgi-bin/] needs 'root'"},
        {.line = 14, .msg = "invalid value '300' for 'status' (expected 301, 302, 307 or 308)"},
    };

    expect_errors("[server]\n"              /* 1 */
                  "workers = lots\n"        /* 2 */
                  "stack_size = 1k\n"       /* 3 */
                  "[limits]\n"              /* 4 */
                  "header_timeout = 10x\n"  /* 5 */
                  "max_header = 10\n"       /* 6 */
                  "[mim]\n"                 /* 7 */
                  ".x = a/b\n"              /* 8 */
                  "[static /]\n"            /* 9 */
                  "autoindex = sometimes\n" /* 10 */
                  "[cgi /cgi-bin/]\n"       /* 11 */
                  "[redirect /old]\n"       /* 12 */
                  "to = /\n"                /* 13 */
                  "status = 300\n",         /* 14 */
                  w, sizeof(w) / sizeof(w[0]));
}

Test(config, at_most_100_errors_are_kept)
{
    char *text = malloc(200 * 16 + 16);
    size_t n = (size_t)snprintf(text, 16, "[server]\n");
    struct config cfg;
    struct config_errors errs = {0};

    for (int i = 0; i < 150; i++)
        n += (size_t)snprintf(text + n, 32, "bad%d = 1\n", i);
    cr_assert_eq(load(text, &cfg, &errs), -1);
    cr_expect_eq(errs.n, CONFIG_MAX_ERRORS);
    cr_expect(errs.truncated);
    config_errors_free(&errs);
    free(text);
}

Test(config, cannot_open)
{
    struct config cfg;
    struct config_errors errs = {0};
    const char *path = fmt("%s/missing.ini", dir);

    cr_assert_eq(config_load(path, &cfg, &errs), -1);
    cr_assert_eq(errs.n, 1);
    cr_expect_eq(errs.items[0].line, 0);
    cr_expect_str_eq(errs.items[0].text, fmt("%s: cannot open: No such file or directory", path));
    config_errors_free(&errs);
    cr_expect_eq(errs.n, 0);
}

/* ---- paths ---------------------------------------------------------------- */

Test(config, relative_paths_are_relative_to_the_config_file)
{
    struct config cfg;
    struct config_errors errs = {0};
    char path[PATH_MAX], cwd[PATH_MAX];

    make_dir("etc");
    make_dir("etc/site");
    make_dir("logs");
    snprintf(path, sizeof(path), "%s/etc/site/c.ini", dir);
    write_file(path, "[server]\naccess_log = ../../logs/a.log\nlisten = unix:sock\n"
                     "[static /]\nroot = ../../www\n"
                     "[static /b]\nroot = ./../..//www/../www/.\n"
                     "[static /c]\nroot = /tmp\n");
    /* From another working directory, by a relative name. */
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    cr_assert_eq(chdir(fmt("%s/etc", dir)), 0);
    cr_assert_eq(config_load("site/c.ini", &cfg, &errs), 0, "%s", errs.n ? errs.items[0].text : "");
    cr_expect_str_eq(cfg.path, "site/c.ini");
    cr_expect_str_eq(cfg.dir, fmt("%s/etc/site", dir));
    cr_expect_str_eq(cfg.server.access_log.path, fmt("%s/logs/a.log", dir));
    cr_expect_str_eq(cfg.server.listen[0].path, fmt("%s/etc/site/sock", dir));
    cr_expect_str_eq(static_of(&cfg, 0)->root, fmt("%s/www", dir));
    cr_expect_str_eq(static_of(&cfg, 1)->root, fmt("%s/www", dir));
    cr_expect_str_eq(static_of(&cfg, 2)->root, "/tmp");
    config_free(&cfg);
    cr_assert_eq(chdir(cwd), 0);
}

/* ---- the -T dump ----------------------------------------------------------- */

static char *dump_to_string(const struct config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    cr_assert_not_null(f);
    cr_assert_eq(config_dump(cfg, f), 0);
    fclose(f);
    return buf;
}

/* The dump without its first line (a comment naming the file). */
static const char *dump_body(const char *dump)
{
    const char *nl = strchr(dump, '\n');

    cr_assert_not_null(nl);
    cr_assert_eq(dump[0], ';');
    return nl + 1;
}

static void expect_same_config(const struct config *a, const struct config *b)
{
    cr_expect(limits_equal(&a->limits, &b->limits));
    cr_expect_eq(a->server.workers, b->server.workers);
    cr_expect_eq(a->server.stack_size, b->server.stack_size);
    cr_expect_eq(a->server.max_connections, b->server.max_connections);
    cr_expect_eq(a->server.log_level, b->server.log_level);
    cr_expect_eq(a->server.uid, b->server.uid);
    cr_assert_eq(a->server.n_listen, b->server.n_listen);
    for (size_t i = 0; i < a->server.n_listen; i++) {
        cr_expect_str_eq(a->server.listen[i].text, b->server.listen[i].text);
        cr_expect_eq(a->server.listen[i].addr_len, b->server.listen[i].addr_len);
        cr_expect_eq(memcmp(&a->server.listen[i].addr, &b->server.listen[i].addr,
                            a->server.listen[i].addr_len),
                     0);
    }
    cr_assert_eq(a->n_mime, b->n_mime);
    cr_assert_eq(a->n_routes, b->n_routes);
    for (size_t i = 0; i < a->n_routes; i++) {
        cr_expect_eq(a->routes[i].kind, b->routes[i].kind);
        cr_expect(router_same_match(&a->routes[i], &b->routes[i]));
    }
    cr_expect_eq(static_of(a, 0)->n_headers, static_of(b, 0)->n_headers);
    cr_expect_str_eq(static_of(a, 0)->root, static_of(b, 0)->root);
    cr_expect_eq(redirect_of(a, 2)->status, redirect_of(b, 2)->status);
}

/* Dumps a, loads the dump (from another directory) into b, and checks that
 * b dumps the same; the dumps are returned (malloc'd) in *dump_a, *dump_b. */
static void dump_reload(const struct config *a, struct config *b, char **dump_a, char **dump_b)
{
    struct config_errors errs = {0};
    char other[PATH_MAX];

    *dump_a = dump_to_string(a);
    make_dir("other");
    snprintf(other, sizeof(other), "%s/other/dump.ini", dir);
    write_file(other, *dump_a);
    cr_assert_eq(config_load(other, b, &errs), 0, "the dump does not load: %s",
                 errs.n ? errs.items[0].text : "");
    *dump_b = dump_to_string(b);
    cr_expect_str_eq(dump_body(*dump_b), dump_body(*dump_a));
}

Test(config, dump_reads_back_to_an_equal_config)
{
    struct config a, b;
    struct config_errors errs = {0};
    char *dump_a, *dump_b, other[PATH_MAX];

    make_dir("logs");
    load_ok("[server]\nlisten = localhost:8081\nlisten = [::1]:0\nlisten = unix:c.sock\n"
            "workers = 3\nuser = root\nmax_connections = 77\nstack_size = 96k\n"
            "access_log = logs/a.log\naccess_log_format = json\nerror_log = journal\n"
            "log_level = debug\nserver_header =\n"
            "[limits]\nheader_timeout = 1500ms\nbody_timeout = 90s\nkeepalive_timeout = 2m\n"
            "send_timeout = 2h\nmax_header_size = 2000\nmax_headers = 7\n"
            "max_body_size = 3g\nmax_keepalive_requests = 9\nshutdown_timeout = 0\n"
            "[mime]\n.webmanifest = application/manifest+json\n"
            "[static /]\nroot = www\nindex = a.html b.html\nautoindex = yes\ndotfiles = allow\n"
            "precompressed = gz\ncache_control = no-cache\nfallback = /a.html\n"
            "header = X-A: 1\nheader = X-B: two words\n"
            "[static *.Example.com/docs/]\nroot = www\nindex =\nprecompressed =\n"
            "[redirect example.org/]\nto = https://example.com/\nstatus = 308\n",
            &a);
    dump_a = dump_to_string(&a);
    make_dir("other");
    snprintf(other, sizeof(other), "%s/other/dump.ini", dir);
    write_file(other, dump_a);
    cr_assert_eq(config_load(other, &b, &errs), 0, "the dump does not load: %s",
                 errs.n ? errs.items[0].text : "");
    dump_b = dump_to_string(&b);
    cr_expect_str_eq(dump_body(dump_b), dump_body(dump_a));
    expect_same_config(&a, &b);
    cr_expect_eq(static_of(&b, 0)->n_precompressed, 1);
    cr_expect_eq(static_of(&b, 1)->n_index, 0);
    cr_expect_null(b.server.server_header);
    cr_expect_eq(b.limits.header_timeout_ms, 1500);
    config_free(&a);
    config_free(&b);
    free(dump_a);
    free(dump_b);
}

Test(config, dump_shows_defaults)
{
    struct config cfg;
    char *dump;

    load_ok("[static /]\nroot = www\n", &cfg);
    dump = dump_to_string(&cfg);
    cr_expect(strstr(dump, "\n[server]\nlisten = 127.0.0.1:8080\nworkers = auto\n") != NULL, "%s",
              dump);
    cr_expect(strstr(dump, "stack_size = 64k\n") != NULL);
    cr_expect(strstr(dump, "server_header = cohttpd\n") != NULL);
    cr_expect(strstr(dump, "\n[limits]\nheader_timeout = 10s\nbody_timeout = 30s\n"
                           "keepalive_timeout = 15s\nsend_timeout = 30s\n"
                           "max_header_size = 16k\nmax_headers = 100\nmax_body_size = 16m\n"
                           "max_keepalive_requests = 0\nshutdown_timeout = 30s\n") != NULL);
    cr_expect(strstr(dump, fmt("\n[static /]\nroot = %s/www\nindex = index.html\n"
                               "autoindex = off\ndotfiles = deny\nprecompressed = br gz\n"
                               "cache_control =\nfallback =\n",
                               dir)) != NULL);
    config_free(&cfg);
    free(dump);
}

Test(config, status_allow_dumps_and_reads_back)
{
    struct config a, b;
    char *dump_a, *dump_b;

    load_ok("[status /s]\nallow = 10.0.0.0/8 ::1 192.168.1.7\n[status /t]\n", &a);
    dump_reload(&a, &b, &dump_a, &dump_b);
    cr_expect(strstr(dump_a, "[status /s]\nallow = 10.0.0.0/8 ::1/128 192.168.1.7/32\n"), "%s",
              dump_a);
    cr_expect(strstr(dump_a, "[status /t]\nallow = 127.0.0.0/8 ::1/128\n"),
              "loopback only by default: %s", dump_a);
    free(dump_a);
    free(dump_b);
    config_free(&a);
    config_free(&b);
}

Test(config, cgi_keys_are_checked)
{
    struct want w[] = {
        {.line = 3, .msg = "env 'not a line' is not NAME=value (NAME of letters, digits and '_')"},
        {.line = 4, .msg = "env '1X=y' is not NAME=value (NAME of letters, digits and '_')"},
        {.line = 5, .msg = "max_scripts = 0 is out of range (1 to 65536)"},
        {.line = 6, .msg = "[cgi /b/] needs 'root'"},
    };

    expect_errors("[cgi /a/]\n"        /* 1 */
                  "root = /tmp\n"      /* 2 */
                  "env = not a line\n" /* 3 */
                  "env = 1X=y\n"       /* 4 */
                  "max_scripts = 0\n"  /* 5 */
                  "[cgi /b/]\n"        /* 6 */
                  "timeout = 5s\n",    /* 7 */
                  w, sizeof(w) / sizeof(w[0]));
}
