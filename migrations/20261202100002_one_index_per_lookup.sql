-- Every write of an order's views maintained two indexes where one serves: the offsets are read
-- by order (a batch's offsets, the catch-up's comparison) and written by (projection, order), so
-- one key led by the order serves both (ON CONFLICT (projection, order_no) infers it); and the
-- form token's UNIQUE constraint is already the index its lookup uses.
ALTER TABLE projection_offsets DROP CONSTRAINT projection_offsets_pkey, ADD PRIMARY KEY (order_no, projection);
DROP INDEX projection_offsets_order;
DROP INDEX order_detail_form_token;
