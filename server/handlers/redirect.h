/* redirect.h - the redirect handler: a fixed target with 301, 302, 307 or 308. */
#ifndef COHTTPD_HANDLERS_REDIRECT_H
#define COHTTPD_HANDLERS_REDIRECT_H

#include "handlers/kinds.h"

/*
 * [redirect MATCH] (struct redirect_conf): answers conf->status with
 * Location: conf->to, plus the part of the path below the route's prefix
 * when `to` ends with '/' (so that [redirect example.org/] to =
 * https://example.com/ keeps the path), plus the query string. No route
 * state, no worker state.
 */
extern const struct handler_kind redirect_kind;

#endif
