#!/bin/bash
# t0150-logging -- one log format for every program and the supervisor
# (docs/logging.md): the classic "prog: fatal: unable to ..." text by
# default, logfmt (ts= level= prog= msg= exit=) with PL_LOG_FORMAT=logfmt or
# run-pipeline --log-format logfmt, levels from --log-level or PL_LOG_LEVEL;
# the message text is the same in both.
. "$(dirname "$0")/lib.sh"

export PGHOST="$TEST_DIR/no-server" PGPORT=1 PGDATABASE=none PGUSER=none PGCONNECT_TIMEOUT=2
unset PGSERVICE PGSERVICEFILE PGHOSTADDR PL_CONNINFO

# is_logfmt FILE: every line is ts=ISO level=L prog=P msg=... (keys in that order)
is_logfmt() {
	grep -v -E '^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z level=(fatal|error|warn|info|debug) prog=[a-z-]+ msg=("([^"\\]|\\.)*"|[^ "]+)( exit=[0-9]+)?$' "$1" >bad-lines
	if [ -s bad-lines ]; then
		echo "not logfmt:" >&2
		cat bad-lines >&2
		return 1
	fi
	test -s "$1"
}

test_expect_success 'default: the classic line, unchanged' '
	echo "{" | test_must_fail --code 65 ep-apply 2>err &&
	grep -q "^ep-apply: fatal: unable to apply input at line 1: " err
'

test_expect_success 'PL_LOG_FORMAT=logfmt: the same message as msg=, with level, prog and the exit code' '
	echo "{" | PL_LOG_FORMAT=logfmt test_must_fail --code 65 ep-apply 2>err &&
	is_logfmt err &&
	grep -q "level=fatal prog=ep-apply msg=\"unable to apply input at line 1: .*\" exit=65$" err
'

test_expect_success 'logfmt for every program that connects: the first failure is a warn line, the last a fatal one' '
	for p in pg-listen pg-write pg-snapshot block-fetch pg-produce pl-status; do
		case $p in pl-status) args="--once" ;; *) args="--connect-timeout 1" ;; esac
		PL_LOG_FORMAT=logfmt $p $args </dev/null >/dev/null 2>err-$p
		[ $p = pl-status ] && continue
		is_logfmt err-$p &&
		grep -q "level=warn prog=$p msg=\"unable to connect to the database: .*retrying in" err-$p &&
		grep -q "level=fatal prog=$p msg=\"unable to connect to the database: .*\" exit=69$" err-$p || exit 1
	done
'

test_expect_success '--log-level and PL_LOG_LEVEL: warn lines hidden at error, fatal always shown' '
	pg-snapshot --connect-timeout 1 --log-level error 2>err; test $? = 69 &&
	! grep -q warning err && grep -q "fatal: unable to connect" err &&
	PL_LOG_LEVEL=error pg-snapshot --connect-timeout 1 2>err; test $? = 69 &&
	! grep -q warning err && grep -q "fatal:" err &&
	PL_LOG_LEVEL=nonsense pg-snapshot --connect-timeout 1 2>err; test $? = 69 &&
	grep -q warning err &&
	test_must_fail --code 64 pg-snapshot --log-level loud 2>err &&
	grep -q "unable to use --log-level .loud.: want error, warn, info or debug" err &&
	test_must_fail --code 64 ep-apply --log-level loud 2>/dev/null
'

test_expect_success 'run-pipeline: --log-format logfmt for its own lines; bad values are usage errors' '
	test_must_fail --code 78 run-pipeline --log-format logfmt --config no-such.conf --run-dir r 2>err &&
	is_logfmt err &&
	grep -q "level=fatal prog=run-pipeline msg=\"unable to read pipeline configuration .no-such.conf.\"" err &&
	test_must_fail --code 64 run-pipeline --log-format json 2>err &&
	grep -q "want text or logfmt" err &&
	test_must_fail --code 64 run-pipeline --log-level loud 2>/dev/null
'

test_done
