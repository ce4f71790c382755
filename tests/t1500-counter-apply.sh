#!/bin/bash
# t1500-counter-apply -- the test suite's second domain (tests/counter),
# built from the generic layers alone: its state equals an independent
# model (tests/counter/model.awk), reverts are exact, replay is
# deterministic and splits through a snapshot, refusals are classified.
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/counter/rows.sh"
APPLY=${TEST_BIN:-$SRC/build/test-bin}/counter-apply
[ -x "$APPLY" ] || skip_all "no counter-apply (make builds it into build/test-bin)"

test_expect_success 'a chain with reorgs and resets equals the model' '
	counter_rows 7 600 >rows &&
	grep -q RevertBlock rows && grep -q "	t$" rows &&
	counter_json <rows | counter_frames >frames &&
	"$APPLY" --dump-state dump <frames >deltas &&
	awk -f "$SRC/tests/counter/model.awk" rows | LC_ALL=C sort >expect &&
	counter_totals_of dump >got &&
	test -s expect && test_cmp expect got
'

test_expect_success 'history rows are written and reverted; the snapshot holds none' '
	grep -q "\"op\":\"put\",\"table\":\"counter_history\"" deltas &&
	grep -q "\"op\":\"del\",\"table\":\"counter_history\"" deltas &&
	! grep -q "\"op\":\"put\",\"table\":\"counter_history\"" dump
'

test_expect_success 'every delta frame is balanced and names its work item' '
	test "$(grep -c "\"op\":\"begin\"" deltas)" = "$(grep -c "\"op\":\"begin\"" frames)" &&
	test "$(grep -c "\"op\":\"end\"" deltas)" = "$(grep -c "\"op\":\"end\"" frames)"
'

test_expect_success 'apply then revert a block: byte-identical dump' '
	head -n 300 frames >a &&
	"$APPLY" --finality 100000 --dump-state d1 <a >/dev/null &&
	b=$(($(jq -s "map(select(.op == \"begin\")) | last | .block_number" a) + 1)) &&
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":999999,\"seq\":999999,\"type\":\"StartBlock\",\"block_number\":$b,\"block_hash\":\"0xdead\"}" \
		"{\"op\":\"event\",\"block_number\":$b,\"block_hash\":\"0xdead\",\"key\":\"0x1\",\"amount\":\"5\"}" \
		"{\"op\":\"end\",\"driver_id\":999999}" \
		"{\"op\":\"begin\",\"driver_id\":1000000,\"seq\":1000000,\"type\":\"RevertBlock\",\"block_number\":$b,\"block_hash\":\"0xdead\"}" \
		"{\"op\":\"end\",\"driver_id\":1000000}" >extra &&
	"$APPLY" --finality 100000 --state d1 --dump-state d2 <extra >out &&
	grep -q "\"op\":\"put\",\"table\":\"counter_totals\"" out &&
	jq -s -e "map(select(.op == \"checkpoint\")) | length == 1" d2 >/dev/null &&
	grep -v checkpoint d1 >x && grep -v checkpoint d2 | grep -v "0xdead" >y && test_cmp x y
'

test_expect_success 'split replay through a snapshot equals one pass' '
	k=$(grep -n "\"op\":\"end\"" frames | sed -n 150p | cut -d: -f1) &&
	head -n "$k" frames >p1 && tail -n +$((k + 1)) frames >p2 &&
	"$APPLY" --dump-state s1 <p1 >o1 &&
	"$APPLY" --state s1 --dump-state s2 <p2 >o2 &&
	test_cmp dump s2 && cat o1 o2 >o && test_cmp deltas o
'

test_expect_success 'a reset of a key without a total is refused (65) with a reject line' '
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":1,\"seq\":1,\"type\":\"StartBlock\",\"block_number\":1,\"block_hash\":\"0x1\"}" \
		"{\"op\":\"event\",\"block_number\":1,\"block_hash\":\"0x1\",\"key\":\"0x9\",\"reset\":true}" \
		"{\"op\":\"end\",\"driver_id\":1}" >bad &&
	test_must_fail --code 65 "$APPLY" --reject-file rej <bad >out 2>err &&
	test ! -s out &&
	grep -q "counter-apply: fatal: unable to apply input at line 2 (driver event 1): reset of key" err &&
	jq -e "select(.op == \"reject\") | .kind == \"invariant\" and .driver_id == 1 and .seq == 1 and .line == 2 and .program == \"counter-apply\"" rej >/dev/null
'

test_expect_success 'a malformed amount is a syntax refusal, a stray end is a framing one' '
	sed "s/\"reset\":true/\"amount\":\"x\"/" bad >bad2 &&
	test_must_fail --code 65 "$APPLY" --reject-file rej2 <bad2 2>err &&
	jq -e ".kind == \"syntax\"" rej2 >/dev/null &&
	echo "{\"op\":\"end\",\"driver_id\":4}" >bad3 &&
	test_must_fail --code 65 "$APPLY" --reject-file rej3 <bad3 2>err &&
	jq -e ".kind == \"framing\" and .driver_id == null" rej3 >/dev/null
'

# Multi-block frames (a source's block ranges) and reorgs with fork_block:
# the journal is undone in the reverse order of recording, and a fork that a
# later change to a kept block makes inexact is refused -- also when that
# block has become final (left the journal) since.
range_frame() { # DRIVER BLOCK:KEY:AMOUNT...
	local d=$1 ev b k a
	shift
	printf '{"op":"begin","driver_id":%s,"seq":%s,"type":"CatchupVault","block_number":%s,"block_hash":"0x%x"}\n' "$d" "$d" "${1%%:*}" $((0x1000 + ${1%%:*}))
	for ev in "$@"; do
		IFS=: read -r b k a <<<"$ev"
		printf '{"op":"event","block_number":%s,"block_hash":"0x%x","key":"%s","amount":"%s"}\n' "$b" $((0x1000 + b)) "$k" "$a"
	done
	printf '{"op":"end","driver_id":%s}\n' "$d"
}
fork_frame() { # DRIVER FORK
	printf '{"op":"begin","driver_id":%s,"seq":%s,"type":"RevertBlock","block_number":%s,"block_hash":"0x0","fork_block":%s}\n{"op":"end","driver_id":%s}\n' "$1" "$1" "$2" "$2" "$1"
}
test_expect_success 'interleaved ranges: a fork below them is undone in recording order, exactly' '
	{ range_frame 1 5:0x1:1 5:0x2:3; range_frame 2 7:0x1:10 8:0x2:1; range_frame 3 6:0x1:100 7:0x2:7; } >ia &&
	{ cat ia; fork_frame 4 5; } >ib &&
	range_frame 1 5:0x1:1 5:0x2:3 | "$APPLY" --finality 100 --dump-state da >/dev/null &&
	"$APPLY" --finality 100 --dump-state db <ib >/dev/null &&
	grep "\"op\":\"put\"" da >exp && grep "\"op\":\"put\"" db >got && test_cmp exp got
'

test_expect_success 'a fork inside an interleaved range is refused, also after the kept change became final' '
	{ range_frame 1 5:0x1:1 11:0x1:10; range_frame 2 6:0x1:32; } >ic &&
	{ cat ic; fork_frame 3 10; } >id &&
	test_must_fail --code 65 "$APPLY" --finality 100 <id >out 2>err &&
	! grep -q RevertBlock out &&
	grep -q "unable to revert to fork block 10 exactly: block 6, which stays, was changed after block 11" err &&
	{ cat ic; range_frame 3 14:0x2:5; fork_frame 4 10; } >ie &&
	test_must_fail --code 65 "$APPLY" --finality 8 <ie >out 2>err &&
	grep -q "unable to revert to fork block 10 exactly: a block that is final now (at or below 6) was changed after block 11" err
'

test_done
