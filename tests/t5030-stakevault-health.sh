#!/bin/bash
# t5030-stakevault-health -- the StakeVault pipeline's health through the
# same pl-status endpoints as every pipeline (docs/status.md), on a real
# anvil under run-pipeline: /health 200 while the newest committed block is
# less than 100 blocks behind the head rpc-listen sees (its stats file says
# head_block and healthy_lag_blocks), 503 naming the lag otherwise; /ready
# once live; /metrics with the head, the lag and the RPC counters.  The lag
# is forced by holding a lock that pg-write's next commit needs while 200
# blocks are mined (rpc-listen goes on following the head), then released;
# the RPC error counters by stopping the node and starting it again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
command -v anvil >/dev/null || skip_all "no anvil (run scripts/setup)"
command -v curl >/dev/null || skip_all "no curl"
SV_LIB=$SRC/tests/stakevault/chain.sh
. "$SV_LIB"

pg_start
CHAIN=$TEST_DIR/chain
test_when_finished "sv_anvil_stop $CHAIN"
test_when_finished "pl_unsupervise sv"
test_when_finished "sv_unlock"

# http PATH: the status code on stdout, the body in $TEST_DIR/body.
http() {
	curl -s -o "$TEST_DIR/body" -w '%{http_code}' "http://127.0.0.1:$(cat "$TEST_DIR/run-sv/http.port")$1"
}
# wait_http PATH CODE [JQ]: until PATH answers CODE (and the body satisfies JQ), 60 s at most.
wait_http() {
	local i=0 code
	while [ $i -lt 600 ]; do
		code=$(http "$1")
		if [ "$code" = "$2" ] && { [ -z "${3:-}" ] || jq -e "$3" "$TEST_DIR/body" >/dev/null 2>&1; }; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "timed out waiting for $1 to answer $2 ${3:-}: $code $(cat "$TEST_DIR/body")"
	tail -n 20 "$TEST_DIR/sv.log"
	return 1
}
# metric NAME: its value in $TEST_DIR/body (a /metrics answer).
metric() {
	awk -v n="$1" '$1 ~ "^" n "[{]" { print $2 }' "$TEST_DIR/body"
}
# want NAME OP VALUE: the metric compares so (test's -eq, -ge, -gt), or say what it is.
want() {
	local v
	v=$(metric "$1")
	[ -n "$v" ] && [ "$v" "$2" "$3" ] && return 0
	echo "metric $1 is '$v', want $2 $3"
	return 1
}
# wait_metrics CONDITION...: until a /metrics answer makes the want
# conditions true (pl-status snapshots once a second), 60 s at most.
wait_metrics() {
	local i=0
	while [ $i -lt 600 ]; do
		[ "$(http /metrics)" = 200 ] && eval "$*" >/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	eval "$*"
}
# A session that holds sv_cursor (every block's commit writes it), so
# pg-write waits; sv_unlock ends it.
sv_lock() {
	PGAPPNAME=t5030-lock psql -X -q -c "BEGIN" -c "LOCK TABLE sv_cursor IN ACCESS EXCLUSIVE MODE" \
		-c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
	local i=0
	while [ $i -lt 600 ]; do
		[ "$(pg_sql -c "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
			WHERE c.relname = 'sv_cursor' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "the lock was not taken"
	return 1
}
sv_unlock() {
	pg_sql -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 't5030-lock'" \
		>/dev/null 2>&1
	return 0
}

test_expect_success 'setup: schema, anvil, the contracts, a developer, 300 blocks of history' '
	pl-migrate >/dev/null &&
	pg_sql -c "SELECT sv_register_pipeline()" >/dev/null &&
	sv_anvil_start "$CHAIN" --state "$CHAIN/state.json" &&
	sv_deploy 150000000 &&
	a=$(sv_accounts | sed -n 2p) &&
	pg_sql -c "INSERT INTO developers (wallet_address, email, skills) VALUES ('\''$a'\'', '\''dev@example.com'\'', '\''[]'\'')" &&
	sv_fund "$a" 1000000000 && sv_stake "$a" 150000000 >/dev/null && sv_mine 300 &&
	echo "SV_RPC=$SV_RPC SV_VAULT=$SV_VAULT SV_PORT=$SV_PORT SV_TOKEN=$SV_TOKEN A=$a" >"$TEST_DIR/env"
'
. "$TEST_DIR/env" 2>/dev/null
export SV_RPC SV_VAULT SV_PORT SV_TOKEN

test_expect_success 'caught up: /health 200, /ready 200, the head and the lag in /metrics and /status' '
	SV_RPC_URL=$SV_RPC SV_POLL_MS=100 pl_supervise sv --pipeline stakevault --http-port any &&
	i=0 && while [ ! -s "$TEST_DIR/run-sv/http.port" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done &&
	wait_http /ready 200 &&
	wait_http /status 200 ".block == $(($(sv_head) - 2))" &&
	jq -e ".healthy and .ready and .head_block == $(sv_head) and .lag.blocks == 2 and .lag.limit_blocks == 100" \
		"$TEST_DIR/body" &&
	test "$(http /health)" = 200 &&
	wait_metrics "want pl_healthy -eq 1 && want pl_ready -eq 1 &&
		want pl_head_block -eq $(sv_head) &&
		want pl_lag_blocks -eq 2 && want pl_lag_limit_blocks -eq 100 &&
		want pl_rpc_requests_total -gt 0 &&
		want pl_rpc_errors_total -eq 0 && want pl_rpc_failovers_total -eq 0 &&
		want pl_rpc_consecutive_errors -eq 0 &&
		want pl_rpc_logs_total -eq 1 && want pl_events_total -eq 1" &&
	grep -q "^# TYPE pl_rpc_errors_total counter$" "$TEST_DIR/body"
'

test_expect_success 'pg-write held back while 200 blocks are mined: 503 naming the lag, then 200 again' '
	at=$(($(sv_head) - 2)) &&
	sv_lock && sv_mine 200 && head=$(sv_head) &&
	wait_http /health 503 ".reason == \"lagging: the newest applied block $at is $((head - at)) blocks behind head $head (healthy below 100)\"" &&
	test "$(http /ready)" = 503 &&
	wait_metrics "want pl_healthy -eq 0 && want pl_lag_blocks -eq $((head - at)) && want pl_head_block -eq $head" &&
	test "$(pg_sql -c "SELECT value FROM system_state WHERE key = '\''last_processed_block_stake_vault'\''")" = "$at" &&
	sv_unlock &&
	wait_http /ready 200 &&
	wait_http /status 200 ".block == $((head - 2)) and .healthy and .lag.blocks == 2" &&
	test "$(http /health)" = 200
'

test_expect_success 'the node down: RPC errors counted in /metrics, healthy again once it answers' '
	sv_anvil_stop "$CHAIN" TERM &&
	wait_metrics "want pl_rpc_consecutive_errors -ge 2 && want pl_rpc_errors_total -ge 2" &&
	sv_anvil_start "$CHAIN" --state "$CHAIN/state.json" && sv_mine 3 &&
	wait_metrics "want pl_rpc_consecutive_errors -eq 0" &&
	wait_http /status 200 ".block == $(($(sv_head) - 2)) and .healthy and .ready"
'

test_done
