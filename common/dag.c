/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DAG model's public functions (loading, freeing, lookups, matrix
 * cells, diagnostics) and the helpers the loader's files share: the arena,
 * message quoting, "did you mean" and source positions.
 */
#include "dag.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dag_internal.h"
#include "grow.h"
#include "sha256.h"
#include "suggest.h"

#define ARENA_CHUNK_BYTES (16 * 1024)
#define SUGGEST_BUDGET    (20L * 1000 * 1000) /* edit-distance cells */
#define SUGGEST_MAX_WORD  64                  /* longer words get none */
#define QUOTE_MAX         64 /* bytes of a quoted value in a message */

struct arena_chunk {
    struct arena_chunk *next; /* older chunk */
    size_t cap;               /* bytes in data */
    size_t used;              /* bytes handed out */
    max_align_t data[];       /* the memory */
};

const char *const dag_priority_names[4] = {"low", "normal", "high", "critical"};
const char *const dag_rule_names[5] = {"all_success", "all_done", "none_failed",
                                       "one_failed", "one_success"};
static const char *const kind_names[7] = {"cron",    "event", "metric", "file",
                                          "webhook", "after", "data"};

/* ---- arena ---- */

static void *arena_get(struct arena *a, size_t size, bool zero)
{
    struct arena_chunk *ch = a->head;
    void *p;

    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + 15) & ~(size_t)15;
    if (ch == NULL || ch->cap - ch->used < size) {
        size_t cap = size > ARENA_CHUNK_BYTES ? size : ARENA_CHUNK_BYTES;
        struct arena_chunk *n = malloc(sizeof(*n) + cap);

        if (n == NULL)
            return NULL;
        n->cap = cap;
        n->used = 0;
        if (ch != NULL && size > ARENA_CHUNK_BYTES / 4) {
            /* A big block gets a chunk of its own behind the current one,
             * so the current one keeps serving small requests. */
            n->next = ch->next;
            ch->next = n;
        } else {
            n->next = ch;
            a->head = n;
        }
        ch = n;
    }
    p = (char *)ch->data + ch->used;
    ch->used += size;
    if (zero)
        memset(p, 0, size);
    return p;
}

void *arena_alloc(struct dag_ctx *c, size_t size)
{
    void *p = arena_get(c->arena, size == 0 ? 1 : size, true);

    if (p == NULL)
        c->nomem = true;
    return p;
}

void *arena_array(struct dag_ctx *c, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / 4 / size) {
        c->nomem = true;
        return NULL;
    }
    return arena_alloc(c, n * size);
}

char *arena_strndup(struct dag_ctx *c, const char *s, size_t len)
{
    char *p = arena_get(c->arena, len + 1, false);

    if (p == NULL) {
        c->nomem = true;
        return NULL;
    }
    if (len > 0)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void arena_cleanup(struct arena *a)
{
    struct arena_chunk *ch = a->head;

    while (ch != NULL) {
        struct arena_chunk *next = ch->next;

        free(ch);
        ch = next;
    }
    a->head = NULL;
}

/* ---- diagnostics ---- */

void dag_diags_init(struct dag_diags *d)
{
    memset(d, 0, sizeof(*d));
}

void dag_diags_cleanup(struct dag_diags *d)
{
    free(d->v);
    dag_diags_init(d);
}

static void diags_vadd(struct dag_diags *d, struct dag_pos pos, const char *fmt,
                       va_list ap) WEIR_PRINTF(3, 0);

static void diags_vadd(struct dag_diags *d, struct dag_pos pos, const char *fmt,
                       va_list ap)
{
    if (d->n >= DAG_MAX_DIAGS) {
        d->truncated = true;
        return;
    }
    if (!WEIR_GROW(d->v, d->cap, d->n + 1, 8, DAG_MAX_DIAGS)) {
        d->truncated = true;
        return;
    }
    d->v[d->n].pos = pos;
    vsnprintf(d->v[d->n].msg, sizeof(d->v[d->n].msg), fmt, ap);
    d->n++;
}

void dag_diags_add(struct dag_diags *d, struct dag_pos pos, const char *fmt,
                   ...)
{
    va_list ap;

    va_start(ap, fmt);
    diags_vadd(d, pos, fmt, ap);
    va_end(ap);
}

void dag_diags_print(const struct dag_diags *d, const char *file, FILE *f)
{
    if (file == NULL)
        file = "-";
    for (size_t i = 0; i < d->n; i++) {
        const struct dag_diag *g = &d->v[i];

        if (g->pos.line <= 0)
            fprintf(f, "%s: %s\n", file, g->msg);
        else
            fprintf(f, "%s:%d:%d: %s\n", file, g->pos.line, g->pos.col, g->msg);
    }
    if (d->truncated)
        fprintf(f, "%s: more problems were found than are shown\n", file);
}

static bool pos_before(struct dag_pos a, struct dag_pos b)
{
    return a.line < b.line || (a.line == b.line && a.col < b.col);
}

/* Stable insertion sort of v[first..n) by position; n is at most 100. */
static void diags_sort(struct dag_diags *d, size_t first)
{
    for (size_t i = first + 1; i < d->n; i++) {
        struct dag_diag tmp = d->v[i];
        size_t j = i;

        while (j > first && pos_before(tmp.pos, d->v[j - 1].pos)) {
            d->v[j] = d->v[j - 1];
            j--;
        }
        d->v[j] = tmp;
    }
}

void dag_error(struct dag_ctx *c, struct dag_pos pos, const char *fmt, ...)
{
    va_list ap;

    c->n_found++;
    va_start(ap, fmt);
    diags_vadd(c->diags, pos, fmt, ap);
    va_end(ap);
}

/* ---- message helpers ---- */

static char *qslot(struct dag_ctx *c)
{
    char *b = c->qring[c->qnext % WEIR_ARRAY_LEN(c->qring)];

    c->qnext++;
    return b;
}

/* s escaped for a message between double quotes, cut after QUOTE_MAX bytes
 * (on a character boundary). */
static const char *quote_into(char *b, const char *s, bool quotes)
{
    size_t o = 0;

    if (quotes)
        b[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (o >= QUOTE_MAX && (*p & 0xC0) != 0x80) {
            memcpy(b + o, "...", 3);
            o += 3;
            break;
        }
        if (*p == '"' || *p == '\\') {
            b[o++] = '\\';
            b[o++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(b + o, 5, "\\x%02x", *p);
            o += 4;
        } else {
            b[o++] = (char)*p;
        }
    }
    if (quotes)
        b[o++] = '"';
    b[o] = '\0';
    return b;
}

const char *dag_q(struct dag_ctx *c, const char *s)
{
    return quote_into(qslot(c), s ? s : "", false);
}

/* ynode_is_null() with the cheap tests first: every null form is a plain
 * scalar of at most 4 bytes. */
bool dag_is_null(const struct ynode *n)
{
    return n->kind == YNODE_SCALAR && n->style == YSTYLE_PLAIN && n->len <= 4 &&
           ynode_is_null(n);
}

const char *dag_got(struct dag_ctx *c, const struct ynode *n)
{
    double d;
    bool b;

    if (n == NULL)
        return "nothing";
    if (n->kind != YNODE_SCALAR)
        return ynode_describe(n);
    if (dag_is_null(n))
        return "null";
    if (ynode_get_double(n, &d) == 0 || ynode_get_bool(n, &b) == 0)
        return quote_into(qslot(c), n->str, false);
    return quote_into(qslot(c), n->str, true);
}

const char *dag_suggest(struct dag_ctx *c, const char *word,
                        const char *const *cands, size_t n)
{
    size_t wl = strlen(word);
    int limit = (int)wl / 3;
    const char *best = NULL;
    int best_d = 0;

    if (limit < 1)
        limit = 1;
    if (wl == 0 || wl > SUGGEST_MAX_WORD)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t cl = cands[i] ? strlen(cands[i]) : 0;
        int dist;

        if (cl == 0 || cl + (size_t)limit < wl || wl + (size_t)limit < cl)
            continue;
        if (cl == wl && strcasecmp(word, cands[i]) == 0)
            return cands[i];
        if (c->suggest_budget <= 0)
            return best;
        c->suggest_budget -= (long)((wl + 1) * (cl + 1));
        dist = suggest_distance(word, cands[i]);
        if (dist <= limit && dist < (int)wl &&
            (best == NULL || dist < best_d)) {
            best = cands[i];
            best_d = dist;
        }
    }
    return best;
}

const char *dag_mean(struct dag_ctx *c, const char *best)
{
    char *b, q[100];

    if (best == NULL)
        return "";
    b = qslot(c);
    quote_into(q, best, false);
    snprintf(b, sizeof(c->qring[0]), " (did you mean \"%.90s\"?)", q);
    return b;
}

/* ---- positions ---- */

struct dag_pos dag_npos(const struct ynode *n)
{
    struct dag_pos p = {0, 0};

    if (n != NULL) {
        p.line = n->line;
        p.col = n->col;
    }
    return p;
}

static bool make_lines(struct dag_ctx *c)
{
    size_t n = 1;

    if (c->line_start != NULL)
        return true;
    for (size_t i = 0; i < c->src_len; i++)
        n += c->src[i] == '\n';
    c->line_start = malloc(n * sizeof(*c->line_start));
    if (c->line_start == NULL)
        return false;
    c->line_start[0] = 0;
    c->n_lines = 1;
    for (size_t i = 0; i < c->src_len; i++)
        if (c->src[i] == '\n')
            c->line_start[c->n_lines++] = i + 1;
    return true;
}

/*
 * The position of byte `off` of scalar n's text. Exact when the scalar is
 * written on one line without escapes (its source bytes are its text);
 * otherwise the scalar's own position.
 */
struct dag_pos dag_pos_in(struct dag_ctx *c, const struct ynode *n, int off)
{
    struct dag_pos p = dag_npos(n);
    size_t at, skip;

    if (n == NULL || n->kind != YNODE_SCALAR || n->style == YSTYLE_BLOCK ||
        off < 0 || (size_t)off > n->len || !make_lines(c) || n->line < 1 ||
        n->col < 1 || (size_t)n->line > c->n_lines)
        return p;
    if (memchr(n->str, '\n', n->len) != NULL)
        return p;
    at = c->line_start[n->line - 1] + (size_t)n->col - 1;
    skip = n->style == YSTYLE_QUOTED ? 1 : 0;
    if (at + skip > c->src_len || c->src_len - at - skip < n->len)
        return p;
    if (skip && c->src[at] != '"' && c->src[at] != '\'')
        return p;
    if (memcmp(c->src + at + skip, n->str, n->len) != 0)
        return p;
    p.col += (int)skip + off;
    return p;
}

/* ---- names and refs ---- */

bool dag_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > DAG_ID_MAX || strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  (i > 0 && (ch == '_' || ch == '-'));

        if (!ok)
            return false;
    }
    return true;
}

bool dag_name_valid(const char *s, size_t len)
{
    if (len == 0 || strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  ch == '_' || (i > 0 && ch >= '0' && ch <= '9');

        if (!ok)
            return false;
    }
    return true;
}

void dag_add_ref(struct dag_ctx *c, const char *name, const struct ynode *node,
                 int offset, enum dag_scope scope, size_t step)
{
    struct dag_ref *r;

    if (!WEIR_GROW(c->refs, c->cap_refs, c->n_refs + 1, 32, 0)) {
        c->nomem = true;
        return;
    }
    r = &c->refs[c->n_refs];
    r->name = arena_strndup(c, name, strlen(name));
    if (r->name == NULL)
        return;
    r->node = node;
    r->offset = offset;
    r->scope = scope;
    r->step = step;
    r->env = false;
    c->n_refs++;
}

/* ---- the model ---- */

const char *dag_priority_name(enum dag_priority p)
{
    if ((unsigned)p >= WEIR_ARRAY_LEN(dag_priority_names))
        return "?";
    return dag_priority_names[p];
}

const char *dag_hook_name(enum dag_hook_kind h)
{
    return h == DAG_HOOK_ON_FAILURE   ? "on_failure"
           : h == DAG_HOOK_ON_SUCCESS ? "on_success"
                                      : NULL;
}

const char *dag_trigger_rule_name(enum dag_trigger_rule r)
{
    if ((unsigned)r >= WEIR_ARRAY_LEN(dag_rule_names))
        return "?";
    return dag_rule_names[r];
}

const char *dag_trigger_kind_name(enum dag_trigger_kind k)
{
    if ((unsigned)k >= WEIR_ARRAY_LEN(kind_names))
        return "?";
    return kind_names[k];
}

void dag_free(struct dag *dag)
{
    struct dag_box *box = (struct dag_box *)dag;

    if (dag == NULL)
        return;
    cJSON_Delete(dag->params);
    for (size_t i = 0; dag->triggers && i < dag->n_triggers; i++) {
        cJSON_Delete(dag->triggers[i].params);
        cJSON_Delete(dag->triggers[i].labels);
    }
    for (size_t i = 0; dag->environments && i < dag->n_environments; i++)
        cJSON_Delete(dag->environments[i].params);
    for (size_t i = 0; dag->steps && i < dag->n_steps; i++)
        for (size_t j = 0; dag->steps[i].matrix && j < dag->steps[i].n_matrix;
             j++)
            cJSON_Delete(dag->steps[i].matrix[j].values);
    arena_cleanup(&box->arena);
    free(box);
}

const struct dag_step *dag_step_get(const struct dag *dag, const char *id)
{
    for (size_t i = 0; i < dag->n_steps; i++)
        if (strcmp(dag->steps[i].id, id) == 0)
            return &dag->steps[i];
    return NULL;
}

cJSON *dag_step_cell(const struct dag_step *step, size_t cell)
{
    cJSON *o;
    size_t stride;

    WEIR_ASSERT(cell < step->n_cells);
    o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    stride = step->n_cells;
    for (size_t i = 0; i < step->n_matrix; i++) {
        const struct dag_axis *ax = &step->matrix[i];
        size_t len = (size_t)cJSON_GetArraySize(ax->values);
        cJSON *v;

        stride /= len;
        v = cJSON_Duplicate(
            cJSON_GetArrayItem(ax->values, (int)((cell / stride) % len)), 1);
        if (v == NULL || !cJSON_AddItemToObject(o, ax->name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* ---- loading ---- */

static int parse_into(struct dag_ctx *c, const char *name, const char *text,
                      size_t len)
{
    struct ydoc_limits lim = ydoc_limits_default();
    struct ydoc *doc = NULL;
    struct weir_err err = {0};
    int line = 0, col = 0;
    int rc = ydoc_parse(text, len, &lim, &doc, &err, &line, &col);

    if (rc == WEIR_ENOMEM)
        return rc;
    if (rc < 0) {
        dag_error(c, (struct dag_pos){line, col}, "%s", err.msg);
        return 0;
    }
    c->dag->source = arena_strndup(c, text, len);
    c->dag->source_len = len;
    sha256_hex(text, len, c->dag->hash);
    dag_build(c, ydoc_root(doc), name);
    if (!c->nomem && c->n_found < DAG_MAX_DIAGS) {
        dag_check(c);
        dag_check_maps(c);
    }
    ydoc_free(doc);
    return c->nomem ? WEIR_ENOMEM : 0;
}

int dag_load(const char *name, const char *text, size_t len, struct dag **out,
             struct dag_diags *diags)
{
    struct dag_box *box = calloc(1, sizeof(*box));
    struct dag_ctx c;
    size_t first = diags->n;
    int rc;

    if (box == NULL)
        return WEIR_ENOMEM;
    memset(&c, 0, sizeof(c));
    c.dag = &box->dag;
    c.arena = &box->arena;
    c.diags = diags;
    c.src = text ? text : "";
    c.src_len = text ? len : 0;
    c.suggest_budget = SUGGEST_BUDGET;
    rc = parse_into(&c, name, c.src, c.src_len);
    diags_sort(diags, first);
    if (rc == 0 && c.n_found > 0)
        rc = WEIR_EINVAL;
    free(c.refs);
    free(c.line_start);
    if (rc < 0) {
        dag_free(&box->dag);
        return rc;
    }
    *out = &box->dag;
    return 0;
}

static int read_all(int fd, size_t size, char **out, size_t *len)
{
    char *buf = malloc(size + 1);
    size_t got = 0;

    if (buf == NULL)
        return WEIR_ENOMEM;
    /* Read one byte more than stat said, to notice a file still growing. */
    while (got < size + 1) {
        ssize_t r = read(fd, buf + got, size + 1 - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return WEIR_EIO;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got > size) {
        free(buf);
        return WEIR_ECONFLICT;
    }
    *out = buf;
    *len = got;
    return 0;
}

static int file_fail(struct dag_diags *diags, int code, const char *what,
                     int errnum)
{
    char buf[128];
    const char *msg = strerror_r(errnum, buf, sizeof(buf));

    dag_diags_add(diags, (struct dag_pos){0, 0}, "%s: %s", what, msg);
    return code;
}

int dag_load_file(const char *path, struct dag **out, struct dag_diags *diags)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int rc;

    if (fd < 0)
        return file_fail(diags, WEIR_EIO, "cannot open the file", errno);
    if (fstat(fd, &st) != 0) {
        rc = file_fail(diags, WEIR_EIO, "cannot read the file", errno);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        dag_diags_add(diags, (struct dag_pos){0, 0},
                      "not a regular file; a DAG is a YAML file");
        rc = WEIR_EIO;
        goto out;
    }
    if (st.st_size > DAG_MAX_FILE_BYTES) {
        dag_diags_add(diags, (struct dag_pos){0, 0},
                      "the file is %lld bytes; the limit is %d bytes",
                      (long long)st.st_size, DAG_MAX_FILE_BYTES);
        rc = WEIR_ETOOBIG;
        goto out;
    }
    rc = read_all(fd, (size_t)st.st_size, &buf, &len);
    if (rc == WEIR_EIO) {
        rc = file_fail(diags, WEIR_EIO, "cannot read the file", errno);
    } else if (rc == WEIR_ECONFLICT) {
        dag_diags_add(diags, (struct dag_pos){0, 0},
                      "the file grew while it was read; try again");
        rc = WEIR_EIO;
    }
    if (rc == 0)
        rc = dag_load(path, buf, len, out, diags);
out:
    free(buf);
    close(fd);
    return rc;
}
