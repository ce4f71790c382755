-- 002-state.sql -- the processor's state tables (pitchlake-spec.md 3.1), with
-- the original quoted names, column order and primary-key constraint names.
-- Every amount is numeric(78,0) (a uint256 has 78 decimal digits; the type
-- also holds the negative strike_level of a Cairo i128).  Written only by
-- pg-write from ep-apply's delta frames; read by the websocket backends.
-- Idempotent; no transaction control (scripts/pl-migrate wraps each file).

CREATE TABLE IF NOT EXISTS "VaultStates" (
	address varchar NOT NULL,
	unlocked_balance numeric(78,0),
	locked_balance numeric(78,0),
	stashed_balance numeric(78,0),
	current_round numeric(78,0),
	current_round_address varchar,
	latest_block numeric(78,0),
	fossil_client_address varchar,
	eth_address varchar,
	option_round_class_hash varchar,
	alpha numeric(78,0),
	strike_level numeric(78,0),
	round_transition_period numeric(78,0),
	auction_duration numeric(78,0),
	round_duration numeric(78,0),
	deployment_date numeric(78,0),
	CONSTRAINT "VaultState_pkey" PRIMARY KEY (address)
);

CREATE TABLE IF NOT EXISTS "Vault_Historic" (
	unlocked_balance numeric(78,0),
	locked_balance numeric(78,0),
	stashed_balance numeric(78,0),
	address varchar NOT NULL,
	block_number numeric(78,0) NOT NULL,
	PRIMARY KEY (address, block_number)
);

CREATE TABLE IF NOT EXISTS "Liquidity_Providers" (
	address varchar NOT NULL,
	vault_address varchar NOT NULL,
	stashed_balance numeric(78,0),
	locked_balance numeric(78,0),
	unlocked_balance numeric(78,0),
	latest_block numeric(78,0),
	PRIMARY KEY (address, vault_address)
);

CREATE TABLE IF NOT EXISTS "Liquidity_Providers_Historic" (
	address varchar NOT NULL,
	vault_address varchar NOT NULL,
	stashed_balance numeric(78,0),
	locked_balance numeric(78,0),
	unlocked_balance numeric(78,0),
	block_number numeric(78,0) NOT NULL,
	PRIMARY KEY (address, vault_address, block_number)
);

CREATE TABLE IF NOT EXISTS "Option_Rounds" (
	address varchar NOT NULL,
	vault_address varchar,
	round_id numeric(78,0),
	state varchar(10),
	available_options numeric(78,0) DEFAULT 0,
	starting_liquidity numeric(78,0),
	queued_liquidity numeric(78,0),
	remaining_liquidity numeric(78,0),
	unsold_liquidity numeric(78,0),
	clearing_price numeric(78,0),
	settlement_price numeric(78,0),
	reserve_price numeric(78,0),
	strike_price numeric(78,0),
	cap_level numeric(78,0),
	sold_options numeric(78,0),
	premiums numeric(78,0),
	payout_per_option numeric(78,0),
	start_date numeric(78,0),
	end_date numeric(78,0),
	settlement_date numeric(78,0),
	deployment_date numeric(78,0),
	PRIMARY KEY (address)
);

CREATE TABLE IF NOT EXISTS "Queued_Liquidity" (
	address varchar NOT NULL,
	queued_liquidity numeric(78,0) NOT NULL,
	bps numeric(78,0) NOT NULL,
	round_address varchar,
	CONSTRAINT lp_round_address PRIMARY KEY (address, round_address)
);
-- As in the original, NOT VALID; in addition DEFERRABLE INITIALLY DEFERRED so
-- that pg-write may apply a frame's lines in canonical (table) order, where
-- "Option_Rounds" comes before "Queued_Liquidity" for deletes too.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_constraint
		WHERE conrelid = '"Queued_Liquidity"'::regclass AND contype = 'f') THEN
		ALTER TABLE "Queued_Liquidity" ADD CONSTRAINT queued_liquidity_round_fkey
			FOREIGN KEY (round_address) REFERENCES "Option_Rounds" (address)
			DEFERRABLE INITIALLY DEFERRED NOT VALID;
	END IF;
END
$$;

CREATE TABLE IF NOT EXISTS "Option_Buyers" (
	address varchar NOT NULL,
	round_address varchar NOT NULL,
	has_minted boolean NOT NULL DEFAULT false,
	has_refunded boolean NOT NULL DEFAULT false,
	mintable_options numeric(78,0),
	refundable_amount numeric(78,0),
	CONSTRAINT buyer_round PRIMARY KEY (address, round_address)
);

CREATE TABLE IF NOT EXISTS "Bids" (
	buyer_address varchar,
	round_address varchar NOT NULL,
	bid_id varchar NOT NULL,
	tree_nonce numeric(78,0),
	amount numeric(78,0),
	price numeric(78,0),
	PRIMARY KEY (round_address, bid_id)
);
