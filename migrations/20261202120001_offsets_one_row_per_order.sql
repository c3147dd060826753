-- The offsets in one row per order, not one per projection. The list, the detail and the event
-- log are always written together, by one statement, so they always reach one version: it is
-- now kept once (`view_offsets`). The deliveries' offset is kept apart (`delivery_offsets`)
-- because a rebuild empties the views and their offsets but keeps the deliveries (real sends).
-- A new order wrote four offset rows and their index entries; it now writes two, and a
-- rebuild's batch writes one per order instead of three.
CREATE TABLE view_offsets (
    order_no text PRIMARY KEY,
    version  bigint NOT NULL
);
CREATE TABLE delivery_offsets (
    order_no text PRIMARY KEY,
    version  bigint NOT NULL
);
-- An order whose three views stood at different versions keeps the lowest: the refresh then
-- writes the others again (their rows are upserted, the log's are kept where present). One that
-- lacked any of them keeps none, and is refreshed whole.
INSERT INTO view_offsets (order_no, version)
SELECT order_no, min(version) FROM projection_offsets
WHERE projection IN ('order_list', 'order_detail', 'order_event_log')
GROUP BY order_no HAVING count(*) = 3;
INSERT INTO delivery_offsets (order_no, version)
SELECT order_no, version FROM projection_offsets WHERE projection = 'deliveries';
DROP TABLE projection_offsets;
