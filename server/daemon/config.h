/* config.h - the configuration: an INI file (or -r DIR) loaded into typed, validated structs. */
#ifndef COHTTPD_DAEMON_CONFIG_H
#define COHTTPD_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/log.h"
#include "handlers/conf.h"
#include "http/client.h"
#include "http/limits.h"
#include "http/policy.h"
#include "http/router.h"

#define CONFIG_MAX_LISTEN     64
#define CONFIG_MAX_ROUTES     1024
#define CONFIG_MAX_MIME       1024
#define CONFIG_MAX_ERRORS     100
#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8080"

/* One listen address, parsed and ready for socket(2) + bind(2). */
struct config_listen {
    int family;                   /* AF_INET, AF_INET6 or AF_UNIX */
    struct sockaddr_storage addr; /* the address to bind */
    socklen_t addr_len;
    unsigned port;    /* 0..65535 (0: the kernel picks one); 0 for unix */
    const char *path; /* unix: the socket path (absolute); else NULL */
    const char *text; /* canonical text: 127.0.0.1:8080, [::1]:80, *:80, unix:/p */
    unsigned line;    /* of its listen line; 0: the default, or the command line */
};

enum config_log_target { CONFIG_LOG_STDERR, CONFIG_LOG_JOURNAL, CONFIG_LOG_OFF, CONFIG_LOG_FILE };

struct config_log {
    enum config_log_target target;
    const char *path; /* CONFIG_LOG_FILE: absolute path; else NULL */
};

enum config_access_format { CONFIG_ACCESS_COMBINED, CONFIG_ACCESS_JSON };

/* [server] */
struct config_server {
    struct config_listen *listen; /* at least one: 127.0.0.1:8080 when none is given */
    size_t n_listen;
    unsigned workers;  /* 0: auto (the CPUs in the affinity mask) */
    const char *user;  /* as written, or NULL: keep the user */
    const char *group; /* as written, or NULL */
    bool change_uid;   /* user is set: setuid(uid) after binding */
    uid_t uid;
    bool change_gid;              /* group is set, or user is: setgid(gid) */
    gid_t gid;                    /* group's id, else the user's primary group */
    unsigned max_connections;     /* per process */
    size_t stack_size;            /* coroutine stack, 16k..8m */
    struct config_log access_log; /* stderr | journal | off | file */
    enum config_access_format access_log_format;
    struct config_log error_log; /* stderr | journal | file (never off) */
    enum log_level log_level;
    const char *server_header;   /* Server: value, or NULL for no Server header */
    struct http_trusted trusted; /* trusted_proxies */
    struct http_policy policy;   /* allow, deny ...: the routes' defaults */
};

/* A [mime] line: ".ext = type". */
struct config_mime {
    const char *ext;  /* lowercase, with its leading '.' */
    const char *type; /* e.g. "application/manifest+json" */
};

struct config_block; /* private: the memory a configuration owns */

/*
 * What the command line changes in every configuration it loads, the file
 * or -r's, at startup and at each reload (the strings are argv's):
 * -l addresses replace the file's listen lines, -q turns the access log off
 * and the error log down to warnings, --autoindex lists directories (-r).
 */
struct config_overrides {
    const char *listen[CONFIG_MAX_LISTEN];
    size_t n_listen;
    bool quiet;
    bool autoindex;
};

/*
 * A whole configuration. One struct owns everything it points to (strings,
 * arrays, the handlers' confs, the router); config_free releases it all.
 * It is read-only once loaded, so workers may share it.
 */
struct config {
    const char *path; /* the file as named by the user, or "command line" for -r */
    const char *dir;  /* absolute directory relative paths were resolved against */
    struct config_server server;
    struct http_limits limits;
    struct config_mime *mime; /* in file order */
    size_t n_mime;
    struct route *routes; /* in file order; route->kind is a handler table entry
                             (handlers/kinds.h), route->conf its typed conf */
    size_t n_routes;
    struct router *router; /* built from routes */
    struct config_block *blocks;
    struct config_overrides over; /* the command line's, as applied (reloads apply them again) */
};

/* One error: text is "FILE:LINE: message" ("FILE: message" when line is 0). */
struct config_error {
    unsigned line;
    char *text;
};

/* The errors of one load, in file order; at most CONFIG_MAX_ERRORS are kept
 * (then truncated is set). Zero-initialise before use; free with
 * config_errors_free. */
struct config_errors {
    struct config_error *items;
    size_t n;
    size_t cap;
    bool truncated;
};

/*
 * Loads and validates the INI file at path. Every section and key of
 * DESIGN.md §4 (the route kinds of the handler table, handlers/kinds.h;
 * cgi, proxy and status are refused as not supported yet), defaults filled
 * in, relative paths resolved against the file's directory, the router
 * built. Collects every error it finds into
 * errs (which must be zero-initialised or empty), not just the first.
 * Returns 0 with *cfg filled (free it with config_free), or -1 with errs
 * non-empty and *cfg left empty (config_free on it is harmless). Lines are
 * limited to 199 characters (inih's line buffer). Never yields; does file
 * system and user-database look-ups.
 */
int config_load(const char *path, struct config *cfg, struct config_errors *errs);

/* config_load, then the command line's overrides o (NULL: none) before the
 * checks; errors in them are "command line: message". */
int config_load_over(const char *path, const struct config_overrides *o, struct config *cfg,
                     struct config_errors *errs);

/*
 * Builds the configuration of `cohttpd -r DIR [-l ADDR]... [-q] [--autoindex]`:
 * defaults, one [static /] route with root DIR (relative to the current
 * directory), and the overrides o (NULL: none; no -l: 127.0.0.1:8080).
 * Errors (DIR not a directory, bad ADDR) are "command line: message". Same
 * return and ownership as config_load.
 */
int config_from_root(const char *root, const struct config_overrides *o, struct config *cfg,
                     struct config_errors *errs);

/* --route: writes what the site keys of route (allow, deny ...) do, as
 * "name: value" lines, with [server]'s defaults where the route has none;
 * nothing when they change nothing. */
void config_describe_site(FILE *out, const struct route *route, const struct config *cfg);

/* Frees everything cfg owns and zeroes it. */
void config_free(struct config *cfg);

/* Writes where a setting comes from, as errors name it: "FILE:LINE", or
 * FILE alone when line is 0 (the "command line" of -r). */
void config_where(char *out, size_t cap, const char *file, unsigned line);

/* Adds "WHERE: msg" to errs (WHERE as config_where writes it). */
void config_errors_add(struct config_errors *errs, const char *file, unsigned line,
                       const char *msg);

/* Writes each error's text, one per line, to out. */
void config_errors_print(const struct config_errors *errs, FILE *out);

/* Frees the error texts and zeroes errs. */
void config_errors_free(struct config_errors *errs);

/*
 * Writes cfg as INI with every key and its effective value (defaults filled
 * in, paths absolute), which config_load reads back to an equal
 * configuration. Returns 0 or -1 when out reports a write error.
 */
int config_dump(const struct config *cfg, FILE *out);

#endif
