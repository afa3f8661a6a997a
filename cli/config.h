/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's settings that apply to every command (cli/config.c). */
#ifndef WEIR_CLI_CONFIG_H
#define WEIR_CLI_CONFIG_H

/*
 * The CA file the CLI trusts for https:// servers instead of the
 * system's CAs: ca_flag (weir --ca-file FILE COMMAND), else $WEIR_CA_FILE;
 * nothing when neither is set. Returns 0, or -1 after saying on stderr
 * what is wrong with the file.
 */
int cli_config_tls(const char *ca_flag);

#include <stdbool.h>
#include <stddef.h>

/*
 * The file of `weir login`'s session: $XDG_CONFIG_HOME/weir/session, else
 * $HOME/.config/weir/session, into buf. false when neither variable is
 * set or the path does not fit.
 */
bool cli_session_path(char *buf, size_t len);

/*
 * The session `weir login` stored (the file above: the server's URL on
 * its first line, the session secret on its second; only its owner may
 * read it): when server is NULL or is the stored server (trailing "/"
 * aside), the stored server into url and the secret into token, and
 * true. false when there is none, it is for another server, or the file
 * may be read by others (said on stderr).
 */
bool cli_session_get(const char *server, char *url, size_t url_len, char *token,
                     size_t token_len);

#endif
