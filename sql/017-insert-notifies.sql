-- 017-insert-notifies.sql -- Liquidity_Providers and Option_Buyers also
-- notify their update channel (lp_update, ob_update) on INSERT, with
-- "operation":"insert" and the row.
--
-- Why: pg-write writes each row once per transaction with its final image
-- (docs/pg-write.md, coalescing), so a row created and changed in one
-- transaction arrives as a single INSERT.  The original notified only on
-- UPDATE; with coalescing the backend would never hear of such a row until
-- its next change.  The backend passes "operation" through unchecked
-- (downstream-queries.md), so an insert notification is safe for it, and
-- every row's state now reaches it at least once per transaction that
-- writes it (Option_Rounds and Bids did so already).
DROP TRIGGER IF EXISTS lp_insert ON "Liquidity_Providers";
CREATE TRIGGER lp_insert AFTER INSERT ON "Liquidity_Providers"
	FOR EACH ROW EXECUTE FUNCTION pl_notify_row('lp_update');
DROP TRIGGER IF EXISTS ob_insert ON "Option_Buyers";
CREATE TRIGGER ob_insert AFTER INSERT ON "Option_Buyers"
	FOR EACH ROW EXECUTE FUNCTION pl_notify_row('ob_update');
