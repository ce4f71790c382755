# tests/lib.sh -- a tiny TAP library in the spirit of git's test-lib.sh.
#
#   . "$(dirname "$0")/lib.sh"
#   test_expect_success 'name' 'commands'
#   test_done
#
# Helpers: test_cmp A B, test_must_fail [--code N] cmd..., test_when_finished cmd,
# test_json [--slurp] FILE FILTER, wait_until [SECONDS] cmd..., skip_all "reason".  $BIN is where the
# programs are (make check sets it), $TEST_DIR a fresh scratch directory
# removed at exit (kept with KEEP_TEST_DIR=1), $SRC the project root.
# Works under dash (#!/bin/sh) and bash.  See tests/README.

set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$SRC/bin}
DATA=$SRC/tests/data
export PATH="$BIN:$SRC/scripts:$PATH"
# No test uses the default HTTP port 6060 (other servers may hold it) or shows
# progress unless it asks for them (t4830-status does: --http-port any, --progress).
export PL_HTTP_PORT=0 PL_PROGRESS=none
unset PL_LOG_FORMAT PL_LOG_LEVEL
TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pl-$TEST_NAME.XXXXXX")
chmod 755 "$TEST_DIR"
test_count=0
test_failed=0
_cleanups=""
_in_test_body=""

_run_cleanups() {
	eval "$_cleanups"
	[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$TEST_DIR"
}
trap _run_cleanups EXIT

# test_when_finished CMD: at top level, run CMD when the script exits; inside a
# test body, run CMD when that test ends (passed or failed, also after an
# `exit` in the body), in the body's shell, so it sees the body's variables;
# a failing CMD fails the test.  Last registered, first run.
test_when_finished() {
	if [ -n "$_in_test_body" ]; then
		_test_cleanups="{ $*
} || _test_cleanup_failed=1
$_test_cleanups"
	else
		_cleanups="$*; $_cleanups"
	fi
}

# The EXIT trap of a test body's subshell: run the body's cleanups (all of
# them), and make a failing one fail the test.
_finish_test_body() {
	_body_rc=$1 _test_cleanup_failed=0
	trap - EXIT
	eval "$_test_cleanups"
	if [ "$_test_cleanup_failed" != 0 ]; then
		echo "test_when_finished: a cleanup of this test failed; the cleanups:" >&2
		printf '%s' "$_test_cleanups" | sed -n 's/^{ /    /p' >&2
		[ "$_body_rc" -ne 0 ] || _body_rc=1
	fi
	exit "$_body_rc"
}

say() { printf '# %s\n' "$*"; }

test_expect_success() {
	test_count=$((test_count + 1))
	local name=$1 body=$2 out
	# The body runs in a subshell (it cannot change the script's variables);
	# its cleanups run when it ends.
	out=$(
		exec 2>&1
		cd "$TEST_DIR" || exit 1
		_in_test_body=1 _test_cleanups=""
		trap '_finish_test_body $?' EXIT
		eval "$body"
	)
	local rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok $test_count - $name"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $name"
		# to stderr: prove shows it without -v, so a CI log says why
		printf '%s\n' "$out" | tail -n 40 | sed 's/^/#   /' >&2
	fi
}

# test_must_fail [--code N] cmd...: cmd must exit non-zero (and with N if given),
# not by a signal other than SIGPIPE.
test_must_fail() {
	local want=""
	if [ "$1" = "--code" ]; then want=$2; shift 2; fi
	"$@"
	local rc=$?
	if [ $rc -eq 0 ]; then echo "test_must_fail: '$*' succeeded" >&2; return 1; fi
	if [ $rc -gt 128 ] && [ $rc -ne 141 ]; then echo "test_must_fail: '$*' died by signal $((rc - 128))" >&2; return 1; fi
	if [ -n "$want" ] && [ "$rc" != "$want" ]; then echo "test_must_fail: '$*' exited $rc, wanted $want" >&2; return 1; fi
	return 0
}

# wait_until [SECONDS] CMD...: run CMD every 0.1 s until it succeeds, at most
# SECONDS (default 120); on timeout say what was waited for and fail.
wait_until() {
	local n=1200 i=0
	if [ $# -gt 1 ]; then
		case $1 in
		'' | *[!0-9]*) ;;
		*) n=$(($1 * 10)) && shift ;;
		esac
	fi
	until "$@"; do
		i=$((i + 1))
		[ $i -lt $n ] || { echo "timed out after $((n / 10)) s waiting for: $*"; return 1; }
		sleep 0.1
	done
}

test_cmp() {
	if ! cmp -s "$1" "$2"; then
		echo "test_cmp: $1 and $2 differ:" >&2
		diff -u "$1" "$2" | head -n 40 >&2
		return 1
	fi
}

# test_json [--slurp] FILE FILTER: FILTER (a jq expression) must give true,
# and nothing but true, for every JSON value in FILE (each line of an NDJSON
# file, or the one document); with --slurp, once for the array of all of them
# (e.g. 'length == 3', 'map(.op) | unique == ["ack"]').  A value that is not
# JSON or an error in FILTER fails, and so does an empty file (but with
# --slurp, FILTER sees []).  On failure prints the values for which FILTER was
# not true, and the file.
test_json() {
	local slurp="" prog bad
	if [ "$1" = "--slurp" ]; then slurp=1; shift; fi
	if [ $# -ne 2 ]; then echo "test_json: usage: test_json [--slurp] FILE FILTER" >&2; return 1; fi
	if [ ! -f "$1" ]; then echo "test_json: $1: no such file" >&2; return 1; fi
	# The filter on its own lines: a '#' comment in it cannot eat the rest.
	prog="def _pl_true: [
$2
] | length > 0 and all(. == true);"
	if [ -n "$slurp" ]; then
		bad=$(jq -n -c "$prog [inputs] | select(_pl_true | not)" "$1" 2>&1) &&
			jq -n -e "$prog [inputs] | _pl_true" "$1" >/dev/null 2>&1 && return 0
	else
		bad=$(jq -n -c "$prog inputs | select(_pl_true | not)" "$1" 2>&1) &&
			jq -n -e "$prog [inputs | _pl_true] | length > 0 and all" "$1" >/dev/null 2>&1 && return 0
	fi
	echo "test_json: '$2' is not true${slurp:+ for the whole (slurped) file} in $1:" >&2
	[ -z "$bad" ] || { echo "  not true for (or jq's error):"; printf '%s\n' "$bad" | head -n 10 | sed 's/^/    /'; } >&2
	if [ -s "$1" ]; then
		echo "  the file (first 40 lines):" >&2
		head -n 40 "$1" | sed 's/^/    /' >&2
	else
		echo "  the file is empty" >&2
	fi
	return 1
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

test_done() {
	echo "1..$test_count"
	[ $test_failed -eq 0 ]
	exit $?
}
