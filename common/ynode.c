/* SPDX-License-Identifier: Apache-2.0 */
/*
 * YAML text read into an immutable tree of struct ynode with libyaml's event
 * API. The typed accessors that read the tree are in ynode_read.c.
 *
 * The text is checked before libyaml sees it (size, UTF-8, NUL bytes, UTF-16
 * byte-order marks). Events then build the tree bottom up: open collections
 * sit on a frame stack and their finished children wait on one shared stack
 * until the collection ends and gets its item array. Every node records its
 * size and height with aliases expanded, so an alias is checked against the
 * node budget and the depth limit in constant time and is never copied: it
 * is a second pointer to its anchor's node. All memory lives in one arena
 * that goes with the document.
 */
#include "ynode.h"
#include "grow.h"
#include "utf8.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <yaml.h>

#define ARENA_ALIGN 8
#define ARENA_MIN   4096
#define ARENA_MAX   ((size_t)1 << 20)

/* A node and what the parser needs to know about it with aliases expanded. */
struct ynode_w {
    struct ynode n; /* what users see; first, so the pointers convert */
    size_t weight;  /* nodes in its subtree, aliases counted expanded */
    size_t text;    /* bytes of scalar text in it, aliases counted expanded */
    int height;     /* collection levels in it: 0 for a scalar */
};

struct arena_chunk {
    struct arena_chunk *next; /* the chunk filled before this one */
    size_t used;              /* bytes handed out from data */
    size_t cap;               /* bytes in data */
    unsigned char data[];     /* the storage, ARENA_ALIGN-aligned */
};

_Static_assert(offsetof(struct arena_chunk, data) % ARENA_ALIGN == 0,
               "arena data must stay aligned");

struct ydoc {
    struct arena_chunk *chunks; /* every byte the tree uses */
    size_t next_cap;            /* size of the next chunk to allocate */
    const struct ynode *root;   /* the document's root node */
};

/* Walks the text to turn a libyaml character index into line and column. */
struct pos_cursor {
    const unsigned char *text; /* the text given to libyaml */
    size_t len;                /* bytes in text */
    size_t idx;                /* characters before off */
    size_t off;                /* byte offset of the cursor */
    size_t line;               /* 1-based line at off */
    size_t line_start;         /* byte offset where that line starts */
};

struct anchor {
    const char *name;     /* the anchor's name (in the arena), NULL if free */
    struct ynode_w *node; /* its node; NULL while the collection is open */
};

/* Anchors by name; open addressing, a power-of-two number of slots. */
struct anchor_tab {
    struct anchor *v; /* the slots */
    size_t cap;       /* slots in v */
    size_t n;         /* slots in use */
};

/* Set of scalar keys, for merging; open addressing over key nodes. */
struct key_set {
    const struct ynode **v; /* slots, NULL when free */
    size_t cap;             /* slots, a power of two */
    uint64_t seed;          /* hash seed */
};

/* A collection whose end has not been seen yet. */
struct frame {
    struct ynode_w *node; /* the collection */
    size_t first;         /* index of its first child on the kids stack */
    const char *anchor;   /* its anchor's name, or NULL */
};

/* Everything one parse needs. */
struct build {
    const struct ydoc_limits *lim; /* the limits in force */
    size_t max_depth;              /* lim->max_depth, never negative */
    size_t max_text;               /* lim->max_text, or its default */
    struct ydoc *doc;              /* the document being built */
    struct pos_cursor cur;         /* positions of events, moving forward */
    struct frame *frames;          /* open collections, outermost first */
    size_t nframes;                /* frames in use */
    size_t capframes;              /* frames allocated */
    struct ynode_w **kids;         /* finished children of open collections */
    size_t nkids;                  /* kids in use */
    size_t capkids;                /* kids allocated */
    struct anchor_tab anchors;     /* anchors seen so far */
    uint64_t seed;                 /* hash seed, different in every parse */
    size_t total;                  /* nodes so far, aliases expanded */
    size_t text_total;             /* scalar bytes so far, aliases expanded */
    int ndocs;                     /* documents started */
    struct ynode_w *root;          /* the root once it is complete */
    struct weir_err *err;          /* where failures are described */
    int line;                      /* where the failure is, 0 if nowhere */
    int col;                       /* its column */
};

/* ---- arena ---------------------------------------------------------- */

static void *arena_alloc(struct ydoc *doc, size_t size)
{
    struct arena_chunk *c = doc->chunks;
    size_t cap;
    void *p;

    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (c == NULL || c->cap - c->used < size) {
        cap = size > doc->next_cap ? size : doc->next_cap;
        c = malloc(sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->next = doc->chunks;
        c->used = 0;
        c->cap = cap;
        doc->chunks = c;
        if (doc->next_cap < ARENA_MAX)
            doc->next_cap *= 2;
    }
    p = c->data + c->used;
    c->used += size;
    return p;
}

static char *arena_strdup(struct ydoc *doc, const void *s, size_t len)
{
    char *p = arena_alloc(doc, len + 1);

    if (p == NULL)
        return NULL;
    if (len > 0)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* ---- positions ------------------------------------------------------ */

/* Width of the UTF-8 sequence that starts with c (the text is valid). */
static size_t utf8_width(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c < 0xE0)
        return 2;
    return c < 0xF0 ? 3 : 4;
}

static void pos_init(struct pos_cursor *cur, const unsigned char *text,
                     size_t len)
{
    cur->text = text;
    cur->len = len;
    cur->idx = 0;
    cur->off = 0;
    cur->line = 1;
    cur->line_start = 0;
}

/* Step over one character, counting line breaks the way libyaml does. */
static void pos_step(struct pos_cursor *cur)
{
    const unsigned char *s = cur->text + cur->off;
    size_t left = cur->len - cur->off;
    size_t w = utf8_width(s[0]);
    bool brk;

    if (w > left)
        w = left;
    brk = s[0] == '\n' || (s[0] == '\r' && (left < 2 || s[1] != '\n')) ||
          (w == 2 && s[0] == 0xC2 && s[1] == 0x85) ||
          (w == 3 && s[0] == 0xE2 && s[1] == 0x80 &&
           (s[2] == 0xA8 || s[2] == 0xA9));
    cur->off += w;
    cur->idx++;
    if (brk) {
        cur->line++;
        cur->line_start = cur->off;
    }
}

static int clamp_int(size_t v)
{
    return v > INT_MAX ? INT_MAX : (int)v;
}

/* Line and byte column of the character with libyaml index idx. */
static void pos_at_index(struct pos_cursor *cur, size_t idx, int *line,
                         int *col)
{
    if (idx < cur->idx)
        pos_init(cur, cur->text, cur->len);
    while (cur->idx < idx && cur->off < cur->len)
        pos_step(cur);
    *line = clamp_int(cur->line);
    *col = clamp_int(cur->off - cur->line_start + 1);
}

/* Line and byte column of byte offset off (on a character boundary). */
static void pos_at_offset(const unsigned char *text, size_t len, size_t off,
                          int *line, int *col)
{
    struct pos_cursor cur;

    pos_init(&cur, text, len);
    while (cur.off < off && cur.off < len)
        pos_step(&cur);
    *line = clamp_int(cur.line);
    *col = clamp_int(off - cur.line_start + 1);
}

/* ---- checks on the raw text ----------------------------------------- */

/* Refuse text libyaml should never see; 0 or WEIR_EPARSE. */
static int text_check(const unsigned char *s, size_t len, struct weir_err *err,
                      int *line, int *col)
{
    const unsigned char *nul;
    size_t bad;

    if (len >= 2 &&
        ((s[0] == 0xFE && s[1] == 0xFF) || (s[0] == 0xFF && s[1] == 0xFE))) {
        *line = 0;
        *col = 0;
        return weir_err_set(err, WEIR_EPARSE,
                            "the text is UTF-16 (it starts with a byte-order "
                            "mark 0x%02x 0x%02x); save it as UTF-8",
                            s[0], s[1]);
    }
    bad = utf8_invalid_offset(s, len);
    nul = len > 0 ? memchr(s, '\0', bad) : NULL;
    if (nul != NULL) {
        pos_at_offset(s, len, (size_t)(nul - s), line, col);
        return weir_err_set(err, WEIR_EPARSE, "NUL byte in the text");
    }
    if (bad < len) {
        pos_at_offset(s, len, bad, line, col);
        return weir_err_set(err, WEIR_EPARSE, "invalid UTF-8 byte 0x%02x",
                            s[bad]);
    }
    return 0;
}

/* ---- building ------------------------------------------------------- */

static WEIR_PRINTF(4, 5) int build_fail(struct build *b, size_t idx, int code,
                                        const char *fmt, ...)
{
    va_list ap;

    pos_at_index(&b->cur, idx, &b->line, &b->col);
    if (b->err != NULL) {
        b->err->code = code;
        va_start(ap, fmt);
        vsnprintf(b->err->msg, sizeof(b->err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

static int build_nomem(struct build *b)
{
    b->line = 0;
    b->col = 0;
    return weir_err_set(b->err, WEIR_ENOMEM, "out of memory reading YAML");
}

static uint64_t hash_bytes(uint64_t seed, const void *p, size_t len)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* The slot for name: the one holding it, or the free one it would take. */
static struct anchor *anchor_slot(const struct build *b, const char *name)
{
    const struct anchor_tab *t = &b->anchors;
    size_t i = hash_bytes(b->seed, name, strlen(name)) & (t->cap - 1);

    while (t->v[i].name != NULL && strcmp(t->v[i].name, name) != 0)
        i = (i + 1) & (t->cap - 1);
    return &t->v[i];
}

static int anchor_grow(struct build *b)
{
    struct anchor_tab old = b->anchors;
    size_t cap = old.cap ? old.cap * 2 : 64;
    size_t i;

    b->anchors.v = calloc(cap, sizeof(*b->anchors.v));
    if (b->anchors.v == NULL) {
        b->anchors = old;
        return build_nomem(b);
    }
    b->anchors.cap = cap;
    for (i = 0; i < old.cap; i++)
        if (old.v[i].name != NULL)
            *anchor_slot(b, old.v[i].name) = old.v[i];
    free(old.v);
    return 0;
}

/*
 * Point anchor name at node (NULL while its collection is open); *saved gets
 * the name as stored, for the collection's end.
 */
static int anchor_set(struct build *b, const char *name, struct ynode_w *node,
                      const char **saved)
{
    struct anchor *a;
    int rc;

    if ((b->anchors.n + 1) * 2 > b->anchors.cap) {
        rc = anchor_grow(b);
        if (rc < 0)
            return rc;
    }
    a = anchor_slot(b, name);
    if (a->name == NULL) {
        a->name = arena_strdup(b->doc, name, strlen(name));
        if (a->name == NULL)
            return build_nomem(b);
        b->anchors.n++;
    }
    a->node = node;
    if (saved != NULL)
        *saved = a->name;
    return 0;
}

/* Whether w more nodes and t more bytes of text stay within the budgets. */
static const char *build_over(const struct build *b, size_t w, size_t t)
{
    if (w > b->lim->max_nodes || b->total > b->lim->max_nodes - w)
        return "nodes";
    if (t > b->max_text || b->text_total > b->max_text - t)
        return "text";
    return NULL;
}

/* Describe a budget build_over() found exceeded. */
static int build_over_fail(struct build *b, const char *what)
{
    if (strcmp(what, "nodes") == 0)
        return weir_err_set(b->err, WEIR_ETOOBIG,
                            "the document has more than %zu nodes with "
                            "aliases expanded",
                            b->lim->max_nodes);
    return weir_err_set(b->err, WEIR_ETOOBIG,
                        "the document has more than %zu bytes of text with "
                        "aliases expanded",
                        b->max_text);
}

/*
 * Count w more nodes holding t bytes of text against the budgets; idx is
 * where they come from.
 */
static int build_count(struct build *b, size_t w, size_t t, size_t idx)
{
    const char *over = build_over(b, w, t);

    if (over != NULL) {
        pos_at_index(&b->cur, idx, &b->line, &b->col);
        return build_over_fail(b, over);
    }
    b->total += w;
    b->text_total += t;
    return 0;
}

/* Hand a finished node to the open collection, or make it the root. */
static int build_add(struct build *b, struct ynode_w *node)
{
    if (b->nframes == 0) {
        b->root = node;
        return 0;
    }
    if (!WEIR_GROW(b->kids, b->capkids, b->nkids + 1, 256, 0))
        return build_nomem(b);
    b->kids[b->nkids++] = node;
    return 0;
}

static struct ynode_w *node_new(struct build *b, enum ynode_kind kind,
                                yaml_mark_t mark)
{
    struct ynode_w *w = arena_alloc(b->doc, sizeof(*w));

    if (w == NULL)
        return NULL;
    memset(w, 0, sizeof(*w));
    w->n.kind = kind;
    w->n.style = YSTYLE_PLAIN;
    w->n.str = "";
    w->weight = 1;
    pos_at_index(&b->cur, mark.index, &w->n.line, &w->n.col);
    return w;
}

/*
 * The tag as the tree keeps it: NULL for none, and for the non-specific "!"
 * except on a plain scalar, which it makes a string.
 */
static const char *tag_keep(struct build *b, const yaml_char_t *tag, bool plain,
                            bool *nomem)
{
    static const char *const core[] = {
        YNODE_TAG_PREFIX "str",   YNODE_TAG_PREFIX "int",
        YNODE_TAG_PREFIX "float", YNODE_TAG_PREFIX "bool",
        YNODE_TAG_PREFIX "null",  YNODE_TAG_PREFIX "map",
        YNODE_TAG_PREFIX "seq",   YNODE_TAG_PREFIX "merge",
    };
    const char *t = (const char *)tag;
    const char *copy;
    size_t i;

    *nomem = false;
    if (t == NULL)
        return NULL;
    if (strcmp(t, "!") == 0)
        return plain ? core[0] : NULL; /* "! x" reads x as a string */
    for (i = 0; i < WEIR_ARRAY_LEN(core); i++)
        if (strcmp(t, core[i]) == 0)
            return core[i];
    copy = arena_strdup(b->doc, t, strlen(t));
    *nomem = copy == NULL;
    return copy;
}

static int on_scalar(struct build *b, const yaml_event_t *ev)
{
    struct ynode_w *w;
    enum ynode_style style = YSTYLE_PLAIN;
    bool nomem;
    int rc;

    switch (ev->data.scalar.style) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE:
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
        style = YSTYLE_QUOTED;
        break;
    case YAML_LITERAL_SCALAR_STYLE:
    case YAML_FOLDED_SCALAR_STYLE:
        style = YSTYLE_BLOCK;
        break;
    default:
        break;
    }
    rc = build_count(b, 1, ev->data.scalar.length, ev->start_mark.index);
    if (rc < 0)
        return rc;
    w = node_new(b, YNODE_SCALAR, ev->start_mark);
    if (w == NULL)
        return build_nomem(b);
    w->n.style = style;
    w->n.len = ev->data.scalar.length;
    w->text = w->n.len;
    w->n.str = arena_strdup(b->doc, ev->data.scalar.value, w->n.len);
    w->n.tag = tag_keep(b, ev->data.scalar.tag, style == YSTYLE_PLAIN, &nomem);
    if (w->n.str == NULL || nomem)
        return build_nomem(b);
    if (ev->data.scalar.anchor != NULL) {
        rc = anchor_set(b, (const char *)ev->data.scalar.anchor, w, NULL);
        if (rc < 0)
            return rc;
    }
    return build_add(b, w);
}

static int on_alias(struct build *b, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    size_t idx = ev->start_mark.index;
    const struct anchor *a = NULL;
    int rc;

    if (b->anchors.cap > 0)
        a = anchor_slot(b, name);
    if (a == NULL || a->name == NULL)
        return build_fail(b, idx, WEIR_EPARSE, "unknown alias *%s", name);
    if (a->node == NULL)
        return build_fail(b, idx, WEIR_EPARSE,
                          "alias *%s refers to a collection that contains it",
                          name);
    if (b->nframes + (size_t)a->node->height > b->max_depth)
        return build_fail(b, idx, WEIR_EPARSE,
                          "nesting deeper than %d levels once alias *%s is "
                          "expanded",
                          b->lim->max_depth, name);
    rc = build_count(b, a->node->weight, a->node->text, idx);
    if (rc < 0)
        return rc;
    return build_add(b, a->node);
}

static int on_start(struct build *b, const yaml_event_t *ev,
                    enum ynode_kind kind)
{
    const yaml_char_t *anchor, *tag;
    struct frame *f;
    struct ynode_w *w;
    bool nomem;
    int rc;

    if (b->nframes >= b->max_depth)
        return build_fail(b, ev->start_mark.index, WEIR_EPARSE,
                          "nesting deeper than %d levels", b->lim->max_depth);
    rc = build_count(b, 1, 0, ev->start_mark.index);
    if (rc < 0)
        return rc;
    if (!WEIR_GROW(b->frames, b->capframes, b->nframes + 1, 16, 0))
        return build_nomem(b);
    anchor = kind == YNODE_MAP ? ev->data.mapping_start.anchor
                               : ev->data.sequence_start.anchor;
    tag = kind == YNODE_MAP ? ev->data.mapping_start.tag
                            : ev->data.sequence_start.tag;
    w = node_new(b, kind, ev->start_mark);
    if (w == NULL)
        return build_nomem(b);
    w->n.tag = tag_keep(b, tag, false, &nomem);
    if (nomem)
        return build_nomem(b);
    f = &b->frames[b->nframes];
    f->node = w;
    f->first = b->nkids;
    f->anchor = NULL;
    if (anchor != NULL) {
        rc = anchor_set(b, (const char *)anchor, NULL, &f->anchor);
        if (rc < 0)
            return rc;
    }
    b->nframes++;
    return 0;
}

/* Size and height of a collection from its items. */
static void node_measure(struct ynode_w *w)
{
    size_t i, n = w->n.kind == YNODE_MAP ? 2 * w->n.n : w->n.n;
    const struct ynode_w *item;

    w->weight = 1;
    w->text = 0;
    w->height = 1;
    for (i = 0; i < n; i++) {
        item = (const struct ynode_w *)w->n.items[i];
        w->weight += item->weight;
        w->text += item->text;
        if (item->height + 1 > w->height)
            w->height = item->height + 1;
    }
}

static bool is_merge_key(const struct ynode *k)
{
    return k->kind == YNODE_SCALAR && k->style == YSTYLE_PLAIN && k->len == 2 &&
           memcmp(k->str, "<<", 2) == 0 &&
           (k->tag == NULL || strcmp(k->tag, YNODE_TAG_PREFIX "merge") == 0);
}

/* Add scalar key k; false when an equal key is already there. */
static bool key_set_add(struct key_set *s, const struct ynode *k)
{
    size_t i = hash_bytes(s->seed, k->str, k->len) & (s->cap - 1);

    while (s->v[i] != NULL) {
        if (s->v[i]->len == k->len && memcmp(s->v[i]->str, k->str, k->len) == 0)
            return false;
        i = (i + 1) & (s->cap - 1);
    }
    s->v[i] = k;
    return true;
}

/* Pairs that the value of a merge key offers; an error if it is not maps. */
static int merge_count(struct build *b, const struct ynode *key,
                       const struct ynode *val, size_t *pairs)
{
    size_t i;

    if (val->kind == YNODE_MAP) {
        *pairs += val->n;
        return 0;
    }
    for (i = 0; val->kind == YNODE_SEQ && i < val->n; i++) {
        if (val->items[i]->kind != YNODE_MAP)
            break;
        *pairs += val->items[i]->n;
    }
    if (val->kind == YNODE_SEQ && i == val->n)
        return 0;
    b->line = key->line;
    b->col = key->col;
    return weir_err_set(b->err, WEIR_EPARSE,
                        "a merge key (<<) takes a mapping or a list of "
                        "mappings");
}

/* Append the pairs of source map src that the set does not hold yet. */
static int merge_from(struct build *b, struct key_set *set,
                      const struct ynode *src, const struct ynode *key,
                      struct ynode **out, size_t *nout)
{
    const struct ynode_w *k, *v;
    const char *over;
    size_t i;

    for (i = 0; i < src->n; i++) {
        k = (const struct ynode_w *)src->items[2 * i];
        v = (const struct ynode_w *)src->items[2 * i + 1];
        if (k->n.kind == YNODE_SCALAR && !key_set_add(set, &k->n))
            continue;
        /* both sums are bounded by the budgets already counted */
        over = build_over(b, k->weight + v->weight, k->text + v->text);
        if (over != NULL) {
            b->line = key->line;
            b->col = key->col;
            return build_over_fail(b, over);
        }
        b->total += k->weight + v->weight;
        b->text_total += k->text + v->text;
        out[(*nout)++] = src->items[2 * i];
        out[(*nout)++] = src->items[2 * i + 1];
    }
    return 0;
}

/* Merged pairs of every merge key among kids, in order, into out. */
static int merge_all(struct build *b, struct key_set *set,
                     struct ynode_w **kids, size_t nk, struct ynode **out,
                     size_t *nout)
{
    const struct ynode *key, *val;
    size_t i, j;
    int rc = 0;

    for (i = 0; i < nk && rc == 0; i += 2) {
        key = &kids[i]->n;
        val = &kids[i + 1]->n;
        if (!is_merge_key(key))
            continue;
        if (val->kind == YNODE_MAP)
            rc = merge_from(b, set, val, key, out, nout);
        for (j = 0; val->kind == YNODE_SEQ && j < val->n && rc == 0; j++)
            rc = merge_from(b, set, val->items[j], key, out, nout);
    }
    return rc;
}

/*
 * Items of a mapping with merge keys: explicit pairs keep their order, and
 * the merged ones take the place of the first merge key.
 */
static int map_merge(struct build *b, struct ynode_w *map,
                     struct ynode_w **kids, size_t nk, size_t first_merge)
{
    struct key_set set = {NULL, 0, b->seed};
    struct ynode **out;
    size_t i, explicit = 0, offered = 0, nout = 0;
    int rc = 0;

    for (i = 0; i < nk && rc == 0; i += 2) {
        if (is_merge_key(&kids[i]->n))
            rc = merge_count(b, &kids[i]->n, &kids[i + 1]->n, &offered);
        else
            explicit ++;
    }
    if (rc < 0)
        return rc;
    for (set.cap = 16; set.cap < 2 * (explicit + offered); set.cap *= 2)
        ;
    set.v = calloc(set.cap, sizeof(*set.v));
    out = arena_alloc(b->doc, 2 * (explicit + offered) * sizeof(*out) + 1);
    if (set.v == NULL || out == NULL) {
        free(set.v);
        return build_nomem(b);
    }
    for (i = 0; i < nk; i += 2)
        if (!is_merge_key(&kids[i]->n) && kids[i]->n.kind == YNODE_SCALAR)
            key_set_add(&set, &kids[i]->n);
    for (i = 0; i < first_merge; i++)
        out[nout++] = &kids[i]->n;
    rc = merge_all(b, &set, kids, nk, out, &nout);
    for (i = first_merge; i < nk && rc == 0; i += 2) {
        if (is_merge_key(&kids[i]->n))
            continue;
        out[nout++] = &kids[i]->n;
        out[nout++] = &kids[i + 1]->n;
    }
    free(set.v);
    map->n.items = out;
    map->n.n = nout / 2;
    return rc;
}

/* Give the innermost open collection its items. */
static int collection_finish(struct build *b, struct ynode_w *w)
{
    const struct frame *f = &b->frames[b->nframes - 1];
    struct ynode_w **kids = b->kids;
    size_t i, nk = b->nkids - f->first;

    if (nk == 0) {
        w->n.n = 0;
        return 0;
    }
    kids += f->first;

    if (w->n.kind == YNODE_MAP) {
        WEIR_ASSERT(nk % 2 == 0);
        for (i = 0; i < nk; i += 2)
            if (is_merge_key(&kids[i]->n))
                return map_merge(b, w, kids, nk, i);
    }
    w->n.items = arena_alloc(b->doc, nk * sizeof(*w->n.items));
    if (w->n.items == NULL)
        return build_nomem(b);
    for (i = 0; i < nk; i++)
        w->n.items[i] = &kids[i]->n;
    w->n.n = w->n.kind == YNODE_MAP ? nk / 2 : nk;
    return 0;
}

static int on_end(struct build *b)
{
    struct frame *f = &b->frames[b->nframes - 1];
    struct ynode_w *w = f->node;
    struct anchor *a;
    int rc;

    rc = collection_finish(b, w);
    if (rc < 0)
        return rc;
    node_measure(w);
    b->nkids = f->first;
    b->nframes--;
    if (b->nframes + (size_t)w->height > b->max_depth) {
        b->line = w->n.line;
        b->col = w->n.col;
        return weir_err_set(b->err, WEIR_EPARSE,
                            "nesting deeper than %d levels once merge keys "
                            "are applied",
                            b->lim->max_depth);
    }
    if (f->anchor != NULL) {
        a = anchor_slot(b, f->anchor);
        if (a->node == NULL) /* else an inner node took the name over */
            a->node = w;
    }
    return build_add(b, w);
}

static int on_event(struct build *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (b->ndocs++ > 0) {
            pos_at_index(&b->cur, ev->start_mark.index, &b->line, &b->col);
            return weir_err_set(b->err, WEIR_EPARSE,
                                "a DAG file holds one YAML document; found a "
                                "second at line %d, column %d",
                                b->line, b->col);
        }
        return 0;
    case YAML_ALIAS_EVENT:
        return on_alias(b, ev);
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, ev, YNODE_SEQ);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, ev, YNODE_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_end(b);
    default:
        return 0;
    }
}

/* Describe a libyaml failure in err, with its position. */
static int yaml_fail(struct build *b, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "cannot parse YAML";
    int cline, ccol;

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return build_nomem(b);
    case YAML_READER_ERROR:
        pos_at_offset(b->cur.text, b->cur.len, p->problem_offset, &b->line,
                      &b->col);
        if (p->problem_value >= 0)
            return weir_err_set(b->err, WEIR_EPARSE, "%s (U+%04X)", problem,
                                (unsigned)p->problem_value);
        return weir_err_set(b->err, WEIR_EPARSE, "%s", problem);
    default:
        break;
    }
    if (p->context != NULL) {
        pos_at_index(&b->cur, p->context_mark.index, &cline, &ccol);
        pos_at_index(&b->cur, p->problem_mark.index, &b->line, &b->col);
        return weir_err_set(b->err, WEIR_EPARSE,
                            "%s (%s at line %d, column %d)", problem,
                            p->context, cline, ccol);
    }
    pos_at_index(&b->cur, p->problem_mark.index, &b->line, &b->col);
    return weir_err_set(b->err, WEIR_EPARSE, "%s", problem);
}

/* Feed every event of the text to the builder. */
static int build_run(struct build *b, const unsigned char *s, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    bool done = false;
    int rc = 0;

    if (!yaml_parser_initialize(&parser))
        return build_nomem(b);
    yaml_parser_set_input_string(&parser, s, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    while (!done && rc == 0) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = yaml_fail(b, &parser);
            break;
        }
        rc = on_event(b, &ev);
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (rc == 0 && (b->root == NULL ||
                    (b->root->n.kind == YNODE_SCALAR && b->root->n.len == 0 &&
                     b->root->n.style == YSTYLE_PLAIN && !b->root->n.tag))) {
        b->line = 0;
        b->col = 0;
        rc = weir_err_set(b->err, WEIR_EPARSE, "the file is empty");
    }
    return rc;
}

struct ydoc_limits ydoc_limits_default(void)
{
    struct ydoc_limits l = {1024 * 1024, 32, 100000, 8 * 1024 * 1024};

    return l;
}

int ydoc_parse(const char *text, size_t len, const struct ydoc_limits *limits,
               struct ydoc **out, struct weir_err *err, int *line, int *col)
{
    struct ydoc_limits def = ydoc_limits_default();
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    struct build b;
    int rc;

    WEIR_ASSERT(out != NULL && (text != NULL || len == 0));
    memset(&b, 0, sizeof(b));
    b.lim = limits ? limits : &def;
    b.max_depth = b.lim->max_depth > 0 ? (size_t)b.lim->max_depth : 0;
    b.max_text = b.lim->max_text;
    if (b.max_text == 0)
        b.max_text =
            b.lim->max_bytes > SIZE_MAX / 8 ? SIZE_MAX : 8 * b.lim->max_bytes;
    b.err = err;
    if (len > b.lim->max_bytes) {
        rc = weir_err_set(err, WEIR_ETOOBIG,
                          "file is %zu bytes; the limit is %zu", len,
                          b.lim->max_bytes);
        goto out;
    }
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3; /* a UTF-8 byte-order mark is harmless; columns skip it */
        len -= 3;
    }
    rc = text_check(s, len, err, &b.line, &b.col);
    if (rc < 0)
        goto out;
    b.doc = calloc(1, sizeof(*b.doc));
    if (b.doc == NULL) {
        rc = build_nomem(&b);
        goto out;
    }
    /* nodes and text take a few times the source's size */
    b.doc->next_cap = len > ARENA_MAX / 4 ? ARENA_MAX : len * 4 + ARENA_MIN;
    b.seed = (uint64_t)(uintptr_t)&b ^ (uint64_t)(uintptr_t)b.doc;
    pos_init(&b.cur, s, len);
    rc = build_run(&b, s, len);
    if (rc == 0) {
        b.doc->root = &b.root->n;
        *out = b.doc;
        b.doc = NULL;
    }
out:
    if (rc < 0) {
        if (line != NULL)
            *line = b.line;
        if (col != NULL)
            *col = b.col;
    }
    ydoc_free(b.doc);
    free(b.frames);
    free(b.kids);
    free(b.anchors.v);
    return rc;
}

void ydoc_free(struct ydoc *doc)
{
    struct arena_chunk *c, *next;

    if (doc == NULL)
        return;
    for (c = doc->chunks; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(doc);
}

const struct ynode *ydoc_root(const struct ydoc *doc)
{
    return doc ? doc->root : NULL;
}
