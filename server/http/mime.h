/* mime.h - the MIME type table: file name extension -> Content-Type. */
#ifndef COHTTPD_HTTP_MIME_H
#define COHTTPD_HTTP_MIME_H

#include <stddef.h>

/* Longest extension the table holds; longer ones are never found. */
#define MIME_EXT_MAX 31

/* Read-only after creation: one table is shared by every worker thread. */
struct mime_table;

/* Builds a table from three layers, each overriding the one before:
 *   1. the built-in table of common types;
 *   2. system_file in mime.types format ("type ext1 ext2 ...", '#'
 *      comments), when system_file is not NULL and can be read; lines that
 *      do not parse are skipped;
 *   3. n_overrides pairs ext[i] -> type[i] from the configuration's [mime]
 *      section; ext with or without its leading dot (".webmanifest").
 * Types of text ("text/" ones, +xml, +json, JavaScript, JSON, XML) get
 * "; charset=utf-8" appended unless they already carry a parameter.
 * Returns the table (free it with mime_table_free) or NULL with errno:
 * EINVAL when an override is invalid (an empty extension or one holding
 * '.', '/', whitespace or control bytes or longer than MIME_EXT_MAX; a type
 * without '/' or with control bytes), ENOMEM. Reads a file: call it at
 * startup or reload, never from a worker's loop. */
struct mime_table *mime_table_new(const char *system_file, const char *const *ext,
                                  const char *const *type, size_t n_overrides);

/* Frees t and its strings (NULL is fine). */
void mime_table_free(struct mime_table *t);

/* Returns the Content-Type for filename[0..len) (a name or a path) from the
 * extension after the last '.' of its last path segment, compared without
 * regard to case. A name without an extension, a dotfile such as ".bashrc"
 * and an unknown extension give "application/octet-stream". "a.tar.gz"
 * gives the type of "gz". The string belongs to t (or is static) and is
 * NUL-terminated; *type_len (may be NULL) gets its length. No allocation,
 * no lock: safe from any thread. */
const char *mime_lookup(const struct mime_table *t, const char *filename, size_t len,
                        size_t *type_len);

#endif
