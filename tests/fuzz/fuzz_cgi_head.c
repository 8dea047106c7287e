/* fuzz_cgi_head.c - libFuzzer harness for server/handlers/cgi_head.c: the script-header parser.
 *
 * Input: the bytes a script writes to stdout. They are copied into an
 * exact-size buffer (a read past it trips AddressSanitizer) and parsed
 * with a limit of the whole input and of half of it; every violated
 * invariant aborts. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handlers/cgi_head.h"
#include "handlers/conf_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool clean(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
            return false;
    return true;
}

static bool named(const struct cgi_field *f, const char *name)
{
    return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

/* What a complete block promises the handler. */
static void check_head(const char *buf, size_t len, size_t max, const struct cgi_head *h, int n)
{
    check((size_t)n <= len && (size_t)n <= max && h->len == (size_t)n && buf[n - 1] == '\n');
    check(h->status == 0 || (h->status >= 200 && h->status <= 599));
    check(h->content_length >= -1);
    check(h->n_fields <= CGI_HEAD_MAX_FIELDS);
    check(!h->location || (h->location_len > 0 && clean(h->location, h->location_len)));
    for (size_t i = 0; i < h->n_fields; i++) {
        const struct cgi_field *f = &h->fields[i];

        check(f->name >= buf && f->value + f->value_len <= buf + n);
        check(conf_is_token(f->name, f->name_len) && clean(f->value, f->value_len));
        check(!named(f, "Status") && !named(f, "Location") && !named(f, "Content-Length"));
        check(!named(f, "Connection") && !named(f, "Transfer-Encoding"));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    struct cgi_head *h = malloc(sizeof *h);
    size_t limits[2] = {size + 1, size / 2 + 1};

    if (!buf || !h)
        abort();
    memcpy(buf, data, size);
    for (int k = 0; k < 2; k++) {
        const char *why = NULL;
        int n = cgi_head_parse(buf, size, limits[k], h, &why);

        check(n == -EBADMSG || n == -EMSGSIZE || n >= 0);
        check(n >= 0 || why != NULL);
        if (n > 0)
            check_head(buf, size, limits[k], h, n);
    }
    free(h);
    free(buf);
    return 0;
}
