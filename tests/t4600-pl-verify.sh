#!/bin/bash
# t4600-pl-verify -- pl-verify replays a pipeline's processed work items
# through its own stages and compares the result with the database: clean
# after a live run (Pitchlake and the counter domain), and every kind of
# difference is named by table and key, exit 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
. "$SRC/tests/counter/rows.sh"
export TEST_BIN=${TEST_BIN:-$SRC/build/test-bin}
pg_start
export PL_TEST_NO_SLEEP=1

test_expect_success 'set up: a live run of a chain with reorgs' '
	pl-migrate >/dev/null &&
	chain-sim --seed 23 --blocks 150 --vaults 2 --lps 4 --buyers 3 --reorg-rate 50 >chain &&
	pg-produce --quiet <chain &&
	run-pipeline --run-dir run --acks acks --once 2>log
'

test_expect_success 'pl-verify: the database equals the replay' '
	pl-verify --pipeline pitchlake >out &&
	grep -q "pl-verify: pipeline pitchlake: the database equals the replay of [0-9]* work items" out
'

# The newest block that changed a Liquidity_Providers row, and that row.
lp_block() { pg_sql -c "SELECT max(block_number) FROM pl_journal WHERE pipeline = \$\$pitchlake\$\$ AND tbl = \$\$Liquidity_Providers\$\$"; }
lp_where() { echo "(address, vault_address) = (SELECT key::json->>\$\$address\$\$, key::json->>\$\$vault_address\$\$ FROM pl_journal WHERE pipeline = \$\$pitchlake\$\$ AND tbl = \$\$Liquidity_Providers\$\$ AND block_number = $1 ORDER BY id LIMIT 1)"; }

test_expect_success 'pl-verify --since BLOCK: clean, replaying only the items since that block' '
	b=$(lp_block) && test -n "$b" &&
	pl-verify --pipeline pitchlake >full &&
	pl-verify --pipeline pitchlake --since "$b" >out &&
	grep -q "equals the replay of the [0-9]* work items since block [0-9]* (the first journaled block >= $b)" out &&
	all=$(sed -n "s/.*the replay of \([0-9]*\) work items.*/\1/p" full) &&
	some=$(sed -n "s/.*the replay of the \([0-9]*\) work items since.*/\1/p" out) &&
	test "$some" -ge 1 && test "$some" -lt "$all"
'

test_expect_success '--since finds a state row and a history row corrupted since BLOCK' '
	b=$(lp_block) && w=$(lp_where "$b") &&
	pg_sql -c "UPDATE \"Liquidity_Providers\" SET unlocked_balance = unlocked_balance + 1 WHERE $w" &&
	test_must_fail --code 1 pl-verify --pipeline pitchlake --since "$b" >out &&
	grep -q "^pl-verify: differs row: Liquidity_Providers {\"address\":\"0x" out &&
	grep -q "DIFFERS from the replay of the [0-9]* work items since block" out &&
	pg_sql -c "UPDATE \"Liquidity_Providers\" SET unlocked_balance = unlocked_balance - 1 WHERE $w" &&
	pl-verify --pipeline pitchlake --since "$b" >out &&
	pg_sql -c "UPDATE \"Liquidity_Providers_Historic\" SET locked_balance = locked_balance + 7 WHERE block_number >= $b AND $w RETURNING 1" >n &&
	echo 1 >one && test_cmp one n &&
	test_must_fail --code 1 pl-verify --pipeline pitchlake --since "$b" >out &&
	grep -q "^pl-verify: differs row: Liquidity_Providers_Historic {" out &&
	pg_sql -c "UPDATE \"Liquidity_Providers_Historic\" SET locked_balance = locked_balance - 7 WHERE block_number >= $b AND $w" &&
	pl-verify --pipeline pitchlake --since "$b" >out
'

test_expect_success '--since older than the undo journal: exit 64, run the full mode' '
	test_must_fail --code 64 pl-verify --pipeline pitchlake --since 1 2>err &&
	grep -q "unable to check --since 1: the undo journal holds blocks from [0-9]* on; run without --since" err
'

test_expect_success 'full mode: a changed, a deleted and an extra history row are named' '
	pg_sql -c "TRUNCATE pl_journal" -c "TRUNCATE pl_journal_block" &&
	pg-snapshot -o s0 &&
	pg_sql -c "UPDATE \"Vault_Historic\" SET unlocked_balance = unlocked_balance + 1 WHERE (address, block_number) = (SELECT address, max(block_number) FROM \"Vault_Historic\" GROUP BY address ORDER BY address LIMIT 1)" \
		-c "DELETE FROM \"Liquidity_Providers_Historic\" WHERE (address, vault_address, block_number) = (SELECT address, vault_address, min(block_number) FROM \"Liquidity_Providers_Historic\" GROUP BY address, vault_address ORDER BY address, vault_address LIMIT 1)" \
		-c "INSERT INTO \"Vault_Historic\" (address, block_number, unlocked_balance) VALUES (\$\$0xbad\$\$, 1, 0)" &&
	test_must_fail --code 1 pl-verify --pipeline pitchlake >out &&
	grep -q "^pl-verify: differs row: Vault_Historic {\"address\":\"0x" out &&
	grep -q "^pl-verify: missing row: Liquidity_Providers_Historic {\"address\":\"0x" out &&
	grep -q "^pl-verify: extra row: Vault_Historic {\"address\":\"0xbad\",\"block_number\":\"1\"}" out
'

test_expect_success 'a changed balance, a deleted and an extra row are each named; exit 1' '
	lp=$(pg_sql -c "SELECT address FROM \"Liquidity_Providers\" ORDER BY address LIMIT 1") &&
	pg_sql -c "UPDATE \"Liquidity_Providers\" SET unlocked_balance = unlocked_balance + 1 WHERE address = \$\$$lp\$\$" \
		-c "DELETE FROM \"Option_Rounds\" WHERE address = (SELECT address FROM \"Option_Rounds\" ORDER BY address LIMIT 1)" \
		-c "INSERT INTO pl_vault_cursor VALUES (\$\$0xbad\$\$, 1)" &&
	test_must_fail --code 1 pl-verify --pipeline pitchlake >out &&
	grep -q "^pl-verify: differs row: Liquidity_Providers {\"address\":\"$lp\"" out &&
	grep -q "^pl-verify: missing row: Option_Rounds {\"address\":\"0x" out &&
	grep -q "^pl-verify: extra row: pl_vault_cursor {\"vault_address\":\"0xbad\"}" out &&
	grep -q "DIFFERS from the replay" out
'

test_expect_success 'a changed journal entry and checkpoint are named' '
	pg_sql -c "UPDATE pl_journal SET before = NULL WHERE id = (SELECT max(id) FROM pl_journal)" \
		-c "UPDATE pl_checkpoint SET finalized = finalized - 1" &&
	test_must_fail --code 1 pl-verify --pipeline pitchlake >out &&
	grep -q "the undo journal differs" out &&
	grep -q "the checkpoint differs" out
'

test_expect_success 'generic: the counter pipeline verifies through its own stages' '
	pg_sql -f "$SRC/tests/counter/schema.sql" >/dev/null &&
	counter_rows 9 120 | pg_sql -c "\\copy counter_work (seq, type, block_number, block_hash, key, amount, reset) FROM STDIN" &&
	run-pipeline --config "$SRC/tests/counter/counter.conf" --run-dir run2 --acks acks2 --once 2>log2 &&
	pl-verify --config "$SRC/tests/counter/counter.conf" >out &&
	grep -q "pipeline counter: the database equals the replay of" out &&
	pg_sql -c "UPDATE counter_totals SET sum = sum + 1 WHERE key = (SELECT min(key) FROM counter_totals)" &&
	test_must_fail --code 1 pl-verify --config "$SRC/tests/counter/counter.conf" >out &&
	grep -q "^pl-verify: differs row: counter_totals" out
'

test_done
