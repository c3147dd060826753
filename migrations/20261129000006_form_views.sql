-- The order list learns the buyer's form: masked name and phone, the phone's last 4 digits for
-- search, the play date, and whether a price check is still owed (the sweep's work list).
ALTER TABLE order_list ADD COLUMN price_check_pending boolean NOT NULL DEFAULT false;
CREATE INDEX order_list_price_check_pending ON order_list (order_no) WHERE price_check_pending;
CREATE INDEX order_detail_form_token ON order_detail (form_token);
