-- 015-backend-payloads.sql -- bids_update payloads that the real websocket
-- backend (pitchlake_db_server, ../shared/docs/downstream-queries.md) can
-- parse: its Bid struct reads tree_nonce into a Go string and routes a bid on
-- the key "address" (the buyer).  row_to_json of "Bids" gave tree_nonce as a
-- JSON number (json.Unmarshal fails and the backend's listener stops) and no
-- "address" key.  The payload keeps every column under its own name, with
-- tree_nonce as a decimal string, and adds "address" = buyer_address.  The
-- column stays numeric(78,0): the backend's SELECT scans it into a string
-- from a numeric column, and ep-apply orders bids by it.  docs/downstream.md.
-- Idempotent; no transaction control (scripts/pl-migrate wraps each file).

CREATE OR REPLACE FUNCTION pl_notify_bid() RETURNS trigger AS $$
BEGIN
	PERFORM pg_notify('bids_update', json_build_object(
		'operation', lower(TG_OP),
		'payload', json_build_object(
			'buyer_address', NEW.buyer_address,
			'round_address', NEW.round_address,
			'bid_id', NEW.bid_id,
			'tree_nonce', NEW.tree_nonce::text,
			'amount', NEW.amount,
			'price', NEW.price,
			'address', NEW.buyer_address))::text);
	RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS bids_insert_trigger ON "Bids";
CREATE TRIGGER bids_insert_trigger AFTER INSERT ON "Bids"
	FOR EACH ROW EXECUTE FUNCTION pl_notify_bid();
DROP TRIGGER IF EXISTS bids_update_trigger ON "Bids";
CREATE TRIGGER bids_update_trigger AFTER UPDATE ON "Bids"
	FOR EACH ROW EXECUTE FUNCTION pl_notify_bid();
