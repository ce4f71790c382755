-- 061-archive-rounds.sql -- settled rounds whose settlement is final leave
-- the snapshot themselves, not only their bids and queued withdrawals (005).
--
-- A settled round's row can never change again, and once the settlement has
-- left the undo journal it cannot be reverted either: ep-apply drops it from
-- memory together with its bids and queued withdrawals (tables.c,
-- archive_round).  Mints, refunds and exercises name such a round for ever
-- after; ep-apply then changes the round's buyer rows still in memory
-- without the round's own checks (events.c, on_buyer_flag).  The row stays
-- in the table for the backends; pg-snapshot reads the table through this
-- view, which leaves out exactly the same rows (pl_round_is_live: 005, 025).
-- Idempotent; no transaction control (scripts/pl-migrate wraps each file).

CREATE OR REPLACE VIEW pl_snapshot_option_rounds AS
	SELECT * FROM "Option_Rounds" WHERE pl_round_is_live(address);
UPDATE pl_state_tables SET snapshot_view = 'pl_snapshot_option_rounds'
	WHERE pipeline = 'pitchlake' AND table_name = 'Option_Rounds' AND snapshot_view IS NULL;
