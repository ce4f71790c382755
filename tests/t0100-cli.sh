#!/bin/sh
# The command-line surface every program and user-facing script shares
# (common/core/opt.h, and the same in shell): --help writes the usage text to
# stdout and exits 0; --version prints one line "NAME (pitchlake) VERSION";
# an unknown option, and a value-taking option given no value, exit 64 with
# nothing on stdout and, on stderr,
#
#   NAME: unknown option '--no-such-option'      NAME: option '--x' needs a value
#   Try 'NAME --help'.                           Try 'NAME --help'.
#
# None of these does anything else: each runs in an empty directory with
# stdin empty and must leave the directory empty, and libpq is pointed at a
# server that does not exist (nothing here may need a database).
. "$(dirname "$0")/lib.sh"

# The table: every program in bin/ and every user-facing script in scripts/
# (checked below), where it is, and one of its value-taking options ("-": it
# has none).
TABLE='
ep-apply	bin	--state
chain-sim	bin	--seed
pg-listen	bin	--conninfo
block-fetch	bin	--conninfo
pg-write	bin	--conninfo
pg-snapshot	bin	--conninfo
pg-produce	bin	--conninfo
pl-status	bin	--run-dir
setup	scripts	-
pl-migrate	scripts	--conninfo
run-pipeline	scripts	--run-dir
pl-stage	scripts	-
pl-verify	scripts	--pipeline
pl-skip	scripts	--item
demo	scripts	--blocks
demo-offline	scripts	--blocks
bench-ep-apply	scripts	-
bench-pg-write	scripts	-
bench-live	scripts	--blocks
rules-apply	bin	--state
job-relay	bin	--list
action-run	bin	--max-attempts
erc8004-produce	scripts	--seed
demo-erc8004	scripts	--blocks
bench-erc8004	scripts	--blocks
demo-stakevault	scripts	--developers
bench-stakevault	scripts	--logs
rpc-listen	bin	--rpc-url
stake-apply	bin	--state
ix-apply	bin	--state
ix-sim	bin	--seed
redis-read	bin	--group
redis-ack	bin	--group
demo-intuition	scripts	--blocks
bench-intuition	scripts	--blocks
bench-shards	scripts	-
'

export BIN
export PGHOST="$TEST_DIR/no-server" PGPORT=1 PGDATABASE=none PGUSER=none PGCONNECT_TIMEOUT=2
unset PGSERVICE PGSERVICEFILE PGHOSTADDR PL_CONNINFO

in_table() { # NAME
	printf '%s\n' "$TABLE" | cut -f1 | grep -qx -- "$1"
}

# Every program (bin/*.c) and every executable in scripts/ except the sourced
# *.sh libraries has a row.
table_is_complete() {
	local f n missing=""
	for f in "$SRC"/bin/*.c; do
		n=$(basename "$f" .c)
		in_table "$n" || missing="$missing bin/$n"
	done
	for f in "$SRC"/scripts/*; do
		n=$(basename "$f")
		case $n in *.sh) continue ;; esac
		if [ ! -f "$f" ] || [ ! -x "$f" ]; then continue; fi
		in_table "$n" || missing="$missing scripts/$n"
	done
	[ -z "$missing" ] || { echo "not in the table of tests/t0100-cli.sh:$missing"; return 1; }
}

# cli NAME ARGS...: run NAME with ARGS in the empty directory cwd/, stdin
# empty, with a time limit; its stdout goes to out, stderr to err, and its
# exit code to $rc.  Fails (with a message) if NAME left anything in cwd/.
cli() {
	local name prog
	name=$1
	shift
	case $(printf '%s\n' "$TABLE" | awk -F'\t' -v n="$name" '$1 == n { print $2 }') in
	bin) prog=$BIN/$name ;;
	scripts) prog=$SRC/scripts/$name ;;
	*) echo "cli: $name is not in the table"; return 1 ;;
	esac
	rm -rf cwd && mkdir cwd || return 1
	(cd cwd && exec timeout -k 5 30 "$prog" "$@" </dev/null >../out 2>../err)
	rc=$?
	if [ -n "$(ls -A cwd)" ]; then
		echo "$name $*: left files behind in its working directory:"
		ls -A cwd | head -n 10
		return 1
	fi
}

show() { # what file
	echo "$1:"
	sed -n '1,20p' "$2" | sed 's/^/    /'
}

want_rc() { # want
	[ "$rc" = "$1" ] && return 0
	echo "exit code $rc, wanted $1"
	show stdout out
	show stderr err
	return 1
}

want_empty() { # file
	[ ! -s "$1" ] && return 0
	echo "$1 is not empty"
	show "$1" "$1"
	return 1
}

want_line() { # n file text
	[ "$(sed -n "$1p" "$2")" = "$3" ] && return 0
	echo "line $1 of $2 is not: $3"
	show "$2" "$2"
	return 1
}

check_help() { # name
	cli "$1" --help &&
	want_rc 0 && want_empty err &&
	{ [ -s out ] || { echo "nothing on stdout"; return 1; }; } &&
	{ grep -qi usage out || { echo "stdout does not mention usage"; show stdout out; return 1; }; }
}

check_version() { # name
	cli "$1" --version &&
	want_rc 0 && want_empty err &&
	{ [ "$(wc -l <out)" -eq 1 ] || { echo "not exactly one line on stdout"; show stdout out; return 1; }; } &&
	{ grep -q "^$1 (pitchlake) [0-9]" out || { echo "stdout is not '$1 (pitchlake) VERSION'"; show stdout out; return 1; }; }
}

check_unknown() { # name
	cli "$1" --no-such-option &&
	want_rc 64 && want_empty out &&
	want_line 1 err "$1: unknown option '--no-such-option'" &&
	want_line 2 err "Try '$1 --help'."
}

check_no_value() { # name option
	cli "$1" "$2" &&
	want_rc 64 && want_empty out &&
	want_line 1 err "$1: option '$2' needs a value" &&
	want_line 2 err "Try '$1 --help'."
}

test_expect_success 'the table lists every program and user-facing script' 'table_is_complete'

while read -r name _where valopt <&3; do
	[ -n "$name" ] || continue
	test_expect_success "$name --help: usage on stdout, exit 0" "check_help $name"
	test_expect_success "$name --version: one line '$name (pitchlake) VERSION'" "check_version $name"
	test_expect_success "$name --no-such-option: exit 64, the usage-error lines" "check_unknown $name"
	if [ "$valopt" != - ]; then
		test_expect_success "$name $valopt (no value): exit 64, needs a value" "check_no_value $name $valopt"
	fi
done 3<<EOF
$TABLE
EOF

test_done
