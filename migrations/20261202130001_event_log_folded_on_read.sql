-- The event log is no longer a table: `GET /api/orders/{no}/events` folds the order's own events
-- as it reads them, through the replay's fold (`replay::fold`), which already told each event's
-- change for disputes. Every column of the log was the event's own metadata, or what folding
-- the stream tells; keeping a copy cost a new order two rows and two index entries more than
-- its list and detail together, and a rebuild nearly four per order. Read from the events, the
-- log can never lag behind them.
DROP TABLE order_event_log;
