# tests/pglib.sh -- a throwaway PostgreSQL cluster for one test script.
#
#   . "$(dirname "$0")/pglib.sh"; pg_start
#
# initdb + postgres in $TEST_DIR/pg, listening only on a Unix socket there,
# as the 'postgres' user when we are root (PostgreSQL refuses to run as root).
# Exports PGHOST PGPORT PGDATABASE PGUSER so every program and psql find it;
# the cluster is stopped when the test script exits.

pg_bindir() {
	local d
	d=$(pg_config --bindir 2>/dev/null)
	if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return; fi
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/pg_ctl" ] && { echo "$d"; return; }
	done
	return 1
}

_pg_as() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
	local bindir
	bindir=$(pg_bindir) || skip_all "no PostgreSQL server binaries (run scripts/setup)"
	PG_DIR=$TEST_DIR/pg
	mkdir -p "$PG_DIR"
	if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_DIR"; fi
	PGPORT=${PL_TEST_PGPORT:-$((20000 + $$ % 20000))}
	_pg_as "$bindir/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C >"$TEST_DIR/initdb.log" 2>&1 ||
		{ cat "$TEST_DIR/initdb.log" >&2; return 1; }
	_pg_as "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		-o "-k $PG_DIR -p $PGPORT -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >/dev/null || { cat "$PG_DIR/server.log" >&2; return 1; }
	PG_BINDIR=$bindir
	export PGHOST=$PG_DIR PGPORT PGUSER=postgres PGDATABASE=postgres
	test_when_finished "pg_stop"
}

pg_stop() {
	[ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ] &&
		_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
	return 0
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
