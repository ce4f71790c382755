-- 060-archive-buyers.sql -- done option buyers leave the snapshot, as 005's
-- bids and queued withdrawals of final rounds do.
--
-- After its round's auction an "Option_Buyers" row can change only by
-- has_minted and has_refunded going from false to true (OptionsMinted,
-- OptionsExercised, UnusedBidsRefunded; pitchlake-spec.md §6.4).  With both
-- set no event can change it again, so once its last change is final (the
-- row has no entry in the undo journal) ep-apply drops it from memory
-- (common/dom/pitchlake/tables.c, buyer_is_done); it stays in the table for
-- the backends.  pg-snapshot reads the table through the view
-- pl_shard_option_buyers (sql/025), which now leaves out exactly those rows.
-- Idempotent; no transaction control (scripts/pl-migrate wraps each file).

-- "Can this buyer row still change?": a flag is unset, or its last change is
-- in the journal (of 'pitchlake' or of a pipeline that follows it: sql/025).
CREATE OR REPLACE FUNCTION pl_buyer_is_live(buyer varchar, round varchar, has_minted boolean, has_refunded boolean)
RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT NOT (has_minted AND has_refunded) OR EXISTS (
		SELECT 1 FROM pl_journal j
		WHERE j.tbl = 'Option_Buyers'
		AND (j.pipeline = 'pitchlake' OR j.pipeline IN (SELECT name FROM pl_pipeline WHERE follows = 'pitchlake'))
		AND j.key::text = '{"address":"' || buyer || '","round_address":"' || round || '"}')
$$;

-- The same columns as sql/025's view, now without the done rows.
CREATE OR REPLACE VIEW pl_shard_option_buyers AS
	SELECT o.*, r.vault_address AS pl_vault_address FROM "Option_Buyers" o
	LEFT JOIN "Option_Rounds" r ON r.address = o.round_address
	WHERE pl_buyer_is_live(o.address, o.round_address, o.has_minted, o.has_refunded);
UPDATE pl_state_tables SET snapshot_view = 'pl_shard_option_buyers', vault_column = 'pl_vault_address'
	WHERE pipeline = 'pitchlake' AND table_name = 'Option_Buyers' AND snapshot_view IS NULL;
