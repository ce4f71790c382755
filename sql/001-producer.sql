-- 001-producer.sql -- the producer's tables (Juno event-logger plugin), as in
-- pitchlake-spec.md section 2, with two deliberate fixes (docs/schema.md):
--   * starknet_blocks is keyed by block_hash, with a partial unique index on
--     block_number over non-reverted rows, so that a same-height replacement
--     block can be stored after a re-org;
--   * events gets an index on block_hash (block-fetch looks events up by hash).
-- Idempotent: safe on a database where the producer already created its
-- tables (it then only converts the starknet_blocks key and adds indexes).
-- No transaction control here: scripts/pl-migrate wraps each file in one.

CREATE TABLE IF NOT EXISTS events (
	event_nonce bigint NOT NULL,
	block_number numeric(78,0) NOT NULL,
	block_hash varchar(66) NOT NULL,
	vault_address varchar(255) NOT NULL,
	event_name varchar(255) NOT NULL,
	event_keys varchar(256)[] NOT NULL,
	event_data varchar(256)[] NOT NULL,
	transaction_hash varchar(66) NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_events_block_number ON events (block_number);
CREATE INDEX IF NOT EXISTS idx_events_event_name ON events (event_name);
CREATE INDEX IF NOT EXISTS idx_events_vault_address ON events (vault_address);
CREATE INDEX IF NOT EXISTS idx_events_transaction_hash ON events (transaction_hash);
CREATE INDEX IF NOT EXISTS idx_events_block_hash ON events (block_hash);
-- CatchupVault ranges: one vault's events in chain order.
CREATE INDEX IF NOT EXISTS idx_events_vault_block_nonce ON events (vault_address, block_number, event_nonce);

CREATE TABLE IF NOT EXISTS starknet_blocks (
	block_number numeric(78,0) NOT NULL,
	block_hash varchar(66) NOT NULL,
	parent_hash varchar(66) NOT NULL,
	timestamp numeric(78,0) NOT NULL,
	status varchar(255) NOT NULL,
	CONSTRAINT starknet_blocks_pkey PRIMARY KEY (block_hash)
);
-- A database created by the producer's own migration has its primary key on
-- block_number: move it to block_hash.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_constraint c
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
		WHERE c.conrelid = 'starknet_blocks'::regclass AND c.contype = 'p'
		AND a.attname = 'block_number') THEN
		EXECUTE 'ALTER TABLE starknet_blocks DROP CONSTRAINT '
			|| quote_ident((SELECT conname FROM pg_constraint
				WHERE conrelid = 'starknet_blocks'::regclass AND contype = 'p'));
		ALTER TABLE starknet_blocks ADD CONSTRAINT starknet_blocks_pkey PRIMARY KEY (block_hash);
	END IF;
END
$$;
CREATE UNIQUE INDEX IF NOT EXISTS starknet_blocks_live_number
	ON starknet_blocks (block_number) WHERE status <> 'REVERTED';
CREATE INDEX IF NOT EXISTS idx_starknet_blocks_block_number ON starknet_blocks (block_number);
CREATE INDEX IF NOT EXISTS idx_starknet_blocks_parent_hash ON starknet_blocks (parent_hash);

CREATE OR REPLACE FUNCTION notify_insert_starknet_blocks() RETURNS trigger AS $$
BEGIN
	PERFORM pg_notify('starknet_blocks_insert', NEW.block_number::text);
	RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION notify_revert_starknet_blocks() RETURNS trigger AS $$
BEGIN
	PERFORM pg_notify('starknet_blocks_revert', NEW.block_number::text);
	RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS trigger_notify_insert_starknet_blocks ON starknet_blocks;
CREATE TRIGGER trigger_notify_insert_starknet_blocks
	AFTER INSERT ON starknet_blocks
	FOR EACH ROW EXECUTE FUNCTION notify_insert_starknet_blocks();
-- Legacy: never fires, the producer writes 'REVERTED' (kept for fidelity).
DROP TRIGGER IF EXISTS trigger_notify_revert_starknet_blocks ON starknet_blocks;
CREATE TRIGGER trigger_notify_revert_starknet_blocks
	AFTER UPDATE ON starknet_blocks
	FOR EACH ROW WHEN (NEW.status = 'revert')
	EXECUTE FUNCTION notify_revert_starknet_blocks();

CREATE TABLE IF NOT EXISTS vault_registry (
	id serial PRIMARY KEY,
	vault_address varchar(66) NOT NULL,
	deployed_at varchar(66) NOT NULL,
	last_block_indexed varchar(66),
	last_block_processed varchar(66)
);

CREATE OR REPLACE FUNCTION notify_insert_registry() RETURNS trigger AS $$
BEGIN
	PERFORM pg_notify('vault_insert', row_to_json(NEW)::text);
	RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS insert_vault_registry_trigger ON vault_registry;
CREATE TRIGGER insert_vault_registry_trigger
	AFTER INSERT ON vault_registry
	FOR EACH ROW EXECUTE FUNCTION notify_insert_registry();

CREATE SEQUENCE IF NOT EXISTS driver_events_sequence START 1;

CREATE TABLE IF NOT EXISTS driver_events (
	id serial PRIMARY KEY,
	sequence_index bigint NOT NULL DEFAULT nextval('driver_events_sequence'),
	type varchar(50) NOT NULL,
	timestamp timestamptz NOT NULL DEFAULT now(),
	is_processed boolean DEFAULT false,
	block_hash varchar(66),
	start_block_hash varchar(66),
	end_block_hash varchar(66),
	vault_address varchar(66)
);
CREATE INDEX IF NOT EXISTS idx_driver_events_sequence_index ON driver_events (sequence_index);
CREATE INDEX IF NOT EXISTS idx_driver_events_type ON driver_events (type);
CREATE INDEX IF NOT EXISTS idx_driver_events_is_processed ON driver_events (is_processed);
CREATE INDEX IF NOT EXISTS idx_driver_events_timestamp ON driver_events (timestamp);
CREATE INDEX IF NOT EXISTS idx_driver_events_block_hash ON driver_events (block_hash);
CREATE INDEX IF NOT EXISTS idx_driver_events_vault_address ON driver_events (vault_address);
-- pg-listen's drain query: unprocessed rows in (sequence_index, id) order.
CREATE INDEX IF NOT EXISTS idx_driver_events_pending ON driver_events (sequence_index, id)
	WHERE NOT is_processed;

-- The payload is rendered in UTC whatever the inserting session's TimeZone,
-- so that it is the same text pg-listen emits (function-level SET).
CREATE OR REPLACE FUNCTION notify_driver_event() RETURNS trigger AS $$
BEGIN
	PERFORM pg_notify('driver_events', json_build_object(
		'id', NEW.id,
		'sequence_index', NEW.sequence_index,
		'type', NEW.type,
		'timestamp', NEW.timestamp,
		'is_processed', NEW.is_processed,
		'block_hash', NEW.block_hash,
		'start_block_hash', NEW.start_block_hash,
		'end_block_hash', NEW.end_block_hash,
		'vault_address', NEW.vault_address)::text);
	RETURN NEW;
END;
$$ LANGUAGE plpgsql SET timezone = 'UTC';

DROP TRIGGER IF EXISTS driver_event_notify_trigger ON driver_events;
CREATE TRIGGER driver_event_notify_trigger
	AFTER INSERT ON driver_events
	FOR EACH ROW EXECUTE FUNCTION notify_driver_event();
