#!/bin/bash
# t2050-connect -- the PostgreSQL client habits of every program that
# connects (pg-listen, pg-write, pg-snapshot, block-fetch, pg-produce):
# psql's -d/-h/-p/-U, the PG* environment, PGCONNECT_TIMEOUT honoured for
# each attempt, the first failure reported at once and every retry logged
# with its delay, --connect-timeout, SIGTERM/SIGINT ending any wait with 0,
# and an unmigrated database naming pl-migrate.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start

PROGS="pg-listen pg-write pg-snapshot block-fetch pg-produce"

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

# until_grep PATTERN FILE SECONDS: until FILE has a line matching PATTERN
until_grep() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -q -- "$1" "$2" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

test_expect_success 'unreachable server: the first failed attempt is reported within a second, retries with their delay, then 69' '
	for p in $PROGS; do
		t0=$(ms) &&
		{ PGHOST="$TEST_DIR/no-server" $p --connect-timeout 2 </dev/null >/dev/null 2>err-$p & pid=$!; } &&
		until_grep "retrying in [0-9.]* s" err-$p 5 &&
		t1=$(ms) &&
		say "$p: first failure reported after $((t1 - t0)) ms" &&
		test $((t1 - t0)) -lt 1500 &&
		{ wait $pid; rc=$?; } &&
		test $rc = 69 &&
		grep -q "^$p: warning: unable to connect to the database: .*No such file or directory.*; retrying in [0-9.]* s (attempt 2" err-$p &&
		grep -q "^$p: fatal: unable to connect to the database: .*gave up after 2 s; is the server running" err-$p &&
		test "$(grep -c "retrying in" err-$p)" -ge 2 || { cat err-$p; exit 1; }
	done
'

test_expect_success 'SIGTERM (and SIGINT) during the retries: exit 0 at once' '
	for p in $PROGS; do
		for sig in TERM INT; do
			rm -f err-$p-$sig &&
			{ PGHOST="$TEST_DIR/no-server" $p --connect-timeout 60 </dev/null >/dev/null 2>err-$p-$sig & pid=$!; } &&
			until_grep "retrying in" err-$p-$sig 5 && caught $pid &&
			t0=$(ms) && kill -$sig $pid &&
			{ wait $pid; rc=$?; } && t1=$(ms) &&
			say "$p: SIG$sig -> exit $rc after $((t1 - t0)) ms" &&
			test $rc = 0 && test $((t1 - t0)) -lt 1500 &&
			grep -q "stopped by a signal while connecting" err-$p-$sig || { cat err-$p-$sig; exit 1; }
		done
	done
'

# A server that accepts TCP connections and never answers: only the
# connect timeout ends an attempt.
silent_server() { # PORTFILE
	exec python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1])
time.sleep(600)' "$1"
}

test_expect_success 'PGCONNECT_TIMEOUT bounds each attempt; SIGTERM ends an attempt in progress' '
	command -v python3 >/dev/null || { say "no python3: skipped"; exit 0; }
	{ silent_server port & spid=$!; } &&
	test_when_finished "kill $spid" &&
	for i in $(seq 100); do [ -s port ] && break; sleep 0.05; done &&
	t0=$(ms) &&
	test_must_fail --code 69 env PGHOST=127.0.0.1 PGPORT=$(cat port) PGCONNECT_TIMEOUT=2 \
		pg-snapshot --connect-timeout 0 2>err &&
	t1=$(ms) && say "one attempt with PGCONNECT_TIMEOUT=2: $((t1 - t0)) ms" &&
	test $((t1 - t0)) -ge 1900 && test $((t1 - t0)) -lt 8000 &&
	grep -q "no answer from the server within the connect timeout" err &&
	t0=$(ms) &&
	test_must_fail --code 69 pg-snapshot -d "host=127.0.0.1 port=$(cat port) connect_timeout=3" --connect-timeout 0 2>err &&
	t1=$(ms) && test $((t1 - t0)) -ge 2900 && test $((t1 - t0)) -lt 9000 &&
	{ PGHOST=127.0.0.1 PGPORT=$(cat port) PGCONNECT_TIMEOUT=60 pg-write --connect-timeout 120 </dev/null 2>err & pid=$!; } &&
	caught $pid && sleep 0.5 && t0=$(ms) && kill -TERM $pid &&
	{ wait $pid; rc=$?; } && t1=$(ms) &&
	say "SIGTERM during a hanging attempt: exit $rc after $((t1 - t0)) ms" &&
	test $rc = 0 && test $((t1 - t0)) -lt 1500
'

test_expect_success 'psql habits: -h -p -U -d, a conninfo and a URI, with no PG* environment' '
	pl-migrate >/dev/null &&
	(
		h=$PGHOST p=$PGPORT
		unset PGHOST PGPORT PGUSER PGDATABASE
		pg-snapshot -h "$h" -p "$p" -U postgres -d postgres >a &&
		pg-snapshot --host "$h" --port "$p" --username postgres --dbname postgres >b &&
		pg-snapshot -d "host=$h port=$p user=postgres dbname=postgres" >c &&
		pg-snapshot -d "postgresql://postgres@/postgres?host=$h&port=$p" >d &&
		pg-listen --once -h "$h" -p "$p" -U postgres -d postgres >e &&
		pl-migrate -h "$h" -p "$p" -U postgres -d postgres >f && grep -q "up to date" f &&
		pl-migrate --host="$h" --port="$p" --username=postgres --dbname=postgres --dry-run >g &&
		test_must_fail --code 69 pl-migrate -h "$h/nonexistent" -p "$p" -U postgres -d postgres 2>err &&
		test_cmp a b && test_cmp a c && test_cmp a d &&
		test_must_fail --code 78 pg-snapshot -h "$h" -p "$p" -U nosuchrole -d postgres 2>err &&
		grep -q "fatal: unable to connect to the database: .*nosuchrole.*check the connection options" err &&
		test_must_fail --code 64 pg-snapshot --port nope 2>err &&
		grep -q "unable to use --port .nope." err
	)
'

test_expect_success 'an unmigrated database: the error names pl-migrate (exit 78)' '
	pg_sql -c "CREATE DATABASE bare" &&
	for p in pg-listen pg-write pg-snapshot; do
		test_must_fail --code 78 env PGDATABASE=bare $p </dev/null >/dev/null 2>err &&
		grep -q "see pl-migrate" err || { cat err; exit 1; }
	done &&
	echo "{\"id\":1,\"sequence_index\":1,\"type\":\"StartBlock\",\"block_hash\":\"0x1\"}" |
		test_must_fail --code 78 env PGDATABASE=bare block-fetch >/dev/null 2>err &&
	grep -q "pl-migrate" err
'

test_done
