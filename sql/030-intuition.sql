-- 030-intuition.sql -- the Intuition MultiVault tables (issue 11), with the
-- original's names and columns (0xIntuition/research-surreal,
-- postgres-writer/migrations), written by ix-apply through pg-write in one
-- transaction per stream message: the event tables, the base tables atom,
-- triple, position, vault, term and the analytics tables triple_vault,
-- triple_term, predicate_object, subject_predicate.  No triggers and no
-- second transaction: ix-apply computes every row (docs/intuition.md).
--
-- Differences from the original: no wall-clock created_at/updated_at
-- columns (replays must be byte-identical); addresses are lowercase hex
-- (not EIP-55 mixed case); block_timestamp is the block's Unix time (0 when
-- rindexer sent null); u64 columns are numeric(20,0), amounts numeric(78,0).

CREATE TABLE IF NOT EXISTS atom_created_events (
	transaction_hash varchar NOT NULL, log_index numeric(20,0) NOT NULL,
	address varchar NOT NULL, block_hash varchar, block_number numeric(20,0) NOT NULL, network text NOT NULL,
	transaction_index numeric(20,0) NOT NULL, block_timestamp numeric(20,0) NOT NULL,
	atom_data text, raw_data text NOT NULL, atom_wallet varchar NOT NULL, creator varchar NOT NULL, term_id varchar NOT NULL,
	PRIMARY KEY (transaction_hash, log_index));
CREATE TABLE IF NOT EXISTS triple_created_events (
	transaction_hash varchar NOT NULL, log_index numeric(20,0) NOT NULL,
	address varchar NOT NULL, block_hash varchar, block_number numeric(20,0) NOT NULL, network text NOT NULL,
	transaction_index numeric(20,0) NOT NULL, block_timestamp numeric(20,0) NOT NULL,
	creator varchar NOT NULL, object_id varchar NOT NULL, predicate_id varchar NOT NULL, subject_id varchar NOT NULL,
	term_id varchar NOT NULL, counter_term_id varchar NOT NULL,
	PRIMARY KEY (transaction_hash, log_index));
CREATE TABLE IF NOT EXISTS deposited_events (
	transaction_hash varchar NOT NULL, log_index numeric(20,0) NOT NULL,
	address varchar NOT NULL, block_hash varchar, block_number numeric(20,0) NOT NULL, network text NOT NULL,
	transaction_index numeric(20,0) NOT NULL, block_timestamp numeric(20,0) NOT NULL,
	assets numeric(78,0) NOT NULL, assets_after_fees numeric(78,0) NOT NULL, curve_id numeric(20,0) NOT NULL,
	receiver varchar NOT NULL, sender varchar NOT NULL, shares numeric(78,0) NOT NULL, term_id varchar NOT NULL,
	total_shares numeric(78,0) NOT NULL, vault_type text NOT NULL,
	PRIMARY KEY (transaction_hash, log_index));
CREATE TABLE IF NOT EXISTS redeemed_events (
	transaction_hash varchar NOT NULL, log_index numeric(20,0) NOT NULL,
	address varchar NOT NULL, block_hash varchar, block_number numeric(20,0) NOT NULL, network text NOT NULL,
	transaction_index numeric(20,0) NOT NULL, block_timestamp numeric(20,0) NOT NULL,
	assets numeric(78,0) NOT NULL, curve_id numeric(20,0) NOT NULL, fees numeric(78,0) NOT NULL,
	receiver varchar NOT NULL, sender varchar NOT NULL, shares numeric(78,0) NOT NULL, term_id varchar NOT NULL,
	total_shares numeric(78,0) NOT NULL, vault_type text NOT NULL,
	PRIMARY KEY (transaction_hash, log_index));
CREATE TABLE IF NOT EXISTS share_price_changed_events (
	transaction_hash varchar NOT NULL, log_index numeric(20,0) NOT NULL,
	address varchar NOT NULL, block_hash varchar, block_number numeric(20,0) NOT NULL, network text NOT NULL,
	transaction_index numeric(20,0) NOT NULL, block_timestamp numeric(20,0) NOT NULL,
	term_id varchar NOT NULL, curve_id numeric(20,0) NOT NULL, share_price numeric(78,0) NOT NULL,
	total_assets numeric(78,0) NOT NULL, total_shares numeric(78,0) NOT NULL, vault_type text NOT NULL,
	PRIMARY KEY (transaction_hash, log_index));
CREATE TABLE IF NOT EXISTS generic_events (
	transaction_hash varchar NOT NULL, log_index numeric(20,0) NOT NULL,
	address varchar NOT NULL, block_hash varchar, block_number numeric(20,0) NOT NULL, network text NOT NULL,
	transaction_index numeric(20,0) NOT NULL, block_timestamp numeric(20,0) NOT NULL,
	event_name text NOT NULL, event_data text NOT NULL,
	PRIMARY KEY (transaction_hash, log_index));

CREATE TABLE IF NOT EXISTS atom (
	term_id varchar PRIMARY KEY, wallet_id varchar NOT NULL, creator_id varchar NOT NULL,
	data text, raw_data text NOT NULL, type text NOT NULL, emoji text, label text, image text, value_id varchar,
	resolving_status text NOT NULL, block_number numeric(20,0) NOT NULL, transaction_hash varchar NOT NULL,
	last_event_block numeric(20,0) NOT NULL, last_event_log_index numeric(20,0) NOT NULL);
CREATE TABLE IF NOT EXISTS triple (
	term_id varchar PRIMARY KEY, creator_id varchar NOT NULL, subject_id varchar NOT NULL,
	predicate_id varchar NOT NULL, object_id varchar NOT NULL, counter_term_id varchar NOT NULL,
	block_number numeric(20,0) NOT NULL, transaction_hash varchar NOT NULL,
	last_event_block numeric(20,0) NOT NULL, last_event_log_index numeric(20,0) NOT NULL);
CREATE TABLE IF NOT EXISTS position (
	account_id varchar NOT NULL, term_id varchar NOT NULL, curve_id numeric(20,0) NOT NULL,
	shares numeric(78,0) NOT NULL, total_deposit_assets_after_total_fees numeric(78,0) NOT NULL,
	total_redeem_assets_for_receiver numeric(78,0) NOT NULL,
	last_shares_event_block numeric(20,0) NOT NULL, last_shares_event_log_index numeric(20,0) NOT NULL,
	last_deposit_block numeric(20,0) NOT NULL, last_deposit_log_index numeric(20,0) NOT NULL,
	last_redeem_block numeric(20,0) NOT NULL, last_redeem_log_index numeric(20,0) NOT NULL,
	PRIMARY KEY (account_id, term_id, curve_id));
CREATE TABLE IF NOT EXISTS vault (
	term_id varchar NOT NULL, curve_id numeric(20,0) NOT NULL,
	total_shares numeric(78,0) NOT NULL, current_share_price numeric(78,0) NOT NULL,
	total_assets numeric(78,0) NOT NULL, market_cap numeric(78,0) NOT NULL,
	position_count numeric(20,0) NOT NULL, vault_type text NOT NULL,
	last_price_event_block numeric(20,0) NOT NULL, last_price_event_log_index numeric(20,0) NOT NULL,
	PRIMARY KEY (term_id, curve_id));
CREATE TABLE IF NOT EXISTS term (
	id varchar PRIMARY KEY, type text NOT NULL, atom_id varchar, triple_id varchar,
	total_assets numeric(78,0) NOT NULL, total_market_cap numeric(78,0) NOT NULL);
CREATE TABLE IF NOT EXISTS triple_vault (
	term_id varchar NOT NULL, counter_term_id varchar NOT NULL, curve_id numeric(20,0) NOT NULL,
	total_shares numeric(78,0) NOT NULL, total_assets numeric(78,0) NOT NULL,
	position_count numeric(20,0) NOT NULL, market_cap numeric(78,0) NOT NULL,
	PRIMARY KEY (term_id, counter_term_id, curve_id));
CREATE TABLE IF NOT EXISTS triple_term (
	term_id varchar NOT NULL, counter_term_id varchar NOT NULL,
	total_assets numeric(78,0) NOT NULL, total_market_cap numeric(78,0) NOT NULL,
	total_position_count numeric(20,0) NOT NULL,
	PRIMARY KEY (term_id, counter_term_id));
CREATE TABLE IF NOT EXISTS predicate_object (
	predicate_id varchar NOT NULL, object_id varchar NOT NULL, triple_count numeric(20,0) NOT NULL,
	total_position_count numeric(20,0) NOT NULL, total_market_cap numeric(78,0) NOT NULL,
	PRIMARY KEY (predicate_id, object_id));
CREATE TABLE IF NOT EXISTS subject_predicate (
	subject_id varchar NOT NULL, predicate_id varchar NOT NULL, triple_count numeric(20,0) NOT NULL,
	total_position_count numeric(20,0) NOT NULL, total_market_cap numeric(78,0) NOT NULL,
	PRIMARY KEY (subject_id, predicate_id));

-- The pipeline: no work table (sql/010); redis-read's frames carry the
-- stream message ids, the checkpoint records the last one applied.
INSERT INTO pl_pipeline (name) VALUES ('intuition') ON CONFLICT DO NOTHING;
INSERT INTO pl_state_tables (table_name, pipeline, append_only) VALUES
	('atom', 'intuition', false), ('atom_created_events', 'intuition', false),
	('deposited_events', 'intuition', false), ('generic_events', 'intuition', false),
	('position', 'intuition', false), ('predicate_object', 'intuition', false),
	('redeemed_events', 'intuition', false), ('share_price_changed_events', 'intuition', false),
	('subject_predicate', 'intuition', false), ('term', 'intuition', false), ('triple', 'intuition', false),
	('triple_created_events', 'intuition', false), ('triple_term', 'intuition', false),
	('triple_vault', 'intuition', false), ('vault', 'intuition', false)
	ON CONFLICT DO NOTHING;

-- An event row is live state (in ix-apply's memory and snapshot) while its
-- block is in the undo journal, i.e. above the checkpoint's finalized
-- height; older ones are final history, kept here only.
CREATE OR REPLACE FUNCTION ix_finalized() RETURNS numeric
LANGUAGE sql STABLE AS $$
	SELECT coalesce((SELECT finalized FROM pl_checkpoint WHERE pipeline = 'intuition'), -1)::numeric
$$;
CREATE OR REPLACE VIEW ix_snapshot_atom_created_events AS
	SELECT * FROM atom_created_events WHERE block_number > ix_finalized();
CREATE OR REPLACE VIEW ix_snapshot_triple_created_events AS
	SELECT * FROM triple_created_events WHERE block_number > ix_finalized();
CREATE OR REPLACE VIEW ix_snapshot_deposited_events AS
	SELECT * FROM deposited_events WHERE block_number > ix_finalized();
CREATE OR REPLACE VIEW ix_snapshot_redeemed_events AS
	SELECT * FROM redeemed_events WHERE block_number > ix_finalized();
CREATE OR REPLACE VIEW ix_snapshot_share_price_changed_events AS
	SELECT * FROM share_price_changed_events WHERE block_number > ix_finalized();
CREATE OR REPLACE VIEW ix_snapshot_generic_events AS
	SELECT * FROM generic_events WHERE block_number > ix_finalized();
UPDATE pl_state_tables SET snapshot_view = 'ix_snapshot_' || table_name
	WHERE pipeline = 'intuition' AND table_name LIKE '%\_events';
