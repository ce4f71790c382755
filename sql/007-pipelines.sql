-- 007-pipelines.sql -- every piece of the processor's bookkeeping is keyed by
-- a pipeline name, so that several pipelines (domains, or vault shards of
-- one domain) share a database without seeing each other's rows.
--
-- pl_pipeline is the registry: a pipeline's work table (what pg-listen
-- drains and pg-write marks done) and its NOTIFY channel.  The checkpoint,
-- the undo journal, the quarantine and the registry of state tables gain a
-- pipeline column; the rows of the one pipeline that existed so far move to
-- 'pitchlake'.  The advisory lock of pg-write is derived from the name.

CREATE TABLE IF NOT EXISTS pl_pipeline (
	name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
	-- the work items: one row each, in the order of order_columns
	work_table text NOT NULL,
	-- the channel the work table's insert trigger NOTIFYs (only wakes pg-listen)
	channel text NOT NULL,
	-- bigint-valued columns giving the items' total order; the last is unique
	order_columns text[] NOT NULL CHECK (cardinality(order_columns) BETWEEN 1 AND 4),
	-- the item's id: the frames' driver_id
	id_column text NOT NULL,
	-- boolean: the item has been applied (pg-write sets it in the item's transaction)
	done_column text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO pl_pipeline (name, work_table, channel, order_columns, id_column, done_column)
	VALUES ('pitchlake', 'driver_events', 'driver_events', '{sequence_index,id}', 'id', 'is_processed')
	ON CONFLICT DO NOTHING;

-- The checkpoint: one row per pipeline.
ALTER TABLE pl_checkpoint ADD COLUMN IF NOT EXISTS pipeline text;
UPDATE pl_checkpoint SET pipeline = 'pitchlake' WHERE pipeline IS NULL;
ALTER TABLE pl_checkpoint DROP COLUMN IF EXISTS id;
ALTER TABLE pl_checkpoint ALTER COLUMN pipeline SET NOT NULL;
-- (drop-then-add keeps the file idempotent)
ALTER TABLE pl_checkpoint DROP CONSTRAINT IF EXISTS pl_checkpoint_pkey;
ALTER TABLE pl_checkpoint ADD CONSTRAINT pl_checkpoint_pkey PRIMARY KEY (pipeline);
ALTER TABLE pl_checkpoint DROP CONSTRAINT IF EXISTS pl_checkpoint_pipeline_fkey;
ALTER TABLE pl_checkpoint ADD CONSTRAINT pl_checkpoint_pipeline_fkey FOREIGN KEY (pipeline) REFERENCES pl_pipeline;

-- The undo journal.
ALTER TABLE pl_journal_block ADD COLUMN IF NOT EXISTS pipeline text;
UPDATE pl_journal_block SET pipeline = 'pitchlake' WHERE pipeline IS NULL;
ALTER TABLE pl_journal_block ALTER COLUMN pipeline SET NOT NULL;
ALTER TABLE pl_journal_block DROP CONSTRAINT IF EXISTS pl_journal_block_pkey;
ALTER TABLE pl_journal_block ADD CONSTRAINT pl_journal_block_pkey PRIMARY KEY (pipeline, block_hash);
DROP INDEX IF EXISTS pl_journal_block_number;
CREATE INDEX IF NOT EXISTS pl_journal_block_pipeline_number ON pl_journal_block (pipeline, block_number);

ALTER TABLE pl_journal ADD COLUMN IF NOT EXISTS pipeline text;
UPDATE pl_journal SET pipeline = 'pitchlake' WHERE pipeline IS NULL;
ALTER TABLE pl_journal ALTER COLUMN pipeline SET NOT NULL;
DROP INDEX IF EXISTS pl_journal_block_hash;
DROP INDEX IF EXISTS pl_journal_number;
CREATE INDEX IF NOT EXISTS pl_journal_pipeline_hash ON pl_journal (pipeline, block_hash, id);
CREATE INDEX IF NOT EXISTS pl_journal_pipeline_number ON pl_journal (pipeline, block_number);

-- Quarantine: the pipeline whose stage refused the input, and the kind of
-- refusal (frame/frame.h: syntax, framing, invariant, revert, missing, schema).
ALTER TABLE pl_quarantine ADD COLUMN IF NOT EXISTS pipeline text;
ALTER TABLE pl_quarantine ADD COLUMN IF NOT EXISTS kind text;
UPDATE pl_quarantine SET pipeline = 'pitchlake' WHERE pipeline IS NULL;
CREATE INDEX IF NOT EXISTS pl_quarantine_pipeline ON pl_quarantine (pipeline, id);

-- The state tables a pipeline owns (a table has one owner).  append_only:
-- history tables, whose rows are only added (and removed again by
-- reverts); the apply filter never reads them back, so snapshots leave
-- them out.
ALTER TABLE pl_state_tables ADD COLUMN IF NOT EXISTS pipeline text REFERENCES pl_pipeline;
ALTER TABLE pl_state_tables ADD COLUMN IF NOT EXISTS append_only boolean NOT NULL DEFAULT false;
UPDATE pl_state_tables SET pipeline = 'pitchlake' WHERE pipeline IS NULL;
UPDATE pl_state_tables SET append_only = true
	WHERE pipeline = 'pitchlake' AND table_name IN ('Vault_Historic', 'Liquidity_Providers_Historic');
ALTER TABLE pl_state_tables ALTER COLUMN pipeline SET NOT NULL;

-- The archive views (005) ask the Pitchlake pipeline's journal.
CREATE OR REPLACE FUNCTION pl_round_is_live(round varchar) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT NOT EXISTS (
		SELECT 1 FROM "Option_Rounds" r
		WHERE r.address = round AND r.state = 'Settled'
		AND NOT EXISTS (
			SELECT 1 FROM pl_journal j
			WHERE j.tbl = 'Option_Rounds' AND j.pipeline = 'pitchlake'
			AND j.key::text = '{"address":"' || r.address || '"}'))
$$;
