/* redirect.h - the redirect handler: a fixed target with 301, 302, 307 or 308. */
#ifndef COHTTPD_HANDLERS_REDIRECT_H
#define COHTTPD_HANDLERS_REDIRECT_H

#include "handlers/conf.h"
#include "http/exchange.h"

/* Answers x with conf->status and Location: conf->to (plus the part of the
 * path below the route's prefix, rest, when `to` ends with '/' — so that
 * [redirect example.org/] to = https://example.com/ keeps the path — and the
 * query string). May yield. */
void redirect_handle(struct http_exchange *x, const struct redirect_conf *conf, const char *rest,
                     size_t rest_len);

#endif
