/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What `weir run` says of the steps mapped over an upstream's output: how
 * many cells each got, once its list was read (the run's "maps").
 */
#include <stdio.h>

#include "cli.h"

void cli_print_maps(const cJSON *run)
{
    const cJSON *m, *cells;

    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(run, "maps"))
    {
        cells = cJSON_GetObjectItemCaseSensitive(m, "cells");
        if (cJSON_IsNumber(cells))
            printf("map %s: %.0f cell%s\n", m->string, cells->valuedouble,
                   cells->valuedouble == 1 ? "" : "s");
        else
            printf("map %s: cells not known yet\n", m->string);
    }
}
