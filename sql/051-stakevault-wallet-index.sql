-- 051-stakevault-wallet-index.sql -- StakeVault (issue 13): sv_stakes and
-- sv_stake_history spell a wallet as the delta engine does ("0x1f..."
-- without leading zeros); developers as the original ("0x" and 40 digits).
-- A developer who registers looks up its stake by sv_wallet(wallet_address)
-- (sv_developers_register, sql/050): without this index that is a scan of
-- every stake per registration.  Idempotent.
CREATE INDEX IF NOT EXISTS sv_stakes_wallet ON sv_stakes (sv_wallet(wallet_address));
