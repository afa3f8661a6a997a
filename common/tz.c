/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Time zones from TZif files (versions 1 to 3, RFC 8536), with the POSIX TZ
 * footer for instants after the last transition in the file.
 *
 * Design: a loaded zone is immutable and lives in a process-wide cache
 * keyed by (name, file path); the cache is guarded by one mutex and never
 * freed, so tz_free() has nothing to do and any thread may use a zone
 * without locking. Only UTC offsets are kept (names of abbreviations and
 * the isdst flags do not matter to callers). A zone never consults the TZ
 * variable or the C library's local time functions.
 */
#include "tz.h"
#include "civil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_NAME_MAX    128                /* longest accepted zone name */
#define TZ_FILE_MAX    262144             /* real files are under 4 KiB */
#define TZ_TRANS_MAX   8192               /* transitions in one file */
#define TZ_TYPES_MAX   256                /* local time types (RFC 8536) */
#define TZ_CHARS_MAX   4096               /* abbreviation bytes */
#define TZ_FOOTER_MAX  128                /* POSIX TZ string length */
#define TZ_OFF_MAX     93600              /* 26 h: |UTC offset| is below */
#define TZ_T_LIMIT     ((int64_t)1 << 50) /* instants are clamped to +-this */
#define TZ_RULE_FROM   (-2208988800LL)    /* 1900: rule-only files start here */
#define TZ_RULE_UNTIL  7258118400LL       /* 2200: rule changes kept in table */
#define DAY            86400              /* seconds in a calendar day */

/* How one end of daylight saving time is written in a POSIX TZ rule. */
enum rule_kind {
    RULE_JULIAN1, /* Jn: day 1-365 of the year, February 29 never counted */
    RULE_JULIAN0, /* n: day 0-365 of the year, February 29 counted */
    RULE_MONTH,   /* Mm.w.d: civil_weekday d of week w (5 = last) of month m */
};

struct rule_date {
    enum rule_kind kind; /* which form */
    int day;             /* JULIAN1/JULIAN0: the day number */
    int month;           /* MONTH: 1-12 */
    int week;            /* MONTH: 1-5 */
    int wday;            /* MONTH: 0 (Sunday) - 6 */
    int32_t time;        /* local seconds after midnight; -167h..167h */
};

/* A POSIX TZ string such as "EST5EDT,M3.2.0,M11.1.0", offsets east. */
struct tz_rule {
    int32_t std_off;        /* standard offset from UTC */
    int32_t dst_off;        /* daylight offset from UTC */
    bool has_dst;           /* false: std_off all year */
    struct rule_date start; /* DST starts, in standard local time */
    struct rule_date end;   /* DST ends, in daylight local time */
};

/* One change of offset produced by a rule in a given year. */
struct rule_event {
    int64_t at;  /* UTC instant of the change */
    int32_t off; /* offset in effect from `at` on */
    int order;   /* an end sorts before a start at one instant, so a rule
                    for DST all year (RFC 8536) never leaves DST */
};

struct tz {
    struct tz *next;     /* next zone in the cache */
    const char *name;    /* as given to tz_load() */
    const char *path;    /* file it came from; "" for the built-in UTC */
    int64_t *trans;      /* transition instants, strictly ascending */
    int32_t *offs;       /* offs[i]: offset from trans[i] on */
    int ntrans;          /* entries in trans and offs */
    int32_t off0;        /* offset before the first transition */
    bool has_rule;       /* the footer rule applies after trans[ntrans-1] */
    bool rule_first;     /* ...and before trans[0]: a file without a table */
    struct tz_rule rule; /* the footer, when has_rule */
};

static struct tz tz_utc = {.name = "UTC", .path = ""};
static struct tz tz_etc_utc = {.name = "Etc/UTC", .path = ""};

static pthread_mutex_t tz_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz *tz_cache; /* loaded zones; never freed */

static int64_t clamp_t(int64_t t)
{
    if (t > TZ_T_LIMIT)
        return TZ_T_LIMIT;
    if (t < -TZ_T_LIMIT)
        return -TZ_T_LIMIT;
    return t;
}

/* ---- POSIX TZ footer ---------------------------------------------------- */

static bool is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A zone abbreviation: letters, or <...> with letters, digits, '+', '-'. */
static const char *rule_name(const char *p)
{
    const char *q = p;

    if (*p == '<') {
        for (q = p + 1; is_alpha(*q) || is_digit(*q) || *q == '+' || *q == '-';
             q++)
            ;
        return (*q == '>' && q > p + 1) ? q + 1 : NULL;
    }
    while (is_alpha(*q))
        q++;
    return q > p ? q : NULL;
}

/* Up to three digits, 0..max; returns the end or NULL. */
static const char *rule_num(const char *p, int max, int *out)
{
    int v = 0, n = 0;

    while (is_digit(*p) && n < 3) {
        v = v * 10 + (*p++ - '0');
        n++;
    }
    if (n == 0 || v > max)
        return NULL;
    *out = v;
    return p;
}

/* [+-]hh[:mm[:ss]] with hh up to max_h, as signed seconds. */
static const char *rule_hms(const char *p, int max_h, int32_t *out)
{
    int sign = 1, h = 0, m = 0, s = 0;

    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    p = rule_num(p, max_h, &h);
    if (p != NULL && *p == ':') {
        p = rule_num(p + 1, 59, &m);
        if (p != NULL && *p == ':')
            p = rule_num(p + 1, 59, &s);
    }
    if (p != NULL)
        *out = sign * (h * 3600 + m * 60 + s);
    return p;
}

/* One transition date with its optional "/time" (default 02:00). */
static const char *rule_date_parse(const char *p, struct rule_date *d)
{
    d->time = 2 * 3600;
    if (*p == 'M') {
        d->kind = RULE_MONTH;
        p = rule_num(p + 1, 12, &d->month);
        if (p == NULL || *p != '.' || d->month < 1)
            return NULL;
        p = rule_num(p + 1, 5, &d->week);
        if (p == NULL || *p != '.' || d->week < 1)
            return NULL;
        p = rule_num(p + 1, 6, &d->wday);
    } else {
        int v = 0, n = 0;

        d->kind = *p == 'J' ? RULE_JULIAN1 : RULE_JULIAN0;
        if (*p == 'J')
            p++;
        while (is_digit(*p) && n++ < 4)
            v = v * 10 + (*p++ - '0');
        if (n == 0 || v > 365 || (d->kind == RULE_JULIAN1 && v < 1))
            return NULL;
        d->day = v;
    }
    if (p != NULL && *p == '/')
        p = rule_hms(p + 1, 167, &d->time);
    return p;
}

/* Parse a NUL-terminated POSIX TZ string; false when malformed. */
static bool rule_parse(const char *s, struct tz_rule *r)
{
    int32_t off = 0;

    memset(r, 0, sizeof(*r));
    s = rule_name(s);
    if (s == NULL || (s = rule_hms(s, 24, &off)) == NULL)
        return false;
    r->std_off = -off;
    if (*s == '\0')
        return true;
    if ((s = rule_name(s)) == NULL)
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if ((s = rule_hms(s, 24, &off)) == NULL)
            return false;
        r->dst_off = -off;
    }
    if (*s == '\0')
        s = ",M3.2.0,M11.1.0"; /* the customary default, as C libraries do */
    if (*s != ',' || (s = rule_date_parse(s + 1, &r->start)) == NULL)
        return false;
    if (*s != ',' || (s = rule_date_parse(s + 1, &r->end)) == NULL)
        return false;
    return *s == '\0';
}

/* Days since the epoch of the local date a rule names in year y. */
static int64_t rule_day(const struct rule_date *d, int64_t y)
{
    int64_t first;
    int dim, day;

    if (d->kind == RULE_JULIAN1)
        return civil_days_before_year(y) + d->day - 1 +
               (civil_is_leap(y) && d->day >= 60);
    if (d->kind == RULE_JULIAN0)
        return civil_days_before_year(y) + d->day;
    first = civil_days_from_date(y, d->month, 1);
    dim = (d->month == 12
               ? 31
               : (int)(civil_days_from_date(y, d->month + 1, 1) - first));
    day = 1 + (d->wday - civil_weekday(first) + 7) % 7 + (d->week - 1) * 7;
    while (day > dim)
        day -= 7;
    return first + day - 1;
}

/*
 * The rule's offset changes for years y-2..y+2, sorted. Five years cover
 * any instant in year y even when transition times run days past midnight.
 */
static void rule_events(const struct tz_rule *r, int64_t y,
                        struct rule_event ev[10])
{
    int n = 0;

    for (int64_t yy = y - 2; yy <= y + 2; yy++) {
        ev[n++] = (struct rule_event){rule_day(&r->start, yy) * DAY +
                                          r->start.time - r->std_off,
                                      r->dst_off, 1};
        ev[n++] = (struct rule_event){rule_day(&r->end, yy) * DAY +
                                          r->end.time - r->dst_off,
                                      r->std_off, 0};
    }
    for (int i = 1; i < n; i++) {
        struct rule_event e = ev[i];
        int j = i;

        for (; j > 0 && (ev[j - 1].at > e.at ||
                         (ev[j - 1].at == e.at && ev[j - 1].order > e.order));
             j--)
            ev[j] = ev[j - 1];
        ev[j] = e;
    }
}

/* Offset at t under the rule; *next gets the next change or INT64_MAX. */
static int32_t rule_offset(const struct tz_rule *r, int64_t t, int64_t *next)
{
    struct rule_event ev[10] = {{0}};
    int32_t off = r->std_off;
    int i = 0;

    if (next != NULL)
        *next = INT64_MAX;
    if (!r->has_dst)
        return off;
    rule_events(r, civil_year_from_days(civil_floor_div(t, DAY)), ev);
    for (; i < 10 && ev[i].at <= t; i++)
        off = ev[i].off;
    /* The last event may share its instant with one outside the window. */
    for (; next != NULL && i < 9; i++) {
        if (ev[i + 1].at == ev[i].at)
            continue; /* the last change at one instant decides */
        if (ev[i].off != off) {
            *next = ev[i].at;
            break;
        }
    }
    return off;
}

/* ---- TZif files ---------------------------------------------------------- */

/* Counts from a TZif header, in the order the format stores them. */
struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars; /* RFC 8536 names */
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Bytes of a data block after its header, for times of `tsize` bytes. */
static size_t tzif_block_len(const struct tzif_counts *c, size_t tsize)
{
    return (size_t)c->time * tsize + c->time + (size_t)c->type * 6 + c->chars +
           (size_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

/* Read and check one 44-byte header; the limits bound every allocation. */
static bool tzif_header(const unsigned char *p, size_t len, int *version,
                        struct tzif_counts *c)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    *version = p[4] == 0 ? 1 : p[4] - '0';
    if (*version != 1 && (*version < 2 || *version > 9))
        return false;
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chars = be32(p + 40);
    return c->type >= 1 && c->type <= TZ_TYPES_MAX && c->time <= TZ_TRANS_MAX &&
           c->chars <= TZ_CHARS_MAX && c->leap <= TZ_TRANS_MAX &&
           (c->isut == 0 || c->isut == c->type) &&
           (c->isstd == 0 || c->isstd == c->type);
}

/* Fill z's transitions from one data block; false if it is inconsistent. */
static bool tzif_block(struct tz *z, const unsigned char *p,
                       const struct tzif_counts *c, size_t tsize)
{
    const unsigned char *idx = p + c->time * tsize;
    const unsigned char *types = idx + c->time;
    int32_t offs[TZ_TYPES_MAX] = {0};

    for (uint32_t i = 0; i < c->type; i++) {
        int32_t off = (int32_t)be32(types + (size_t)6 * i);

        if (off <= -TZ_OFF_MAX || off >= TZ_OFF_MAX || types[6 * i + 4] > 1 ||
            types[6 * i + 5] >= c->chars)
            return false;
        offs[i] = off;
    }
    z->off0 = offs[0];
    z->ntrans = (int)c->time;
    z->trans = malloc((c->time + 1) * sizeof(*z->trans));
    z->offs = malloc((c->time + 1) * sizeof(*z->offs));
    if (z->trans == NULL || z->offs == NULL)
        return false;
    for (uint32_t i = 0; i < c->time; i++) {
        const unsigned char *t = p + i * tsize;

        z->trans[i] = tsize == 8 ? be64(t) : (int32_t)be32(t);
        if (idx[i] >= c->type || (i > 0 && z->trans[i] <= z->trans[i - 1]))
            return false;
        z->offs[i] = offs[idx[i]];
    }
    return true;
}

/* Parse a whole TZif file into z; returns 0 or WEIR_EPARSE. */
static int tzif_parse(struct tz *z, const unsigned char *buf, size_t len,
                      struct weir_err *err)
{
    struct tzif_counts c;
    size_t tsize = 4, blen;
    int version;
    char footer[TZ_FOOTER_MAX + 1];

    if (!tzif_header(buf, len, &version, &c))
        goto bad;
    blen = tzif_block_len(&c, 4);
    if (version >= 2) {
        if (len - 44 < blen ||
            !tzif_header(buf + 44 + blen, len - 44 - blen, &version, &c))
            goto bad;
        buf += 44 + blen;
        len -= 44 + blen;
        tsize = 8;
        blen = tzif_block_len(&c, 8);
    }
    if (len - 44 < blen)
        goto bad;
    if (c.leap > 0)
        return weir_err_set(err, WEIR_EPARSE,
                            "time zone \"%s\": leap-second zone files are "
                            "not supported",
                            z->name);
    if (!tzif_block(z, buf + 44, &c, tsize))
        goto bad;
    if (version >= 2) {
        const unsigned char *f = buf + 44 + blen, *end = buf + len;
        const unsigned char *nl;

        if (f >= end || *f != '\n')
            goto bad;
        nl = memchr(f + 1, '\n', (size_t)(end - f - 1));
        if (nl == NULL || nl - f - 1 > TZ_FOOTER_MAX)
            goto bad;
        memcpy(footer, f + 1, (size_t)(nl - f - 1));
        footer[nl - f - 1] = '\0';
        if (footer[0] != '\0') {
            if (!rule_parse(footer, &z->rule))
                goto bad;
            z->has_rule = true;
        }
    }
    return 0;
bad:
    return weir_err_set(err, WEIR_EPARSE,
                        "time zone \"%s\": %s is not a valid TZif file",
                        z->name, z->path);
}

/* Read a file of at most TZ_FILE_MAX bytes into a new buffer. */
static int read_file(const char *name, const char *path, unsigned char **out,
                     size_t *len, struct weir_err *err)
{
    struct stat st;
    unsigned char *buf = NULL;
    size_t got = 0;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd < 0 && errno != ENOENT && errno != ENOTDIR && errno != EISDIR)
            rc = weir_err_set(err, WEIR_EIO, "time zone \"%s\": %s: %s", name,
                              path, strerror(errno));
        else
            rc = weir_err_set(err, WEIR_ENOTFOUND,
                              "unknown time zone \"%s\" (no file %s)", name,
                              path);
        goto out;
    }
    if (st.st_size > TZ_FILE_MAX) {
        rc = weir_err_set(err, WEIR_ETOOBIG,
                          "time zone \"%s\": %s is larger than %d bytes", name,
                          path, TZ_FILE_MAX);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = weir_err_set(err, WEIR_ENOMEM, "time zone \"%s\": out of memory",
                          name);
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    *out = buf;
    *len = got;
    buf = NULL;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

static void tz_destroy(struct tz *z)
{
    if (z == NULL)
        return;
    free(z->trans);
    free(z->offs);
    free((char *)z->name);
    free((char *)z->path);
    free(z);
}

/*
 * Append the footer rule's changes up to 2200 to the table, so that a
 * lookup in any year a schedule reaches is one binary search instead of a
 * rule evaluation. The rule still answers for instants past the table.
 */
static bool tz_extend(struct tz *z)
{
    int n = z->ntrans, cap = n + 2 * 320;
    int64_t t, next, *trans;
    int32_t *offs;

    if (!z->has_rule || !z->rule.has_dst)
        return true;
    if ((trans = realloc(z->trans, (size_t)cap * sizeof(*trans))) == NULL)
        return false;
    z->trans = trans;
    if ((offs = realloc(z->offs, (size_t)cap * sizeof(*offs))) == NULL)
        return false;
    z->offs = offs;
    z->rule_first = n == 0;
    t = n == 0 ? TZ_RULE_FROM : trans[n - 1];
    if (n > 0)
        offs[n - 1] = rule_offset(&z->rule, t, NULL);
    for (; n < cap; n++) {
        rule_offset(&z->rule, t, &next);
        if (next > TZ_RULE_UNTIL)
            break;
        trans[n] = t = next;
        offs[n] = rule_offset(&z->rule, next, NULL);
    }
    z->ntrans = n;
    return true;
}

/* Load a zone file without touching the cache. */
static int tz_read(const char *name, const char *path, struct tz **out,
                   struct weir_err *err)
{
    struct tz *z = calloc(1, sizeof(*z));
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc;

    if (z == NULL || (z->name = strdup(name)) == NULL ||
        (z->path = strdup(path)) == NULL) {
        weir_err_set(err, WEIR_ENOMEM, "time zone \"%s\": out of memory", name);
        rc = WEIR_ENOMEM;
        goto out;
    }
    rc = read_file(name, path, &buf, &len, err);
    if (rc == 0)
        rc = tzif_parse(z, buf, len, err);
    if (rc == 0 && !tz_extend(z)) {
        weir_err_set(err, WEIR_ENOMEM, "time zone \"%s\": out of memory", name);
        rc = WEIR_ENOMEM;
    }
    if (rc == 0) {
        *out = z;
        z = NULL;
    }
out:
    free(buf);
    tz_destroy(z);
    return rc;
}

/* A cached zone with this name and path, or NULL; caller holds the lock. */
static struct tz *cache_find(const char *name, const char *path)
{
    for (struct tz *z = tz_cache; z != NULL; z = z->next)
        if (strcmp(z->name, name) == 0 && strcmp(z->path, path) == 0)
            return z;
    return NULL;
}

static int check_name(const char *name, struct weir_err *err)
{
    size_t len = strlen(name);

    if (len == 0 || len > TZ_NAME_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "time zone name must be 1 to %d characters",
                            TZ_NAME_MAX);
    /* Only one spelling per zone: the cache keeps every zone it loads. */
    if (name[0] == '/' || name[len - 1] == '/' || strstr(name, "..") != NULL ||
        strstr(name, "//") != NULL)
        return weir_err_set(err, WEIR_EINVAL,
                            "time zone \"%.*s\": expected a name such as "
                            "America/New_York, not a path",
                            TZ_NAME_MAX, name);
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];

        if (!is_alpha(ch) && !is_digit(ch) && ch != '_' && ch != '+' &&
            ch != '-' && ch != '/')
            return weir_err_set(err, WEIR_EINVAL,
                                "time zone name: character %zu is not one of "
                                "A-Z a-z 0-9 _ + - /",
                                i + 1);
    }
    return 0;
}

/* ---- public -------------------------------------------------------------- */

int tz_load(const char *name, struct tz **out, struct weir_err *err)
{
    const char *dir = getenv("TZDIR");
    char path[PATH_MAX];
    struct tz *z, *fresh = NULL;
    int rc;

    if (name == NULL)
        return weir_err_set(err, WEIR_EINVAL, "time zone name is missing");
    rc = check_name(name, err);
    if (rc != 0)
        return rc;
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
        *out = name[0] == 'U' ? &tz_utc : &tz_etc_utc;
        return 0;
    }
    if (dir == NULL || dir[0] == '\0')
        dir = TZ_DEFAULT_DIR;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
        sizeof(path))
        return weir_err_set(err, WEIR_EINVAL, "time zone \"%s\": path too long",
                            name);
    pthread_mutex_lock(&tz_cache_lock);
    z = cache_find(name, path);
    pthread_mutex_unlock(&tz_cache_lock);
    if (z == NULL) {
        /* Read outside the lock; a racing loader's copy is dropped. */
        rc = tz_read(name, path, &fresh, err);
        if (rc != 0)
            return rc;
        pthread_mutex_lock(&tz_cache_lock);
        z = cache_find(name, path);
        if (z == NULL) {
            fresh->next = tz_cache;
            tz_cache = z = fresh;
            fresh = NULL;
        }
        pthread_mutex_unlock(&tz_cache_lock);
        tz_destroy(fresh);
    }
    *out = z;
    return 0;
}

void tz_free(struct tz *tz)
{
    /* Zones are shared from the cache for the life of the process. */
    (void)tz;
}

const char *tz_name(const struct tz *tz)
{
    return tz->name;
}

/* Offset at t; *next (when not NULL) gets the next offset change. */
static int32_t tz_lookup(const struct tz *tz, int64_t t, int64_t *next)
{
    int lo = 0, hi = tz->ntrans;
    int32_t off;

    t = clamp_t(t);
    if (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1] ||
        (tz->rule_first && t < tz->trans[0])) {
        if (tz->has_rule)
            return rule_offset(&tz->rule, t, next);
        if (next != NULL)
            *next = INT64_MAX;
        return tz->ntrans == 0 ? tz->off0 : tz->offs[tz->ntrans - 1];
    }
    /* First transition after t is trans[lo]. */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;

        if (tz->trans[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    off = lo == 0 ? tz->off0 : tz->offs[lo - 1];
    if (next == NULL)
        return off;
    for (; lo < tz->ntrans; lo++) {
        int32_t after = tz->offs[lo];

        if (lo == tz->ntrans - 1 && tz->has_rule)
            after = rule_offset(&tz->rule, tz->trans[lo], NULL);
        if (after != off) {
            *next = tz->trans[lo];
            return off;
        }
    }
    /* No change left in the table: the footer rule (if any) takes over. */
    rule_offset(&tz->rule, tz->trans[tz->ntrans - 1], next);
    return off;
}

int tz_offset_at(const struct tz *tz, int64_t utc)
{
    return tz_lookup(tz, utc, NULL);
}

int64_t tz_next_transition(const struct tz *tz, int64_t utc)
{
    int64_t next = INT64_MAX;

    if (utc >= TZ_T_LIMIT)
        return INT64_MAX;
    tz_lookup(tz, utc, &next);
    return next;
}

int tz_local_to_utc(const struct tz *tz, int64_t local, int64_t first[2])
{
    int64_t t, end, gap = INT64_MIN;
    int32_t off;
    int n = 0;

    local = clamp_t(local);
    t = local - TZ_OFF_MAX;
    end = local + TZ_OFF_MAX;
    off = tz_lookup(tz, t, NULL);
    /* Walk the stretches of constant offset that could show `local`. */
    for (int i = 0; i < 16; i++) {
        int64_t seg_end = tz_next_transition(tz, t), u = local - off;
        int32_t off2;

        if (u >= t && u < seg_end && n < 2)
            first[n++] = u;
        if (seg_end > end)
            break;
        off2 = tz_lookup(tz, seg_end, NULL);
        if (gap == INT64_MIN && seg_end + off <= local &&
            local < seg_end + off2)
            gap = seg_end;
        t = seg_end;
        off = off2;
    }
    if (n == 0)
        first[0] = gap != INT64_MIN ? gap : local - tz_offset_at(tz, local);
    return n;
}
