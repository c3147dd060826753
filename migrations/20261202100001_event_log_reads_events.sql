-- The event log no longer copies what the event itself holds (type, version, payload): reads
-- join the event by its primary key, so a command writes each payload once, not twice. New
-- payloads are compressed with lz4, several times cheaper than the default pglz on every write
-- (rows written before keep theirs; both read alike).
ALTER TABLE order_event_log DROP COLUMN event_type, DROP COLUMN event_version, DROP COLUMN payload;

ALTER TABLE events ALTER COLUMN payload SET COMPRESSION lz4;
