#!/bin/bash
# t4850-shutdown -- graceful SIGTERM for every stage and for the supervisor:
# the current item (frame, transaction) is finished and flushed, nothing
# half-written is left, the exit code is 0, within a bounded time -- idle,
# busy, and mid-stream under the supervisor (which is then restarted and
# ends equal to the offline replay).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

ms() { echo $(($(date +%s%N) / 1000000)); }

# caught PID: until PID has a handler for SIGTERM (SigCgt bit 15 in
# /proc/PID/status), so that a signal sent now is not the default action
# (or it has exited already).
caught() {
	local i m
	for ((i = 0; i < 600; i++)); do
		grep -q "^State:[[:space:]]*Z" "/proc/$1/status" 2>/dev/null && return 0 # exited already
		[ -e "/proc/$1/status" ] || return 0
		m=$(sed -n "s/^SigCgt:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null)
		[ -n "$m" ] && (( (16#$m >> 14) & 1 )) && return 0
		sleep 0.05
	done
	return 1
}

# term PID SECONDS: SIGTERM, then wait at most SECONDS for it; its status in rc, the time in took
term() {
	local t0 i
	t0=$(ms)
	kill -TERM "$1"
	for ((i = 0; i < $2 * 20; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	took=$(($(ms) - t0))
	if kill -0 "$1" 2>/dev/null; then
		echo "pid $1 still runs $2 s after SIGTERM" >&2
		kill -KILL "$1"
		wait "$1"
		return 1
	fi
	wait "$1"
	rc=$?
}
# ends_with_frame FILE: the last line is an end line (no half frame)
ends_with_frame() { tail -n 1 "$1" | grep -q "\"op\":\"end\""; }
last_seq() { grep '"op":"begin"' "$1" | tail -n 1 | sed 's/.*"seq":\([0-9]*\).*/\1/'; }

test_expect_success 'set up: schema, a chain, its work items and frames' '
	pl-migrate >/dev/null &&
	chain-sim --seed 21 --blocks 1500 --vaults 3 --lps 5 --buyers 4 --reorg-rate 60 >chain &&
	ep-apply --dump-state expect <chain >deltas &&
	pg-produce --quiet <chain &&
	pg-listen --once >items &&
	test "$(wc -l <items)" -gt 1000
'

test_expect_success 'idle stages (waiting for input): SIGTERM -> exit 0 at once' '
	mkfifo in &&
	for p in "block-fetch" "ep-apply" "pg-write --no-work-table"; do
		{ $p <in >out 2>err & pid=$!; } &&
		exec 3>in &&
		caught $pid && sleep 0.3 &&
		term $pid 5 && exec 3>&- &&
		say "${p%% *} idle: exit $rc after $took ms" &&
		test $rc = 0 && test $took -lt 2000 &&
		test_cmp /dev/null out || { cat err; exit 1; }
	done &&
	{ pg-listen --pipeline pitchlake --after-seq 99999999 >out 2>err & pid=$!; } &&
	caught $pid && sleep 0.5 && term $pid 5 && test $rc = 0
'

test_expect_success 'busy filters: SIGTERM mid-stream -> exit 0, output ends with a whole frame, a prefix of the full output' '
	block-fetch <items >fetched-all &&
	for p in block-fetch ep-apply; do
		case $p in block-fetch) input=items full=fetched-all ;; ep-apply) input=chain full=deltas ;; esac
		{ $p <$input >out-$p 2>err & pid=$!; } &&
		for i in $(seq 3000); do [ -s out-$p ] && break; sleep 0.01; done && caught $pid &&
		term $pid 10 &&
		say "$p busy: exit $rc after $took ms, $(grep -c "\"op\":\"end\"" out-$p) frames out" &&
		test $rc = 0 &&
		ends_with_frame out-$p &&
		head -c "$(wc -c <out-$p)" $full | cmp - out-$p || { cat err; exit 1; }
	done
'

test_expect_success 'pg-write mid-stream: SIGTERM -> exit 0; every acked frame committed, every committed one acked' '
	rm -f in && mkfifo in &&
	{ pg-write <in >acks 2>err & pid=$!; } &&
	exec 3>in && caught $pid &&
	n=$(grep -n "\"op\":\"end\"" deltas | sed -n 400p | cut -d: -f1) &&
	head -n "$n" deltas >&3 &&
	for i in $(seq 600); do [ "$(wc -l <acks)" -ge 400 ] && break; sleep 0.05; done &&
	{ tail -n +$((n + 1)) deltas >&3 & feeder=$!; } &&
	term $pid 10 &&
	say "pg-write: exit $rc after $took ms, $(wc -l <acks) acks" &&
	kill $feeder 2>/dev/null; wait $feeder 2>/dev/null; exec 3>&-
	test $rc = 0 &&
	test "$(wc -l <acks)" -ge 400 &&
	test "$(tail -n 1 acks | jq .seq)" = "$(pg_sql -c "SELECT seq FROM pl_checkpoint")" &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE is_processed")" = "$(wc -l <acks)"
'

stop_sup() {
	[ -f "$TEST_DIR/sup.pid" ] || return 0
	kill -TERM "$(cat "$TEST_DIR/sup.pid")" 2>/dev/null
	while kill -0 "$(cat "$TEST_DIR/sup.pid")" 2>/dev/null; do sleep 0.1; done
	rm -f "$TEST_DIR/sup.pid"
}
test_when_finished stop_sup

test_expect_success 'the supervisor mid-stream: SIGTERM -> exit 0, no stage left, committed = acked; a restart finishes exactly' '
	pg_sql -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public" 2>/dev/null && pl-migrate >/dev/null &&
	{ pg-produce --quiet --rate 300 <chain & producer=$!; } &&
	test_when_finished "kill $producer 2>/dev/null; wait $producer 2>/dev/null; true" &&
	{ env -u PL_TEST_NO_SLEEP run-pipeline --run-dir run --acks acks-sup >/dev/null 2>sup.log & echo $! >sup.pid; } &&
	for i in $(seq 600); do [ -s acks-sup ] && [ "$(wc -l <acks-sup)" -ge 100 ] && break; sleep 0.05; done &&
	test "$(wc -l <acks-sup)" -ge 100 &&
	stages=$(cut -d" " -f1 run/stages.pid) &&
	term "$(cat sup.pid)" 15 && rm -f sup.pid &&
	say "supervisor: exit $rc after $took ms" &&
	test $rc = 0 &&
	for s in $stages; do ! kill -0 $s 2>/dev/null || { echo "stage $s still runs"; exit 1; }; done &&
	grep -q "run-pipeline: stopped" sup.log &&
	test "$(tail -n 1 acks-sup | jq .seq)" = "$(pg_sql -c "SELECT seq FROM pl_checkpoint")" &&
	wait $producer &&
	{ run-pipeline --run-dir run --acks acks-sup2 >/dev/null 2>>sup.log & echo $! >sup.pid; } &&
	pg_wait_checkpoint "$(last_seq chain)" &&
	pg-snapshot -o got && test_cmp expect got
'

test_done
