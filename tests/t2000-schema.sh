#!/bin/bash
# t2000-schema -- sql/ migrations via scripts/pl-migrate: idempotence, the
# version table, the documented deviations, and every NOTIFY trigger's
# channel and payload as a LISTEN client sees it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start

# notifications CHANNEL SQL: run SQL in a session that LISTENs on CHANNEL and
# print the payloads it received, one per line.
notifications() {
	printf 'LISTEN %s;\n%s\nSELECT 1;\n' "$1" "$2" |
		psql -X -q -v ON_ERROR_STOP=1 -At 2>&1 |
		sed -n 's/^Asynchronous notification "'"$1"'" with payload "\(.*\)" received from server process with PID [0-9]*\.$/\1/p'
}

test_expect_success 'pl-migrate --help' '
	pl-migrate --help >out &&
	grep -q "^usage: pl-migrate" out &&
	grep -q "exit codes" out
'

test_expect_success 'migrations apply in order and are recorded' '
	pl-migrate >out &&
	(cd "$SRC/sql" && for f in [0-9][0-9][0-9]-*.sql; do echo "pl-migrate: applied ${f%.sql}"; done) >expect &&
	test_cmp expect out &&
	test "$(wc -l <expect)" -ge 10 &&
	pg_sql -c "SELECT version, name FROM pl_schema_version ORDER BY 1" >out &&
	(cd "$SRC/sql" && for f in [0-9][0-9][0-9]-*.sql; do b=${f%.sql}; echo "$((10#${b%%-*}))|$b"; done) >expect &&
	test_cmp expect out
'

test_expect_success 'a second run applies nothing' '
	pl-migrate >out &&
	echo "pl-migrate: database is up to date" >expect &&
	test_cmp expect out &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_schema_version")" = "$(ls "$SRC"/sql/[0-9][0-9][0-9]-*.sql | wc -l)"
'

test_expect_success 'each migration file is itself idempotent' '
	for f in "$SRC"/sql/*.sql; do
		pg_sql -c "SET client_min_messages = warning" -f "$f" || return 1
	done
'

test_expect_success 'bad conninfo is a configuration error (78)' '
	test_must_fail --code 78 pl-migrate --conninfo "bogus=1" 2>err &&
	grep -q "pl-migrate: fatal: unable to connect" err
'

test_expect_success 'unreachable server is unavailable (69)' '
	test_must_fail --code 69 pl-migrate --conninfo "host=$TEST_DIR/nowhere port=1"
'

test_expect_success 'state tables have the documented columns in order' '
	pg_sql -c "SELECT c.relname || \$\$:\$\$ || string_agg(a.attname, \$\$,\$\$ ORDER BY a.attnum)
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.relname IN (SELECT table_name FROM pl_state_tables WHERE pipeline = \$\$pitchlake\$\$) AND c.relkind = \$\$r\$\$
		GROUP BY c.relname ORDER BY c.relname" >out &&
	cat >expect <<-\EOT &&
	Bids:buyer_address,round_address,bid_id,tree_nonce,amount,price
	Liquidity_Providers:address,vault_address,stashed_balance,locked_balance,unlocked_balance,latest_block
	Liquidity_Providers_Historic:address,vault_address,stashed_balance,locked_balance,unlocked_balance,block_number
	Option_Buyers:address,round_address,has_minted,has_refunded,mintable_options,refundable_amount
	Option_Rounds:address,vault_address,round_id,state,available_options,starting_liquidity,queued_liquidity,remaining_liquidity,unsold_liquidity,clearing_price,settlement_price,reserve_price,strike_price,cap_level,sold_options,premiums,payout_per_option,start_date,end_date,settlement_date,deployment_date
	Queued_Liquidity:address,queued_liquidity,bps,round_address
	VaultStates:address,unlocked_balance,locked_balance,stashed_balance,current_round,current_round_address,latest_block,fossil_client_address,eth_address,option_round_class_hash,alpha,strike_level,round_transition_period,auction_duration,round_duration,deployment_date
	Vault_Historic:unlocked_balance,locked_balance,stashed_balance,address,block_number
	pl_lp_round_liquidity:address,vault_address,round_address,starting_liquidity
	pl_vault_cursor:vault_address,block_number
	EOT
	test_cmp expect out
'

test_expect_success 'primary keys are the documented ones' '
	pg_sql -c "SELECT c.conrelid::regclass::text || \$\$:\$\$ || string_agg(a.attname, \$\$,\$\$ ORDER BY k.i)
		FROM pg_constraint c, unnest(c.conkey) WITH ORDINALITY k(n, i), pg_attribute a
		WHERE c.contype = \$\$p\$\$ AND a.attrelid = c.conrelid AND a.attnum = k.n
		AND c.conrelid::regclass::text IN (\$\$\"VaultStates\"\$\$, \$\$\"Bids\"\$\$, \$\$\"Queued_Liquidity\"\$\$,
			\$\$\"Option_Buyers\"\$\$, \$\$starknet_blocks\$\$, \$\$pl_lp_round_liquidity\$\$)
		GROUP BY c.conrelid ORDER BY 1" >out &&
	cat >expect <<-\EOT &&
	"Bids":round_address,bid_id
	"Option_Buyers":address,round_address
	"Queued_Liquidity":address,round_address
	"VaultStates":address
	pl_lp_round_liquidity:address,vault_address
	starknet_blocks:block_hash
	EOT
	test_cmp expect out
'

test_expect_success 'a replacement block at a reverted height can be stored' '
	pg_sql -c "INSERT INTO starknet_blocks VALUES (10, \$\$0xa\$\$, \$\$0x9\$\$, 100, \$\$MINED\$\$)" &&
	test_must_fail pg_sql -c "INSERT INTO starknet_blocks VALUES (10, \$\$0xb\$\$, \$\$0x9\$\$, 101, \$\$MINED\$\$)" 2>err &&
	pg_sql -c "UPDATE starknet_blocks SET status = \$\$REVERTED\$\$ WHERE block_hash = \$\$0xa\$\$" &&
	pg_sql -c "INSERT INTO starknet_blocks VALUES (10, \$\$0xb\$\$, \$\$0x9\$\$, 101, \$\$MINED\$\$)" &&
	test "$(pg_sql -c "SELECT count(*) FROM starknet_blocks WHERE block_number = 10")" = 2
'

test_expect_success 'strike_level holds a negative i128, amounts hold 2^256-1' '
	pg_sql -c "INSERT INTO \"VaultStates\" (address, strike_level, unlocked_balance)
		VALUES (\$\$0xv0\$\$, -2500, 115792089237316195423570985008687907853269984665640564039457584007913129639935)" &&
	test "$(pg_sql -c "SELECT strike_level FROM \"VaultStates\" WHERE address = \$\$0xv0\$\$")" = -2500 &&
	pg_sql -c "DELETE FROM \"VaultStates\""
'

STATE_TABLES="'VaultStates', 'Vault_Historic', 'Liquidity_Providers', 'Liquidity_Providers_Historic',
	'Option_Rounds', 'Queued_Liquidity', 'Option_Buyers', 'Bids'"

test_expect_success '008: every numeric column of the state tables but strike_level is CHECKed >= 0, validated' '
	pg_sql -c "SELECT c.relname || \$\$.\$\$ || a.attname FROM pg_class c
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.relname IN ($STATE_TABLES) AND a.atttypid = \$\$numeric\$\$::regtype
		AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = \$\$c\$\$
			AND k.convalidated AND k.conkey = ARRAY[a.attnum]
			AND k.conname = c.relname || \$\$_\$\$ || a.attname || \$\$_nonneg\$\$
			AND pg_get_constraintdef(k.oid) = \$\$CHECK ((\$\$ || quote_ident(a.attname) || \$\$ >= (0)::numeric))\$\$)
		ORDER BY 1" >out &&
	echo "VaultStates.strike_level" >expect &&
	test_cmp expect out &&
	test "$(pg_sql -c "SELECT count(*) FROM pg_constraint WHERE conname LIKE \$\$%_nonneg\$\$")" = 47
'

test_expect_success '008: a negative amount is refused (23514), a negative strike_level is not' '
	test_must_fail pg_sql -c "INSERT INTO \"Liquidity_Providers\" (address, vault_address, unlocked_balance)
		VALUES (\$\$0xa9\$\$, \$\$0xv9\$\$, -1)" 2>err &&
	grep -q "violates check constraint \"Liquidity_Providers_unlocked_balance_nonneg\"" err &&
	test_must_fail pg_sql -c "INSERT INTO \"Bids\" VALUES (\$\$0xb9\$\$, \$\$0xr9\$\$, \$\$0x1\$\$, 0, 1, -1)" 2>err &&
	grep -q "Bids_price_nonneg" err &&
	pg_sql -c "INSERT INTO \"VaultStates\" (address, strike_level, unlocked_balance) VALUES (\$\$0xv9\$\$, -1, NULL)" &&
	pg_sql -c "DELETE FROM \"VaultStates\""
'

# A database migrated up to 007 that holds rows, then migrated to 008.
upto007() {
	mkdir -p "$TEST_DIR/sql007" && cp "$SRC"/sql/00[1-7]-*.sql "$TEST_DIR/sql007/" &&
	pg_sql -c "CREATE DATABASE $1" &&
	pl-migrate --conninfo "dbname=$1" --sql-dir "$TEST_DIR/sql007" >/dev/null &&
	pg_sql -d $1 -c "INSERT INTO \"Bids\" VALUES (\$\$0xb1\$\$, \$\$0xr1\$\$, \$\$0x1\$\$, 0, 8000, 10);
		INSERT INTO \"VaultStates\" (address, strike_level, unlocked_balance) VALUES (\$\$0xv1\$\$, -2500, 5)"
}

test_expect_success '008 on a database with rows: validated; a negative row makes it fail and roll back' '
	upto007 withdata &&
	pl-migrate --conninfo "dbname=withdata" >out &&
	head -n 2 out >out2 &&
	printf "pl-migrate: applied 008-amount-checks\npl-migrate: applied 009-work-guard\n" >expect && test_cmp expect out2 &&
	test "$(pg_sql -d withdata -c "SELECT count(*) FROM pg_constraint WHERE conname LIKE \$\$%_nonneg\$\$ AND convalidated")" = 47 &&
	pg_sql -d withdata -c "SET client_min_messages = warning" -f "$SRC/sql/008-amount-checks.sql" &&
	upto007 baddata &&
	pg_sql -d baddata -c "UPDATE \"Bids\" SET amount = -8000" &&
	test_must_fail --code 75 pl-migrate --conninfo "dbname=baddata" >out 2>err &&
	grep -q "Bids_amount_nonneg" err &&
	test "$(pg_sql -d baddata -c "SELECT max(version) FROM pl_schema_version")" = 7 &&
	test "$(pg_sql -d baddata -c "SELECT count(*) FROM pg_constraint WHERE conname LIKE \$\$%_nonneg\$\$")" = 0
'

test_expect_success 'driver_events trigger payload has the documented keys' '
	notifications driver_events "INSERT INTO driver_events (type, block_hash) VALUES (\$\$StartBlock\$\$, \$\$0x5af\$\$);" >out &&
	test_line_count() { test "$(wc -l <"$1")" -eq "$2"; } &&
	test_line_count out 1 &&
	sed -e "s/\"timestamp\" : \"[^\"]*\"/\"timestamp\" : T/" out >actual &&
	echo "{\"id\" : 1, \"sequence_index\" : 1, \"type\" : \"StartBlock\", \"timestamp\" : T, \"is_processed\" : false, \"block_hash\" : \"0x5af\", \"start_block_hash\" : null, \"end_block_hash\" : null, \"vault_address\" : null}" >expect &&
	test_cmp expect actual &&
	grep -Eq "\"timestamp\" : \"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+\+00:00\"" out
'

test_expect_success 'driver_events payload is rendered in UTC whatever the session time zone' '
	notifications driver_events "SET TimeZone = \$\$Asia/Tokyo\$\$; INSERT INTO driver_events (type, block_hash) VALUES (\$\$RevertBlock\$\$, \$\$0x5af\$\$);" >out &&
	grep -q "+00:00\"" out
'

test_expect_success 'vault_registry keeps channel vault_insert' '
	notifications vault_insert "INSERT INTO vault_registry (vault_address, deployed_at) VALUES (\$\$0x50aa\$\$, \$\$0x1\$\$);" >out &&
	echo "{\"id\":1,\"vault_address\":\"0x50aa\",\"deployed_at\":\"0x1\",\"last_block_indexed\":null,\"last_block_processed\":null}" >expect &&
	test_cmp expect out
'

test_expect_success 'starknet_blocks insert notifies starknet_blocks_insert' '
	notifications starknet_blocks_insert "INSERT INTO starknet_blocks VALUES (11, \$\$0xc\$\$, \$\$0xb\$\$, 102, \$\$MINED\$\$);" >out &&
	echo 11 >expect &&
	test_cmp expect out
'

test_expect_success 'VaultStates: insert on vault_state_insert (bare row), update on vault_update' '
	notifications vault_state_insert "INSERT INTO \"VaultStates\" (address, unlocked_balance) VALUES (\$\$0xv1\$\$, 5);" >out &&
	grep -q "^{\"address\":\"0xv1\",\"unlocked_balance\":5,\"locked_balance\":null," out &&
	notifications vault_insert "INSERT INTO \"VaultStates\" (address) VALUES (\$\$0xv2\$\$);" >out &&
	test_must_be_empty() { ! test -s "$1"; } &&
	test_must_be_empty out &&
	notifications vault_update "UPDATE \"VaultStates\" SET locked_balance = 7 WHERE address = \$\$0xv1\$\$;" >out &&
	grep -q "^{\"operation\" : \"update\", \"payload\" : {\"address\":\"0xv1\",\"unlocked_balance\":5,\"locked_balance\":7," out
'

test_expect_success 'Liquidity_Providers: insert (017) and update notify lp_update' '
	notifications lp_update "INSERT INTO \"Liquidity_Providers\" (address, vault_address, unlocked_balance) VALUES (\$\$0xa1\$\$, \$\$0xv1\$\$, 1);
		UPDATE \"Liquidity_Providers\" SET unlocked_balance = 2;" >out &&
	echo "{\"operation\" : \"insert\", \"payload\" : {\"address\":\"0xa1\",\"vault_address\":\"0xv1\",\"stashed_balance\":null,\"locked_balance\":null,\"unlocked_balance\":1,\"latest_block\":null}}" >expect &&
	echo "{\"operation\" : \"update\", \"payload\" : {\"address\":\"0xa1\",\"vault_address\":\"0xv1\",\"stashed_balance\":null,\"locked_balance\":null,\"unlocked_balance\":2,\"latest_block\":null}}" >>expect &&
	test_cmp expect out
'

test_expect_success 'Option_Rounds: insert and update notify or_update' '
	notifications or_update "INSERT INTO \"Option_Rounds\" (address, state) VALUES (\$\$0xr1\$\$, \$\$Open\$\$);
		UPDATE \"Option_Rounds\" SET state = \$\$Auctioning\$\$;" >out &&
	test "$(wc -l <out)" -eq 2 &&
	head -n 1 out | grep -q "^{\"operation\" : \"insert\", \"payload\" : {\"address\":\"0xr1\",\"vault_address\":null,\"round_id\":null,\"state\":\"Open\",\"available_options\":0," &&
	tail -n 1 out | grep -q "^{\"operation\" : \"update\", \"payload\" : {\"address\":\"0xr1\",.*\"state\":\"Auctioning\""
'

test_expect_success 'Option_Buyers: insert (017) and update notify ob_update' '
	notifications ob_update "INSERT INTO \"Option_Buyers\" (address, round_address) VALUES (\$\$0xb1\$\$, \$\$0xr1\$\$);
		UPDATE \"Option_Buyers\" SET has_minted = true;" >out &&
	echo "{\"operation\" : \"insert\", \"payload\" : {\"address\":\"0xb1\",\"round_address\":\"0xr1\",\"has_minted\":false,\"has_refunded\":false,\"mintable_options\":null,\"refundable_amount\":null}}" >expect &&
	echo "{\"operation\" : \"update\", \"payload\" : {\"address\":\"0xb1\",\"round_address\":\"0xr1\",\"has_minted\":true,\"has_refunded\":false,\"mintable_options\":null,\"refundable_amount\":null}}" >>expect &&
	test_cmp expect out
'

test_expect_success 'Bids: insert and update notify bids_update (015: tree_nonce a string, address = buyer)' '
	notifications bids_update "INSERT INTO \"Bids\" VALUES (\$\$0xb1\$\$, \$\$0xr1\$\$, \$\$0x3\$\$, 0, 8000, 10);
		UPDATE \"Bids\" SET price = 12;" >out &&
	cat >expect <<-\EOT &&
	{"operation" : "insert", "payload" : {"buyer_address" : "0xb1", "round_address" : "0xr1", "bid_id" : "0x3", "tree_nonce" : "0", "amount" : 8000, "price" : 10, "address" : "0xb1"}}
	{"operation" : "update", "payload" : {"buyer_address" : "0xb1", "round_address" : "0xr1", "bid_id" : "0x3", "tree_nonce" : "0", "amount" : 8000, "price" : 12, "address" : "0xb1"}}
	EOT
	test_cmp expect out
'

test_expect_success 'no historic log triggers; Queued_Liquidity FK is deferred' '
	pg_sql -c "UPDATE \"VaultStates\" SET latest_block = 5" &&
	test "$(pg_sql -c "SELECT count(*) FROM \"Vault_Historic\"")" = 0 &&
	pg_sql -c "BEGIN; INSERT INTO \"Queued_Liquidity\" VALUES (\$\$0xa1\$\$, 1, 2, \$\$0xr9\$\$);
		INSERT INTO \"Option_Rounds\" (address) VALUES (\$\$0xr9\$\$); COMMIT;" &&
	test_must_fail pg_sql -c "INSERT INTO \"Queued_Liquidity\" VALUES (\$\$0xa1\$\$, 1, 2, \$\$0xr8\$\$)" 2>err
'

test_expect_success 'pl_state_tables lists the tables ep-apply owns' '
	pg_sql -c "SELECT table_name FROM pl_state_tables WHERE pipeline = \$\$pitchlake\$\$ ORDER BY table_name COLLATE \"C\"" >out &&
	printf "%s\n" Bids Liquidity_Providers Liquidity_Providers_Historic Option_Buyers \
		Option_Rounds Queued_Liquidity VaultStates Vault_Historic pl_lp_round_liquidity pl_vault_cursor >expect &&
	test_cmp expect out
'

test_expect_success 'a producer-created starknet_blocks (PK on block_number) is converted' '
	pg_sql -c "CREATE DATABASE legacy" &&
	pg_sql -d legacy -c "CREATE TABLE starknet_blocks (block_number numeric(78,0) NOT NULL PRIMARY KEY,
		block_hash varchar(66) NOT NULL, parent_hash varchar(66) NOT NULL, timestamp numeric(78,0) NOT NULL,
		status varchar(255) NOT NULL); INSERT INTO starknet_blocks VALUES (1, \$\$0x1\$\$, \$\$0x0\$\$, 5, \$\$MINED\$\$)" &&
	pl-migrate --conninfo "dbname=legacy" >out &&
	test "$(pg_sql -d legacy -c "SELECT pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conrelid = \$\$starknet_blocks\$\$::regclass AND contype = \$\$p\$\$")" = "PRIMARY KEY (block_hash)"
'

test_done
