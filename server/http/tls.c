/* SPDX-License-Identifier: Apache-2.0 */
/* The server's certificates over GnuTLS (see tls.h for the design). */
#include "http/tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "log.h"

#define TLS_FILE_MAX  (1024 * 1024) /* bytes of a PEM file */
#define TLS_CHAIN_MAX 16            /* certificates in --tls-cert */
#define TLS_SOON_S    (14 * 86400)  /* expiry worth a warning, s ahead */

/* One certificate chain with its key, as handshakes are given it. */
struct tls_pair {
    gnutls_pcert_st certs[TLS_CHAIN_MAX]; /* the chain, leaf first */
    unsigned n_certs;                     /* entries of certs in use */
    gnutls_privkey_t key;                 /* the leaf's private key */
    struct tls_pair *older;               /* the pair it replaced, or NULL */
};

struct http_tls {
    char *cert_file;          /* --tls-cert */
    char *key_file;           /* --tls-key */
    char *client_ca;          /* --client-ca's PEM text, or NULL */
    pthread_mutex_t mu;       /* guards current */
    struct tls_pair *current; /* served now; older ones hang from it */
};

/* The one struct of the process, for the retrieve callback. */
static struct http_tls *the_tls;

/* The bytes of path (NUL-terminated, for the PEM parsers) into *out; the
 * caller frees out->data. flag names the file in err. */
static int file_read(const char *flag, const char *path, gnutls_datum_t *out,
                     struct weir_err *err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    unsigned char *buf = NULL;
    size_t n;

    if (f == NULL)
        return weir_err_set(err, WEIR_EINVAL, "%s %s: cannot read it: %s", flag,
                            path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > TLS_FILE_MAX) {
        fclose(f);
        return weir_err_set(err, WEIR_EINVAL,
                            "%s %s: expected a PEM file of at most %d bytes",
                            flag, path, TLS_FILE_MAX);
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        fclose(f);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    n = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    buf[n] = '\0';
    out->data = buf;
    out->size = (unsigned)n;
    return 0;
}

/* Wipe and free what file_read() read (a key's bytes must not linger). */
static void file_drop(gnutls_datum_t *d)
{
    if (d->data != NULL)
        gnutls_memset(d->data, 0, d->size);
    free(d->data);
    d->data = NULL;
}

static void pair_free(struct tls_pair *p)
{
    while (p != NULL) {
        struct tls_pair *older = p->older;

        for (unsigned i = 0; i < p->n_certs; i++)
            gnutls_pcert_deinit(&p->certs[i]);
        gnutls_privkey_deinit(p->key);
        free(p);
        p = older;
    }
}

/* The SHA-256 key id of a public key into id (32 bytes); false when
 * GnuTLS cannot tell it. */
static bool key_id(gnutls_pubkey_t pk, unsigned char id[32])
{
    size_t n = 32;

    return gnutls_pubkey_get_key_id(pk, GNUTLS_KEYID_USE_SHA256, id, &n) == 0 &&
           n == 32;
}

/* The key of p belongs to its leaf certificate: the same public key. */
static int pair_match(const struct http_tls *t, struct tls_pair *p,
                      struct weir_err *err)
{
    gnutls_pubkey_t pk = NULL;
    unsigned char a[32], b[32];
    bool same = gnutls_pubkey_init(&pk) == 0 &&
                gnutls_pubkey_import_privkey(pk, p->key, 0, 0) == 0 &&
                key_id(pk, a) && key_id(p->certs[0].pubkey, b) &&
                memcmp(a, b, sizeof(a)) == 0;

    gnutls_pubkey_deinit(pk);
    if (!same)
        return weir_err_set(err, WEIR_EINVAL,
                            "--tls-key %s does not match the certificate of "
                            "--tls-cert %s (their public keys differ)",
                            t->key_file, t->cert_file);
    return 0;
}

/* The leaf's validity (an expired certificate is refused), logged with
 * its serial and SHA-256 fingerprint. */
static int pair_describe(const struct http_tls *t, const struct tls_pair *p,
                         struct weir_err *err)
{
    gnutls_x509_crt_t crt = NULL;
    unsigned char fp[32], serial[40];
    size_t fp_len = sizeof(fp), serial_len = sizeof(serial);
    char fp_hex[65] = "", serial_hex[81] = "", until[32] = "?";
    time_t expires = 0;
    struct tm tm;
    int rc = gnutls_x509_crt_init(&crt);

    if (rc == 0)
        rc =
            gnutls_x509_crt_import(crt, &p->certs[0].cert, GNUTLS_X509_FMT_DER);
    if (rc == 0) {
        expires = gnutls_x509_crt_get_expiration_time(crt);
        if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp,
                                            &fp_len) == 0)
            for (size_t i = 0; i < fp_len && i < 32; i++)
                snprintf(fp_hex + 2 * i, 3, "%02x", fp[i]);
        if (gnutls_x509_crt_get_serial(crt, serial, &serial_len) == 0)
            for (size_t i = 0; i < serial_len && i < 40; i++)
                snprintf(serial_hex + 2 * i, 3, "%02x", serial[i]);
    }
    gnutls_x509_crt_deinit(crt);
    if (rc < 0)
        return weir_err_set(err, WEIR_EINVAL, "--tls-cert %s: %s", t->cert_file,
                            gnutls_strerror(rc));
    if (expires != (time_t)-1 && gmtime_r(&expires, &tm) != NULL)
        strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (expires != (time_t)-1 && expires < time(NULL))
        return weir_err_set(err, WEIR_EINVAL,
                            "--tls-cert %s: the certificate expired on %s",
                            t->cert_file, until);
    log_info("event=tls_certificate cert=%s serial=%s sha256=%s "
             "chain=%u expires=%s",
             t->cert_file, serial_hex, fp_hex, p->n_certs, until);
    if (expires != (time_t)-1 && expires < time(NULL) + TLS_SOON_S)
        log_warn("event=tls_expires_soon cert=%s expires=%s", t->cert_file,
                 until);
    return 0;
}

/* Read the certificate chain and key files into a new pair *out. */
static int pair_load(const struct http_tls *t, struct tls_pair **out,
                     struct weir_err *err)
{
    gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
    struct tls_pair *p = calloc(1, sizeof(*p));
    int rc = p != NULL ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");
    int g;

    if (rc == 0)
        rc = file_read("--tls-cert", t->cert_file, &cert, err);
    if (rc == 0)
        rc = file_read("--tls-key", t->key_file, &key, err);
    if (rc < 0)
        goto out;
    p->n_certs = TLS_CHAIN_MAX;
    g = gnutls_pcert_list_import_x509_raw(p->certs, &p->n_certs, &cert,
                                          GNUTLS_X509_FMT_PEM, 0);
    if (g < 0 || p->n_certs == 0) {
        p->n_certs = 0;
        rc = weir_err_set(err, WEIR_EINVAL,
                          "--tls-cert %s: expected PEM certificates (the "
                          "server's first, at most %d): %s",
                          t->cert_file, TLS_CHAIN_MAX,
                          g < 0 ? gnutls_strerror(g) : "none found");
        goto out;
    }
    g = gnutls_privkey_init(&p->key);
    if (g == 0)
        g = gnutls_privkey_import_x509_raw(p->key, &key, GNUTLS_X509_FMT_PEM,
                                           NULL, 0);
    if (g < 0) {
        rc = weir_err_set(err, WEIR_EINVAL,
                          "--tls-key %s: expected an unencrypted PEM private "
                          "key: %s",
                          t->key_file, gnutls_strerror(g));
        goto out;
    }
    rc = pair_match(t, p, err);
    if (rc == 0)
        rc = pair_describe(t, p, err);
out:
    free(cert.data);
    file_drop(&key);
    if (rc < 0) {
        pair_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* --client-ca: PEM certificates, kept as text for libmicrohttpd. */
static int client_ca_load(struct http_tls *t, const char *path,
                          struct weir_err *err)
{
    gnutls_datum_t text = {NULL, 0};
    gnutls_x509_crt_t *list = NULL;
    unsigned n = 0;
    int g, rc = file_read("--client-ca", path, &text, err);

    if (rc < 0)
        return rc;
    g = gnutls_x509_crt_list_import2(&list, &n, &text, GNUTLS_X509_FMT_PEM, 0);
    for (unsigned i = 0; g >= 0 && i < n; i++)
        gnutls_x509_crt_deinit(list[i]);
    gnutls_free(list);
    if (g < 0 || n == 0) {
        free(text.data);
        return weir_err_set(err, WEIR_EINVAL,
                            "--client-ca %s: expected PEM CA certificates: %s",
                            path, g < 0 ? gnutls_strerror(g) : "none found");
    }
    t->client_ca = (char *)text.data;
    log_info("event=tls_client_ca file=%s certificates=%u", path, n);
    return 0;
}

int http_tls_new(const char *cert_file, const char *key_file,
                 const char *client_ca_file, struct http_tls **out,
                 struct weir_err *err)
{
    struct http_tls *t = calloc(1, sizeof(*t));
    int rc = 0;

    WEIR_ASSERT(the_tls == NULL);
    if (t == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    pthread_mutex_init(&t->mu, NULL);
    t->cert_file = strdup(cert_file);
    t->key_file = strdup(key_file);
    if (t->cert_file == NULL || t->key_file == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (rc == 0)
        rc = pair_load(t, &t->current, err);
    if (rc == 0 && client_ca_file != NULL)
        rc = client_ca_load(t, client_ca_file, err);
    if (rc < 0) {
        http_tls_free(t);
        return rc;
    }
    the_tls = t;
    *out = t;
    return 0;
}

int http_tls_reload(struct http_tls *t, struct weir_err *err)
{
    struct tls_pair *p = NULL;
    int rc = pair_load(t, &p, err);

    if (rc < 0)
        return rc;
    pthread_mutex_lock(&t->mu);
    p->older = t->current;
    t->current = p;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

void http_tls_free(struct http_tls *t)
{
    if (t == NULL)
        return;
    if (the_tls == t)
        the_tls = NULL;
    pair_free(t->current);
    pthread_mutex_destroy(&t->mu);
    free(t->client_ca);
    free(t->cert_file);
    free(t->key_file);
    free(t);
}

const char *http_tls_client_ca(const struct http_tls *t)
{
    return t->client_ca;
}

/* Every handshake gets the pair in use now (GnuTLS keeps no copy: the
 * pair must outlive the session, hence older pairs are kept). */
static int cert_retrieve_cb(gnutls_session_t session,
                            const gnutls_datum_t *req_ca_rdn, int nreqs,
                            const gnutls_pk_algorithm_t *pk_algos,
                            int pk_algos_length, gnutls_pcert_st **pcert,
                            unsigned int *pcert_length,
                            gnutls_privkey_t *privkey)
{
    struct http_tls *t = the_tls;

    (void)session;
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    if (t == NULL)
        return -1;
    pthread_mutex_lock(&t->mu);
    *pcert = t->current->certs;
    *pcert_length = t->current->n_certs;
    *privkey = t->current->key;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

void *http_tls_cert_cb(void)
{
    gnutls_certificate_retrieve_function2 *fn = cert_retrieve_cb;

    return (void *)fn;
}

/* What a client is told about a refused certificate: no more than what
 * is wrong with its own certificate. */
static const char *refusal(unsigned status)
{
    if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
        return "it is not signed by the server's client CA";
    if (status & GNUTLS_CERT_EXPIRED)
        return "it has expired";
    if (status & GNUTLS_CERT_NOT_ACTIVATED)
        return "it is not valid yet";
    if (status & GNUTLS_CERT_REVOKED)
        return "it is revoked";
    return "it is not valid";
}

int http_tls_peer_check(void *session, const char *peer, struct weir_err *err)
{
    gnutls_session_t s = session;
    gnutls_datum_t said = {NULL, 0};
    unsigned status = 0, n = 0;
    char q[300];
    int rc;

    if (s == NULL)
        return weir_err_set(err, WEIR_EFORBIDDEN,
                            "this call needs TLS with a client certificate");
    if (gnutls_certificate_get_peers(s, &n) == NULL || n == 0) {
        log_warn("event=client_cert_refused peer=%s reason=none", peer);
        return weir_err_set(err, WEIR_EFORBIDDEN,
                            "this call needs a client certificate signed by "
                            "the server's client CA; none was presented");
    }
    rc = gnutls_certificate_verify_peers2(s, &status);
    if (rc == 0 && status == 0)
        return 0;
    if (rc < 0)
        status = GNUTLS_CERT_INVALID;
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
                                                     &said, 0) == 0) {
        log_warn("event=client_cert_refused peer=%s reason=%s", peer,
                 log_quote((const char *)said.data, q, sizeof(q)));
        gnutls_free(said.data);
    }
    return weir_err_set(err, WEIR_EFORBIDDEN,
                        "the client certificate was refused: %s",
                        refusal(status));
}
