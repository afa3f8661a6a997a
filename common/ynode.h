/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A YAML document read into a small immutable tree with source positions,
 * refusing hostile input before it costs anything: files over a size limit,
 * text that is not UTF-8, nesting deeper than a limit, and aliases whose
 * expansion would exceed a node budget or a text budget ("billion laughs",
 * with many small nodes or with a few long strings) are errors, found
 * without expanding anything (an alias shares its anchor's subtree).
 */
#ifndef WEIR_YNODE_H
#define WEIR_YNODE_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "err.h"

/* The prefix of the core schema's tags, as in YNODE_TAG_PREFIX "str". */
#define YNODE_TAG_PREFIX "tag:yaml.org,2002:"

enum ynode_kind {
    YNODE_SCALAR, /* text */
    YNODE_SEQ,    /* a list: items[0..n) */
    YNODE_MAP,    /* a mapping: items[2i] key, items[2i+1] value */
};

enum ynode_style {
    YSTYLE_PLAIN,  /* unquoted: may resolve to null, bool or number */
    YSTYLE_QUOTED, /* single or double quoted: always a string */
    YSTYLE_BLOCK,  /* literal | or folded >: always a string */
};

struct ynode {
    enum ynode_kind kind;   /* which of the forms above */
    enum ynode_style style; /* scalars only */
    int line;               /* 1-based line where the node starts */
    int col;                /* 1-based column (bytes) where it starts */
    const char *str;        /* scalars: the text, NUL-terminated */
    size_t len;             /* scalars: bytes in str (may hold NULs) */
    const char *tag;        /* explicit tag such as "tag:yaml.org,2002:str",
                               or NULL */
    struct ynode **items;   /* seq items, or map keys and values alternating */
    size_t n;               /* seq: items; map: pairs (items holds 2n) */
};

/* Limits of a parse; ydoc_limits_default() gives the ones DAG files use. */
struct ydoc_limits {
    size_t max_bytes; /* longest input accepted */
    int max_depth;    /* deepest nesting of collections */
    size_t max_nodes; /* nodes in the tree, every alias counted expanded */
    size_t max_text;  /* bytes of scalar text, every alias counted
                         expanded; 0 means 8 * max_bytes */
};

struct ydoc;

/* The limits used for DAG files (1 MiB, depth 32, 100,000 nodes, 8 MiB of
 * expanded text). */
struct ydoc_limits ydoc_limits_default(void);

/*
 * Parse exactly one YAML document from text (len bytes). On success *out is
 * a new document freed with ydoc_free(). On failure returns WEIR_EPARSE or
 * WEIR_ETOOBIG (or WEIR_ENOMEM), err says what is wrong, and *line / *col
 * (1-based; 0 when the whole input is at fault) say where. An empty input
 * or several documents are errors. Merge keys (`<<: *anchor`) are applied.
 */
WEIR_MUSTCHECK int ydoc_parse(const char *text, size_t len,
                              const struct ydoc_limits *limits,
                              struct ydoc **out, struct weir_err *err,
                              int *line, int *col);

/* Free a document and every node in it; ydoc_free(NULL) is a no-op. */
void ydoc_free(struct ydoc *doc);

/* The root node (borrowed; lives as long as doc). */
const struct ynode *ydoc_root(const struct ydoc *doc);

/* The value of key `key` in map node `map`, or NULL (borrowed). */
const struct ynode *ynode_map_get(const struct ynode *map, const char *key);

/* A plain scalar that is empty, "~", "null", "Null" or "NULL". */
bool ynode_is_null(const struct ynode *n);

/*
 * Typed reads of a scalar, YAML 1.2 core schema: only plain scalars
 * resolve to bool (true/false in any of true True TRUE) or numbers
 * (decimal, 0x hex, 0o octal, .inf, .nan, exponents). Return 0, or
 * WEIR_ETYPE when the node is not of that type, WEIR_ERANGE when an
 * integer does not fit.
 */
WEIR_MUSTCHECK int ynode_get_bool(const struct ynode *n, bool *out);
WEIR_MUSTCHECK int ynode_get_int(const struct ynode *n, long long *out);
WEIR_MUSTCHECK int ynode_get_double(const struct ynode *n, double *out);

/*
 * The node as JSON with core-schema typing (plain scalars become null, bool
 * or number where they read as one; everything else strings; maps with
 * non-scalar keys are WEIR_ETYPE). On success *out is new, freed with
 * cJSON_Delete(). On failure err and *bad (the offending node) are set.
 */
WEIR_MUSTCHECK int ynode_to_json(const struct ynode *n, cJSON **out,
                                 struct weir_err *err,
                                 const struct ynode **bad);

/* "a string", "a list", "a mapping", "a number", "a boolean", "null":
 * what the node is, for messages such as "expected a list, got a
 * mapping". */
const char *ynode_describe(const struct ynode *n);

#endif
