-- Configuration the gateway answers from. The config centre (its API and history) builds on it.
CREATE TABLE goods
(
    goods_no     text PRIMARY KEY CHECK (length(goods_no) BETWEEN 1 AND 100),
    goods_name   text        NOT NULL CHECK (length(goods_name) BETWEEN 1 AND 200),
    goods_type   smallint    NOT NULL DEFAULT 2 CHECK (goods_type IN (1, 2)), -- 1 直充, 2 卡密
    ticket_type  text        NOT NULL,
    season_label text        NOT NULL,
    price_cent   bigint      NOT NULL CHECK (price_cent >= 0),
    stock        bigint      NOT NULL DEFAULT 9999 CHECK (stock >= 0),
    status       smallint    NOT NULL DEFAULT 1 CHECK (status IN (1, 2)),     -- 1 在架, 2 下架
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Single values (the platform fee rate, ...), one row each.
CREATE TABLE settings
(
    key        text PRIMARY KEY,
    value      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text        NOT NULL DEFAULT 'system'
);
INSERT INTO settings (key, value) VALUES ('fee_rate', '"0.02"');
