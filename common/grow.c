/* SPDX-License-Identifier: Apache-2.0 */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool weir_grow(void *arr, size_t *cap, size_t need, size_t elem, size_t first,
               size_t max)
{
    size_t limit = SIZE_MAX / (elem ? elem : 1);
    size_t n = *cap ? *cap : (first ? first : 1);
    void *old, *grown;

    if (max == 0 || max > limit)
        max = limit;
    if (need <= *cap)
        return true;
    if (need > max)
        return false;
    while (n < need)
        n = n > max / 2 ? max : n * 2;
    if (n > max)
        n = max;
    memcpy(&old, arr, sizeof(old));
    grown = realloc(old, n * elem);
    if (grown == NULL)
        return false;
    memcpy(arr, &grown, sizeof(grown));
    *cap = n;
    return true;
}
