#!/bin/bash
# t4400-supervisor -- run-pipeline's own reliability: SIGTERM ends every wait
# promptly (a stage that does not stop, pg-snapshot retrying its connection).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

# alive PID: the process exists and is not a zombie
alive() {
	local s
	s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $s in Z*) return 1 ;; esac
	return 0
}
dead() { ! alive "$1"; }

# wait_until SECONDS CMD...: until CMD succeeds, polling every 0.1 s
wait_until() {
	local n=$(($1 * 10)) i=0
	shift
	while ! "$@"; do
		i=$((i + 1))
		[ $i -lt $n ] || { echo "timed out after $((n / 10)) s waiting for: $*"; return 1; }
		sleep 0.1
	done
}

# start NAME ARGS...: a supervisor on run dir NAME in the background (its pid
# in NAME.pid, its log in NAME.log)
start() {
	local name=$1
	shift
	run-pipeline --run-dir "$TEST_DIR/$name" --acks "$TEST_DIR/acks-$name" "$@" \
		>/dev/null 2>>"$TEST_DIR/$name.log" &
	echo $! >"$TEST_DIR/$name.pid"
}
# started NAME N: its log says "pipeline started" at least N times
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
# kill_all NAME: at the end, SIGKILL to whatever is left of NAME: its
# supervisors, their children, the stages its stages.pid lists, the orphans
# the test recorded (only processes of this test: our programs, our run dirs)
kill_all() {
	local p sups
	sups=$(cat "$TEST_DIR/$1.pid" "$TEST_DIR/$1/supervisor.pid" 2>/dev/null)
	for p in $sups $(for p in $sups; do pgrep -P "$p"; done) \
		$(awk '{ print $1 }' "$TEST_DIR/$1/stages.pid" "$TEST_DIR/orphans-$1" 2>/dev/null); do
		ps -o args= -p "$p" 2>/dev/null | grep -qF -e "$TEST_DIR" -e "$BIN/" && kill -KILL "$p" 2>/dev/null
	done
	rm -f "$TEST_DIR/$1.pid"
	return 0
}
test_when_finished 'kill_all c; kill_all d'

test_expect_success 'set up: the schema' '
	pl-migrate >/dev/null
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

test_expect_success 'SIGTERM while pg-snapshot waits for the database: exit 0, promptly' '
	pg_stop &&
	test_when_finished "pg_start_again >/dev/null" &&
	{ env -u PL_TEST_NO_SLEEP run-pipeline --run-dir c --acks acks-c >/dev/null 2>c.log & } &&
	sup=$! && echo $sup >c.pid &&
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
