/* parser.h - HTTP/1.1 request heads and bodies: our checks around strict llhttp. */
#ifndef COHTTPD_HTTP_PARSER_H
#define COHTTPD_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "http/limits.h"

/* A byte span. In a parsed request every span points into the caller's read
 * buffer: valid while that buffer is neither moved nor reused. */
struct http_span {
    const char *p;
    size_t len;
};

struct http_header {
    struct http_span name;
    struct http_span value; /* leading and trailing whitespace removed */
};

/* The most headers any configuration may allow (max_headers is capped). */
#define HTTP_MAX_HEADERS 256

/* The fields cohttpd itself reads, indexed when the head is parsed so
 * that finding one costs the same however many fields a request has. */
enum http_field {
    HTTP_F_OTHER, /* any other name */
    HTTP_F_HOST,
    HTTP_F_CONTENT_LENGTH,
    HTTP_F_TRANSFER_ENCODING,
    HTTP_F_CONNECTION,
    HTTP_F_PROXY_CONNECTION,
    HTTP_F_UPGRADE,
    HTTP_F_EXPECT,
    HTTP_F_ACCEPT,
    HTTP_F_ACCEPT_ENCODING,
    HTTP_F_IF_MATCH,
    HTTP_F_IF_NONE_MATCH,
    HTTP_F_IF_MODIFIED_SINCE,
    HTTP_F_IF_UNMODIFIED_SINCE,
    HTTP_F_IF_RANGE,
    HTTP_F_RANGE,
    HTTP_F_AUTHORIZATION,
    HTTP_F_CONTENT_TYPE,
    HTTP_F_REFERER,
    HTTP_F_USER_AGENT,
    HTTP_F_X_FORWARDED_FOR,
    HTTP_F_FORWARDED,
    HTTP_F_COUNT
};

struct http_request {
    llhttp_method_t method;
    struct http_span method_name;
    struct http_span target;              /* request-target as received */
    struct http_span path;                /* target up to '?' or '#' (origin-form), or the
                                             path of an absolute-form target ("/", a
                                             static string, when it has none); "*" for
                                             OPTIONS *; empty for CONNECT */
    struct http_span query;               /* after '?', without it; len 0 when none */
    uint8_t version_major, version_minor; /* 1.0 or 1.1 (1.2 to 1.9 are 1.1) */
    struct http_span host;                /* Host header (or the authority of an
                                             absolute-form target); len 0 when absent */
    int64_t content_length;               /* -1 when no Content-Length */
    bool chunked;                         /* Transfer-Encoding: chunked */
    bool keep_alive;                      /* RFC 9112 §9.3: the connection may persist */
    bool expect_continue;                 /* Expect: 100-continue */
    bool upgrade;                         /* Connection: upgrade with an Upgrade header */
    size_t head_len;                      /* bytes of the head, final CRLFCRLF included */
    unsigned header_count;
    struct http_header headers[HTTP_MAX_HEADERS];
    /* The index of the fields in enum http_field (http_request_index):
     * bit k of fields_seen is set when a field of kind k is present, and
     * field_first[k] is then the position in headers of the first one;
     * field_kind[i] is the kind of headers[i]. */
    uint32_t fields_seen;
    uint8_t field_first[HTTP_F_COUNT];
    uint8_t field_kind[HTTP_MAX_HEADERS];
};

/* tchar (RFC 9110 §5.6.2) as a bitmap of the 256 byte values (parser.c). */
extern const uint64_t http_tchar_bits[4];

/* Whether c is a tchar: one load and a shift. */
static inline bool http_is_tchar(unsigned char c)
{
    return (http_tchar_bits[c >> 6] >> (c & 63)) & 1;
}

/* Per-connection parser state (embedded in the connection; no allocation).
 * Only offsets into the caller's buffer are kept between calls, so the
 * caller may move or compact its buffer; the struct itself may be moved
 * between calls too. Fields are private to parser.c. */
struct http_parser {
    /* per request: http_parser_reset zeroes everything up to llhttp */
    struct http_request *req; /* the request being parsed */
    /* head scanning (offsets into the buffer given to http_parse_head) */
    size_t scanned;    /* head bytes already scanned for the end */
    size_t head_start; /* first byte of the request line */
    size_t line_end;   /* just past the request line; 0 until seen */
    bool head_started; /* a byte other than a leading CRLF was seen */
    bool head_odd;     /* a byte outside 0x20-0x7e other than CR and LF was seen */
    bool head_done;    /* http_parse_head() accepted the head */
    bool ll_ready;     /* llhttp is initialised for this request */
    unsigned lines;    /* field line ends recorded in line_cr */
    /* body decoding state */
    uint64_t body_received; /* decoded body bytes so far */
    const char *body_out;   /* set by llhttp's on_body */
    size_t body_out_len;
    bool message_complete;
    int error_status;
    /* private scratch for the llhttp callbacks */
    int body_phase;     /* chunked: size line, data or trailer */
    size_t frame_bytes; /* bytes of the current chunk line or trailer */
    bool frame_prev_cr; /* the last framing byte was a CR */
    /* per connection */
    llhttp_t llhttp; /* initialised only when it is to be fed (ll_ready) */
    const struct http_limits *limits;
    bool llhttp_always; /* http_parser_always_llhttp */
    /* where the scan saw each field line's CR (and the empty line's), as
     * offsets into the buffer; the first `lines` are valid */
    uint32_t line_cr[HTTP_MAX_HEADERS + 1];
};

/* Prepares p for a connection; limits must outlive it. */
void http_parser_init(struct http_parser *p, const struct http_limits *limits);

/* Parses a request head from buf[0..len), the bytes read so far on the
 * connection for this request (the caller passes the same growing buffer
 * again after each read; bytes already scanned are not scanned twice).
 * Returns:
 *   > 0  the head is complete and valid: *req is filled, the value is
 *        req->head_len; the body (if any) starts at buf + head_len;
 *   0    more bytes are needed (len is still within the limits);
 *   < 0  minus the HTTP status to answer before closing the connection:
 *        400 malformed (bare CR or LF, NUL, obs-fold, a line starting with
 *        space/tab/colon, whitespace before a colon, missing or repeated
 *        Host in HTTP/1.1, Content-Length with Transfer-Encoding, differing
 *        Content-Lengths, Transfer-Encoding on HTTP/1.0, bad target ...),
 *        413 Content-Length over max_body_size (before any body is read),
 *        414 request line longer than max_header_size allows,
 *        417 an Expect other than 100-continue,
 *        431 head over max_header_size or more than max_headers fields,
 *        501 unknown method or a transfer coding other than chunked,
 *        505 an HTTP version other than 1.x (1.2 to 1.9 are served as 1.1).
 * Leading empty lines (CRLF) before a request line are skipped as RFC 9112
 * §2.2 allows, and counted in head_len. After an error the same status is
 * returned until reset. Never yields. */
int http_parse_head(struct http_parser *p, const char *buf, size_t len, struct http_request *req);

/* Decodes body bytes of the request whose head http_parse_head() accepted
 * (Content-Length or chunked). in[0..in_len) are raw bytes that follow what
 * was already consumed. On return *consumed raw bytes were used and
 * *out and *out_len give the next span of decoded body (pointing into in; may be
 * empty). Call repeatedly while it returns 0 and progress is made.
 * Returns 1 when the body is complete (the next request starts at
 * in + *consumed), 0 when more input is needed or more output remains,
 * < 0 minus a status: 400 bad chunk syntax/size or a chunk line over
 * 4 KiB, 413 body over max_body_size, 431 trailer over max_header_size.
 * A call gives at most one span, and 1 only with an empty span. 0 with a
 * span: use it, then call again with the bytes left, even none (that call
 * may be the one that reports the end). 0 without a span: every byte was
 * consumed, read more. A request without a body gives 1 at once, nothing
 * consumed. After an error the same status is returned until reset (500
 * when called before http_parse_head() accepted a head). Never yields. */
int http_parse_body(struct http_parser *p, const char *in, size_t in_len, size_t *consumed,
                    const char **out, size_t *out_len);

/* True when the request has a body to read (Content-Length > 0 or chunked). */
bool http_request_has_body(const struct http_request *req);

/* The first field of kind f (not HTTP_F_OTHER) in a request that
 * http_parse_head() accepted or http_request_index() indexed; NULL when
 * absent. Constant time. */
static inline const struct http_header *http_request_field(const struct http_request *req,
                                                           enum http_field f)
{
    return (req->fields_seen >> f) & 1 ? &req->headers[req->field_first[f]] : NULL;
}

/* Indexes req->headers[0..header_count) by kind (field_kind, field_first,
 * fields_seen), as http_parse_head() does: for a request whose headers
 * were copied or edited by hand. Never yields. */
void http_request_index(struct http_request *req);

/* The kind of a field name (case-insensitive), HTTP_F_OTHER for a name
 * cohttpd does not index. */
enum http_field http_field_kind(const char *name, size_t len);

/* Finds a header by name, case-insensitively; NULL when absent. */
const struct http_header *http_request_header(const struct http_request *req, const char *name,
                                              size_t name_len);

/* The same for a NUL-terminated name, without measuring it first (what the
 * handlers' lookups use, several per request). */
const struct http_header *http_request_header_named(const struct http_request *req,
                                                    const char *name);

/* Ready for the next request on the same connection: a few stores, no
 * llhttp initialisation (that waits until llhttp is to be fed). */
void http_parser_reset(struct http_parser *p);

/* For tests: with on, llhttp reads the request line and the head's end of
 * every head, also of the heads it could only confirm (a GET or HEAD with
 * a plain origin-form target and no field line llhttp reads but
 * Connection and Proxy-Connection), which are otherwise accepted without
 * it, and it alone judges the Connection and Proxy-Connection lines it
 * reads; every answer must be the same either way
 * (the differential fuzzer and the unit tests check it). Kept across
 * http_parser_reset. */
void http_parser_always_llhttp(struct http_parser *p, bool on);

/* Gives a parser that has not started on a request (fresh from
 * http_parser_init or http_parser_reset) other limits, which must outlive
 * it: what a new configuration changes, without initialising it again. */
void http_parser_set_limits(struct http_parser *p, const struct http_limits *limits);

#endif
