/* SPDX-License-Identifier: Apache-2.0 */
/* Edit distance and the closest-word suggestion behind "did you mean". */
#include "suggest.h"

#include <string.h>
#include <strings.h>

#define SUGGEST_MAX_LEN 64

int suggest_distance(const char *a, const char *b)
{
    int d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
    size_t la = strlen(a), lb = strlen(b);

    if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
        return SUGGEST_MAX_LEN;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int best = d[i - 1][j] + 1;

            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const char *suggest_word(const char *word, const char *const *cands, size_t n)
{
    int limit = (int)strlen(word) / 3;
    const char *best = NULL;
    int best_d = 0;

    if (limit < 1)
        limit = 1;
    /* suggest_distance() calls longer words far apart, at any limit */
    if (strlen(word) > SUGGEST_MAX_LEN)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int dist;

        if (strcasecmp(word, cands[i]) == 0)
            return cands[i];
        dist = suggest_distance(word, cands[i]);
        if (dist <= limit && (best == NULL || dist < best_d)) {
            best = cands[i];
            best_d = dist;
        }
    }
    return best;
}
