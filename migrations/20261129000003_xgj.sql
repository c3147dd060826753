-- Idempotency of XGJ's 创建卡密订单 on its order_no. The row is claimed before the order's
-- events are written (so concurrent copies agree on one order number) and the first answer is
-- kept verbatim once given, so every repeat gets exactly that answer.
CREATE TABLE xgj_intake
(
    external_order_no text PRIMARY KEY,
    order_no          text        NOT NULL UNIQUE,
    biz_order_no      text        NOT NULL,
    claimed_at        timestamptz NOT NULL DEFAULT now(),
    -- The answer body exactly as first sent (text, not jsonb: jsonb would reorder its keys).
    answer            text,
    answered_at       timestamptz
);
CREATE INDEX xgj_intake_biz_order_no ON xgj_intake (biz_order_no);

-- ERP order pushes, one row per distinct (order_no, order_status, refund_status, modify_time).
-- Written only after the push was acted on, so a crash in between makes XGJ's retry act again
-- (the action itself is idempotent).
CREATE TABLE xgj_erp_pushes
(
    order_no         text        NOT NULL,
    order_status     bigint      NOT NULL,
    refund_status    bigint      NOT NULL,
    modify_time      bigint      NOT NULL,
    body             jsonb       NOT NULL,
    matched_order_no text,
    action           text        NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_no, order_status, refund_status, modify_time)
);
