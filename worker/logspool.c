/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The spool of one attempt's output (see logspool.h for the design): a
 * file of records written as lines come and read back in batches.
 */
#include "logspool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weir.h"

#define WBUF_SIZE  65536         /* records buffered before a write */
#define MEM_MAX    (1024 * 1024) /* records kept without a file */
#define HDR_SIZE   16            /* bytes of a record's header */
#define CHUNK_SIZE (256 * 1024)  /* bytes read for one batch, at most */
#define NOTES_MAX  64            /* notes kept aside after a cut */
#define NO_CUT     UINT64_MAX    /* kept_end while nothing is cut */
#define LINE_JSON  64            /* JSON bytes of a line besides text */

/* A note of the worker's own made after the cut, kept for the upload. */
struct note {
    int64_t seq; /* its place in the log */
    int64_t ts;  /* when it was made */
    char *text;  /* owned */
};

struct logspool {
    int fd;                  /* the file, or -1: records stay in wbuf */
    char *path;              /* the file's path, or NULL */
    struct logspool_cap cap; /* 0s: no cap */
    char *wbuf;              /* records not yet written (all, without fd) */
    size_t wlen;             /* bytes in wbuf */
    size_t wcap;             /* bytes allocated for wbuf */
    uint64_t wbuf_kept;      /* uploadable records in wbuf */
    uint64_t base;           /* offset of wbuf[0] in the record stream */
    uint64_t kept_end;       /* offset of the cut, or NO_CUT */
    uint64_t read_off;       /* first record not yet stored by the server */
    uint64_t batch_off;      /* end of the batch taken */
    uint64_t batch_recs;     /* records in the batch taken */
    int batch_notes;         /* notes in the batch taken */
    bool batch_taken;        /* a batch waits for logspool_ack() */
    uint64_t rec_kept;       /* uploadable records */
    uint64_t rec_acked;      /* of them, stored by the server */
    int64_t ack_seq;         /* sequence number of the record at read_off */
    int64_t next_seq;        /* sequence number of the next line */
    uint64_t lines_total;    /* stdout and stderr lines */
    uint64_t bytes_total;    /* their bytes */
    uint64_t lines_kept;     /* of them, before the cut */
    uint64_t bytes_kept;     /* their bytes */
    uint64_t lost;           /* lines that could not be kept at all */
    bool cut;                /* the cap was reached */
    bool broken;             /* the file could not be written */
    bool finished;           /* logspool_finish() ran */
    struct note notes[NOTES_MAX]; /* notes after the cut */
    int n_notes;                  /* entries in notes */
    int notes_acked;              /* of them, stored by the server */
    uint64_t notes_lost;          /* notes past NOTES_MAX */
    char why[160];                /* why the file could not be written */
};

static const char *const stream_names[] = {"stdout", "stderr", "system"};

static void note_aside(struct logspool *s, int64_t seq, int64_t ts,
                       const char *text)
{
    char *copy;

    if (s->n_notes == NOTES_MAX || (copy = strdup(text)) == NULL) {
        s->notes_lost++;
        return;
    }
    s->notes[s->n_notes].seq = seq;
    s->notes[s->n_notes].ts = ts;
    s->notes[s->n_notes].text = copy;
    s->n_notes++;
}

static int64_t wall_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The records in wbuf cannot be kept: count them, cut there, say why. */
static void spool_break(struct logspool *s, const char *why)
{
    char text[400];
    uint64_t at = s->base + s->wlen;

    if (s->fd >= 0) {
        /* what was not written is lost; without a file, wbuf holds the
         * records to send and only what comes next is */
        s->lost += s->wbuf_kept;
        s->rec_kept -= s->wbuf_kept;
        s->wbuf_kept = 0;
        s->wlen = 0;
        at = s->base;
    }
    if (s->kept_end == NO_CUT || s->kept_end > at)
        s->kept_end = at;
    s->broken = true;
    snprintf(s->why, sizeof(s->why), "%s", why);
    snprintf(text, sizeof(text),
             "weir-worker: the log spool %s could not be written (%s); the "
             "lines from here on are counted, not kept",
             s->path != NULL ? s->path : "(in memory)", why);
    note_aside(s, s->next_seq++, wall_now_ms(), text);
}

void logspool_sync(struct logspool *s)
{
    size_t off = 0;

    if (s->fd < 0 || s->wlen == 0)
        return;
    while (off < s->wlen) {
        ssize_t n = write(s->fd, s->wbuf + off, s->wlen - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            spool_break(s, n < 0 ? strerror(errno) : "nothing written");
            return;
        }
        off += (size_t)n;
    }
    s->base += s->wlen;
    s->wlen = 0;
    s->wbuf_kept = 0;
}

/* Room for n more bytes in wbuf: written out, or grown without a file. */
static bool wbuf_room(struct logspool *s, size_t n)
{
    size_t want;
    char *p;

    if (s->wlen + n <= s->wcap)
        return true;
    if (s->fd >= 0) {
        logspool_sync(s);
        if (s->broken)
            return false;
        if (n <= s->wcap)
            return true;
    } else if (s->wlen + n > MEM_MAX) {
        return false;
    }
    want = s->wcap * 2 > s->wlen + n ? s->wcap * 2 : s->wlen + n;
    p = realloc(s->wbuf, want);
    if (p == NULL)
        return false;
    s->wbuf = p;
    s->wcap = want;
    return true;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

/* Append a record to wbuf; false when it cannot be kept. */
static bool record_put(struct logspool *s, enum logspool_stream st, int64_t ts,
                       const char *text, size_t len)
{
    unsigned char hdr[HDR_SIZE] = {0};

    if (!wbuf_room(s, HDR_SIZE + len))
        return false;
    put_u32(hdr, (uint32_t)len);
    hdr[4] = (unsigned char)st;
    memcpy(hdr + 8, &ts, sizeof(ts));
    memcpy(s->wbuf + s->wlen, hdr, HDR_SIZE);
    memcpy(s->wbuf + s->wlen + HDR_SIZE, text, len);
    s->wlen += HDR_SIZE + len;
    return true;
}

/* Whether a step line of len bytes still fits under the cap. */
static bool under_cap(const struct logspool *s, size_t len)
{
    return !s->cut &&
           (s->cap.max_lines == 0 || s->lines_kept < s->cap.max_lines) &&
           (s->cap.max_bytes == 0 || s->bytes_kept + len <= s->cap.max_bytes);
}

/* The cap is reached: a note at the cut, then nothing more is sent. */
static void spool_cut(struct logspool *s, int64_t ts)
{
    char text[600];

    snprintf(text, sizeof(text),
             "weir-worker: the log is capped here (--max-log-lines %llu, "
             "--max-log-bytes %llu; 0 is none): later lines are counted, not "
             "uploaded; the full log stays on the worker at %s until the "
             "attempt is reported",
             (unsigned long long)s->cap.max_lines,
             (unsigned long long)s->cap.max_bytes,
             s->path != NULL ? s->path : "(nowhere: no spool file)");
    if (!s->broken && record_put(s, LOGSPOOL_SYSTEM, ts, text, strlen(text))) {
        s->rec_kept++;
        s->wbuf_kept++;
        s->next_seq++;
    } else {
        note_aside(s, s->next_seq++, ts, text);
    }
    s->cut = true;
    if (s->kept_end == NO_CUT)
        s->kept_end = s->base + s->wlen;
}

void logspool_add(struct logspool *s, enum logspool_stream st, int64_t ts,
                  const char *text, size_t len)
{
    bool step = st != LOGSPOOL_SYSTEM;
    int64_t seq;
    bool keep;

    if (step) {
        s->lines_total++;
        s->bytes_total += len;
        if (!s->cut && !s->broken && !under_cap(s, len))
            spool_cut(s, ts);
    }
    seq = s->next_seq++;
    keep = s->kept_end == NO_CUT;
    if (!keep && !step)
        note_aside(s, seq, ts, text);
    /* past the cut, lines still go to the file (not without one) */
    if (s->broken || (!keep && s->fd < 0) ||
        !record_put(s, st, ts, text, len)) {
        if (keep && !s->broken)
            spool_break(s, s->fd < 0 ? "over 1 MiB without a spool file"
                                     : "out of memory");
        if (keep && !step)
            note_aside(s, seq, ts, text);
        else if (step && !s->cut)
            s->lost++;
        return;
    }
    if (keep) {
        s->rec_kept++;
        s->wbuf_kept++;
        if (step) {
            s->lines_kept++;
            s->bytes_kept += len;
        }
    }
}

void logspool_finish(struct logspool *s)
{
    char text[700];
    int64_t now = wall_now_ms();

    if (s->finished)
        return;
    s->finished = true;
    logspool_sync(s);
    if (s->lost > 0 || s->notes_lost > 0) {
        snprintf(text, sizeof(text),
                 "weir-worker: %llu lines and %llu notes could not be kept: "
                 "%s",
                 (unsigned long long)s->lost, (unsigned long long)s->notes_lost,
                 s->why[0] ? s->why : "too many notes");
        note_aside(s, s->next_seq++, now, text);
    }
    if (s->cut) {
        snprintf(text, sizeof(text),
                 "weir-worker: log capped: %llu of %llu lines (%llu of %llu "
                 "bytes) were uploaded (--max-log-lines %llu, --max-log-bytes "
                 "%llu); the full log stays on the worker at %s until the "
                 "attempt is reported",
                 (unsigned long long)s->lines_kept,
                 (unsigned long long)s->lines_total,
                 (unsigned long long)s->bytes_kept,
                 (unsigned long long)s->bytes_total,
                 (unsigned long long)s->cap.max_lines,
                 (unsigned long long)s->cap.max_bytes,
                 s->path != NULL ? s->path : "(nowhere: no spool file)");
        if (s->n_notes == NOTES_MAX)
            s->n_notes--; /* the summary matters more than the last note */
        note_aside(s, 0, now, text);
    }
}

uint64_t logspool_waiting(const struct logspool *s)
{
    uint64_t recs = s->rec_kept - s->rec_acked;
    uint64_t notes = (uint64_t)(s->n_notes - s->notes_acked);

    if (s->batch_taken) {
        recs -= s->batch_recs;
        notes -= (uint64_t)s->batch_notes;
    }
    return recs + notes;
}

/* JSON bytes of a line's text at most (every byte escaped). */
static size_t json_cost(const char *text, size_t len)
{
    size_t n = LINE_JSON;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];

        n += c < 0x20 ? 6 : (c == '"' || c == '\\') ? 2 : 1;
    }
    return n;
}

/* text (len bytes, NUL-terminated) with each NUL byte as U+FFFD, since a
 * JSON string of the C API stops at the first; a new string. */
static char *nul_free(const char *text, size_t len)
{
    char *out = malloc(len * 3 + 1);
    size_t o = 0;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0') {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
        } else {
            out[o++] = text[i];
        }
    }
    out[o] = '\0';
    return out;
}

static bool line_add(cJSON *arr, int64_t seq, int64_t ts,
                     enum logspool_stream st, const char *text, size_t len)
{
    cJSON *o = cJSON_CreateObject();
    char *copy = memchr(text, '\0', len) ? nul_free(text, len) : NULL;
    bool ok;

    if (copy != NULL)
        text = copy;
    ok = o != NULL && (copy != NULL || !memchr(text, '\0', len));
    if (!ok || cJSON_AddNumberToObject(o, "seq", (double)seq) == NULL ||
        cJSON_AddNumberToObject(o, "ts", (double)ts) == NULL ||
        cJSON_AddStringToObject(o, "stream", stream_names[st]) == NULL ||
        cJSON_AddStringToObject(o, "line", text) == NULL ||
        !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        free(copy);
        return false;
    }
    free(copy);
    return true;
}

/* Bytes of the stream from off on, up to n, into buf; how many. */
static ssize_t stream_read(struct logspool *s, uint64_t off, char *buf,
                           size_t n)
{
    ssize_t got;

    if (s->fd < 0) {
        memcpy(buf, s->wbuf + (off - s->base), n);
        return (ssize_t)n;
    }
    do
        got = pread(s->fd, buf, n, (off_t)off);
    while (got < 0 && errno == EINTR);
    return got;
}

/*
 * The records from byte `at` on cannot be read back (the step may write
 * into its folder, spool included): those not in the batch being taken
 * are counted lost, and a note says so.
 */
static void spool_damaged(struct logspool *s, uint64_t at, const char *why)
{
    uint64_t n = s->rec_kept - s->rec_acked - s->batch_recs;
    char text[400];

    s->lost += n;
    s->rec_kept -= n;
    s->kept_end = at;
    s->broken = true;
    snprintf(s->why, sizeof(s->why), "%s", why);
    snprintf(text, sizeof(text),
             "weir-worker: the log spool %s %s at byte %llu: %llu lines from "
             "there lost",
             s->path != NULL ? s->path : "(in memory)", why,
             (unsigned long long)at, (unsigned long long)n);
    note_aside(s, s->next_seq++, wall_now_ms(), text);
}

/* The file records of the next batch, from read_off on. */
static int batch_records(struct logspool *s, cJSON *arr, int max_lines,
                         size_t max_bytes, size_t *cost, struct weir_err *err)
{
    uint64_t end = s->kept_end != NO_CUT ? s->kept_end : s->base + s->wlen;
    uint64_t off = s->read_off;
    size_t n = end - off > CHUNK_SIZE ? CHUNK_SIZE : (size_t)(end - off);
    char *buf = n > 0 ? malloc(n + 1) : NULL;
    ssize_t got;
    size_t pos = 0;
    bool damaged = false;
    int rc = 0;

    if (n == 0)
        return 0;
    if (buf == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    got = stream_read(s, off, buf, n);
    if (got < 0 || (size_t)got != n) {
        free(buf);
        s->batch_off = off;
        spool_damaged(s, off,
                      got < 0 ? "cannot be read" : "is shorter than written");
        return 0;
    }
    while (pos + HDR_SIZE <= n && (int)s->batch_recs < max_lines) {
        uint32_t len;
        int64_t ts;
        unsigned char st;
        char saved;

        memcpy(&len, buf + pos, sizeof(len));
        st = (unsigned char)buf[pos + 4];
        memcpy(&ts, buf + pos + 8, sizeof(ts));
        if (st > LOGSPOOL_SYSTEM || len > CHUNK_SIZE - HDR_SIZE ||
            (pos + HDR_SIZE + len > n && (pos == 0 || n < CHUNK_SIZE))) {
            damaged = true;
            break;
        }
        if (pos + HDR_SIZE + len > n)
            break;
        if (s->batch_recs > 0 &&
            *cost + json_cost(buf + pos + HDR_SIZE, len) > max_bytes)
            break;
        *cost += json_cost(buf + pos + HDR_SIZE, len);
        saved = buf[pos + HDR_SIZE + len];
        buf[pos + HDR_SIZE + len] = '\0';
        if (!line_add(arr, s->ack_seq + (int64_t)s->batch_recs, ts,
                      (enum logspool_stream)st, buf + pos + HDR_SIZE, len))
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
        buf[pos + HDR_SIZE + len] = saved;
        if (rc != 0)
            break;
        pos += HDR_SIZE + len;
        s->batch_recs++;
    }
    s->batch_off = off + pos;
    if (rc == 0 && (damaged || s->batch_recs == 0))
        spool_damaged(s, off + pos, "is damaged");
    free(buf);
    return rc;
}

int logspool_batch(struct logspool *s, int max_lines, size_t max_bytes,
                   cJSON **out, struct weir_err *err)
{
    uint64_t end;
    size_t cost = 0;
    cJSON *arr;
    int rc;

    WEIR_ASSERT(!s->batch_taken);
    if (logspool_waiting(s) == 0) {
        *out = NULL;
        return 0;
    }
    logspool_sync(s);
    arr = cJSON_CreateArray();
    if (arr == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    s->batch_recs = 0;
    s->batch_notes = 0;
    rc = batch_records(s, arr, max_lines, max_bytes, &cost, err);
    end = s->kept_end != NO_CUT ? s->kept_end : s->base + s->wlen;
    /* the notes come after every record before the cut */
    for (int i = s->notes_acked;
         rc == 0 && s->batch_off == end && s->kept_end != NO_CUT &&
         i < s->n_notes && (int)s->batch_recs + s->batch_notes < max_lines;
         i++) {
        if (!line_add(arr, s->notes[i].seq, s->notes[i].ts, LOGSPOOL_SYSTEM,
                      s->notes[i].text, strlen(s->notes[i].text)))
            rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
        else
            s->batch_notes++;
    }
    if (rc != 0) {
        cJSON_Delete(arr);
        return rc;
    }
    s->batch_taken = true;
    *out = arr;
    return 0;
}

void logspool_ack(struct logspool *s)
{
    if (!s->batch_taken)
        return;
    s->batch_taken = false;
    s->read_off = s->batch_off;
    s->rec_acked += s->batch_recs;
    s->ack_seq += (int64_t)s->batch_recs;
    s->notes_acked += s->batch_notes;
    s->batch_recs = 0;
    s->batch_notes = 0;
    if (s->fd < 0 && s->read_off > s->base) {
        /* without a file, what the server has is dropped from memory */
        size_t drop = (size_t)(s->read_off - s->base);

        memmove(s->wbuf, s->wbuf + drop, s->wlen - drop);
        s->wlen -= drop;
        s->base = s->read_off;
    }
}

cJSON *logspool_capped_json(const struct logspool *s)
{
    cJSON *o;

    if (!s->cut)
        return NULL;
    o = cJSON_CreateObject();
    if (o == NULL ||
        cJSON_AddNumberToObject(o, "lines_total", (double)s->lines_total) ==
            NULL ||
        cJSON_AddNumberToObject(o, "lines_kept", (double)s->lines_kept) ==
            NULL ||
        cJSON_AddNumberToObject(o, "bytes_total", (double)s->bytes_total) ==
            NULL ||
        cJSON_AddNumberToObject(o, "bytes_kept", (double)s->bytes_kept) ==
            NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

const char *logspool_path(const struct logspool *s)
{
    return s->path;
}

int logspool_new(const char *path, const struct logspool_cap *cap,
                 struct logspool **out, struct weir_err *err)
{
    struct logspool *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    s->fd = -1;
    s->kept_end = NO_CUT;
    if (cap != NULL)
        s->cap = *cap;
    /* with a cap, sequence 0 waits for the note on what was cut */
    s->next_seq = s->ack_seq =
        s->cap.max_lines > 0 || s->cap.max_bytes > 0 ? 1 : 0;
    s->wcap = WBUF_SIZE;
    s->wbuf = malloc(s->wcap);
    if (s->wbuf == NULL || (path != NULL && (s->path = strdup(path)) == NULL)) {
        logspool_free(s);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    if (path != NULL) {
        s->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (s->fd < 0) {
            int e = errno;

            logspool_free(s);
            return weir_err_set(err, WEIR_EIO, "cannot create %s: %s", path,
                                strerror(e));
        }
    }
    *out = s;
    return 0;
}

void logspool_free(struct logspool *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    for (int i = 0; i < s->n_notes; i++)
        free(s->notes[i].text);
    free(s->wbuf);
    free(s->path);
    free(s);
}
