/* SPDX-License-Identifier: Apache-2.0 */
/* PEM files checked with OpenSSL (see tlsfile.h). */
#include "tlsfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* No passphrase is ever asked for (on a terminal or elsewhere): an
 * encrypted key is refused. */
static int no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* Open path for reading; NULL with err filled. */
static BIO *file_open(const char *what, const char *path, struct weir_err *err)
{
    FILE *f = fopen(path, "r");
    BIO *b;

    if (f == NULL) {
        weir_err_set(err, WEIR_EINVAL, "%s %s: cannot read it: %s", what, path,
                     strerror(errno));
        return NULL;
    }
    b = BIO_new_fp(f, BIO_CLOSE);
    if (b == NULL) {
        fclose(f);
        weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    return b;
}

/* The first PEM certificate of path, or NULL with err filled. */
static X509 *cert_read(const char *what, const char *path, struct weir_err *err)
{
    BIO *b = file_open(what, path, err);
    X509 *x =
        b != NULL ? PEM_read_bio_X509(b, NULL, no_passphrase_cb, NULL) : NULL;

    if (b != NULL && x == NULL)
        weir_err_set(err, WEIR_EINVAL,
                     "%s %s: expected a PEM certificate (-----BEGIN "
                     "CERTIFICATE-----)",
                     what, path);
    BIO_free(b);
    ERR_clear_error();
    return x;
}

int tlsfile_check_certs(const char *what, const char *path,
                        struct weir_err *err)
{
    X509 *x = cert_read(what, path, err);

    if (x == NULL)
        return err->code != 0 ? err->code : WEIR_EINVAL;
    X509_free(x);
    return 0;
}

int tlsfile_check_pair(const char *cert_path, const char *key_path,
                       struct weir_err *err)
{
    X509 *x = cert_read("the client certificate", cert_path, err);
    EVP_PKEY *k = NULL;
    BIO *b = NULL;
    int rc = x != NULL ? 0 : WEIR_EINVAL;

    if (rc == 0)
        b = file_open("the client key", key_path, err);
    if (rc == 0 && b == NULL)
        rc = WEIR_EINVAL;
    if (rc == 0)
        k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase_cb, NULL);
    if (rc == 0 && k == NULL)
        rc = weir_err_set(err, WEIR_EINVAL,
                          "the client key %s: expected an unencrypted PEM "
                          "private key",
                          key_path);
    if (rc == 0 && X509_check_private_key(x, k) != 1)
        rc = weir_err_set(err, WEIR_EINVAL,
                          "the client key %s does not match the client "
                          "certificate %s",
                          key_path, cert_path);
    EVP_PKEY_free(k);
    BIO_free(b);
    X509_free(x);
    ERR_clear_error();
    return rc;
}
