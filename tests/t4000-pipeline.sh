#!/bin/sh
# The live pipeline on a real PostgreSQL: the supervisor runs pg-listen |
# block-fetch | ep-apply | pg-write while pg-produce plays the Juno plugin.
# The state tables must end up equal to ep-apply's offline dump of the same
# chain (byte for byte, journal and checkpoint included), whatever happens
# in between: a backlog at start-up, restarts mid-stream, killed stages.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

wait_for_seq() { pg_wait_checkpoint "$1"; }

last_seq() { grep '"op":"begin"' "$1" | tail -n 1 | sed 's/.*"seq":\([0-9]*\).*/\1/'; }

start_pipeline() {
	# stdout closed: a background job holding the test's $(...) pipe would hang it
	run-pipeline --run-dir "$TEST_DIR/run" --acks "$TEST_DIR/acks" "$@" >/dev/null 2>>"$TEST_DIR/pipeline.log" &
	echo $! >"$TEST_DIR/pipeline.pid"
}
stop_pipeline() {
	[ -f "$TEST_DIR/pipeline.pid" ] || return 0
	pid=$(cat "$TEST_DIR/pipeline.pid")
	kill -TERM "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	rm -f "$TEST_DIR/pipeline.pid"
	return 0
}
test_when_finished 'stop_pipeline'

test_expect_success 'set up: schema, chain, offline expectation' '
	pl-migrate >/dev/null &&
	chain-sim --seed 11 --blocks 250 --vaults 4 --lps 6 --buyers 5 --reorg-rate 40 --transfers >chain &&
	ep-apply --stats --dump-state expect <chain >/dev/null 2>stats &&
	grep -q "archived rounds [1-9]" stats &&
	awk "/\"op\":\"begin\"/{b++} b<=120" chain >first &&
	awk "/\"op\":\"begin\"/{b++} b>120" chain >second
'

test_expect_success 'a backlog present at start-up is drained' '
	pg-produce --quiet <first &&
	start_pipeline &&
	wait_for_seq $(last_seq first)
'

test_expect_success 'live blocks follow, through a restart of the pipeline in the middle' '
	head -n $(($(wc -l <second) / 2)) second | awk "{print} /\"op\":\"end\"/{last=NR} END{}" >second.a &&
	n=$(grep -n "\"op\":\"end\"" second.a | tail -n 1 | cut -d: -f1) &&
	head -n $n second >s1 && tail -n +$((n + 1)) second >s2 &&
	pg-produce --quiet --rate 200 <s1 &&
	stop_pipeline &&
	start_pipeline &&
	pg-produce --quiet --rate 200 <s2 &&
	wait_for_seq $(last_seq chain)
'

test_expect_success 'the database equals the offline dump of the same chain' '
	pg-snapshot -o got && test_cmp expect got
'

test_expect_success 'every driver event is processed, acks were printed' '
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE NOT is_processed")" = 0 &&
	test -s acks
'

test_expect_success 'killing a stage: the supervisor restarts the formation and nothing changes' '
	n=$(grep -c "pipeline started" pipeline.log) &&
	pkill -KILL -f "bin/ep-apply --state $TEST_DIR/run/" &&
	i=0 && while [ $(grep -c "pipeline started" pipeline.log) -le $n ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done &&
	grep -q "ep-apply exited with 137" pipeline.log && grep -q "restarting" pipeline.log &&
	pg-snapshot -o got2 && test_cmp expect got2
'

test_expect_success 'after the restart, new blocks are still processed' '
	chain-sim --seed 11 --blocks 260 --vaults 4 --lps 6 --buyers 5 --reorg-rate 40 --transfers >chain2 &&
	ep-apply --dump-state expect2 <chain2 >/dev/null &&
	n=$(grep -c "\"op\":\"begin\"" chain) &&
	awk -v n=$n "/\"op\":\"begin\"/{b++} b>n" chain2 >more &&
	test -s more && pg-produce --quiet <more &&
	wait_for_seq $(last_seq chain2) &&
	pg-snapshot -o got3 && test_cmp expect2 got3
'

test_expect_success 'every log line of the supervisor starts with an ISO-8601 UTC timestamp' '
	grep "run-pipeline:" pipeline.log >lines &&
	test $(grep -c "pipeline started" lines) -ge 3 &&
	! grep -v "^[0-9]\{4\}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z run-pipeline: " lines &&
	test_must_fail --code 78 run-pipeline --config no-such.conf --run-dir run-x 2>err &&
	grep -q "^[0-9-]*T[0-9:]*Z run-pipeline: fatal: unable to read pipeline configuration .no-such.conf.\$" err
'

test_done
