#!/bin/sh
# t0000-harness -- tests/lib.sh itself: cleanups registered in a test body
# run when that test ends, top-level ones when the script exits;
# test_must_fail, test_cmp and test_json detect what they should.  The
# script-level behaviour (exit status, top-level cleanups, scratch directory)
# is checked by running small test scripts under both sh and bash.
. "$(dirname "$0")/lib.sh"

test_expect_success 'a cleanup registered in a body runs when that test ends' '
	: >marker1 && : >marker2 &&
	f=marker2 &&
	test_when_finished "rm -f marker1" &&
	test_when_finished '\''rm -f "$f"'\'' &&
	test -f marker1 && test -f marker2
'

test_expect_success '... so the next test sees its effect (and it saw the body variables)' '
	! test -e marker1 && ! test -e marker2
'

test_expect_success 'body cleanups: all of them, last registered first' '
	test_when_finished "echo first >>order" &&
	test_when_finished "echo second >>order"
'

test_expect_success '... in that order' '
	printf "second\nfirst\n" >expect && test_cmp expect order
'

# A test script of our own: body cleanups after a passing body, a failing
# body, an `exit` in a body; a failing cleanup; top-level cleanups at exit.
mkdir -p "$TEST_DIR/nested/tmp"
cat >"$TEST_DIR/nested/t.sh" <<\NESTED
. "$LIB"
test_when_finished 'echo top-level >>"$OUT"'
test_expect_success 'passes' 'test_when_finished "echo body1 >>\"\$OUT\"" && true'
test_expect_success 'fails' 'test_when_finished "echo body2 >>\"\$OUT\"" && false'
test_expect_success 'exits' 'test_when_finished "echo body3 >>\"\$OUT\""; exit 0'
test_expect_success 'cleanup fails' 'test_when_finished false && test_when_finished "echo body4 >>\"\$OUT\""'
echo "$TEST_DIR" >"$OUT.dir"
echo end-of-script >>"$OUT"
test_done
NESTED
cat >"$TEST_DIR/nested/expect-tap" <<\EOF2
ok 1 - passes
not ok 2 - fails
ok 3 - exits
not ok 4 - cleanup fails
1..4
EOF2
printf '%s\n' body1 body2 body3 body4 end-of-script top-level >"$TEST_DIR/nested/expect-log"

for sh in sh bash; do
	test_expect_success "$sh: body cleanups run per test, top-level ones at exit" '
		cd nested && rm -f log log.dir &&
		{ LIB=$SRC/tests/lib.sh OUT=$PWD/log TMPDIR=$PWD/tmp '$sh' t.sh >out 2>err; rc=$?; } &&
		test $rc = 1 &&
		grep "^ok\|^not ok\|^1\.\." out >tap && test_cmp expect-tap tap &&
		grep -q "^#   test_when_finished: a cleanup of this test failed" err &&
		test_cmp expect-log log &&
		test -n "$(cat log.dir)" && ! test -e "$(cat log.dir)"
	'
done

test_expect_success 'KEEP_TEST_DIR keeps the scratch directory' '
	cd nested && rm -f log log.dir &&
	LIB=$SRC/tests/lib.sh OUT=$PWD/log TMPDIR=$PWD/tmp KEEP_TEST_DIR=1 sh t.sh >out
	d=$(cat log.dir) && test -d "$d" && rm -rf "$d"
'

test_expect_success 'a script whose tests all pass exits 0; skip_all skips' '
	printf "%s\n" ". \"\$LIB\"" "test_expect_success one true" test_done >pass.sh &&
	LIB=$SRC/tests/lib.sh TMPDIR=$PWD sh pass.sh >out &&
	printf "ok 1 - one\n1..1\n" >expect && test_cmp expect out &&
	printf "%s\n" ". \"\$LIB\"" "skip_all no reason" >skip.sh &&
	LIB=$SRC/tests/lib.sh TMPDIR=$PWD sh skip.sh >out &&
	echo "1..0 # SKIP no reason" >expect && test_cmp expect out
'

test_expect_success 'test_must_fail: exit status, --code, signals' '
	test_must_fail sh -c "exit 3" &&
	test_must_fail --code 3 sh -c "exit 3" &&
	! test_must_fail --code 4 sh -c "exit 3" 2>err &&
	grep -q "exited 3, wanted 4" err &&
	! test_must_fail true 2>err && grep -q "succeeded" err &&
	! test_must_fail --code 0 true 2>/dev/null &&
	! test_must_fail sh -c "kill -TERM \$\$" 2>err && grep -q "signal 15" err &&
	test_must_fail sh -c "kill -PIPE \$\$"
'

test_expect_success 'test_cmp: equal files pass, a difference fails and is shown' '
	printf "a\nb\n" >one && printf "a\nc\n" >two && cp one three &&
	test_cmp one three &&
	! test_cmp one two 2>err &&
	grep -q "one and two differ" err && grep -q "^-b" err && grep -q "^+c" err &&
	: >empty && ! test_cmp one empty 2>/dev/null
'

test_expect_success 'test_json: every line must give true' '
	cat >acks <<-\JSON &&
	{"op":"ack","seq":1,"driver_id":7,"tags":[1,2]}
	{"op":"ack","seq":2,"driver_id":8,"tags":[3]}
	JSON
	test_json acks ".op == \"ack\"" &&
	test_json acks ".seq > 0 and (.driver_id | type) == \"number\"" &&
	test_json acks ".tags[] > 0" &&
	test_json acks "# a comment
		has(\"seq\")" &&
	test_json --slurp acks "length == 2 and (map(.seq) == [1, 2])" &&
	! test_json acks ".seq == 1" 2>err &&
	grep -q "is not true" err && grep -q "\"seq\":2" err &&
	! test_json acks ".tags[] > 1" 2>/dev/null &&
	! test_json acks "select(.seq == 1) | true" 2>/dev/null &&
	! test_json acks ".seq" 2>/dev/null &&
	! test_json --slurp acks "length == 3" 2>/dev/null
'

test_expect_success 'test_json: empty file, bad JSON, bad filter, missing file fail' '
	: >empty && ! test_json empty "true" 2>err && grep -q "empty" err &&
	test_json --slurp empty "length == 0" &&
	echo "{\"a\":1}" >good && echo "{\"a\":" >>good && ! test_json good ".a == 1" 2>/dev/null &&
	echo "{\"a\":1}" >one.json && ! test_json one.json ".a ==" 2>/dev/null &&
	! test_json nonexistent "true" 2>/dev/null &&
	test_json one.json ".a == 1"
'

test_expect_success 'wait_until: a condition that comes true, a timeout that fails and says so' '
	rm -f later && { sleep 0.3 && : >later; } &
	wait_until 30 test -e later &&
	wait_until test -e later &&
	! wait_until 1 test -e never >out &&
	grep -q "timed out after 1 s waiting for: test -e never" out
'

test_done
