-- 008-amount-checks.sql -- no amount, balance or count of the Pitchlake state
-- tables (002-state.sql) is ever negative: CHECK (col >= 0) on every numeric
-- column of those tables except "VaultStates".strike_level, the one signed
-- value (a Cairo i128).  All the others are unsigned on the chain (u256,
-- u128, u64: balances, liquidity, prices, option counts, bps, ids, block
-- numbers, dates, durations), so a negative one can only be corruption.
--
-- pg-write is generic and cannot know which numeric column may be negative;
-- the database can: a frame that would store a negative amount fails with
-- SQLSTATE 23514 (check_violation), which pg-write reports as a broken
-- invariant (exit 65, a pl_quarantine row naming the constraint).  NULL
-- passes, as before.
--
-- Each constraint is "<table>_<column>_nonneg".  Added NOT VALID and then
-- validated, so that the file works on a database with rows (existing rows
-- are checked by VALIDATE; a negative one makes the migration fail and roll
-- back, naming the constraint), and dropped first, so that it is idempotent.

DO $$
DECLARE
	c record;
	con text;
BEGIN
	FOR c IN SELECT * FROM (VALUES
		('VaultStates', 'unlocked_balance'),
		('VaultStates', 'locked_balance'),
		('VaultStates', 'stashed_balance'),
		('VaultStates', 'current_round'),
		('VaultStates', 'latest_block'),
		('VaultStates', 'alpha'),
		-- not strike_level: a signed i128
		('VaultStates', 'round_transition_period'),
		('VaultStates', 'auction_duration'),
		('VaultStates', 'round_duration'),
		('VaultStates', 'deployment_date'),
		('Vault_Historic', 'unlocked_balance'),
		('Vault_Historic', 'locked_balance'),
		('Vault_Historic', 'stashed_balance'),
		('Vault_Historic', 'block_number'),
		('Liquidity_Providers', 'stashed_balance'),
		('Liquidity_Providers', 'locked_balance'),
		('Liquidity_Providers', 'unlocked_balance'),
		('Liquidity_Providers', 'latest_block'),
		('Liquidity_Providers_Historic', 'stashed_balance'),
		('Liquidity_Providers_Historic', 'locked_balance'),
		('Liquidity_Providers_Historic', 'unlocked_balance'),
		('Liquidity_Providers_Historic', 'block_number'),
		('Option_Rounds', 'round_id'),
		('Option_Rounds', 'available_options'),
		('Option_Rounds', 'starting_liquidity'),
		('Option_Rounds', 'queued_liquidity'),
		('Option_Rounds', 'remaining_liquidity'),
		('Option_Rounds', 'unsold_liquidity'),
		('Option_Rounds', 'clearing_price'),
		('Option_Rounds', 'settlement_price'),
		('Option_Rounds', 'reserve_price'),
		('Option_Rounds', 'strike_price'),
		('Option_Rounds', 'cap_level'),
		('Option_Rounds', 'sold_options'),
		('Option_Rounds', 'premiums'),
		('Option_Rounds', 'payout_per_option'),
		('Option_Rounds', 'start_date'),
		('Option_Rounds', 'end_date'),
		('Option_Rounds', 'settlement_date'),
		('Option_Rounds', 'deployment_date'),
		('Queued_Liquidity', 'queued_liquidity'),
		('Queued_Liquidity', 'bps'),
		('Option_Buyers', 'mintable_options'),
		('Option_Buyers', 'refundable_amount'),
		('Bids', 'tree_nonce'),
		('Bids', 'amount'),
		('Bids', 'price')
	) AS v(tbl, col) LOOP
		con := c.tbl || '_' || c.col || '_nonneg';
		EXECUTE format('ALTER TABLE %I DROP CONSTRAINT IF EXISTS %I', c.tbl, con);
		EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I >= 0) NOT VALID', c.tbl, con, c.col);
		EXECUTE format('ALTER TABLE %I VALIDATE CONSTRAINT %I', c.tbl, con);
	END LOOP;
END
$$;
