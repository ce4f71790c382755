-- 025-shards.sql -- shards of a pipeline (issue 9 item 5, docs/scaling.md).
--
-- A shard is a pipeline of its own (its name keys its checkpoint, undo
-- journal, quarantine and advisory lock) that FOLLOWS another pipeline:
-- it reads the followed pipeline's work table (the registry row copies
-- it) but owns only the vaults whose address maps to its shard index, and
-- it writes into the followed pipeline's state tables (rows disjoint by
-- vault).  A work item concerns every shard, so the shared done flag
-- cannot say which shard is done: a shard's row has no done column, and
-- "a work table without a done column" means pg-listen reads the items
-- past the pipeline's own checkpoint, and pg-write marks nothing.

ALTER TABLE pl_pipeline ADD COLUMN IF NOT EXISTS follows text REFERENCES pl_pipeline (name);
ALTER TABLE pl_pipeline ADD COLUMN IF NOT EXISTS shard_index int;
ALTER TABLE pl_pipeline ADD COLUMN IF NOT EXISTS shard_count int;
ALTER TABLE pl_pipeline DROP CONSTRAINT IF EXISTS pl_pipeline_shard;
ALTER TABLE pl_pipeline ADD CONSTRAINT pl_pipeline_shard CHECK (
	num_nulls(follows, shard_index, shard_count) IN (0, 3)
	AND (shard_count IS NULL OR (shard_count >= 1 AND shard_index >= 0 AND shard_index < shard_count)));
-- (replaces 010's: the four work-table columns all or none; the done column
-- with them, except for a shard, which follows its checkpoint instead)
ALTER TABLE pl_pipeline DROP CONSTRAINT IF EXISTS pl_pipeline_work_all_or_none;
ALTER TABLE pl_pipeline ADD CONSTRAINT pl_pipeline_work_all_or_none CHECK (
	num_nulls(work_table, channel, order_columns, id_column) IN (0, 4)
	AND (done_column IS NULL) = (work_table IS NULL OR follows IS NOT NULL));

-- The shard of a vault among n: the low 60 bits of its address (the last
-- 15 hex digits; leading zeros and case do not matter) modulo n.  Starknet
-- addresses are hash outputs, so their low bits are uniform.  block-fetch
-- computes the same in C (dom/pitchlake/fetch.c: pgf_shard_of).
CREATE OR REPLACE FUNCTION pl_shard_of(address text, n int) RETURNS int
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT ((('x0' || right('000000000000000' || regexp_replace(lower(address), '^0x', ''), 15))::bit(64)::bigint
		% n))::int
$$;

-- Register shard k of n of pipeline parent (named parent-KofN); idempotent.
CREATE OR REPLACE FUNCTION pl_register_shard(parent text, k int, n int) RETURNS text
LANGUAGE sql AS $$
	INSERT INTO pl_pipeline (name, work_table, channel, order_columns, id_column, done_column,
		follows, shard_index, shard_count)
	SELECT parent || '-' || k || 'of' || n, work_table, channel, order_columns, id_column, NULL,
		parent, k, n
	FROM pl_pipeline WHERE name = parent
	ON CONFLICT (name) DO UPDATE SET follows = EXCLUDED.follows
	RETURNING name
$$;

-- Mark the items every shard of parent has applied (for the tools that
-- read the done flag); returns how many it marked.  Run it from cron or by
-- hand; nothing in the pipeline needs it.
CREATE OR REPLACE FUNCTION pl_shards_mark_done(parent text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	p pl_pipeline;
	lo record;
	n bigint;
BEGIN
	SELECT * INTO STRICT p FROM pl_pipeline WHERE name = parent;
	SELECT min(c.seq) AS seq, count(*) AS shards INTO lo
		FROM pl_pipeline s LEFT JOIN pl_checkpoint c ON c.pipeline = s.name WHERE s.follows = parent;
	IF lo.shards = 0 OR lo.seq IS NULL
		OR EXISTS (SELECT 1 FROM pl_pipeline s WHERE s.follows = parent
			AND NOT EXISTS (SELECT 1 FROM pl_checkpoint c WHERE c.pipeline = s.name)) THEN
		RETURN 0;
	END IF;
	EXECUTE format('UPDATE %I SET %I = true WHERE NOT %I AND %I < $1',
		p.work_table, p.done_column, p.done_column, p.order_columns[1]) USING lo.seq;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

-- Which vault a state row belongs to, for a shard's snapshot: a column of
-- the table, or of its snapshot view (pl_state_tables.snapshot_view), that
-- holds the vault's address.  NULL: the table is not split by vault.
ALTER TABLE pl_state_tables ADD COLUMN IF NOT EXISTS vault_column text;
UPDATE pl_state_tables SET vault_column = 'address'
	WHERE pipeline = 'pitchlake' AND table_name IN ('VaultStates', 'Vault_Historic');
UPDATE pl_state_tables SET vault_column = 'vault_address'
	WHERE pipeline = 'pitchlake' AND table_name IN ('Liquidity_Providers', 'Option_Rounds', 'pl_vault_cursor',
		'pl_lp_round_liquidity', 'Liquidity_Providers_Historic');

-- A round's journal entry may be in any pipeline that follows 'pitchlake'.
CREATE OR REPLACE FUNCTION pl_round_is_live(round varchar) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT NOT EXISTS (
		SELECT 1 FROM "Option_Rounds" r
		WHERE r.address = round AND r.state = 'Settled'
		AND NOT EXISTS (
			SELECT 1 FROM pl_journal j
			WHERE j.tbl = 'Option_Rounds'
			AND (j.pipeline = 'pitchlake' OR j.pipeline IN (SELECT name FROM pl_pipeline WHERE follows = 'pitchlake'))
			AND j.key::text = '{"address":"' || r.address || '"}'))
$$;

-- The round-keyed tables reach their vault through Option_Rounds: their
-- snapshot views become views with the column added (pg-snapshot selects
-- the table's columns; 005's views stay as they are).
CREATE OR REPLACE VIEW pl_shard_bids AS
	SELECT b.*, r.vault_address AS pl_vault_address FROM "Bids" b
	LEFT JOIN "Option_Rounds" r ON r.address = b.round_address
	WHERE pl_round_is_live(b.round_address);
CREATE OR REPLACE VIEW pl_shard_queued_liquidity AS
	SELECT q.*, r.vault_address AS pl_vault_address FROM "Queued_Liquidity" q
	LEFT JOIN "Option_Rounds" r ON r.address = q.round_address
	WHERE pl_round_is_live(q.round_address);
CREATE OR REPLACE VIEW pl_shard_option_buyers AS
	SELECT o.*, r.vault_address AS pl_vault_address FROM "Option_Buyers" o
	LEFT JOIN "Option_Rounds" r ON r.address = o.round_address;
UPDATE pl_state_tables SET snapshot_view = 'pl_shard_bids', vault_column = 'pl_vault_address'
	WHERE pipeline = 'pitchlake' AND table_name = 'Bids';
UPDATE pl_state_tables SET snapshot_view = 'pl_shard_queued_liquidity', vault_column = 'pl_vault_address'
	WHERE pipeline = 'pitchlake' AND table_name = 'Queued_Liquidity';
UPDATE pl_state_tables SET snapshot_view = 'pl_shard_option_buyers', vault_column = 'pl_vault_address'
	WHERE pipeline = 'pitchlake' AND table_name = 'Option_Buyers' AND snapshot_view IS NULL;
