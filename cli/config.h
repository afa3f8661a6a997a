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

#endif
