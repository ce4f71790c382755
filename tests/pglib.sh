# tests/pglib.sh -- a throwaway PostgreSQL cluster for one test script.
#
#   . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/pglib.sh"; pg_start
#
# initdb + postgres in $PG_DIR ($TEST_DIR/pg), listening only on a Unix
# socket there, as the 'postgres' user when we are root (PostgreSQL refuses to
# run as root): scripts/pg-tmp.sh, shared with scripts/demo and
# scripts/bench-live.  Run with fsync, synchronous_commit and full_page_writes
# off (the data is thrown away).  Exports PGHOST PGPORT PGDATABASE PGUSER so
# every program and psql find it; the cluster is stopped (immediate) when the
# test script exits.  PL_TEST_PGPORT overrides the port (default from $$).
#
# Also: pg_stop, pg_start_again, pg_wait_checkpoint, pl_supervise,
# pl_unsupervise, pg_sql, pg_bindir (prints the server binaries' directory),
# _pg_as CMD... (as the postgres user when root), $PG_BINDIR.

. "${SRC:?source tests/lib.sh before tests/pglib.sh}/scripts/pg-tmp.sh"

pg_bindir() {
	pgtmp_bindir && echo "$PGTMP_BINDIR"
}

_pg_as() {
	pgtmp_as "$@"
}

pg_start() {
	pgtmp_bindir || skip_all "no PostgreSQL server binaries (run scripts/setup)"
	PG_BINDIR=$PGTMP_BINDIR
	PG_DIR=$TEST_DIR/pg
	PGPORT=${PL_TEST_PGPORT:-$((20000 + $$ % 20000))}
	pgtmp_init "$PG_DIR" || return 1
	test_when_finished "pg_stop"
	pg_start_again
}

# Start the (stopped) cluster of pg_start again, with the same settings.
pg_start_again() {
	pgtmp_start "$PG_DIR" "$PGPORT" fsync=off synchronous_commit=off full_page_writes=off
}

# pg_wait_checkpoint SEQ [PIPELINE]: until the pipeline's checkpoint (the
# only one, without PIPELINE) reaches SEQ; 120 s at most.
pg_wait_checkpoint() {
	local i=0 s where=""
	[ -n "${2:-}" ] && where=" WHERE pipeline = '$2'"
	while [ $i -lt 1200 ]; do
		s=$(pg_sql -c "SELECT max(seq) FROM pl_checkpoint$where" 2>/dev/null)
		[ -n "$s" ] && [ "$s" -ge "$1" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "timed out waiting for checkpoint seq $1${2:+ of $2} (at '$s')"
	return 1
}

pg_stop() {
	[ -n "${PG_DIR:-}" ] && pgtmp_stop "$PG_DIR" immediate
	return 0
}

# pl_supervise NAME ARGS...: run-pipeline in the background with its own run
# directory ($TEST_DIR/run-NAME), acks ($TEST_DIR/acks-NAME) and log
# ($TEST_DIR/NAME.log); its pid in $TEST_DIR/NAME.pid.  stdout is closed, so
# that the background job cannot hold a test body's output open.
pl_supervise() {
	local name=$1
	shift
	run-pipeline --run-dir "$TEST_DIR/run-$name" --acks "$TEST_DIR/acks-$name" "$@" \
		>/dev/null 2>>"$TEST_DIR/$name.log" &
	echo $! >"$TEST_DIR/$name.pid"
}

# pl_stage_pid NAME STAGE: the pid of STAGE in supervisor NAME's current
# formation (its run directory's stages.pid); pl_has_stage: it runs.
pl_stage_pid() { awk -v n="$2" '$3 == n { print $1 }' "$TEST_DIR/run-$1/stages.pid" 2>/dev/null; }
pl_has_stage() { local p; p=$(pl_stage_pid "$1" "$2") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# pl_unsupervise NAME: SIGTERM the supervisor NAME and wait until it is gone.
pl_unsupervise() {
	[ -f "$TEST_DIR/$1.pid" ] || return 0
	local pid
	pid=$(cat "$TEST_DIR/$1.pid")
	kill -TERM "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	rm -f "$TEST_DIR/$1.pid"
}

# psql with the usual quiet, fail-fast settings.
pg_sql() {
	psql -X -q -v ON_ERROR_STOP=1 -At "$@"
}

# Under `make asan` the database tests signal running programs (SIGTERM,
# SIGINT, supervisor teardown).  LeakSanitizer's exit-time "stop the world"
# tracer can deadlock when that happens (seen here: the program spinning in
# sched_yield with its tracer child in wait), hanging the suite.  So these
# tests keep AddressSanitizer and UBSan but not the leak check; the pure
# filters' tests (t0xxx, t1xxx) keep it.
if [ -n "${PL_SANITIZED:-}" ]; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
