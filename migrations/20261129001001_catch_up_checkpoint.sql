-- Catch-up that costs what is new: each event records the transaction that inserted it, and the
-- catch-up keeps a high-water mark over (tx, position). Positions come from a sequence, so a
-- transaction may commit after a later position became visible; ordering by the inserting
-- transaction's xid8 instead is safe once that xid is below the oldest transaction still in
-- flight (pg_snapshot_xmin): every transaction below it has ended, and every later one gets a
-- larger xid. Events above it that are already visible are applied but not passed over.
ALTER TABLE events ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX events_tx_position ON events (tx, position);

CREATE TABLE projection_checkpoint
(
    name     text PRIMARY KEY,
    tx       bigint NOT NULL,
    position bigint NOT NULL
);

-- Per-order lookups of the offsets (the catch-up compares a batch of orders with its events).
CREATE INDEX projection_offsets_order ON projection_offsets (order_no);

-- The rebuild walks orders in the order they began.
CREATE INDEX events_first_by_position ON events (position) WHERE sequence = 1;

-- Operators' resends per delivery, capped so that no one can grow an order's stream without bound.
ALTER TABLE deliveries ADD COLUMN resends integer NOT NULL DEFAULT 0;
