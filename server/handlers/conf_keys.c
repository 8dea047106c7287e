/* conf_keys.c - what every section's key parsers share: the loader's services, strings, syntax. */
#include "handlers/conf_keys.h"

#include <stdarg.h>
#include <string.h>

/* The longest error message a key parser records. */
#define CONF_MSG_MAX 512

void conf_error(struct conf_io *io, const char *fmt, ...)
{
    char msg[CONF_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    io->error(io, msg);
}

char *conf_strndup(struct conf_io *io, const char *s, size_t n) { return io->strndup(io, s, n); }

char *conf_strdup(struct conf_io *io, const char *s) { return io->strndup(io, s, strlen(s)); }

char *conf_path(struct conf_io *io, const char *key, const char *value)
{
    return io->path(io, key, value);
}

void conf_set_string(void *obj, const struct key_spec *key, const char *s)
{
    memcpy((char *)obj + key->offset, &s, sizeof(s));
}

void conf_dump_string(FILE *out, const struct key_spec *key, const void *obj)
{
    const char *s;

    memcpy(&s, (const char *)obj + key->offset, sizeof(s));
    fprintf(out, "%s =%s%s\n", key->name, s ? " " : "", s ? s : "");
}

void conf_for_each_word(struct conf_io *io, const char *value, void *obj,
                        int (*fn)(struct conf_io *io, void *obj, const char *w, size_t len))
{
    const char *p = value;

    while (*p) {
        const char *w;

        while (conf_blank(*p))
            p++;
        w = p;
        while (*p && !conf_blank(*p))
            p++;
        if (p > w && fn(io, obj, w, (size_t)(p - w)) < 0)
            return;
    }
}

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool conf_is_token(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar(s[i]))
            return false;
    }
    return len > 0;
}

/* A header field value: visible characters, blanks, obs-text; no controls. */
bool conf_header_value_ok(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

bool conf_url_path_ok(const char *p)
{
    if (p[0] != '/')
        return false;
    for (const char *s = p; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c <= 0x20 || c == 0x7f || c == '?' || c == '#' || c == '%')
            return false;
        if (c == '/' && s != p && s[-1] == '/')
            return false;
        if (c == '.' && s[-1] == '/' &&
            (s[1] == '/' || !s[1] || (s[1] == '.' && (s[2] == '/' || !s[2]))))
            return false;
    }
    return true;
}
