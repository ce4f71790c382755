-- tests/counter/schema.sql -- the counter pipeline (tests/counter/counter.c)
-- beside Pitchlake in the same database: its work table and channel, its
-- state tables, and their registration.  Apply after scripts/pl-migrate.

-- The work items: one block each (StartBlock: one event) or a revert.
CREATE TABLE IF NOT EXISTS counter_work (
	id bigserial PRIMARY KEY,
	seq bigint NOT NULL,
	type text NOT NULL CHECK (type IN ('StartBlock', 'RevertBlock')),
	block_number bigint NOT NULL,
	block_hash text NOT NULL,
	key text,
	amount text,
	reset boolean NOT NULL DEFAULT false,
	done boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS counter_work_pending ON counter_work (seq, id) WHERE NOT done;

CREATE OR REPLACE FUNCTION counter_work_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('counter_work', NEW.id::text);
	RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS counter_work_notify ON counter_work;
CREATE TRIGGER counter_work_notify AFTER INSERT ON counter_work
	FOR EACH ROW EXECUTE FUNCTION counter_work_notify();

CREATE TABLE IF NOT EXISTS counter_totals (
	key varchar PRIMARY KEY,
	count numeric(20,0) NOT NULL,
	sum numeric(78,0) NOT NULL,
	latest_block numeric(20,0) NOT NULL
);
CREATE TABLE IF NOT EXISTS counter_history (
	key varchar NOT NULL,
	block_number numeric(20,0) NOT NULL,
	count numeric(20,0) NOT NULL,
	sum numeric(78,0) NOT NULL,
	PRIMARY KEY (key, block_number)
);

INSERT INTO pl_pipeline (name, work_table, channel, order_columns, id_column, done_column)
	VALUES ('counter', 'counter_work', 'counter_work', '{seq,id}', 'id', 'done')
	ON CONFLICT DO NOTHING;
INSERT INTO pl_state_tables (table_name, pipeline, append_only)
	VALUES ('counter_totals', 'counter', false), ('counter_history', 'counter', true)
	ON CONFLICT DO NOTHING;
