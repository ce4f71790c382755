#!/bin/bash
# t4450-supervisor -- run-pipeline's own reliability: one supervisor per run
# directory (a lock; a second one is refused, a dead one's stages are stopped
# by the next), SIGTERM ends every wait promptly, and the stall watchdog
# restarts a formation that stopped making progress with work waiting.  The
# database ends equal to ep-apply's offline replay of the whole chain.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

last_seq() { grep '"op":"begin"' "$1" | tail -n 1 | sed 's/.*"seq":\([0-9]*\).*/\1/'; }

# alive PID: the process exists and is not a zombie
alive() {
	local s
	s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $s in Z*) return 1 ;; esac
	return 0
}
dead() { ! alive "$1"; }

# start NAME ARGS...: a supervisor on run dir NAME in the background (its pid
# in NAME.pid, its log in NAME.log)
start() {
	local name=$1
	shift
	run-pipeline --run-dir "$TEST_DIR/$name" --acks "$TEST_DIR/acks-$name" "$@" \
		>/dev/null 2>>"$TEST_DIR/$name.log" &
	echo $! >"$TEST_DIR/$name.pid"
	echo $! >>"$TEST_DIR/supervisors"
}
# started NAME N: its log says "pipeline started" at least N times
locked() { ! flock -n "$TEST_DIR/$1/supervisor.lock" true; }
started() { [ "$(grep -c "pipeline started" "$TEST_DIR/$1.log" 2>/dev/null)" -ge "$2" ]; }
# stage_pid NAME STAGE: the pid of a stage of NAME's formation (a child of its supervisor)
stage_pid() { pgrep -P "$(cat "$TEST_DIR/$1.pid")" -x "$2"; }
# stages NAME: the pids of the four stages of NAME's formation
stages() {
	local s
	for s in pg-listen block-fetch ep-apply pg-write; do stage_pid "$1" $s; done
}
has_stages() { [ "$(stages "$1" | wc -l)" -eq 4 ]; }
# stop NAME: SIGTERM to its supervisor, until it has exited
stop() {
	[ -f "$TEST_DIR/$1.pid" ] || return 0
	local pid
	pid=$(cat "$TEST_DIR/$1.pid")
	kill -TERM "$pid" 2>/dev/null
	wait_until 60 dead "$pid"
	rm -f "$TEST_DIR/$1.pid"
}
# kill_all: at the end, SIGKILL to whatever is left: every supervisor the
# test started, their children, what the run dirs' stages.pid list, the
# orphans the test recorded (only processes of this test: our programs, our
# run dirs)
kill_all() {
	local p sups
	sups=$(cat "$TEST_DIR/supervisors" "$TEST_DIR"/*/supervisor.pid 2>/dev/null)
	for p in $sups $(for p in $sups; do pgrep -P "$p"; done) \
		$(cat "$TEST_DIR"/*/stages.pid "$TEST_DIR"/orphans-* 2>/dev/null | awk '{ print $1 }'); do
		ps -o args= -p "$p" 2>/dev/null | grep -qF -e "$TEST_DIR" -e "$BIN/" && kill -KILL "$p" 2>/dev/null
	done
	return 0
}
test_when_finished 'kill_all'

test_expect_success 'set up: schema, a chain in four parts, the offline expectation' '
	pl-migrate >/dev/null &&
	chain-sim --seed 19 --blocks 200 --vaults 3 --lps 5 --buyers 4 --reorg-rate 40 >chain &&
	ep-apply --dump-state expect <chain >/dev/null &&
	awk "/\"op\":\"begin\"/{b++} b<=60" chain >part1 &&
	awk "/\"op\":\"begin\"/{b++} b>60 && b<=110" chain >part2 &&
	awk "/\"op\":\"begin\"/{b++} b>110 && b<=150" chain >part3 &&
	awk "/\"op\":\"begin\"/{b++} b>150" chain >part4 &&
	cat part1 part2 part3 part4 | cmp -s - chain
'

test_expect_success 'a supervisor killed by SIGKILL leaves its stages running' '
	pg-produce --quiet <part1 &&
	start a &&
	pg_wait_checkpoint $(last_seq part1) &&
	wait_until 60 has_stages a &&
	stages a >orphans &&
	cp orphans orphans-a &&
	kill -KILL $(cat a.pid) &&
	wait_until 60 dead $(cat a.pid) &&
	for p in $(cat orphans); do alive $p || { echo "stage $p is gone"; exit 1; }; done
'

test_expect_success 'a new supervisor on the directory stops them, then its own formation processes new work' '
	rm -f a.pid &&
	start a &&
	wait_until 120 started a 2 &&
	grep -q "adopting run directory .*: the previous supervisor (pid [0-9]*) is gone, its stages still run: stopping pg-listen (pid $(head -n 1 orphans))" a.log &&
	for p in $(cat orphans); do wait_until 30 dead $p || exit 1; done &&
	wait_until 60 has_stages a &&
	stages a >new &&
	for p in $(cat new); do ! grep -qx "$p" orphans || { echo "old stage $p is still there"; exit 1; }; done &&
	pg-produce --quiet <part2 &&
	pg_wait_checkpoint $(last_seq part2)
'

test_expect_success 'a second supervisor on a directory whose supervisor is alive is refused (78, naming its pid)' '
	stages a >before &&
	test_must_fail --code 78 timeout -k 10 60 run-pipeline --run-dir a --acks acks-a2 2>err &&
	grep -q "^[0-9T:-]*Z run-pipeline: fatal: run directory .a. is in use by another supervisor (pid $(cat a.pid)" err &&
	alive $(cat a.pid) &&
	stages a >after &&
	test_cmp before after &&
	for p in $(cat after); do alive $p || { echo "stage $p is gone"; exit 1; }; done &&
	pg-produce --quiet <part3 &&
	pg_wait_checkpoint $(last_seq part3) &&
	test $(grep -c "pipeline started" a.log) -eq 2 &&
	stop a
'

# A supervisor killed with SIGKILL while a child of it (a stage between fork
# and exec) still had the lock's descriptor: the lock outlives it.
test_expect_success 'the lock held by a process of a supervisor that is gone: the next one waits, then starts' '
	sh -c "exit 0" & gone=$!
	wait $gone && echo $gone >a/supervisor.pid || exit 1
	# the holder: until the test says so (at most 300 s), output to /dev/null
	flock "$TEST_DIR/a/supervisor.lock" sh -c "i=0; while [ ! -e \"$TEST_DIR/release\" ] && [ \$i -lt 3000 ]; do sleep 0.1; i=\$((i + 1)); done" \
		</dev/null >/dev/null 2>&1 & holder=$!
	echo $holder >orphans-holder
	wait_until 30 locked a &&
	start a &&
	wait_until 60 grep -q "the supervisor of .*/a. (pid $gone) is gone, but a process it started still holds .*/a/supervisor.lock: waiting for it" a.log &&
	! started a 3 &&
	touch release &&
	wait_until 60 started a 3 &&
	dead $holder &&
	pg_wait_checkpoint $(last_seq part3) &&
	stop a
'

test_expect_success 'SIGTERM with a stopped stage: the supervisor still exits 0, promptly' '
	start d &&
	wait_until 60 started d 1 &&
	wait_until 60 has_stages d &&
	ep=$(stage_pid d ep-apply) && test -n "$ep" &&
	kill -STOP $ep &&
	t0=$(date +%s) &&
	stop d &&
	test $(($(date +%s) - t0)) -le 15 &&
	dead $ep &&
	tail -n 1 d.log | grep -q "run-pipeline: stopped"
'

test_expect_success 'stall watchdog: a stopped stage with work waiting is named, and the formation restarts' '
	start b --stall-timeout 3 &&
	wait_until 60 started b 1 &&
	wait_until 60 has_stages b &&
	ep=$(stage_pid b ep-apply) && test -n "$ep" &&
	kill -STOP $ep &&
	pg-produce --quiet <part4 &&
	wait_until 120 grep -q "stalled: work items wait" b.log &&
	grep -q "stalled: work items wait and the checkpoint has stayed at [0-9]* for [0-9]* s; stopped stage(s): ep-apply (pid $ep); restarting the formation" b.log &&
	wait_until 30 dead $ep &&
	wait_until 60 grep -q "transient failure (exit 75): restarting" b.log &&
	wait_until 120 started b 2 &&
	pg_wait_checkpoint $(last_seq part4) &&
	stop b
'

# sigterm_pending PID: a SIGTERM waits for the (stopped) process PID
sigterm_pending() {
	local m
	m=$(awk '$1 == "ShdPnd:" { print $2 }' /proc/$1/status 2>/dev/null) && [ -n "$m" ] &&
		[ $((0x$m & 0x4000)) != 0 ]
}

# A stage killed by someone else's SIGKILL after the supervisor, stopping
# the formation, had sent it a SIGTERM is the cause of its own exit: seen in
# t6200 (ix-apply SIGKILLed, observed still dying when redis-ack's exit at
# EOF was handled; the log blamed "pg-write exited with 0").  Here the same
# order made certain: block-fetch stopped, pg-write ended by SIGTERM (0),
# the supervisor's SIGTERM pending for block-fetch, then SIGKILL.
test_expect_success 'a stage SIGKILLed by another after our SIGTERM is named as the cause' '
	start e &&
	wait_until 60 started e 1 &&
	wait_until 60 has_stages e &&
	bf=$(stage_pid e block-fetch) && pw=$(stage_pid e pg-write) && test -n "$bf" && test -n "$pw" &&
	kill -STOP $bf &&
	kill -TERM $pw &&
	wait_until 60 sigterm_pending $bf &&
	kill -KILL $bf &&
	wait_until 60 grep -q "the formation stopped" e.log &&
	grep "the formation stopped" e.log >stopped &&
	{ grep -q "run-pipeline: block-fetch exited with 137; the formation stopped (then: pg-listen stopped, " stopped || { cat stopped; false; }; } &&
	wait_until 60 started e 2 &&
	stop e
'

test_expect_success 'the database equals the offline replay of the whole chain' '
	pg-snapshot -o got && test_cmp expect got &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE NOT is_processed")" = 0
'

test_expect_success 'SIGTERM while pg-snapshot waits for the database: exit 0, promptly' '
	pg_stop &&
	test_when_finished "pg_start_again >/dev/null" &&
	{ env -u PL_TEST_NO_SLEEP run-pipeline --run-dir c --acks acks-c >/dev/null 2>c.log & } &&
	sup=$! && echo $sup >c.pid && echo $sup >>supervisors &&
	wait_until 60 pgrep -P $sup -x pg-snapshot &&
	snap=$(pgrep -P $sup -x pg-snapshot) &&
	t0=$(date +%s) &&
	kill -TERM $sup &&
	wait_until 15 dead $sup &&
	{ wait $sup; rc=$?; } &&
	test $rc = 0 &&
	test $(($(date +%s) - t0)) -le 15 &&
	dead $snap &&
	tail -n 1 c.log | grep -q "run-pipeline: stopped"
'

test_done
