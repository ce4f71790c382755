-- 006-journal-fast.sql -- a cheaper undo journal for pg-write.
--
-- Measured (BENCH.md, pg_stat_statements): journal inserts and pruning were
-- most of pg-write's backend time in catch-up -- the foreign-key check, the
-- json input check, and a prune that joined the churned journal tables.
-- pg-write now deletes a block's entries itself (revert and prune, by block
-- number, once per transaction), so the foreign key goes; key and before
-- stay exact text.
ALTER TABLE pl_journal DROP CONSTRAINT IF EXISTS pl_journal_block_hash_fkey;
ALTER TABLE pl_journal ALTER COLUMN key TYPE text, ALTER COLUMN before TYPE text;
ALTER TABLE pl_journal ADD COLUMN IF NOT EXISTS block_number numeric(78,0);
UPDATE pl_journal j SET block_number = b.block_number
	FROM pl_journal_block b WHERE j.block_hash = b.block_hash AND j.block_number IS NULL;
CREATE INDEX IF NOT EXISTS pl_journal_number ON pl_journal (block_number);
CREATE INDEX IF NOT EXISTS pl_journal_block_number ON pl_journal_block (block_number);
-- The archive views only look up Option_Rounds entries: a partial index
-- instead of one maintained on every journal insert.
DROP INDEX IF EXISTS pl_journal_tbl_key;
CREATE INDEX IF NOT EXISTS pl_journal_rounds ON pl_journal ((key::text)) WHERE tbl = 'Option_Rounds';
