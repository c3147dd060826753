-- The detail document is stored as `json` (its text, checked) instead of `jsonb`: every command
-- rewrites it, and parsing 3-4 kB into jsonb was the largest single cost of writing an order's
-- views (about 100 µs of some 160 µs per order, measured with 5,000-row INSERTs in psql). Nothing
-- queries inside it; reads hand its text on. `rebuild-views --verify` compares it as jsonb.
-- Compressed with lz4 (several times cheaper than pglz) and kept in the row rather than in the
-- TOAST table (about 4 kB, 2 kB compressed): one write and one read per order instead of three.
ALTER TABLE order_detail ALTER COLUMN doc TYPE json USING doc::json;
ALTER TABLE order_detail ALTER COLUMN doc SET COMPRESSION lz4, ALTER COLUMN doc SET STORAGE MAIN;
