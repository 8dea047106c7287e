/* conf.h - the typed configuration of each route kind, as the handlers read it. */
#ifndef COHTTPD_HANDLERS_CONF_H
#define COHTTPD_HANDLERS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * daemon/config.c fills these from a [KIND MATCH] section, validated, with
 * the defaults of DESIGN.md §4; a route's `void *conf` points at one of them.
 * The configuration owns every string and the structs themselves: handlers
 * only read them, from any worker thread, for as long as the configuration
 * they came with is in use.
 */

#define STATIC_MAX_INDEX   8  /* index = at most this many names */
#define STATIC_MAX_HEADERS 32 /* header = at most this many times per route */
#define STATIC_MAX_TRY     8  /* try = at most this many candidates */

enum static_dotfiles {
    STATIC_DOTFILES_DENY, /* a path segment starting with '.' is 404 (default) */
    STATIC_DOTFILES_ALLOW,
};

enum static_encoding {
    STATIC_ENCODING_BR,   /* FILE.br, Content-Encoding: br */
    STATIC_ENCODING_GZIP, /* FILE.gz, Content-Encoding: gzip */
    STATIC_ENCODING_ZSTD, /* Content-Encoding: zstd (compressed on the fly only) */
};
#define STATIC_ENCODINGS 3

#define STATIC_MAX_COMPRESS_TYPES 32 /* compress_types = at most this many */

/* One configured response header, validated: name is an RFC 9110 token,
 * value has no control characters and no leading or trailing blanks. */
struct conf_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* [static MATCH] */
struct static_conf {
    const char *root;                    /* absolute path of an existing directory */
    const char *index[STATIC_MAX_INDEX]; /* file names tried in order for a directory */
    size_t n_index;                      /* default 1: "index.html"; 0: no index files */
    bool autoindex;                      /* HTML listing of a directory without index */
    enum static_dotfiles dotfiles;
    enum static_encoding precompressed[2];          /* siblings looked for, in preference order */
    size_t n_precompressed;                         /* default 2: br then gz; 0: none */
    const char *cache_control;                      /* Cache-Control value, or NULL for none */
    const char *fallback;                           /* path below root served when no file matches
                                                       (e.g. "/index.html"), or NULL */
    struct conf_header headers[STATIC_MAX_HEADERS]; /* added to every response */
    size_t n_headers;
    /* try: candidates in order, each a path template below the root where
     * "{path}" stands for the request's path below the prefix (one ending
     * in '/' is a directory: its index files, its listing), the last one
     * possibly "=STATUS" (try_status); n_try 0: no try line. */
    const char *try_paths[STATIC_MAX_TRY];
    size_t n_try;
    int try_status; /* 400..599: the answer when no candidate matched; 0: 404 */
    bool compress;  /* compress responses on the fly (no precompressed sibling) */
    const char *compress_types[STATIC_MAX_COMPRESS_TYPES]; /* "text/html", or "text/" + "*" */
    size_t n_compress_types;
    uint64_t compress_min_size;           /* smaller files go as they are */
    uint64_t compress_cache_size;         /* compressed bytes one worker keeps, all routes */
    int compress_level[STATIC_ENCODINGS]; /* by enum static_encoding */
};

/* [redirect MATCH] */
struct redirect_conf {
    const char *to;  /* Location: an absolute http(s) URL or a path starting with '/' */
    unsigned status; /* 301 (default), 302, 307 or 308 */
};

#endif
