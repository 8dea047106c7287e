/* cgi_env.h - the environment of a CGI script: RFC 3875 meta-variables from a request. */
#ifndef COHTTPD_HANDLERS_CGI_ENV_H
#define COHTTPD_HANDLERS_CGI_ENV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http/parser.h"

/* What the environment is made from. Strings are NUL-terminated unless a
 * length goes with them; nothing is kept after cgi_env_build returns. */
struct cgi_env_in {
    const struct http_request *req; /* the parsed head (method, target, headers) */
    const char *script_name;        /* the URL path of the script (decoded) */
    size_t script_name_len;
    const char *path_info; /* the decoded path after the script, "" for none */
    size_t path_info_len;
    const char *script_filename;  /* the script's absolute path */
    const char *document_root;    /* the route's root */
    const struct sockaddr *peer;  /* the client */
    const struct sockaddr *local; /* the connection's own address (never a wildcard) */
    int64_t content_length;       /* the body's length, -1 when there is none */
    const char *server_software;  /* e.g. "cohttpd/1.0" */
    const char *path;             /* the daemon's PATH, or NULL */
    const char *const *extra;     /* the route's "NAME=value" lines */
    size_t n_extra;
    const char *remote_user; /* who cohttpd's basic authentication let in, or NULL */
};

/*
 * Writes the script's environment: envp[0..n) gets pointers into
 * buf[0..cap), and envp[n] = NULL (envp has room for max entries, the
 * NULL included). Variables: AUTH_TYPE (when remote_user is set, "Basic"
 * with REMOTE_USER, and the credentials stay out of the environment: no
 * HTTP_AUTHORIZATION; else the Authorization scheme, when the request
 * has one), CONTENT_LENGTH and CONTENT_TYPE (when present),
 * DOCUMENT_ROOT, GATEWAY_INTERFACE, PATH_INFO and PATH_TRANSLATED (when
 * there is a PATH_INFO), QUERY_STRING, REDIRECT_STATUS=200, REMOTE_ADDR,
 * REMOTE_PORT, REQUEST_METHOD, REQUEST_URI, SCRIPT_FILENAME, SCRIPT_NAME,
 * SERVER_ADDR, SERVER_NAME (the Host without its port, else the local
 * address), SERVER_PORT, SERVER_PROTOCOL, SERVER_SOFTWARE, HTTP_* for
 * every other request header (name upper-cased, every byte but letters
 * and digits as '_'; repeated fields joined with ", "), never HTTP_PROXY,
 * and PATH, then the extra lines (which replace a variable of the same
 * name). Returns n, -EPROTO when two different header names map to one
 * variable (X-Forwarded-For and X_Forwarded_For: the request deserves a
 * 400), or -ENOSPC when buf or envp is too small. Pure; never yields.
 */
int cgi_env_build(const struct cgi_env_in *in, char *buf, size_t cap, char **envp, size_t max);

/* A size for buf that fits any environment of req with extra lines of
 * extra_bytes in all, and paths of paths_bytes in all. */
size_t cgi_env_bound(const struct http_request *req, size_t extra_bytes, size_t paths_bytes);

/* Entries envp needs for any environment of req with n_extra route lines
 * (the final NULL included). */
size_t cgi_env_slots(const struct http_request *req, size_t n_extra);

#endif
