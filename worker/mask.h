/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Masking (docs/security.md, "Secrets"): every occurrence of a secret's
 * value in what a step prints or outputs becomes "***" before it leaves
 * the host. A value split across two reads of the step's output is still
 * found: a stream keeps back, between two pieces, only the bytes at the
 * end that start a value (fewer than the longest value's length).
 */
#ifndef WEIR_WORKER_MASK_H
#define WEIR_WORKER_MASK_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "err.h"
#include "weir.h"

#define MASK_TEXT     "***" /* what a value becomes */
#define MASK_LINE_MIN 4     /* bytes of a line of a multi-line value masked */

struct mask;

/*
 * The values of the attempt document's "secrets" object ({NAME: value}),
 * copied: a new mask into *out, or NULL when there is none (then nothing
 * is masked). WEIR_ENOMEM when out of memory.
 */
WEIR_MUSTCHECK int mask_new(const cJSON *secrets, struct mask **out,
                            struct weir_err *err);

/* Wipe and free the values; mask_free(NULL) is a no-op. */
void mask_free(struct mask *m);

/* A stream of pieces of text (one per output stream of a step). */
struct mask_stream {
    char *held; /* bytes kept back from the last piece (malloc) */
    size_t n;   /* bytes in held */
};

/*
 * Feed len bytes of text to stream s: *out (malloc, NUL-terminated,
 * *out_len bytes) is what can be passed on now, masked; with last set
 * (the end of a line, or of the stream) nothing is kept back. With m NULL
 * the text passes unchanged. WEIR_ENOMEM when out of memory (then s is
 * emptied and the text dropped, never passed unmasked).
 */
WEIR_MUSTCHECK int mask_feed(const struct mask *m, struct mask_stream *s,
                             const char *text, size_t len, bool last,
                             char **out, size_t *out_len, struct weir_err *err);

/* Wipe and free what s keeps back. */
void mask_stream_cleanup(struct mask_stream *s);

/* mask_feed() of a whole text on a stream of its own. */
WEIR_MUSTCHECK int mask_text(const struct mask *m, const char *text, size_t len,
                             char **out, size_t *out_len, struct weir_err *err);

/*
 * The bytes of masked text (len bytes) to keep to show at most max: when
 * the text is cut, a tail that is the start of a value is dropped too, so
 * that a cut inside a value shows none of its first bytes.
 */
size_t mask_cut(const struct mask *m, const char *text, size_t len, size_t max);
/* Mask, in place, every string value and key of JSON tree v. */
WEIR_MUSTCHECK int mask_json(const struct mask *m, cJSON *v,
                             struct weir_err *err);

#endif
