/* cgi_head.c - the script-header parser: Status, Location, Content-Type and the rest, strictly. */
#include "handlers/cgi_head.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "handlers/conf_keys.h"

/* Fields cohttpd frames or adds itself: never passed on from a script. */
static const char *const dropped[] = {
    "Connection", "Keep-Alive", "Transfer-Encoding", "TE",
    "Trailer",    "Upgrade",    "Proxy-Connection",  "Date",
    "Server",     NULL,
};

static bool name_is(const struct cgi_field *f, const char *name)
{
    return strlen(name) == f->name_len && strncasecmp(f->name, name, f->name_len) == 0;
}

static bool value_ok(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* "NNN reason": 200-599 (1xx is not a final answer). 0 or -EBADMSG. */
static int parse_status(struct cgi_head *h, const struct cgi_field *f, const char **why)
{
    const char *v = f->value;
    int code;

    if (h->status) {
        *why = "Status given twice";
        return -EBADMSG;
    }
    if (f->value_len < 3 || v[0] < '1' || v[0] > '5' || v[1] < '0' || v[1] > '9' || v[2] < '0' ||
        v[2] > '9' || (f->value_len > 3 && v[3] != ' ')) {
        *why = "Status is not three digits and a reason";
        return -EBADMSG;
    }
    code = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    if (code < 200) {
        *why = "Status is not a final status (200-599)";
        return -EBADMSG;
    }
    h->status = code;
    h->reason = f->value_len > 4 ? v + 4 : v + f->value_len;
    h->reason_len = f->value_len > 4 ? f->value_len - 4 : 0;
    return 0;
}

static int parse_length(struct cgi_head *h, const struct cgi_field *f, const char **why)
{
    int64_t n = 0;

    if (h->content_length >= 0 || f->value_len == 0 || f->value_len > 18) {
        *why = "Content-Length repeated, empty or too long";
        return -EBADMSG;
    }
    for (size_t i = 0; i < f->value_len; i++) {
        if (f->value[i] < '0' || f->value[i] > '9') {
            *why = "Content-Length is not a number";
            return -EBADMSG;
        }
        n = n * 10 + (f->value[i] - '0');
    }
    h->content_length = n;
    return 0;
}

/* Files one field where it belongs. 0 or -EBADMSG. */
static int take_field(struct cgi_head *h, const struct cgi_field *f, const char **why)
{
    if (name_is(f, "Status"))
        return parse_status(h, f, why);
    if (name_is(f, "Content-Length"))
        return parse_length(h, f, why);
    if (name_is(f, "Location")) {
        if (h->location || f->value_len == 0) {
            *why = "Location repeated or empty";
            return -EBADMSG;
        }
        h->location = f->value;
        h->location_len = f->value_len;
        return 0;
    }
    for (size_t i = 0; dropped[i]; i++)
        if (name_is(f, dropped[i]))
            return 0;
    if (h->n_fields == CGI_HEAD_MAX_FIELDS) {
        *why = "too many header fields";
        return -EBADMSG;
    }
    if (name_is(f, "Content-Type"))
        h->has_content_type = true;
    h->fields[h->n_fields++] = *f;
    return 0;
}

/* Splits line[0..len) (its line ending removed) into a field. 0 or -EBADMSG. */
static int split_line(const char *line, size_t len, struct cgi_field *f, const char **why)
{
    const char *colon = memchr(line, ':', len);
    size_t start, end;

    if (line[0] == ' ' || line[0] == '\t') {
        *why = "a folded header line (obs-fold)";
        return -EBADMSG;
    }
    if (!colon || !conf_is_token(line, (size_t)(colon - line))) {
        *why = "a header line without a valid name and colon";
        return -EBADMSG;
    }
    start = (size_t)(colon - line) + 1;
    end = len;
    while (start < end && (line[start] == ' ' || line[start] == '\t'))
        start++;
    while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t'))
        end--;
    if (!value_ok(line + start, end - start)) {
        *why = "a header value with a control character";
        return -EBADMSG;
    }
    *f = (struct cgi_field){.name = line,
                            .name_len = (size_t)(colon - line),
                            .value = line + start,
                            .value_len = end - start};
    return 0;
}

/* No line end in the partial line p[0..n) yet: 0 (wait for more), or an
 * error when the block already reached max or a CR stands alone in it. */
static int incomplete(const char *p, size_t n, size_t len, size_t max, const char **why)
{
    const char *cr = memchr(p, '\r', n);

    if (len >= max) {
        *why = "the header block is too large";
        return -EMSGSIZE;
    }
    if (cr && cr != p + n - 1) {
        *why = "a bare CR";
        return -EBADMSG;
    }
    return 0;
}

int cgi_head_parse(const char *buf, size_t len, size_t max, struct cgi_head *h, const char **why)
{
    size_t pos = 0;

    *h = (struct cgi_head){.content_length = -1};
    for (;;) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t line_len, next;
        struct cgi_field f;
        int r;

        if (!nl)
            return incomplete(buf + pos, len - pos, len, max, why);
        next = (size_t)(nl - buf) + 1;
        if (next > max) {
            *why = "the header block is too large";
            return -EMSGSIZE;
        }
        line_len = (size_t)(nl - (buf + pos));
        if (line_len > 0 && buf[pos + line_len - 1] == '\r')
            line_len--;
        if (memchr(buf + pos, '\r', line_len)) {
            *why = "a bare CR";
            return -EBADMSG;
        }
        if (line_len == 0) {
            h->len = next;
            return (int)next;
        }
        if ((r = split_line(buf + pos, line_len, &f, why)) < 0 || (r = take_field(h, &f, why)) < 0)
            return r;
        pos = next;
    }
}

bool cgi_head_location_local(const struct cgi_head *h)
{
    return h->location && h->location[0] == '/' && (h->location_len == 1 || h->location[1] != '/');
}
