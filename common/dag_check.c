/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cross-checks of a walked DAG: step ids unique, every need a step,
 * no cycles (each reported once, with its path), then the steps put in
 * topological order (Kahn's algorithm, ties kept in file order) with their
 * transitive upstream sets, and every name used by an expression or a
 * template checked against what is known where it is used.
 *
 * Work is O(steps log steps + edges) except the upstream sets, which are
 * bitsets: steps * steps / 8 bytes, 500 KB at DAG_MAX_STEPS.
 */
#include <string.h>

#include "dag_internal.h"

#define NONE       SIZE_MAX
#define BFS_BUDGET (10L * 1000 * 1000) /* needs entries, with a cycle */

struct id_ref {
    const char *id; /* a step id */
    size_t i;       /* the step's file index */
};

struct check {
    struct dag_ctx *c;     /* the load */
    size_t n;              /* steps */
    struct dag_step *file; /* the steps in file order */
    const char **ids;      /* id of each step in file order, or NULL */
    struct id_ref *sorted; /* steps with an id, by id then file index */
    size_t n_sorted;       /* entries in sorted */
    size_t *down_off;      /* n + 1 offsets into down */
    size_t *down;          /* downstream file indexes, per step */
    size_t *order;         /* topological position -> file index */
    size_t *newidx;        /* file index -> topological position */
    bool acyclic;          /* order is complete */
    uint64_t *up;          /* upstream bitset of each position */
    size_t words;          /* words per bitset */
    uint64_t *bfs_row;     /* with a cycle: upstream of bfs_step */
    size_t *bfs_stack;     /* with a cycle: the search's stack */
    size_t bfs_step;       /* file index bfs_row is for, or NONE */
    long bfs_budget;       /* needs entries the searches may still visit */
    const char **axes;     /* matrix axis names of axes_step, sorted */
    size_t n_axes;         /* entries in axes */
    size_t axes_step;      /* file index axes is for, or NONE */
};

/* ---- ids ---- */

static int id_ref_cmp(const void *pa, const void *pb)
{
    const struct id_ref *a = pa, *b = pb;
    int r = strcmp(a->id, b->id);

    if (r != 0)
        return r;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* The file index of the first step with this id, or NONE. */
static size_t lookup(const struct check *k, const char *id)
{
    size_t lo = 0, hi = k->n_sorted;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(k->sorted[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < k->n_sorted && strcmp(k->sorted[lo].id, id) == 0)
        return k->sorted[lo].i;
    return NONE;
}

static void index_ids(struct check *k)
{
    struct dag_ctx *c = k->c;

    for (size_t i = 0; i < k->n; i++) {
        k->ids[i] = k->file[i].id;
        if (k->ids[i] != NULL)
            k->sorted[k->n_sorted++] = (struct id_ref){k->ids[i], i};
    }
    qsort(k->sorted, k->n_sorted, sizeof(*k->sorted), id_ref_cmp);
    for (size_t i = 1, first = 0; i < k->n_sorted; i++) {
        struct dag_pos p = k->file[k->sorted[first].i].pos;

        if (strcmp(k->sorted[i].id, k->sorted[first].id) != 0)
            first = i;
        else
            dag_error(c, k->file[k->sorted[i].i].pos,
                      "duplicate step id \"%s\" (first at %d:%d)",
                      k->sorted[i].id, p.line, p.col);
    }
}

static const char *label(struct check *k, size_t i)
{
    char *b;

    if (k->ids[i] != NULL) {
        b = k->c->qring[k->c->qnext++ % WEIR_ARRAY_LEN(k->c->qring)];
        snprintf(b, sizeof(k->c->qring[0]), "step \"%s\"", k->ids[i]);
        return b;
    }
    b = k->c->qring[k->c->qnext++ % WEIR_ARRAY_LEN(k->c->qring)];
    snprintf(b, sizeof(k->c->qring[0]), "step %zu", i + 1);
    return b;
}

/* ---- needs ---- */

static void resolve_needs(struct check *k, size_t *mark, size_t *indeg)
{
    struct dag_ctx *c = k->c;

    for (size_t i = 0; i < k->n; i++) {
        struct dag_step *s = &k->file[i];
        const struct dag_pos *pos = c->aux[i].needs_pos;

        for (size_t j = 0; j < s->n_needs; j++) {
            size_t u = lookup(k, s->needs[j]);

            if (u == NONE) {
                dag_error(
                    c, pos[j], "%s needs \"%s\", which is not a step%s",
                    label(k, i), dag_q(c, s->needs[j]),
                    dag_mean(c, dag_suggest(c, s->needs[j], k->ids, k->n)));
            } else if (u == i) {
                dag_error(c, pos[j], "%s needs itself", label(k, i));
                u = NONE;
            } else if (k->file[u].hook != DAG_HOOK_NONE) {
                dag_error(c, pos[j],
                          "%s needs \"%s\", the step of a hook, which runs "
                          "after every other step",
                          label(k, i), dag_q(c, s->needs[j]));
                u = NONE;
            } else if (mark[u] == i + 1) {
                dag_error(c, pos[j], "%s needs \"%s\" more than once",
                          label(k, i), dag_q(c, s->needs[j]));
                u = NONE;
            } else {
                mark[u] = i + 1;
                indeg[i]++;
            }
            s->needs_idx[j] = u;
        }
    }
}

/* Downstream adjacency (CSR): each step's list is in file order. */
static bool build_down(struct check *k)
{
    size_t edges = 0;

    for (size_t i = 0; i < k->n; i++)
        for (size_t j = 0; j < k->file[i].n_needs; j++)
            if (k->file[i].needs_idx[j] != NONE) {
                k->down_off[k->file[i].needs_idx[j] + 1]++;
                edges++;
            }
    for (size_t i = 0; i < k->n; i++)
        k->down_off[i + 1] += k->down_off[i];
    k->down = calloc(edges + 1, sizeof(*k->down));
    if (k->down == NULL)
        return false;
    for (size_t i = 0; i < k->n; i++) {
        for (size_t j = 0; j < k->file[i].n_needs; j++) {
            size_t u = k->file[i].needs_idx[j];

            if (u != NONE)
                k->down[k->down_off[u]++] = i;
        }
    }
    for (size_t i = k->n; i > 0; i--)
        k->down_off[i] = k->down_off[i - 1];
    k->down_off[0] = 0;
    return true;
}

/* ---- topological order ---- */

static void heap_push(size_t *h, size_t *n, size_t v)
{
    size_t i = (*n)++;

    h[i] = v;
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
        size_t p = (i - 1) / 2, t = h[p];

        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

static size_t heap_pop(size_t *h, size_t *n)
{
    size_t top = h[0], i = 0;

    h[0] = h[--*n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i, t;

        if (l < *n && h[l] < h[m])
            m = l;
        if (r < *n && h[r] < h[m])
            m = r;
        if (m == i)
            break;
        t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
    return top;
}

/* Kahn's algorithm; ready steps leave in file order. Returns how many
 * steps got a place; fewer than n means a cycle. */
static size_t kahn(struct check *k, size_t *indeg, size_t *heap)
{
    size_t nh = 0, done = 0;

    for (size_t i = 0; i < k->n; i++)
        if (indeg[i] == 0)
            heap_push(heap, &nh, i);
    while (nh > 0) {
        size_t u = heap_pop(heap, &nh);

        k->newidx[u] = done;
        k->order[done++] = u;
        for (size_t e = k->down_off[u]; e < k->down_off[u + 1]; e++)
            if (--indeg[k->down[e]] == 0)
                heap_push(heap, &nh, k->down[e]);
    }
    return done;
}

/* ---- cycles ---- */

struct scc {
    size_t *index;  /* visit number + 1, 0 when not visited */
    size_t *low;    /* lowest visit number reachable */
    bool *on;       /* on the stack */
    size_t *stack;  /* Tarjan's stack */
    size_t sp;      /* entries in stack */
    size_t *fnode;  /* call frames: node */
    size_t *fedge;  /* call frames: next edge */
    size_t counter; /* next visit number */
    size_t *comp;   /* component id + 1 of each node */
    size_t *queue;  /* breadth-first search */
    size_t *parent; /* breadth-first search tree */
};

static void report_cycle(struct check *k, struct scc *t, size_t r, size_t id)
{
    size_t qh = 0, qt = 0, last = NONE, np = 0, o;
    size_t *path;
    char msg[220];

    t->parent[r] = r;
    t->queue[qt++] = r;
    while (qh < qt && last == NONE) {
        size_t u = t->queue[qh++];

        for (size_t e = k->down_off[u]; e < k->down_off[u + 1]; e++) {
            size_t w = k->down[e];

            if (w == r) {
                last = u;
                break;
            }
            if (t->comp[w] == id && t->parent[w] == NONE) {
                t->parent[w] = u;
                t->queue[qt++] = w;
            }
        }
    }
    /* The search is over: its queue holds the path, from last back to r. */
    path = t->queue;
    for (size_t u = last; u != r && u != NONE; u = t->parent[u])
        path[np++] = u;
    o = (size_t)snprintf(msg, sizeof(msg), "cycle: %s", k->ids[r]);
    for (size_t i = np; i > 0; i--) {
        const char *s = k->ids[path[i - 1]];

        if (o + strlen(s) + DAG_ID_MAX + 16 >= sizeof(msg)) {
            o += (size_t)snprintf(msg + o, sizeof(msg) - o, " -> ...");
            break;
        }
        o += (size_t)snprintf(msg + o, sizeof(msg) - o, " -> %s", s);
    }
    snprintf(msg + o, sizeof(msg) - o, " -> %s", k->ids[r]);
    dag_error(k->c, k->file[r].pos, "%s", msg);
}

static void pop_scc(struct check *k, struct scc *t, size_t root, size_t id)
{
    size_t first = NONE, size = 0, w;

    do {
        w = t->stack[--t->sp];
        t->on[w] = false;
        t->comp[w] = id;
        first = w < first ? w : first;
        size++;
    } while (w != root);
    if (size > 1)
        report_cycle(k, t, first, id);
}

static void strongconnect(struct check *k, struct scc *t, size_t v, size_t *id)
{
    size_t fp = 0;

    t->fnode[fp] = v;
    t->fedge[fp++] = k->down_off[v];
    t->index[v] = t->low[v] = ++t->counter;
    t->stack[t->sp++] = v;
    t->on[v] = true;
    while (fp > 0) {
        size_t u = t->fnode[fp - 1];

        if (t->fedge[fp - 1] < k->down_off[u + 1]) {
            size_t w = k->down[t->fedge[fp - 1]++];

            if (t->index[w] == 0) {
                t->index[w] = t->low[w] = ++t->counter;
                t->stack[t->sp++] = w;
                t->on[w] = true;
                t->fnode[fp] = w;
                t->fedge[fp++] = k->down_off[w];
            } else if (t->on[w] && t->index[w] < t->low[u]) {
                t->low[u] = t->index[w];
            }
            continue;
        }
        fp--;
        if (fp > 0 && t->low[u] < t->low[t->fnode[fp - 1]])
            t->low[t->fnode[fp - 1]] = t->low[u];
        if (t->low[u] == t->index[u])
            pop_scc(k, t, u, ++*id);
    }
}

/* Tarjan's strongly connected components over the steps Kahn could not
 * place; each component of two or more steps holds a cycle. */
static bool report_cycles(struct check *k)
{
    size_t n = k->n, id = 0;
    struct scc t = {0};
    size_t *mem = calloc(9 * n + 1, sizeof(size_t));
    bool *on = calloc(n + 1, sizeof(bool));

    if (mem == NULL || on == NULL) {
        free(mem);
        free(on);
        return false;
    }
    t = (struct scc){.index = mem,
                     .low = mem + n,
                     .stack = mem + 2 * n,
                     .fnode = mem + 3 * n,
                     .fedge = mem + 4 * n,
                     .comp = mem + 5 * n,
                     .queue = mem + 6 * n,
                     .parent = mem + 7 * n,
                     .on = on};
    for (size_t i = 0; i < n; i++)
        t.parent[i] = NONE;
    /* Steps Kahn placed are on no cycle, and no unplaced step leads to
     * them: mark them visited. */
    for (size_t i = 0; i < n; i++)
        if (k->newidx[i] != NONE)
            t.index[i] = ++t.counter;
    for (size_t i = 0; i < n; i++)
        if (t.index[i] == 0)
            strongconnect(k, &t, i, &id);
    free(mem);
    free(on);
    return true;
}

/* ---- order and upstream ---- */

static void reorder(struct check *k)
{
    struct dag_ctx *c = k->c;
    struct dag_step *v = arena_array(c, k->n, sizeof(*v));

    if (v == NULL)
        return;
    for (size_t p = 0; p < k->n; p++) {
        v[p] = k->file[k->order[p]];
        for (size_t j = 0; j < v[p].n_needs; j++)
            if (v[p].needs_idx[j] != NONE)
                v[p].needs_idx[j] = k->newidx[v[p].needs_idx[j]];
    }
    c->dag->steps = v;
}

static bool bit_get(const uint64_t *row, size_t b)
{
    return (row[b / 64] >> (b % 64)) & 1;
}

static void compute_upstream(struct check *k)
{
    struct dag_step *v = k->c->dag->steps;
    size_t w = k->words;

    for (size_t p = 0; p < k->n; p++) {
        uint64_t *row = k->up + p * w;
        size_t count = 0;

        for (size_t j = 0; j < v[p].n_needs; j++) {
            size_t u = v[p].needs_idx[j];
            const uint64_t *ur;

            if (u == NONE)
                continue;
            ur = k->up + u * w;
            for (size_t x = 0; x < w; x++)
                row[x] |= ur[x];
            row[u / 64] |= UINT64_C(1) << (u % 64);
        }
        for (size_t x = 0; x < w; x++)
            count += (size_t)__builtin_popcountll(row[x]);
        v[p].upstream = arena_array(k->c, count, sizeof(size_t));
        if (v[p].upstream == NULL)
            return;
        for (size_t b = 0; b < p; b++)
            if (bit_get(row, b))
                v[p].upstream[v[p].n_upstream++] = b;
    }
}

/* ---- names in expressions ---- */

/* With a cycle there is no order: the upstream of step s is found by
 * searching its needs backwards, into bfs_row. */
static void search_upstream(struct check *k, size_t s)
{
    size_t sp = 0;

    memset(k->bfs_row, 0, k->words * sizeof(*k->bfs_row));
    k->bfs_step = s;
    k->bfs_stack[sp++] = s;
    while (sp > 0) {
        const struct dag_step *st = &k->file[k->bfs_stack[--sp]];

        k->bfs_budget -= (long)st->n_needs + 1;
        for (size_t j = 0; j < st->n_needs; j++) {
            size_t x = st->needs_idx[j];

            if (x != NONE && !bit_get(k->bfs_row, x)) {
                k->bfs_row[x / 64] |= UINT64_C(1) << (x % 64);
                k->bfs_stack[sp++] = x;
            }
        }
    }
}

/* Whether step u (file index) is a transitive upstream of step s. With a
 * cycle the searches have a budget; past it, the benefit of the doubt. */
static bool is_upstream(struct check *k, size_t s, size_t u)
{
    if (k->acyclic)
        return k->up == NULL ||
               bit_get(k->up + k->newidx[s] * k->words, k->newidx[u]);
    if (k->bfs_step != s) {
        if (k->bfs_row == NULL || k->bfs_budget <= 0)
            return true;
        search_upstream(k, s);
    }
    return bit_get(k->bfs_row, u);
}

struct name {
    const char *seg[4]; /* the first segments */
    size_t len[4];      /* their lengths */
    size_t n;           /* how many segments the name has in all */
};

static void split_name(const char *s, struct name *nm)
{
    memset(nm, 0, sizeof(*nm));
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);

        if (nm->n < 4) {
            nm->seg[nm->n] = s;
            nm->len[nm->n] = len;
        }
        nm->n++;
        if (dot == NULL)
            return;
        s = dot + 1;
    }
}

static bool seg_is(const struct name *nm, size_t i, const char *word)
{
    return i < nm->n && i < 4 && nm->len[i] == strlen(word) &&
           memcmp(nm->seg[i], word, nm->len[i]) == 0;
}

/* Where a name is written; worked out only for a name that is wrong. */
static struct dag_pos rpos(struct check *k, const struct dag_ref *r)
{
    return dag_pos_in(k->c, r->node, r->offset);
}

/* `unknown name "x"`, suggesting a known field in place of segment i. */
static void unknown_name(struct check *k, const struct dag_ref *r,
                         const struct name *nm, size_t i,
                         const char *const *cands, size_t n)
{
    struct dag_ctx *c = k->c;
    char word[80], fix[160];
    const char *best = NULL;
    size_t pre = i > 0 ? (size_t)(nm->seg[i] - nm->seg[0]) : 0;

    if (i < nm->n && nm->len[i] < sizeof(word)) {
        memcpy(word, nm->seg[i], nm->len[i]);
        word[nm->len[i]] = '\0';
        best = dag_suggest(c, word, cands, n);
    }
    if (best != NULL) {
        const char *rest = nm->seg[i] + nm->len[i];

        snprintf(fix, sizeof(fix), "%.*s%s%.60s", (int)pre, nm->seg[0], best,
                 rest);
        best = fix;
    }
    dag_error(c, rpos(k, r), "unknown name \"%s\"%s", dag_q(c, r->name),
              dag_mean(c, best));
}

static const char *const roots[] = {"params", "matrix", "steps",  "run",
                                    "event",  "metric", "secrets"};
static const char *const run_fields[] = {"id", "trigger", "environment",
                                         "logical_time"};
static const char *const event_fields[] = {"name", "id", "payload"};
static const char *const metric_fields[] = {"value", "labels"};

static void check_param(struct check *k, const struct dag_ref *r,
                        const struct name *nm)
{
    struct dag_ctx *c = k->c;
    char p[80];

    if (nm->n < 2 || nm->len[1] == 0 || nm->len[1] >= sizeof(p)) {
        dag_error(c, rpos(k, r), "%s: expected params.<name>",
                  dag_q(c, r->name));
        return;
    }
    memcpy(p, nm->seg[1], nm->len[1]);
    p[nm->len[1]] = '\0';
    if (!dag_is_param(c, p))
        dag_error(c, rpos(k, r), "unknown param \"%s\"%s", dag_q(c, p),
                  dag_mean(c, dag_suggest(c, p, c->params, c->n_params)));
}

/* The axis names of step s, sorted (cached: names come step by step). */
static bool sort_axes(struct check *k, size_t s)
{
    const struct dag_step *st = &k->file[s];

    if (k->axes_step == s)
        return true;
    free(k->axes);
    k->axes = malloc((st->n_matrix + 1) * sizeof(*k->axes));
    k->n_axes = 0;
    k->axes_step = NONE;
    if (k->axes == NULL) {
        k->c->nomem = true;
        return false;
    }
    for (size_t i = 0; i < st->n_matrix; i++)
        if (st->matrix[i].name != NULL)
            k->axes[k->n_axes++] = st->matrix[i].name;
    qsort(k->axes, k->n_axes, sizeof(*k->axes), dag_str_ptr_cmp);
    k->axes_step = s;
    return true;
}

static void check_matrix(struct check *k, const struct dag_ref *r,
                         const struct name *nm)
{
    struct dag_ctx *c = k->c;
    char axis[80];
    const char *key = axis;

    if (r->scope != DAG_SCOPE_STEP) {
        dag_error(c, rpos(k, r),
                  "%s: only a step with a matrix has matrix values",
                  dag_q(c, r->name));
        return;
    }
    if (k->file[r->step].n_matrix == 0) {
        dag_error(c, rpos(k, r), "%s: %s has no matrix", dag_q(c, r->name),
                  label(k, r->step));
        return;
    }
    if (nm->n != 2) {
        dag_error(c, rpos(k, r), "%s: expected matrix.<axis>",
                  dag_q(c, r->name));
        return;
    }
    if (!sort_axes(k, r->step))
        return;
    if (nm->len[1] < sizeof(axis)) {
        memcpy(axis, nm->seg[1], nm->len[1]);
        axis[nm->len[1]] = '\0';
        if (bsearch(&key, k->axes, k->n_axes, sizeof(*k->axes),
                    dag_str_ptr_cmp) != NULL)
            return;
    }
    unknown_name(k, r, nm, 1, k->axes, k->n_axes);
}

static void check_steps(struct check *k, const struct dag_ref *r,
                        const struct name *nm)
{
    struct dag_ctx *c = k->c;
    char id[80];
    size_t u;
    bool shape = nm->n >= 3 && nm->len[1] > 0 && nm->len[1] < sizeof(id) &&
                 ((seg_is(nm, 2, "outputs") && nm->n >= 4 && nm->len[3] > 0) ||
                  (seg_is(nm, 2, "state") && nm->n == 3));

    if (r->scope == DAG_SCOPE_EVENT || r->scope == DAG_SCOPE_METRIC) {
        dag_error(c, rpos(k, r),
                  "%s: a trigger is evaluated before any step runs",
                  dag_q(c, r->name));
        return;
    }
    if (!shape) {
        dag_error(c, rpos(k, r),
                  "%s: expected steps.<id>.outputs.<key> or steps.<id>.state",
                  dag_q(c, r->name));
        return;
    }
    memcpy(id, nm->seg[1], nm->len[1]);
    id[nm->len[1]] = '\0';
    u = lookup(k, id);
    if (u == NONE) {
        dag_error(c, rpos(k, r), "%s: \"%s\" is not a step%s",
                  dag_q(c, r->name), dag_q(c, id),
                  dag_mean(c, dag_suggest(c, id, k->ids, k->n)));
        return;
    }
    if (r->scope == DAG_SCOPE_STEP && !is_upstream(k, r->step, u))
        dag_error(c, rpos(k, r), "%s: \"%s\" is not upstream of \"%s\"",
                  dag_q(c, r->name), dag_q(c, id),
                  k->ids[r->step] ? k->ids[r->step] : "?");
}

/* secrets.NAME: in an env: value of a step only, where the walk noted
 * it (dag_load_secrets.c). */
static void check_secret(struct check *k, const struct dag_ref *r,
                         const struct name *nm)
{
    struct dag_ctx *c = k->c;

    if (!r->env || r->scope != DAG_SCOPE_STEP)
        dag_error(c, rpos(k, r),
                  "%s: a secret may be templated only into a step's env: "
                  "value, as env: {NAME: ${{ secrets.NAME }}}",
                  dag_q(c, r->name));
    else if (nm->n != 2 || nm->len[1] == 0 || nm->len[1] > 128 ||
             !dag_name_valid(nm->seg[1], nm->len[1]))
        dag_error(c, rpos(k, r),
                  "%s: expected secrets.<name>, a name of letters, digits "
                  "and \"_\"",
                  dag_q(c, r->name));
}

static void check_ref(struct check *k, const struct dag_ref *r)
{
    struct dag_ctx *c = k->c;
    struct name nm;

    if (r->scope == DAG_SCOPE_AFTER) {
        dag_check_after_ref(c, r);
        return;
    }
    split_name(r->name, &nm);
    if (seg_is(&nm, 0, "params")) {
        check_param(k, r, &nm);
    } else if (seg_is(&nm, 0, "matrix")) {
        check_matrix(k, r, &nm);
    } else if (seg_is(&nm, 0, "steps")) {
        check_steps(k, r, &nm);
    } else if (seg_is(&nm, 0, "run")) {
        if (!(nm.n == 2 && (seg_is(&nm, 1, "id") || seg_is(&nm, 1, "trigger") ||
                            seg_is(&nm, 1, "environment") ||
                            seg_is(&nm, 1, "logical_time"))))
            unknown_name(k, r, &nm, 1, run_fields, 4);
        else if (r->scope == DAG_SCOPE_EVENT || r->scope == DAG_SCOPE_METRIC)
            dag_error(c, rpos(k, r),
                      "%s: a trigger is evaluated before its run "
                      "exists",
                      dag_q(c, r->name));
    } else if (seg_is(&nm, 0, "event")) {
        if (!((nm.n == 2 && (seg_is(&nm, 1, "name") || seg_is(&nm, 1, "id"))) ||
              seg_is(&nm, 1, "payload")))
            unknown_name(k, r, &nm, 1, event_fields, 3);
        else if (r->scope == DAG_SCOPE_METRIC)
            dag_error(c, rpos(k, r), "%s: a metric trigger has no event",
                      dag_q(c, r->name));
    } else if (seg_is(&nm, 0, "secrets")) {
        check_secret(k, r, &nm);
    } else if (seg_is(&nm, 0, "metric")) {
        if (!((nm.n == 2 && seg_is(&nm, 1, "value")) ||
              (nm.n >= 3 && seg_is(&nm, 1, "labels"))))
            unknown_name(k, r, &nm, 1, metric_fields, 2);
        else if (r->scope != DAG_SCOPE_METRIC)
            dag_error(c, rpos(k, r), "%s: only a metric trigger has a metric",
                      dag_q(c, r->name));
    } else {
        unknown_name(k, r, &nm, 0, roots, WEIR_ARRAY_LEN(roots));
    }
}

/* ---- environments ---- */

static void check_approve_before(struct check *k)
{
    struct dag_ctx *c = k->c;
    const struct dag *d = c->dag;

    for (size_t i = 0; i < d->n_environments; i++) {
        const struct dag_environment *e = &d->environments[i];

        for (size_t j = 0; j < e->n_approve_before; j++) {
            const char *s = e->approve_before[j];

            if (lookup(k, s) == NONE)
                dag_error(c, c->env_aux[i].approve_pos[j],
                          "\"approve_before\" of environment \"%s\" names "
                          "\"%s\", which is not a step%s",
                          e->name ? dag_q(c, e->name) : "?", dag_q(c, s),
                          dag_mean(c, dag_suggest(c, s, k->ids, k->n)));
        }
    }
}

/* ---- driver ---- */

static bool order_steps(struct check *k)
{
    size_t n = k->n;
    size_t *mem = calloc(3 * n + 1, sizeof(size_t));
    bool ok = mem != NULL;

    if (ok) {
        resolve_needs(k, mem, mem + n);
        ok = build_down(k);
    }
    if (ok && kahn(k, mem + n, mem + 2 * n) == n) {
        k->acyclic = true;
    } else if (ok) {
        ok = report_cycles(k);
    }
    free(mem);
    k->words = (n + 63) / 64;
    if (ok && k->acyclic) {
        reorder(k);
        k->up = calloc(n * k->words + 1, sizeof(*k->up));
        ok = k->up != NULL;
        if (ok)
            compute_upstream(k);
    } else if (ok) {
        k->bfs_step = NONE;
        k->bfs_budget = BFS_BUDGET;
        k->bfs_row = calloc(k->words + 1, sizeof(*k->bfs_row));
        k->bfs_stack = malloc((n + 1) * sizeof(*k->bfs_stack));
        ok = k->bfs_row != NULL && k->bfs_stack != NULL;
    }
    return ok;
}

void dag_check(struct dag_ctx *c)
{
    struct check k = {
        .c = c, .n = c->dag->n_steps, .file = c->dag->steps, .axes_step = NONE};
    size_t n = k.n;

    k.ids = calloc(n + 1, sizeof(*k.ids));
    k.sorted = calloc(n + 1, sizeof(*k.sorted));
    k.down_off = calloc(n + 2, sizeof(*k.down_off));
    k.order = calloc(n + 1, sizeof(*k.order));
    k.newidx = malloc((n + 1) * sizeof(*k.newidx));
    if (!k.ids || !k.sorted || !k.down_off || !k.order || !k.newidx) {
        c->nomem = true;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        k.newidx[i] = NONE;
    index_ids(&k);
    if (n > 0 && !order_steps(&k)) {
        c->nomem = true;
        goto out;
    }
    for (size_t i = 0; i < c->n_refs && !c->nomem; i++)
        check_ref(&k, &c->refs[i]);
    check_approve_before(&k);
out:
    free(k.ids);
    free(k.sorted);
    free(k.down_off);
    free(k.down);
    free(k.order);
    free(k.newidx);
    free(k.up);
    free(k.bfs_row);
    free(k.bfs_stack);
    free(k.axes);
}
