/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks of the PEM files a client is given for TLS (OpenSSL's PEM
 * readers), so that a wrong path or a wrong file is said when a program
 * starts rather than at its first connection.
 */
#ifndef WEIR_TLSFILE_H
#define WEIR_TLSFILE_H

#include "err.h"

/*
 * path holds at least one PEM certificate. Returns 0, or WEIR_EINVAL with
 * err saying "WHAT PATH: " and what is wrong (what names the file's role,
 * e.g. "the CA file").
 */
WEIR_MUSTCHECK int tlsfile_check_certs(const char *what, const char *path,
                                       struct weir_err *err);

/*
 * cert_path holds a PEM certificate and key_path an unencrypted PEM
 * private key that matches it. Returns 0, or WEIR_EINVAL with err naming
 * the file at fault.
 */
WEIR_MUSTCHECK int tlsfile_check_pair(const char *cert_path,
                                      const char *key_path,
                                      struct weir_err *err);

#endif
