-- Notification deliveries: every message the system sends, with its lifecycle and attempts.
-- Created from events, exactly one per (order_no, source_sequence, type); workers claim due rows
-- with FOR UPDATE SKIP LOCKED, so processes can run side by side without sending twice.
CREATE TABLE deliveries
(
    id                  uuid PRIMARY KEY,
    order_no            text        NOT NULL,
    source_sequence     bigint      NOT NULL,
    type                text        NOT NULL,
    channel             text        NOT NULL,
    -- The target as configured (a robot URL holds its key: never shown, see target_display).
    target              text        NOT NULL,
    target_display      text        NOT NULL,
    message_text        text        NOT NULL,
    message_text_masked text        NOT NULL,
    extra               jsonb       NOT NULL DEFAULT '{}',
    status              text        NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed_retryable', 'failed_permanent')),
    attempts            integer     NOT NULL DEFAULT 0,
    max_attempts        integer     NOT NULL,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    locked_until        timestamptz,
    last_error_code     text,
    last_error_message  text,
    last_error_hint     text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_no, source_sequence, type)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'failed_retryable', 'sending');
CREATE INDEX deliveries_order ON deliveries (order_no, created_at);
CREATE INDEX deliveries_keyset ON deliveries (created_at DESC, id DESC);

-- Every attempt. An attempt row is written (in the same transaction as the per-target rate check)
-- before the send, so it also reserves the robot's per-minute budget across processes.
CREATE TABLE delivery_attempts
(
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id    uuid        NOT NULL REFERENCES deliveries (id),
    attempt        integer     NOT NULL,
    target         text        NOT NULL,
    target_display text        NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    outcome        text CHECK (outcome IN ('sent', 'failed_retryable', 'failed_permanent')),
    error_code     text,
    error_message  text,
    detail         text,
    -- Whether the outcome is on the order's event stream yet (a sweep appends what is missing).
    event_recorded boolean     NOT NULL DEFAULT false
);
CREATE INDEX delivery_attempts_target_time ON delivery_attempts (target, started_at);
CREATE INDEX delivery_attempts_unrecorded ON delivery_attempts (id) WHERE finished_at IS NOT NULL AND NOT event_recorded;
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);
