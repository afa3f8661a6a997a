/* SPDX-License-Identifier: Apache-2.0 */
/* Name patterns: "*" stands for any run of characters, "?" for one, every
 * other character for itself (DAG id patterns of grants and secrets). */
#ifndef WEIR_NAMEPAT_H
#define WEIR_NAMEPAT_H

#include <stdbool.h>

/* Whether pattern pat matches name. */
bool namepat_match(const char *pat, const char *name);

#endif
