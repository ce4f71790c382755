#!/bin/bash
# t6210-intuition-consumer-name -- redis-read's lease and the consumer name
# (issue 11, a known gap): two processes started with the same consumer name
# must not both hold the lease (they would read and ack the same pending
# entries).  The second waits as a standby with a message that says so, and
# reads nothing; when the first is killed it takes the lease and exits 75
# (its downstream state is stale), as any standby.  A restart of a consumer
# whose previous process was killed takes the lease at once (its connection
# is gone), without waiting for the lease to expire.  Real Redis on a Unix
# socket; redis-read alone, its frames in files.
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/intuition/redislib.sh"
redis_start
export PL_TEST_NO_SLEEP=1
S=intuition
test_when_finished 'for f in "$TEST_DIR"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done; true'

frames() { grep -c '"op":"begin"' "$1" 2>/dev/null || true; }
has_frames() { [ "$(frames "$1")" -ge "$2" ]; }
# reader NAME CONSUMER: redis-read in the background, frames in NAME.out, log
# in NAME.log, its pid in NAME.pid and (once it exits) its exit code in NAME.rc
reader() {
	rm -f "$1.pid" "$1.rc"
	bash -c 'redis-read --consumer "$1" --lease 3000 "$2" >"$0.out" 2>"$0.log" & echo $! >"$0.pid"; wait $!; echo $? >"$0.rc"' \
		"$1" "$2" $S </dev/null >/dev/null 2>&1 &
	wait_until test -s "$1.pid"
}
exited() { test -s "$1.rc"; }
rc_of() { wait_until exited "$1" && cat "$1.rc"; }

test_expect_success 'set up: 40 messages in the stream' '
	ix-sim --seed 5 --blocks 200 --chunk 6 >rec &&
	head -n 40 rec >part1 && sed -n "41,60p" rec >part2 && sed -n "61,80p" rec >part3 &&
	test "$(wc -l <part3)" = 20 &&
	ix_feed $S <part1
'

test_expect_success 'the first process of consumer c1 holds the lease and reads' '
	reader a c1 &&
	wait_until has_frames a.out 40
'

test_expect_success 'a second process named c1 waits as a standby, says why, and reads nothing' '
	reader b c1 &&
	wait_until grep -q "consumer c1 of group postgres-sync is already running" b.log &&
	ix_feed $S <part2 &&
	wait_until has_frames a.out 60 &&
	! exited b &&
	test "$(frames b.out)" = 0 &&
	grep -q "give each process its own consumer name" b.log
'

test_expect_success 'the first is killed: the second takes the lease and exits 75 (stale state)' '
	kill -9 "$(cat a.pid)" &&
	test "$(rc_of b)" = 75 &&
	grep -q "took the lease" b.log &&
	test "$(frames b.out)" = 0
'

test_expect_success 'a restart of c1 after a kill -9 takes the lease at once and re-reads the pending entries' '
	reader c c1 &&
	wait_until has_frames c.out 60 &&
	kill -9 "$(cat c.pid)" &&
	reader d c1 &&
	ix_feed $S <part3 &&
	wait_until has_frames d.out 80 &&
	! grep -q standby d.log &&
	kill -TERM "$(cat d.pid)" && test "$(rc_of d)" = 0 &&
	test "$(rcli GET $S:postgres-sync:lease)" = ""
'

test_expect_success 'another consumer name is a standby as before (its own message)' '
	reader e c1 &&
	wait_until has_frames e.out 80 &&
	reader f c2 &&
	wait_until grep -q "standby: another consumer of group postgres-sync holds" f.log &&
	! grep -q "already running" f.log &&
	kill -TERM "$(cat e.pid)" && test "$(rc_of e)" = 0 &&
	test "$(rc_of f)" = 75 && test "$(frames f.out)" = 0 # f keeps the lease (a standby that took it)
'

test_expect_success 'a consumer whose name is the start of the holder'"'"'s ("c3" and "c3 x") is another consumer' '
	rcli DEL $S:postgres-sync:lease >/dev/null &&
	reader g "c3 x" &&
	wait_until has_frames g.out 80 &&
	reader h c3 &&
	wait_until grep -q "standby: another consumer of group postgres-sync holds" h.log &&
	! grep -q "took the lease" h.log &&
	test "$(frames h.out)" = 0 &&
	kill -TERM "$(cat g.pid)" && test "$(rc_of g)" = 0 &&
	test "$(rc_of h)" = 75
'

test_done
