#!/bin/bash
# t6400-intuition-streams -- one Intuition pipeline on three Redis streams
# (real Redis, real PostgreSQL): the original's per-event streams (terms,
# positions, the rest with the reorgs), merged by redis-read in id order,
# each stream acknowledged by redis-ack by the frame's (seq, driver_id); a
# backlog, then live messages while redis-read and redis-ack are killed;
# the database equals ix-sim's model, every stream ends acknowledged, and
# the merged order is the order the messages were written in.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
. "$SRC/tests/intuition/redislib.sh"
. "$SRC/tests/intuition/compare.sh"
pg_start
redis_start
export PL_TEST_NO_SLEEP=1 CONSUMER_NAME=c1
export IX_STREAM=ix:terms,ix:positions,ix:other
A=ix:terms B=ix:positions C=ix:other
test_when_finished 'pl_unsupervise ix'

caught_up() { pg_wait_checkpoint "$(ix_last_seq_max $A $B $C)" intuition || { cat ix.log; false; }; }
pending() { rcli XPENDING "$1" postgres-sync | head -n 1; }
no_pending() { [ "$(pending $A)" = 0 ] && [ "$(pending $B)" = 0 ] && [ "$(pending $C)" = 0 ]; }
starts() { grep -c "pipeline started" "$1.log"; }
more_starts() { [ "$(starts "$1")" -gt "$2" ]; }
kill_stage() {
	local n p
	wait_until pl_has_stage "$1" "$2" || return 1
	n=$(starts "$1") p=$(pl_stage_pid "$1" "$2")
	kill -9 "$p" && wait_until more_starts "$1" "$n"
}

test_expect_success 'set up: a history with reorgs over three streams' '
	pl-migrate >/dev/null &&
	ix-sim --seed 5 --blocks 400 --reorgs 5 --chunk 10 --model model >rec &&
	grep -q __rindexer_reorg rec &&
	n=$(wc -l <rec) && head -n $((n / 2)) rec >part1 && tail -n +$((n / 2 + 1)) rec >part2 &&
	ix_route_feed $A $B $C <part1 &&
	test "$(( $(rcli XLEN $A) + $(rcli XLEN $B) + $(rcli XLEN $C) ))" = $((n / 2)) &&
	test "$(rcli XLEN $A)" -gt 0 && test "$(rcli XLEN $B)" -gt 0 && test "$(rcli XLEN $C)" -gt 0
'

test_expect_success 'the merged backlog gets the look-ahead head, never above what follows before a reorg' '
	redis-read --once --group look-ahead --consumer la $A $B $C >la.frames &&
	n=$(grep -c "\"op\":\"begin\"" la.frames) && h=$(grep "\"op\":\"begin\"" la.frames | grep -c "\"head\":") &&
	echo "$h of $n frames with a head" &&
	test $((h * 10)) -ge $((n * 9)) &&
	awk -f "$SRC/tests/intuition/heads.awk" la.frames &&
	rcli XGROUP DESTROY $A look-ahead >/dev/null && rcli XGROUP DESTROY $B look-ahead >/dev/null &&
	rcli XGROUP DESTROY $C look-ahead >/dev/null
'

test_expect_success 'the backlog of the three streams, merged' '
	pl_supervise ix --pipeline intuition &&
	caught_up && wait_until no_pending
'

test_expect_success 'live messages while redis-read and redis-ack are killed' '
	head -n 80 part2 >p2a && tail -n +81 part2 >p2b &&
	ix_route_feed $A $B $C <p2a &&
	kill_stage ix redis-read && kill_stage ix redis-ack &&
	ix_route_feed $A $B $C <p2b &&
	caught_up && wait_until no_pending &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_quarantine WHERE pipeline = \$\$intuition\$\$")" = 0
'

test_expect_success 'the database equals the model, value by value' '
	pg-snapshot --pipeline intuition -o got &&
	ix_project model got >proj && ix_model_sorted model >exp && test -s exp && test_cmp exp proj
'

test_expect_success 'the merged order is the written order; its replay gives the same state' '
	redis-read --group recorder --consumer r --once $A $B $C >recorded &&
	jq -r "select(.op == \"begin\") | .message_id" recorded >ids &&
	test "$(wc -l <ids)" = "$(wc -l <rec)" &&
	LC_ALL=C sort -t- -k1,1n -k2,2n ids | cmp - ids &&
	jq -r ".payload.event_name" rec >names_rec &&
	jq -r "select(.op == \"begin\") | .message_id + \" \" + .stream" recorded | while read -r id s; do
		rcli --raw XRANGE "$s" "$id" "$id" | sed -n 3p | jq -r .event_name
	done >names_got &&
	test_cmp names_rec names_got &&
	ix-apply --dump-state replay <recorded >/dev/null &&
	test_cmp replay got
'

test_expect_success 'redis-read --replay with the streams gives the same frames' '
	for s in $A $B $C; do
		rcli --raw XRANGE $s - + | awk -v s="$s" "NR % 3 == 1 { id = \$0 } NR % 3 == 0 { print s \"\\t\" id \"\\t\" \$0 }"
	done | jq -R -c "split(\"\\t\") | {stream: .[0], id: .[1], payload: (.[2] | fromjson)}" >records &&
	jq -s -c "sort_by(.id | split(\"-\") | map(tonumber))[]" records >sorted &&
	redis-read --replay sorted $A $B $C >replayed &&
	jq -c "select(.op == \"begin\") | [.driver_id, .seq]" replayed >a &&
	jq -c "select(.op == \"begin\") | [.driver_id, .seq]" recorded >b &&
	test_cmp b a
'

test_done
