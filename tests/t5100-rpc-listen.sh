#!/bin/bash
# t5100-rpc-listen -- the JSON-RPC source alone (--no-db) against a real
# anvil, and through tests/stakevault/rpc-proxy (a fault-injecting proxy in
# front of that node): the frames of a chain, a dead primary with a working
# backup, the return to the primary, rate limits (HTTP 429 and JSON-RPC
# -32005) that shrink the batch, a node that answers garbage, live
# following with a reorg, usage errors.
. "$(dirname "$0")/lib.sh"
command -v anvil >/dev/null || skip_all "no anvil (run scripts/setup)"
command -v python3 >/dev/null || skip_all "no python3 (the fault-injecting proxy)"
SV_LIB=$SRC/tests/stakevault/chain.sh
. "$SV_LIB"
CHAIN=$TEST_DIR/chain
test_when_finished "sv_anvil_stop $CHAIN"
PROXIES=""
test_when_finished 'for p in $(cat "$TEST_DIR"/proxy-*.pid 2>/dev/null); do kill $p 2>/dev/null; done'

# proxy NAME ARGS...: start rpc-proxy in front of the node; sets PURL.
proxy() {
	local name=$1 i=0
	shift
	rm -f "$TEST_DIR/proxy-$name.port"
	"$SRC/tests/stakevault/rpc-proxy" --upstream "$SV_RPC" --port-file "$TEST_DIR/proxy-$name.port" "$@" \
		</dev/null >/dev/null 2>"$TEST_DIR/proxy-$name.log" &
	echo $! >"$TEST_DIR/proxy-$name.pid"
	while [ ! -s "$TEST_DIR/proxy-$name.port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	PURL=http://127.0.0.1:$(cat "$TEST_DIR/proxy-$name.port")
}
events() { grep '"op":"event"' "$1"; }
listen() { rpc-listen --no-db --once --confirmations 0 --address "$SV_VAULT" --backoff-min 10 --backoff-max 100 --no-progress "$@"; }

test_expect_success 'setup: anvil, the vault, stakes among 300 blocks' '
	sv_anvil_start "$CHAIN" && sv_deploy 150000000 &&
	set -- $(sv_accounts) &&
	for a in $2 $3 $4; do sv_fund $a 1000000000 && sv_stake $a 150000000 >/dev/null && sv_mine 100 || return 1; done &&
	sv_unstake $2 1 >/dev/null &&
	echo "SV_RPC=$SV_RPC SV_VAULT=$SV_VAULT SV_TOKEN=$SV_TOKEN SV_OWNER=$SV_OWNER" >"$TEST_DIR/env"
'
. "$TEST_DIR/env"

test_expect_success 'the frames of the chain: every log once, in order, framed with seq and prev' '
	listen --rpc-url "$SV_RPC" --batch 64 >ref 2>err &&
	test $(events ref | wc -l) = 4 &&
	jq -s -e "[.[] | select(.op == \"begin\")] | (map(.seq) == [range(1; length + 1)]) and
		(.[0].prev == null) and all(.[1:][]; .prev.seq == .seq - 1)" ref &&
	test "$(jq -s -r "[.[] | select(.op == \"begin\")] | last | .block_number" ref)" = "$(sv_head)"
'

test_expect_success 'a dead primary with a working backup: the same logs, a failover' '
	listen --rpc-url http://127.0.0.1:1 --rpc-url "$SV_RPC" --batch 64 >out 2>err &&
	events ref >a && events out >b && test_cmp a b &&
	grep -q "endpoint http://127.0.0.1:1: .*failing over to $SV_RPC" err
'

test_expect_success 'back to the primary after --primary-retry' '
	proxy p1 --fail-first 2 &&
	listen --rpc-url "$PURL" --rpc-url "$SV_RPC" --primary-retry 0 --batch 64 >out 2>err &&
	events ref >a && events out >b && test_cmp a b &&
	grep -q "failing over" err && grep -q "trying the primary endpoint $PURL again" err &&
	test $(grep -c " -> 200" "$TEST_DIR/proxy-p1.log") -gt 0
'

test_expect_success 'HTTP 429 on wide eth_getLogs: the batch shrinks until it passes' '
	proxy p2 --limit-range 40 &&
	listen --rpc-url "$PURL" --batch 1000 >out 2>err &&
	events ref >a && events out >b && test_cmp a b &&
	n=$(sed -n "s/.*refused (rate limit or too large): batch now \([0-9]*\)$/\1/p" err | tail -n 1) &&
	test "$n" -le 40 && test "$n" -gt 20 &&
	grep -q "eth_getLogs -> 429" "$TEST_DIR/proxy-p2.log"
'

test_expect_success 'JSON-RPC -32005 (limit exceeded) shrinks the batch too' '
	proxy p3 --limit-range 100 --limit-code jsonrpc &&
	listen --rpc-url "$PURL" --batch 400 >out 2>err &&
	events ref >a && events out >b && test_cmp a b &&
	n=$(sed -n "s/.*batch now \([0-9]*\)$/\1/p" err | tail -n 1) &&
	test "$n" -le 100 && test "$n" -gt 50
'

test_expect_success 'a node that answers garbage: 65 after --max-bad responses' '
	proxy p4 --garbage &&
	test_must_fail --code 65 listen --rpc-url "$PURL" --max-bad 6 >out 2>err &&
	grep -q "unparsable response" err && grep -q "ALERT" err
'

test_expect_success 'live following: a reorg is reverted newest first, then the replacement blocks' '
	rpc-listen --no-db --confirmations 0 --address "$SV_VAULT" --poll-interval 100 --rpc-url "$SV_RPC" \
		--status-file status.json </dev/null >live 2>live.err &
	pid=$! &&
	test_when_finished "kill $pid 2>/dev/null; wait $pid" &&
	set -- $(sv_accounts) &&
	sv_fund $5 1000000000 && sv_stake $5 150000000 >/dev/null &&
	h=$(sv_head) && i=0 &&
	while ! grep -q "\"block_number\":$h,\"block_hash\"" live && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done &&
	old=$(sv_rpc eth_getBlockByNumber "[\"0x$(printf %x $h)\",false]" | jq -r .hash) &&
	sv_reorg 2 &&
	i=0 && while ! grep -q RevertBlock live && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done &&
	sleep 0.5 &&
	jq -e -s "[.[] | select(.type == \"RevertBlock\")][0] | .block_number == $h" live &&
	new=$(sv_rpc eth_getBlockByNumber "[\"0x$(printf %x $h)\",false]" | jq -r .hash) &&
	test "$old" != "$new" &&
	nh=0x$(printf %s "${new#0x}" | sed "s/^0*//") &&
	i=0 && while ! sed -n "/RevertBlock/,\$p" live | grep -q "\"type\":\"StartBlock\",\"block_number\":$h,\"block_hash\":\"$nh\"" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done &&
	sed -n "/RevertBlock/,\$p" live | grep -q "\"type\":\"StartBlock\",\"block_number\":$h,\"block_hash\":\"$nh\"" &&
	grep -q "reorg: 2 block(s) $((h - 1))..$h left the chain" live.err &&
	i=0 && while ! jq -e ".healthy and .reorgs == 1" status.json >/dev/null 2>&1 && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done &&
	jq -e ".healthy and .reorgs == 1 and .reverted_blocks == 2" status.json
'

test_expect_success 'usage errors exit 64' '
	test_must_fail --code 64 rpc-listen --no-db 2>err && grep -q "no endpoint" err &&
	test_must_fail --code 64 rpc-listen --no-db --rpc-url x --address 0x1234567890123456789012345678901234567890ab 2>err &&
	test_must_fail --code 64 rpc-listen --no-db --rpc-url x --poll-interval 5 2>err
'

test_done
