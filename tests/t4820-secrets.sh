#!/bin/bash
# t4820-secrets -- a password, whichever of libpq's usual ways it comes by
# (PGPASSWORD, a conninfo's password=, a .pgpass file), never shows in the
# arguments of any process (ps, sampled while the pipeline runs), nor in
# any program's or script's output, log or run directory; a wrong one is
# not echoed in the error either.  The cluster requires a password
# (scram-sha-256 on its socket) for the whole script.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1
SECRET=Zq7-secret-41x
BAD=Wr0ng-pw-88k

db_sql() { PGPASSWORD=$SECRET pg_sql "$@"; }
# ps_watch FILE: sample every process's arguments into FILE until FILE.stop exists
ps_watch() {
	while [ ! -e "$1.stop" ]; do ps -eo args >>"$1"; sleep 0.05; done
}
# the secrets appear nowhere in the files named, nor in the test directory
no_secret() {
	! grep -rlF -e "$SECRET" -e "$BAD" "$@" 2>/dev/null | grep . ||
		{ echo "a password shows in the files above"; return 1; }
}

test_expect_success 'set up: the schema, a password, password authentication on the socket' '
	pl-migrate >/dev/null &&
	pg_sql -c "ALTER USER postgres PASSWORD \$\$$SECRET\$\$" &&
	echo "local all all scram-sha-256" >"$PG_DIR/data/pg_hba.conf" &&
	_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" reload >/dev/null &&
	i=0 && while PGPASSWORD= PGPASSFILE=/dev/null pg_sql -w -c "SELECT 1" >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done &&
	test_must_fail env PGPASSWORD= PGPASSFILE=/dev/null psql -X -w -c "SELECT 1" 2>err &&
	grep -q "password" err &&
	db_sql -c "SELECT 1" >/dev/null &&
	chain-sim --seed 5 --blocks 120 --vaults 2 --reorg-rate 50 >chain &&
	head -n "$(grep -n "\"op\":\"end\"" chain | sed -n 60p | cut -d: -f1)" chain >part1 &&
	tail -n +"$(($(wc -l <part1) + 1))" chain >part2 &&
	head -n "$(grep -n "\"op\":\"end\"" part2 | sed -n 30p | cut -d: -f1)" part2 >part2a &&
	tail -n +"$(($(wc -l <part2a) + 1))" part2 >part2b
'

# run_all NAME PART ENV...: with the environment ENV (and $ci as the conninfo
# when set), write PART of the chain, run the pipeline over it under the
# supervisor, pl-verify, pl-migrate, pg-snapshot; every process's
# arguments sampled meanwhile.  The supervisor runs until its work is done
# and the sampler has seen pg-write (a pipeline that ends by itself could
# end between two samples on a loaded machine), then gets SIGTERM.
run_all() {
	local name=$1 part=$2 sup rc i=0
	shift 2
	ps_watch "ps.$name" &
	local w=$!
	env "$@" pg-produce --quiet ${ci:+--conninfo "$ci"} <"$part" >"out.$name" 2>"err.$name"
	rc=$?
	if [ $rc = 0 ]; then
		env "$@" run-pipeline --run-dir "run.$name" --acks "acks.$name" ${ci:+--conninfo "$ci"} 2>>"err.$name" &
		sup=$!
		until [ "$(db_sql -c "SELECT count(*) FROM driver_events WHERE NOT is_processed")" = 0 ] &&
			grep -q "pg-write .*--pipeline" "ps.$name"; do
			i=$((i + 1))
			[ $i -lt 1200 ] || { echo "the pipeline did not finish, or pg-write was never seen"; rc=1; break; }
			sleep 0.1
		done
		kill -TERM $sup && wait $sup || rc=1
	fi
	[ $rc = 0 ] &&
		env "$@" pl-verify --pipeline pitchlake ${ci:+--conninfo "$ci"} >>"out.$name" 2>>"err.$name" &&
		env "$@" pl-migrate ${ci:+--conninfo "$ci"} >>"out.$name" 2>>"err.$name" &&
		env "$@" pg-snapshot ${ci:+--conninfo "$ci"} -o "snap.$name" 2>>"err.$name"
	rc=$?
	touch "ps.$name.stop"
	wait $w
	return $rc
}

test_expect_success 'PGPASSWORD: the pipeline runs; the password is in no argument, output or log' '
	ci= run_all env part1 PGPASSWORD="$SECRET" PGPASSFILE=/dev/null &&
	grep -q "equals the replay" out.env &&
	grep -q "pg-write --pipeline" ps.env &&
	no_secret ps.env out.env err.env acks.env run.env
'

test_expect_success 'a conninfo password=: never on a stage'"'"'s, psql'"'"'s or any command line but ours' '
	ci="host=$PGHOST port=$PGPORT user=postgres dbname=postgres password=$SECRET" &&
	unset PGPASSWORD &&
	ci=$ci run_all conninfo part2a PGPASSFILE=/dev/null &&
	grep -q "equals the replay" out.conninfo &&
	grep -q "bin/pg-write .*--pipeline pitchlake" ps.conninfo &&
	grep -v -e "run-pipeline" -e "pl-verify" -e "pl-migrate" -e "pg-produce" -e "pg-snapshot --conninfo host" ps.conninfo >ps.others &&
	no_secret ps.others out.conninfo err.conninfo acks.conninfo run.conninfo
'

test_expect_success 'a URI with a password: the same' '
	ci="postgresql://postgres:$SECRET@/postgres?host=$PGHOST&port=$PGPORT" &&
	ci=$ci run_all uri part2b PGPASSFILE=/dev/null &&
	grep -q "equals the replay" out.uri &&
	grep -v -e "run-pipeline" -e "pl-verify" -e "pl-migrate" -e "pg-produce" -e "pg-snapshot --conninfo postgresql" ps.uri >ps.others &&
	no_secret ps.others out.uri err.uri acks.uri run.uri
'

test_expect_success 'a .pgpass file: the same' '
	echo "*:*:*:*:$SECRET" >pgpass && chmod 600 pgpass &&
	ci= run_all pgpass /dev/null PGPASSFILE="$PWD/pgpass" &&
	grep -q "equals the replay" out.pgpass &&
	no_secret ps.pgpass out.pgpass err.pgpass run.pgpass
'

test_expect_success 'a wrong password: every program and script fails without echoing it' '
	ci="host=$PGHOST port=$PGPORT user=postgres dbname=postgres password=$BAD" &&
	for p in pg-listen pg-snapshot block-fetch pg-write; do
		test_must_fail env PGPASSFILE=/dev/null timeout 60 "$p" --conninfo "$ci" </dev/null >"bad.$p" 2>&1 || exit 1
	done &&
	test_must_fail env PGPASSFILE=/dev/null timeout 60 pg-produce --conninfo "$ci" </dev/null >bad.pg-produce 2>&1 &&
	test_must_fail env PGPASSFILE=/dev/null pl-migrate --conninfo "$ci" >bad.pl-migrate 2>&1 &&
	test_must_fail env PGPASSFILE=/dev/null pl-verify --conninfo "$ci" >bad.pl-verify 2>&1 &&
	test_must_fail env PGPASSFILE=/dev/null run-pipeline --conninfo "$ci" --run-dir run.bad --once --max-restarts 1 >bad.run-pipeline 2>&1 &&
	grep -q "password authentication failed" bad.pg-listen &&
	no_secret bad.* run.bad
'

test_done
