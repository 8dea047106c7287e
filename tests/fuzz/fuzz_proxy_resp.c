/* fuzz_proxy_resp.c - libFuzzer harness for the proxy's upstream response parser
 * (server/handlers/proxy_msg.c: proxy_resp_feed, proxy_resp_eof, proxy_resp_head_text).
 *
 * Input: one byte of flags, then the bytes an upstream sends. Flag bit 0:
 * the request was HEAD; bit 1: it asked for an Upgrade; the other six bits
 * size the pieces in which the bytes "arrive" (1 to 64 bytes each, as
 * reads from a socket would give them). The bytes are copied into an
 * exact-size buffer (a read past it trips AddressSanitizer) and fed as the
 * proxy feeds them: what a call did not consume is offered again with the
 * next piece; the end of the input is the upstream closing. Every
 * violated promise aborts: spans outside the input, a body where none may
 * be, a head the client would get that is not a clean HTTP/1.1 head, a
 * parse that stops making progress. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "handlers/proxy_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* Clean header lines (no hop-by-hop one), then a blank line. */
static void check_client_head_lines(const char *h, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)h[i];

        check(ch != 0 && ch != 0x7f);
        check(ch != '\r' || (i + 1 < len && h[i + 1] == '\n'));
        check(ch != '\n' || (i > 0 && h[i - 1] == '\r'));
        if (ch == '\n' && i + 1 < len - 2) {
            const char *line = h + i + 1;

            check(line[0] != ' ' && line[0] != '\t' && line[0] != ':');
            check(strncasecmp(line, "Transfer-Encoding:", 18) != 0);
            check(strncasecmp(line, "Connection:", 11) != 0);
            check(strncasecmp(line, "Keep-Alive:", 11) != 0);
        }
    }
}

/* The head sent to the client: a status line, clean header lines, a blank line. */
static void check_client_head(const char *h, size_t len)
{
    check(len >= 15 && memcmp(h, "HTTP/1.1 ", 9) == 0 && memcmp(h + len - 4, "\r\n\r\n", 4) == 0);
    check_client_head_lines(h, len);
}

/* What a final head promises. */
static void check_head(const struct proxy_resp *r)
{
    static char text[PROXY_HEAD_MAX];
    int n = proxy_resp_head_text(r, text, sizeof text);

    check((r->status >= 200 && r->status <= 599) || r->status == 101);
    check(r->status != 101 || (r->upgrade_asked && r->upgrade));
    check(r->n_fields <= PROXY_MAX_FIELDS);
    if (n >= 0)
        check_client_head(text, (size_t)n);
}

/* What an interim head promises: a 1xx but 101, clean lines to relay. */
static void check_interim(const struct proxy_resp *r)
{
    static char text[PROXY_HEAD_MAX];
    int n = proxy_resp_header_lines(r, text, sizeof text);

    check(r->interim >= 100 && r->interim <= 199 && r->interim != 101 && !r->head_ready);
    if (n < 0)
        return;
    memcpy(text + n, "\r\n", 2);
    check_client_head_lines(text, (size_t)n + 2);
}

/* Feeds buf[0..size) in pieces of piece bytes. */
static void feed_all(struct proxy_resp *r, const char *buf, size_t size, size_t piece)
{
    size_t arrived = 0, off = 0, iterations = 0, body = 0;
    bool head_seen = false;

    for (;;) {
        ssize_t k;

        check(++iterations < 4 * size + 64); /* no progress: a hang */
        if (off == arrived && !r->body) {
            if (arrived == size) {
                if (proxy_resp_eof(r) == 0)
                    check(r->done);
                return;
            }
            arrived += piece < size - arrived ? piece : size - arrived;
        }
        k = proxy_resp_feed(r, buf + off, arrived - off);
        if (k < 0)
            return;
        check((size_t)k <= arrived - off);
        if (r->body) {
            check(r->head_ready && r->body >= buf + off && r->body + r->body_len <= buf + off + k);
            check(r->body_len > 0 && !r->head_only && r->status != 204 && r->status != 304);
            body += r->body_len;
        }
        off += (size_t)k;
        if (r->interim)
            check_interim(r);
        if (r->head_ready && !head_seen) {
            head_seen = true;
            check_head(r);
        }
        if (r->upgrade)
            return; /* the rest is the tunnel's */
        if (r->done) {
            check(r->head_ready);
            return;
        }
    }
}

/* The parser's log lines (one per malformed response) are dropped. */
static int quiet(enum log_level level, const char *msg, size_t len)
{
    (void)level;
    (void)msg;
    (void)len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxy_resp *r;
    char *buf;

    if (size < 1)
        return 0;
    log_set_sink(quiet);
    r = malloc(sizeof *r);
    buf = malloc(size - 1 ? size - 1 : 1);
    if (!r || !buf)
        abort();
    memcpy(buf, data + 1, size - 1);
    proxy_resp_init(r, "fuzz", data[0] & 1);
    r->upgrade_asked = (data[0] & 2) != 0;
    feed_all(r, buf, size - 1, 1 + (size_t)(data[0] >> 2));
    free(buf);
    free(r);
    return 0;
}
