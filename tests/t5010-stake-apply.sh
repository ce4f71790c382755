#!/bin/sh
# t5010-stake-apply -- the StakeVault apply filter offline, on hand-written
# rpc-listen frames: the rules (stake, unstake, required stake, exact
# amounts above 2^64, block timestamps), block hashes above the Starknet
# prime (EVM), exact reverts, and the refusals: a log that does not decode
# (syntax), an unstake beyond the stake (invariant), each with exit 65 and a
# reject line.
. "$(dirname "$0")/lib.sh"

. "$SRC/tests/stakevault/frames.sh"

test_expect_success 'stakes, an unstake and a new requirement; amounts above 2^64 exact' '
	{
		frame 1 10 $H1 1700000000 "$(staked $W "$(word 150000000)")" \
			"\"topics\":[\"$R\"],\"data\":\"0x$(word 150000000)$(word 160000000)\"" &&
		frame 2 11 $H2 1700000012 "$(staked $W 00000000000000000000000000000000000000000000000100000000000000ff)" &&
		frame 3 12 $H3 1700000024 "\"topics\":[\"$U\",\"0x000000000000000000000000${W#0x}\"],\"data\":\"0x$(word 255)\""
	} >frames &&
	stake-apply --dump-state dump <frames >deltas &&
	grep "\"table\":\"sv_stakes\"" dump >stakes &&
	grep -q "\"stake_amount\":\"18446744073859551616\"" stakes &&
	grep -q "\"staked_at\":\"1700000012\"" stakes &&
	grep -q "\"status\":\"active\"" stakes &&
	grep -q "\"stakes\":\"2\",\"unstakes\":\"1\"" stakes &&
	grep -q "\"required_stake\":\"160000000\"" dump &&
	grep -q "\"table\":\"sv_required_stake_updates\".*\"old_amount\":\"150000000\",\"new_amount\":\"160000000\"" dump &&
	grep -q "\"table\":\"sv_cursor\".*\"block_number\":\"12\",\"block_hash\":\"$H3\"" dump &&
	test $(grep -c "\"op\":\"begin\"" deltas) = 3
'

test_expect_success 'a revert of the newest block restores the state byte for byte' '
	head -n $(($(wc -l <frames) - 3)) frames >two &&
	stake-apply --dump-state dump2 <two >/dev/null &&
	{ cat frames; echo "{\"op\":\"begin\",\"driver_id\":4,\"seq\":4,\"type\":\"RevertBlock\",\"block_number\":12,\"block_hash\":\"$H3\",\"reverts\":[\"$H3\"],\"prev\":{\"driver_id\":3,\"seq\":3}}"; echo "{\"op\":\"end\",\"driver_id\":4}"; } >reverted &&
	stake-apply --dump-state dump3 <reverted >/dev/null &&
	grep -v "\"op\":\"checkpoint\"" dump2 >a && grep -v "\"op\":\"checkpoint\"" dump3 >b && test_cmp a b
'

test_expect_success 'a log whose data does not decode stops with 65 (syntax) and a reject line' '
	frame 1 10 $H1 1 "$(staked $W 0102)" >bad &&
	test_must_fail --code 65 stake-apply --reject-file rej <bad >out 2>err &&
	grep -q "malformed log: field .data. is not a whole number of 32-byte words" err &&
	jq -e ".kind == \"syntax\" and .driver_id == 1" rej
'

test_expect_success 'an unstake beyond the stake stops with 65 (invariant)' '
	{ frame 1 10 $H1 1 "$(staked $W "$(word 150000000)")" &&
	  frame 2 11 $H2 2 "\"topics\":[\"$U\",\"0x000000000000000000000000${W#0x}\"],\"data\":\"0x$(word 150000001)\""; } >over &&
	test_must_fail --code 65 stake-apply --reject-file rej2 <over >out 2>err &&
	grep -q "Unstaked by $W of more than its stake" err &&
	jq -e ".kind == \"invariant\" and .driver_id == 2" rej2
'

test_expect_success 'other contracts'"'"' events are ignored and counted' '
	frame 1 10 $H1 1 "\"topics\":[\"0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef\"],\"data\":\"0x\"" >other &&
	stake-apply --stats <other >out 2>err &&
	grep -q "ignored" err
'

test_expect_success 'the checked-in bytecode is what solcjs builds from StakeVault.sol' '
	command -v solcjs >/dev/null || { echo "# no solcjs: skipped"; return 0; }
	mkdir built && "$SRC/tests/stakevault/build-contracts" built &&
	for c in TestUSDC StakeVault StakeVaultBench; do
		test_cmp "$SRC/tests/stakevault/$c.bin" built/$c.bin || return 1
	done
'

test_done
