/* auth.h - HTTP basic authentication against an htpasswd file, hashes checked off the loop. */
#ifndef COHTTPD_HANDLERS_AUTH_H
#define COHTTPD_HANDLERS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "http/exchange.h"

struct auth;

/* The realm a route with auth_basic_file but no auth_basic gets. */
#define AUTH_DEFAULT_REALM "restricted"
/* The most lines of an htpasswd file; the longest line. */
#define AUTH_MAX_USERS 100000
#define AUTH_LINE_MAX  1024

/*
 * Reads the htpasswd file at path: "user:hash" lines, blank lines and
 * lines starting with '#' skipped. Only hashes libcrypt verifies and
 * that are not broken are accepted: bcrypt ($2a$, $2b$, $2y$),
 * SHA-256/512-crypt ($5$, $6$) and yescrypt ($y$). For each refused line
 * (Apache's $apr1$, {SHA}, MD5-crypt, DES or plain text, a malformed
 * hash, a user given twice) report(ctx, msg) gets "path:line: why, and
 * how to make a supported hash"; a file that cannot be read gets one
 * message. Returns the number of users (>= 0) or -1 after a report. Main
 * thread (configuration loading); never yields.
 */
int auth_file_check(const char *path, void (*report)(void *ctx, const char *msg), void *ctx);

/* True when realm can stand in a quoted-string: printable ASCII or
 * UTF-8, no '"', '\\' or control byte, 1 to 200 bytes. Pure. */
bool auth_realm_ok(const char *realm);

/*
 * Loads path (checked as auth_file_check does) for a route whose
 * WWW-Authenticate names realm, and starts the process's hash-checking
 * threads the first time. The route state owns its copy of the users and
 * a cache of recent successful checks; both are dropped with auth_close
 * (a reload loads the file again). Returns 0 with *out, or -errno with a
 * message in err. Main thread.
 */
int auth_open(const char *realm, const char *path, struct auth **out, char *err, size_t err_len);

/* Frees a from auth_open (NULL is fine); no request uses it any more. */
void auth_close(struct auth *a);

/*
 * True when x carries Basic credentials that match a user of a's file;
 * x->auth_user then names that user (owned by a). Otherwise it answers itself and returns false:
 * 401 with WWW-Authenticate: Basic realm="..." and a short body (missing, malformed or wrong
 * credentials; a wrong password is logged, at most a few lines a second, with the client's address
 * and the user), or 503 when too many checks wait. A check not in a's cache runs on a pool thread
 * while the coroutine waits: may yield. Any thread's loop.
 */
bool auth_check(struct http_exchange *x, struct auth *a);

/* --route: "auth: basic, realm "R", N users from PATH (WHOSE; ...)",
 * whose saying where the lines come from. Main thread. */
void auth_describe(FILE *out, const char *realm, const char *path, const char *whose);

#endif
