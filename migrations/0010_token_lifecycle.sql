-- SPDX-License-Identifier: Apache-2.0
-- Tokens have a life: they may expire, are revoked by name, record when
-- they were last used, and a worker token may be limited to queues. A
-- registered worker is bound to the token that registered it
-- (workers.token_id, from 0001), which alone may act for it.
ALTER TABLE api_tokens
    ADD COLUMN expires_at   timestamptz, -- NULL: never expires
    ADD COLUMN last_used_at timestamptz, -- updated at most once a minute
    ADD COLUMN queues       text[];      -- worker role: queues it may serve;
                                         -- NULL: any queue

-- A live token is revoked by its name, so live names are unique. Older
-- duplicates keep their row and get their id appended.
UPDATE api_tokens t SET name = t.name || '-' || t.id
 WHERE t.name <> '' AND t.revoked_at IS NULL
   AND EXISTS (SELECT 1 FROM api_tokens o
                WHERE o.name = t.name AND o.revoked_at IS NULL
                  AND o.id < t.id);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name)
    WHERE revoked_at IS NULL AND name <> '';
