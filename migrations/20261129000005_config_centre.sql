-- The config centre. Every change is also written to config_changes (who, when, before, after).

CREATE TABLE ticket_types
(
    name        text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
    description text        NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Settlement price (what the agent charges us) by ticket type and season.
CREATE TABLE price_table
(
    ticket_type       text           NOT NULL,
    season            text           NOT NULL CHECK (season IN ('low', 'mid', 'high')),
    settlement_amount numeric(14, 2) NOT NULL CHECK (settlement_amount >= 0),
    updated_at        timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_type, season)
);

INSERT INTO settings (key, value) VALUES ('play_date_horizon_days', '180');
INSERT INTO settings (key, value) VALUES ('season_calendar', '{"default": "mid", "rules": []}');

-- Payment QR codes for 代付. Exactly one may be active (the partial unique index); the image is
-- kept here, typed from its bytes, and served back only through the admin API.
CREATE TABLE payment_qr_codes
(
    id           uuid PRIMARY KEY,
    label        text        NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
    content_type text        NOT NULL,
    sha256       text        NOT NULL,
    size         integer     NOT NULL,
    image        bytea       NOT NULL,
    active       boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text        NOT NULL
);
CREATE UNIQUE INDEX payment_qr_codes_one_active ON payment_qr_codes ((true)) WHERE active;

CREATE TABLE agent_groups
(
    id           uuid PRIMARY KEY,
    name         text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    wecom_target text        NOT NULL,
    active       boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Where the system's own messages go: purpose `price_alert` (the 【订单异常】 alerts), ...
CREATE TABLE notification_targets
(
    id         uuid PRIMARY KEY,
    purpose    text        NOT NULL,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    target     text        NOT NULL,
    active     boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE config_changes
(
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity     text        NOT NULL,
    entity_key text        NOT NULL,
    action     text        NOT NULL,
    before     jsonb,
    after      jsonb,
    actor      text        NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX config_changes_entity ON config_changes (entity, changed_at DESC);
