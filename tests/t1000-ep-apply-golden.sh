#!/bin/sh
# ep-apply on the worked example of pitchlake-spec §9: golden delta frames
# and dump, plus the spec's numbers asserted directly (so the golden files
# cannot silently drift from the contract maths).
. "$(dirname "$0")/lib.sh"

IN=$DATA/worked-example.ndjson

test_expect_success 'delta frames match the golden file' '
	ep-apply <"$IN" >out &&
	test_cmp "$DATA/worked-example.expect" out
'

test_expect_success 'final dump matches the golden file' '
	ep-apply --dump-state dump <"$IN" >/dev/null &&
	test_cmp "$DATA/worked-example.dump" dump
'

row() { # table key-fragment -> the row line of the dump
	grep "\"table\":\"$1\"" dump | grep "$2"
}
A=0x55df044c093d7b2408f6ad897f6d71a996afab8e1b17932e9c6438cb99593f
B=0xdf31182cb5970fb2c2307bffa9efe43cfbe236ba55798be43f93e03c4ce8e8

test_expect_success 'auction end: LP shares with the contract rounding (spec §9)' '
	awk "/\"op\":\"begin\",\"driver_id\":7,/{exit} {print}" "$IN" | ep-apply --dump-state mid >/dev/null &&
	grep "\"address\":\"$A\"" mid | grep "\"table\":\"Liquidity_Providers\"" | grep -q "\"locked_balance\":\"399992\",\"unlocked_balance\":\"64006\"" &&
	grep "\"address\":\"$B\"" mid | grep "\"table\":\"Liquidity_Providers\"" | grep -q "\"locked_balance\":\"600007\",\"unlocked_balance\":\"96013\"" &&
	grep "\"table\":\"VaultStates\"" mid | grep -q "\"unlocked_balance\":\"160020\",\"locked_balance\":\"1000000\""
'

test_expect_success 'auction end: clearing price, sold, per-buyer outcomes' '
	grep "\"table\":\"Option_Rounds\"" dump | grep "\"round_id\":\"1\"" |
		grep -q "\"clearing_price\":\"8\",\"settlement_price\":\"130\"" &&
	grep "\"table\":\"Option_Rounds\"" dump | grep "\"round_id\":\"1\"" | grep -q "\"sold_options\":\"20000\",\"premiums\":\"160000\"" &&
	grep -c "\"mintable_options\":\"6000\",\"refundable_amount\":\"24000\"" dump &&
	grep -q "\"mintable_options\":\"8000\",\"refundable_amount\":\"16000\"" dump &&
	grep -q "\"mintable_options\":\"6000\",\"refundable_amount\":\"32000\"" dump &&
	grep -q "\"mintable_options\":\"0\",\"refundable_amount\":\"25000\"" dump
'

test_expect_success 'settlement: remaining liquidity, stash and LP payouts' '
	grep "\"table\":\"Option_Rounds\"" dump | grep "\"round_id\":\"1\"" | grep -q "\"remaining_liquidity\":\"400000\"" &&
	grep "\"table\":\"VaultStates\"" dump | grep -q "\"unlocked_balance\":\"439019\",\"locked_balance\":\"0\"" &&
	grep "\"table\":\"Liquidity_Providers_Historic\"" out | grep "\"address\":\"$A\"" | grep "\"block_number\":\"1007\"" | grep -q "\"unlocked_balance\":\"224002\"" &&
	grep "\"address\":\"$B\"" dump | grep "\"table\":\"Liquidity_Providers\"" | grep -q "\"unlocked_balance\":\"216015\"" &&
	grep "\"table\":\"Liquidity_Providers_Historic\"" out | grep "\"address\":\"$B\"" | grep "\"block_number\":\"1007\"" |
		grep -q "\"stashed_balance\":\"120001\""
'

test_expect_success 'the ERC-20 Transfer event is ignored and counted' '
	ep-apply --stats <"$IN" 2>err >/dev/null &&
	grep -q "ignored 1" err &&
	grep -q "rows: Bids 4 Liquidity_Providers 2 Option_Buyers 4 Option_Rounds 2 Queued_Liquidity 1 VaultStates 1" err &&
	grep -q "undo journal: 10 blocks" err
'

test_done
