/* kinds.c - tests for server/handlers/kinds.c: the handler table and what each entry must have. */
#include <criterion/criterion.h>
#include <string.h>

#include "handlers/cgi.h"
#include "handlers/kinds.h"
#include "handlers/proxy.h"
#include "handlers/redirect.h"
#include "handlers/static.h"
#include "handlers/status.h"

Test(kinds, the_shipped_table_has_static_redirect_status_cgi_and_proxy_only)
{
    cr_assert_eq(handler_kind_count(), 5, "no test kind outside the test build");
    cr_expect_eq(handler_kind_find("status", 6), &status_kind);
    cr_expect_eq(handler_kind_find("cgi", 3), &cgi_kind);
    cr_expect_eq(handler_kind_find("proxy", 5), &proxy_kind);
    cr_expect_eq(handler_kind_find("static", 6), &static_kind);
    cr_expect_eq(handler_kind_find("redirect", 8), &redirect_kind);
    cr_expect_null(handler_kind_find("stat", 4));
    cr_expect_null(handler_kind_find("echo", 4));
    cr_expect_null(handler_kind_at(handler_kind_count()));
}

Test(kinds, every_entry_is_complete)
{
    for (size_t i = 0; i < handler_kind_count(); i++) {
        const struct handler_kind *k = handler_kind_at(i);

        cr_assert_not_null(k);
        cr_expect_not_null(k->name);
        cr_expect_not_null(k->schema, "%s: keys", k->name);
        cr_expect_leq(k->schema->n_keys, SECTION_MAX_KEYS, "%s", k->name);
        cr_expect_not_null(k->handle, "%s: handle", k->name);
        cr_expect_not_null(k->describe, "%s: describe (--route)", k->name);
        cr_expect_eq(!k->open, !k->close, "%s: open and close go together", k->name);
        cr_expect_eq(!k->worker_init, !k->worker_teardown,
                     "%s: worker_init and worker_teardown go together", k->name);
        for (size_t j = 0; j < k->schema->n_keys; j++) {
            const struct key_spec *key = &k->schema->keys[j];

            cr_expect_not_null(key->name, "%s: key %zu", k->name, j);
            if (key->type == VT_CUSTOM)
                cr_expect(key->parse && key->dump, "%s: %s", k->name, key->name);
        }
        cr_expect_eq(handler_kind_find(k->name, strlen(k->name)), k, "%s is found by its name",
                     k->name);
    }
}
