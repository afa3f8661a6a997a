/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one growable array: room for at least need elements, the capacity
 * doubling from a first size, never past a maximum, with the size
 * arithmetic checked. Every growing array and text buffer uses it
 * instead of its own realloc loop.
 */
#ifndef WEIR_GROW_H
#define WEIR_GROW_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Make room for need elements of elem bytes in the array whose pointer is
 * at arr (a T ** passed as void *) and whose capacity is *cap: the new
 * capacity is the first of first, 2 x *cap, 4 x *cap, ... that holds
 * need, cut to max (0: no maximum but what size_t holds). Returns true
 * when there is room (nothing changes if there was already); false, with
 * the array and *cap unchanged, when need passes max or memory is short.
 */
bool weir_grow(void *arr, size_t *cap, size_t need, size_t elem, size_t first,
               size_t max);

/* weir_grow() for an array a (an lvalue of pointer type) of capacity c. */
#define WEIR_GROW(a, c, need, first, max)                                      \
    weir_grow(&(a), &(c), (need), sizeof(*(a)), (first), (max))

#endif
