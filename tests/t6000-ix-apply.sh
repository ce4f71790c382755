#!/bin/bash
# t6000-ix-apply -- the Intuition domain offline: golden deltas of a small
# hand-written frame file; ix-sim's messages, framed by redis-read --replay
# and applied by ix-apply, give exactly the state of ix-sim's independent
# model (every row of vault, term, position, triple_vault, triple_term,
# predicate_object, subject_predicate); replay is byte-identical; reverts
# are exact; bad input is refused with its kind and never half-applied.
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/intuition/compare.sh"

test_expect_success 'golden: a hand-written frame (atoms, a triple, a deposit, a price)' '
	"$BIN/ix-apply" <"$SRC/tests/data/ix-small.frames" >out &&
	test_cmp "$SRC/tests/data/ix-small.deltas" out
'

test_expect_success 'the counter term is keccak256(COUNTER_SALT ++ termId)' '
	grep -q "\"id\":\"0xcf514443c1a5bf34ad3f1ccfbbca3700fec3a81f62de52c5dc8b886654ec74e9\"" out
'

test_expect_success 'market_cap = total_shares * share_price / 10^18, exactly' '
	jq -e -s "map(select(.table == \"vault\"))[0].row | .market_cap == \"1980\"" out >/dev/null
'

for seed in 1 2 3; do
	test_expect_success "seed $seed: the state equals ix-sim's model, value by value" '
		"$BIN/ix-sim" --seed '$seed' --blocks 400 --chunk 7 --model model >rec &&
		"$BIN/redis-read" --replay rec >frames &&
		"$BIN/ix-apply" --dump-state dump <frames >deltas &&
		ix_project model dump >got && ix_model_sorted model >exp &&
		test "$(wc -l <exp)" -gt 500 && test_cmp exp got
	'
done

test_expect_success 'replay of the recorded stream gives byte-identical deltas' '
	"$BIN/redis-read" --replay rec | "$BIN/ix-apply" >deltas2 &&
	cmp deltas deltas2
'

test_expect_success 'a split through a snapshot equals one pass' '
	n=$(grep -c "\"op\":\"begin\"" frames) && k=$(grep -n "\"op\":\"end\"" frames | sed -n "$((n / 2))p" | cut -d: -f1) &&
	head -n "$k" frames >p1 && tail -n +$((k + 1)) frames >p2 &&
	"$BIN/ix-apply" --dump-state s1 <p1 >/dev/null &&
	"$BIN/ix-apply" --state s1 --dump-state s2 <p2 >/dev/null &&
	cmp dump s2
'

test_expect_success 're-delivered messages are skipped (at or below the checkpoint)' '
	"$BIN/ix-apply" --state dump --dump-state again <frames >out2 &&
	test_cmp /dev/null out2 && cmp dump again
'

bad_frame() { # NAME DATA-JSON
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":9,\"seq\":9,\"type\":\"CatchupVault\",\"block_number\":6,\"block_hash\":\"0x6\"}" \
		"{\"op\":\"event\",\"block_number\":6,\"block_hash\":\"0x6\",\"event_name\":\"$1\",\"data\":$2}" \
		"{\"op\":\"end\",\"driver_id\":9}"
}
TI='"transaction_information":{"chain_id":1,"network":"base","address":"0xcc","block_hash":"0x6","block_number":6,"block_timestamp":null,"transaction_hash":"0xdef","log_index":"0x0","transaction_index":0}'

test_expect_success 'a redeem below zero shares is refused (65, invariant), nothing written' '
	"$BIN/ix-apply" --dump-state s0 <"$SRC/tests/data/ix-small.frames" >/dev/null &&
	bad_frame Redeemed "{\"sender\":\"0xaa\",\"receiver\":\"0xaa\",\"termId\":\"0x03\",\"curveId\":\"1\",\"shares\":\"991\",\"totalShares\":\"0\",\"assets\":\"1\",\"fees\":\"0\",\"vaultType\":1,$TI}" >bad &&
	test_must_fail --code 65 "$BIN/ix-apply" --state s0 --reject-file rej <bad >out 2>err &&
	test_cmp /dev/null out && grep -q "below zero shares" err &&
	jq -e ".kind == \"invariant\"" rej >/dev/null
'

test_expect_success 'a triple whose atoms do not exist is refused (65, invariant)' '
	bad_frame TripleCreated "{\"creator\":\"0xaa\",\"termId\":\"0x09\",\"subjectId\":\"0x01\",\"predicateId\":\"0x77\",\"objectId\":\"0x01\",$TI}" >bad &&
	test_must_fail --code 65 "$BIN/ix-apply" --state s0 <bad >out 2>err &&
	test_cmp /dev/null out && grep -q "predicate 0x77 does not exist" err
'

test_expect_success 'a field of the wrong type is refused (65, syntax)' '
	bad_frame Deposited "{\"sender\":\"0xaa\",\"receiver\":\"0xaa\",\"termId\":\"0x03\",\"curveId\":\"1\",\"assets\":[1],\"assetsAfterFees\":\"1\",\"shares\":\"1\",\"totalShares\":\"1\",\"vaultType\":1,$TI}" >bad &&
	rm -f rej && test_must_fail --code 65 "$BIN/ix-apply" --state s0 --reject-file rej <bad >out 2>err &&
	test_cmp /dev/null out && jq -e ".kind == \"syntax\"" rej >/dev/null
'

test_expect_success 'redis-read --replay refuses a message that is not a rindexer payload (65)' '
	printf "%s\n" "{\"stream\":\"s\",\"id\":\"5-0\",\"payload\":{\"event_name\":\"X\"}}" >badrec &&
	test_must_fail --code 65 "$BIN/redis-read" --replay badrec >out 2>err &&
	grep -q "message 5-0 of stream s" err
'

test_expect_success 'reorgs (orphan blocks, then __rindexer_reorg): the state equals the model' '
	"$BIN/ix-sim" --seed 4 --blocks 400 --reorgs 10 --model rmodel >rrec &&
	grep -q __rindexer_reorg rrec &&
	"$BIN/redis-read" --replay rrec >rframes &&
	grep -q "\"type\":\"RevertBlock\",.*\"fork_block\":[0-9]*,\"stream\"" rframes &&
	"$BIN/ix-apply" --dump-state rdump <rframes >rdeltas &&
	test "$(grep -c "\"op\":\"begin\".*RevertBlock" rdeltas)" -gt 5 &&
	ix_project rmodel rdump >got && ix_model_sorted rmodel >exp && test -s exp && test_cmp exp got
'

# rindexer writes one message per event type and block range, so the orphan
# blocks before a reorg are changed by several messages in turn; reverting
# them block by block, newest first, restored rows changed out of block order
# to the wrong image (seeds 2 and 12 left a vault's position_count off).
test_expect_success 'reorgs over interleaved ranges are undone in recording order: the state equals the model' '
	for s in 2 12; do
		"$BIN/ix-sim" --seed $s --blocks 1500 --reorgs 20 --chunk 12 --model im$s >irec$s &&
		"$BIN/redis-read" --replay irec$s >ifr$s &&
		"$BIN/ix-apply" --dump-state idump$s <ifr$s >idl$s &&
		ix_project im$s idump$s >got && ix_model_sorted im$s >exp && test -s exp && test_cmp exp got || return 1
	done
'

test_expect_success 'a snapshot taken just before a reorg keeps the order of recording: split equals one pass' '
	r=$(grep -n "\"fork_block\"" ifr12 | sed -n 3p | cut -d: -f1) && test -n "$r" &&
	head -n $((r - 1)) ifr12 >q1 && tail -n +$r ifr12 >q2 &&
	"$BIN/ix-apply" --dump-state qs1 <q1 >qd1 &&
	"$BIN/ix-apply" --state qs1 --dump-state qs2 <q2 >qd2 &&
	test "$(grep -c "^{\"op\":\"undo\"" qs1)" -gt 0 &&
	cat qd1 qd2 | cmp - idl12 && cmp idump12 qs2
'

test_expect_success 'a reorg reverts every block above fork_block exactly, aggregates included' '
	"$BIN/ix-apply" --finality 100000 --dump-state d1 <"$SRC/tests/data/ix-small.frames" >/dev/null &&
	TI7=$(echo "$TI" | sed "s/0x6/0x7/g; s/\"block_number\":6/\"block_number\":7/") &&
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":20,\"seq\":20,\"type\":\"CatchupVault\",\"block_number\":7,\"block_hash\":\"0x7\"}" \
		"{\"op\":\"event\",\"block_number\":7,\"block_hash\":\"0x7\",\"event_name\":\"Deposited\",\"data\":{\"sender\":\"0xab\",\"receiver\":\"0xab\",\"termId\":\"0x03\",\"curveId\":\"1\",\"assets\":\"5\",\"assetsAfterFees\":\"5\",\"shares\":\"5\",\"totalShares\":\"5\",\"vaultType\":1,$TI7}}" \
		"{\"op\":\"end\",\"driver_id\":20}" \
		"{\"op\":\"begin\",\"driver_id\":30,\"seq\":30,\"type\":\"RevertBlock\",\"block_number\":5,\"block_hash\":\"0x0\",\"fork_block\":5}" \
		"{\"op\":\"end\",\"driver_id\":30}" >extra &&
	"$BIN/ix-apply" --finality 100000 --state d1 --dump-state d2 <extra >out &&
	grep -q "\"op\":\"put\",\"table\":\"triple_term\"" out &&
	grep -q "\"op\":\"del\",\"table\":\"position\"" out &&
	grep -v checkpoint d1 >x && grep -v checkpoint d2 >y && test_cmp x y
'

test_expect_success 'a reorg deeper than the undo journal fails closed (65, revert), nothing written' '
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":20,\"seq\":20,\"type\":\"CatchupVault\",\"block_number\":40,\"block_hash\":\"0x40\"}" \
		"{\"op\":\"end\",\"driver_id\":20}" >far &&
	"$BIN/ix-apply" --finality 4 --state d1 --dump-state d3 <far >/dev/null &&
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":30,\"seq\":30,\"type\":\"RevertBlock\",\"block_number\":3,\"block_hash\":\"0x0\",\"fork_block\":3}" \
		"{\"op\":\"end\",\"driver_id\":30}" >deep &&
	rm -f rej && test_must_fail --code 65 "$BIN/ix-apply" --finality 4 --state d3 --reject-file rej <deep >out 2>err &&
	test_cmp /dev/null out && grep -q "blocks up to 36 are final" err &&
	jq -e ".kind == \"revert\"" rej >/dev/null
'

test_expect_success 'a frame final by its look-ahead "head": no journal, and a reorg below it fails closed' '
	"$BIN/ix-sim" --seed 3 --blocks 120 >lrec &&
	"$BIN/redis-read" --replay lrec >lfr &&
	sed "1s/^\({\"op\":\"begin\".*\"type\":\"CatchupVault\"[^}]*\)}\$/\1,\"head\":500}/" lfr >lfr_head &&
	head -n 1 lfr_head | grep -q "\"head\":500" &&
	"$BIN/ix-apply" --finality 8 --dump-state lst_head <lfr_head >ld_head &&
	"$BIN/ix-apply" --finality 8 --dump-state lst <lfr >ld &&
	head -n 1 ld_head | grep -q "\"final\":true" && head -n 1 ld_head | grep -q "\"finalized\":492" &&
	n=$(grep -c "\"op\":\"end\"" ld) && test "$(grep -c "\"op\":\"end\"" ld_head)" = "$n" &&
	grep -v "^{\"op\":\"\(undo\|block\|checkpoint\)\"" lst | grep -v "_events\"" >rows &&
	grep -v "^{\"op\":\"\(undo\|block\|checkpoint\)\"" lst_head | grep -v "_events\"" >rows_head &&
	test_cmp rows rows_head &&
	! grep -q "\"op\":\"block\"" lst_head &&
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":99000000000000000,\"seq\":99000000000000000,\"type\":\"RevertBlock\",\"block_number\":115,\"block_hash\":\"0x0\",\"fork_block\":115}" \
		"{\"op\":\"end\",\"driver_id\":99000000000000000}" >lreorg &&
	test_must_fail --code 65 "$BIN/ix-apply" --finality 8 --state lst_head <lreorg >out 2>err &&
	grep -q "blocks up to 492 are final" err &&
	sed "s/115/116/g" lreorg >lreorg116 &&
	"$BIN/ix-apply" --finality 8 --state lst <lreorg116 >/dev/null
'

# ix-sim --seed 3 writes blocks 115-116 as one message per event type: a
# fork at 115 cuts through them, and block 115 was changed (by a later
# message) after block 116 -- no before-image takes out only 116.
test_expect_success 'a fork inside an interleaved range is refused before anything is reverted (65, revert)' '
	rm -f rej && test_must_fail --code 65 "$BIN/ix-apply" --finality 8 --state lst --reject-file rej <lreorg >out 2>err &&
	test_cmp /dev/null out &&
	grep -q "unable to revert to fork block 115 exactly: block 115, which stays, was changed after block 116" err &&
	jq -e ".kind == \"revert\"" rej >/dev/null
'

test_done
