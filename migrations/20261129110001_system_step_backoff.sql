-- A system step that keeps failing for one order (a poisoned screenshot, a file gone missing)
-- waits longer each time instead of being retried on every sweep: the sweep skips an order
-- until its next_attempt_at, so it can neither starve the others nor hold up a restart.
-- A row exists only while the order's steps are failing; success deletes it.
CREATE TABLE system_step_backoff (
    order_no text PRIMARY KEY,
    failures integer NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    last_error text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
