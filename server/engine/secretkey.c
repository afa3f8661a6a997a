/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The secrets key ring and AES-256-GCM with OpenSSL EVP (secretkey.h).
 * Nothing here is hand-written cryptography: EVP does the cipher,
 * RAND_bytes the nonces; this file reads key files and moves bytes.
 */
#include "engine/secretkey.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sha256.h"

/* One key of the ring. */
struct key {
    unsigned char bytes[SECRETKEY_LEN]; /* the AES-256 key */
    char id[SECRETKEY_ID_LEN + 1];      /* first hex digits of its SHA-256 */
};

/* The ring: written by secretkey_load() before any thread starts. */
static struct key ring[SECRETKEY_MAX];
static size_t n_ring;

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Read file path (checked as a secret file) into buf, NUL-terminated. */
static int read_key_file(const char *path, char *buf, size_t cap,
                         struct weir_err *err)
{
    struct stat st;
    ssize_t n;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "--secrets-key-file \"%s\": cannot open: %s", path,
                            strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return weir_err_set(err, WEIR_EINVAL,
                            "--secrets-key-file \"%s\" is not a regular file",
                            path);
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return weir_err_set(err, WEIR_EINVAL,
                            "--secrets-key-file \"%s\" has mode %04o: group "
                            "or others may use it; make it 0600 (chmod 600)",
                            path, (unsigned)(st.st_mode & 07777));
    }
    while (got < cap - 1 && (n = read(fd, buf + got, cap - 1 - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return weir_err_set(err, WEIR_EINVAL,
                                "--secrets-key-file \"%s\": cannot read: %s",
                                path, strerror(errno));
        }
        got += (size_t)n;
    }
    close(fd);
    if (got == cap - 1)
        return weir_err_set(err, WEIR_EINVAL,
                            "--secrets-key-file \"%s\" is over %zu bytes", path,
                            cap - 2);
    buf[got] = '\0';
    return 0;
}

/* One line of a key file: 64 hex digits into k. */
static int parse_key(const char *path, int line, const char *s, size_t len,
                     struct key *k, struct weir_err *err)
{
    char hex[65];

    if (len != 2 * SECRETKEY_LEN)
        return weir_err_set(err, WEIR_EINVAL,
                            "--secrets-key-file \"%s\" line %d: expected a "
                            "key of 64 hex digits (32 bytes, such as made by "
                            "`openssl rand -hex 32`), got %zu characters",
                            path, line, len);
    for (size_t i = 0; i < SECRETKEY_LEN; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return weir_err_set(err, WEIR_EINVAL,
                                "--secrets-key-file \"%s\" line %d: "
                                "character %zu is not a hex digit",
                                path, line, 2 * i + (hi < 0 ? 1 : 2));
        k->bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    sha256_hex(k->bytes, SECRETKEY_LEN, hex);
    memcpy(k->id, hex, SECRETKEY_ID_LEN);
    k->id[SECRETKEY_ID_LEN] = '\0';
    OPENSSL_cleanse(hex, sizeof(hex));
    return 0;
}

/* The keys of one file appended to v[*n..SECRETKEY_MAX). */
static int load_file(const char *path, struct key *v, size_t *n, char *buf,
                     struct weir_err *err)
{
    size_t before = *n;
    int line = 0;
    int rc = read_key_file(path, buf, SECRETKEY_FILE_MAX, err);

    for (char *p = buf; rc == 0 && *p != '\0';) {
        char *end = p + strcspn(p, "\n");
        char *s = p, *e = end;

        line++;
        while (s < e && strchr(" \t\r", *s) != NULL)
            s++;
        while (e > s && strchr(" \t\r", e[-1]) != NULL)
            e--;
        p = *end != '\0' ? end + 1 : end;
        if (s == e || *s == '#')
            continue;
        if (*n == SECRETKEY_MAX)
            return weir_err_set(err, WEIR_EINVAL,
                                "--secrets-key-file \"%s\": more than %d keys "
                                "in all",
                                path, SECRETKEY_MAX);
        rc = parse_key(path, line, s, (size_t)(e - s), &v[*n], err);
        if (rc == 0)
            (*n)++;
    }
    if (rc == 0 && *n == before)
        rc = weir_err_set(err, WEIR_EINVAL,
                          "--secrets-key-file \"%s\" holds no key: write one "
                          "line of 64 hex digits (`openssl rand -hex 32`)",
                          path);
    return rc;
}

int secretkey_load(const char *const *files, size_t n, struct weir_err *err)
{
    struct key v[SECRETKEY_MAX];
    char *buf = malloc(SECRETKEY_FILE_MAX);
    size_t got = 0;
    int rc = buf ? 0 : weir_err_set(err, WEIR_ENOMEM, "out of memory");

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = load_file(files[i], v, &got, buf, err);
    if (rc == 0) {
        secretkey_unload();
        memcpy(ring, v, got * sizeof(*v));
        n_ring = got;
    }
    OPENSSL_cleanse(v, sizeof(v));
    if (buf != NULL)
        OPENSSL_cleanse(buf, SECRETKEY_FILE_MAX);
    free(buf);
    return rc;
}

void secretkey_unload(void)
{
    OPENSSL_cleanse(ring, sizeof(ring));
    n_ring = 0;
}

bool secretkey_ready(void)
{
    return n_ring > 0;
}

const char *secretkey_first_id(void)
{
    return n_ring > 0 ? ring[0].id : "";
}

size_t secretkey_count(void)
{
    return n_ring;
}

static const struct key *find_key(const char *id)
{
    for (size_t i = 0; i < n_ring; i++)
        if (strcmp(ring[i].id, id) == 0)
            return &ring[i];
    return NULL;
}

/* The associated data: name, a NUL, env. */
static size_t aad_make(const char *name, const char *env, unsigned char *buf,
                       size_t cap)
{
    size_t a = strlen(name), b = strlen(env);

    WEIR_ASSERT(a + b + 1 <= cap);
    memcpy(buf, name, a);
    buf[a] = '\0';
    memcpy(buf + a + 1, env, b);
    return a + b + 1;
}

/* Run the cipher of ctx (set up with key and nonce) over aad and in. */
static int gcm_run(EVP_CIPHER_CTX *ctx, const unsigned char *aad,
                   size_t aad_len, const unsigned char *in, size_t len,
                   unsigned char *out, int *out_len)
{
    int n = 0, total = 0;

    if (EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        return -1;
    if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
        return -1;
    total = len > 0 ? n : 0;
    *out_len = total;
    return 0;
}

int secretkey_seal(const char *name, const char *env, const char *plain,
                   size_t len, unsigned char nonce[SECRETKEY_NONCE_LEN],
                   unsigned char **ct, size_t *ct_len,
                   char key_id[SECRETKEY_ID_LEN + 1], struct weir_err *err)
{
    unsigned char aad[512];
    size_t aad_len;
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *out = NULL;
    int n = 0, fin = 0, rc = 0;

    if (n_ring == 0)
        return weir_err_set(err, WEIR_ECONFLICT,
                            "this server has no secrets key: start it with "
                            "--secrets-key-file");
    if (len > SECRETKEY_VALUE_MAX || strlen(name) + strlen(env) > 400)
        return weir_err_set(err, WEIR_ETOOBIG,
                            "a secret value is at most %d bytes",
                            SECRETKEY_VALUE_MAX);
    aad_len = aad_make(name, env, aad, sizeof(aad));
    out = malloc(len + SECRETKEY_TAG_LEN);
    ctx = EVP_CIPHER_CTX_new();
    if (out == NULL || ctx == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (rc == 0 && RAND_bytes(nonce, SECRETKEY_NONCE_LEN) != 1)
        rc = weir_err_set(err, WEIR_EINTERNAL, "no random bytes for a nonce");
    if (rc == 0 &&
        (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRETKEY_NONCE_LEN,
                             NULL) != 1 ||
         EVP_EncryptInit_ex(ctx, NULL, NULL, ring[0].bytes, nonce) != 1 ||
         gcm_run(ctx, aad, aad_len, (const unsigned char *)plain, len, out,
                 &n) != 0 ||
         EVP_EncryptFinal_ex(ctx, out + n, &fin) != 1 ||
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SECRETKEY_TAG_LEN,
                             out + len) != 1))
        rc = weir_err_set(err, WEIR_EINTERNAL, "AES-256-GCM sealing failed");
    EVP_CIPHER_CTX_free(ctx);
    if (rc < 0) {
        free(out);
        return rc;
    }
    *ct = out;
    *ct_len = len + SECRETKEY_TAG_LEN;
    memcpy(key_id, ring[0].id, SECRETKEY_ID_LEN + 1);
    return 0;
}

int secretkey_open(const char *name, const char *env, const char *key_id,
                   const unsigned char nonce[SECRETKEY_NONCE_LEN],
                   const unsigned char *ct, size_t ct_len, char **plain,
                   size_t *len, struct weir_err *err)
{
    const struct key *k = find_key(key_id);
    unsigned char aad[512];
    size_t aad_len, body;
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *out = NULL;
    int n = 0, fin = 0, rc = 0;

    if (k == NULL)
        return weir_err_set(err, WEIR_ECONFLICT,
                            "secret \"%s\" was sealed with key %s, which no "
                            "--secrets-key-file holds",
                            name, key_id);
    if (ct_len < SECRETKEY_TAG_LEN || strlen(name) + strlen(env) > 400)
        return weir_err_set(err, WEIR_EINTERNAL,
                            "secret \"%s\": the stored value is damaged", name);
    body = ct_len - SECRETKEY_TAG_LEN;
    aad_len = aad_make(name, env, aad, sizeof(aad));
    out = malloc(body + 1);
    ctx = EVP_CIPHER_CTX_new();
    if (out == NULL || ctx == NULL)
        rc = weir_err_set(err, WEIR_ENOMEM, "out of memory");
    if (rc == 0 &&
        (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRETKEY_NONCE_LEN,
                             NULL) != 1 ||
         EVP_DecryptInit_ex(ctx, NULL, NULL, k->bytes, nonce) != 1 ||
         gcm_run(ctx, aad, aad_len, ct, body, out, &n) != 0 ||
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SECRETKEY_TAG_LEN,
                             (void *)(ct + body)) != 1 ||
         EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1))
        rc = weir_err_set(err, WEIR_EINTERNAL,
                          "secret \"%s\" does not open with key %s: the key "
                          "file or the stored row is not the one it was "
                          "sealed with",
                          name, key_id);
    EVP_CIPHER_CTX_free(ctx);
    if (rc < 0) {
        if (out != NULL)
            OPENSSL_cleanse(out, body + 1);
        free(out);
        return rc;
    }
    out[body] = '\0';
    *plain = (char *)out;
    *len = body;
    return 0;
}
