#!/bin/bash
# t4150-pl-skip -- recovering from a quarantined work item with an explicit
# skip: a driver event naming a block that does not exist stops the live
# pipeline for good (block-fetch quarantines it, exit 65); pl-skip refuses
# what it must refuse, then skips it recording who, what and why; the
# pipeline moves past it and the state equals the offline replay of the
# chain without it; pl-verify leaves the skipped item out of its replay.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

last_seq() { pg_sql -c "SELECT max(sequence_index) FROM driver_events"; }

test_expect_success 'set up: half a chain, a poisoned driver event, the other half' '
	pl-migrate >/dev/null &&
	chain-sim --seed 9 --blocks 120 --vaults 2 --reorg-rate 30 >chain &&
	n=$(grep -c "\"op\":\"begin\"" chain) &&
	awk -v h=$((n / 2)) "/\"op\":\"begin\"/{b++} b<=h" chain >first &&
	awk -v h=$((n / 2)) "/\"op\":\"begin\"/{b++} b>h" chain >second &&
	pg-produce --quiet <first &&
	pg_sql -c "INSERT INTO driver_events (sequence_index, type, block_hash)
		VALUES (nextval(\$\$driver_events_sequence\$\$), \$\$StartBlock\$\$, \$\$0xdead\$\$) RETURNING id" >bad &&
	pg-produce --quiet <second &&
	ep-apply --dump-state expect <chain >/dev/null
'

test_expect_success 'the pipeline stops on it with 65 and quarantines it' '
	test_must_fail --code 65 run-pipeline --run-dir run --acks acks --once --max-restarts 3 2>log &&
	test "$(pg_sql -c "SELECT driver_id FROM pl_quarantine")" = "$(cat bad)" &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE NOT is_processed")" -gt 1
'

test_expect_success 'pl-skip: usage errors (64)' '
	test_must_fail --code 64 pl-skip --item "$(cat bad)" 2>err && grep -q "missing --reason" err &&
	test_must_fail --code 64 pl-skip --reason x 2>err && grep -q "missing --item" err &&
	test_must_fail --code 64 pl-skip --item 1x --reason x 2>err &&
	test_must_fail --code 64 pl-skip --item 1 --reason "" 2>err &&
	test_must_fail --code 64 pl-skip --bogus 2>err && grep -q "unknown option .--bogus." err &&
	pl-skip --help | grep -q "^usage: pl-skip" &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_skip")" = 0
'

test_expect_success 'pl-skip refuses a processed item (65), an unquarantined one (65), an unknown pipeline (78)' '
	test_must_fail --code 65 pl-skip --item 1 --reason x 2>err && grep -q "processed already" err &&
	next=$(pg_sql -c "SELECT min(id) FROM driver_events WHERE NOT is_processed AND id <> $(cat bad)") &&
	test_must_fail --code 65 pl-skip --item $next --reason x 2>err && grep -q "not quarantined" err &&
	test_must_fail --code 65 pl-skip --item $next --reason x --force 2>err && grep -q "not the next one" err &&
	test_must_fail --code 65 pl-skip --item 999999 --reason x 2>err && grep -q "no work item" err &&
	test_must_fail --code 78 pl-skip --pipeline nope --item "$(cat bad)" --reason x 2>err &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_skip")" = 0
'

test_expect_success 'pl-skip refuses while the pipeline runs (75: pg-write holds its lock)' '
	mkfifo in &&
	{ pg-write <in >/dev/null 2>pgw.err & echo $! >pgw.pid; } &&
	exec 7>in &&
	test_when_finished "exec 7>&-; wait \$(cat pgw.pid) 2>/dev/null; true" &&
	i=0 && while [ "$(pg_sql -c "SELECT count(*) FROM pg_locks WHERE locktype = \$\$advisory\$\$ AND granted")" = 0 ]; do
		[ $i -lt 300 ] || { cat pgw.err; exit 1; }; sleep 0.1; i=$((i + 1)); done &&
	test_must_fail --code 75 pl-skip --item "$(cat bad)" --reason x 2>err && grep -q "is running" err &&
	test "$(pg_sql -c "SELECT is_processed FROM driver_events WHERE id = $(cat bad)")" = f
'

test_expect_success 'pl-skip skips it, recording who, what and why' '
	USER=alice pl-skip --pipeline pitchlake --item "$(cat bad)" --reason "block 0xdead never existed (ticket 12)" >out &&
	grep -q "skipped work item $(cat bad) (seq [0-9]*) of pipeline pitchlake: recorded as pl_skip 1 by postgres (os user alice), resolving 1 quarantine" out &&
	pg_sql -c "SELECT s.pipeline, s.item_id, s.seq = d.sequence_index, s.db_user, s.os_user, s.reason,
		s.quarantine_ids = ARRAY(SELECT id FROM pl_quarantine), d.is_processed
		FROM pl_skip s JOIN driver_events d ON d.id = s.item_id" >got &&
	echo "pitchlake|$(cat bad)|t|postgres|alice|block 0xdead never existed (ticket 12)|t|t" >want &&
	test_cmp want got &&
	test_must_fail --code 65 pl-skip --item "$(cat bad)" --reason again 2>err && grep -q "processed already" err
'

test_expect_success 'the pipeline moves past it: everything else applied, state == offline replay of the chain' '
	run-pipeline --run-dir run --acks acks --once 2>log2 &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE NOT is_processed")" = 0 &&
	test "$(pg_sql -c "SELECT seq FROM pl_checkpoint")" = "$(last_seq)" &&
	pg-snapshot -o got && grep "\"op\":\"put\"" got >got.rows && grep "\"op\":\"put\"" expect >expect.rows &&
	test_cmp expect.rows got.rows
'

test_expect_success 'pl-verify replays every processed item but the skipped one: equal' '
	pl-verify >out && grep -q "the database equals the replay" out
'

test_done
