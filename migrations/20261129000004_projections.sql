-- Read models, rebuilt from the event stream. Each keeps, per order, the last event sequence it
-- applied (projection_offsets); the catch-up pass applies whatever is missing.
CREATE TABLE projection_offsets
(
    projection text   NOT NULL,
    order_no   text   NOT NULL,
    version    bigint NOT NULL,
    PRIMARY KEY (projection, order_no)
);

CREATE TABLE order_list
(
    order_no          text PRIMARY KEY,
    external_order_no text,
    out_order_no      text,
    goods_no          text,
    goods_name        text,
    ticket_type       text,
    play_date         date,
    paid_amount       numeric(14, 2),
    payable_amount    numeric(14, 2),
    status            text        NOT NULL,
    status_label      text        NOT NULL,
    suggested_action  text        NOT NULL,
    suggested_action_label text   NOT NULL,
    buyer_name_masked text,
    phone_masked      text,
    phone_last4       text,
    unknown_goods     boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX order_list_keyset ON order_list (created_at DESC, order_no DESC);
CREATE INDEX order_list_status ON order_list (status, created_at DESC, order_no DESC);
CREATE INDEX order_list_external ON order_list (external_order_no);
CREATE INDEX order_list_out_order_no ON order_list (out_order_no);
CREATE INDEX order_list_phone_last4 ON order_list (phone_last4);

CREATE TABLE order_detail
(
    order_no   text PRIMARY KEY,
    form_token text UNIQUE,
    doc        jsonb       NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE order_event_log
(
    order_no      text        NOT NULL,
    sequence      bigint      NOT NULL,
    event_type    text        NOT NULL,
    event_version text        NOT NULL,
    source        text        NOT NULL,
    result        text        NOT NULL,
    created_at    timestamptz NOT NULL,
    processed_at  timestamptz NOT NULL,
    request_id    text        NOT NULL,
    error_code    text,
    error_message text,
    before        jsonb       NOT NULL,
    after         jsonb       NOT NULL,
    payload       jsonb       NOT NULL,
    PRIMARY KEY (order_no, sequence)
);
