#!/bin/bash
# t4800-backend-contract -- the real websocket backend (pitchlake_db_server,
# ../shared/docs/downstream-queries.md) works unchanged against our database.
# A client LISTENs on every channel our triggers notify while the live
# pipeline applies a generated chain (reorgs included); every payload must
# parse into the backend's Go structs: each key the backend reads present,
# with the JSON type its Go field needs (CONTRACT below, from the doc's
# models/unmarshal.go).  Then the backend's SELECTs run verbatim (prepared,
# parameters as the backend passes them) and every result column must scan
# into its Go type (no NULL into a string, uint64 or bool; uint64 in range;
# BigInt not negative).  docs/downstream.md has the deviations this needs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

# The payload contract: channel, key (inside "payload" for the enveloped
# channels), JSON type the Go field accepts:
#   str   a string or null (json.Unmarshal into string)   key!  must be a non-null string (routing)
#   big   a number (integer) or null (big.Int: no quoted strings)
#   u64   a non-negative integer below 2^64, or null (uint64)
#   bool  true or false                                    arr?  an array, or absent
# Enveloped channels carry {"operation": "insert"|"update", "payload": {...}}.
cat >"$TEST_DIR/contract" <<'CONTRACT'
vault_update	current_round	big
vault_update	current_round_address	str
vault_update	unlocked_balance	big
vault_update	locked_balance	big
vault_update	stashed_balance	big
vault_update	address	key!
vault_update	latest_block	big
vault_update	deployment_date	u64
vault_update	fossil_client_address	str
vault_update	eth_address	str
vault_update	option_round_class_hash	str
vault_update	alpha	big
vault_update	strike_level	big
vault_update	auction_duration	u64
vault_update	round_duration	u64
vault_update	round_transition_period	u64
lp_update	vault_address	key!
lp_update	address	key!
lp_update	unlocked_balance	big
lp_update	locked_balance	big
lp_update	stashed_balance	big
lp_update	latest_block	big
or_update	vault_address	key!
or_update	address	key!
or_update	round_id	big
or_update	cap_level	big
or_update	start_date	u64
or_update	end_date	u64
or_update	settlement_date	u64
or_update	starting_liquidity	big
or_update	queued_liquidity	big
or_update	remaining_liquidity	big
or_update	available_options	big
or_update	clearing_price	big
or_update	settlement_price	big
or_update	reserve_price	big
or_update	strike_price	big
or_update	sold_options	big
or_update	unsold_liquidity	big
or_update	state	str
or_update	premiums	big
or_update	payout_per_option	big
or_update	deployment_date	u64
ob_update	address	key!
ob_update	round_address	str
ob_update	mintable_options	big
ob_update	has_minted	bool
ob_update	has_refunded	bool
ob_update	refundable_amount	big
ob_update	bids	arr?
bids_update	address	key!
bids_update	round_address	str
bids_update	bid_id	str
bids_update	tree_nonce	str
bids_update	amount	big
bids_update	price	big
CONTRACT
# Our own channels, which the backend does not read (docs/schema.md): the
# keys we document, so that a change of theirs is seen too.
cat >"$TEST_DIR/own" <<'OWN'
vault_state_insert	address	key!
vault_state_insert	current_round	big
vault_state_insert	deployment_date	u64
vault_insert	vault_address	key!
vault_insert	deployed_at	str
driver_events	id	u64
driver_events	sequence_index	u64
driver_events	type	key!
driver_events	timestamp	key!
driver_events	is_processed	bool
driver_events	block_hash	str
driver_events	start_block_hash	str
driver_events	end_block_hash	str
driver_events	vault_address	str
OWN
ENVELOPED="vault_update lp_update or_update ob_update bids_update"
CHANNELS="$ENVELOPED vault_state_insert vault_insert driver_events starknet_blocks_insert starknet_blocks_revert"

# A real LISTEN client: psql on every channel, polled with a cheap query so
# that it prints notifications as they arrive; stops when the file stop exists.
start_listener() {
	(
		{
			for c in $CHANNELS pl_t4800_end; do echo "LISTEN $c;"; done
			echo "SELECT 'listening';"
			while [ ! -e "$TEST_DIR/stop" ]; do echo "SELECT 1;"; sleep 0.1; done
		} | psql -X -q -At >"$TEST_DIR/notes.raw" 2>"$TEST_DIR/listener.err"
	) </dev/null >/dev/null 2>&1 &
	echo $! >"$TEST_DIR/listener.pid"
	local i=0
	while ! grep -qx listening "$TEST_DIR/notes.raw" 2>/dev/null; do
		[ $i -lt 600 ] || { echo "listener did not start"; return 1; }
		sleep 0.1; i=$((i + 1))
	done
}
stop_listener() {
	[ -f "$TEST_DIR/listener.pid" ] || return 0
	local pid i=0
	pid=$(cat "$TEST_DIR/listener.pid")
	touch "$TEST_DIR/stop"
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	rm -f "$TEST_DIR/listener.pid"
	return 0
}
test_when_finished 'pl_unsupervise pipe; stop_listener'

test_expect_success 'set up: schema, a generated chain with reorgs, a listener on every channel' '
	pl-migrate >/dev/null &&
	chain-sim --seed 3 --blocks 300 --vaults 3 --lps 6 --buyers 5 --reorg-rate 30 --transfers >chain &&
	grep -q "\"type\":\"RevertBlock\"" chain &&
	grep -q "\"name\":\"BidPlaced\"" chain &&
	start_listener
'

test_expect_success 'the live pipeline applies the chain while the client listens' '
	pl_supervise pipe &&
	pg-produce --quiet --register --rate 500 <chain &&
	last=$(grep "\"op\":\"begin\"" chain | tail -n 1 | sed "s/.*\"seq\":\([0-9]*\).*/\1/") &&
	pg_wait_checkpoint $last &&
	pg_sql -c "NOTIFY pl_t4800_end" &&
	i=0 && while ! grep -q "notification \"pl_t4800_end\"" notes.raw; do
		[ $i -lt 600 ] || { echo "end marker not received"; exit 1; }; sleep 0.1; i=$((i + 1))
	done &&
	stop_listener &&
	test ! -s listener.err
'

# notes: one JSON line per notification, {"channel": C, "raw": PAYLOAD TEXT}
test_expect_success 'notifications were received on every channel the backend reads' '
	sed -n "s/^Asynchronous notification \"\([a-z_0-9]*\)\" with payload \"\(.*\)\" received from server process with PID [0-9]*\.$/\1\t\2/p" notes.raw |
		grep -v "^pl_t4800_end" | jq -R -c "split(\"\t\") | {channel: .[0], raw: (.[1:] | join(\"\t\"))}" >notes &&
	test "$(grep -c "^Asynchronous notification" notes.raw)" -eq $(($(wc -l <notes) + 1)) &&
	for c in $ENVELOPED vault_state_insert vault_insert driver_events starknet_blocks_insert; do
		n=$(jq -r "select(.channel == \"$c\") | .channel" notes | wc -l) &&
		say "$c: $n notifications" &&
		test $n -gt 0 || { echo "nothing on $c"; exit 1; }
	done &&
	test_json notes ".channel as \$c | \"$CHANNELS\" | split(\" \") | index([\$c]) != null"
'

# check_payloads CONTRACT_FILE ENVELOPED(true|false) CHANNEL...: every
# notification of those channels against the contract; prints each breach.
check_payloads() {
	jq -R -s -c "split(\"\n\") | map(select(length > 0) | split(\"\t\") | {ch: .[0], key: .[1], type: .[2]})" "$1" >contract.json &&
	jq -r --slurpfile k contract.json --argjson env "$2" --arg chans "$3" '
		def u64: type == "number" and . >= 0 and . == floor and . < 18446744073709551616;
		def ok($t): if $t == "key!" then type == "string"
			elif $t == "str" then type == "string" or type == "null"
			elif $t == "big" then (type == "number" and . == floor) or type == "null"
			elif $t == "u64" then u64 or type == "null"
			elif $t == "bool" then type == "boolean"
			else error("bad contract type " + $t) end;
		select(.channel as $c | $chans | split(" ") | index([$c]) != null) |
		.channel as $c | .raw as $raw |
		(.raw | fromjson) as $j |
		if ($j | type) != "object" then "\($c): not a JSON object: \($raw)"
		elif $env and (($j.operation | IN("insert", "update") | not) or ($j.payload | type) != "object")
		then "\($c): not an {\"operation\", \"payload\"} envelope: \($raw)"
		else (if $env then $j.payload else $j end) as $p |
			$k[0][] | select(.ch == $c) | .key as $key | .type as $t |
			if $t == "arr?" then
				(if ($p | has($key) | not) or ($p[$key] | type) == "array" then empty
				 else "\($c): \($key) is not an array: \($raw)" end)
			elif ($p | has($key) | not) then "\($c): key \($key) missing: \($raw)"
			elif ($p[$key] | ok($t)) then empty
			else "\($c): \($key) is \($p[$key] | type) \($p[$key] | tojson), want \($t): \($raw)" end
		end' notes >breaches &&
	if test -s breaches; then head -n 20 breaches; false; fi
}

test_expect_success 'every backend payload parses into its Go struct (keys and JSON types)' '
	check_payloads "$TEST_DIR/contract" true "$ENVELOPED"
'

test_expect_success 'bids_update carries the routing key address (the buyer) and tree_nonce as a string' '
	jq -c "select(.channel == \"bids_update\") | .raw | fromjson | .payload" notes >bids &&
	test_json bids ".address == .buyer_address and (.tree_nonce | test(\"^[0-9]+$\"))"
'

test_expect_success 'our own channels keep their documented payloads' '
	check_payloads "$TEST_DIR/own" false "vault_state_insert vault_insert driver_events" &&
	jq -r "select(.channel == \"starknet_blocks_insert\") | .raw" notes | grep -v "^[0-9][0-9]*$" >bad_blocks;
	test ! -s bad_blocks
'

# run_select NAME PARAMS_QUERY STATEMENT: PREPARE the backend's statement
# verbatim (types inferred by the server, as pgx does), EXECUTE it once per
# row of PARAMS_QUERY (its columns are the parameters), rows to NAME.out.
run_select() {
	{
		printf "PREPARE q AS %s;\n" "$3"
		printf "SELECT format(%s) FROM (%s) p \\\\gexec\n" "$4" "$2"
	} >"$1.sql" &&
	pg_sql -P null=NULL -f "$1.sql" >"$1.out"
}

# scan_check NAME TYPES: every row of NAME.out (| separated) scans into the
# Go types (one per column: str, u64, big, bool).  sbig: strike_level, a
# Cairo i128, negative on the chain (-2500); BigInt.Scan never reads its
# input (scanString only trims it) and UnmarshalJSON takes negative numbers,
# so the backend scans it without error (docs/downstream.md).
scan_check() {
	awk -F"|" -v types="$2" '
		BEGIN { n = split(types, t, " ") }
		NF != n { print "row with " NF " columns, want " n ": " $0; bad = 1; next }
		{ for (i = 1; i <= n; i++) {
			v = $i; why = ""
			if (t[i] == "str" && v == "NULL") why = "NULL into a Go string"
			else if (t[i] == "u64" && (v !~ /^[0-9]+$/ || length(v) > 20 || (length(v) == 20 && v > "18446744073709551615"))) why = "not a uint64"
			else if (t[i] == "big" && v != "NULL" && v !~ /^[0-9]+$/) why = "not a non-negative integer (BigInt)"
			else if (t[i] == "sbig" && v != "NULL" && v !~ /^-?[0-9]+$/) why = "not an integer (BigInt)"
			else if (t[i] == "bool" && v != "t" && v != "f") why = "not a bool"
			if (why != "") { print "column " i " (" t[i] ") = " v ": " why ": " $0; bad = 1 }
		} }
		END { exit bad }' "$1.out"
}

test_expect_success 'GetVaultStateByID: one row per vault, every column scans' '
	run_select vault "SELECT address FROM \"VaultStates\"" \
		"SELECT current_round, current_round_address, unlocked_balance, locked_balance, stashed_balance, address, latest_block, deployment_date, fossil_client_address, eth_address, option_round_class_hash, alpha, strike_level, auction_duration, round_duration, round_transition_period FROM public.\"VaultStates\" WHERE address=\$1" \
		"'"'"'EXECUTE q(%L)'"'"', address" &&
	test $(wc -l <vault.out) -eq $(pg_sql -c "SELECT count(*) FROM \"VaultStates\"") &&
	test $(wc -l <vault.out) -eq 3 &&
	scan_check vault "big str big big big str big u64 str str str big sbig u64 u64 u64"
'

test_expect_success 'GetOptionRoundsByVaultAddress: every round, in numeric round_id order, scans' '
	run_select rounds "SELECT address FROM \"VaultStates\" ORDER BY address" \
		"SELECT address, vault_address, round_id, cap_level, start_date, end_date, settlement_date, starting_liquidity, queued_liquidity,remaining_liquidity, unsold_liquidity, available_options, reserve_price, settlement_price, strike_price, sold_options, clearing_price, state, premiums, payout_per_option, deployment_date FROM public.\"Option_Rounds\" WHERE vault_address = \$1 ORDER BY round_id ASC" \
		"'"'"'EXECUTE q(%L)'"'"', address" &&
	test $(wc -l <rounds.out) -eq $(pg_sql -c "SELECT count(*) FROM \"Option_Rounds\"") &&
	test $(wc -l <rounds.out) -gt 3 &&
	scan_check rounds "str str big big u64 u64 u64 big big big big big big big big big big str big big u64" &&
	awk -F"|" "\$2 == v && \$3 + 0 <= r + 0 { print \"round_id not ascending: \" \$0; bad = 1 } { v = \$2; r = \$3 } END { exit bad }" rounds.out
'

test_expect_success 'GetLiquidityProviderStateByAddress: every LP of every vault scans' '
	run_select lps "SELECT address, vault_address FROM \"Liquidity_Providers\"" \
		"SELECT address, vault_address, unlocked_balance, locked_balance, stashed_balance, latest_block FROM public.\"Liquidity_Providers\" WHERE address=\$1 AND vault_address=\$2" \
		"'"'"'EXECUTE q(%L, %L)'"'"', address, vault_address" &&
	test $(wc -l <lps.out) -eq $(pg_sql -c "SELECT count(*) FROM \"Liquidity_Providers\"") &&
	test -s lps.out &&
	scan_check lps "str str big big big big"
'

test_expect_success 'GetOptionBuyerByAddress and its nested Bids query scan' '
	run_select buyers "SELECT DISTINCT address FROM \"Option_Buyers\"" \
		"SELECT address, round_address, mintable_options, refundable_amount, has_minted, has_refunded FROM public.\"Option_Buyers\" WHERE address=\$1" \
		"'"'"'EXECUTE q(%L)'"'"', address" &&
	test $(wc -l <buyers.out) -eq $(pg_sql -c "SELECT count(*) FROM \"Option_Buyers\"") &&
	test -s buyers.out &&
	scan_check buyers "str str big big bool bool" &&
	run_select bids "SELECT address, round_address FROM \"Option_Buyers\"" \
		"SELECT buyer_address, round_address, bid_id, tree_nonce, amount, price FROM public.\"Bids\" WHERE buyer_address=\$1 AND round_address=\$2" \
		"'"'"'EXECUTE q(%L, %L)'"'"', address, round_address" &&
	test -s bids.out &&
	scan_check bids "str str str str big big"
'

test_expect_success 'GetVaultAddresses (unqualified table name) lists every vault' '
	pg_sql -c "SELECT address FROM \"VaultStates\" ;" >addrs.out &&
	test $(wc -l <addrs.out) -eq 3 && scan_check addrs "str"
'

test_expect_success 'the pipeline ran clean: nothing quarantined, state equals the offline replay' '
	test "$(pg_sql -c "SELECT count(*) FROM pl_quarantine")" = 0 &&
	ep-apply --dump-state expect <chain >/dev/null &&
	pg-snapshot -o got && test_cmp expect got
'

test_done
