#!/bin/bash
# t2200-block-fetch -- block-fetch against a real cluster: frames for
# StartBlock / NewBlock / RevertBlock / CatchupVault (reverted blocks
# excluded, the deployment block included without a block row, keyset
# pagination), felt normalisation, and the fail-closed paths (exit 65 with a
# pl_quarantine row and no partial frame).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
pl-migrate >/dev/null && pg_sql -f "$DATA/t2200-events.sql" ||
	{ echo "Bail out! cannot set the database up"; exit 1; }

V=0x50aa16a833664c92d4163b14fed470786fa4411ffd3b3addbb97a70ae56efbd

test_must_be_empty() {
	if test -s "$1"; then echo "'$1' is not empty:" >&2; head -n 5 "$1" >&2; return 1; fi
}

quarantine() {
	pg_sql -c "SELECT driver_id, seq, program, reason, frame FROM pl_quarantine ORDER BY id DESC LIMIT 1"
}

test_expect_success 'block-fetch --help lists options and exit codes' '
	block-fetch --help >out &&
	grep -q "^usage: block-fetch" out &&
	grep -q "exit codes: 0 done" out &&
	test_must_fail --code 64 block-fetch --bogus 2>err &&
	test_must_fail --code 64 block-fetch --batch 0 2>err
'

test_expect_success 'bad conninfo is a configuration error (78)' '
	test_must_fail --code 78 block-fetch --conninfo "bogus=1" </dev/null 2>err
'

test_expect_success 'empty input: no output, exit 0' '
	block-fetch </dev/null >out &&
	test_must_be_empty out
'

test_expect_success 'frames for StartBlock, NewBlock, RevertBlock, CatchupVault' '
	block-fetch <"$DATA/t2200-driver-events.ndjson" >out &&
	test_cmp "$DATA/t2200-frames.expect" out
'

test_expect_success 'CatchupVault: paginating one row per query gives the same frames' '
	block-fetch --batch 1 <"$DATA/t2200-driver-events.ndjson" >out &&
	test_cmp "$DATA/t2200-frames.expect" out
'

test_expect_success 'StartBlock: events by vault, then nonce; felts normalised' '
	head -n 1 "$DATA/t2200-driver-events.ndjson" | block-fetch >out &&
	jq -r "select(.op == \"event\") | [.vault, .nonce] | @tsv" out >actual &&
	printf "%s\t2\n%s\t3\n%s\t1\n" $V $V 0x586b503f2c806ec2555dfd763ef3d2e05d9789c0147da1c47b5057d46bbc6cc >expect &&
	test_cmp expect actual &&
	sed -n 2p "$DATA/t2200-driver-events.ndjson" | block-fetch >out &&
	jq -c "select(.op == \"event\") | [.tx, .keys, .data]" out >actual &&
	echo "[\"0x1c3\",[\"0xabc\",\"0x55df044c093d7b2408f6ad897f6d71a996afab8e1b17932e9c6438cb99593f\"],[\"0x1388\",\"0x1\",\"0x0\"]]" >expect &&
	test_cmp expect actual
'

test_expect_success 'CatchupVault excludes the REVERTED block and other vaults' '
	sed -n 4p "$DATA/t2200-driver-events.ndjson" | block-fetch >out &&
	jq -r "select(.op == \"event\") | [.block_number, .block_hash, .timestamp, .nonce] | @tsv" out >actual &&
	printf "99\t0xde9\t0\t1\n100\t0x64a\t1735711200\t2\n100\t0x64a\t1735711200\t3\n101\t0x65a\t1735711206\t4\n102\t0x66b\t1735711213\t6\n103\t0x67a\t1735711219\t7\n" >expect &&
	test_cmp expect actual &&
	head -n 1 out >actual &&
	echo "{\"op\":\"begin\",\"driver_id\":4,\"seq\":4,\"type\":\"CatchupVault\",\"block_number\":103,\"block_hash\":\"0x67a\",\"timestamp\":1735711219}" >expect &&
	test_cmp expect actual
'

test_expect_success '--shard K/N: a block keeps its shard'"'"'s vaults; a CatchupVault of another shard is empty' '
	# V ends in d (odd): shard 1 of 2; 0x586b...6cc ends in c: shard 0 of 2
	head -n 1 "$DATA/t2200-driver-events.ndjson" | block-fetch --shard 1/2 >out &&
	jq -r "select(.op == \"event\") | [.vault, .nonce] | @tsv" out >actual &&
	printf "%s\t2\n%s\t3\n" $V $V >expect &&
	test_cmp expect actual &&
	head -n 1 "$DATA/t2200-driver-events.ndjson" | block-fetch --shard 0/2 >out &&
	jq -r "select(.op == \"event\") | .vault" out >actual &&
	echo 0x586b503f2c806ec2555dfd763ef3d2e05d9789c0147da1c47b5057d46bbc6cc >expect &&
	test_cmp expect actual &&
	sed -n 4p "$DATA/t2200-driver-events.ndjson" | block-fetch >all &&
	sed -n 4p "$DATA/t2200-driver-events.ndjson" | block-fetch --shard 1/2 >out &&
	test_cmp all out &&
	sed -n 4p "$DATA/t2200-driver-events.ndjson" | block-fetch --shard 0/2 >out &&
	{ head -n 1 all && tail -n 1 all; } >expect &&
	test_cmp expect out &&
	test "$(pg_sql -c "SELECT pl_shard_of(\$\$$V\$\$, 2)")" = 1
'

test_expect_success 'RevertBlock of a block that has no events: an empty frame' '
	pg_sql -c "INSERT INTO starknet_blocks VALUES (104, \$\$0x68a\$\$, \$\$0x67a\$\$, 1735711225, \$\$REVERTED\$\$)" &&
	echo "{\"id\":7,\"sequence_index\":7,\"type\":\"RevertBlock\",\"block_hash\":\"0x68a\"}" | block-fetch >out &&
	cat >expect <<-\EOT &&
	{"op":"begin","driver_id":7,"seq":7,"type":"RevertBlock","block_number":104,"block_hash":"0x68a","timestamp":1735711225}
	{"op":"end","driver_id":7}
	EOT
	test_cmp expect out
'

test_expect_success 'unknown block: exit 65, quarantine row, earlier frames only' '
	{
		head -n 1 "$DATA/t2200-driver-events.ndjson" &&
		echo "{\"id\":8,\"sequence_index\":9,\"type\":\"StartBlock\",\"block_hash\":\"0x999\"}" &&
		sed -n 2p "$DATA/t2200-driver-events.ndjson"
	} >in &&
	test_must_fail --code 65 block-fetch <in >out 2>err &&
	grep -q "^block-fetch: fatal: unable to fetch driver event 8 (seq 9): block 0x999 is not in starknet_blocks" err &&
	head -n 5 "$DATA/t2200-frames.expect" >expect &&
	test_cmp expect out &&
	quarantine >actual &&
	echo "8|9|block-fetch|unable to fetch driver event 8 (seq 9): block 0x999 is not in starknet_blocks|{\"id\":8,\"sequence_index\":9,\"type\":\"StartBlock\",\"block_hash\":\"0x999\"}" >expect &&
	test_cmp expect actual
'

test_expect_success 'CatchupVault with an unknown end block: exit 65, nothing written' '
	echo "{\"id\":9,\"sequence_index\":10,\"type\":\"CatchupVault\",\"start_block_hash\":\"0x64a\",\"end_block_hash\":\"0x777\",\"vault_address\":\"$V\"}" >in &&
	test_must_fail --code 65 block-fetch <in >out 2>err &&
	grep -q "end block 0x777 is not in starknet_blocks" err &&
	test_must_be_empty out &&
	test "$(quarantine | cut -d"|" -f1,2)" = "9|10"
'

test_expect_success 'CatchupVault with a start block found nowhere: exit 65' '
	echo "{\"id\":10,\"sequence_index\":11,\"type\":\"CatchupVault\",\"start_block_hash\":\"0x123\",\"end_block_hash\":\"0x67a\",\"vault_address\":\"$V\"}" >in &&
	test_must_fail --code 65 block-fetch <in >out 2>err &&
	grep -q "start block 0x123 is neither in starknet_blocks nor in events" err &&
	test_must_be_empty out
'

test_expect_success 'malformed line: exit 65 naming the line' '
	{ head -n 1 "$DATA/t2200-driver-events.ndjson" && echo "{\"id\":1,"; } >in &&
	test_must_fail --code 65 block-fetch <in >out 2>err &&
	grep -q "^block-fetch: fatal: unable to parse driver event at line 2: " err &&
	head -n 5 "$DATA/t2200-frames.expect" >expect &&
	test_cmp expect out
'

# Refused for its bytes, and still recorded: PostgreSQL refuses invalid UTF-8
# and NUL in text, so the quarantine row holds each such byte as \xNN.
printf '{"id":12,"sequence_index":13,"type":"Start\377Block","block_hash":"0x\300\257"}\n' >"$TEST_DIR/bad-utf8"
printf '{"id":13,"sequence_index":14,"type":"StartBlock","block_hash":"0x1\000"}\n' >"$TEST_DIR/bad-nul"

test_expect_success 'invalid UTF-8: exit 65, quarantined with each bad byte as \xNN' '
	pg_sql -c "DELETE FROM pl_quarantine" &&
	test_must_fail --code 65 block-fetch <bad-utf8 >out 2>err &&
	grep -q "^block-fetch: fatal: unable to parse driver event at line 1: invalid UTF-8 at column 43 (byte 0xff)" err &&
	! grep -q "unable to record" err &&
	test_must_be_empty out &&
	pg_sql -c "SELECT driver_id IS NULL, program, kind, reason, frame FROM pl_quarantine" >actual &&
	printf "%s\n" "t|block-fetch|syntax|unable to parse driver event at line 1: invalid UTF-8 at column 43 (byte 0xff)|{\"id\":12,\"sequence_index\":13,\"type\":\"Start\\xffBlock\",\"block_hash\":\"0x\\xc0\\xaf\"}" >expect &&
	test_cmp expect actual
'

test_expect_success 'a NUL byte: exit 65, quarantined with the NUL as \x00 and the rest of the line' '
	pg_sql -c "DELETE FROM pl_quarantine" &&
	test_must_fail --code 65 block-fetch <bad-nul >out 2>err &&
	grep -q "unable to parse driver event at line 1: control character 0x00 in string" err &&
	! grep -q "unable to record" err &&
	pg_sql -c "SELECT frame FROM pl_quarantine" >actual &&
	printf "%s\n" "{\"id\":13,\"sequence_index\":14,\"type\":\"StartBlock\",\"block_hash\":\"0x1\\x00\"}" >expect &&
	test_cmp expect actual
'

test_expect_success 'bad driver events are rejected (65)' '
	for l in "[]" "{}" \
		"{\"id\":-1,\"sequence_index\":1,\"type\":\"StartBlock\",\"block_hash\":\"0x1\"}" \
		"{\"id\":1,\"sequence_index\":1.5,\"type\":\"StartBlock\",\"block_hash\":\"0x1\"}" \
		"{\"id\":1,\"sequence_index\":1,\"type\":\"CatchupBlock\",\"block_hash\":\"0x1\"}" \
		"{\"id\":1,\"sequence_index\":1,\"type\":\"StartBlock\",\"block_hash\":null}" \
		"{\"id\":1,\"sequence_index\":1,\"type\":\"StartBlock\",\"block_hash\":\"0xg\"}" \
		"{\"id\":1,\"sequence_index\":1,\"type\":\"StartBlock\",\"block_hash\":\"0x800000000000011000000000000000000000000000000000000000000000001\"}" \
		"{\"id\":1,\"sequence_index\":1,\"type\":\"CatchupVault\",\"start_block_hash\":\"0x1\",\"end_block_hash\":\"0x2\"}" \
		""
	do
		echo "$l" | test_must_fail --code 65 block-fetch >out 2>err || return 1
		grep -q "unable to parse driver event at line 1" err || { cat err; return 1; }
		test_must_be_empty out || return 1
	done
'

test_expect_success 'bad stored event data: exit 65 naming the event, quarantined' '
	pg_sql -c "INSERT INTO starknet_blocks VALUES (105, \$\$0x69a\$\$, \$\$0x68a\$\$, 1735711230, \$\$MINED\$\$);
		INSERT INTO events VALUES (8, 105, \$\$0x69a\$\$, \$\$$V\$\$, \$\$Deposit\$\$, \$\${0x1,zz}\$\$, \$\${}\$\$, \$\$0x1c8\$\$)" &&
	echo "{\"id\":11,\"sequence_index\":12,\"type\":\"StartBlock\",\"block_hash\":\"0x69a\"}" >in &&
	test_must_fail --code 65 block-fetch <in >out 2>err &&
	grep -q "bad stored event (block 105, transaction 0x1c8, nonce 8): event_keys\[1\]" err &&
	test_must_be_empty out &&
	test "$(quarantine | cut -d"|" -f1,2,3)" = "11|12|block-fetch"
'

test_expect_success 'an incomplete last line is discarded with a warning' '
	{ head -n 1 "$DATA/t2200-driver-events.ndjson" && printf "{\"id\":2"; } >in &&
	block-fetch <in >out 2>err &&
	head -n 5 "$DATA/t2200-frames.expect" >expect &&
	test_cmp expect out &&
	grep -q "warning: discarding an incomplete last line" err
'

test_expect_success 'pg-listen | block-fetch end to end' '
	pg_sql -c "INSERT INTO driver_events (sequence_index, type, block_hash) VALUES (1, \$\$StartBlock\$\$, \$\$0x64a\$\$)" &&
	pg-listen --once | block-fetch >out &&
	head -n 5 "$DATA/t2200-frames.expect" | sed "1s/}\$/,\"prev\":null}/" >expect &&
	test_cmp expect out
'

test_expect_success 'a CatchupVault is a function of the chain up to its own work item, however late it is served' '
	pg_sql -c "INSERT INTO starknet_blocks VALUES (106, \$\$0x6fa\$\$, \$\$0x69a\$\$, 1735711231, \$\$MINED\$\$)" \
		-c "INSERT INTO events (event_nonce, block_number, block_hash, vault_address, event_name, event_keys, event_data, transaction_hash)
			VALUES (8, 106, \$\$0x6fa\$\$, \$\$$V\$\$, \$\$Deposit\$\$, \$\${0x9149d2123147c5f43d258257fef0b7b969db78269369ebcf5ebb9eef8592f2}\$\$, \$\${0x8}\$\$, \$\$0x1c8\$\$)" \
		-c "INSERT INTO driver_events (sequence_index, type, start_block_hash, end_block_hash, vault_address)
			VALUES (40, \$\$CatchupVault\$\$, \$\$0x6fa\$\$, \$\$0x6fa\$\$, \$\$$V\$\$)" &&
	id=$(pg_sql -c "SELECT id FROM driver_events WHERE sequence_index = 40") &&
	echo "{\"id\":$id,\"sequence_index\":40,\"type\":\"CatchupVault\",\"start_block_hash\":\"0x6fa\",\"end_block_hash\":\"0x6fa\",\"vault_address\":\"$V\"}" >item &&
	block-fetch <item >early &&
	grep -q "\"block_hash\":\"0x6fa\".*\"nonce\":8" early &&
	pg_sql -c "INSERT INTO driver_events (sequence_index, type, block_hash) VALUES (41, \$\$RevertBlock\$\$, \$\$0x6fa\$\$)" \
		-c "UPDATE starknet_blocks SET status = \$\$REVERTED\$\$ WHERE block_hash = \$\$0x6fa\$\$" \
		-c "INSERT INTO starknet_blocks VALUES (106, \$\$0x6fb\$\$, \$\$0x69a\$\$, 1735711232, \$\$MINED\$\$)" \
		-c "INSERT INTO events (event_nonce, block_number, block_hash, vault_address, event_name, event_keys, event_data, transaction_hash)
			VALUES (9, 106, \$\$0x6fb\$\$, \$\$$V\$\$, \$\$Deposit\$\$, \$\${0x9149d2123147c5f43d258257fef0b7b969db78269369ebcf5ebb9eef8592f2}\$\$, \$\${0x9}\$\$, \$\$0x1c9\$\$)" \
		-c "INSERT INTO driver_events (sequence_index, type, block_hash) VALUES (42, \$\$StartBlock\$\$, \$\$0x6fb\$\$)" &&
	block-fetch <item >late &&
	test_cmp early late &&
	! grep -q "0x6fb" late &&
	rid=$(pg_sql -c "SELECT id FROM driver_events WHERE sequence_index = 42") &&
	echo "{\"id\":$((id + 5)),\"sequence_index\":43,\"type\":\"CatchupVault\",\"start_block_hash\":\"0x6fb\",\"end_block_hash\":\"0x6fb\",\"vault_address\":\"$V\"}" >later &&
	block-fetch <later >after &&
	grep -q "\"block_hash\":\"0x6fb\".*\"nonce\":9" after &&
	! grep -q "\"block_hash\":\"0x6fa\"" after
'

test_done
