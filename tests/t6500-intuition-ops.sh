#!/bin/bash
# t6500-intuition-ops -- operations of a pipeline without a work table (the
# Intuition pipeline on real Redis and PostgreSQL, two streams): the
# Procfile under foreman (pl-stage runs its SOURCE and ACK stages); pl-verify
# replays its history from the streams (redis-read --history), finds a
# changed row, and leaves out a message moved past with redis-ack --skip; the
# supervisor's stall watchdog sees messages wait (redis-read --newest) while
# a stage is stopped, and restarts the formation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
. "$SRC/tests/intuition/redislib.sh"
. "$SRC/tests/intuition/compare.sh"
pg_start
redis_start
export PL_TEST_NO_SLEEP=1 CONSUMER_NAME=c1 PL_PIPELINE=intuition
export IX_STREAM=ix:terms,ix:positions,ix:other
A=ix:terms B=ix:positions C=ix:other

stop_foreman() {
	[ -f "$TEST_DIR/foreman.pid" ] || return 0
	kill -TERM "$(cat "$TEST_DIR/foreman.pid")" 2>/dev/null
	while kill -0 "$(cat "$TEST_DIR/foreman.pid")" 2>/dev/null; do sleep 0.1; done
	rm -f "$TEST_DIR/foreman.pid"
}
test_when_finished 'stop_foreman; pl_unsupervise ix'

caught_up() { pg_wait_checkpoint "$(ix_last_seq_max $A $B $C)" intuition || { cat ix.log foreman.log 2>/dev/null; false; }; }
pending() { rcli XPENDING "$1" postgres-sync | head -n 1; }
no_pending() { [ "$(pending $A)" = 0 ] && [ "$(pending $B)" = 0 ] && [ "$(pending $C)" = 0 ]; }

test_expect_success 'set up: a history over three streams' '
	pl-migrate >/dev/null &&
	ix-sim --seed 9 --blocks 300 --reorgs 3 --chunk 10 --model model >rec &&
	n=$(wc -l <rec) && q=$((n / 3)) &&
	head -n $q rec >part1 && sed -n "$((q + 1)),$((2 * q))p" rec >part2 && tail -n +$((2 * q + 1)) rec >part3 &&
	ix_route_feed $A $B $C <part1
'

test_expect_success 'the Procfile under foreman: SOURCE and ACK stages of the pipeline conf' '
	command -v foreman >/dev/null || { echo "foreman is not installed (scripts/setup installs ruby-foreman)"; false; } || return 1
	PL_RUN_DIR="$TEST_DIR/frun" foreman start -f "$SRC/Procfile" -d "$SRC" >foreman.log 2>&1 </dev/null &
	echo $! >"$TEST_DIR/foreman.pid" &&
	caught_up && wait_until no_pending &&
	stop_foreman &&
	grep -q "ack.1" foreman.log && grep -q "\"op\":\"ack\"" foreman.log &&
	test "$(rcli GET $A:postgres-sync:lease)" = ""
'

test_expect_success 'pl-verify replays the streams: equal; a changed row is found' '
	{ pl-verify --pipeline intuition >v1 2>&1 || { cat v1; false; }; } && grep -q "equals the replay" v1 &&
	pg_sql -c "UPDATE term SET total_assets = total_assets + 1 WHERE id = (SELECT min(id) FROM term)" &&
	{ pl-verify --pipeline intuition >out2; test $? = 1; } &&
	grep -q "differs row: term" out2 &&
	pg_sql -c "UPDATE term SET total_assets = total_assets - 1 WHERE id = (SELECT min(id) FROM term)" &&
	pl-verify --pipeline intuition >out3 && grep -q "equals the replay" out3 &&
	{ pl-verify --pipeline intuition --since 1 >/dev/null 2>err; test $? = 64; } && grep -q "no work table" err
'

test_expect_success 'a message moved past with redis-ack --skip is left out of the replay' '
	pl_supervise ix --pipeline intuition &&
	rcli XADD $B "*" payload "{\"event_name\":\"Deposited\",\"event_data\":[{\"oops\":1}]}" >/dev/null &&
	bad=$(rcli XREVRANGE $B + - COUNT 1 | head -n 1) &&
	wait_until grep -q "permanent failure (exit 65)" ix.log &&
	redis-ack --skip "$bad" $B 2>/dev/null &&
	: >ix.log && pl_supervise ix --pipeline intuition &&
	ix_route_feed $A $B $C <part2 && caught_up && wait_until no_pending &&
	{ pl-verify --pipeline intuition >v4 2>&1 || { cat v4; false; }; } && grep -q "equals the replay" v4
'

test_expect_success 'the stall watchdog covers the pipeline: a stopped stage, messages waiting' '
	pl_unsupervise ix && : >ix.log &&
	pl_supervise ix --pipeline intuition --stall-timeout 4 &&
	wait_until pl_has_stage ix pg-write && p=$(pl_stage_pid ix pg-write) &&
	kill -STOP "$p" &&
	ix_route_feed $A $B $C <part3 &&
	wait_until grep -q "stalled: work items wait" ix.log &&
	grep -q "stopped stage(s): pg-write (pid $p)" ix.log &&
	caught_up && wait_until no_pending &&
	pg-snapshot --pipeline intuition -o got &&
	ix_project model got >proj && ix_model_sorted model >exp && test_cmp exp proj
'

# the watchdog asked the source for its newest message once more since $1 (a mtime)
checked_since() { [ "$(stat -c %y run-ix/stall-backlog.out 2>/dev/null)" != "$1" ]; }
test_expect_success 'an idle pipeline is not stalled' '
	n=$(grep -c "stalled" ix.log) &&
	wait_until test -s run-ix/stall-backlog.out &&
	for i in 1 2 3 4 5 6; do
		m=$(stat -c %y run-ix/stall-backlog.out) && wait_until checked_since "$m" || return 1
	done &&
	grep -qx "[0-9]* [0-9]*" run-ix/stall-backlog.out &&
	test "$(grep -c "stalled" ix.log)" = "$n"
'

test_done
