-- `xyt rebuild-views` (replace) drops the secondary indexes of the view tables it empties and
-- builds each once at the end, which costs far less than keeping them up to date row by row.
-- Their definitions wait here meanwhile (written in the transaction that drops them), so that a
-- rebuild that stops half way recreates them when `rebuild-views` next runs. Primary keys and
-- constraints are never dropped: a command's refresh upserts by primary key during a rebuild.
CREATE TABLE rebuild_dropped_indexes
(
    name       text PRIMARY KEY,
    definition text NOT NULL
);

-- The fold snapshots are compressed with lz4 rather than pglz, as the event log's before/after
-- already are (`event_log_reads_events`): the same values, stored several times faster (pglz
-- was a tenth of a rebuild's database time). Only values written from now on are affected.
ALTER TABLE order_fold_snapshots ALTER COLUMN state SET COMPRESSION lz4;
