/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What `weir runs` and `weir run` print of a run's timeout and deadline
 * (docs/dag-format.md, "Run timeouts and deadlines").
 */
#include <stdio.h>

#include "cli.h"
#include "client.h"

const char *cli_run_late_tag(const cJSON *run)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(run, "late"))
               ? "[LATE] "
               : "";
}

void cli_run_deadline_print(const cJSON *run)
{
    const char *error = client_json_str(run, "error");
    const char *deadline = client_json_str(run, "deadline_at");
    const char *timeout = client_json_str(run, "timeout_at");

    if (error != NULL)
        printf("error: %s\n", error);
    if (timeout != NULL)
        printf("run timeout at: %s\n", timeout);
    if (deadline != NULL &&
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(run, "late")))
        printf("deadline: %s  LATE (marked at %s)\n", deadline,
               cli_str(run, "late_at"));
    else if (deadline != NULL)
        printf("deadline: %s\n", deadline);
}
