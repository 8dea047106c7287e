/* config_internal.h - what config.c (loader) and config_schema.c (keys) share; private. */
#ifndef COHTTPD_DAEMON_CONFIG_INTERNAL_H
#define COHTTPD_DAEMON_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/config.h"
#include "handlers/conf_keys.h"

#define KIB     1024ull
#define MIB     (1024ull * 1024)
#define GIB     (1024ull * 1024 * 1024)
#define HOUR_MS 3600000ull
#define DAY_MS  (24 * HOUR_MS)

enum section_kind { SEC_NONE, SEC_SKIP, SEC_SERVER, SEC_LIMITS, SEC_MIME, SEC_ROUTE };

/* The section being read. */
struct section {
    enum section_kind kind;
    const struct section_spec *spec; /* NULL for SEC_NONE, SEC_SKIP, SEC_MIME */
    const char *name;                /* as written, "[static /]" */
    unsigned line;
    void *obj;                           /* the struct its keys land in */
    struct http_policy *policy;          /* [server]'s or the route's site keys, else NULL */
    unsigned key_line[SECTION_MAX_KEYS]; /* where each key was set (0: not yet) */
};

/* The state of one load: the config being filled and the errors found.
 * Key parsers reach it through io (first: a conf_io is a loader). */
/* The longest logical line of a file (lines joined by a final '\'), in bytes. */
#define CONFIG_LINE_MAX 16384

struct loader {
    struct conf_io io;
    struct config *cfg;
    struct config_errors *errs;
    size_t errs_before;
    const char *file; /* for messages */
    FILE *fp;
    char *text;          /* the logical line being read (CONFIG_LINE_MAX + 1 bytes) */
    unsigned lines_read; /* physical lines read from fp */
    unsigned line;       /* the (first) line of what is being read (0: not from a file) */
    bool key_line;       /* the line handed to inih should reach the handler */
    bool key_seen;
    bool content; /* a line other than blanks and comments was read */
    bool oom;
    struct section sec;
    unsigned global_line[3]; /* first [server], [limits], [mime] */
    unsigned user_line, group_line;
    size_t listen_cap, mime_cap, routes_cap;
    const struct config_overrides *over; /* the command line's, applied at the end */
};

static inline bool config_blank(char c) { return c == ' ' || c == '\t'; }

static inline char config_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* ---- the loader's services (config.c) ---- */

/* Records "FILE:LINE: message" (line 0: "FILE: message"). */
__attribute__((format(printf, 3, 4))) void ld_error(struct loader *ld, unsigned line,
                                                    const char *fmt, ...);

/* Zeroed memory owned by the config (freed by config_free); NULL after
 * recording "out of memory". */
void *ld_alloc(struct loader *ld, size_t size);
char *ld_strndup(struct loader *ld, const char *s, size_t n);
char *ld_strdup(struct loader *ld, const char *s);

/* Returns an array (config-owned) with room for n + 1 elements: old, or a
 * copy of it with twice the capacity (*cap updated); NULL when out of memory. */
void *ld_grow(struct loader *ld, void *old, size_t n, size_t *cap, size_t elem);

/* value as an absolute path without ".", ".." or repeated '/' (a relative one
 * is below the config's directory), config-owned; NULL after an error. */
char *ld_path(struct loader *ld, const char *key, const char *value);

/* ---- the schema (config_schema.c) ---- */

extern const struct section_spec schema_server;
extern const struct section_spec schema_limits;
/* Route kinds of DESIGN.md §4 that this build does not have yet: their
 * sections are refused with "not supported yet" (NULL-terminated). */
extern const char *const schema_planned_kinds[];

/* ---- the site keys (config_site.c) ---- */

/* allow, deny: in [server] and in every route section (after the kind's
 * own keys, which win), stored in the section's struct http_policy. */
extern const struct section_spec schema_site;

/* [server] trusted_proxies. */
void site_parse_trusted(struct conf_io *io, const struct key_spec *key, void *obj,
                        const char *value);
void site_dump_trusted(FILE *out, const struct key_spec *key, const void *obj);

/* Points ld->io at the loader's services for the key parsers. */
void schema_io_init(struct loader *ld);

/* The built-in defaults of [server] and [limits]. */
void schema_defaults(struct config *cfg);

/* A "name = value" line of the current section: checked, converted, stored. */
void schema_key(struct loader *ld, const char *name, const char *value);

/* Adds a listen address to s (errors at ld->line). */
void schema_listen_add(struct loader *ld, struct config_server *s, const char *value);

/* Resolves [server] user and group into ids once the whole file is read. */
void schema_identity(struct loader *ld);

/* Writes "\n[header]" and every key of spec with its value in obj. */
void schema_dump_section(FILE *out, const char *header, const struct section_spec *spec,
                         const void *obj);

/* Writes every key of spec with its value in obj (NULL: none), no header. */
void schema_dump_keys(FILE *out, const struct section_spec *spec, const void *obj);

/* ---- value syntax (config_value.c) ---- */

/* Each returns false on bad syntax or overflow and leaves *out alone then. */
bool config_parse_u64(const char *s, uint64_t *out);     /* digits only */
bool config_parse_size(const char *s, uint64_t *out);    /* 16k, 1m, 2g, bytes */
bool config_parse_duration(const char *s, uint64_t *ms); /* 500ms, 30s, 5m, 1h, seconds */
bool config_parse_bool(const char *s, uint64_t *out);    /* on/off yes/no true/false */

/* The shortest exact spelling: 16k, 1g, 1000; 500ms, 30s, 5m, 1h. */
void config_format_size(uint64_t v, char *buf, size_t len);
void config_format_duration(uint64_t ms, char *buf, size_t len);

/* Keeps cand in *best when it is the closest plausible spelling of word so
 * far (edit distance at most 2); start with *best NULL, *best_d SIZE_MAX. */
void config_hint(const char *word, const char *cand, const char **best, size_t *best_d);

#endif
