/* Unit tests of server/handlers/auth_file.c: which htpasswd lines are taken and which refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handlers/auth.h"
#include "handlers/auth_internal.h"

/* A bcrypt, a SHA-512-crypt and a yescrypt hash, as htpasswd -B and mkpasswd make them. */
#define BCRYPT "$2y$05$yKFKe1wwe6K4jVizABIpg.EZpYjFVVdX6XIhHoJ08QLFZ.WDZrelC"
#define SHA512                                                                                     \
    "$6$2XPFZV62V41YpXI0$XIiTY8TzvXodXhcjod/2bzeFtMrgoKNMkChMG/"                                   \
    "5he3qaXORN420QYk5gMaTiozICMez2irDD9"                                                          \
    "Ib1yDsVLRaAi0"
#define YESCRYPT "$y$j9T$cNxVxqncEvKcdBOVsTPrf.$pGZ/CfqKEP48K5ofe66pRIRS6uqg8kiWG/KKSYO3bR9"

static char path[64];
static char msgs[4096];

static void report(void *ctx, const char *msg)
{
    (void)ctx;
    strncat(msgs, msg, sizeof msgs - strlen(msgs) - 2);
    strcat(msgs, "\n");
}

static int load(const char *text, struct auth_users *u)
{
    int fd;

    snprintf(path, sizeof path, "/tmp/cohttpd-htpasswd-XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    msgs[0] = '\0';
    fd = auth_users_load(path, u, report, NULL);
    unlink(path);
    return fd;
}

Test(auth_file, supported_hashes_are_taken_and_found_by_name)
{
    struct auth_users u;
    int n = load("# staff\n\ncarol:" YESCRYPT "\r\nalice:" BCRYPT "\nbob:" SHA512 "  \n", &u);

    cr_assert_eq(n, 3, "%s", msgs);
    cr_assert_str_eq(auth_users_find(&u, "alice", 5)->hash, BCRYPT);
    cr_assert_str_eq(auth_users_find(&u, "bob", 3)->hash, SHA512);
    cr_assert_str_eq(auth_users_find(&u, "carol", 5)->hash, YESCRYPT);
    cr_assert_null(auth_users_find(&u, "alic", 4));
    cr_assert_null(auth_users_find(&u, "alicex", 6));
    cr_assert_null(auth_users_find(&u, "", 0));
    auth_users_free(&u);
}

Test(auth_file, legacy_and_plain_entries_are_refused_with_their_line)
{
    struct auth_users u;
    int n =
        load("dave:$apr1$Bg4/gn6a$jw6c.sPK9wUkn1k4B7mWx0\nerin:{SHA}8Wyi36Noi/CMek4hVErxW9WYy3A=\n"
             "frank:pw3\ngina:$1$abcdefgh$0123456789012345678901\nhank:$2y$05$short\n"
             "nocolon\nalice:" BCRYPT "\n",
             &u);

    cr_assert_eq(n, -1);
    cr_assert_not_null(strstr(msgs, ":1: user 'dave' has an Apache MD5 ($apr1$) hash"), "%s", msgs);
    cr_assert_not_null(strstr(msgs, ":2: user 'erin' has an unsalted SHA-1"), "%s", msgs);
    cr_assert_not_null(strstr(msgs, ":3: user 'frank' has plain text"), "%s", msgs);
    cr_assert_not_null(strstr(msgs, ":4: user 'gina' has an MD5-crypt"), "%s", msgs);
    cr_assert_not_null(strstr(msgs, ":5: user 'hank' has a malformed hash"), "%s", msgs);
    cr_assert_not_null(strstr(msgs, ":6: not a 'user:hash' line"), "%s", msgs);
    cr_assert_not_null(strstr(msgs, "htpasswd -B"), "%s", msgs);
    cr_assert_null(strstr(msgs, ":7:"), "%s", msgs);
}

Test(auth_file, a_user_listed_twice_is_refused)
{
    struct auth_users u;

    cr_assert_eq(load("alice:" BCRYPT "\nalice:" SHA512 "\n", &u), -1);
    cr_assert_not_null(strstr(msgs, "user 'alice' is listed twice"), "%s", msgs);
}

Test(auth_file, a_missing_file_is_one_message)
{
    msgs[0] = '\0';
    cr_assert_eq(auth_file_check("/nonexistent/htpasswd", report, NULL), -1);
    cr_assert_not_null(strstr(msgs, "/nonexistent/htpasswd: cannot read the password file"), "%s",
                       msgs);
}

Test(auth_file, realms_must_fit_a_quoted_string)
{
    cr_assert(auth_realm_ok("Members only"));
    cr_assert(auth_realm_ok("Zone réservée"));
    cr_assert_not(auth_realm_ok(""));
    cr_assert_not(auth_realm_ok("say \"hi\""));
    cr_assert_not(auth_realm_ok("back\\slash"));
    cr_assert_not(auth_realm_ok("tab\there"));
}
