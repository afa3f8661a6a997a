-- SPDX-License-Identifier: Apache-2.0
-- Single sign-on (OpenID Connect). A session of a signed-in user is kept
-- by the SHA-256 of its random id (the cookie, or the CLI's secret), never
-- the id itself; it carries the user's name, groups and role grants (grant
-- strings from --oidc-role-map, as mapped at sign-in), its CSRF token, and
-- an idle and an absolute expiry.
CREATE TABLE sessions (
    id           bigserial PRIMARY KEY,
    hash         text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
    kind         text NOT NULL CHECK (kind IN ('browser', 'cli')),
    user_name    text NOT NULL,                  -- the claim it signed in as
    groups       jsonb NOT NULL DEFAULT '[]',    -- the groups claim
    grants       jsonb NOT NULL,                 -- ["ROLE[:env=..][:dag=..]"]
    csrf         text NOT NULL,                  -- X-CSRF-Token of mutations
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    idle_s       integer NOT NULL CHECK (idle_s > 0), -- gone after this idle
    expires_at   timestamptz NOT NULL            -- gone then, whatever use
);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- A sign-in under way: the SHA-256 of its state, the nonce the ID token
-- must carry, the PKCE verifier of the code exchange, and for `weir login`
-- the CLI's loopback port and the SHA-256 of its exchange secret. A row is
-- taken (deleted) by the callback, so a state and its nonce serve once.
CREATE TABLE oidc_logins (
    state_hash    text PRIMARY KEY CHECK (state_hash ~ '^[0-9a-f]{64}$'),
    nonce         text NOT NULL,
    verifier      text NOT NULL,
    cli_port      integer CHECK (cli_port BETWEEN 1 AND 65535),
    cli_challenge text CHECK (cli_challenge ~ '^[0-9a-f]{64}$'),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- A finished `weir login` waiting for the CLI to collect its session: the
-- SHA-256 of the one-time code sent to the loopback port, the challenge
-- the CLI's secret must match, and who signed in. Taken once.
CREATE TABLE cli_logins (
    code_hash  text PRIMARY KEY CHECK (code_hash ~ '^[0-9a-f]{64}$'),
    challenge  text NOT NULL CHECK (challenge ~ '^[0-9a-f]{64}$'),
    user_name  text NOT NULL,
    groups     jsonb NOT NULL,
    grants     jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
