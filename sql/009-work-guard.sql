-- 009-work-guard.sql -- pl_fail(code, message): raise an error from inside a
-- plain SQL statement.  pg-write marks a work item done with one statement
-- that fails unless the item exists, was not processed yet, and has the
-- frame's seq; the error aborts the transaction before anything of the
-- frame commits, without a round trip to check the row count first.
-- SQLSTATEs: PLM01 the item is missing or already processed, PLI01 its seq
-- differs from the frame's (docs/formats.md: reject kinds missing and
-- invariant).
CREATE OR REPLACE FUNCTION pl_fail(code text, message text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message;
END;
$$;
