/* log.h - the error log: levels, stderr or the journal, thread-safe. */
#ifndef COHTTPD_CORE_LOG_H
#define COHTTPD_CORE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERROR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* Sets the threshold (messages above it are dropped). Default: info. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Chooses where messages go: stderr (with "<N>" priority prefixes when
 * JOURNAL_STREAM says stderr is the journal) or a file opened for append.
 * path NULL means stderr. Returns 0 or -errno. */
int log_open(const char *path);

/*
 * A sink takes each message in place of the fd (the daemon installs one that
 * sends to the journal): the level, the message without prefix or newline,
 * and its length. Called from any thread, so it must be thread-safe. It
 * returns 0, or -errno when the message could not be delivered; the line
 * then goes to the fd after all.
 */
typedef int (*log_sink_fn)(enum log_level level, const char *msg, size_t len);

/* Sends messages to sink from now on; NULL: back to the fd of log_open. */
void log_set_sink(log_sink_fn sink);

/* How long a message written stays "recent" by default (see log_msg). */
#define LOG_REPEAT_WINDOW_MS 10000

/*
 * Writes one line "cohttpd[pid]: LEVEL: message" (no prefix but "<N>" under
 * the journal). One write(2) per line, so lines from threads never mix.
 * A message identical (text and level) to one written less than the repeat
 * window ago is counted instead of written; when that window ends, one line
 * "MESSAGE (repeated N more times in the last S s)" tells how many were
 * held back. Thread-safe; never yields; the repeat bookkeeping is one
 * mutex and a 16-entry table.
 */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Sets the repeat window (default LOG_REPEAT_WINDOW_MS); 0 writes every
 * message. Pending counts are judged against the new window. */
void log_set_repeat_window(unsigned ms);

/*
 * Writes the counts of repeat windows that have ended (of every window with
 * all, as at exit). Messages do that as they come; a thread with nothing
 * else to do calls this so that a count is not held back indefinitely.
 * Returns the milliseconds until the next pending window ends, or -1 when no
 * count is pending.
 */
int log_flush_repeats(bool all);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_get_level() >= LOG_LVL_DEBUG)                                                      \
            log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                                   \
    } while (0)

#endif
