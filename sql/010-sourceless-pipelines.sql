-- 010-sourceless-pipelines.sql -- a pipeline whose work items do not come
-- from a work table of this database (a Redis stream, a JSON-RPC node): its
-- registry row has no work table, channel, order, id or done column, and
-- pg-write marks nothing; the checkpoint (pl_checkpoint) alone records
-- what has been applied.  Either all five columns are set or none is.

ALTER TABLE pl_pipeline ALTER COLUMN work_table DROP NOT NULL;
ALTER TABLE pl_pipeline ALTER COLUMN channel DROP NOT NULL;
ALTER TABLE pl_pipeline ALTER COLUMN order_columns DROP NOT NULL;
ALTER TABLE pl_pipeline ALTER COLUMN id_column DROP NOT NULL;
ALTER TABLE pl_pipeline ALTER COLUMN done_column DROP NOT NULL;
ALTER TABLE pl_pipeline DROP CONSTRAINT IF EXISTS pl_pipeline_work_all_or_none;
ALTER TABLE pl_pipeline ADD CONSTRAINT pl_pipeline_work_all_or_none CHECK (
	num_nulls(work_table, channel, order_columns, id_column, done_column) IN (0, 5));
