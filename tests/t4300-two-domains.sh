#!/bin/bash
# t4300-two-domains -- two pipelines, two domains, one database: Pitchlake
# (pg-listen | block-fetch | ep-apply | pg-write) and the test suite's
# counter domain (pg-listen | jq | counter-apply | pg-write, built from the
# generic layers alone), each under its own pipeline name, run live by two
# supervisors at the same time.  Each ends equal to its offline replay and
# to an independent model, and neither sees the other's bookkeeping.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
. "$SRC/tests/counter/rows.sh"
export TEST_BIN=${TEST_BIN:-$SRC/build/test-bin}
[ -x "$TEST_BIN/counter-apply" ] || skip_all "no counter-apply (make builds it into build/test-bin)"
pg_start
export PL_TEST_NO_SLEEP=1

# checkpoint_of PIPELINE: its checkpoint's seq (empty if none)
checkpoint_of() { pg_sql -c "SELECT seq FROM pl_checkpoint WHERE pipeline = '$1'"; }
wait_for() { pg_wait_checkpoint "$2" "$1"; }
# start NAME ARGS...: a supervisor in the background (pid in NAME.pid)
start() { pl_supervise "$@"; }
stop() { pl_unsupervise "$1"; }
test_when_finished 'stop pitchlake; stop counter'
last_seq() { grep '"op":"begin"' "$1" | tail -n 1 | sed 's/.*"seq":\([0-9]*\).*/\1/'; }

test_expect_success 'set up: both schemas, both chains, the offline expectations' '
	pl-migrate >/dev/null &&
	pg_sql -f "$SRC/tests/counter/schema.sql" >/dev/null &&
	test "$(pg_sql -c "SELECT string_agg(name, \$\$,\$\$ ORDER BY name) FROM pl_pipeline WHERE work_table IS NOT NULL")" = "counter,pitchlake" &&
	chain-sim --seed 21 --blocks 200 --vaults 3 --lps 5 --buyers 4 --reorg-rate 40 >chain &&
	ep-apply --dump-state expect-pitchlake <chain >/dev/null &&
	counter_rows 5 400 >rows &&
	counter_json <rows | counter_frames >counter-frames &&
	"$TEST_BIN/counter-apply" --dump-state expect-counter <counter-frames >/dev/null &&
	awk -f "$SRC/tests/counter/model.awk" rows | LC_ALL=C sort >model
'

test_expect_success 'with several pipelines registered, the programs want a name' '
	test_must_fail --code 78 pg-snapshot 2>err &&
	grep -q "several are registered" err
'

test_expect_success 'backlogs of both, then live items, under two supervisors at once' '
	head -n 200 rows | pg_sql -c "\\copy counter_work (seq, type, block_number, block_hash, key, amount, reset) FROM STDIN" &&
	awk "/\"op\":\"begin\"/{b++} b<=100" chain | pg-produce --quiet &&
	start pitchlake --pipeline pitchlake &&
	start counter --config "$SRC/tests/counter/counter.conf" &&
	tail -n +201 rows | pg_sql -c "\\copy counter_work (seq, type, block_number, block_hash, key, amount, reset) FROM STDIN" &&
	awk "/\"op\":\"begin\"/{b++} b>100" chain | pg-produce --quiet --rate 400 &&
	wait_for counter "$(tail -n 1 rows | cut -f1)" &&
	wait_for pitchlake "$(last_seq chain)"
'

test_expect_success 'the counter pipeline equals its offline replay and the model' '
	pg-snapshot --pipeline counter -o got-counter &&
	test_cmp expect-counter got-counter &&
	pg_sql -c "SELECT key || \$\$|\$\$ || count || \$\$|\$\$ || sum FROM counter_totals ORDER BY key COLLATE \"C\"" >got-model &&
	test_cmp model got-model &&
	test "$(pg_sql -c "SELECT count(*) FROM counter_work WHERE NOT done")" = 0
'

test_expect_success 'the Pitchlake pipeline equals its offline replay' '
	PL_PIPELINE=pitchlake pg-snapshot -o got-pitchlake &&
	test_cmp expect-pitchlake got-pitchlake &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE NOT is_processed")" = 0
'

test_expect_success 'neither sees the other: checkpoints, journals, tables' '
	test "$(pg_sql -c "SELECT count(*) FROM pl_checkpoint")" = 2 &&
	test "$(pg_sql -c "SELECT count(DISTINCT pipeline) FROM pl_journal")" = 2 &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_journal WHERE pipeline = \$\$counter\$\$ AND tbl NOT LIKE \$\$counter%\$\$")" = 0 &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_journal WHERE pipeline = \$\$pitchlake\$\$ AND tbl LIKE \$\$counter%\$\$")" = 0 &&
	! grep -q counter_ got-pitchlake &&
	! grep -q VaultStates got-counter &&
	test "$(pg_sql -c "SELECT count(*) FROM counter_history")" -gt 0
'

test_expect_success 'a frame naming the other pipeline'"'"'s table is refused' '
	stop counter &&
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":900001,\"seq\":900001,\"type\":\"StartBlock\",\"block_number\":1,\"block_hash\":\"0x1\"}" \
		"{\"op\":\"put\",\"table\":\"VaultStates\",\"key\":{\"address\":\"0x1\"},\"row\":{\"address\":\"0x1\"},\"before\":null}" \
		"{\"op\":\"end\",\"driver_id\":900001}" >foreign &&
	test_must_fail --code 65 pg-write --pipeline counter --no-work-table <foreign 2>err &&
	grep -q "not registered in pl_state_tables for pipeline .counter." err &&
	test "$(pg_sql -c "SELECT pipeline || \$\$|\$\$ || kind FROM pl_quarantine WHERE driver_id = 900001")" = "counter|schema"
'

test_expect_success 'each pipeline has its own writer lock: a second counter writer waits' '
	test "$(checkpoint_of counter)" = "$(tail -n 1 rows | cut -f1)" &&
	{ sleep 30 | pg-write --pipeline counter >/dev/null 2>w1.err & } && w1=$! &&
	i=0 && while ! pg_sql -c "SELECT 1 FROM pg_locks WHERE locktype = \$\$advisory\$\$ AND granted" | grep -q 1 && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done &&
	timeout 2 pg-write --pipeline counter </dev/null 2>w2.err; test $? = 124 &&
	grep -q "waiting as standby" w2.err &&
	timeout 5 pg-write --pipeline pitchlake </dev/null 2>w3.err &&
	! grep -q standby w3.err &&
	kill $w1; true
'

test_done
