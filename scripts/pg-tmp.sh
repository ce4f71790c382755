# scripts/pg-tmp.sh -- a throwaway PostgreSQL cluster, for the tests
# (tests/pglib.sh), the demo (scripts/demo) and the benchmarks
# (scripts/bench-live).  Sourced, never run; plain POSIX sh (dash, bash).
#
#   . "$top/scripts/pg-tmp.sh"
#   pgtmp_bindir || fail "no PostgreSQL server binaries"
#   pgtmp_init DIR || fail        # DIR/data, owned by postgres when root
#   pgtmp_start DIR PORT [NAME=VALUE...] || fail
#   ...                           # PGHOST PGPORT PGUSER PGDATABASE exported
#   pgtmp_stop DIR [fast|immediate]
#
# The cluster lives in DIR: the data directory DIR/data, the logs
# DIR/initdb.log and DIR/server.log, and the server's Unix socket (it listens
# on no TCP address at all; PORT only names the socket).  PostgreSQL refuses
# to run as root, so when we are root initdb and pg_ctl run as the 'postgres'
# user (runuser) and DIR is chowned to it: the directories above DIR must be
# searchable by that user (chmod 755 a mktemp -d directory).  On failure the
# functions print the relevant log on stderr and return non-zero; the caller
# decides how to fail.  Variables of this file begin with PGTMP_ / _pgtmp_.

# pgtmp_bindir: find the server binaries (initdb, pg_ctl) and set PGTMP_BINDIR:
# a preset PGTMP_BINDIR, else `pg_config --bindir`, else the newest
# /usr/lib/postgresql/*/bin.  Returns 1 when there are none.
pgtmp_bindir() {
	for _pgtmp_d in "${PGTMP_BINDIR:-}" "$(pg_config --bindir 2>/dev/null)"; do
		if [ -n "$_pgtmp_d" ] && [ -x "$_pgtmp_d/initdb" ] && [ -x "$_pgtmp_d/pg_ctl" ]; then
			PGTMP_BINDIR=$_pgtmp_d
			return 0
		fi
	done
	_pgtmp_best="" _pgtmp_best_v=-1
	for _pgtmp_d in /usr/lib/postgresql/*/bin; do
		[ -x "$_pgtmp_d/initdb" ] && [ -x "$_pgtmp_d/pg_ctl" ] || continue
		_pgtmp_v=${_pgtmp_d%/bin}
		_pgtmp_v=${_pgtmp_v##*/}
		_pgtmp_v=${_pgtmp_v%%.*}       # 9.6 -> 9, 15 -> 15
		case $_pgtmp_v in '' | *[!0-9]*) _pgtmp_v=0 ;; esac
		if [ "$_pgtmp_v" -gt "$_pgtmp_best_v" ]; then _pgtmp_best=$_pgtmp_d _pgtmp_best_v=$_pgtmp_v; fi
	done
	[ -n "$_pgtmp_best" ] || return 1
	PGTMP_BINDIR=$_pgtmp_best
}

# pgtmp_as CMD...: run CMD as the postgres user when we are root, else as us.
pgtmp_as() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

_pgtmp_need_bindir() {
	pgtmp_bindir && return 0
	echo "pg-tmp: no PostgreSQL server binaries (run scripts/setup)" >&2
	return 1
}

# pgtmp_init DIR: create DIR (chowned to postgres when root) and a cluster in
# DIR/data: superuser postgres, trust authentication, UTF8, locale C.
pgtmp_init() {
	_pgtmp_need_bindir || return 1
	mkdir -p "$1" || return 1
	if [ "$(id -u)" = 0 ]; then chown postgres: "$1" || return 1; fi
	pgtmp_as "$PGTMP_BINDIR/initdb" -D "$1/data" -U postgres -A trust -E UTF8 --locale=C >"$1/initdb.log" 2>&1 || {
		cat "$1/initdb.log" >&2
		return 1
	}
}

# pgtmp_start DIR PORT [NAME=VALUE...]: start the cluster of DIR (waiting at
# most 60 s until it accepts connections) listening only on the Unix socket
# DIR/.s.PGSQL.PORT, with each NAME=VALUE as a server setting (-c; no spaces
# in them), and export PGHOST PGPORT PGUSER PGDATABASE for it.
pgtmp_start() {
	_pgtmp_need_bindir || return 1
	_pgtmp_dir=$1 _pgtmp_port=$2
	shift 2
	_pgtmp_opts="-k '$_pgtmp_dir' -p $_pgtmp_port -c listen_addresses=''"
	for _pgtmp_s in "$@"; do _pgtmp_opts="$_pgtmp_opts -c $_pgtmp_s"; done
	pgtmp_as "$PGTMP_BINDIR/pg_ctl" -D "$_pgtmp_dir/data" -l "$_pgtmp_dir/server.log" -w -t 60 \
		-o "$_pgtmp_opts" start >/dev/null || {
		cat "$_pgtmp_dir/server.log" >&2 2>/dev/null
		return 1
	}
	pgtmp_env "$_pgtmp_dir" "$_pgtmp_port"
}

# pgtmp_env DIR PORT: point libpq (psql and every program) at the cluster.
pgtmp_env() {
	PGHOST=$1 PGPORT=$2 PGUSER=postgres PGDATABASE=postgres
	export PGHOST PGPORT PGUSER PGDATABASE
}

# pgtmp_stop DIR [MODE]: stop the cluster of DIR, if there is one.  MODE
# immediate: no shutdown checkpoint (fastest; fine for a cluster about to be
# removed).  fast (the default): wait for a clean shutdown, and fall back to
# immediate if that fails.  Prints nothing.
pgtmp_stop() {
	[ -d "$1/data" ] || return 0
	pgtmp_bindir || return 1
	case ${2:-fast} in
	immediate) pgtmp_as "$PGTMP_BINDIR/pg_ctl" -D "$1/data" -m immediate stop >/dev/null 2>&1 ;;
	*)
		pgtmp_as "$PGTMP_BINDIR/pg_ctl" -D "$1/data" -m "${2:-fast}" -w stop >/dev/null 2>&1 ||
			pgtmp_as "$PGTMP_BINDIR/pg_ctl" -D "$1/data" -m immediate stop >/dev/null 2>&1
		;;
	esac
}
