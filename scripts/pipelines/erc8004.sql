-- scripts/pipelines/erc8004.sql -- register the erc8004 pipeline
-- (docs/erc8004.md) in a database migrated by pl-migrate (sql/040, sql/041):
--   psql -f scripts/pipelines/erc8004.sql
-- Idempotent.  Not a migration, because with two pipelines registered every
-- program of the database needs --pipeline (or PL_PIPELINE).
INSERT INTO pl_pipeline (name, work_table, channel, order_columns, id_column, done_column, search_path)
	VALUES ('erc8004', 'work_items', 'new_event', '{seq}', 'seq', 'processed', 'erc8004, public')
	ON CONFLICT DO NOTHING;
INSERT INTO pl_state_tables (table_name, pipeline, append_only, snapshot_view)
	VALUES ('checkpoints', 'erc8004', false, NULL), ('rule_triggers', 'erc8004', false, NULL),
		('rule_conditions', 'erc8004', false, NULL), ('rule_actions', 'erc8004', false, NULL),
		('trigger_state', 'erc8004', false, NULL), ('skipped_events', 'erc8004', false, NULL), ('jobs', 'erc8004', false, 'jobs_live')
	ON CONFLICT DO NOTHING;
