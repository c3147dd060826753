-- Tamper evidence: every order's events form a hash chain. Each event's `chain_hash` is
--   hex(sha256( "xyt-chain-v1" || part(aggregate_type) || part(aggregate_id) || part(sequence as decimal text)
--               || part(event_type) || part(event_version) || part(payload as stored text)
--               || part(metadata as stored text) || part(previous event's chain_hash, '' for sequence 1) ))
-- where part(t) = the 8-byte big-endian byte length of t's UTF-8 bytes, then those bytes. `payload` and
-- `metadata` are `json` columns, whose text PostgreSQL keeps byte for byte, so the hash can be recomputed
-- offline from the stored text (xyt_store::chain does exactly that, and so does `xyt dispute verify`).
-- The hash is written by a BEFORE INSERT trigger, in the same transaction as the event.

CREATE FUNCTION events_chain_part(t text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT AS
$$ SELECT int8send(octet_length(convert_to(t, 'UTF8'))::bigint) || convert_to(t, 'UTF8') $$;

CREATE FUNCTION events_chain_hash(aggregate_type text, aggregate_id text, sequence bigint, event_type text,
                                  event_version text, payload text, metadata text, previous text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT AS
$$
SELECT encode(sha256(convert_to('xyt-chain-v1', 'UTF8')
    || events_chain_part(aggregate_type) || events_chain_part(aggregate_id)
    || events_chain_part(sequence::text) || events_chain_part(event_type)
    || events_chain_part(event_version) || events_chain_part(payload)
    || events_chain_part(metadata) || events_chain_part(previous)), 'hex')
$$;

ALTER TABLE events ADD COLUMN chain_hash text;

-- Existing events get their chain here, in order. The append-only trigger is disabled for this
-- statement only (inside the migration's transaction).
ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete;
DO
$$
DECLARE
    r        record;
    prev     text := '';
    prev_agg text := NULL;
    h        text;
BEGIN
    FOR r IN SELECT aggregate_type, aggregate_id, sequence, event_type, event_version,
                    payload::text AS p, metadata::text AS m
             FROM events ORDER BY aggregate_type, aggregate_id, sequence
    LOOP
        IF prev_agg IS DISTINCT FROM (r.aggregate_type || E'\x1f' || r.aggregate_id) THEN
            prev := '';
            prev_agg := r.aggregate_type || E'\x1f' || r.aggregate_id;
        END IF;
        h := events_chain_hash(r.aggregate_type, r.aggregate_id, r.sequence, r.event_type, r.event_version,
                               r.p, r.m, prev);
        UPDATE events SET chain_hash = h
        WHERE aggregate_type = r.aggregate_type AND aggregate_id = r.aggregate_id AND sequence = r.sequence;
        prev := h;
    END LOOP;
END
$$;
ALTER TABLE events ENABLE TRIGGER events_no_update_or_delete;
ALTER TABLE events ALTER COLUMN chain_hash SET NOT NULL;

CREATE FUNCTION events_chain() RETURNS trigger LANGUAGE plpgsql AS
$$
DECLARE
    prev text;
BEGIN
    SELECT e.chain_hash INTO prev FROM events e
    WHERE e.aggregate_type = NEW.aggregate_type AND e.aggregate_id = NEW.aggregate_id
      AND e.sequence = NEW.sequence - 1;
    NEW.chain_hash := events_chain_hash(NEW.aggregate_type, NEW.aggregate_id, NEW.sequence, NEW.event_type,
                                        NEW.event_version, NEW.payload::text, NEW.metadata::text,
                                        COALESCE(prev, ''));
    RETURN NEW;
END
$$;
CREATE TRIGGER events_chain
    BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_chain();

-- Who exported which order's dispute bundle, and when (the bundle's own hashes are kept too).
CREATE TABLE dispute_exports
(
    id          uuid PRIMARY KEY,
    order_no    text        NOT NULL,
    exported_by text        NOT NULL,
    exported_at timestamptz NOT NULL DEFAULT now(),
    head_sequence bigint    NOT NULL,
    head_hash   text        NOT NULL,
    manifest_sha256 text    NOT NULL
);
CREATE INDEX dispute_exports_order ON dispute_exports (order_no, exported_at);
