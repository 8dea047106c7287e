/* parser_rules.c - pass 4 of a request head: the RFC 9112 rules over its
 * fields (Host, request-target form, framing, Expect, Connection), after
 * the scan, the line pass and llhttp in parser.c. */
#include <string.h>
#include <strings.h>

#include "http/parser.h"
#include "http/parser_internal.h"

/* unreserved / sub-delims of RFC 3986, the characters of a reg-name
 * besides pct-encoded, as a table: one load a byte. */
static const bool regname_char[256] = {
    ['a' ... 'z'] = true, ['A' ... 'Z'] = true, ['0' ... '9'] = true, ['-'] = true, ['.'] = true,
    ['_'] = true,         ['~'] = true,         ['!'] = true,         ['$'] = true, ['&'] = true,
    ['\''] = true,        ['('] = true,         [')'] = true,         ['*'] = true, ['+'] = true,
    [','] = true,         [';'] = true,         ['='] = true,
};

static bool is_regname_char(unsigned char c) { return regname_char[c]; }

/* What the fields say about framing and the connection. */
struct head_fields {
    const struct http_header *host;
    unsigned hosts, lengths, encodings;
    unsigned codings, chunked_seen;
    bool chunked_last;
    bool conn_close, conn_keep_alive, conn_upgrade, upgrade;
    bool expect_other, expect_continue;
};

static void note_codings(struct head_fields *f, struct http_span v)
{
    struct http_span c;

    f->encodings++;
    while (list_next(&v, &c)) {
        bool chunked = span_ieq(c, "chunked");

        f->codings++;
        f->chunked_seen += chunked;
        f->chunked_last = chunked;
    }
}

static void note_connection(struct head_fields *f, struct http_span v)
{
    struct http_span t;

    while (list_next(&v, &t)) {
        if (span_ieq(t, "close"))
            f->conn_close = true;
        else if (span_ieq(t, "keep-alive"))
            f->conn_keep_alive = true;
        else if (span_ieq(t, "upgrade"))
            f->conn_upgrade = true;
    }
}

static void note_expect(struct head_fields *f, struct http_span v)
{
    struct http_span e;

    while (list_next(&v, &e)) {
        if (span_ieq(e, "100-continue"))
            f->expect_continue = true;
        else
            f->expect_other = true;
    }
}

static void collect_fields(const struct http_request *req, struct head_fields *f)
{
    unsigned i;

    for (i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];

        switch (req->field_kind[i]) {
        case HTTP_F_HOST:
            f->host = h;
            f->hosts++;
            break;
        case HTTP_F_CONTENT_LENGTH: f->lengths++; break;
        case HTTP_F_TRANSFER_ENCODING: note_codings(f, h->value); break;
        case HTTP_F_CONNECTION: note_connection(f, h->value); break;
        case HTTP_F_EXPECT: note_expect(f, h->value); break;
        case HTTP_F_UPGRADE: f->upgrade = true; break;
        default: break;
        }
    }
}

/* port = *DIGIT, at most 5 digits here. */
static bool port_valid(const char *s, const char *end)
{
    if (end - s > 5)
        return false;
    for (; s < end; s++)
        if (!is_digit((unsigned char)*s))
            return false;
    return true;
}

/* IP-literal between the brackets: IPv6 (hex, ':' and a dotted tail). */
static bool ip_literal_valid(const char *s, const char *end)
{
    if (s == end)
        return false;
    for (; s < end; s++)
        if (!is_hex((unsigned char)*s) && *s != ':' && *s != '.')
            return false;
    return true;
}

/* The end of the reg-name / IPv4address (unreserved, sub-delims and
 * pct-encoded) that starts at s: the first byte that is none of them
 * (':' is not), or end. */
static const char *reg_name_end(const char *s, const char *end)
{
    while (s < end) {
        if (is_regname_char((unsigned char)*s))
            s++;
        else if (*s == '%' && end - s >= 3 && is_hex((unsigned char)s[1]) &&
                 is_hex((unsigned char)s[2]))
            s += 3;
        else
            break;
    }
    return s;
}

/* uri-host [ ":" port ] of RFC 9110 §7.2 (no userinfo). An empty value is
 * valid unless need_port; a port, when required or present, follows a
 * non-empty host. */
static bool host_valid(struct http_span h, bool need_port)
{
    const char *end = h.p + h.len, *host_end, *colon = NULL;

    if (h.len == 0)
        return !need_port;
    if (h.p[0] == '[') {
        host_end = memchr(h.p, ']', h.len);
        if (host_end == NULL || !ip_literal_valid(h.p + 1, host_end))
            return false;
        host_end++;
        if (host_end < end && *host_end != ':')
            return false;
        colon = host_end < end ? host_end : NULL;
    } else {
        host_end = reg_name_end(h.p, end);
        if (host_end == h.p || (host_end < end && *host_end != ':'))
            return false;
        colon = host_end < end ? host_end : NULL;
    }
    if (colon == NULL)
        return !need_port;
    return port_valid(colon + 1, end) && (!need_port || colon + 1 < end);
}

/* Splits path [ "?" query ] [ "#" fragment ] starting at s. */
static void split_path(struct http_request *req, const char *s, const char *end)
{
    const char *hash = memchr(s, '#', (size_t)(end - s));
    const char *q;

    end = hash ? hash : end;
    q = memchr(s, '?', (size_t)(end - s));
    req->path = span_of(s, q ? q : end);
    req->query = q ? span_of(q + 1, end) : (struct http_span){.p = end, .len = 0};
}

/* absolute-form: http(s)://authority[path][?query]; the authority becomes
 * the request's host (RFC 9112 §3.2.2). */
static int parse_absolute_form(struct http_request *req)
{
    struct http_span t = req->target;
    const char *end = t.p + t.len, *auth, *auth_end;
    size_t scheme;

    if (t.len > 7 && strncasecmp(t.p, "http://", 7) == 0)
        scheme = 7;
    else if (t.len > 8 && strncasecmp(t.p, "https://", 8) == 0)
        scheme = 8;
    else
        return 400;
    auth = t.p + scheme;
    for (auth_end = auth; auth_end < end; auth_end++)
        if (*auth_end == '/' || *auth_end == '?' || *auth_end == '#')
            break;
    req->host = span_of(auth, auth_end);
    if (req->host.len == 0 || !host_valid(req->host, false))
        return 400;
    split_path(req, auth_end, end);
    if (req->path.len == 0)
        req->path = (struct http_span){.p = "/", .len = 1};
    return 0;
}

/* RFC 9112 §3.2: origin-form, absolute-form, authority-form only with
 * CONNECT, asterisk-form only with OPTIONS. */
static int parse_target(struct http_request *req)
{
    struct http_span t = req->target;
    bool connect = req->method == HTTP_CONNECT;

    if (t.p[0] == '/')
        return connect ? 400 : 0; /* split with the request line (parser.c) */
    if (t.len == 1 && t.p[0] == '*') {
        if (req->method != HTTP_OPTIONS)
            return 400;
        req->path = t;
        return 0;
    }
    if (connect) {
        if (!host_valid(t, true))
            return 400;
        req->host = t;
        req->path = (struct http_span){.p = t.p + t.len, .len = 0};
        return 0;
    }
    return parse_absolute_form(req);
}

/* Host: exactly one in HTTP/1.1, at most one in 1.0, always valid. */
static int check_host(struct http_request *req, const struct head_fields *f)
{
    if (f->hosts > 1 || (f->hosts == 0 && req->version_minor == 1))
        return 400;
    if (f->host != NULL && !host_valid(f->host->value, false))
        return 400;
    req->host = f->host ? f->host->value : (struct http_span){.p = req->target.p, .len = 0};
    return 0;
}

/* Transfer-Encoding: only "chunked", only in HTTP/1.1, never with
 * Content-Length; the answer must agree with llhttp's. */
static int check_transfer_encoding(const struct http_parser *p, struct http_request *req,
                                   const struct head_fields *f)
{
    bool ll_te = (llhttp_flags(p) & F_TRANSFER_ENCODING) != 0;
    bool ll_chunked = (llhttp_flags(p) & F_CHUNKED) != 0;

    if (f->encodings == 0)
        return ll_te ? 400 : 0;
    if (req->version_minor == 0 || f->lengths > 0 || f->codings == 0)
        return 400;
    if (f->chunked_seen > 1 || (f->chunked_seen == 1 && !f->chunked_last))
        return 400;
    if (f->codings > 1 || f->chunked_seen == 0)
        return 501;
    if (!ll_te || !ll_chunked)
        return 400;
    req->chunked = true;
    return 0;
}

/* Content-Length: one field, digits (llhttp checked them), within the
 * body limit. */
static int check_content_length(const struct http_parser *p, struct http_request *req,
                                const struct head_fields *f)
{
    bool ll_cl = (llhttp_flags(p) & F_CONTENT_LENGTH) != 0;
    uint64_t cl = p->llhttp.content_length;

    if (f->lengths == 0)
        return ll_cl ? 400 : 0;
    if (f->lengths > 1 || !ll_cl)
        return 400;
    if (cl > p->limits->max_body_size || cl > (uint64_t)INT64_MAX)
        return 413;
    req->content_length = (int64_t)cl;
    return 0;
}

int http_head_check_fields(struct http_parser *p, struct http_request *req)
{
    struct head_fields f = {0};
    int status;

    collect_fields(req, &f);
    status = check_host(req, &f);
    if (status == 0)
        status = parse_target(req);
    if (status == 0)
        status = check_transfer_encoding(p, req, &f);
    if (status == 0)
        status = check_content_length(p, req, &f);
    if (status == 0 && req->method == HTTP_CONNECT && http_request_has_body(req))
        status = 400; /* llhttp would take the body for tunnel bytes */
    if (status == 0 && f.expect_other)
        status = 417;
    if (status != 0)
        return status;
    req->expect_continue = f.expect_continue && req->version_minor == 1;
    req->keep_alive = !f.conn_close && (req->version_minor == 1 || f.conn_keep_alive);
    req->upgrade = f.conn_upgrade && f.upgrade;
    return 0;
}
