#!/bin/sh
# The Procfile under foreman: the four stages on FIFOs in $PL_RUN_DIR follow
# the producer like the supervisor does, and foreman's SIGTERM stops them all.
. "$(dirname "$0")/lib.sh"
command -v foreman >/dev/null || skip_all "foreman is not installed (scripts/setup installs ruby-foreman)"
. "$(dirname "$0")/pglib.sh"
pg_start

stop_foreman() {
	[ -f "$TEST_DIR/foreman.pid" ] || return 0
	kill -TERM "$(cat "$TEST_DIR/foreman.pid")" 2>/dev/null
	i=0
	while kill -0 "$(cat "$TEST_DIR/foreman.pid")" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	rm -f "$TEST_DIR/foreman.pid"
}
test_when_finished stop_foreman

test_expect_success 'foreman start runs the pipeline; the database equals the offline dump' '
	pl-migrate >/dev/null || return 1
	chain-sim --seed 13 --blocks 150 --reorg-rate 40 >chain || return 1
	ep-apply --dump-state expect <chain >/dev/null || return 1
	last=$(grep "\"op\":\"begin\"" chain | tail -n 1 | sed "s/.*\"seq\":\([0-9]*\).*/\1/")
	PL_RUN_DIR="$TEST_DIR/run" foreman start -f "$SRC/Procfile" -d "$SRC" >foreman.log 2>&1 </dev/null &
	echo $! >"$TEST_DIR/foreman.pid"
	pg-produce --quiet --rate 300 <chain || return 1
	i=0
	while [ "$(pg_sql -c "SELECT coalesce(max(seq), 0) FROM pl_checkpoint")" -lt "$last" ] && [ $i -lt 600 ]; do
		sleep 0.1; i=$((i + 1))
	done
	pg-snapshot -o got || return 1
	stop_foreman
	tail -n 5 foreman.log
	test_cmp expect got &&
	grep -q "listen.1" foreman.log &&
	! pgrep -f "$BIN/pg-listen" >/dev/null && ! pgrep -f "$BIN/pg-write" >/dev/null
'

test_done
