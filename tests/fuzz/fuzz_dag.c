/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: dag_load() on arbitrary bytes must never crash, leak
 * or hang; a DAG it accepts must be consistent (its matrix cells and its
 * JSON form can be made, every need points at an earlier step).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct dag *d)
{
    cJSON *j;

    for (size_t i = 0; i < d->n_steps && i < 8; i++) {
        const struct dag_step *s = &d->steps[i];
        size_t cells[3] = {0, s->n_cells / 2, s->n_cells - 1};

        WEIR_ASSERT(s->n_cells >= 1 && s->n_cells <= DAG_MAX_CELLS);
        WEIR_ASSERT(dag_step_get(d, s->id) == s);
        for (size_t c = 0; c < 3; c++)
            cJSON_Delete(dag_step_cell(s, cells[c]));
        for (size_t n = 0; n < s->n_needs; n++)
            WEIR_ASSERT(s->needs_idx[n] < i);
        for (size_t u = 0; u < s->n_upstream; u++)
            WEIR_ASSERT(s->upstream[u] < i);
    }
    j = dag_to_json(d);
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dag_diags diags;
    struct dag *d = NULL;
    int rc;

    dag_diags_init(&diags);
    rc = dag_load("fuzz.yaml", (const char *)data, size, &d, &diags);
    WEIR_ASSERT((rc == 0) == (d != NULL));
    WEIR_ASSERT(rc != 0 || diags.n == 0);
    WEIR_ASSERT(rc == 0 || rc == WEIR_ENOMEM || diags.n > 0);
    for (size_t i = 0; i < diags.n; i++)
        WEIR_ASSERT(diags.v[i].pos.line >= 0 &&
                    memchr(diags.v[i].msg, '\0', sizeof(diags.v[i].msg)));
    if (d != NULL)
        exercise(d);
    dag_free(d);
    dag_diags_cleanup(&diags);
    return 0;
}
