-- XGJ goods-change subscriptions (`/xgj/goofish/goods/change/subscribe`): who wants to hear about
-- a goods' price or stock changes. goods_no NULL means every goods. One row per (goods, notify_url);
-- a repeat subscribe updates its token and goods_type.
CREATE TABLE goods_subscriptions
(
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    goods_no   text REFERENCES goods (goods_no) ON DELETE CASCADE,
    goods_type smallint CHECK (goods_type IN (1, 2)),
    notify_url text        NOT NULL,
    token      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (goods_no, notify_url)
);
CREATE INDEX goods_subscriptions_goods ON goods_subscriptions (goods_no);

-- A goods-change delivery has no order: it is about a goods instead. Exactly one of the two.
-- NOT VALID: existing rows all have an order, and validating would scan the whole table.
ALTER TABLE deliveries ALTER COLUMN order_no DROP NOT NULL;
ALTER TABLE deliveries ADD COLUMN goods_no text;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_one_subject CHECK ((order_no IS NULL) <> (goods_no IS NULL)) NOT VALID;
