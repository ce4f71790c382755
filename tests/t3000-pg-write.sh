#!/bin/bash
# t3000-pg-write -- pg-write against a real PostgreSQL cluster: puts/dels,
# acks after COMMIT, idempotent replay, quarantine of rejected frames, the
# single-writer lock, crash/restart, the undo journal, a dying database.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start

F1=$DATA/pg-write-frames.ndjson
F2=$DATA/pg-write-frames2.ndjson

# The schema: scripts/pl-migrate (or sql/*.sql directly), a write counter on
# "Bids" (to prove nothing is applied twice) and the work items 1..9.
setup_db() {
	pg_sql -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public" 2>/dev/null &&
	if [ -x "$SRC/scripts/pl-migrate" ]; then
		pl-migrate >/dev/null
	else
		for f in "$SRC"/sql/*.sql; do pg_sql -1 -f "$f" 2>/dev/null || return 1; done
	fi &&
	pg_sql <<-'SQL'
	CREATE TABLE bid_writes (n int NOT NULL);
	INSERT INTO bid_writes VALUES (0);
	CREATE FUNCTION count_bid_write() RETURNS trigger LANGUAGE plpgsql AS
	  $$BEGIN UPDATE bid_writes SET n = n + 1; RETURN NEW; END$$;
	CREATE TRIGGER count_bid_write AFTER INSERT OR UPDATE ON "Bids"
	  FOR EACH ROW EXECUTE FUNCTION count_bid_write();
	INSERT INTO driver_events (type) SELECT 'StartBlock' FROM generate_series(1, 9);
	SQL
}

acks() {
	for i in "$@"; do printf '{"op":"ack","driver_id":%d,"seq":%d}\n' "$i" "$i"; done
}

state() {
	pg_sql -c 'SELECT * FROM "Bids" ORDER BY 2, 3' -c 'SELECT * FROM "Option_Buyers" ORDER BY 1, 2' \
		-c 'SELECT block_number, block_hash FROM pl_journal_block ORDER BY ord' \
		-c 'SELECT block_hash, tbl, key, before FROM pl_journal ORDER BY id' \
		-c 'SELECT driver_id, seq, finalized FROM pl_checkpoint'
}

# Start the cluster again after a test stopped it (same options as pg_start).
# wait_for FILE PATTERN: until FILE contains PATTERN (10 s at most).
wait_for() {
	local i=0
	until grep -q -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1; }
		sleep 0.1
	done
}

test_expect_success 'setup' 'setup_db'

test_expect_success '--help lists the options and exit codes' '
	pg-write --help >help &&
	grep -q -- --batch-max help && grep -q -- --verify-before help && grep -q "^  75" help &&
	test_must_fail --code 64 pg-write --bogus 2>/dev/null
'

test_expect_success 'puts and dels are applied, one ack per frame' '
	pg-write <"$F1" >out &&
	acks 1 2 3 4 >expect && test_cmp expect out &&
	pg_sql -c "SELECT round_address, bid_id, amount, price FROM \"Bids\" ORDER BY 1, 2" >got &&
	printf "%s\n" "0xr1|0x1|2000|5" "0xr2|0x1|3|2500" >expect && test_cmp expect got &&
	pg_sql -c "SELECT has_minted, has_refunded, mintable_options, refundable_amount IS NULL FROM \"Option_Buyers\"" >got &&
	echo "t|f|12|t" >expect && test_cmp expect got &&
	pg_sql -c "SELECT id FROM driver_events WHERE is_processed ORDER BY id" >got &&
	printf "%s\n" 1 2 3 4 >expect && test_cmp expect got &&
	pg_sql -c "SELECT driver_id, seq, finalized FROM pl_checkpoint" >got &&
	echo "4|4|39" >expect && test_cmp expect got
'

test_expect_success 'row images round-trip (pg-snapshot prints the frame rows)' '
	pg-snapshot >snap &&
	for i in 3 5 6; do
		grep -o "\"row\":{[^}]*}" "$F1" | sed -n ${i}p >row &&
		grep -F -q "$(cat row)" snap || exit 1
	done
'

test_expect_success 'the same frames again: skipped, acked, nothing written twice' '
	state >before &&
	pg_sql -c "SELECT n FROM bid_writes" >writes_before &&
	pg-write <"$F1" >out &&
	acks 1 2 3 4 >expect && test_cmp expect out &&
	state >after && test_cmp before after &&
	pg_sql -c "SELECT n FROM bid_writes" >writes_after && test_cmp writes_before writes_after &&
	# one transaction (a file is one catch-up batch): each row is written
	# once with its final image, 0x1 of 0xr1 (twice in the frames) and 0x1
	# of 0xr2; 0x2 of 0xr1 is put and deleted within the batch
	echo 2 >expect && test_cmp expect writes_after
'

test_expect_success 'one frame per transaction (--batch-max 1): every row write of every frame' '
	setup_db &&
	pg-write --batch-max 1 <"$F1" >out &&
	acks 1 2 3 4 >expect && test_cmp expect out &&
	pg_sql -c "SELECT n FROM bid_writes" >got && echo 4 >expect && test_cmp expect got &&
	state >got && test_cmp after got
'

test_expect_success 'journal: StartBlock frames journal their befores in line order' '
	pg_sql -c "SELECT b.block_number, j.tbl, j.before IS NULL FROM pl_journal j JOIN pl_journal_block b USING (block_hash) ORDER BY j.id" >got &&
	cat >expect <<-\EOT &&
	100|Bids|t
	100|Option_Buyers|t
	101|Bids|f
	101|Bids|t
	102|Bids|f
	102|Option_Buyers|f
	103|Bids|t
	EOT
	test_cmp expect got
'

test_expect_success 'journal: RevertBlock deletes its block, CatchupVault journals undo lines, finalized prunes' '
	pg-write <"$F2" >out &&
	acks 5 6 7 >expect && test_cmp expect out &&
	pg_sql -c "SELECT block_number, block_hash FROM pl_journal_block ORDER BY ord" >got &&
	printf "%s\n" "102|0xa3" "104|0xa5" "105|0xa6" "106|0xa7" >expect && test_cmp expect got &&
	pg_sql -c "SELECT block_hash, tbl FROM pl_journal ORDER BY id" >got &&
	printf "%s\n" "0xa3|Bids" "0xa3|Option_Buyers" "0xa5|Bids" "0xa6|Bids" >expect && test_cmp expect got &&
	pg_sql -c "SELECT count(*) FROM \"Bids\" WHERE round_address = '\''0xr2'\''" >got &&
	echo 0 >expect && test_cmp expect got &&
	pg_sql -c "SELECT driver_id, seq, finalized FROM pl_checkpoint" >got &&
	echo "7|7|101" >expect && test_cmp expect got
'

test_expect_success 'journal: a key with escapes is stored as the exact frame text' '
	pg_sql -c "SELECT before::text FROM pl_journal WHERE block_hash = '\''0xa6'\''" >got &&
	grep -F -q "\"buyer_address\":\"0xb\\\"q\\u00e9\"" got
'

# A frame after the checkpoint (8) whose second line is bad; frame 9 after it.
bad_frames() {
	cat <<-EOT
	{"op":"begin","driver_id":8,"seq":8,"type":"StartBlock","block_number":107,"block_hash":"0xa8","finalized":101}
	{"op":"put","table":"Bids","key":{"round_address":"0xr8","bid_id":"0x1"},"row":{"buyer_address":"0xb8","round_address":"0xr8","bid_id":"0x1","tree_nonce":"0","amount":"8","price":"8"},"before":null}
	{"op":"end","driver_id":8}
	{"op":"begin","driver_id":9,"seq":9,"type":"StartBlock","block_number":108,"block_hash":"0xa9","finalized":101}
	{"op":"put","table":"Bids","key":{"round_address":"0xr9","bid_id":"0x1"},"row":{"buyer_address":"0xb9","round_address":"0xr9","bid_id":"0x1","tree_nonce":"0","amount":"9","price":"9"},"before":null}
	$1
	{"op":"end","driver_id":9}
	EOT
}

test_expect_success 'unknown column: exit 65, quarantined, earlier frame committed, nothing of the bad one' '
	bad_frames "{\"op\":\"put\",\"table\":\"Bids\",\"key\":{\"round_address\":\"0xr9\",\"bid_id\":\"0x2\"},\"row\":{\"buyer_address\":\"0xb9\",\"round_address\":\"0xr9\",\"bid_id\":\"0x2\",\"tree_nonce\":\"0\",\"amount\":\"9\",\"price\":\"9\",\"colour\":\"red\"},\"before\":null}" >in &&
	test_must_fail --code 65 pg-write <in >out 2>err &&
	acks 8 >expect && test_cmp expect out &&
	grep -q "unable to apply the frame of driver_id 9 seq 9.*no column \"colour\"" err &&
	pg_sql -c "SELECT driver_id, seq, program, reason FROM pl_quarantine" >got &&
	echo "9|9|pg-write|table \"Bids\" has no column \"colour\"" >expect && test_cmp expect got &&
	pg_sql -c "SELECT frame FROM pl_quarantine" >got && { sed -n 4,7p in; echo; } >expect && test_cmp expect got &&
	pg_sql -c "SELECT round_address FROM \"Bids\" WHERE round_address IN ('\''0xr8'\'', '\''0xr9'\'') ORDER BY 1" >got &&
	echo 0xr8 >expect && test_cmp expect got &&
	pg_sql -c "SELECT driver_id, seq FROM pl_checkpoint" >got && echo "8|8" >expect && test_cmp expect got &&
	pg_sql -c "SELECT is_processed FROM driver_events WHERE id = 9" >got && echo f >expect && test_cmp expect got
'

test_expect_success 'a value that does not fit numeric(78,0): exit 65 with the server reason' '
	pg_sql -c "DELETE FROM pl_quarantine" &&
	bad_frames "{\"op\":\"put\",\"table\":\"Bids\",\"key\":{\"round_address\":\"0xr9\",\"bid_id\":\"0x2\"},\"row\":{\"buyer_address\":\"0xb9\",\"round_address\":\"0xr9\",\"bid_id\":\"0x2\",\"tree_nonce\":\"0\",\"amount\":\"1$(printf %078d 0)\",\"price\":\"9\"},\"before\":null}" >in &&
	test_must_fail --code 65 pg-write <in >out 2>err &&
	acks 8 >expect && test_cmp expect out &&
	pg_sql -c "SELECT driver_id, reason FROM pl_quarantine" >got &&
	grep -q "^9|numeric field overflow" got &&
	pg_sql -c "SELECT count(*) FROM \"Bids\" WHERE round_address = '\''0xr9'\''" >got && echo 0 >expect && test_cmp expect got
'

test_expect_success 'a fraction for numeric(78,0), an unregistered table: rejected' '
	pg_sql -c "DELETE FROM pl_quarantine" &&
	bad_frames "{\"op\":\"put\",\"table\":\"Bids\",\"key\":{\"round_address\":\"0xr9\",\"bid_id\":\"0x2\"},\"row\":{\"buyer_address\":\"0xb9\",\"round_address\":\"0xr9\",\"bid_id\":\"0x2\",\"tree_nonce\":\"0\",\"amount\":\"1.5\",\"price\":\"9\"},\"before\":null}" >in &&
	test_must_fail --code 65 pg-write <in >out 2>err &&
	grep -q "not a decimal integer: 1.5" err &&
	bad_frames "{\"op\":\"del\",\"table\":\"driver_events\",\"key\":{\"id\":\"1\"},\"before\":null}" >in &&
	test_must_fail --code 65 pg-write <in >out 2>err &&
	grep -q "not registered in pl_state_tables" err &&
	pg_sql -c "SELECT count(*) FROM pl_quarantine" >got && echo 2 >expect && test_cmp expect got &&
	pg_sql -c "SELECT count(*) FROM driver_events" >got && echo 9 >expect && test_cmp expect got
'

test_expect_success 'a JSON number for a numeric column: exit 65, quarantined (numeric values are decimal strings)' '
	pg_sql -c "DELETE FROM pl_quarantine" &&
	pg_sql -c "UPDATE pl_checkpoint SET driver_id = 7, seq = 7" -c "UPDATE driver_events SET is_processed = false WHERE id > 7" &&
	bad_frames "{\"op\":\"put\",\"table\":\"Bids\",\"key\":{\"round_address\":\"0xr9\",\"bid_id\":\"0x2\"},\"row\":{\"buyer_address\":\"0xb9\",\"round_address\":\"0xr9\",\"bid_id\":\"0x2\",\"tree_nonce\":\"0\",\"amount\":9,\"price\":\"9\"},\"before\":null}" >in &&
	test_must_fail --code 65 pg-write <in >out 2>err &&
	acks 8 >expect && test_cmp expect out &&
	grep -q "unable to apply the frame of driver_id 9 seq 9 (input line 4): value of numeric column \"Bids\".\"amount\" is a JSON number (9), not a decimal string" err &&
	pg_sql -c "SELECT driver_id, program, kind, reason FROM pl_quarantine" >got &&
	echo "9|pg-write|syntax|value of numeric column \"Bids\".\"amount\" is a JSON number (9), not a decimal string" >expect &&
	test_cmp expect got &&
	pg_sql -c "SELECT frame FROM pl_quarantine" >got && { sed -n 4,7p in; echo; } >expect && test_cmp expect got &&
	pg_sql -c "SELECT count(*) FROM \"Bids\" WHERE round_address = '\''0xr9'\''" >got && echo 0 >expect && test_cmp expect got
'

test_expect_success 'a negative balance: refused by the database (sql/008), exit 65, quarantined as invariant' '
	pg_sql -c "DELETE FROM pl_quarantine" &&
	pg_sql -c "UPDATE pl_checkpoint SET driver_id = 7, seq = 7" -c "UPDATE driver_events SET is_processed = false WHERE id > 7" &&
	bad_frames "{\"op\":\"put\",\"table\":\"Liquidity_Providers\",\"key\":{\"address\":\"0xl9\",\"vault_address\":\"0xv9\"},\"row\":{\"address\":\"0xl9\",\"vault_address\":\"0xv9\",\"stashed_balance\":\"0\",\"locked_balance\":\"0\",\"unlocked_balance\":\"-5\",\"latest_block\":\"108\"},\"before\":null}" >in &&
	test_must_fail --code 65 pg-write <in >out 2>err &&
	acks 8 >expect && test_cmp expect out &&
	grep -q "unable to apply the frame of driver_id 9 seq 9 (input line 4): .*violates check constraint \"Liquidity_Providers_unlocked_balance_nonneg\"" err &&
	pg_sql -c "SELECT driver_id, program, kind FROM pl_quarantine" >got &&
	echo "9|pg-write|invariant" >expect && test_cmp expect got &&
	pg_sql -c "SELECT reason FROM pl_quarantine" | grep -q "Liquidity_Providers_unlocked_balance_nonneg" &&
	pg_sql -c "SELECT frame FROM pl_quarantine" >got && { sed -n 4,7p in; echo; } >expect && test_cmp expect got &&
	pg_sql -c "SELECT count(*) FROM \"Liquidity_Providers\"" >got && echo 0 >expect && test_cmp expect got &&
	pg_sql -c "SELECT driver_id, seq FROM pl_checkpoint" >got && echo "8|8" >expect && test_cmp expect got
'

test_expect_success 'a deferred constraint failing at COMMIT: the batch is split, the right frame quarantined' '
	pg_sql -c "DELETE FROM pl_quarantine" &&
	bad_frames "{\"op\":\"put\",\"table\":\"Queued_Liquidity\",\"key\":{\"address\":\"0xl1\",\"round_address\":\"0xnoround\"},\"row\":{\"address\":\"0xl1\",\"queued_liquidity\":\"1\",\"bps\":\"1\",\"round_address\":\"0xnoround\"},\"before\":null}" >in &&
	test_must_fail --code 65 pg-write <in >out 2>err &&
	pg_sql -c "SELECT driver_id FROM pl_quarantine" >got && echo 9 >expect && test_cmp expect got &&
	grep -q "queued_liquidity_round_fkey" err
'

test_expect_success 'malformed line: exit 65 naming the line; frames before it committed' '
	pg_sql -c "UPDATE pl_checkpoint SET driver_id = 7, seq = 7" -c "UPDATE driver_events SET is_processed = false WHERE id > 7" &&
	bad_frames "{\"op\":\"put\",\"table\":" >in &&
	test_must_fail --code 65 pg-write <in >out 2>err &&
	grep -q "^pg-write: fatal: unable to parse delta frame at line 6: " err &&
	acks 8 >expect && test_cmp expect out &&
	printf "%s\n" "{\"op\":\"put\",\"table\":\"Bids\"}" >in &&
	test_must_fail --code 65 pg-write <in 2>err &&
	grep -q "at line 1: .*outside a frame" err
'

# Refused for its bytes, and still recorded: PostgreSQL refuses invalid UTF-8
# and NUL in text, so the quarantine row holds each such byte as \xNN.
BAD_UTF8=$(printf '{"op":"put","table":"Bi\377ds","key":{"k":"\300\257"},"before":null}')

test_expect_success 'invalid UTF-8: exit 65 naming the line, quarantined with each bad byte as \xNN' '
	pg_sql -c "DELETE FROM pl_quarantine" &&
	pg_sql -c "UPDATE pl_checkpoint SET driver_id = 7, seq = 7" -c "UPDATE driver_events SET is_processed = false WHERE id > 7" &&
	bad_frames "$BAD_UTF8" >in &&
	test_must_fail --code 65 pg-write <in >out 2>err &&
	grep -q "^pg-write: fatal: unable to parse delta frame at line 6: invalid UTF-8 at column 24 (byte 0xff)" err &&
	! grep -q "unable to record" err &&
	acks 8 >expect && test_cmp expect out &&
	pg_sql -c "SELECT driver_id, program, kind, reason, frame FROM pl_quarantine" >got &&
	printf "%s\n" "9|pg-write|syntax|invalid UTF-8 at column 24 (byte 0xff)|{\"op\":\"put\",\"table\":\"Bi\\xffds\",\"key\":{\"k\":\"\\xc0\\xaf\"},\"before\":null}" >expect &&
	test_cmp expect got
'

test_expect_success 'a NUL byte: exit 65, quarantined whole with the NUL as \x00' '
	pg_sql -c "DELETE FROM pl_quarantine" &&
	pg_sql -c "UPDATE pl_checkpoint SET driver_id = 7, seq = 7" -c "UPDATE driver_events SET is_processed = false WHERE id > 7" &&
	{ bad_frames "" | head -n 5 && printf "{\"op\":\"put\",\"table\":\"Bids\000\",\"key\":{},\"before\":null}\n"; } >in &&
	test_must_fail --code 65 pg-write <in >out 2>err &&
	grep -q "at line 6: control character 0x00 in string" err &&
	! grep -q "unable to record" err &&
	pg_sql -c "SELECT frame FROM pl_quarantine" >got &&
	printf "%s\n" "{\"op\":\"put\",\"table\":\"Bids\\x00\",\"key\":{},\"before\":null}" >expect &&
	test_cmp expect got
'

test_expect_success 'EOF inside a frame: the partial frame is discarded, exit 0' '
	pg_sql -c "UPDATE pl_checkpoint SET driver_id = 7, seq = 7" -c "UPDATE driver_events SET is_processed = false WHERE id > 7" &&
	pg_sql -c "DELETE FROM \"Bids\" WHERE round_address IN ('\''0xr8'\'', '\''0xr9'\'')" &&
	bad_frames "" | head -n 5 >in &&
	pg-write <in >out 2>err &&
	acks 8 >expect && test_cmp expect out &&
	grep -q "discarding an incomplete frame" err &&
	pg_sql -c "SELECT count(*) FROM \"Bids\" WHERE round_address = '\''0xr9'\''" >got && echo 0 >expect && test_cmp expect got
'

# (Applies frame 9: the tests above need it unapplied.)
test_expect_success 'a negative strike_level (a signed i128) is stored' '
	pg_sql -c "DELETE FROM pl_quarantine" &&
	pg_sql -c "UPDATE pl_checkpoint SET driver_id = 7, seq = 7" -c "UPDATE driver_events SET is_processed = false WHERE id > 7" &&
	bad_frames "{\"op\":\"put\",\"table\":\"VaultStates\",\"key\":{\"address\":\"0xv9\"},\"row\":{\"address\":\"0xv9\",\"unlocked_balance\":\"0\",\"locked_balance\":\"0\",\"stashed_balance\":\"0\",\"current_round\":\"1\",\"current_round_address\":\"0xr9\",\"latest_block\":\"108\",\"fossil_client_address\":\"0xf\",\"eth_address\":\"0xe\",\"option_round_class_hash\":\"0xc\",\"alpha\":\"5000\",\"strike_level\":\"-2500\",\"round_transition_period\":\"1\",\"auction_duration\":\"1\",\"round_duration\":\"1\",\"deployment_date\":\"1\"},\"before\":null}" >in &&
	pg-write <in >out &&
	acks 8 9 >expect && test_cmp expect out &&
	pg_sql -c "SELECT strike_level FROM \"VaultStates\" WHERE address = '\''0xv9'\''" >got &&
	printf "%s\n" -2500 >expect && test_cmp expect got &&
	pg_sql -c "SELECT count(*) FROM pl_quarantine" >got && echo 0 >expect && test_cmp expect got
'

# Run the whole history (F1, F2) from an empty state in one go.
clean_run() {
	setup_db && cat "$F1" "$F2" | pg-write "$@" >out 2>err
}

test_expect_success 'a clean run of the whole history (reference state)' '
	clean_run && acks 1 2 3 4 5 6 7 >expect && test_cmp expect out &&
	state >"$TEST_DIR/clean.state"
'

test_expect_success 'PL_TEST_DIE_AFTER: committed but not acked; a restart converges' '
	setup_db &&
	test_must_fail --code 1 env PL_TEST_DIE_AFTER=2 pg-write --batch-max 1 <"$F1" >out &&
	acks 1 >expect && test_cmp expect out &&
	pg_sql -c "SELECT seq FROM pl_checkpoint" >got && echo 2 >expect && test_cmp expect got &&
	test_must_fail --code 1 env PL_TEST_DIE_AFTER=1 pg-write <"$F1" >out &&
	test_must_be_empty() { ! test -s "$1"; } && test_must_be_empty out &&
	cat "$F1" "$F2" | pg-write >out &&
	acks 1 2 3 4 5 6 7 >expect && test_cmp expect out &&
	state >got && test_cmp "$TEST_DIR/clean.state" got
'

test_expect_success 'catch-up batching: one transaction holds many frames, the result is the same' '
	setup_db &&
	pg_sql -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()" >c0 &&
	cat "$F1" "$F2" | pg-write --batch-max 500 >out &&
	acks 1 2 3 4 5 6 7 >expect && test_cmp expect out &&
	state >got && test_cmp "$TEST_DIR/clean.state" got &&
	setup_db && cat "$F1" "$F2" | pg-write --batch-max 1 >out && test_cmp expect out &&
	state >got && test_cmp "$TEST_DIR/clean.state" got
'

test_expect_success '--verify-before: matching befores pass, a mismatch is rejected' '
	setup_db &&
	cat "$F1" "$F2" | pg-write --verify-before >out &&
	state >got && test_cmp "$TEST_DIR/clean.state" got &&
	setup_db &&
	pg_sql -c "INSERT INTO \"Bids\" VALUES ('\''0xb1'\'', '\''0xr1'\'', '\''0x1'\'', 0, 999, 5)" &&
	test_must_fail --code 65 pg-write --verify-before <"$F1" >out 2>err &&
	grep -q "verify-before: row of \"Bids\" with key {\"round_address\":\"0xr1\",\"bid_id\":\"0x1\"} exists" err &&
	pg_sql -c "SELECT count(*) FROM pl_checkpoint" >got && echo 0 >expect && test_cmp expect got
'

test_expect_success 'two writers on the same input: the second waits as standby, nothing applied twice' '
	setup_db || exit 1
	rm -f in.fifo && mkfifo in.fifo || exit 1
	pg-write --batch-max 1 <in.fifo >out1 2>err1 &
	p1=$!
	exec 3>in.fifo &&
	cat "$F1" >&3 && wait_for out1 "\"seq\":4" || exit 1
	PL_TEST_NO_SLEEP=1 pg-write <"$F1" >out2 2>err2 3>&- &
	p2=$!
	wait_for err2 "waiting as standby" &&
	test ! -s out2 &&
	cat "$F2" >&3 && exec 3>&- &&
	wait $p1 && wait $p2 &&
	acks 1 2 3 4 5 6 7 >expect && test_cmp expect out1 &&
	acks 1 2 3 4 >expect && test_cmp expect out2 &&
	pg_sql -c "SELECT n FROM bid_writes" >got && echo 5 >expect && test_cmp expect got &&
	state >got && test_cmp "$TEST_DIR/clean.state" got
'

test_expect_success 'SIGTERM while waiting for input: exit 0' '
	rm -f in.fifo && mkfifo in.fifo || exit 1
	pg-write <in.fifo >out 2>err &
	p=$!
	exec 3>in.fifo &&
	head -n 4 "$F1" >&3 && wait_for out "\"seq\":1" &&
	kill -TERM $p && wait $p && exec 3>&-
'

# pglib runs the cluster with synchronous_commit=off, with which an immediate
# shutdown may lose the last commits; the database setting overrides it.
test_expect_success 'the database dies mid-run: exit 75, committed frames stay' '
	setup_db && pg_sql -c "ALTER DATABASE postgres SET synchronous_commit = on" || exit 1
	rm -f in.fifo && mkfifo in.fifo || exit 1
	pg-write <in.fifo >out 2>err &
	p=$!
	exec 3>in.fifo &&
	head -n 8 "$F1" >&3 && wait_for out "\"seq\":2" &&
	pg_stop &&
	tail -n +9 "$F1" >&3 && exec 3>&- &&
	{ wait $p; rc=$?; } ; { test $rc = 75 || { echo "exit $rc"; cat err; false; }; } &&
	grep -q "^pg-write: fatal: unable to" err &&
	acks 1 2 >expect && test_cmp expect out &&
	pg_start_again &&
	pg_sql -c "SELECT seq FROM pl_checkpoint" >got && echo 2 >expect && test_cmp expect got &&
	pg-write --no-work-table <"$F1" >out && acks 1 2 3 4 >expect && test_cmp expect out
'

test_done
