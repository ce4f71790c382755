#!/bin/sh
# ep-apply properties on the worked example (every event type of the deployed
# ABI appears in it): revert of the last k blocks restores the exact dump,
# replay is deterministic, split replay equals one replay, re-feeding applied
# frames changes nothing.
. "$(dirname "$0")/lib.sh"

IN=$DATA/worked-example.ndjson
NFRAMES=$(grep -c '"op":"begin"' "$IN")

# frames FROM TO < stream: frames FROM..TO (1-based, inclusive)
frames() {
	awk -v from="$1" -v to="$2" '/"op":"begin"/{n++} n>=from && n<=to' "$IN"
}
# reverts K [BASE]: RevertBlock frames for the last K blocks, newest first,
# with driver ids from BASE+1 (default 1000)
reverts() {
	grep '"op":"begin"' "$IN" | tail -n "$1" | tac | awk -v base="${2:-1000}" '{
		match($0, /"block_number":[0-9]+/); bn = substr($0, RSTART, RLENGTH)
		match($0, /"block_hash":"0x[0-9a-f]+"/); bh = substr($0, RSTART, RLENGTH)
		id = base + NR
		printf "{\"op\":\"begin\",\"driver_id\":%d,\"seq\":%d,\"type\":\"RevertBlock\",%s,%s}\n{\"op\":\"end\",\"driver_id\":%d}\n", id, id, bn, bh, id
	}'
}
nocp() { grep -v '"op":"checkpoint"' "$1" || true; }

test_expect_success 'apply k blocks then revert them: dump equals the dump before (every k)' '
	k=1 &&
	while [ $k -le $NFRAMES ]; do
		frames 1 $((NFRAMES - k)) | ep-apply --dump-state before >/dev/null &&
		{ cat "$IN"; reverts $k; } | ep-apply --dump-state after >/dev/null &&
		nocp before >b && nocp after >a && test_cmp b a || { echo "failed for k=$k"; return 1; }
		k=$((k + 1))
	done
'

test_expect_success 'revert frames undo every put with the exact before-image' '
	{ cat "$IN"; reverts 1; } | ep-apply >out &&
	awk "/\"type\":\"RevertBlock\"/{r=1} r" out >rev &&
	grep -q "\"op\":\"del\",\"table\":\"Vault_Historic\"" rev &&
	grep "\"table\":\"VaultStates\"" rev | grep -q "\"unlocked_balance\":\"440019\""
'

test_expect_success 'a revert deeper than the journal fails with 65 and names the block' '
	{ cat "$IN"; reverts 1; reverts 1 2000; } | test_must_fail --code 65 ep-apply >out 2>err &&
	grep -q "unable to apply input at line" err && grep -q "not in the undo journal" err
'

test_expect_success 'reverting a block that is not the newest fails' '
	{ cat "$IN"; reverts 2 | tail -n 2; } | test_must_fail --code 65 ep-apply >/dev/null 2>err &&
	grep -q "newer block" err
'

test_expect_success 'finality: blocks older than the window cannot be reverted' '
	{ cat "$IN"; reverts 3; } | test_must_fail --code 65 ep-apply --finality 2 >/dev/null 2>err &&
	grep -q "deeper than the finality depth 2" err
'

test_expect_success 'replay is deterministic (byte-identical output and dump)' '
	ep-apply --dump-state d1 <"$IN" >o1 &&
	ep-apply --dump-state d2 <"$IN" >o2 &&
	test_cmp o1 o2 && test_cmp d1 d2
'

test_expect_success 'split replay: half, dump, restart from the dump, rest == one replay' '
	half=$((NFRAMES / 2)) &&
	ep-apply --dump-state full <"$IN" >fullout &&
	frames 1 $half | ep-apply --dump-state part >o1 &&
	frames $((half + 1)) $NFRAMES | ep-apply --state part --dump-state rest >o2 &&
	test_cmp full rest &&
	cat o1 o2 >both && test_cmp fullout both
'

test_expect_success 'load then dump is byte-identical' '
	ep-apply --dump-state d <"$IN" >/dev/null &&
	ep-apply --state d --dump-state d2 </dev/null >/dev/null &&
	test_cmp d d2
'

test_expect_success 'idempotent re-feed: applied frames are skipped, no output' '
	ep-apply --dump-state d <"$IN" >/dev/null &&
	ep-apply --state d --dump-state d2 --stats <"$IN" >out 2>err &&
	test ! -s out && test_cmp d d2 && grep -q "skipped $NFRAMES" err
'

test_expect_success 'a partial frame at end of input is discarded and rolled back' '
	frames 1 3 | ep-apply --dump-state d3 >/dev/null &&
	{ frames 1 4 | head -n -1; } | ep-apply --dump-state d >out 2>err &&
	test_cmp d3 d && grep -q "discarding a partial frame" err &&
	test $(grep -c "\"op\":\"end\"" out) -eq 3
'

test_expect_success 'NewBlock is an alias of StartBlock' '
	sed "s/\"type\":\"StartBlock\"/\"type\":\"NewBlock\"/" "$IN" | ep-apply --dump-state d >/dev/null &&
	ep-apply --dump-state e <"$IN" >/dev/null && test_cmp e d
'

test_expect_success 'CatchupVault: one frame over many blocks equals block by block' '
	ep-apply --dump-state perblock <"$IN" >/dev/null &&
	awk "NR==1{sub(/\"type\":\"StartBlock\"/, \"\\\"type\\\":\\\"CatchupVault\\\"\"); print; next} /\"op\":\"event\"/" "$IN" >c &&
	echo "{\"op\":\"end\",\"driver_id\":1}" >>c &&
	ep-apply --dump-state catchup <c >cout &&
	grep -v "\"op\":\"\\(block\\|undo\\|checkpoint\\)\"" perblock >p1 &&
	grep -v "\"op\":\"\\(block\\|undo\\|checkpoint\\)\"" catchup >p2 &&
	test_cmp p1 p2 && grep -q "\"op\":\"undo\"" cout
'

test_expect_success 'CatchupVault: events of blocks already applied are not applied twice' '
	ep-apply --dump-state d <"$IN" >/dev/null &&
	{ cat "$IN"; sed "s/\"driver_id\":1,\"seq\":1,/\"driver_id\":50,\"seq\":50,/; s/\"driver_id\":1}/\"driver_id\":50}/" c; } |
		ep-apply --dump-state d2 --stats >/dev/null 2>err &&
	grep -v "\"op\":\"checkpoint\"" d >x && grep -v "\"op\":\"checkpoint\"" d2 >y &&
	nev=$(grep -c "\"op\":\"event\"" "$IN") &&
	test_cmp x y && grep -q "events $nev, ignored $((nev + 1))" err
'

# frame N of $IN with "prev" added (the work item it follows)
with_prev() {
	awk -v n="$1" -v prev="$2" "/\"op\":\"begin\"/{b++} b==n{ if (/\"op\":\"begin\"/) sub(/}\$/, \",\\\"prev\\\":\" prev \"}\"); print }" "$IN"
}

test_expect_success 'a frame following the item our state ends with is applied' '
	awk "/\"op\":\"begin\"/{b++} b<=2" "$IN" >first2 &&
	ep-apply --dump-state s2 <first2 >/dev/null &&
	d=$(jq -r "select(.op == \"checkpoint\") | .driver_id" s2) && q=$(jq -r "select(.op == \"checkpoint\") | .seq" s2) &&
	with_prev 3 "{\"driver_id\":$d,\"seq\":$q}" >f3 &&
	grep -q "\"prev\":{" f3 &&
	ep-apply --state s2 <f3 >out && grep -q "\"op\":\"end\"" out
'

test_expect_success 'a frame following an item our state has not seen: stale, exit 75, nothing written' '
	with_prev 3 "{\"driver_id\":77,\"seq\":77}" >g3 &&
	test_must_fail --code 75 ep-apply --state s2 --reject-file rej <g3 >out 2>err &&
	test ! -s out && test ! -e rej &&
	grep -q "stale state: work item [0-9]* follows item 77 (seq 77), but this state ends with item" err &&
	with_prev 3 "null" >g1 &&
	test_must_fail --code 75 ep-apply --state s2 <g1 2>err &&
	grep -q "stale state: work item [0-9]* is the first, but this state has applied item" err &&
	with_prev 3 "{\"driver_id\":1,\"seq\":1}" >h3 &&
	test_must_fail --code 75 ep-apply <h3 2>err &&
	grep -q "nothing was applied here yet" err
'

test_done
