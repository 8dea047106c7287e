/* conf_keys.h - configuration keys as data: a key's type, bounds, and how it is parsed and printed.
 */
#ifndef COHTTPD_HANDLERS_CONF_KEYS_H
#define COHTTPD_HANDLERS_CONF_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Each section of cohttpd.ini is an array of key_spec: the daemon's
 * configuration loader reads a "name = value" line, finds the key, converts
 * the value by its type (checking min and max), and stores it at offset in
 * the section's struct; -T prints each key back with the same spelling.
 * A route kind's keys sit next to its handler (handlers/kinds.h), so that
 * the loader knows no kind. Everything here runs in the main thread, at
 * startup or reload; nothing yields.
 */

enum value_type { VT_SIZE, VT_DURATION, VT_NUMBER, VT_BOOL, VT_ENUM, VT_TEXT, VT_CUSTOM };

struct enum_name {
    const char *name;
    int value;
};

struct conf_io;
struct key_spec;

/* Parses value into obj (the section's struct); errors go to io. */
typedef void key_parse_fn(struct conf_io *io, const struct key_spec *key, void *obj,
                          const char *value);
/* Writes "name = value" line(s) for the key's value in obj. */
typedef void key_dump_fn(FILE *out, const struct key_spec *key, const void *obj);

/* One key of a section: its type, where it lands in the section's struct
 * (offset, width: sizeof(uint64_t), sizeof(uint32_t) or sizeof(bool)),
 * bounds for numbers, and for VT_CUSTOM how to parse and dump. VT_TEXT
 * stores a config-owned string (NULL when empty) at offset. */
struct key_spec {
    const char *name;
    enum value_type type;
    size_t offset;
    size_t width;
    uint64_t min, max;
    const struct enum_name *names; /* VT_ENUM, ends with a NULL name */
    bool repeatable;
    bool required;
    key_parse_fn *parse;
    key_dump_fn *dump;
};

/* The keys of one section. */
struct section_spec {
    const struct key_spec *keys;
    size_t n_keys;
};

/* The most keys a section may have. */
#define SECTION_MAX_KEYS 32

/*
 * What the configuration loader offers a key's parser; the loader fills the
 * functions. Strings it returns belong to the configuration being loaded
 * (freed with it); they are NULL after an error was recorded.
 */
struct conf_io {
    /* Records msg as an error at the line being read. */
    void (*error)(struct conf_io *io, const char *msg);
    /* A copy of s[0..n), NUL-terminated. */
    char *(*strndup)(struct conf_io *io, const char *s, size_t n);
    /* value as an absolute path without ".", ".." or repeated '/' (a
     * relative one is below the configuration file's directory). */
    char *(*path)(struct conf_io *io, const char *key, const char *value);
};

/* Records a printf-formatted error at the line being read. */
__attribute__((format(printf, 2, 3))) void conf_error(struct conf_io *io, const char *fmt, ...);

char *conf_strndup(struct conf_io *io, const char *s, size_t n);
char *conf_strdup(struct conf_io *io, const char *s);
char *conf_path(struct conf_io *io, const char *key, const char *value);

/* Stores s (a config-owned string or NULL) at key->offset in obj. */
void conf_set_string(void *obj, const struct key_spec *key, const char *s);

/* Writes "name = STRING" ("name =" for NULL) for the string at key->offset. */
void conf_dump_string(FILE *out, const struct key_spec *key, const void *obj);

/* Calls fn on each blank-separated word of value; stops when it returns < 0. */
void conf_for_each_word(struct conf_io *io, const char *value, void *obj,
                        int (*fn)(struct conf_io *io, void *obj, const char *w, size_t len));

/* s[0..len) is a non-empty RFC 9110 token. */
bool conf_is_token(const char *s, size_t len);

/* s can be a header field value: no control character but tab. */
bool conf_header_value_ok(const char *s);

/* A plain URL path: starts with '/'; no blanks, controls, '?', '#', '%'; no
 * empty, "." or ".." segment (one trailing '/' is fine). */
bool conf_url_path_ok(const char *p);

static inline bool conf_blank(char c) { return c == ' ' || c == '\t'; }

static inline char conf_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

#endif
