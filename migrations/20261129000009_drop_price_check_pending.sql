-- system_step_owed (the sweep's one work list) replaced it; nothing reads it any more.
DROP INDEX IF EXISTS order_list_price_check_pending;
ALTER TABLE order_list DROP COLUMN price_check_pending;
