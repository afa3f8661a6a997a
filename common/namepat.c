/* SPDX-License-Identifier: Apache-2.0 */
/* Name patterns (namepat.h). */
#include "namepat.h"

#include <stddef.h>

bool namepat_match(const char *pat, const char *name)
{
    const char *star = NULL, *back = NULL;

    while (*name) {
        if (*pat == '?' || *pat == *name) {
            pat++;
            name++;
        } else if (*pat == '*') {
            star = pat++;
            back = name;
        } else if (star != NULL) {
            pat = star + 1;
            name = ++back;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}
