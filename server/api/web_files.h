/* SPDX-License-Identifier: Apache-2.0 */
/* The dashboard's files, compiled in from web/ by embed_web.cmake. */
#ifndef WEIR_WEB_FILES_H
#define WEIR_WEB_FILES_H

#include <stddef.h>

struct web_file {
    const char *name;          /* file name in web/, e.g. "app.js" */
    const unsigned char *data; /* its bytes */
    size_t len;                /* bytes in data */
    const char *etag;          /* quoted part of its SHA-256 */
};

/* Every file, then an entry with a NULL name; and their number. */
extern const struct web_file web_files[];
extern const size_t web_files_count;

#endif
