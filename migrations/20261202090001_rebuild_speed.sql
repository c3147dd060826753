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

-- The event log's before/after and the fold snapshots are compressed with lz4 rather than pglz:
-- the same values, stored several times faster (pglz was a tenth of a rebuild's database time)
-- and read back faster. Only values written from now on are affected; a rebuild rewrites them.
-- (The detail document's compression and storage are set with its type, `detail_doc_as_json`.)
ALTER TABLE order_event_log ALTER COLUMN before SET COMPRESSION lz4, ALTER COLUMN after SET COMPRESSION lz4;
ALTER TABLE order_fold_snapshots ALTER COLUMN state SET COMPRESSION lz4;
