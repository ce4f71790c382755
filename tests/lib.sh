# tests/lib.sh -- a tiny TAP library in the spirit of git's test-lib.sh.
#
#   . "$(dirname "$0")/lib.sh"
#   test_expect_success 'name' 'commands'
#   test_done
#
# Helpers: test_cmp A B, test_must_fail [--code N] cmd..., test_when_finished cmd,
# skip_all "reason".  $BIN is where the programs are (make check sets it),
# $TEST_DIR a fresh scratch directory removed at exit, $SRC the project root.

set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$SRC/bin}
DATA=$SRC/tests/data
export PATH="$BIN:$SRC/scripts:$PATH"
TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pl-$TEST_NAME.XXXXXX")
chmod 755 "$TEST_DIR"
test_count=0
test_failed=0
_cleanups=""

_run_cleanups() {
	eval "$_cleanups"
	[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$TEST_DIR"
}
trap _run_cleanups EXIT

test_when_finished() {
	_cleanups="$*; $_cleanups"
}

say() { printf '# %s\n' "$*"; }

test_expect_success() {
	test_count=$((test_count + 1))
	local name=$1 body=$2 out
	out=$(cd "$TEST_DIR" && eval "$body" 2>&1)
	local rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok $test_count - $name"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $name"
		printf '%s\n' "$out" | tail -n 40 | sed 's/^/#   /'
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

test_cmp() {
	if ! cmp -s "$1" "$2"; then
		echo "test_cmp: $1 and $2 differ:" >&2
		diff -u "$1" "$2" | head -n 40 >&2
		return 1
	fi
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
