/* status.c - HTTP status codes: reason phrases and the short error bodies cohttpd sends. */
#include "http/status.h"

#include <string.h>

struct status_text {
    const char *reason;
    const char *body; /* "<code> <reason>\n" */
};

#define STATUS_TABLE_SIZE 600

static const struct status_text status_table[STATUS_TABLE_SIZE] = {
    [100] = {.reason = "Continue", .body = "100 Continue\n"},
    [101] = {.reason = "Switching Protocols", .body = "101 Switching Protocols\n"},
    [103] = {.reason = "Early Hints", .body = "103 Early Hints\n"},
    [200] = {.reason = "OK", .body = "200 OK\n"},
    [201] = {.reason = "Created", .body = "201 Created\n"},
    [202] = {.reason = "Accepted", .body = "202 Accepted\n"},
    [203] = {.reason = "Non-Authoritative Information",
             .body = "203 Non-Authoritative Information\n"},
    [204] = {.reason = "No Content", .body = "204 No Content\n"},
    [205] = {.reason = "Reset Content", .body = "205 Reset Content\n"},
    [206] = {.reason = "Partial Content", .body = "206 Partial Content\n"},
    [300] = {.reason = "Multiple Choices", .body = "300 Multiple Choices\n"},
    [301] = {.reason = "Moved Permanently", .body = "301 Moved Permanently\n"},
    [302] = {.reason = "Found", .body = "302 Found\n"},
    [303] = {.reason = "See Other", .body = "303 See Other\n"},
    [304] = {.reason = "Not Modified", .body = "304 Not Modified\n"},
    [305] = {.reason = "Use Proxy", .body = "305 Use Proxy\n"},
    [307] = {.reason = "Temporary Redirect", .body = "307 Temporary Redirect\n"},
    [308] = {.reason = "Permanent Redirect", .body = "308 Permanent Redirect\n"},
    [400] = {.reason = "Bad Request", .body = "400 Bad Request\n"},
    [401] = {.reason = "Unauthorized", .body = "401 Unauthorized\n"},
    [402] = {.reason = "Payment Required", .body = "402 Payment Required\n"},
    [403] = {.reason = "Forbidden", .body = "403 Forbidden\n"},
    [404] = {.reason = "Not Found", .body = "404 Not Found\n"},
    [405] = {.reason = "Method Not Allowed", .body = "405 Method Not Allowed\n"},
    [406] = {.reason = "Not Acceptable", .body = "406 Not Acceptable\n"},
    [407] = {.reason = "Proxy Authentication Required",
             .body = "407 Proxy Authentication Required\n"},
    [408] = {.reason = "Request Timeout", .body = "408 Request Timeout\n"},
    [409] = {.reason = "Conflict", .body = "409 Conflict\n"},
    [410] = {.reason = "Gone", .body = "410 Gone\n"},
    [411] = {.reason = "Length Required", .body = "411 Length Required\n"},
    [412] = {.reason = "Precondition Failed", .body = "412 Precondition Failed\n"},
    [413] = {.reason = "Content Too Large", .body = "413 Content Too Large\n"},
    [414] = {.reason = "URI Too Long", .body = "414 URI Too Long\n"},
    [415] = {.reason = "Unsupported Media Type", .body = "415 Unsupported Media Type\n"},
    [416] = {.reason = "Range Not Satisfiable", .body = "416 Range Not Satisfiable\n"},
    [417] = {.reason = "Expectation Failed", .body = "417 Expectation Failed\n"},
    [421] = {.reason = "Misdirected Request", .body = "421 Misdirected Request\n"},
    [422] = {.reason = "Unprocessable Content", .body = "422 Unprocessable Content\n"},
    [426] = {.reason = "Upgrade Required", .body = "426 Upgrade Required\n"},
    [428] = {.reason = "Precondition Required", .body = "428 Precondition Required\n"},
    [429] = {.reason = "Too Many Requests", .body = "429 Too Many Requests\n"},
    [431] = {.reason = "Request Header Fields Too Large",
             .body = "431 Request Header Fields Too Large\n"},
    [451] = {.reason = "Unavailable For Legal Reasons",
             .body = "451 Unavailable For Legal Reasons\n"},
    [500] = {.reason = "Internal Server Error", .body = "500 Internal Server Error\n"},
    [501] = {.reason = "Not Implemented", .body = "501 Not Implemented\n"},
    [502] = {.reason = "Bad Gateway", .body = "502 Bad Gateway\n"},
    [503] = {.reason = "Service Unavailable", .body = "503 Service Unavailable\n"},
    [504] = {.reason = "Gateway Timeout", .body = "504 Gateway Timeout\n"},
    [505] = {.reason = "HTTP Version Not Supported", .body = "505 HTTP Version Not Supported\n"},
};

static const struct status_text *status_find(int status)
{
    if (status < 0 || status >= STATUS_TABLE_SIZE || !status_table[status].reason)
        return NULL;
    return &status_table[status];
}

bool http_status_known(int status) { return status_find(status) != NULL; }

const char *http_status_reason(int status)
{
    const struct status_text *st = status_find(status);

    return st ? st->reason : "Unknown";
}

const char *http_status_body(int status, size_t *len)
{
    const struct status_text *st = status_find(status);
    const char *body = st ? st->body : "Unknown Status\n";

    if (len)
        *len = strlen(body);
    return body;
}

bool http_status_allows_body(int status)
{
    return !(status >= 100 && status < 200) && status != 204 && status != 304;
}
