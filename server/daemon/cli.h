/* cli.h - the command line: argv into a struct, config lookup, and the -h -V -t -T --route output.
 */
#ifndef COHTTPD_DAEMON_CLI_H
#define COHTTPD_DAEMON_CLI_H

#include <stdio.h>

#include "daemon/config.h"

/* Exit codes (DESIGN.md §3). CLI_CONTINUE is not one: it tells main to go on. */
#define CLI_EXIT_OK     0
#define CLI_EXIT_CONFIG 1
#define CLI_EXIT_USAGE  2
#define CLI_CONTINUE    (-1)

#define CLI_SYSTEM_CONFIG "/etc/cohttpd/cohttpd.ini"
#define CLI_LOCAL_CONFIG  "config/cohttpd.ini"

enum cli_mode {
    CLI_RUN,     /* serve */
    CLI_TEST,    /* -t: check the config */
    CLI_DUMP,    /* -T: print the effective config */
    CLI_ROUTE,   /* --route 'GET http://host/path' */
    CLI_VERSION, /* -V */
    CLI_HELP,    /* -h */
};

/* What argv asked for. The strings point into argv. */
struct cli {
    enum cli_mode mode;
    const char *config;           /* -c FILE, or NULL */
    const char *root;             /* -r DIR, or NULL */
    struct config_overrides over; /* -l ADDR ..., -q, --autoindex (only with -r) */
    const char *route;            /* the --route request, or NULL */
};

/*
 * Parses argv (argv[0] is the program name) into *cli. Returns 0, or
 * CLI_EXIT_USAGE after writing "cohttpd: <what is wrong>" and a hint to err:
 * unknown option, missing argument, an operand, an option given twice, two
 * modes (-t, -T, --route, -V, -h) at once, --autoindex without -r, -r
 * with -c.
 * Uses getopt_long, so it is not thread-safe (call it from main).
 */
int cli_parse(struct cli *cli, int argc, char *argv[], FILE *err);

/*
 * The config file to read: -c FILE, else $COHTTPD_CONFIG (when set and not
 * empty), else config/cohttpd.ini if it exists in the current directory,
 * else /etc/cohttpd/cohttpd.ini. NULL with -r (no file). The string is
 * argv's, the environment's or a constant.
 */
const char *cli_config_path(const struct cli *cli);

/*
 * Loads the configuration cli names: config_from_root for -r (with -l),
 * else config_load of cli_config_path. Same return and ownership as
 * config_load. main calls it again to reload on SIGHUP.
 */
int cli_load_config(const struct cli *cli, struct config *cfg, struct config_errors *errs);

/*
 * Does everything argv asked for except serving: -h and -V print to out;
 * otherwise loads the configuration into *cfg, then -t prints the check
 * result, -T the dump, --route the route. Returns CLI_CONTINUE for CLI_RUN
 * with *cfg loaded (the caller frees it with config_free), else the exit
 * code with *cfg freed: 0, 1 (configuration errors, printed to err, or no
 * route), 2 (a malformed --route request).
 */
int cli_execute(const struct cli *cli, struct config *cfg, FILE *out, FILE *err);

/* Writes the usage text (-h) to out. */
void cli_print_usage(FILE *out);

/* Writes "cohttpd VERSION" and the libraries it was built with (-V) to out. */
void cli_print_version(FILE *out);

/*
 * The -t report for a load of path that returned load_rc with errs: each
 * error on err, or "PATH: configuration OK" on out. Returns 0 or 1.
 */
int cli_print_check(const char *path, int load_rc, const struct config_errors *errs, FILE *out,
                    FILE *err);

/*
 * --route: parses request ("METHOD http://host[:port]/path[?query]"),
 * normalises the path as the server does (percent-decoding, dot-segments),
 * finds the route in cfg and prints, one "name: value" per line: the
 * request, the normalised path, the route's section with FILE:LINE, the
 * handler, and what the handler says it would do (its kind's describe:
 * for static the file the path maps to, for redirect the status and
 * Location). When
 * nothing matches: "route: none (404 Not Found)" (or 400 for a path the
 * server refuses). Returns 0 (a route), 1 (no route), 2 (malformed request,
 * message on err).
 */
int cli_print_route(const struct config *cfg, const char *request, FILE *out, FILE *err);

#endif
