-- 003-notify.sql -- NOTIFY triggers on the state tables for the websocket
-- backends (pitchlake-spec.md 3.2): the original channels and payloads
-- {"operation": "insert"|"update", "payload": row_to_json(NEW)}, except that
-- the "VaultStates" insert publishes on vault_state_insert (the original used
-- vault_insert, which collides with the producer's vault_registry channel).
-- No historic log triggers: ep-apply writes the historic rows itself.
-- Idempotent; no transaction control (scripts/pl-migrate wraps each file).

-- One function for every {"operation", "payload"} channel; the channel name
-- is the trigger's first argument.
CREATE OR REPLACE FUNCTION pl_notify_row() RETURNS trigger AS $$
BEGIN
	PERFORM pg_notify(TG_ARGV[0], json_build_object(
		'operation', lower(TG_OP),
		'payload', row_to_json(NEW))::text);
	RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION pl_notify_vault_state_insert() RETURNS trigger AS $$
BEGIN
	PERFORM pg_notify('vault_state_insert', row_to_json(NEW)::text);
	RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS lp_update ON "Liquidity_Providers";
CREATE TRIGGER lp_update AFTER UPDATE ON "Liquidity_Providers"
	FOR EACH ROW EXECUTE FUNCTION pl_notify_row('lp_update');

DROP TRIGGER IF EXISTS or_update ON "Option_Rounds";
CREATE TRIGGER or_update AFTER UPDATE ON "Option_Rounds"
	FOR EACH ROW EXECUTE FUNCTION pl_notify_row('or_update');
DROP TRIGGER IF EXISTS or_insert ON "Option_Rounds";
CREATE TRIGGER or_insert AFTER INSERT ON "Option_Rounds"
	FOR EACH ROW EXECUTE FUNCTION pl_notify_row('or_update');

DROP TRIGGER IF EXISTS vault_update ON "VaultStates";
CREATE TRIGGER vault_update AFTER UPDATE ON "VaultStates"
	FOR EACH ROW EXECUTE FUNCTION pl_notify_row('vault_update');
DROP TRIGGER IF EXISTS vault_insert_trigger ON "VaultStates";
CREATE TRIGGER vault_insert_trigger AFTER INSERT ON "VaultStates"
	FOR EACH ROW EXECUTE FUNCTION pl_notify_vault_state_insert();

DROP TRIGGER IF EXISTS ob_update ON "Option_Buyers";
CREATE TRIGGER ob_update AFTER UPDATE ON "Option_Buyers"
	FOR EACH ROW EXECUTE FUNCTION pl_notify_row('ob_update');

DROP TRIGGER IF EXISTS bids_insert_trigger ON "Bids";
CREATE TRIGGER bids_insert_trigger AFTER INSERT ON "Bids"
	FOR EACH ROW EXECUTE FUNCTION pl_notify_row('bids_update');
DROP TRIGGER IF EXISTS bids_update_trigger ON "Bids";
CREATE TRIGGER bids_update_trigger AFTER UPDATE ON "Bids"
	FOR EACH ROW EXECUTE FUNCTION pl_notify_row('bids_update');
