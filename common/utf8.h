/* SPDX-License-Identifier: Apache-2.0 */
/* UTF-8 well-formedness, as DAG files, outputs and log lines need it. */
#ifndef WEIR_UTF8_H
#define WEIR_UTF8_H

#include <stddef.h>

/*
 * Offset of the first byte of s[0..len) that does not start a well-formed
 * UTF-8 sequence (overlong forms, surrogates and code points past
 * U+10FFFF are not well-formed), or len when all of it is well-formed.
 */
size_t utf8_invalid_offset(const unsigned char *s, size_t len);

#endif
