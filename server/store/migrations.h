/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The schema migrations compiled into the binary: the build turns every
 * migrations/NNNN_name.sql into an entry here, in version order.
 */
#ifndef WEIR_MIGRATIONS_H
#define WEIR_MIGRATIONS_H

#include <stddef.h>

/* One migration file. */
struct migration {
    int version;      /* NNNN of the file name */
    const char *name; /* the name after NNNN_, without .sql */
    const char *sql;  /* the file's text */
};

/* Every migration, in ascending version order; a NULL-named entry ends it. */
extern const struct migration migrations[];

/* Entries in migrations before the terminating one. */
extern const size_t migrations_count;

#endif
