#!/bin/bash
# t4810-spaces-in-paths -- the scripts work from a checkout, a run
# directory, an SQL directory, a temporary directory and output files whose
# paths have spaces (and other shell-special characters): pl-migrate,
# run-pipeline, pl-verify, pl-stage from a copy of the checkout under such a
# path, with its own bin/.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

TOP="$TEST_DIR/a checkout * with \$paces"

test_expect_success 'set up: a copy of the checkout (scripts, sql, programs) under a path with spaces' '
	mkdir -p "$TOP/bin" "$TEST_DIR/sql dir" "$TEST_DIR/tmp dir" &&
	cp -R "$SRC/scripts" "$SRC/sql" "$TOP/" &&
	cp "$SRC"/sql/*.sql "$TEST_DIR/sql dir/" &&
	for p in pg-listen block-fetch ep-apply pg-write pg-snapshot pg-produce chain-sim; do cp "$BIN/$p" "$TOP/bin/" || exit 1; done &&
	chain-sim --seed 8 --blocks 80 --vaults 2 --reorg-rate 50 >chain &&
	n=$(grep -n "\"op\":\"end\"" chain | sed -n 50p | cut -d: -f1) &&
	head -n "$n" chain >part1 && tail -n +"$((n + 1))" chain >part2
'

test_expect_success 'pl-migrate --sql-dir with spaces' '
	BIN="$TOP/bin" "$TOP/scripts/pl-migrate" --sql-dir "$TEST_DIR/sql dir" >out &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_schema_version")" = "$(ls "$TEST_DIR/sql dir" | wc -l)" &&
	BIN="$TOP/bin" "$TOP/scripts/pl-migrate" >out &&
	grep -q "up to date" out
'

test_expect_success 'run-pipeline from that checkout, run directory and acks with spaces' '
	"$TOP/bin/pg-produce" --quiet <part1 &&
	env -u BIN PATH="/usr/bin:/bin" "$TOP/scripts/run-pipeline" --run-dir "$TEST_DIR/run dir *" \
		--acks "$TEST_DIR/ack file" --once 2>log &&
	test -e "$TEST_DIR/run dir */supervisor.lock" && test -z "$(ls -d "$TEST_DIR/run dir */"fifo.* 2>/dev/null)" &&
	test -s "$TEST_DIR/ack file" &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE NOT is_processed")" = 0
'

test_expect_success 'pl-verify from there, TMPDIR and --keep with spaces' '
	env -u BIN PATH="/usr/bin:/bin" TMPDIR="$TEST_DIR/tmp dir" "$TOP/scripts/pl-verify" >out &&
	grep -q "equals the replay" out &&
	env -u BIN PATH="/usr/bin:/bin" "$TOP/scripts/pl-verify" --keep "$TEST_DIR/keep dir" >out &&
	test -s "$TEST_DIR/keep dir/db.ndjson" &&
	test -z "$(ls -A "$TEST_DIR/tmp dir")"
'

test_expect_success 'pl-stage (the Procfile stages) with a run directory with spaces' '
	"$TOP/bin/pg-produce" --quiet <part2 &&
	last=$(pg_sql -c "SELECT max(sequence_index) FROM driver_events") &&
	for st in write apply fetch listen; do
		{ PL_RUN_DIR="$TEST_DIR/stage dir" env -u BIN PATH="/usr/bin:/bin" "$TOP/scripts/pl-stage" $st 2>>stage.err & } &&
		echo $! >>stage.pids || exit 1
	done &&
	test_when_finished "kill \$(cat stage.pids) 2>/dev/null; true" &&
	pg_wait_checkpoint "$last" &&
	test -s "$TEST_DIR/stage dir/state.ndjson" &&
	env -u BIN PATH="/usr/bin:/bin" "$TOP/scripts/pl-verify" >out &&
	grep -q "equals the replay" out
'

test_done
