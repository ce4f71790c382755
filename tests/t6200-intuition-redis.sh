#!/bin/bash
# t6200-intuition-redis -- the Intuition pipeline end to end on a real Redis
# (AOF, appendfsync always) and a real PostgreSQL, both started here on Unix
# sockets: redis-read | ix-apply | pg-write | redis-ack under run-pipeline
# (scripts/pipelines/intuition.conf).  A backlog then live messages (with
# reorgs) while stages and Redis itself are killed with SIGKILL; a crash
# between COMMIT and XACK re-delivers and changes nothing; a standby
# consumer of the same group takes over; the database equals ix-sim's model
# value by value and the offline replay of the recorded stream, and every
# message ends acknowledged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
. "$SRC/tests/intuition/redislib.sh"
. "$SRC/tests/intuition/compare.sh"
pg_start
redis_start aof
export PL_TEST_NO_SLEEP=1 CONSUMER_NAME=c1
S=intuition
test_when_finished 'pl_unsupervise ix; pl_unsupervise ix2'

pending() { rcli XPENDING $S postgres-sync | head -n 1; }
no_pending() { [ "$(pending)" = 0 ]; }
caught_up() { pg_wait_checkpoint "$(ix_last_seq $S)" intuition || { cat ix.log ix2.log 2>/dev/null; false; }; }
starts() { grep -c "pipeline started" "$1.log"; }
more_starts() { [ "$(starts "$1")" -gt "$2" ]; }
# kill_stage SUPERVISOR STAGE: SIGKILL the stage, wait for the formation to be restarted
kill_stage() {
	local n p
	wait_until pl_has_stage "$1" "$2" || return 1
	n=$(starts "$1") p=$(pl_stage_pid "$1" "$2")
	kill -9 "$p" && wait_until more_starts "$1" "$n"
}
# the database equals the model, value by value
equals_model() {
	pg-snapshot --pipeline intuition -o got &&
	ix_project model got >proj && ix_model_sorted model >exp && test -s exp && test_cmp exp proj
}

test_expect_success 'set up: schema; a generated history with reorgs, in four parts' '
	pl-migrate >/dev/null &&
	ix-sim --seed 7 --blocks 600 --reorgs 8 --chunk 12 --model model >rec &&
	grep -q __rindexer_reorg rec &&
	n=$(wc -l <rec) && q=$((n / 4)) &&
	head -n $q rec >part1 && sed -n "$((q + 1)),$((2 * q))p" rec >part2 &&
	sed -n "$((2 * q + 1)),$((3 * q))p" rec >part3 && tail -n +$((3 * q + 1)) rec >part4 &&
	test "$(cat part1 part2 part3 part4 | wc -l)" = "$n"
'

test_expect_success 'a backlog in Redis, then the supervisor catches up' '
	ix_feed $S <part1 &&
	pl_supervise ix --pipeline intuition &&
	caught_up &&
	wait_until no_pending
'

test_expect_success 'live messages while each stage is killed with SIGKILL' '
	head -n 60 part2 >p2a && tail -n +61 part2 >p2b &&
	ix_feed $S <p2a &&
	for st in redis-read ix-apply pg-write redis-ack; do
		kill_stage ix $st && grep -q "$st exited with 137" ix.log || return 1
	done &&
	ix_feed $S <p2b &&
	caught_up && wait_until no_pending
'

test_expect_success 'Redis itself killed with SIGKILL (AOF): nothing lost, nothing doubled' '
	head -n 40 part3 | ix_feed $S &&
	caught_up &&
	redis_stop -9 && redis_restart &&
	sed -n "41,\$p" part3 | ix_feed $S &&
	caught_up && wait_until no_pending &&
	test "$(rcli XLEN $S)" = "$(cat part1 part2 part3 | wc -l)"
'

test_expect_success 'a crash between COMMIT and XACK re-delivers; the checkpoint makes it a no-op' '
	wait_until pl_has_stage ix redis-ack && p=$(pl_stage_pid ix redis-ack) && kill -STOP "$p" &&
	head -n 30 part4 | ix_feed $S &&
	caught_up &&
	test "$(pending)" -gt 0 &&
	pg-snapshot --pipeline intuition -o before &&
	n=$(starts ix) && kill -9 "$p" && wait_until more_starts ix "$n" &&
	grep -q "redis-ack exited with 137" ix.log &&
	pg-snapshot --pipeline intuition -o after && test_cmp before after &&
	sed -n "31,40p" part4 | ix_feed $S &&
	caught_up && wait_until no_pending &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_quarantine WHERE pipeline = \$\$intuition\$\$")" = 0
'

test_expect_success 'two consumers in the group: the second is a standby, then takes over' '
	CONSUMER_NAME=c2 pl_supervise ix2 --pipeline intuition &&
	wait_until grep -q "standby" ix2.log &&
	sed -n "41,80p" part4 | ix_feed $S &&
	caught_up &&
	test "$(rcli XINFO CONSUMERS $S postgres-sync | grep -A1 "^name$" | grep -c c2)" -le 1 &&
	pl_unsupervise ix &&
	wait_until grep -q "took the lease" ix2.log &&
	wait_until grep -q "redis-read exited with 75" ix2.log &&
	sed -n "81,\$p" part4 | ix_feed $S &&
	caught_up && wait_until no_pending
'

test_expect_success 'the database equals the model, value by value (reorgs included)' '
	equals_model &&
	redis-read --replay rec | ix-apply >offline &&
	puts=$(grep -c "\"op\":\"put\",\"table\":\"deposited_events\"" offline) &&
	dels=$(grep -c "\"op\":\"del\",\"table\":\"deposited_events\"" offline) &&
	test "$dels" -gt 0 &&
	test "$(pg_sql -c "SELECT count(*) FROM deposited_events")" = $((puts - dels)) &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_journal_block WHERE pipeline = \$\$intuition\$\$")" -gt 0
'

test_expect_success 'replay of the recorded stream offline: the same state, byte-identical deltas' '
	redis-read --group recorder --consumer r --once $S >recorded &&
	test "$(grep -c "\"op\":\"begin\"" recorded)" = "$(wc -l <rec)" &&
	ix-apply --dump-state replay <recorded >d1 &&
	ix-apply <recorded >d2 && cmp d1 d2 &&
	test_cmp replay got
'

test_expect_success 'the look-ahead: frames far enough below the messages read after them are final' '
	grep -q "\"type\":\"CatchupVault\".*\"head\":" recorded &&
	grep -q "\"type\":\"CatchupVault\".*\"final\":true" d1 &&
	grep -q "\"type\":\"CatchupVault\".*\"finalized\"" d1 &&
	! grep "\"final\":true" d1 | grep -q "\"op\":\"undo\"" &&
	redis-read --group recorder2 --consumer r --count 1 --once $S >one &&
	! grep -q "\"head\":" one &&
	ix-apply --dump-state replay1 <one >/dev/null &&
	test_cmp replay1 got
'

test_done
