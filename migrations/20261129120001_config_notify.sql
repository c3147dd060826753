-- The config cache (docs/decisions/0007-config-cache.md): every statement that changes a table
-- the cache reads notifies `xyt_config_changed` when its transaction commits, so each `xyt serve`
-- instance clears its cache, whoever wrote and however. Statement-level, so a bulk change sends
-- one notification (and PostgreSQL folds identical ones within a transaction).
CREATE FUNCTION config_changed_notify() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('xyt_config_changed', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER goods_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON goods
    FOR EACH STATEMENT EXECUTE FUNCTION config_changed_notify();
CREATE TRIGGER settings_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION config_changed_notify();
CREATE TRIGGER price_table_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON price_table
    FOR EACH STATEMENT EXECUTE FUNCTION config_changed_notify();
