#!/bin/sh
# ep-apply against chain-sim, an independent implementation of the contract
# maths: over many generated chains (with reorgs) the final state must equal
# chain-sim's own model, reverts must restore exact dumps, and replay must be
# deterministic and splittable.
. "$(dirname "$0")/lib.sh"

SEEDS=${PL_TEST_SEEDS:-"1 2 3 4 5 6 7 8"}
STATE_TABLES='"op":"put","table":"(VaultStates|Liquidity_Providers|Option_Rounds|Queued_Liquidity|Option_Buyers|Bids)"'

# A finality longer than the chain keeps every round live: chain-sim's model
# holds every row, ep-apply archives settled rounds once they are final.
test_expect_success 'differential: ep-apply state == chain-sim model (many seeds, reorgs, transfers)' '
	for s in $SEEDS; do
		chain-sim --seed $s --blocks 300 --vaults 4 --lps 6 --buyers 5 --reorg-rate 40 --transfers \
			--dump-state model >chain &&
		ep-apply --finality 100000 --dump-state dump <chain >/dev/null &&
		grep -E "$STATE_TABLES" dump >ours &&
		test_cmp model ours || { echo "seed $s differs"; return 1; }
	done
'

# revert_prop SEED K: chain without reorgs; apply N blocks then revert the last K.
# A finality larger than the chain keeps the whole journal, so whole dumps compare.
revert_prop() {
	chain-sim --seed $1 --blocks 120 --no-reorgs >chain &&
	n=$(grep -c "\"op\":\"begin\"" chain) &&
	awk -v to=$((n - $2)) "/\"op\":\"begin\"/{b++} b<=to" chain | ep-apply --finality 100000 --dump-state before >/dev/null &&
	grep "\"op\":\"begin\"" chain | tail -n $2 | tac | awk "{
		match(\$0, /\"block_number\":[0-9]+/); bn = substr(\$0, RSTART, RLENGTH)
		match(\$0, /\"block_hash\":\"0x[0-9a-f]+\"/); bh = substr(\$0, RSTART, RLENGTH)
		id = 900000 + NR
		printf \"{\\\"op\\\":\\\"begin\\\",\\\"driver_id\\\":%d,\\\"seq\\\":%d,\\\"type\\\":\\\"RevertBlock\\\",%s,%s}\\n{\\\"op\\\":\\\"end\\\",\\\"driver_id\\\":%d}\\n\", id, id, bn, bh, id
	}" >reverts &&
	cat chain reverts | ep-apply --finality 100000 --dump-state after >/dev/null &&
	grep -v "\"op\":\"checkpoint\"" before >b; grep -v "\"op\":\"checkpoint\"" after >a; test_cmp b a
}

test_expect_success 'revert property: apply, revert the last k blocks, dump equals the dump before' '
	for s in $SEEDS; do
		for k in 1 5 20; do revert_prop $s $k || { echo "seed $s k $k"; return 1; }; done
	done
'

test_expect_success 'replay determinism and split replay on a generated chain' '
	chain-sim --seed 42 --blocks 400 --reorg-rate 30 >chain &&
	ep-apply --dump-state d1 <chain >o1 && ep-apply --dump-state d2 <chain >o2 &&
	test_cmp o1 o2 && test_cmp d1 d2 &&
	n=$(grep -c "\"op\":\"begin\"" chain) &&
	awk -v to=$((n / 2)) "/\"op\":\"begin\"/{b++} b<=to" chain >first &&
	awk -v to=$((n / 2)) "/\"op\":\"begin\"/{b++} b>to" chain >second &&
	ep-apply --dump-state half <first >h1 &&
	ep-apply --state half --dump-state whole <second >h2 &&
	test_cmp d1 whole && cat h1 h2 >h && test_cmp o1 h
'

test_expect_success 'settled rounds leave memory once final: exactly they, their bids and queued rows (buyers below)' '
	chain-sim --seed 8 --blocks 500 --vaults 3 >chain8 &&
	ep-apply --finality 16 --dump-state small --stats <chain8 >/dev/null 2>err &&
	grep -q "archived rounds [1-9]" err &&
	ep-apply --finality 100000 --dump-state full <chain8 >/dev/null &&
	grep -v "\"table\":\"\(Bids\|Queued_Liquidity\|Option_Buyers\|Option_Rounds\)\"" full | grep "\"op\":\"put\"" >full.rest &&
	grep -v "\"table\":\"\(Bids\|Queued_Liquidity\|Option_Buyers\|Option_Rounds\)\"" small | grep "\"op\":\"put\"" >small.rest &&
	test_cmp full.rest small.rest &&
	grep "\"op\":\"put\",\"table\":\"Option_Rounds\"" full | sort >full.rounds &&
	grep "\"op\":\"put\",\"table\":\"Option_Rounds\"" small | sort >small.rounds &&
	comm -13 full.rounds small.rounds >extra.rounds && test ! -s extra.rounds &&
	comm -23 full.rounds small.rounds >gone.rounds && test -s gone.rounds &&
	! grep -v "\"state\":\"Settled\"" gone.rounds &&
	grep "\"op\":\"undo\",\"block_number\":[0-9]*,\"block_hash\":\"[^\"]*\",\"table\":\"Option_Rounds\"" small |
		sed "s/.*\"key\":\({[^}]*}\).*/\1/" | sort -u >journaled.rounds &&
	sed "s/,\"row\".*//; s/.*\"key\"://" gone.rounds >gone.keys &&
	! grep -F -x -f journaled.rounds gone.keys &&
	grep "\"state\":\"Settled\"" small.rounds | sed "s/,\"row\".*//; s/.*\"key\"://" >kept.settled &&
	{ test ! -s kept.settled || test $(grep -c -F -x -f journaled.rounds kept.settled) = $(wc -l <kept.settled); } &&
	test $(grep -c "\"op\":\"put\",\"table\":\"Bids\"" small) -lt $(grep -c "\"op\":\"put\",\"table\":\"Bids\"" full) &&
	grep "\"op\":\"put\",\"table\":\"Option_Rounds\"" small | grep -v "\"state\":\"Settled\"" |
		sed "s/.*\"key\":{\"address\":\"\(0x[0-9a-f]*\)\".*/\1/" >live_rounds &&
	for r in $(cat live_rounds); do
		test $(grep -c "\"op\":\"put\",\"table\":\"Bids\",\"key\":{\"round_address\":\"$r\"" small) -eq \
		     $(grep -c "\"op\":\"put\",\"table\":\"Bids\",\"key\":{\"round_address\":\"$r\"" full) || return 1
	done &&
	ep-apply --state small --finality 16 --dump-state again </dev/null >/dev/null && test_cmp small again
'

# An option buyer is done once both its flags are set and its last change has
# left the undo journal (tables.c, buyer_is_done; sql/060): exactly those rows
# leave the state.  Checked against a run that keeps everything, on a long
# chain whose rounds settle many times, with reorgs (RevertBlock frames undo
# settlements, mints and refunds whose blocks are still in the journal).
test_expect_success 'done option buyers leave memory: exactly the rows with both flags set and no journal entry' '
	chain-sim --seed 5 --blocks 900 --vaults 3 --lps 4 --buyers 6 --reorg-rate 60 >chain5 &&
	ep-apply --finality 12 --dump-state small --stats <chain5 >/dev/null 2>err &&
	grep -q "archived buyers [1-9]" err &&
	ep-apply --finality 100000 --dump-state full <chain5 >/dev/null &&
	grep "\"op\":\"put\",\"table\":\"Option_Buyers\"" full | sed "s/,\"row\".*//" | sort >full.keys &&
	grep "\"op\":\"put\",\"table\":\"Option_Buyers\"" small | sed "s/,\"row\".*//" | sort >small.keys &&
	grep "\"op\":\"undo\",\"block_number\":[0-9]*,\"block_hash\":\"[^\"]*\",\"table\":\"Option_Buyers\"" small |
		sed "s/.*\"key\":\({[^}]*}\).*/\1/" | sort -u >journaled &&
	comm -13 full.keys small.keys >extra && test ! -s extra &&
	grep "\"op\":\"put\",\"table\":\"Option_Buyers\"" full | sort >full.buyers &&
	grep "\"op\":\"put\",\"table\":\"Option_Buyers\"" small | sort >small.buyers &&
	comm -13 full.buyers small.buyers >changed && test ! -s changed &&
	grep -c "\"name\":\"\(OptionsMinted\|UnusedBidsRefunded\|OptionsExercised\)\"" chain5 >flags &&
	test $(cat flags) -gt 0 &&
	comm -23 full.keys small.keys | sed "s/.*\"key\"://" >gone &&
	test -s gone &&
	grep "\"op\":\"put\",\"table\":\"Option_Buyers\"" full | grep -F -f gone >gone.rows &&
	test $(wc -l <gone.rows) = $(wc -l <gone) &&
	! grep -v "\"has_minted\":true,\"has_refunded\":true" gone.rows &&
	! grep -F -f journaled gone.rows &&
	grep "\"op\":\"put\",\"table\":\"Option_Buyers\"" small | grep "\"has_minted\":true,\"has_refunded\":true" |
		sed "s/,\"row\".*//; s/.*\"key\"://" >kept_done &&
	{ test ! -s kept_done || test $(grep -c -F -x -f journaled kept_done) = $(wc -l <kept_done); } &&
	ep-apply --state small --finality 12 --dump-state again </dev/null >/dev/null && test_cmp small again
'

# The rule holds because every later event for a done buyer is a no-op: the
# contract lets any account mint or refund, again and again, once the auction
# ended.  Such events (the same account again, and one that never bid) change
# nothing, whether or not the row is still in memory.
test_expect_success 'repeated mints and refunds, and those of an account without a row, change nothing' '
	awk "{print} /\"name\":\"(OptionsMinted|UnusedBidsRefunded)\"/ {
		y = \$0; match(y, /\"keys\":\[\"0x[0-9a-f]*\",\"/); rest = substr(y, RSTART + RLENGTH)
		print substr(y, 1, RSTART + RLENGTH - 1) \"0xabc\" substr(rest, index(rest, \"\\\"\")); print \$0 }" chain5 >chain5.dup &&
	test $(grep -c "\"0xabc\"" chain5.dup) -gt 0 &&
	ep-apply --finality 12 --dump-state dup <chain5.dup >o.dup &&
	ep-apply --finality 12 <chain5 >o.orig &&
	test_cmp o.orig o.dup && test_cmp small dup
'

# A snapshot that still holds final rows (written before they were archived,
# here: the whole state without its journal) loses them on load: settled
# rounds with their bids and queued withdrawals, and done buyers.
test_expect_success 'a snapshot holding final rows: they leave memory on load' '
	grep -v "\"op\":\"\(block\|undo\)\"" full >nojournal &&
	ep-apply --state nojournal --dump-state loaded --stats </dev/null >/dev/null 2>err &&
	grep -q "archived rounds [1-9][0-9]*, archived buyers [1-9]" err &&
	grep "\"op\":\"put\",\"table\":\"Option_Rounds\".*\"state\":\"Settled\"" nojournal |
		sed "s/.*\"key\":{\"address\":\"\(0x[0-9a-f]*\)\".*/\1/" >settled &&
	test -s settled &&
	awk "FNR == NR { s[\$0] = 1; next }
		/\"table\":\"Option_Rounds\"/ && /\"state\":\"Settled\"/ { next }
		/\"table\":\"Option_Buyers\"/ && /\"has_minted\":true,\"has_refunded\":true/ { next }
		/\"table\":\"(Bids|Queued_Liquidity)\"/ { r = \$0; sub(/.*\"row\":.*\"round_address\":\"/, \"\", r); sub(/\".*/, \"\", r); if (r in s) next }
		{ print }" settled nojournal >want &&
	test_cmp want loaded
'

test_expect_success 'idempotent re-feed of a generated chain' '
	ep-apply --state d1 --dump-state again <chain >out && test ! -s out && test_cmp d1 again
'

test_done
