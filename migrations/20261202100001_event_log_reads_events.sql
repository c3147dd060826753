-- The event log no longer copies what the event itself holds (type, version, payload): reads
-- join the event by its primary key, so a command writes each payload once, not twice. The
-- payloads and documents that run past a page are compressed with lz4, several times cheaper
-- than the default pglz on every write (rows written before keep theirs; both read alike).
ALTER TABLE order_event_log DROP COLUMN event_type, DROP COLUMN event_version, DROP COLUMN payload;

ALTER TABLE events ALTER COLUMN payload SET COMPRESSION lz4;
ALTER TABLE order_detail ALTER COLUMN doc SET COMPRESSION lz4;
ALTER TABLE order_event_log ALTER COLUMN before SET COMPRESSION lz4, ALTER COLUMN after SET COMPRESSION lz4;
