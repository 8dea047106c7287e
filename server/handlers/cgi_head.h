/* cgi_head.h - the header block a CGI script writes before its body, parsed strictly. */
#ifndef COHTTPD_HANDLERS_CGI_HEAD_H
#define COHTTPD_HANDLERS_CGI_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most header lines a script may write (Status and the others). */
#define CGI_HEAD_MAX_FIELDS 64

struct cgi_field {
    const char *name;
    size_t name_len;
    const char *value; /* without the blanks around it */
    size_t value_len;
};

/* A parsed header block. Every span points into the buffer parsed. */
struct cgi_head {
    size_t len;         /* bytes of the block, its empty line included */
    int status;         /* from Status:, 0 when the script gave none */
    const char *reason; /* Status:'s reason phrase (may be empty) */
    size_t reason_len;
    const char *location; /* Location:, NULL when none */
    size_t location_len;
    bool has_content_type;  /* a Content-Type field is among fields */
    int64_t content_length; /* Content-Length:, -1 when none */
    size_t n_fields;        /* the fields to pass on (Status, Location and
                               Content-Length not among them; hop-by-hop
                               ones, Date and Server dropped) */
    struct cgi_field fields[CGI_HEAD_MAX_FIELDS];
};

/*
 * Parses the header block at the start of buf[0..len): lines "Name: value"
 * ending in LF or CRLF, up to an empty line. Strict: a name is an RFC 9110
 * token; a value has no control byte but tab; a bare CR, a line starting
 * with a blank (obs-fold) or without a colon, a Status that is not three
 * digits from 200 to 599 (or 1xx) with an optional reason, a repeated
 * Status, Location or Content-Length, a Content-Length that is not digits,
 * or more than CGI_HEAD_MAX_FIELDS lines are errors. Returns the block's
 * length (> 0, also in h->len) when complete, 0 when more bytes are needed,
 * or -EBADMSG with a static reason in *why. A block is never longer than
 * max: at max bytes without its end it is -EMSGSIZE. Pure; never yields.
 */
int cgi_head_parse(const char *buf, size_t len, size_t max, struct cgi_head *h, const char **why);

/* True when a Location value is a local path for an internal redirect: it
 * starts with one '/' (not "//"). */
bool cgi_head_location_local(const struct cgi_head *h);

#endif
