/* kinds.c - the handler table: the one place that lists the route kinds. */
#include "handlers/kinds.h"

#include <string.h>

#include "handlers/cgi.h"
#include "handlers/proxy.h"
#include "handlers/redirect.h"
#include "handlers/static.h"
#include "handlers/status.h"

static const struct handler_kind *const kinds[] = {
    &static_kind, &redirect_kind, &status_kind, &cgi_kind, &proxy_kind,
};

#define N_KINDS (sizeof kinds / sizeof kinds[0])

/* A test build of the daemon (tests/support/) links one more kind under
 * this name; the shipped binary has none, and the reference stays NULL. */
extern const struct handler_kind handler_test_kind __attribute__((weak));

size_t handler_kind_count(void) { return N_KINDS + (&handler_test_kind != NULL); }

const struct handler_kind *handler_kind_at(size_t i)
{
    if (i < N_KINDS)
        return kinds[i];
    return i == N_KINDS ? &handler_test_kind : NULL;
}

const struct handler_kind *handler_kind_find(const char *name, size_t len)
{
    for (size_t i = 0; i < handler_kind_count(); i++) {
        const struct handler_kind *k = handler_kind_at(i);

        if (strlen(k->name) == len && memcmp(k->name, name, len) == 0)
            return k;
    }
    return NULL;
}
