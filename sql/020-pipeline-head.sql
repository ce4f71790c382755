-- 020-pipeline-head.sql -- where a pipeline's chain head can be read, so that
-- pl-status can report the lag in blocks (docs/status.md): the highest value
-- of head_column in head_table (both identifiers, quoted by pl-status; a
-- bigint or numeric column of block numbers).  NULL: the database does not
-- know the head (a Redis or JSON-RPC source reports it in its stats file).
ALTER TABLE pl_pipeline ADD COLUMN IF NOT EXISTS head_table text;
ALTER TABLE pl_pipeline ADD COLUMN IF NOT EXISTS head_column text;
ALTER TABLE pl_pipeline DROP CONSTRAINT IF EXISTS pl_pipeline_head_both;
ALTER TABLE pl_pipeline ADD CONSTRAINT pl_pipeline_head_both CHECK (num_nulls(head_table, head_column) IN (0, 2));
-- Pitchlake: the producer's blocks.
UPDATE pl_pipeline SET head_table = 'starknet_blocks', head_column = 'block_number'
	WHERE name = 'pitchlake' AND head_table IS NULL;
