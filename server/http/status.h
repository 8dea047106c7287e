/* status.h - HTTP status codes: reason phrases and the short error bodies cohttpd sends. */
#ifndef COHTTPD_HTTP_STATUS_H
#define COHTTPD_HTTP_STATUS_H

#include <stdbool.h>
#include <stddef.h>

/* Returns the reason phrase of status ("Not Found" for 404): every code of
 * RFC 9110 plus 103, 428, 429, 431 and 451. "Unknown" for any other code.
 * The string is static. */
const char *http_status_reason(int status);

/* True when status is one http_status_reason knows. */
bool http_status_known(int status);

/* Returns the text/plain body cohttpd sends with status, e.g.
 * "404 Not Found\n", and its length in *len (len may be NULL). The string
 * is static and NUL-terminated. For an unknown code: "Unknown Status\n". */
const char *http_status_body(int status, size_t *len);

/* True when a response with this status may carry content: false for 1xx,
 * 204 and 304 (RFC 9110 §6.4.1), true otherwise. */
bool http_status_allows_body(int status);

#endif
