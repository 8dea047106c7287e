/* static_index.h - HTML listings of directories without an index file (autoindex). */
#ifndef COHTTPD_HANDLERS_STATIC_INDEX_H
#define COHTTPD_HANDLERS_STATIC_INDEX_H

#include "handlers/static_internal.h"
#include "http/exchange.h"

/* A listing shows at most this many entries (then says it is truncated). */
#define STATIC_INDEX_MAX 10000

/*
 * Answers with an HTML listing of the directory rel (relative to the root,
 * "." for the root itself; opened beneath it like any file): entries sorted
 * by name (byte order), names HTML-escaped, hrefs percent-encoded and
 * relative, directories with a trailing '/', sizes in bytes and
 * modification dates; dotfiles hidden unless the route allows them;
 * symlinks listed without following them. Returns 0 once answered (the
 * response may have failed), or -errno when the directory cannot be read
 * and nothing was sent (the caller answers). May yield.
 */
int static_index_serve(struct http_exchange *x, const struct static_root *root, const char *rel);

#endif
