#!/bin/bash
# t4460-tidy -- run-pipeline leaves nothing behind in its run directory but
# its lock file: not after --once, not after a permanent failure, not after
# SIGTERM (supervisor.pid, stages.pid, the FIFOs, the snapshot and its
# temporaries, the reject files are removed); the run directory stays locked
# against a second supervisor meanwhile; run/ is ignored by git.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

# has_fifo DIR: the formation's apply.fifo is there (in DIR/fifo.PID.N/)
has_fifo() {
	local f
	for f in "$1"/fifo.*/apply.fifo; do [ -p "$f" ] && return 0; done
	return 1
}
only_lock() { # DIR: nothing but supervisor.lock in DIR
	local left
	left=$(ls -A "$1")
	[ "$left" = supervisor.lock ] || { echo "left in $1: $left"; return 1; }
}

test_expect_success 'set up' '
	pl-migrate >/dev/null &&
	chain-sim --seed 2 --blocks 60 --vaults 2 >chain &&
	pg-produce --quiet <chain
'

test_expect_success 'after --once: only the lock file is left' '
	run-pipeline --run-dir run --acks acks --once 2>log &&
	grep -q "done" log && only_lock run
'

test_expect_success 'while it runs the directory is locked; after SIGTERM only the lock file is left' '
	pl_supervise a &&
	i=0 && while ! has_fifo run-a || [ ! -s run-a/stages.pid ]; do
		[ $i -lt 600 ] || exit 1; sleep 0.1; i=$((i + 1)); done &&
	test_must_fail --code 78 run-pipeline --run-dir run-a --acks /dev/null 2>err &&
	grep -q "in use by another supervisor" err &&
	test "$(cat run-a/supervisor.pid)" = "$(cat a.pid)" && has_fifo run-a &&
	pl_unsupervise a &&
	grep -q "stopped" a.log && only_lock run-a
'

test_expect_success 'after a permanent failure (a quarantined item, exit 65): only the lock file is left' '
	pg_sql -c "INSERT INTO driver_events (sequence_index, type, block_hash)
		VALUES (nextval(\$\$driver_events_sequence\$\$), \$\$StartBlock\$\$, \$\$0xdead\$\$)" &&
	test_must_fail --code 65 run-pipeline --run-dir run --acks acks --once 2>log &&
	only_lock run
'

test_expect_success 'run/ is ignored by git' '
	if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$SRC" check-ignore -q run/ && git -C "$SRC" check-ignore -q run/supervisor.lock
	fi
'

test_done
