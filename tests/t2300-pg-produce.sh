#!/bin/bash
# t2300-pg-produce -- pg-produce against a real cluster: a chain-sim chain
# with reorgs lands in events / starknet_blocks / driver_events as the Juno
# plugin would write it (REVERTED blocks, replacement blocks, parent links,
# event arrays), pg-listen | block-fetch gives chain-sim's frames back,
# --register, --latency-log, --rate pacing, and the failure exits (65 bad
# input or refused data, 78 configuration).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start

# newdb NAME: a fresh migrated database.
newdb() {
	pg_sql -d postgres -c "CREATE DATABASE $1" && PGDATABASE=$1 pl-migrate >/dev/null
}
newdb main || { echo "Bail out! cannot set the database up"; exit 1; }
export PGDATABASE=main

test_must_be_empty() {
	if test -s "$1"; then echo "'$1' is not empty:" >&2; head -n 5 "$1" >&2; return 1; fi
}

# The chain every test below uses: reorgs included.
chain-sim --seed 3 --blocks 60 --reorg-rate 150 --max-reorg-depth 3 >"$TEST_DIR/frames" ||
	{ echo "Bail out! chain-sim failed"; exit 1; }

test_expect_success 'pg-produce --help lists options and exit codes' '
	pg-produce --help >out &&
	grep -q "^usage: pg-produce" out &&
	grep -q "exit codes: 0 done" out &&
	grep -q -- "--latency-log" out &&
	test_must_fail --code 64 pg-produce --bogus </dev/null 2>err &&
	test_must_fail --code 64 pg-produce --rate -1 </dev/null 2>err &&
	test_must_fail --code 64 pg-produce --rate fast </dev/null 2>err &&
	test_must_fail --code 64 pg-produce --rate 2>err &&
	test_must_fail --code 64 pg-produce --quiet=1 </dev/null 2>err
'

test_expect_success 'bad conninfo is a configuration error (78)' '
	test_must_fail --code 78 pg-produce --conninfo "bogus=1" <frames 2>err &&
	grep -q "^pg-produce: fatal: unable to connect" err
'

test_expect_success 'schema not migrated is a configuration error (78)' '
	pg_sql -d postgres -c "CREATE DATABASE bare" &&
	test_must_fail --code 78 pg-produce --conninfo "dbname=bare" <frames 2>err &&
	grep -q "is the schema migrated" err
'

test_expect_success 'empty input: nothing written, exit 0, a summary' '
	pg-produce </dev/null >out 2>err &&
	test_must_be_empty out &&
	grep -q "^pg-produce: done: 0 blocks" err &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events")" = 0
'

test_expect_success 'the chain has reorgs (test precondition)' '
	test "$(jq -r "select(.op == \"begin\" and .type == \"RevertBlock\") | 1" frames | wc -l)" -ge 3
'

test_expect_success 'a chain with reorgs: one transaction per frame' '
	pg-produce <frames >out 2>err &&
	test_must_be_empty out &&
	nblocks=$(jq -r "select(.op == \"begin\" and .type == \"StartBlock\") | 1" frames | wc -l) &&
	nframes=$(jq -r "select(.op == \"begin\") | 1" frames | wc -l) &&
	nevents=$(jq -nr "foreach inputs as \$l (null; if \$l.op == \"begin\" then \$l.type else . end;
		select(. == \"StartBlock\" and \$l.op == \"event\") | 1)" frames | wc -l) &&
	test "$(pg_sql -c "SELECT count(*) FROM starknet_blocks")" = "$nblocks" &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events")" = "$nframes" &&
	test "$(pg_sql -c "SELECT count(*) FROM events")" = "$nevents" &&
	test "$(pg_sql -c "SELECT count(*) FROM vault_registry")" = 0 &&
	grep -q "^pg-produce: done: $nframes blocks" err
'

test_expect_success 'driver_events: types in frame order, fresh numbering, unprocessed' '
	jq -r "select(.op == \"begin\") | [.driver_id, .seq, .type, .block_hash] | @tsv" frames >expect &&
	pg_sql -F "	" -c "SELECT id, sequence_index, type, block_hash FROM driver_events ORDER BY id" >actual &&
	test_cmp expect actual &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE is_processed OR start_block_hash IS NOT NULL OR vault_address IS NOT NULL")" = 0
'

test_expect_success 'REVERTED blocks are the RevertBlock frames; replacement blocks are live' '
	jq -r "select(.op == \"begin\" and .type == \"RevertBlock\") | .block_hash" frames | sort >expect &&
	pg_sql -c "SELECT block_hash FROM starknet_blocks WHERE status = \$\$REVERTED\$\$" | sort >actual &&
	test_cmp expect actual &&
	jq -sr "[.[] | select(.op == \"begin\" and .type == \"StartBlock\")] | group_by(.block_number) |
		.[] | last | [.block_number, .block_hash, .timestamp] | @tsv" frames >expect &&
	pg_sql -F "	" -c "SELECT block_number, block_hash, timestamp FROM starknet_blocks
		WHERE status = \$\$MINED\$\$ ORDER BY block_number" >actual &&
	test_cmp expect actual &&
	test "$(pg_sql -c "SELECT count(*) FROM starknet_blocks WHERE status NOT IN (\$\$MINED\$\$, \$\$REVERTED\$\$)")" = 0
'

test_expect_success 'parent_hash links the live chain (0x0 below the first block)' '
	pg_sql -c "SELECT count(*) FROM starknet_blocks b WHERE b.status = \$\$MINED\$\$ AND b.parent_hash <>
		coalesce((SELECT p.block_hash FROM starknet_blocks p WHERE p.status = \$\$MINED\$\$
			AND p.block_number = b.block_number - 1), \$\$0x0\$\$)" >actual &&
	echo 0 >expect &&
	test_cmp expect actual &&
	test "$(pg_sql -c "SELECT parent_hash FROM starknet_blocks ORDER BY block_number LIMIT 1")" = 0x0
'

test_expect_success 'events rows equal the frames (arrays included; reverted blocks keep theirs)' '
	jq -nc "foreach inputs as \$l (null; if \$l.op == \"begin\" then \$l.type else . end;
		select(. == \"StartBlock\" and \$l.op == \"event\") | \$l |
		[.block_number, .block_hash, .nonce, .vault, .name, .keys, .data, .tx])" frames | sort >expect &&
	pg_sql -c "SELECT json_build_array(block_number, block_hash, event_nonce, vault_address,
		event_name, event_keys, event_data, transaction_hash) FROM events" | jq -c . | sort >actual &&
	test_cmp expect actual
'

test_expect_success 'pg-listen --once | block-fetch gives the frames back' '
	pg-listen --once | block-fetch >fetched &&
	jq -c "select(.op == \"begin\") | [.type, .block_number, .block_hash, .timestamp]" frames >expect &&
	jq -c "select(.op == \"begin\") | [.type, .block_number, .block_hash, .timestamp]" fetched >actual &&
	test_cmp expect actual &&
	sel="[.block_number, .block_hash, .timestamp, .tx, .vault, .nonce, .name, .keys, .data]" &&
	jq -nc "foreach inputs as \$l (0; if \$l.op == \"begin\" then . + 1 else . end;
		select(\$l.op == \"event\") | [., (\$l | $sel)])" frames >expect &&
	jq -nc "foreach inputs as \$l (0; if \$l.op == \"begin\" then . + 1 else . end;
		select(\$l.op == \"event\") | [., (\$l | $sel)])" fetched >actual &&
	test_cmp expect actual
'

test_expect_success 'into a fresh database the round trip is byte-identical to chain-sim' '
	test_json fetched "if .op == \"begin\" then has(\"prev\") else true end" &&
	sed "s/,\"prev\":\(null\|{[^}]*}\)//; s/,\"reverts\":\[[^]]*\]//" fetched >fetched.noprev &&
	test_cmp frames fetched.noprev
'

test_expect_success 'replaying a stored block: exit 65, nothing more written' '
	before=$(pg_sql -c "SELECT count(*) FROM driver_events") &&
	test_must_fail --code 65 pg-produce <frames 2>err &&
	grep -q "^pg-produce: fatal: unable to write block 1000 (0x[0-9a-f]*) of the frame ending at line [0-9]*: ERROR:  duplicate key" err &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events")" = "$before"
'

test_expect_success 'RevertBlock of a block that is not stored (or already REVERTED): exit 65' '
	before=$(pg_sql -c "SELECT count(*) FROM driver_events") &&
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":1,\"type\":\"RevertBlock\",\"block_number\":5,\"block_hash\":\"0x5\",\"timestamp\":1}" \
		"{\"op\":\"end\",\"driver_id\":1}" >in &&
	test_must_fail --code 65 pg-produce <in 2>err &&
	grep -q "unable to revert block 5 (0x5) of the frame ending at line 2: no such block" err &&
	h=$(pg_sql -c "SELECT block_hash FROM starknet_blocks WHERE status = \$\$REVERTED\$\$ LIMIT 1") &&
	n=$(pg_sql -c "SELECT block_number FROM starknet_blocks WHERE block_hash = \$\$$h\$\$") &&
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":1,\"type\":\"RevertBlock\",\"block_number\":$n,\"block_hash\":\"$h\",\"timestamp\":1}" \
		"{\"op\":\"end\",\"driver_id\":1}" >in &&
	test_must_fail --code 65 pg-produce <in 2>err &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events")" = "$before"
'

test_expect_success '--register: a vault_registry row per deployed vault, in the block' '
	newdb reg &&
	pg-produce --conninfo "dbname=reg" --register --quiet <frames 2>err &&
	jq -sr "[.[] | select(.op == \"begin\" and .type == \"StartBlock\")] | group_by(.block_number) |
		map(last | .block_hash) | .[]" frames >live &&
	jq -nr "foreach inputs as \$l (null; if \$l.op == \"begin\" then \$l else . end;
		select(\$l.op == \"event\" and \$l.name == \"ContractDeployed\") | [\$l.vault, \$l.block_hash] | @tsv)" frames |
		grep -F -f live | sort >expect &&
	test -s expect &&
	pg_sql -d reg -F "	" -c "SELECT vault_address, deployed_at FROM vault_registry
		WHERE last_block_indexed = deployed_at" | sort >actual &&
	test_cmp expect actual
'

test_expect_success '--latency-log: one line per commit with the driver id and the time' '
	newdb lat &&
	t0=$(date +%s%N) &&
	pg-produce --conninfo "dbname=lat" --latency-log lat.log <frames 2>err &&
	t1=$(date +%s%N) &&
	pg_sql -d lat -F "	" -c "SELECT id, sequence_index FROM driver_events ORDER BY id" >expect &&
	jq -r "[.driver_id, .seq] | @tsv" lat.log >actual &&
	test_cmp expect actual &&
	jq -r ".commit_ns" lat.log >ns &&
	sort -n -c ns &&
	test "$(head -n 1 ns)" -ge "$t0" && test "$(tail -n 1 ns)" -le "$t1" &&
	grep -v -E "^\{\"driver_id\":[0-9]+,\"seq\":[0-9]+,\"commit_ns\":[0-9]+\}$" lat.log >bad;
	test_must_be_empty bad
'

test_expect_success '--rate paces transactions (20 blocks at 100/s take >= 0.15 s)' '
	newdb rate &&
	chain-sim --seed 9 --blocks 20 --no-reorgs >twenty &&
	t0=$(date +%s%N) &&
	env -u PL_TEST_NO_SLEEP pg-produce --conninfo "dbname=rate" --rate 100 <twenty 2>err &&
	t1=$(date +%s%N) &&
	test $(( (t1 - t0) / 1000000 )) -ge 150 &&
	test "$(pg_sql -d rate -c "SELECT count(*) FROM starknet_blocks")" = 20
'

test_expect_success 'a live pg-listen sees every driver event as it is committed (NOTIFY)' '
	newdb live &&
	n=$(jq -r "select(.op == \"begin\") | 1" frames | wc -l) &&
	{ timeout 60 pg-listen --conninfo "dbname=live" --poll-interval 60000 --until-seq "$n" >listened 2>lerr & } &&
	env -u PL_TEST_NO_SLEEP pg-produce --conninfo "dbname=live" --rate 200 <frames 2>err &&
	wait &&
	jq -r "[.id, .sequence_index, .type, .block_hash] | @tsv" listened >actual &&
	jq -r "select(.op == \"begin\") | [.driver_id, .seq, .type, .block_hash] | @tsv" frames >expect &&
	test_cmp expect actual
'

test_expect_success '--rate with PL_TEST_NO_SLEEP does not wait' '
	newdb nosleep &&
	t0=$(date +%s%N) &&
	PL_TEST_NO_SLEEP=1 pg-produce --conninfo "dbname=nosleep" --rate 1 <twenty 2>err &&
	t1=$(date +%s%N) &&
	test $(( (t1 - t0) / 1000000 )) -lt 10000 &&
	test "$(pg_sql -d nosleep -c "SELECT count(*) FROM starknet_blocks")" = 20
'

test_expect_success 'NewBlock is written as a StartBlock driver event' '
	newdb alias &&
	chain-sim --seed 4 --blocks 2 --no-reorgs | sed "s/\"StartBlock\"/\"NewBlock\"/" >nb &&
	pg-produce --conninfo "dbname=alias" <nb 2>err &&
	pg_sql -d alias -c "SELECT type FROM driver_events ORDER BY id" >actual &&
	printf "StartBlock\nStartBlock\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'an incomplete frame at EOF is discarded with a warning' '
	newdb partial &&
	head -n "$(grep -n "\"op\":\"end\"" frames | sed -n 2p | cut -d: -f1)" frames >in &&
	sed -n "$(($(wc -l <in) + 1)),$(($(wc -l <in) + 2))p" frames >>in &&
	pg-produce --conninfo "dbname=partial" <in 2>err &&
	grep -q "warning: discarding the incomplete frame that began at line" err &&
	test "$(pg_sql -d partial -c "SELECT count(*) FROM driver_events")" = 2 &&
	test "$(pg_sql -d partial -c "SELECT count(*) FROM starknet_blocks")" = 2
'

# bad_frames: "line3 description" -- the third line of a frame replaced.
B='{"op":"begin","driver_id":1,"seq":1,"type":"StartBlock","block_number":7,"block_hash":"0x7","timestamp":100}'
E='{"op":"event","block_number":7,"block_hash":"0x7","timestamp":100,"tx":"0x1","vault":"0x2","nonce":1,"name":"Deposit","keys":["0x3"],"data":["0x4"]}'
END='{"op":"end","driver_id":1}'

test_expect_success 'malformed input: exit 65 naming the line, nothing written' '
	newdb bad &&
	for l in "not json" "[]" "{}" "{\"op\":\"put\"}" "$B" "{\"op\":\"end\",\"driver_id\":2}" \
		"{\"op\":\"end\"}" \
		"$(echo "$E" | sed "s/\"0x3\"/\"0xg\"/")" \
		"$(echo "$E" | sed "s/\"keys\":\[\"0x3\"\]/\"keys\":\"0x3\"/")" \
		"$(echo "$E" | sed "s/\"0x4\"/4/")" \
		"$(echo "$E" | sed "s/\"0x4\"/\"0x800000000000011000000000000000000000000000000000000000000000001\"/")" \
		"$(echo "$E" | sed "s/\"block_hash\":\"0x7\"/\"block_hash\":\"0x8\"/")" \
		"$(echo "$E" | sed "s/\"block_number\":7/\"block_number\":8/")" \
		"$(echo "$E" | sed "s/\"timestamp\":100/\"timestamp\":101/")" \
		"$(echo "$E" | sed "s/\"nonce\":1,//")" \
		"$(echo "$E" | sed "s/\"nonce\":1/\"nonce\":-1/")" \
		"$(echo "$E" | sed "s/\"tx\":\"0x1\",//")" \
		"$(echo "$E" | sed "s/\"Deposit\"/\"a\\\\u0000b\"/")" \
		"$(echo "$E" | sed "s/\"Deposit\"/7/")" \
		"$(echo "$E" | sed "s/}\$/,}/")"
	do
		printf "%s\n" "$B" "$E" "$l" "$E" "$END" >in &&
		test_must_fail --code 65 pg-produce --conninfo "dbname=bad" <in 2>err || { echo "for: $l"; return 1; }
		grep -q "^pg-produce: fatal: unable to parse event frame at line 3: " err || { echo "for: $l"; cat err; return 1; }
	done &&
	test "$(pg_sql -d bad -c "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM starknet_blocks) + (SELECT count(*) FROM driver_events)")" = 0
'

test_expect_success 'frame order errors: event or end outside a frame, bad begin lines' '
	for x in "$E" "$END" \
		"$(echo "$B" | sed "s/StartBlock/CatchupVault/")" \
		"$(echo "$B" | sed "s/StartBlock/CatchupBlock/")" \
		"$(echo "$B" | sed "s/\"driver_id\":1,//")" \
		"$(echo "$B" | sed "s/\"timestamp\":100/\"timestamp\":\"100\"/")" \
		"$(echo "$B" | sed "s/\"block_hash\":\"0x7\",//")"
	do
		printf "%s\n" "$x" >in &&
		test_must_fail --code 65 pg-produce --conninfo "dbname=bad" <in 2>err || return 1
		grep -q "^pg-produce: fatal: unable to parse event frame at line 1: " err || { cat err; return 1; }
	done &&
	echo "$B" | sed "s/StartBlock/CatchupVault/" | test_must_fail --code 65 pg-produce --conninfo "dbname=bad" 2>err &&
	grep -q "CatchupVault frames are not supported" err
'

test_expect_success 'a good frame before a bad one stays committed' '
	printf "%s\n" "$B" "$E" "$END" "$(echo "$B" | sed "s/0x7/0x8/; s/:7/:8/")" "oops" >in &&
	test_must_fail --code 65 pg-produce --conninfo "dbname=bad" <in 2>err &&
	grep -q "at line 5: " err &&
	pg_sql -d bad -F "	" -c "SELECT block_number, block_hash, parent_hash, timestamp, status FROM starknet_blocks" >actual &&
	printf "7\t0x7\t0x0\t100\tMINED\n" >expect &&
	test_cmp expect actual &&
	pg_sql -d bad -F "	" -c "SELECT event_nonce, block_number, block_hash, vault_address, event_name, event_keys, event_data, transaction_hash FROM events" >actual &&
	printf "1\t7\t0x7\t0x2\tDeposit\t{0x3}\t{0x4}\t0x1\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'felts are normalised; odd names are stored verbatim; empty arrays work' '
	newdb norm &&
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":3,\"type\":\"StartBlock\",\"block_number\":9,\"block_hash\":\"0x009A\",\"timestamp\":5}" \
		"{\"op\":\"event\",\"block_number\":9,\"block_hash\":\"0x9a\",\"timestamp\":5,\"tx\":\"0x0AB\",\"vault\":\"0x00C\",\"nonce\":4,\"name\":\"q\\\"u,o{t}e\\\\s\",\"keys\":[\"0x0\",\"0x00F\"],\"data\":[]}" \
		"{\"op\":\"end\",\"driver_id\":3}" >in &&
	pg-produce --conninfo "dbname=norm" <in 2>err &&
	pg_sql -d norm -c "SELECT json_build_array(block_hash, transaction_hash, vault_address, event_name, event_keys, event_data, cardinality(event_data)) FROM events" | jq -c . >actual &&
	echo "[\"0x9a\",\"0xab\",\"0xc\",\"q\\\"u,o{t}e\\\\s\",[\"0x0\",\"0xf\"],[],0]" >expect &&
	test_cmp expect actual &&
	test "$(pg_sql -d norm -c "SELECT block_hash FROM starknet_blocks")" = 0x9a
'

test_expect_success 'a value the schema refuses (name over 255 characters): exit 65' '
	long=$(printf "%0300d" 0) &&
	printf "%s\n" "$B" "$(echo "$E" | sed "s/\"Deposit\"/\"$long\"/")" "$END" >in &&
	newdb long &&
	test_must_fail --code 65 pg-produce --conninfo "dbname=long" <in 2>err &&
	grep -q "unable to write block 7 (0x7) of the frame ending at line 3: ERROR:  value too long" err &&
	test "$(pg_sql -d long -c "SELECT count(*) FROM starknet_blocks")" = 0
'

# big_frame TARGET: a frame of one event whose line, as block-fetch writes it,
# is TARGET bytes long, while pg-produce reads it 1020 bytes shorter: the
# name is 255 JSON "\b" escapes (2 bytes each), which block-fetch writes as
# "\u0008" (6 bytes each); the data felts fill the rest exactly.
big_frame() {
	perl -e '
		my $target = shift;
		my $head = q({"op":"event","block_number":7,"block_hash":"0x7","timestamp":100,"tx":"0x1","vault":"0x2","nonce":1,"name":");
		my $mid = q(","keys":["0x3"],"data":[);
		my $room = $target - length($head) - 6 * 255 - length($mid) - length("]}");
		my $m = int(($room + 1) / 12);        # items "0x1234567" (11 bytes) and commas
		my $r = $room - (12 * $m - 1);        # 0..11 more hex digits in the last one
		my @d = (q("0x1234567")) x $m;
		$d[-1] = q("0x1234567) . ("0" x $r) . q(");
		print q({"op":"begin","driver_id":1,"seq":1,"type":"StartBlock","block_number":7,"block_hash":"0x7","timestamp":100}), "\n";
		print $head, "\\b" x 255, $mid, join(",", @d), "]}\n";
		print q({"op":"end","driver_id":1}), "\n";
	' "$1"
}

test_expect_success 'an event whose block-fetch line is exactly the line limit: stored, and read downstream' '
	newdb biggest &&
	big_frame 16777216 >in &&
	test $(sed -n 2p in | wc -c) = $((16777216 - 1020 + 1)) &&
	pg-produce --conninfo "dbname=biggest" <in 2>err &&
	PGDATABASE=biggest pg-listen --once | PGDATABASE=biggest block-fetch >fetched &&
	test $(sed -n 2p fetched | wc -c) = $((16777216 + 1)) &&
	ep-apply <fetched >deltas 2>err &&
	test "$(grep -c "\"op\":\"end\"" deltas)" = 1
'

test_expect_success 'an event whose block-fetch line would exceed the limit: exit 65 naming the line, nothing stored' '
	newdb toobig &&
	big_frame 16777217 >in &&
	test $(sed -n 2p in | wc -c) -lt 16777216 &&
	test_must_fail --code 65 pg-produce --conninfo "dbname=toobig" <in 2>err &&
	grep -q "^pg-produce: fatal: unable to parse event frame at line 2: event line would be 16777217 bytes as block-fetch writes it, longer than the 16777216-byte line limit" err &&
	test "$(pg_sql -d toobig -c "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM starknet_blocks) + (SELECT count(*) FROM driver_events)")" = 0
'

test_done
