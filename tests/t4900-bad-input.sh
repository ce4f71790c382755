#!/bin/bash
# t4900-bad-input -- the bad-input corpus of every program, table-driven:
# tests/data/bad-input/PROGRAM/cases.tsv (input on stdin) and options.tsv
# (bad options and arguments).  Each case asserts the exit code, a message
# (naming the input line for stdin), the one pl_quarantine row where the
# program records its refusals (stored whatever the bytes: every invalid
# byte and NUL as \xNN), and that nothing was partially written: the
# database's state, journal, checkpoint and producer tables unchanged, and
# on stdout only the complete frames of the good lines before the bad one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1
CORPUS=$DATA/bad-input
T=$TEST_DIR
LONG=$(head -c 100000 /dev/zero | tr '\0' a)

test_expect_success 'set up: the schema, a block, a work item' '
	pl-migrate >/dev/null &&
	pg_sql -c "INSERT INTO starknet_blocks VALUES (100, \$\$0x64a\$\$, \$\$0x63a\$\$, 1735711200, \$\$MINED\$\$)" \
		-c "INSERT INTO driver_events (sequence_index, type, block_hash) VALUES (1, \$\$StartBlock\$\$, \$\$0x64a\$\$)" &&
	mkfifo "$T/fifo" && ln -s "$T/snap-target" "$T/link" && : >"$T/snap-target"
'

# fingerprint: everything a program could write
fingerprint() {
	pg-snapshot --pipeline pitchlake &&
		pg_sql -c "SELECT count(*), count(*) FILTER (WHERE is_processed) FROM driver_events" \
			-c "SELECT count(*) FROM events" -c "SELECT count(*) FROM starknet_blocks" \
			-c "SELECT count(*) FROM vault_registry"
}
# complete_frames FILE: every begin line of FILE has its end line
complete_frames() {
	awk '/"op":"begin"/ { if (open) exit 1; open = 1 } /"op":"end"/ { if (!open) exit 1; open = 0; n++ }
		END { if (open) exit 1 }' "$1"
}
# expand SPEC FILE: the case input, printf %b with @LONG@ and @HUGE@
expand() {
	local s=$1
	if [ "${s#*@HUGE@}" != "$s" ]; then
		local pre=${s%%@HUGE@*} post=${s#*@HUGE@}
		{ printf '%b' "$pre" && head -c $((17 << 20)) /dev/zero | tr '\0' a && printf '%b' "$post"; } >"$2"
	else
		printf '%b' "${s//@LONG@/$LONG}" >"$2"
	fi
}

n_cases=0
# One test per case of PROGRAM's cases.tsv.
stdin_cases() {
	local prog=$1 name code re kind input i=0
	while IFS=$'\t' read -r name code re kind input; do
		case $name in '#'* | '') continue ;; esac
		i=$((i + 1)) n_cases=$((n_cases + 1))
		test_expect_success "$prog: $name -> $code" '
			expand "$input" in &&
			q0=$(pg_sql -c "SELECT coalesce(max(id), 0) FROM pl_quarantine") &&
			fingerprint >before &&
			{ timeout 120 "$prog" <in >out 2>err; rc=$?; } ;
			test "$rc" = "$code" || { echo "exit $rc, want $code"; cat err; exit 1; }
			grep -Eq -- "$re" err || { echo "message does not match /$re/:"; head -c 2000 err; exit 1; }
			grep -q "^$prog: " err || { echo "no $prog: prefix"; exit 1; }
			fingerprint >after && test_cmp before after &&
			{ complete_frames out || { echo "a partial frame on stdout"; exit 1; }; } &&
			if [ "$prog" = pg-write ]; then ! grep -q "\"op\":\"ack\"" out; fi &&
			pg_sql -c "SELECT kind FROM pl_quarantine WHERE id > $q0" >q &&
			{ echo "quarantined:"; cat q; } &&
			if [ "$kind" = - ]; then
				test ! -s q
			else
				test "$(wc -l <q)" = 1 && grep -Eqx -- "$kind" q &&
				# a line over the limit is never read whole: not stored (at most the frame before it)
				frame="length(frame) > 0" &&
				case $input in *@HUGE@*) frame="length(coalesce(frame, \$\$\$\$)) < 1048576" ;; esac &&
				test "$(pg_sql -c "SELECT program = \$\$$prog\$\$ AND $frame AND length(reason) > 0 FROM pl_quarantine WHERE id > $q0")" = t &&
				if LC_ALL=C grep -q "[^ -~]" in; then
					test "$(pg_sql -c "SELECT frame LIKE \$\$%\\\\x%\$\$ FROM pl_quarantine WHERE id > $q0")" = t
				fi
			fi
		'
	done <"$CORPUS/$prog/cases.tsv"
	test "$i" -gt 10 || { echo "not ok - $prog: only $i cases"; exit 1; }
}

for prog in pg-write block-fetch pg-produce ep-apply; do
	stdin_cases "$prog"
done

test_expect_success 'the corpus left the database as it was: nothing processed, one block' '
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE is_processed")" = 0 &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_checkpoint")" = 0
'

# One test per case of PROGRAM's options.tsv: the exit code, the message,
# nothing on stdout.
option_cases() {
	local prog=$1 name code re args
	while IFS=$'\t' read -r name code re args; do
		case $name in '#'* | '') continue ;; esac
		n_cases=$((n_cases + 1))
		test_expect_success "$prog: $name -> $code" '
			eval "set -- $args" &&
			{ timeout 60 "$prog" "$@" >out 2>err; rc=$?; } ;
			case "|$code|" in *"|$rc|"*) ;; *) echo "exit $rc, want $code"; cat err; exit 1 ;; esac
			grep -Eq -- "$re" err || { echo "message does not match /$re/:"; cat err; exit 1; }
			grep -q "^$prog: " err &&
			test ! -s out &&
			test -p "$T/fifo" && test -h "$T/link" && test -c /dev/full
		'
	done <"$CORPUS/$prog/options.tsv"
}
for prog in pg-listen pg-snapshot; do
	option_cases "$prog"
done

say "bad inputs tried: $n_cases"
test_done
