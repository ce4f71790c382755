-- 040-pipeline-search-path.sql -- a pipeline whose tables live in a
-- PostgreSQL schema of its own (erc8004: its "events" would collide with the
-- Juno plugin's public.events).  pg-listen, pg-write and pg-snapshot set
-- the session's search_path to this value on every connection they make
-- (pg-listen: on every reconnection too), so that the work table and the
-- state tables resolve unqualified while the bookkeeping (pl_checkpoint,
-- pl_journal, ...) stays in public.  NULL: the session's default.
-- Example: 'erc8004, public'.

ALTER TABLE pl_pipeline ADD COLUMN IF NOT EXISTS search_path text;
