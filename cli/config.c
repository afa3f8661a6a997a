/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's settings that apply to every command; each command's own
 * (--server, the token) are read by cli/client.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "httpc.h"

int cli_config_tls(const char *ca_flag)
{
    const char *ca = ca_flag != NULL ? ca_flag : getenv("WEIR_CA_FILE");
    struct httpc_tls tls = {.ca_file = ca};
    struct weir_err err = {0};

    if (ca == NULL || ca[0] == '\0')
        return 0;
    if (httpc_tls_set(&tls, &err) != 0) {
        fprintf(stderr, "weir: %s (%s)\n", err.msg,
                ca_flag != NULL ? "--ca-file" : "WEIR_CA_FILE");
        return -1;
    }
    return 0;
}
