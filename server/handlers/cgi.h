/* cgi.h - the CGI/1.1 handler: scripts beneath a root, run from the worker's loop. */
#ifndef COHTTPD_HANDLERS_CGI_H
#define COHTTPD_HANDLERS_CGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handlers/kinds.h"

/* env = at most this many lines per route. */
#define CGI_MAX_ENV 32

/* [cgi MATCH] */
struct cgi_conf {
    const char *root;             /* absolute path of an existing directory */
    uint64_t timeout_ms;          /* the whole run (default 30 s) */
    uint64_t idle_timeout_ms;     /* no output for this long (default 30 s) */
    unsigned max_scripts;         /* running at once per worker (default 64); 503 beyond */
    const char *env[CGI_MAX_ENV]; /* "NAME=value" lines added to every script's environment */
    size_t n_env;
    const char *x_sendfile; /* absolute directory scripts may name in X-Sendfile, or NULL */
    bool compress;          /* compress streamed responses (compress_stream.h); default off */
};

/*
 * [cgi MATCH] (struct cgi_conf). Route state: the root opened beneath as
 * for static files (static.h). Worker state: the count of scripts running
 * on the worker. The handler finds the script below the root -- the first
 * segment of the path below the prefix that is an executable regular file;
 * the rest is PATH_INFO -- and answers:
 *   - 404 for a directory, a missing file, a path leaving the root, or a
 *     segment up to the script starting with '.'; 403 for a file that is
 *     not executable;
 *   - 503 with Retry-After when max_scripts run on this worker already;
 *   - 400 when two request header names map to one variable;
 *   - 411 for a chunked request body (CONTENT_LENGTH must be known);
 *   - else what the script says (cgi_run.c): its header block parsed
 *     strictly (502 for an invalid or missing one), its body streamed
 *     with cohttpd's framing while the request body streams to its stdin;
 *     504 when timeout or idle_timeout pass before it answered, after
 *     which its process group gets SIGTERM, then SIGKILL;
 *   - with x_sendfile, a header block holding X-Sendfile: PATH (an
 *     absolute path below that directory) is answered with that file, as
 *     the static handler serves files (conditionals, ranges, its own
 *     headers; the script's other fields and its body are dropped); a
 *     PATH outside the directory is 502 with a log line, a missing one
 *     404.
 * Whatever happens, the script's process group is killed and the script
 * reaped when the request ends: no zombie, no descriptor left open.
 */
extern const struct handler_kind cgi_kind;

#endif
