-- SPDX-License-Identifier: Apache-2.0
-- Secrets (docs/security.md, "Secrets"): values a step asks for by name,
-- stored only as AES-256-GCM ciphertext under a key of --secrets-key-file.
-- The name and environment are the cipher's associated data, so a
-- ciphertext copied to another row does not open. key_id says which key of
-- the ring sealed the row (rotate-key re-seals every row under the first).
CREATE TABLE secrets (
    name        text NOT NULL
                CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,127}$'),
    environment text NOT NULL DEFAULT ''  -- '': every environment
                CHECK (environment ~ '^([a-z0-9][a-z0-9_-]{0,63})?$'),
    version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ciphertext  bytea NOT NULL,           -- value then the 16-byte GCM tag
    nonce       bytea NOT NULL CHECK (octet_length(nonce) = 12),
    key_id      text NOT NULL,            -- first 16 hex of SHA-256(key)
    created_by  text NOT NULL,            -- the token that set this version
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, environment)
);
