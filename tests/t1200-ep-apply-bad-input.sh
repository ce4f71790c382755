#!/bin/sh
# ep-apply fails closed on bad input: exit 65, a message naming the input
# line and the reason, and nothing of the frame in progress on stdout (only
# the frames completed before it).
. "$(dirname "$0")/lib.sh"

IN=$DATA/worked-example.ndjson
# The first Deposit of block 1001 (frame 2) is line 6 of the input.
good_prefix() { head -n 5 "$IN"; }
DEP=$(sed -n 6p "$IN")
rest() { tail -n +7 "$IN"; }

# bad NAME LINE PATTERN: replace line 6 by LINE, expect 65 and PATTERN
bad() {
	name=$1 line=$2 pat=$3
	test_expect_success "bad input: $name" '
		{ good_prefix; printf "%s\n" "$line"; rest; } >in &&
		test_must_fail --code 65 ep-apply <in >out 2>err &&
		grep -q "ep-apply: fatal: unable to apply input at line 6 (driver event 2): " err &&
		grep -q -- "$pat" err &&
		test $(grep -c "\"op\":\"end\"" out) -eq 1 &&
		! grep -q "\"driver_id\":2" out
	'
}

bad 'malformed JSON' '{"op":"event",' 'unexpected end'
bad 'trailing garbage' "$DEP x" 'unexpected text after'
bad 'not an object' '[1,2]' 'not a JSON object'
bad 'invalid UTF-8' "$(printf '{"op":"event","x":"\377"}')" 'invalid UTF-8'
# Strict NDJSON is UTF-8: every ill-formed sequence is refused, wherever it is.
bad 'invalid UTF-8: overlong 2-byte' "$(echo "$DEP" | sed 's/"name":"Deposit"/"name":"Dep\xc0\xafosit"/')" 'invalid UTF-8 at column [0-9]* (byte 0xc0)'
bad 'invalid UTF-8: overlong 3-byte' "$(echo "$DEP" | sed 's/"name":"Deposit"/"name":"Dep\xe0\x80\xafosit"/')" 'invalid UTF-8 at column [0-9]* (byte 0xe0)'
bad 'invalid UTF-8: encoded surrogate' "$(echo "$DEP" | sed 's/"name":"Deposit"/"name":"Dep\xed\xa0\x80osit"/')" 'invalid UTF-8 at column [0-9]* (byte 0xed)'
bad 'invalid UTF-8: truncated sequence' "$(echo "$DEP" | sed 's/"name":"Deposit"/"name":"Deposit\xe2\x82"/')" 'invalid UTF-8 at column [0-9]* (byte 0xe2)'
bad 'invalid UTF-8: above U+10FFFF' "$(echo "$DEP" | sed 's/"name":"Deposit"/"name":"Dep\xf4\x90\x80\x80osit"/')" 'invalid UTF-8 at column [0-9]* (byte 0xf4)'
bad 'invalid UTF-8: byte 0xf5' "$(echo "$DEP" | sed 's/"name":"Deposit"/"name":"Dep\xf5\x80\x80\x80osit"/')" 'invalid UTF-8 at column [0-9]* (byte 0xf5)'
bad 'invalid UTF-8: in a member name' "$(echo "$DEP" | sed 's/"nonce":/"non\xffce":/')" 'invalid UTF-8 at column [0-9]* (byte 0xff)'
bad 'invalid UTF-8: outside a string' "$(echo "$DEP" | sed 's/"nonce":/"nonce":\xa0/')" 'unexpected byte 0xa0'
bad 'NUL escaped as \u0000' "$(echo "$DEP" | sed 's/"name":"Deposit"/"name":"Deposit\\u0000"/')" 'NUL character (\\u0000) in string'
bad 'unpaired surrogate escape' "$(echo "$DEP" | sed 's/"name":"Deposit"/"name":"Deposit\\ud800"/')" 'unpaired surrogate \\ud800'
# A repeated member name is refused, not resolved (first or last wins): the
# two readers of a line must never disagree about what it says.
bad 'duplicate member name' "$(echo "$DEP" | sed 's/^{"op":"event",/{"op":"event","op":"end",/')" 'duplicate member name "op" at column 15'
bad 'duplicate member name, escaped' "$(echo "$DEP" | sed 's/"vault":/"vault":"0x1","\\u0076ault":/')" 'duplicate member name "\\u0076ault"'
bad 'duplicate member name, nested' "$(echo "$DEP" | sed 's/^{"op":"event",/{"op":"event","x":{"a":1,"a":2},/')" 'duplicate member name "a"'
bad 'missing field' "$(echo "$DEP" | sed 's/"vault":"[^"]*",//')" "missing field 'vault'"
bad 'event outside a frame (op missing)' "$(echo "$DEP" | sed 's/"op":"event",//')" "missing field 'op'"
bad 'wrong data length' "$(echo "$DEP" | sed 's/,"0x0"\]}$/]}/')" 'data has 5 felts, expected 6'
bad 'u256 half out of range' "$(echo "$DEP" | sed 's/"data":\["0x61a80","0x0"/"data":["0x100000000000000000000000000000000","0x0"/')" 'is not a u256'
bad 'felt out of range' "$(echo "$DEP" | sed 's/"data":\["0x61a80"/"data":["0x800000000000011000000000000000000000000000000000000000000000001"/')" 'not a field element'
bad 'not hex' "$(echo "$DEP" | sed 's/"data":\["0x61a80"/"data":["400000"/')" 'not a 0x-prefixed hex'
bad 'negative block number' "$(echo "$DEP" | sed 's/"block_number":1001/"block_number":-1/')" 'not a non-negative integer'
bad 'fractional block number' "$(echo "$DEP" | sed 's/"block_number":1001/"block_number":1001.5/')" 'not a non-negative integer'
bad 'balance mismatch' "$(echo "$DEP" | sed 's/"0x61a80","0x0"\]}$/"0x61a81","0x0"]}/')" 'vault_unlocked_balance_now is 400001 in the event but 400000 by our state'
bad 'withdrawal below zero' "$(echo "$DEP" | sed 's/"keys":\["0x9149d2123147c5f43d258257fef0b7b969db78269369ebcf5ebb9eef8592f2"/"keys":["0x2eed7e29b3502a726faf503ac4316b7101f3da813654e8df02c13449e03da8"/')" 'vault unlocked balance would go below zero'
bad 'event of an undeployed vault' "$(echo "$DEP" | sed 's/"vault":"0x50aa[^"]*"/"vault":"0x1234"/')" 'has not been deployed'
bad 'event for a round that does not exist' "$(echo "$DEP" | sed 's/"keys":\[[^]]*\],"data":\[.*\]/"keys":["0x3f68cb197d4ac6576b566cd954873b6530b9eac0309487c09f9a35271533737","0x1"],"data":["0x64","0x0","0x1388","0x5","0x0","0xdead"]/')" 'round 0xdead does not exist'
bad 'event of another block in the frame' "$(echo "$DEP" | sed 's/"block_number":1001/"block_number":1002/')" 'event of block 1002 in the frame of block 1001'
bad 'nested begin' "$(sed -n 5p "$IN")" "'begin' inside the frame"


test_expect_success 'a NUL byte in a string: exit 65 naming the line' '
	{ good_prefix; echo "$DEP" | sed "s/\"name\":\"Deposit\"/\"name\":\"Dep\\x00osit\"/"; rest; } >in &&
	test $(tr -cd "\\000" <in | wc -c) = 1 &&
	test_must_fail --code 65 ep-apply <in >out 2>err &&
	grep -q "unable to apply input at line 6 (driver event 2): control character 0x00 in string" err
'

test_expect_success 'unknown type in a begin line' '
	{ head -n 4 "$IN"; sed -n 5p "$IN" | sed "s/StartBlock/CatchupBlock/"; } >in &&
	test_must_fail --code 65 ep-apply <in >out 2>err &&
	grep -q "unknown driver event type .CatchupBlock." err
'

# The message cuts a quoted type after 40 bytes, inside the 2-byte "é": the
# reject line (what the supervisor stores in pl_quarantine) stays valid UTF-8.
test_expect_success 'a reject line is valid UTF-8 even when its reason cuts a character' '
	{ head -n 4 "$IN"; sed -n 5p "$IN" | sed "s/StartBlock/x$(printf "\303\251%.0s" $(seq 30))/"; } >in &&
	test_must_fail --code 65 ep-apply --reject-file rej <in >out 2>err &&
	grep -q "unknown driver event type" err &&
	iconv -f UTF-8 -t UTF-8 rej >/dev/null &&
	test_json rej ".op == \"reject\" and .line == 5 and (.reason | endswith(\"\\\\xc3\u0027\"))"
'

test_expect_success 'line longer than --max-line' '
	{ head -n 4 "$IN"; printf "{\"op\":\"event\",\"pad\":\"%02000d\"}\n" 0; } >in &&
	test_must_fail --code 65 ep-apply --max-line 1024 <in >out 2>err &&
	grep -q "longer than 1024 bytes" err
'

test_expect_success 'a corrupt --state file fails with 65 naming the line' '
	ep-apply --dump-state d <"$IN" >/dev/null &&
	n=$(grep -n "\"op\":\"put\",\"table\":\"VaultStates\"" d | head -n 1 | cut -d: -f1) &&
	sed "${n}s/\"unlocked_balance\":\"[0-9]*\"/\"unlocked_balance\":\"-1\"/" d >d2 &&
	test_must_fail --code 65 ep-apply --state d2 </dev/null 2>err &&
	grep -q "unable to load state .d2. at line $n: column .unlocked_balance." err
'

test_expect_success 'a missing --state file is a configuration error (78)' '
	test_must_fail --code 78 ep-apply --state nonexistent </dev/null 2>err &&
	grep -q "unable to open state .nonexistent." err
'

# --dump-state replaces only a regular file (or creates one), and says so
# before reading any input: nothing on stdout, the target untouched.
refuse_dump() {
	test_must_fail --code 78 ep-apply --dump-state "$1" <"$IN" >out 2>err &&
	test ! -s out &&
	grep -q "^ep-apply: fatal: unable to dump state: .*$2" err
}

# A character device like /dev/full: our own node when we may make one (so
# that a regression cannot replace the real one), else /dev/full itself
# when /dev is not ours to write (then it cannot be replaced either).
chardev() {
	if mknod "$1" c 1 7 2>/dev/null; then echo "$1"
	elif test ! -w /dev; then echo /dev/full
	fi
}

test_expect_success '--dump-state refuses a character device (it stays one)' '
	dev=$(chardev full) &&
	if test -z "$dev"; then say "cannot make a device node: not checked"; exit 0; fi
	refuse_dump "$dev" ".$dev. is a character device, not a regular file" &&
	test -c "$dev"
'

test_expect_success '--dump-state refuses a FIFO, a directory, a symbolic link' '
	mkfifo fifo && refuse_dump fifo "is a FIFO" && test -p fifo &&
	mkdir dir && refuse_dump dir "is a directory" && test -d dir &&
	echo old >real && ln -s real link &&
	refuse_dump link "is a symbolic link" && test -h link && echo old >expect && test_cmp expect real &&
	ln -s nowhere dangling && refuse_dump dangling "is a symbolic link" && test ! -e nowhere
'

test_expect_success '--dump-state in a missing directory: 78 before any work' '
	refuse_dump nodir/state "unable to use directory .nodir."
'

test_expect_success '--dump-state replaces a regular file and leaves no temporary file' '
	mkdir sd && echo old >sd/state &&
	ep-apply --dump-state sd/state <"$IN" >out &&
	test -s out &&
	ep-apply --state sd/state </dev/null >/dev/null &&
	! grep -q "^old$" sd/state &&
	ls -a sd >got && printf "%s\n" . .. state >expect && test_cmp expect got &&
	ep-apply --dump-state state2 <"$IN" >/dev/null && cmp sd/state state2
'

test_expect_success '--dump-state: O_EXCL temporary file, fsync, rename, fsync of the directory' '
	if ! command -v strace >/dev/null || ! strace -o /dev/null true 2>/dev/null; then
		say "no usable strace: not checked"; exit 0
	fi
	# (LeakSanitizer cannot run under ptrace: off for this run under make asan)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -o tr -e trace=openat,fsync,rename ep-apply --dump-state st <"$IN" >/dev/null &&
	grep -q "^openat(AT_FDCWD, \"\.st\.tmp[0-9]*-[0-9]*\", O_WRONLY|O_CREAT|O_EXCL" tr &&
	sed -n "/\.st\.tmp/,\$p" tr | sed "s/(.*//" | grep -v "^+++" >got &&
	printf "%s\n" openat fsync rename openat fsync >expect && test_cmp expect got &&
	grep -q "^openat(AT_FDCWD, \"\.\", O_RDONLY|O_CLOEXEC|O_DIRECTORY" tr
'

test_expect_success '--dump-state: a failed write removes the temporary file, the old state stays' '
	mkdir fd && echo old >fd/state &&
	ep-apply --dump-state size <"$IN" >/dev/null && test $(wc -c <size) -gt 4096 &&
	{ (trap "" XFSZ && ulimit -f 4 && exec ep-apply --dump-state fd/state <"$IN" >/dev/null 2>err); rc=$?; } &&
	test $rc = 75 &&
	grep -q "unable to dump state to .fd/state.: File too large" err &&
	echo old >expect && test_cmp expect fd/state &&
	ls -a fd >got && printf "%s\n" . .. state >expect && test_cmp expect got
'

test_expect_success 'usage: --help exits 0, bad options exit 64 with nothing on stdout' '
	ep-apply --help >out && grep -q "^usage: ep-apply" out && grep -q "exit codes" out &&
	test_must_fail --code 64 ep-apply --bogus >out 2>err && test ! -s out &&
	test_must_fail --code 64 ep-apply --finality x >out 2>err && test ! -s out
'

test_expect_success 'downstream closing early: quiet exit by SIGPIPE, no error message' '
	ep-apply <"$IN" 2>err | head -n 1 >/dev/null &&
	test ! -s err
'

test_expect_success 'output error (/dev/full) is reported with exit 75' '
	test_must_fail --code 75 ep-apply <"$IN" >/dev/full 2>err &&
	grep -q "unable to write output" err
'

test_done
