/* status.h - the status page: the daemon's counters as JSON or Prometheus text. */
#ifndef COHTTPD_HANDLERS_STATUS_H
#define COHTTPD_HANDLERS_STATUS_H

#include "handlers/kinds.h"

/*
 * [status MATCH]: GET or HEAD of the route's path answers every worker's
 * counters, summed when the page is read (http_site.observe): JSON by
 * default, the Prometheus text format (0.0.4) for ?format=prometheus or an
 * Accept that names text/plain. Clients outside `allow` (CIDRs; default
 * loopback only) get 403; clients on a unix socket are local and allowed.
 * No route state beyond the conf, no worker state.
 */
extern const struct handler_kind status_kind;

#endif
