/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The spool of one attempt's output: every line goes to a file in the
 * attempt's folder as it comes, and batches for the server are read back
 * from it at the pace the server takes them, so no line is dropped
 * whatever the step prints and the worker's memory stays bounded.
 *
 * Design. A line is a record (a 16-byte header: length, stream, time;
 * then the text) appended to a 64 KiB buffer that is written to the file
 * when full and before batches are read (write(2) and pread(2) of the
 * page cache, on the loop). Every line gets the next sequence number.
 * With an operator's cap (lines and/or bytes of stdout and stderr), the
 * lines past the cap still go to the file (the full log stays on the
 * worker until the attempt is reported) but are not uploaded; the
 * worker's own notes after the cut are kept aside in memory (a few) and
 * uploaded; a note at sequence 0, reserved when a cap is set, says what
 * was cut. When the file cannot be written, the lines that could not be
 * kept are counted and a note says so; without a file (the attempt's
 * folder could not be made) the records stay in memory, up to 1 MiB.
 */
#ifndef WEIR_WORKER_LOGSPOOL_H
#define WEIR_WORKER_LOGSPOOL_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "err.h"

/* Where a line came from. */
enum logspool_stream {
    LOGSPOOL_STDOUT, /* the step's stdout */
    LOGSPOOL_STDERR, /* the step's stderr */
    LOGSPOOL_SYSTEM, /* a note of the worker's own */
};

/* An operator's cap on what is uploaded of one attempt; 0: none. */
struct logspool_cap {
    uint64_t max_lines; /* stdout and stderr lines uploaded, at most */
    uint64_t max_bytes; /* their bytes (without newlines), at most */
};

struct logspool;

/*
 * A new spool writing to path (created or truncated, mode 0600,
 * close-on-exec; the caller removes it, with the attempt's folder), or
 * kept in memory when path is NULL. cap may be NULL (no cap). On failure
 * (the file cannot be created) *out is untouched.
 */
WEIR_MUSTCHECK int logspool_new(const char *path,
                                const struct logspool_cap *cap,
                                struct logspool **out, struct weir_err *err);

/* Close and free the spool (not its file); logspool_free(NULL) is a
 * no-op. */
void logspool_free(struct logspool *s);

/*
 * Append one line of len bytes (no newline) of stream at time ts (ms
 * since the epoch). Never fails: what cannot be kept is counted and
 * stated in a note.
 */
void logspool_add(struct logspool *s, enum logspool_stream stream, int64_t ts,
                  const char *text, size_t len);

/* Write buffered records to the file (the loop calls it now and then so
 * that the file holds what the step printed). */
void logspool_sync(struct logspool *s);

/*
 * The output is over: add the note at sequence 0 when a cap cut lines,
 * and a note on lines lost to a spool that could not be written.
 */
void logspool_finish(struct logspool *s);

/* Records waiting to be put in a batch (0: every line is sent or in the
 * batch taken). */
uint64_t logspool_waiting(const struct logspool *s);

/*
 * The next batch: a new JSON array of at most max_lines lines
 * {seq, ts, stream, line} whose JSON text is about max_bytes at most (a
 * single longer line goes alone), or NULL in *out when nothing waits.
 * The batch stays taken until logspool_ack(); taking another before
 * that is a bug.
 */
WEIR_MUSTCHECK int logspool_batch(struct logspool *s, int max_lines,
                                  size_t max_bytes, cJSON **out,
                                  struct weir_err *err);

/* The server has stored the batch taken: do not send it again. */
void logspool_ack(struct logspool *s);

/*
 * What a cap cut, as a new object {lines_total, lines_kept, bytes_total,
 * bytes_kept}, or NULL when nothing was cut (or out of memory).
 */
cJSON *logspool_capped_json(const struct logspool *s);

/* The spool's file, or NULL when it is kept in memory (borrowed). */
const char *logspool_path(const struct logspool *s);

#endif
