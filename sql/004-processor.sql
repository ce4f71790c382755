-- 004-processor.sql -- the processor's own bookkeeping tables: checkpoint,
-- undo journal, quarantine, ep-apply's auxiliary state, and the registry of
-- tables ep-apply owns (read by pg-snapshot and pg-write, which know no
-- Pitchlake).  Idempotent; no transaction control (pl-migrate wraps it).

-- The last driver event applied (one row, written by pg-write).
CREATE TABLE IF NOT EXISTS pl_checkpoint (
	id int PRIMARY KEY CHECK (id = 1),
	driver_id bigint NOT NULL,
	seq bigint NOT NULL,
	finalized bigint NOT NULL DEFAULT 0,
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- Undo journal: one row per journaled block (ord = journaling order) and its
-- before-images.  json, not jsonb, so that key and before keep their text
-- byte for byte.
CREATE TABLE IF NOT EXISTS pl_journal_block (
	block_hash varchar(66) PRIMARY KEY,
	block_number numeric(78,0) NOT NULL,
	ord bigserial UNIQUE
);
CREATE TABLE IF NOT EXISTS pl_journal (
	id bigserial PRIMARY KEY,
	block_hash varchar(66) NOT NULL REFERENCES pl_journal_block ON DELETE CASCADE,
	tbl text NOT NULL,
	key json NOT NULL,
	before json
);
CREATE INDEX IF NOT EXISTS pl_journal_block_hash ON pl_journal (block_hash, id);

-- Poison input recorded by the program that stopped on it.
CREATE TABLE IF NOT EXISTS pl_quarantine (
	id bigserial PRIMARY KEY,
	driver_id bigint,
	seq bigint,
	program text NOT NULL,
	reason text NOT NULL,
	frame text,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- ep-apply: highest block whose events of the vault have been applied.
CREATE TABLE IF NOT EXISTS pl_vault_cursor (
	vault_address varchar PRIMARY KEY,
	block_number numeric(78,0) NOT NULL
);

-- ep-apply: an LP's liquidity at the start of the vault's current auction.
CREATE TABLE IF NOT EXISTS pl_lp_round_liquidity (
	address varchar NOT NULL,
	vault_address varchar NOT NULL,
	round_address varchar NOT NULL,
	starting_liquidity numeric(78,0) NOT NULL,
	PRIMARY KEY (address, vault_address)
);

-- The tables whose rows ep-apply owns (snapshot and delta frames).
CREATE TABLE IF NOT EXISTS pl_state_tables (
	table_name text PRIMARY KEY
);
-- (NOT EXISTS rather than ON CONFLICT: re-running this file after 007,
-- which makes pipeline NOT NULL, must insert nothing rather than fail.)
INSERT INTO pl_state_tables (table_name)
	SELECT t FROM (VALUES
		('VaultStates'), ('Vault_Historic'), ('Liquidity_Providers'),
		('Liquidity_Providers_Historic'), ('Option_Rounds'), ('Queued_Liquidity'),
		('Option_Buyers'), ('Bids'), ('pl_vault_cursor'), ('pl_lp_round_liquidity')) v(t)
	WHERE NOT EXISTS (SELECT 1 FROM pl_state_tables s WHERE s.table_name = v.t);
