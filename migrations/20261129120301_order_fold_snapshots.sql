-- The fold of a long order stream up to `sequence`, so that refreshing its views reads only the
-- events after it (issue 10 item 3). A cache: losing it costs one full fold; rows of another
-- `fold_version` are ignored, and `xyt rebuild-views` empties the table.
CREATE TABLE order_fold_snapshots
(
    order_no     text PRIMARY KEY,
    sequence     bigint  NOT NULL,
    fold_version integer NOT NULL,
    state        jsonb   NOT NULL
);
