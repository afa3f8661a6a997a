/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's settings that apply to every command; each command's own
 * (--server, the token) are read by cli/client.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

bool cli_session_path(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;

    if (xdg != NULL && xdg[0] == '/')
        n = snprintf(buf, len, "%s/weir/session", xdg);
    else if (home != NULL && home[0] == '/')
        n = snprintf(buf, len, "%s/.config/weir/session", home);
    else
        return false;
    return n > 0 && (size_t)n < len;
}

/* Whether a and b name the same server, trailing slashes aside. */
static bool same_server(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);

    while (na > 0 && a[na - 1] == '/')
        na--;
    while (nb > 0 && b[nb - 1] == '/')
        nb--;
    return na == nb && strncmp(a, b, na) == 0;
}

bool cli_session_get(const char *server, char *url, size_t url_len, char *token,
                     size_t token_len)
{
    char path[4096], line1[1024], line2[256];
    struct stat st;
    FILE *f;
    bool ok;

    if (!cli_session_path(path, sizeof(path)) || (f = fopen(path, "r")) == NULL)
        return false;
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
        fprintf(stderr,
                "weir: %s may be read by other users: not used "
                "(chmod 600 it, or weir login again)\n",
                path);
        fclose(f);
        return false;
    }
    ok = fgets(line1, sizeof(line1), f) != NULL &&
         fgets(line2, sizeof(line2), f) != NULL;
    fclose(f);
    if (!ok)
        return false;
    line1[strcspn(line1, "\r\n")] = '\0';
    line2[strcspn(line2, "\r\n")] = '\0';
    if (line1[0] == '\0' || line2[0] == '\0' ||
        (server != NULL && !same_server(server, line1)) ||
        strlen(line1) >= url_len || strlen(line2) >= token_len)
        return false;
    snprintf(url, url_len, "%s", line1);
    snprintf(token, token_len, "%s", line2);
    return true;
}
