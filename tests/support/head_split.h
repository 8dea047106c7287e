/* head_split.h - one response head out of raw bytes, its Date value blanked, for tests that
 * compare whole heads (unit tests through loopback.h, integration tests through raw sockets). */
#ifndef COHTTPD_TESTS_SUPPORT_HEAD_SPLIT_H
#define COHTTPD_TESTS_SUPPORT_HEAD_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/*
 * Copies the response head at raw + *at (NUL-terminated raw) into head
 * (cap bytes, NUL-terminated) with the 29 characters of its Date value
 * replaced by 'D', and moves *at past the head and the body_len bytes
 * after it. False when no whole head with a Date is there or it does not
 * fit in head.
 */
static inline bool head_split(const char *raw, size_t *at, size_t body_len, char *head, size_t cap)
{
    const char *start = raw + *at, *end = strstr(start, "\r\n\r\n"), *date;
    size_t n = end ? (size_t)(end + 4 - start) : 0;

    if (!end || n >= cap)
        return false;
    memcpy(head, start, n);
    head[n] = '\0';
    date = strstr(head, "\r\nDate: ");
    if (!date || (size_t)(end - start) < (size_t)(date - head) + 8 + 29)
        return false;
    memset(head + (date - head) + 8, 'D', 29);
    *at += n + body_len;
    return true;
}

#endif
