/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cron expressions: the parser, the next fire time in a zone, and ISO-8601
 * times for showing and entering fire times.
 *
 * Design: cron_next() walks stretches of constant UTC offset (between two
 * transitions of the zone). Inside a stretch, wall clock and UTC differ by a
 * constant, so the next matching wall-clock minute is found on the calendar
 * by jumping month, day, hour and minute with bit masks. Then:
 *   - A match that falls in the spring-forward gap at the end of a stretch
 *     fires at the transition instant. Several matches in one gap (for
 *     "0,30 2 * * *" in New York) all map to that instant and fire once, and
 *     so does a match at the first wall time after the gap (03:00 there).
 *   - A match whose wall time was already shown before a fall-back (its
 *     second pass) is skipped unless the hour field starts with `*` (plain
 *     `*`, or `*` with a step): such expressions keep their pace in real
 *     time and fire in both passes.
 * For the day-of-month/day-of-week rule, a field whose text starts with `*`
 * or `?` counts as a star, as in the classic cron: if either day field is a
 * star both masks must match (the star one usually matches every day, but
 * `*` + step still restricts); if neither is, a day matching either fires.
 *
 * Field details: "a/step" runs from a to the end of the field. In
 * day-of-week, 7 is Sunday like 0, `*` and "a/step" stop at 6 (so 7 adds no
 * second Sunday), and a range may end at Sunday ("SAT-SUN", "5-0").
 * Because only day fields starting with `*` can make both masks matter,
 * every parsed expression fires within a few years, except contrived ones
 * like February 29 with a stepped civil_weekday star that allows only Sunday;
 * cron_next() reports those as never firing when the next fire is more than
 * 30 years away.
 */
#include "cron.h"
#include "civil.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#define CRON_TEXT_MAX 4096               /* longest expression accepted */
#define DAY           86400              /* seconds in a calendar day */
#define HORIZON_YEARS 30                 /* cron_next gives up after this */
#define YEAR_SECS     31556952           /* mean Gregorian year */
#define DST_WINDOW    187200             /* 52 h: widest possible repeat */
#define T_MIN         (-62135596800LL)   /* 0001-01-01T00:00:00Z */
#define T_MAX         (253402300799LL)   /* 9999-12-31T23:59:59Z */
#define T_CLAMP       ((int64_t)1 << 50) /* formatting clamps beyond this */

/* What one of the five fields accepts, for parsing and for messages. */
struct field_spec {
    const char *name;         /* "minute", ... as used in messages */
    int lo, hi;               /* numbers accepted */
    int star_hi;              /* end of `*` and of `a/step` (7 is an alias) */
    const char *const *names; /* three-letter names for lo, lo+1, ... */
    const char *expect;       /* "a number 0-59", for messages */
    bool day;                 /* `?` allowed */
};

static const char *const month_abbr[] = {"JAN", "FEB", "MAR", "APR",
                                         "MAY", "JUN", "JUL", "AUG",
                                         "SEP", "OCT", "NOV", "DEC"};
static const char *const wday_abbr[] = {"SUN", "MON", "TUE", "WED",
                                        "THU", "FRI", "SAT"};
static const char *const month_full[] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

enum { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, F_COUNT };

static const struct field_spec field_specs[F_COUNT] = {
    {"minute", 0, 59, 59, NULL, "a number 0-59", false},
    {"hour", 0, 23, 23, NULL, "a number 0-23", false},
    {"day-of-month", 1, 31, 31, NULL, "a number 1-31", true},
    {"month", 1, 12, 12, month_abbr, "a number 1-12 or a name JAN-DEC", false},
    {"day-of-week", 0, 7, 6, wday_abbr, "a number 0-7 or a name SUN-SAT", true},
};

/* Presets and the five fields each stands for. */
static const struct {
    const char *name;   /* with the '@' */
    const char *fields; /* expansion */
} presets[] = {
    {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
    {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
};

/* State of a parse; offsets in messages count from `text`. */
struct parser {
    const char *text;             /* whole expression */
    const char *p;                /* cursor */
    const char *end;              /* end of the current field */
    const struct field_spec *fld; /* field being parsed, or NULL */
    struct weir_err *err;         /* where messages go (may be NULL) */
    int *err_offset;              /* where the offset goes (may be NULL) */
};

/* ---- calendar ------------------------------------------------------------ */

/* ---- parsing ------------------------------------------------------------- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Fill err with the field's name in front, and the offset of `at`. */
WEIR_PRINTF(4, 5)
static int fail_at(struct parser *ps, const char *at, int code, const char *fmt,
                   ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ps->err_offset != NULL)
        *ps->err_offset = (int)(at - ps->text);
    if (ps->fld == NULL)
        return weir_err_set(ps->err, code, "%s", msg);
    return weir_err_set(ps->err, code, "%s field: %s", ps->fld->name, msg);
}

/* A stray byte at `at`; `expect` (may be NULL) says what would fit. */
static int fail_unexpected(struct parser *ps, const char *at,
                           const char *expect)
{
    unsigned char ch = (unsigned char)*at;
    char what[24];

    if (ch > ' ' && ch < 0x7f)
        snprintf(what, sizeof(what), "character '%c'", ch);
    else
        snprintf(what, sizeof(what), "byte 0x%02x", ch);
    if (expect == NULL)
        return fail_at(ps, at, WEIR_EPARSE, "unexpected %s", what);
    return fail_at(ps, at, WEIR_EPARSE, "unexpected %s (expected %s)", what,
                   expect);
}

/* Tokens echoed in messages are cut short so the message stays readable. */
static int tok_len(const char *s, const char *e)
{
    return e - s > 20 ? 20 : (int)(e - s);
}

/* A number or a name at the cursor, checked against the field's range. */
static int parse_value(struct parser *ps, int *out)
{
    const struct field_spec *f = ps->fld;
    const char *s = ps->p, *q = s;

    if (q < ps->end && is_digit(*q)) {
        long v = 0;

        for (; q < ps->end && is_digit(*q); q++)
            v = v < 100000 ? v * 10 + (*q - '0') : v;
        if (v < f->lo || v > f->hi)
            return fail_at(ps, s, WEIR_EPARSE, "%.*s is out of range %d-%d",
                           tok_len(s, q), s, f->lo, f->hi);
        *out = (int)v;
        ps->p = q;
        return 0;
    }
    if (q < ps->end && is_alpha(*q)) {
        while (q < ps->end && is_alpha(*q))
            q++;
        if (f->names == NULL)
            return fail_at(ps, s, WEIR_EPARSE, "expected %s, got \"%.*s\"",
                           f->expect, tok_len(s, q), s);
        for (int i = 0; q - s == 3 && i <= f->star_hi - f->lo; i++) {
            if (strncasecmp(s, f->names[i], 3) == 0) {
                *out = f->lo + i;
                ps->p = q;
                return 0;
            }
        }
        return fail_at(ps, s, WEIR_EPARSE,
                       "unknown name \"%.*s\" (expected %s-%s)", tok_len(s, q),
                       s, f->names[0], f->names[f->star_hi - f->lo]);
    }
    if (q == ps->end || *q == ',')
        return fail_at(ps, s, WEIR_EPARSE, "expected %s", f->expect);
    return fail_unexpected(ps, s, f->expect);
}

/* The number after '/'; the cursor is just past the '/'. */
static int parse_step(struct parser *ps, int *step)
{
    const char *s = ps->p;
    long v = 0;

    for (; ps->p < ps->end && is_digit(*ps->p); ps->p++)
        v = v < 100000 ? v * 10 + (*ps->p - '0') : v;
    if (ps->p == s || v == 0)
        return fail_at(ps, s, WEIR_EPARSE, "step must be a positive number");
    *step = (int)v;
    return 0;
}

/* One list item: `*`, `?`, a, a-b, each optionally with /step. */
static int parse_item(struct parser *ps, uint64_t *bits)
{
    const struct field_spec *f = ps->fld;
    const char *start = ps->p;
    int lo = 0, hi = 0, step = 1, rc;
    bool range = false;

    if (ps->p < ps->end && (*ps->p == '*' || *ps->p == '?')) {
        if (*ps->p == '?' && !f->day)
            return fail_at(ps, ps->p, WEIR_EPARSE,
                           "? is only allowed in day-of-month and "
                           "day-of-week");
        lo = f->lo;
        hi = f->star_hi;
        range = true;
        ps->p++;
    } else {
        if ((rc = parse_value(ps, &lo)) != 0)
            return rc;
        hi = lo;
        if (ps->p < ps->end && *ps->p == '-') {
            ps->p++;
            if ((rc = parse_value(ps, &hi)) != 0)
                return rc;
            if (f->lo == 0 && f->hi == 7 && hi == 0 && lo > 0)
                hi = 7; /* "SAT-SUN": Sunday as 7 ends a civil_weekday range */
            if (hi < lo)
                return fail_at(ps, start, WEIR_EPARSE,
                               "range %.*s is reversed (start after end)",
                               tok_len(start, ps->p), start);
            range = true;
        }
    }
    if (ps->p < ps->end && *ps->p == '/') {
        ps->p++;
        if ((rc = parse_step(ps, &step)) != 0)
            return rc;
        if (!range) /* "5/15" means 5 to the end of the field, by 15 */
            hi = lo > f->star_hi ? lo : f->star_hi;
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= (uint64_t)1 << v;
    return 0;
}

/* A comma-separated list of items filling the cursor's field. */
static int parse_field(struct parser *ps, uint64_t *bits)
{
    *bits = 0;
    for (;;) {
        int rc = parse_item(ps, bits);

        if (rc != 0)
            return rc;
        if (ps->p == ps->end)
            return 0;
        if (*ps->p != ',')
            return fail_unexpected(ps, ps->p, NULL);
        ps->p++;
    }
}

/* "April, June or September" into buf, for months in mask. */
static void month_list(uint16_t mask, char *buf, size_t len)
{
    int n = __builtin_popcount(mask), k = 0;
    size_t used = 0;

    buf[0] = '\0';
    for (int m = 1; m <= 12 && used < len; m++) {
        if (!(mask & (1u << m)))
            continue;
        k++;
        used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                 k == 1 ? "" : (k == n ? " or " : ", "),
                                 month_full[m - 1]);
    }
}

/*
 * With day-of-week `*` (both masks must match), a day-of-month list that
 * misses every chosen month can never fire; say which days and months.
 */
static int check_never(struct parser *ps, const struct cron_expr *c,
                       const char *mday_text)
{
    static const int longest[13] = {0,  31, 29, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
    char months[128];
    int d1 = 0, d2 = 0;

    if (c->mday_star || !c->wday_star)
        return 0;
    for (int m = 1; m <= 12; m++) {
        uint64_t fits = ((uint64_t)1 << (longest[m] + 1)) - 2;

        if ((c->months & (1u << m)) && (c->mdays & fits))
            return 0;
    }
    /* Only days 30 and 31 can miss every month (29 fits leap Februaries). */
    for (int d = 1; d <= 31; d++) {
        if (c->mdays & (1u << d)) {
            if (d1 == 0)
                d1 = d;
            else
                d2 = d;
        }
    }
    month_list(c->months, months, sizeof(months));
    ps->fld = NULL;
    if (d2 != 0)
        return fail_at(ps, mday_text, WEIR_ENEVER,
                       "days %d and %d never occur in %s", d1, d2, months);
    return fail_at(ps, mday_text, WEIR_ENEVER, "day %d never occurs in %s", d1,
                   months);
}

/* Split text into fields; *count may exceed 5 (starts/ends hold 6). */
static void split_fields(const char *text, const char *starts[6],
                         const char *ends[6], int *count)
{
    const char *p = text;
    int n = 0;

    for (;;) {
        while (is_blank(*p))
            p++;
        if (*p == '\0')
            break;
        if (n < 6)
            starts[n] = p;
        while (*p != '\0' && !is_blank(*p))
            p++;
        if (n < 6)
            ends[n] = p;
        n++;
    }
    *count = n;
}

static int parse_fields(struct parser *ps, struct cron_expr *out)
{
    const char *starts[6], *ends[6];
    uint64_t bits[F_COUNT];
    struct cron_expr c;
    int n, rc;

    split_fields(ps->text, starts, ends, &n);
    if (n != F_COUNT)
        return fail_at(ps, n > F_COUNT ? starts[F_COUNT] : ps->p, WEIR_EPARSE,
                       "expected 5 fields (minute hour day-of-month month "
                       "day-of-week), got %d",
                       n);
    for (int i = 0; i < F_COUNT; i++) {
        ps->fld = &field_specs[i];
        ps->p = starts[i];
        ps->end = ends[i];
        if ((rc = parse_field(ps, &bits[i])) != 0)
            return rc;
    }
    memset(&c, 0, sizeof(c));
    c.minutes = bits[F_MINUTE];
    c.hours = (uint32_t)bits[F_HOUR];
    c.mdays = (uint32_t)bits[F_MDAY];
    c.months = (uint16_t)bits[F_MONTH];
    c.wdays = (uint8_t)((bits[F_WDAY] | bits[F_WDAY] >> 7) & 0x7f);
    c.hour_star = *starts[F_HOUR] == '*';
    c.mday_star = *starts[F_MDAY] == '*' || *starts[F_MDAY] == '?';
    c.wday_star = *starts[F_WDAY] == '*' || *starts[F_WDAY] == '?';
    if ((rc = check_never(ps, &c, starts[F_MDAY])) != 0)
        return rc;
    *out = c;
    return 0;
}

/* "@daily" and friends; the cursor is on the '@'. */
static int parse_preset(struct parser *ps, struct cron_expr *out)
{
    const char *s = ps->p, *e = s, *rest;
    struct parser sub = *ps;

    while (*e != '\0' && !is_blank(*e))
        e++;
    for (rest = e; is_blank(*rest); rest++)
        ;
    if ((size_t)(e - s) == strlen("@reboot") &&
        strncasecmp(s, "@reboot", (size_t)(e - s)) == 0)
        return fail_at(ps, s, WEIR_EPARSE,
                       "@reboot is not supported: a cron trigger fires at "
                       "times, not at startup");
    for (size_t i = 0; i < WEIR_ARRAY_LEN(presets); i++) {
        if ((size_t)(e - s) != strlen(presets[i].name) ||
            strncasecmp(s, presets[i].name, (size_t)(e - s)) != 0)
            continue;
        if (*rest != '\0')
            return fail_at(ps, rest, WEIR_EPARSE, "unexpected text after %s",
                           presets[i].name);
        sub.text = sub.p = presets[i].fields;
        sub.err_offset = NULL;
        return parse_fields(&sub, out);
    }
    /* Echo the name only up to a byte that would garble the message. */
    for (e = s; e < s + 20 && *e > ' ' && *e < 0x7f; e++)
        ;
    return fail_at(ps, s, WEIR_EPARSE,
                   "unknown preset \"%.*s\" (expected @hourly, @daily, "
                   "@midnight, @weekly, @monthly, @yearly or @annually)",
                   (int)(e - s), s);
}

int cron_parse(const char *text, struct cron_expr *out, struct weir_err *err,
               int *err_offset)
{
    struct parser ps = {text, text, NULL, NULL, err, err_offset};
    size_t len;

    WEIR_ASSERT(text != NULL && out != NULL);
    len = strnlen(text, CRON_TEXT_MAX + 1);
    if (len > CRON_TEXT_MAX)
        return fail_at(&ps, text + CRON_TEXT_MAX, WEIR_EPARSE,
                       "expression is longer than %d bytes", CRON_TEXT_MAX);
    while (is_blank(*ps.p))
        ps.p++;
    if (*ps.p == '@')
        return parse_preset(&ps, out);
    ps.p = text + len; /* where "got N fields" points when too few */
    return parse_fields(&ps, out);
}

/* ---- next fire time ------------------------------------------------------ */

static int32_t off_at(const struct tz *tz, int64_t t)
{
    return tz != NULL ? tz_offset_at(tz, t) : 0;
}

static int64_t next_change(const struct tz *tz, int64_t t)
{
    return tz != NULL ? tz_next_transition(tz, t) : INT64_MAX;
}

/* Lowest set bit at or above `from`, or -1. */
static int next_bit(uint64_t mask, int from)
{
    if (from >= 64)
        return -1;
    if (from < 0)
        from = 0;
    mask &= ~(uint64_t)0 << from;
    return mask != 0 ? __builtin_ctzll(mask) : -1;
}

/* Days of month m of year y on which the expression may fire (bit d). */
static uint32_t day_mask(const struct cron_expr *c, int64_t y, int m)
{
    int wd = civil_weekday(civil_days_from_date(y, m, 1));
    uint32_t valid =
        (uint32_t)(((uint64_t)1 << (civil_days_in_month(y, m) + 1)) - 2);
    /* Bit k of rot: civil_weekday of day k+1 is chosen; copied to every week.
     */
    uint64_t rot =
        ((unsigned)c->wdays >> wd | (unsigned)c->wdays << (7 - wd)) & 0x7f;
    uint32_t dow = (uint32_t)((rot * 0x10204081u) << 1) & valid;
    uint32_t dom = c->mdays & valid;

    return (c->mday_star || c->wday_star) ? (dom & dow) : (dom | dow);
}

/* Calendar position packed so that a later hour compares greater. */
static int64_t hour_key(int64_t y, int m, int d, int h)
{
    return ((y * 13 + m) * 32 + d) * 25 + h;
}

/* The hour_key() of local time t. */
static int64_t time_key(int64_t t)
{
    int64_t days = civil_floor_div(t, DAY), y;
    int m, d;

    civil_date_from_days(days, &y, &m, &d);
    return hour_key(y, m, d, (int)((t - days * DAY) / 3600));
}

/*
 * The first wall-clock minute at or after `from` (local seconds, a whole
 * minute) that matches and is before `limit` (INT64_MAX: within the
 * horizon); false when there is none.
 */
static bool match_from(const struct cron_expr *c, int64_t from, int64_t limit,
                       int64_t *out)
{
    int64_t days = civil_floor_div(from, DAY), y, y_end, mask_y = 0, lim_key;
    int sod = (int)(from - days * DAY), m, d, mask_m = 0;
    int h = sod / 3600, mi = sod % 3600 / 60;
    uint32_t dm = 0;

    lim_key = limit == INT64_MAX ? INT64_MAX : time_key(limit);
    civil_date_from_days(days, &y, &m, &d);
    /*
     * Each step moves one field to its next allowed value (carrying into
     * the field above when there is none) and resets the fields below.
     */
    for (y_end = y + HORIZON_YEARS + 1; y <= y_end;) {
        int nm = next_bit(c->months, m), nd, nh, nmi;

        if (nm != m) {
            if (nm < 0)
                y++;
            m = nm < 0 ? 1 : nm;
            d = 1;
            h = mi = 0;
            continue;
        }
        WEIR_ASSERT(m >= 1 && m <= 12); /* sanitize() masks other months */
        if (lim_key != INT64_MAX && hour_key(y, m, d, h) > lim_key)
            return false;
        if (mask_y != y || mask_m != m) {
            dm = day_mask(c, y, m);
            mask_y = y;
            mask_m = m;
        }
        if ((nd = next_bit(dm, d)) != d) {
            m += nd < 0;
            d = nd < 0 ? 1 : nd;
            h = mi = 0;
            continue;
        }
        if ((nh = next_bit(c->hours, h)) != h) {
            d += nh < 0;
            h = nh < 0 ? 0 : nh;
            mi = 0;
            continue;
        }
        if ((nmi = next_bit(c->minutes, mi)) < 0) {
            h++;
            mi = 0;
            continue;
        }
        *out = civil_days_from_date(y, m, d) * DAY + (int64_t)h * 3600 +
               (int64_t)nmi * 60;
        return *out < limit;
    }
    return false;
}

/*
 * Whether wall time `local`, shown at instant u, was shown before (the
 * second pass of a fall-back). If so *lo moves to where this stretch's wall
 * clock passes the end of the first pass, so the repeat is skipped at once.
 */
static bool is_repeat(const struct tz *tz, int64_t local, int64_t u,
                      int64_t *lo)
{
    int64_t first[2], s;

    if (tz_next_transition(tz, u - DST_WINDOW) > u)
        return false;
    if (tz_local_to_utc(tz, local, first) < 1 || first[0] >= u)
        return false;
    s = tz_next_transition(tz, first[0]);
    *lo = s + tz_offset_at(tz, s - 1) - tz_offset_at(tz, u);
    if (*lo <= u)
        *lo = u + 1;
    return true;
}

/*
 * The first match at or after `from` into *match, reusing the previous
 * answer (the first match at or after *match_for): it still holds when the
 * wall clock moved forward but not past it, and after a fall-back only the
 * few repeated hours before *match_for need a look.
 */
static bool next_match(const struct cron_expr *c, int64_t from, int64_t *match,
                       int64_t *match_for)
{
    int64_t earlier;

    if (*match_for == INT64_MAX || (from >= *match_for && *match < from)) {
        if (!match_from(c, from, INT64_MAX, match))
            return false;
    } else if (from < *match_for) {
        if (match_from(c, from, *match_for, &earlier))
            *match = earlier;
    }
    *match_for = from;
    return true;
}

/* Drop bits outside each field's range, so any struct is safe to walk. */
static void sanitize(const struct cron_expr *in, struct cron_expr *c)
{
    *c = *in;
    c->minutes &= ((uint64_t)1 << 60) - 1;
    c->hours &= (1u << 24) - 1;
    c->mdays &= 0xfffffffeu;
    c->months &= 0x1ffe;
    c->wdays = (uint8_t)((c->wdays | c->wdays >> 7) & 0x7f);
}

int cron_next(const struct cron_expr *expr, const struct tz *tz, int64_t after,
              int64_t *next)
{
    struct cron_expr c;
    int64_t lo, probe, deadline, match = 0, match_for = INT64_MAX;

    if (after < T_MIN || after > T_MAX)
        return WEIR_ERANGE;
    sanitize(expr, &c);
    /*
     * Each pass looks at the stretch [lo, end) of constant offset. The first
     * probes at `after`, not at lo: when lo is itself a transition, the
     * stretch is empty and the gap that ends at lo is still looked at.
     */
    lo = after + 1;
    probe = after;
    deadline = after + (int64_t)HORIZON_YEARS * YEAR_SECS;
    for (int iter = 0; iter < 4096 && lo <= deadline; iter++) {
        int32_t off = off_at(tz, probe);
        int64_t end = next_change(tz, probe);
        int64_t from = civil_floor_div(lo + off + 59, 60) * 60;

        if (!next_match(&c, from, &match, &match_for))
            return WEIR_ENEVER;
        if (end == INT64_MAX || match - off < end) {
            if (match - off > deadline)
                return WEIR_ENEVER;
            if (!c.hour_star && tz != NULL &&
                is_repeat(tz, match, match - off, &lo)) {
                probe = lo;
                continue;
            }
            *next = match - off;
            return 0;
        }
        /* In the gap before the next stretch: fire when the gap ends. */
        if (off_at(tz, end) > off && match < end + off_at(tz, end)) {
            if (end > deadline)
                return WEIR_ENEVER;
            *next = end;
            return 0;
        }
        lo = probe = end;
    }
    return WEIR_ENEVER;
}

/* ---- ISO-8601 ------------------------------------------------------------ */

char *cron_format_time(int64_t utc, const struct tz *tz, char *buf, size_t len)
{
    int64_t local, days, y;
    int32_t off, aoff;
    int m, d, sod, n;

    if (len == 0)
        return buf;
    if (utc > T_CLAMP)
        utc = T_CLAMP;
    if (utc < -T_CLAMP)
        utc = -T_CLAMP;
    off = off_at(tz, utc);
    aoff = off < 0 ? -off : off;
    local = utc + off;
    days = civil_floor_div(local, DAY);
    sod = (int)(local - days * DAY);
    civil_date_from_days(days, &y, &m, &d);
    n = snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
                 (long long)y, m, d, sod / 3600, sod % 3600 / 60, sod % 60,
                 off < 0 ? '-' : '+', aoff / 3600, aoff % 3600 / 60);
    if (aoff % 60 != 0 && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, ":%02d", aoff % 60);
    return buf;
}

/* Exactly n digits at *p, advancing past them. */
static bool take_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* One character of `set` at *p (never the terminator), advancing past it. */
static bool take_char(const char **p, const char *set)
{
    if (**p == '\0' || strchr(set, **p) == NULL)
        return false;
    (*p)++;
    return true;
}

/* Seconds east of UTC for "Z", "+HH:MM" or "-HH:MM"; *has is false if none. */
static bool take_offset(const char **p, bool *has, int32_t *off)
{
    const char *s = *p;
    int oh, om;

    *has = **p != '\0';
    *off = 0;
    if (take_char(p, "Zz") || !*has)
        return true;
    if (!take_char(p, "+-") || !take_digits(p, 2, &oh) || !take_char(p, ":") ||
        !take_digits(p, 2, &om) || oh > 23 || om > 59) {
        *p = s; /* report the offset's start */
        return false;
    }
    *off = (*s == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    return true;
}

int cron_parse_time(const char *text, const struct tz *tz, int64_t *out,
                    struct weir_err *err)
{
    const char *p = text;
    int y, mo, d, h, mi, s = 0;
    int32_t off;
    bool has_off;
    int64_t local, first[2];

    if (!take_digits(&p, 4, &y) || !take_char(&p, "-") ||
        !take_digits(&p, 2, &mo) || !take_char(&p, "-") ||
        !take_digits(&p, 2, &d) || !take_char(&p, "Tt ") ||
        !take_digits(&p, 2, &h) || !take_char(&p, ":") ||
        !take_digits(&p, 2, &mi) ||
        (take_char(&p, ":") && !take_digits(&p, 2, &s)) ||
        !take_offset(&p, &has_off, &off) || *p != '\0')
        return weir_err_set(err, WEIR_EPARSE,
                            "time: expected YYYY-MM-DDTHH:MM[:SS] with an "
                            "optional Z or +HH:MM, at byte %d",
                            (int)(p - text));
    if (mo < 1 || mo > 12 || d < 1 || d > civil_days_in_month(y, mo))
        return weir_err_set(err, WEIR_EPARSE,
                            "time: %04d-%02d-%02d is not a date", y, mo, d);
    if (h > 23 || mi > 59 || s > 59)
        return weir_err_set(err, WEIR_EPARSE,
                            "time: %02d:%02d:%02d is not a time of day", h, mi,
                            s);
    local = civil_days_from_date(y, mo, d) * DAY + (int64_t)h * 3600 +
            (int64_t)mi * 60 + s;
    if (has_off)
        *out = local - off;
    else if (tz != NULL && tz_local_to_utc(tz, local, first) >= 0)
        *out = first[0];
    else
        *out = local;
    return 0;
}
