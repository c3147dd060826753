-- Access: operators with roles, console sessions, API keys for integrations, sign-in throttling,
-- the security log, the record of who read an order's personal data, and idempotency keys.
-- Secrets are never stored: passwords as argon2id PHC strings, session tokens and API keys as
-- sha256 of 256-bit random values (high entropy, so a fast hash is enough and lookups are indexed).

CREATE TABLE users
(
    username      text PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,31}$'),
    display_name  text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 64),
    role          text        NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
    password_hash text        NOT NULL,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions
(
    id           uuid PRIMARY KEY,
    token_sha256 bytea       NOT NULL UNIQUE,
    username     text        NOT NULL REFERENCES users (username),
    csrf_token   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    address      text
);
CREATE INDEX sessions_by_user ON sessions (username) WHERE revoked_at IS NULL;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE api_keys
(
    name         text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    role         text        NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
    key_sha256   bytea       NOT NULL UNIQUE,
    -- The first characters of the key, to recognise it in a list.
    key_prefix   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text        NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- Failed sign-ins, per username as typed (known or not, so a lock reveals nothing) and address.
CREATE TABLE login_failures
(
    id       bigserial PRIMARY KEY,
    username text        NOT NULL,
    address  text        NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_by_username ON login_failures (username, at);
CREATE INDEX login_failures_by_address ON login_failures (address, at);
CREATE INDEX login_failures_by_time ON login_failures (at);

CREATE TABLE login_locks
(
    username     text PRIMARY KEY,
    locked_until timestamptz NOT NULL
);

-- Sign-ins, failures, locks, key use, user and key changes.
CREATE TABLE security_log
(
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    kind    text        NOT NULL,
    -- Who acted: `admin:<username>`, `api:<key name>`, `cli`, or the username tried at sign-in.
    actor   text        NOT NULL,
    -- What it was about: a username or key name.
    subject text,
    address text,
    detail  jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX security_log_by_time ON security_log (at DESC, id DESC);

-- Every read of an order's whole personal data (detail, raw events, whole messages).
CREATE TABLE personal_data_reads
(
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text        NOT NULL,
    order_no text        NOT NULL,
    what     text        NOT NULL
);
CREATE INDEX personal_data_reads_by_time ON personal_data_reads (at DESC, id DESC);
CREATE INDEX personal_data_reads_by_order ON personal_data_reads (order_no, at DESC);

-- The first answer to a POST with an Idempotency-Key, per principal and key, kept 24 hours.
-- status NULL: the first request is still running.
CREATE TABLE idempotency_keys
(
    principal    text        NOT NULL,
    key          text        NOT NULL,
    fingerprint  bytea       NOT NULL,
    status       smallint,
    content_type text,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_by_time ON idempotency_keys (created_at);
