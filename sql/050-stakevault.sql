-- 050-stakevault.sql -- the StakeVault pipeline (0xElite's developer stakes,
-- docs/stakevault.md): rpc-listen | stake-apply | pg-write, no work table.
--
-- The original's tables, unchanged: developers (the application's:
-- registration, profile; the pipeline fills stake_amount, staked_at and
-- status) and system_state (the checkpoint key
-- 'last_processed_block_stake_vault').  The pipeline owns the sv_* state
-- tables (amounts in token base units, exact); triggers in the same
-- transaction project sv_stakes onto developers, and sv_stake_history (a
-- wallet's stake at the end of each block that changed it) onto the dead
-- letters (a stake of a wallet that is not a registered developer) and the
-- welcome e-mail (sv_mail_jobs).  pg-write writes the final image of each
-- row per transaction, however many blocks it holds: so the projections
-- read state (sv_stakes) or per-block rows (history), never transitions
-- between two images.  Reverts arrive as puts/deletes restoring older rows,
-- so every projection follows them exactly.

-- The pipeline is registered (pl_pipeline, pl_state_tables) by
-- SELECT sv_register_pipeline() -- not by the migration itself, so that a
-- database that does not run StakeVault keeps a single default pipeline
-- (programs without --pipeline pick the only one registered).

-- ------------------------------------------------------------ the original's
CREATE TABLE IF NOT EXISTS developers (
	wallet_address VARCHAR(42) PRIMARY KEY,
	email VARCHAR(255) UNIQUE NOT NULL,
	github_username VARCHAR(39) UNIQUE,
	skills JSONB NOT NULL,
	bio TEXT,
	hourly_rate DECIMAL(10,2),
	availability VARCHAR(20) NOT NULL DEFAULT 'available' CHECK (availability IN ('available', 'busy', 'vacation')),
	stake_amount DECIMAL(20,6) NOT NULL DEFAULT 0,
	staked_at TIMESTAMP,
	status VARCHAR(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'suspended')),
	created_at TIMESTAMP NOT NULL DEFAULT NOW(),
	updated_at TIMESTAMP NOT NULL DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS idx_developers_status ON developers (status);

CREATE TABLE IF NOT EXISTS system_state (
	key VARCHAR(255) PRIMARY KEY,
	value TEXT NOT NULL,
	updated_at TIMESTAMP NOT NULL DEFAULT NOW()
);

CREATE OR REPLACE FUNCTION sv_update_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at = NOW();
	RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS update_developers_updated_at ON developers;
CREATE TRIGGER update_developers_updated_at BEFORE UPDATE ON developers
	FOR EACH ROW EXECUTE FUNCTION sv_update_updated_at();

-- ------------------------------------------------------------ state (stake-apply)
-- Column order = the domain's (common/dom/stakevault/stakevault.c).
CREATE TABLE IF NOT EXISTS sv_cursor (
	id numeric(20,0) PRIMARY KEY,
	block_number numeric(20,0) NOT NULL,
	block_hash varchar(66) NOT NULL,
	timestamp numeric(20,0) NOT NULL
);
CREATE TABLE IF NOT EXISTS sv_required_stake_updates (
	block_number numeric(20,0) NOT NULL,
	log_index numeric(20,0) NOT NULL,
	vault_address varchar(42) NOT NULL,
	old_amount numeric(78,0) NOT NULL,
	new_amount numeric(78,0) NOT NULL,
	block_hash varchar(66) NOT NULL,
	tx_hash varchar(66) NOT NULL,
	block_timestamp numeric(20,0) NOT NULL,
	PRIMARY KEY (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS sv_stakes (
	wallet_address varchar(42) PRIMARY KEY,
	vault_address varchar(42) NOT NULL,
	stake_amount numeric(78,0) NOT NULL CHECK (stake_amount >= 0),
	staked_at numeric(20,0) NOT NULL,
	status varchar(20) NOT NULL CHECK (status IN ('pending', 'active')),
	stakes numeric(20,0) NOT NULL,
	unstakes numeric(20,0) NOT NULL,
	last_block numeric(20,0) NOT NULL,
	last_block_hash varchar(66) NOT NULL,
	last_log_index numeric(20,0) NOT NULL,
	last_tx_hash varchar(66) NOT NULL,
	last_timestamp numeric(20,0) NOT NULL
);
-- sv_stakes at the end of every block that changed it (a history table:
-- the dead letters and the welcome job follow it, per block).
CREATE TABLE IF NOT EXISTS sv_stake_history (
	wallet_address varchar(42) NOT NULL,
	block_number numeric(20,0) NOT NULL,
	vault_address varchar(42) NOT NULL,
	stake_amount numeric(78,0) NOT NULL CHECK (stake_amount >= 0),
	status varchar(20) NOT NULL CHECK (status IN ('pending', 'active')),
	stakes numeric(20,0) NOT NULL,
	unstakes numeric(20,0) NOT NULL,
	block_hash varchar(66) NOT NULL,
	log_index numeric(20,0) NOT NULL,
	tx_hash varchar(66) NOT NULL,
	block_timestamp numeric(20,0) NOT NULL,
	PRIMARY KEY (wallet_address, block_number)
);
CREATE TABLE IF NOT EXISTS sv_vault (
	address varchar(42) PRIMARY KEY,
	required_stake numeric(78,0) NOT NULL,
	stakers numeric(20,0) NOT NULL,
	last_block numeric(20,0) NOT NULL
);
CREATE OR REPLACE FUNCTION sv_register_pipeline() RETURNS void LANGUAGE sql AS $$
	INSERT INTO pl_pipeline (name, work_table, channel, order_columns, id_column, done_column)
		VALUES ('stakevault', NULL, NULL, NULL, NULL, NULL)
		ON CONFLICT DO NOTHING;
	INSERT INTO pl_state_tables (table_name, pipeline, append_only)
		VALUES ('sv_cursor', 'stakevault', false), ('sv_required_stake_updates', 'stakevault', false),
			('sv_stakes', 'stakevault', false), ('sv_vault', 'stakevault', false),
			('sv_stake_history', 'stakevault', true)
		ON CONFLICT DO NOTHING;
$$;

-- ------------------------------------------------------------ side effects
-- Events of wallets that are not registered developers (the original logged
-- a warning and dropped them).  A revert of the block removes its rows.
CREATE TABLE IF NOT EXISTS sv_dead_letters (
	id bigserial PRIMARY KEY,
	wallet_address varchar(42) NOT NULL,
	block_number numeric(20,0) NOT NULL,
	block_hash varchar(66) NOT NULL,
	log_index numeric(20,0) NOT NULL,
	tx_hash varchar(66) NOT NULL,
	stake_amount numeric(78,0) NOT NULL,
	reason text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sv_dead_letters_wallet ON sv_dead_letters (wallet_address, block_hash);

-- Jobs for a mailer: SELECT ... WHERE sent_at IS NULL FOR UPDATE SKIP LOCKED,
-- send, set sent_at.  One welcome job per developer; NOTIFY sv_mail_jobs.
CREATE TABLE IF NOT EXISTS sv_mail_jobs (
	id bigserial PRIMARY KEY,
	kind text NOT NULL CHECK (kind IN ('welcome')),
	wallet_address varchar(42) NOT NULL,
	email varchar(255) NOT NULL,
	block_number numeric(20,0) NOT NULL,
	block_hash varchar(66) NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	sent_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS sv_mail_jobs_welcome ON sv_mail_jobs (wallet_address) WHERE kind = 'welcome';
CREATE INDEX IF NOT EXISTS sv_mail_jobs_pending ON sv_mail_jobs (id) WHERE sent_at IS NULL;

-- (Amounts: base units * 0.000001 is exact, scale 6; timestamps: the epoch
-- plus whole seconds, never through a float.)
CREATE OR REPLACE FUNCTION sv_epoch(t numeric) RETURNS timestamp LANGUAGE sql IMMUTABLE AS $$
	SELECT timestamp '1970-01-01' + make_interval(days => div(t, 86400)::int, secs => mod(t, 86400)::int)
$$;

-- "0x" + 40 hex digits: the original's lower-case wallet addresses (the
-- frames carry hex without leading zeros).
CREATE OR REPLACE FUNCTION sv_wallet(a text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT '0x' || lpad(substr(lower(a), 3), 40, '0')
$$;

-- developers follows the stake (its final image in the transaction is all
-- that counts); a revert restores an older row or deletes the first one.
CREATE OR REPLACE FUNCTION sv_stakes_project() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		-- a revert removed the wallet's first stake: nothing of it happened
		UPDATE developers SET stake_amount = 0, staked_at = NULL,
			status = CASE WHEN status = 'active' THEN 'pending' ELSE status END
			WHERE wallet_address = sv_wallet(OLD.wallet_address);
		RETURN NULL;
	END IF;
	UPDATE developers SET
		stake_amount = (NEW.stake_amount * 0.000001)::numeric(20,6),
		staked_at = CASE WHEN NEW.staked_at = 0 THEN NULL
			ELSE sv_epoch(NEW.staked_at) END,
		status = CASE WHEN status = 'suspended' THEN 'suspended' ELSE NEW.status END
		WHERE wallet_address = sv_wallet(NEW.wallet_address);
	RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS sv_stakes_project ON sv_stakes;
CREATE TRIGGER sv_stakes_project AFTER INSERT OR UPDATE OR DELETE ON sv_stakes
	FOR EACH ROW EXECUTE FUNCTION sv_stakes_project();

-- The welcome job of wallet w (raw: as sv_stake_history spells it): the
-- first block still applied at whose end the stake is active, for a
-- registered developer who is not suspended; an unsent job moves to an
-- earlier such block.  Whatever order pg-write's statements insert and
-- delete history rows in, the job ends at the earliest one.
CREATE OR REPLACE FUNCTION sv_welcome(w text, raw text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	dev_email text;
	b numeric;
	h text;
BEGIN
	SELECT email INTO dev_email FROM developers WHERE wallet_address = w AND status <> 'suspended';
	IF NOT FOUND THEN
		RETURN;
	END IF;
	SELECT block_number, block_hash INTO b, h FROM sv_stake_history
		WHERE wallet_address = raw AND status = 'active' ORDER BY block_number LIMIT 1;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	INSERT INTO sv_mail_jobs (kind, wallet_address, email, block_number, block_hash)
		VALUES ('welcome', w, dev_email, b, h)
		ON CONFLICT (wallet_address) WHERE kind = 'welcome' DO UPDATE
			SET block_number = EXCLUDED.block_number, block_hash = EXCLUDED.block_hash
			WHERE sv_mail_jobs.sent_at IS NULL AND EXCLUDED.block_number < sv_mail_jobs.block_number;
END;
$$;

-- The effects of a block on a wallet, from its history row (one per wallet
-- and block, however many blocks one transaction holds): a dead letter for
-- a wallet that is not a registered developer, the welcome job.  A revert
-- deletes the row (or replaces it, same key, another hash): the block's
-- dead letter and unsent job go with it.
CREATE OR REPLACE FUNCTION sv_stake_history_effects() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	w text;
BEGIN
	IF TG_OP = 'UPDATE' AND OLD IS NOT DISTINCT FROM NEW THEN
		RETURN NULL;
	END IF;
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		w := sv_wallet(OLD.wallet_address);
		DELETE FROM sv_dead_letters WHERE wallet_address = w
			AND block_number = OLD.block_number AND block_hash = OLD.block_hash;
		DELETE FROM sv_mail_jobs WHERE wallet_address = w AND kind = 'welcome' AND sent_at IS NULL
			AND block_number = OLD.block_number AND block_hash = OLD.block_hash;
		IF FOUND THEN
			PERFORM sv_welcome(w, OLD.wallet_address);
		END IF;
		IF TG_OP = 'DELETE' THEN
			RETURN NULL;
		END IF;
	END IF;
	w := sv_wallet(NEW.wallet_address);
	IF NOT EXISTS (SELECT 1 FROM developers WHERE wallet_address = w) THEN
		INSERT INTO sv_dead_letters (wallet_address, block_number, block_hash, log_index, tx_hash,
				stake_amount, reason)
			VALUES (w, NEW.block_number, NEW.block_hash, NEW.log_index, NEW.tx_hash,
				NEW.stake_amount, 'unknown developer: the wallet is not registered in developers');
	ELSIF NEW.status = 'active' THEN
		PERFORM sv_welcome(w, NEW.wallet_address);
	END IF;
	RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS sv_stake_history_effects ON sv_stake_history;
CREATE TRIGGER sv_stake_history_effects AFTER INSERT OR UPDATE OR DELETE ON sv_stake_history
	FOR EACH ROW EXECUTE FUNCTION sv_stake_history_effects();

-- A developer who registers after staking gets the stake at once.
CREATE OR REPLACE FUNCTION sv_developers_register() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	s record;
BEGIN
	SELECT * INTO s FROM sv_stakes WHERE sv_wallet(wallet_address) = lower(NEW.wallet_address);
	IF FOUND THEN
		NEW.stake_amount := (s.stake_amount * 0.000001)::numeric(20,6);
		NEW.staked_at := CASE WHEN s.staked_at = 0 THEN NULL
			ELSE sv_epoch(s.staked_at) END;
		IF NEW.status = 'pending' THEN
			NEW.status := s.status;
		END IF;
	END IF;
	RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS sv_developers_register ON developers;
CREATE TRIGGER sv_developers_register BEFORE INSERT ON developers
	FOR EACH ROW EXECUTE FUNCTION sv_developers_register();

-- system_state['last_processed_block_stake_vault'] follows the cursor,
-- reverts included.
CREATE OR REPLACE FUNCTION sv_cursor_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		DELETE FROM system_state WHERE key = 'last_processed_block_stake_vault';
		RETURN NULL;
	END IF;
	INSERT INTO system_state (key, value, updated_at)
		VALUES ('last_processed_block_stake_vault', NEW.block_number::text,
			sv_epoch(NEW.timestamp))
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at;
	RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS sv_cursor_checkpoint ON sv_cursor;
CREATE TRIGGER sv_cursor_checkpoint AFTER INSERT OR UPDATE OR DELETE ON sv_cursor
	FOR EACH ROW EXECUTE FUNCTION sv_cursor_checkpoint();

CREATE OR REPLACE FUNCTION sv_mail_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('sv_mail_jobs', NEW.id::text);
	RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS sv_mail_jobs_notify ON sv_mail_jobs;
CREATE TRIGGER sv_mail_jobs_notify AFTER INSERT ON sv_mail_jobs
	FOR EACH ROW EXECUTE FUNCTION sv_mail_jobs_notify();
