-- 005-archive.sql -- which rows are live state and which are history.
--
-- ep-apply keeps in memory only what can still change: once a round is
-- settled and no longer in the undo journal (its settlement is final), its
-- bids and queued withdrawals can never be touched again, so ep-apply drops
-- them (they stay in the tables for the backends).  The snapshot of the
-- database must leave out exactly the same rows, so pg-snapshot reads such
-- a table through the view named in pl_state_tables.snapshot_view (a view
-- with the table's columns); pg-snapshot itself stays generic.

ALTER TABLE pl_state_tables ADD COLUMN IF NOT EXISTS snapshot_view text;

-- "Is this round still live?": not settled, or settled within the journal.
CREATE INDEX IF NOT EXISTS pl_journal_tbl_key ON pl_journal (tbl, (key::text));

CREATE OR REPLACE FUNCTION pl_round_is_live(round varchar) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT NOT EXISTS (
		SELECT 1 FROM "Option_Rounds" r
		WHERE r.address = round AND r.state = 'Settled'
		AND NOT EXISTS (
			SELECT 1 FROM pl_journal j
			WHERE j.tbl = 'Option_Rounds'
			AND j.key::text = '{"address":"' || r.address || '"}'))
$$;

CREATE OR REPLACE VIEW pl_snapshot_bids AS
	SELECT * FROM "Bids" WHERE pl_round_is_live(round_address);
CREATE OR REPLACE VIEW pl_snapshot_queued_liquidity AS
	SELECT * FROM "Queued_Liquidity" WHERE pl_round_is_live(round_address);

UPDATE pl_state_tables SET snapshot_view = 'pl_snapshot_bids' WHERE table_name = 'Bids';
UPDATE pl_state_tables SET snapshot_view = 'pl_snapshot_queued_liquidity' WHERE table_name = 'Queued_Liquidity';
