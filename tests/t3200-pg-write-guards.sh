#!/bin/bash
# t3200-pg-write-guards -- pg-write commits a frame only where it belongs:
# on top of the checkpoint it was computed from (its "after"), and for an
# unprocessed work item of its own seq.  A stale frame restarts the
# pipeline (75, nothing committed, nothing quarantined); a frame naming a
# foreign or processed work item is refused (65, quarantined).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start

# frame N of FILE (1-based) and every frame after it
frames_from() { awk -v n="$1" '/"op":"begin"/{b++} b>=n' "$2"; }
frames_upto() { awk -v n="$1" '/"op":"begin"/{b++} b<=n' "$2"; }

test_expect_success 'set up: a produced chain and its delta frames' '
	pl-migrate >/dev/null &&
	chain-sim --seed 4 --blocks 30 --vaults 2 --lps 3 --buyers 2 --no-reorgs >chain &&
	pg-produce --quiet <chain &&
	ep-apply <chain >deltas &&
	test_json deltas "if .op == \"begin\" then has(\"after\") else true end" &&
	frames_upto 10 deltas | pg-write >acks &&
	test "$(pg_sql -c "SELECT seq FROM pl_checkpoint")" = 10
'

test_expect_success 'every frame names the checkpoint it builds on' '
	jq -c "select(.op == \"begin\") | [.driver_id, .after]" deltas | head -n 3 >got &&
	printf "%s\n" "[1,null]" "[2,{\"driver_id\":1,\"seq\":1}]" "[3,{\"driver_id\":2,\"seq\":2}]" >expect &&
	test_cmp expect got
'

test_expect_success 'a frame built on an older checkpoint: exit 75, nothing committed or quarantined' '
	frames_from 11 deltas | sed "0,/\"after\":{[^}]*}/s//\"after\":{\"driver_id\":9,\"seq\":9}/" >stale &&
	! cmp -s stale deltas &&
	test_must_fail --code 75 pg-write <stale >out 2>err &&
	test ! -s out &&
	grep -q "builds on checkpoint driver_id 9 seq 9 but the database.s checkpoint is driver_id 10 seq 10" err &&
	grep -q "restart the pipeline from a fresh snapshot" err &&
	test "$(pg_sql -c "SELECT seq FROM pl_checkpoint")" = 10 &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_quarantine")" = 0 &&
	test "$(pg_sql -c "SELECT is_processed FROM driver_events WHERE id = 11")" = f
'

test_expect_success 'a frame computed from an empty state onto a non-empty database: 75' '
	frames_from 11 deltas | sed "0,/\"after\":{[^}]*}/s//\"after\":null/" >stale2 &&
	test_must_fail --code 75 pg-write <stale2 2>err &&
	grep -q "builds on checkpoint none" err
'

test_expect_success 'the stale frames after good ones: the good ones commit and are acked first' '
	frames_from 11 deltas | frames_upto 2 /dev/stdin >good &&
	frames_from 13 deltas | sed "0,/\"after\":{[^}]*}/s//\"after\":{\"driver_id\":3,\"seq\":3}/" >bad &&
	cat good bad >mixed &&
	test_must_fail --code 75 pg-write <mixed >out 2>err &&
	printf "%s\n" "{\"op\":\"ack\",\"driver_id\":11,\"seq\":11}" "{\"op\":\"ack\",\"driver_id\":12,\"seq\":12}" >expect &&
	test_cmp expect out &&
	test "$(pg_sql -c "SELECT seq FROM pl_checkpoint")" = 12
'

test_expect_success 'the right frames still apply, and the state equals the offline replay' '
	frames_from 13 deltas | pg-write >/dev/null &&
	ep-apply --dump-state expect <chain >/dev/null &&
	pg-snapshot -o got && test_cmp expect got
'

test_expect_success 'a frame claiming a work item that does not exist: 65, quarantined as missing' '
	last=$(pg_sql -c "SELECT max(id) FROM driver_events") &&
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":999,\"seq\":999,\"type\":\"StartBlock\",\"block_number\":99999,\"block_hash\":\"0x99\"}" \
		"{\"op\":\"end\",\"driver_id\":999}" >foreign &&
	test_must_fail --code 65 pg-write <foreign >out 2>err &&
	test ! -s out &&
	grep -q "work item 999 is not an unprocessed row of work table \"driver_events\"" err &&
	test "$(pg_sql -c "SELECT kind FROM pl_quarantine WHERE driver_id = 999")" = missing &&
	test "$(pg_sql -c "SELECT seq FROM pl_checkpoint")" = "$last"
'

test_expect_success 'a frame whose seq is not its work item'"'"'s: 65, quarantined as invariant' '
	pg_sql -c "INSERT INTO driver_events (sequence_index, type, block_hash) VALUES (5000, \$\$StartBlock\$\$, \$\$0x77\$\$)" &&
	id=$(pg_sql -c "SELECT id FROM driver_events WHERE sequence_index = 5000") &&
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":$id,\"seq\":4999,\"type\":\"StartBlock\",\"block_number\":99999,\"block_hash\":\"0x77\"}" \
		"{\"op\":\"end\",\"driver_id\":$id}" >wrongseq &&
	test_must_fail --code 65 pg-write <wrongseq 2>err &&
	grep -q "work item $id has sequence_index 5000 in work table \"driver_events\", the frame says seq 4999" err &&
	test "$(pg_sql -c "SELECT kind FROM pl_quarantine WHERE driver_id = $id")" = invariant &&
	test "$(pg_sql -c "SELECT is_processed FROM driver_events WHERE id = $id")" = f
'

# After its first commit pg-write knows the checkpoint and folds the read
# into the transaction's one round trip, as a guard: a checkpoint moved
# under it (a hand edit, a writer without the lock) aborts the transaction,
# which is then run again after reading it -- here that shows the next frame
# stale.  Trusting what it committed last would have applied it.
begin_line() { # DRIVER SEQ AFTER-DRIVER AFTER-SEQ HASH
	printf '{"op":"begin","driver_id":%s,"seq":%s,"type":"StartBlock","block_number":99998,"block_hash":"%s","after":{"driver_id":%s,"seq":%s}}\n{"op":"end","driver_id":%s}\n' \
		"$1" "$2" "$5" "$3" "$4" "$1"
}
test_expect_success 'a checkpoint moved under a running writer: its guard sees it, the next frame is stale (75)' '
	pg_sql -c "INSERT INTO driver_events (sequence_index, type, block_hash) VALUES (6001, \$\$StartBlock\$\$, \$\$0x61\$\$), (6002, \$\$StartBlock\$\$, \$\$0x62\$\$)" &&
	cd0=$(pg_sql -c "SELECT driver_id FROM pl_checkpoint") && cs0=$(pg_sql -c "SELECT seq FROM pl_checkpoint") &&
	a=$(pg_sql -c "SELECT id FROM driver_events WHERE sequence_index = 6001") &&
	b=$(pg_sql -c "SELECT id FROM driver_events WHERE sequence_index = 6002") &&
	rm -f in.fifo && mkfifo in.fifo || return 1
	pg-write <in.fifo >out 2>err &
	p=$!
	exec 3>in.fifo &&
	begin_line "$a" 6001 "$cd0" "$cs0" 0x61 >&3 &&
	wait_until 60 grep -q "\"seq\":6001" out &&
	pg_sql -c "UPDATE pl_checkpoint SET driver_id = $cd0, seq = $cs0" &&
	begin_line "$b" 6002 "$a" 6001 0x62 >&3 && exec 3>&- &&
	{ wait $p; rc=$?; } ; { test $rc = 75 || { echo "exit $rc"; cat err; false; }; } &&
	grep -q "builds on checkpoint driver_id $a seq 6001 but the database.s checkpoint is driver_id $cd0 seq $cs0" err &&
	test "$(pg_sql -c "SELECT seq FROM pl_checkpoint")" = "$cs0" &&
	test "$(pg_sql -c "SELECT is_processed FROM driver_events WHERE id = $b")" = f
'

test_done
