#!/bin/bash
# t4400-standby-takeover -- a hot standby that takes over never commits a
# state it did not compute from the database.  Supervisor B starts while A
# is active (B's pg-write waits for the lock); B's pg-listen is held while A
# applies more items; then A stops and B takes over.  B's apply filter sees
# that the first item it is given follows items it never saw (stale state:
# exit 75, not 65), the formation restarts from a fresh snapshot, and the
# database ends equal to the offline replay with nothing quarantined.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

last_seq() { grep '"op":"begin"' "$1" | tail -n 1 | sed 's/.*"seq":\([0-9]*\).*/\1/'; }
part() { awk -v lo="$1" -v hi="$2" '/"op":"begin"/{b++} b>=lo && b<=hi' chain; }
start() { pl_supervise "$@"; }
stop() { pl_unsupervise "$1"; }
# wait_log NAME PATTERN: until NAME.log has PATTERN (60 s at most)
wait_log() {
	local i=0
	until grep -q -- "$2" "$TEST_DIR/$1.log" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 600 ] || { echo "timed out waiting for '$2' in $1.log"; cat "$TEST_DIR/$1.log"; return 1; }
		sleep 0.1
	done
}
# the listener this script stopped, and no other process: a pkill by name
# here continued the listener another script on the machine held (two
# suites side by side failed this way)
test_when_finished '[ -s "$TEST_DIR/listener" ] && kill -CONT "$(cat "$TEST_DIR/listener")" 2>/dev/null; stop a; stop b'

test_expect_success 'set up: a chain with reorgs in three parts, A active on the first' '
	pl-migrate >/dev/null &&
	chain-sim --seed 17 --blocks 240 --vaults 3 --lps 5 --buyers 4 --reorg-rate 30 >chain &&
	ep-apply --dump-state expect <chain >/dev/null &&
	part 1 80 >p1 && part 81 160 >p2 && part 161 100000 >p3 &&
	pg-produce --quiet <p1 &&
	start a &&
	pg_wait_checkpoint "$(last_seq p1)"
'

test_expect_success 'B starts as a standby; its listener is held while A applies more' '
	start b &&
	wait_log b "waiting as standby" &&
	listener=$(pgrep -P "$(cat "$TEST_DIR/b.pid")" -x pg-listen) &&
	test -n "$listener" && echo "$listener" >listener &&
	kill -STOP "$listener" &&
	pg-produce --quiet --rate 400 <p2 &&
	pg_wait_checkpoint "$(last_seq p2)"
'

test_expect_success 'A stops, more items arrive, B takes over' '
	stop a &&
	pg-produce --quiet <p3 &&
	{ kill -CONT "$(cat listener)" && pg_wait_checkpoint "$(last_seq chain)" ||
		{ echo "# b.log:"; cat "$TEST_DIR/b.log"; echo "# a.log:"; tail -n 20 "$TEST_DIR/a.log"; false; }; }
'

test_expect_success 'B noticed its stale state and restarted instead of committing it' '
	grep -q "stale state: work item [0-9]* follows item" "$TEST_DIR/b.log" &&
	grep -q "transient failure (exit" "$TEST_DIR/b.log" &&
	! grep -q "permanent failure" "$TEST_DIR/b.log"
'

test_expect_success 'the database equals the offline replay; nothing was quarantined' '
	pg-snapshot -o got && test_cmp expect got &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_quarantine")" = 0 &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE NOT is_processed")" = 0
'

test_done
