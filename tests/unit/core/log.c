/* Tests of server/core/log.c: lines, levels, and repeated messages counted instead of written. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

static char path[64];

/* Each test logs to a fresh file (Criterion runs each test in its own
 * process, so the log's settings start from their defaults). */
static void setup(void)
{
    int fd;

    snprintf(path, sizeof path, "/tmp/cohttpd-log-XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(log_open(path), 0);
}

static void teardown(void)
{
    log_open(NULL);
    unlink(path);
}

TestSuite(log, .init = setup, .fini = teardown);

/* The log file's content (static buffer). */
static const char *contents(void)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    size_t n;

    cr_assert_not_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static int count(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static int lines(const char *text) { return count(text, "\n"); }

/* Lets a window of 1 ms end for sure. */
static void end_window(void)
{
    log_set_repeat_window(1);
    usleep(5000);
}

Test(log, a_line_has_the_level_and_the_message)
{
    log_warn("disk %s is %d%% full", "/var", 93);
    log_debug("not at the default level");
    cr_assert(strstr(contents(), "]: warning: disk /var is 93% full\n"), "%s", contents());
    cr_assert_eq(lines(contents()), 1, "%s", contents());
}

Test(log, a_repeated_message_is_written_once_then_counted)
{
    log_set_repeat_window(60000);
    for (int i = 0; i < 50; i++) {
        log_warn("accept: Too many open files: pausing for %d ms", 100);
        log_info("another message");
    }
    cr_assert_eq(count(contents(), "pausing for 100 ms"), 1, "%s", contents());
    cr_assert_eq(count(contents(), "another message"), 1, "%s", contents());
    cr_assert_eq(lines(contents()), 2, "%s", contents());
    cr_assert_gt(log_flush_repeats(false), 0, "a count is pending");
    cr_assert_leq(log_flush_repeats(false), 60000);

    end_window();
    cr_assert_eq(log_flush_repeats(false), -1, "nothing pending once written");
    cr_assert(strstr(contents(), "]: warning: accept: Too many open files: pausing for 100 ms "
                                 "(repeated 49 more times in the last 1 s)\n"),
              "%s", contents());
    cr_assert(strstr(contents(), "]: info: another message (repeated 49 more times"), "%s",
              contents());
    cr_assert_eq(lines(contents()), 4, "%s", contents());
}

Test(log, a_message_after_its_window_is_written_again)
{
    log_error("once");
    end_window();
    log_error("once");
    cr_assert_eq(count(contents(), "once\n"), 2, "%s", contents());
    cr_assert_null(strstr(contents(), "repeated"), "nothing was held back: %s", contents());
}

Test(log, the_level_is_part_of_the_message)
{
    log_warn("same text");
    log_error("same text");
    cr_assert_eq(count(contents(), "same text"), 2, "%s", contents());
}

Test(log, window_zero_writes_every_message)
{
    log_set_repeat_window(0);
    for (int i = 0; i < 5; i++)
        log_info("every one");
    cr_assert_eq(count(contents(), "every one\n"), 5, "%s", contents());
}

Test(log, an_evicted_message_gets_its_count_written)
{
    log_set_repeat_window(60000);
    log_warn("the first");
    log_warn("the first");
    for (int i = 0; i < 16; i++)
        log_warn("distinct %d", i);
    cr_assert(strstr(contents(), "the first (repeated 1 more time in the last 1 s)\n"), "%s",
              contents());
    cr_assert_eq(lines(contents()), 18, "%s", contents());
}

Test(log, a_message_longer_than_the_summary_keeps_is_still_told_apart)
{
    char a[1200], b[1200];

    memset(a, 'x', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memcpy(b, a, sizeof b);
    b[sizeof b - 2] = 'y'; /* differs after the part a summary keeps */
    log_set_repeat_window(60000);
    log_info("%s", a);
    log_info("%s", b);
    log_info("%s", a);
    cr_assert_eq(lines(contents()), 2, "%s", contents());
    log_flush_repeats(true);
    cr_assert(strstr(contents(), "xxx (repeated 1 more time in the last 1 s)\n"), "%s", contents());
}

static void *flood(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        log_warn("from every thread");
    return NULL;
}

Test(log, threads_repeating_a_message_share_one_count)
{
    pthread_t t[4];

    log_set_repeat_window(60000);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, flood, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(lines(contents()), 1, "%s", contents());
    log_flush_repeats(true);
    cr_assert(strstr(contents(), "from every thread (repeated 3999 more times"), "%s", contents());
    cr_assert_eq(lines(contents()), 2, "%s", contents());
}
