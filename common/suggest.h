/* SPDX-License-Identifier: Apache-2.0 */
/* "Did you mean": the closest of a set of known words to a mistyped one. */
#ifndef WEIR_SUGGEST_H
#define WEIR_SUGGEST_H

#include <stddef.h>

/*
 * Edit distance between a and b, counting an insertion, a deletion, a
 * substitution and a swap of two neighbours as one edit each (restricted
 * Damerau-Levenshtein). Words longer than 64 bytes compare as far apart.
 */
int suggest_distance(const char *a, const char *b);

/*
 * The candidate closest to word, when it is close enough to be a likely
 * typo (distance at most max(1, strlen(word) / 3), or word being a
 * case-insensitive match); NULL otherwise. Ties keep the earlier candidate.
 * Returns a pointer into cands (borrowed).
 */
const char *suggest_word(const char *word, const char *const *cands, size_t n);

#endif
