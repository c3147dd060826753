-- The sweep's work list: orders owing a step the system takes by itself (price check, reading a
-- screenshot, telling the buyer, the profit share), whatever the step.
ALTER TABLE order_list ADD COLUMN system_step_owed boolean NOT NULL DEFAULT false;
CREATE INDEX order_list_system_step_owed ON order_list (order_no) WHERE system_step_owed;
