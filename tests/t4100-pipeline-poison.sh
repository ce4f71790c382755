#!/bin/sh
# Poison input stops the live pipeline for good: an event that breaks the
# contract's invariants makes ep-apply exit 65, the supervisor records it in
# pl_quarantine, does not restart, and exits 65; everything before the bad
# block is committed, nothing of it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

test_expect_success 'set up a chain whose block 40 carries a corrupted Deposit' '
	pl-migrate >/dev/null &&
	chain-sim --seed 5 --blocks 80 --no-reorgs >chain &&
	n=$(grep -n "\"name\":\"Deposit\"" chain | awk -F: "\$1 > 300 {print \$1; exit}") &&
	test -n "$n" &&
	bad_driver=$(head -n $n chain | grep "\"op\":\"begin\"" | tail -n 1 | sed "s/.*\"driver_id\":\([0-9]*\).*/\1/") &&
	echo $bad_driver >bad_driver &&
	sed "${n}s/\"data\":\[\"0x[0-9a-f]*\"/\"data\":[\"0x1\"/" chain >poisoned &&
	! cmp -s chain poisoned &&
	pg-produce --quiet <poisoned
'

test_expect_success 'the supervisor stops with 65 and does not restart' '
	test_must_fail --code 65 run-pipeline --run-dir run --acks acks --max-restarts 3 2>log &&
	grep -q "permanent failure (exit 65)" log &&
	test $(grep -c "pipeline started" log) -eq 1 &&
	grep -q "ep-apply: fatal: unable to apply input at line [0-9]* (driver event $(cat bad_driver)): Deposit" log &&
	grep "run-pipeline: [a-z-]* exited with" log >reports &&
	test $(wc -l <reports) -eq 1 &&
	grep -q "run-pipeline: ep-apply exited with 65" reports
'

test_expect_success 'pl_quarantine names ep-apply, the driver event and the reason' '
	test "$(pg_sql -c "SELECT program, driver_id FROM pl_quarantine")" = "ep-apply|$(cat bad_driver)" &&
	pg_sql -c "SELECT reason FROM pl_quarantine" | grep -q "in the event but"
'

test_expect_success 'work before the bad block is committed, the bad block is not' '
	test "$(pg_sql -c "SELECT seq FROM pl_checkpoint")" -eq $(($(cat bad_driver) - 1)) &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE is_processed")" -eq $(($(cat bad_driver) - 1))
'

# An apply stage whose process outlives its output by a moment (a wrapper
# script, a slow exit): pg-write sees EOF and exits first, and is the first
# exit the supervisor hears of.  The report still names the stage that
# failed, and the decision still follows its code.
test_expect_success 'the report names the failing stage, not the downstream one that exited first' '
	mkdir -p wrap &&
	cat >wrap/ep-apply <<-\EOF &&
	#!/bin/sh
	# ep-apply, whose exit lags behind the end of its output: it waits until
	# pg-write (its downstream, a child of the same supervisor) has exited.
	ep-apply "$@"
	rc=$?
	exec >&-
	i=0
	while pgrep -P "$PPID" -x pg-write >/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	exit $rc
	EOF
	chmod +x wrap/ep-apply &&
	printf "%s\n" "PIPELINE=pitchlake" "FETCH=(block-fetch)" "FETCH_USES_DB=1" "APPLY=(\"$TEST_DIR/wrap/ep-apply\")" >wrap.conf &&
	test_must_fail --code 65 run-pipeline --config wrap.conf --run-dir run2 --acks acks2 --max-restarts 3 2>log2 &&
	grep -q "permanent failure (exit 65)" log2 &&
	grep "run-pipeline: [a-z-]* exited with" log2 >reports &&
	test $(wc -l <reports) -eq 1 &&
	grep -q "run-pipeline: ep-apply exited with 65; " reports
'

test_done
