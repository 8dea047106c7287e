/* date.c - HTTP-dates (RFC 9110 §5.6.7): formatting, parsing, a per-second cache. */
#include "http/date.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const wkday_short[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wkday_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday"};
static const char *const month_short[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

#define SECS_PER_DAY INT64_C(86400)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil); valid for any year an int64 holds a few times over. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

struct civil {
    int64_t year;
    unsigned month, day; /* 1-12, 1-31 */
};

static struct civil civil_from_days(int64_t z)
{
    int64_t era;
    unsigned doe, yoe, doy, mp, m;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    m = mp < 10 ? mp + 3 : mp - 9;
    return (struct civil){
        .year = (int64_t)yoe + era * 400 + (m <= 2),
        .month = m,
        .day = doy - (153 * mp + 2) / 5 + 1,
    };
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Writes v as exactly n decimal digits (v < 10^n). */
static void put_digits(char *out, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void http_date_format(int64_t t, char out[HTTP_DATE_LEN + 1])
{
    int64_t days, secs;
    struct civil c;
    unsigned wd;

    if (t < HTTP_DATE_MIN)
        t = HTTP_DATE_MIN;
    if (t > HTTP_DATE_MAX)
        t = HTTP_DATE_MAX;
    days = t / SECS_PER_DAY;
    secs = t % SECS_PER_DAY;
    if (secs < 0) {
        secs += SECS_PER_DAY;
        days--;
    }
    c = civil_from_days(days);
    wd = (unsigned)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    memcpy(out, "Thu, 01 Jan 1970 00:00:00 GMT", HTTP_DATE_LEN + 1);
    memcpy(out, wkday_short[wd], 3);
    put_digits(out + 5, c.day, 2);
    memcpy(out + 8, month_short[c.month - 1], 3);
    put_digits(out + 12, (unsigned)c.year, 4);
    put_digits(out + 17, (unsigned)(secs / 3600), 2);
    put_digits(out + 20, (unsigned)(secs / 60 % 60), 2);
    put_digits(out + 23, (unsigned)(secs % 60), 2);
}

/* A cursor over the input being parsed. */
struct scan {
    const char *s;
    size_t len, i;
};

static bool scan_lit(struct scan *sc, const char *lit)
{
    size_t n = strlen(lit);

    if (sc->len - sc->i < n || memcmp(sc->s + sc->i, lit, n) != 0)
        return false;
    sc->i += n;
    return true;
}

/* Reads exactly n digits (a leading space stands for 0 when space_ok). */
static bool scan_digits(struct scan *sc, int n, bool space_ok, unsigned *v)
{
    *v = 0;
    if (sc->len - sc->i < (size_t)n)
        return false;
    for (int k = 0; k < n; k++) {
        char c = sc->s[sc->i + (size_t)k];

        if (c == ' ' && space_ok && k == 0)
            continue;
        if (c < '0' || c > '9')
            return false;
        *v = *v * 10 + (unsigned)(c - '0');
    }
    sc->i += (size_t)n;
    return true;
}

/* Matches one of names[0..count) at the cursor; returns its index or -1. */
static int scan_name(struct scan *sc, const char *const *names, int count)
{
    for (int k = 0; k < count; k++)
        if (scan_lit(sc, names[k]))
            return k;
    return -1;
}

struct tm_fields {
    int64_t year;
    unsigned month, day, hour, min, sec; /* month 1-12 */
};

static bool scan_time(struct scan *sc, struct tm_fields *f)
{
    return scan_digits(sc, 2, false, &f->hour) && scan_lit(sc, ":") &&
           scan_digits(sc, 2, false, &f->min) && scan_lit(sc, ":") &&
           scan_digits(sc, 2, false, &f->sec);
}

static bool scan_month(struct scan *sc, struct tm_fields *f)
{
    int m = scan_name(sc, month_short, 12);

    f->month = (unsigned)(m + 1);
    return m >= 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool parse_imf(struct scan *sc, struct tm_fields *f)
{
    unsigned y;

    if (scan_name(sc, wkday_short, 7) < 0 || !scan_lit(sc, ", ") ||
        !scan_digits(sc, 2, false, &f->day) || !scan_lit(sc, " ") || !scan_month(sc, f) ||
        !scan_lit(sc, " ") || !scan_digits(sc, 4, false, &y) || !scan_lit(sc, " ") ||
        !scan_time(sc, f) || !scan_lit(sc, " GMT"))
        return false;
    f->year = y;
    return true;
}

/* The year ending in yy that is at most 50 years after now's year. */
static int64_t year_from_two_digits(unsigned yy, int64_t now)
{
    int64_t now_year = civil_from_days(now / SECS_PER_DAY).year;
    int64_t y = now_year - now_year % 100 + yy;

    if (y > now_year + 50)
        y -= 100;
    else if (y + 100 <= now_year + 50)
        y += 100;
    return y;
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static bool parse_rfc850(struct scan *sc, int64_t now, struct tm_fields *f)
{
    unsigned yy;

    if (scan_name(sc, wkday_long, 7) < 0 || !scan_lit(sc, ", ") ||
        !scan_digits(sc, 2, false, &f->day) || !scan_lit(sc, "-") || !scan_month(sc, f) ||
        !scan_lit(sc, "-") || !scan_digits(sc, 2, false, &yy) || !scan_lit(sc, " ") ||
        !scan_time(sc, f) || !scan_lit(sc, " GMT"))
        return false;
    f->year = year_from_two_digits(yy, now);
    return true;
}

/* "Sun Nov  6 08:49:37 1994" */
static bool parse_asctime(struct scan *sc, struct tm_fields *f)
{
    unsigned y;

    if (scan_name(sc, wkday_short, 7) < 0 || !scan_lit(sc, " ") || !scan_month(sc, f) ||
        !scan_lit(sc, " ") || !scan_digits(sc, 2, true, &f->day) || !scan_lit(sc, " ") ||
        !scan_time(sc, f) || !scan_lit(sc, " ") || !scan_digits(sc, 4, false, &y))
        return false;
    f->year = y;
    return true;
}

static bool fields_valid(const struct tm_fields *f)
{
    return f->day >= 1 && f->day <= days_in_month(f->year, f->month) && f->hour <= 23 &&
           f->min <= 59 && f->sec <= 60;
}

int http_date_parse_at(const char *s, size_t len, int64_t now, int64_t *unix_seconds)
{
    struct scan sc = {.s = s, .len = len, .i = 0};
    struct tm_fields f = {0};
    bool ok;

    if (!s)
        return -1;
    if (len > 3 && s[3] == ',')
        ok = parse_imf(&sc, &f);
    else if (len > 3 && s[3] == ' ')
        ok = parse_asctime(&sc, &f);
    else
        ok = parse_rfc850(&sc, now, &f);
    if (!ok || sc.i != len || !fields_valid(&f))
        return -1;
    *unix_seconds = days_from_civil(f.year, f.month, f.day) * SECS_PER_DAY +
                    (int64_t)(f.hour * 3600 + f.min * 60 + f.sec);
    return 0;
}

int http_date_parse(const char *s, size_t len, int64_t *unix_seconds)
{
    return http_date_parse_at(s, len, (int64_t)time(NULL), unix_seconds);
}

const char *http_date_cached(struct http_date_cache *c, int64_t now)
{
    if (!c->valid || c->second != now) {
        http_date_format(now, c->text);
        c->second = now;
        c->valid = true;
    }
    return c->text;
}

struct http_head_lines *http_head_lines_new(const char *server)
{
    size_t server_len = server ? strlen(server) : 0;
    size_t len = 6 + HTTP_DATE_LEN + 2 + (server_len ? 8 + server_len + 2 : 0);
    struct http_head_lines *h = calloc(1, sizeof *h + len + 1);
    char *p;

    if (!h)
        return NULL;
    p = h->text;
    memcpy(p, "Date: ", 6);
    http_date_format(0, p + 6);
    memcpy(p + 6 + HTTP_DATE_LEN, "\r\n", 2);
    p += 6 + HTTP_DATE_LEN + 2;
    if (server_len) {
        memcpy(p, "Server: ", 8);
        memcpy(p + 8, server, server_len);
        memcpy(p + 8 + server_len, "\r\n", 2);
    }
    h->len = len;
    return h;
}
