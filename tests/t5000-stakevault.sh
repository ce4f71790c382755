#!/bin/bash
# t5000-stakevault -- the StakeVault pipeline end to end on a real local
# node: anvil started here (a free loopback port), the contracts of
# tests/stakevault/StakeVault.sol deployed, stakes and unstakes sent from
# several accounts, and rpc-listen | stake-apply | pg-write under
# run-pipeline: historic sync of thousands of blocks, live following with
# confirmations, reorgs (anvil_reorg, anvil_rollback) undone exactly, kill -9
# of every stage.  After every step the database equals the independent
# model (tests/stakevault/model.sh) computed from the chain's final logs,
# and the model equals the vault's own getStake() of every account.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
command -v anvil >/dev/null || skip_all "no anvil (run scripts/setup)"
SV_LIB=$SRC/tests/stakevault/chain.sh
. "$SV_LIB"
. "$SRC/tests/stakevault/model.sh"
. "$SRC/tests/stakevault/pipeline.sh"

pg_start
CHAIN=$TEST_DIR/chain
test_when_finished "sv_anvil_stop $CHAIN"
test_when_finished "pl_unsupervise sv"

test_expect_success 'setup: schema, anvil, the contracts, registered developers' '
	sv_setup 10 7
'
sv_env
set -- $ACCOUNTS
A1=${1:-} A2=${2:-} A3=${3:-} A4=${4:-} A8=${8:-} A9=${9:-} A10=${10:-}

test_expect_success 'history: stakes, unstakes, a new requirement, thousands of empty blocks' '
	sv_stake $A1 150000000 >/dev/null && sv_stake $A2 150000001 >/dev/null &&
	sv_stake $A8 170000000 >/dev/null && sv_mine 2500 &&
	sv_stake $A1 1 >/dev/null && sv_unstake $A2 150000001 >/dev/null &&
	sv_set_required 160000000 >/dev/null && sv_stake $A3 160000000 >/dev/null &&
	sv_mine 2500 && sv_stake $A9 999999999 >/dev/null && sv_unstake $A1 75 >/dev/null && sv_mine 3 &&
	test $(sv_head) -gt 5000
'

test_expect_success 'historic sync under the supervisor equals the model' '
	SV_RPC_URL=$SV_RPC SV_POLL_MS=100 SV_BATCH=700 pl_supervise sv --pipeline stakevault &&
	sv_wait_synced && sv_check &&
	grep -q "rpc-listen: sync: block" "$TEST_DIR/sv.log" &&
	test "$(pg_sql -c "SELECT count(*) FROM sv_dead_letters")" = 2 &&
	test "$(pg_sql -c "SELECT reason FROM sv_dead_letters LIMIT 1")" = "unknown developer: the wallet is not registered in developers"
'

test_expect_success 'live: confirmations hold a block back until it is 2 deep' '
	sv_stake $A4 160000000 >/dev/null && b=$(sv_head) &&
	sv_wait_block $((b - 2)) &&
	test "$(pg_sql -c "SELECT count(*) FROM sv_stakes WHERE sv_wallet(wallet_address) = '\''$A4'\''")" = 0 &&
	sv_mine 2 && sv_wait_block $b &&
	test "$(pg_sql -c "SELECT status FROM developers WHERE wallet_address = '\''$A4'\''")" = active &&
	sv_wait_synced && sv_check
'

test_expect_success 'anvil_reorg: a committed stake that the reorg removes is undone exactly' '
	before=$(pg_sql -c "SELECT stake_amount FROM developers WHERE wallet_address = '\''$A3'\''") &&
	sv_stake $A3 12345 >/dev/null && sv_stake $A10 160000000 >/dev/null && sv_mine 3 &&
	sv_wait_synced &&
	test "$(pg_sql -c "SELECT stake_amount FROM developers WHERE wallet_address = '\''$A3'\''")" != "$before" &&
	sv_reorg 5 &&
	sv_wait_synced &&
	test "$(pg_sql -c "SELECT stake_amount FROM developers WHERE wallet_address = '\''$A3'\''")" = "$before" &&
	grep -q "rpc-listen: warning: reorg: " "$TEST_DIR/sv.log" && sv_check
'

test_expect_success 'anvil_rollback: blocks that vanish are reverted, the new ones applied' '
	sv_stake $A2 160000000 >/dev/null && sv_unstake $A3 5 >/dev/null && sv_mine 3 && sv_wait_synced &&
	sv_rollback 4 && sv_stake $A2 160000007 >/dev/null && sv_mine 3 &&
	sv_wait_synced && sv_check
'

test_expect_success 'kill -9 of every stage: the supervisor restarts, nothing lost or doubled' '
	for stage in rpc-listen stake-apply pg-write; do
		sv_stake $A1 1000 >/dev/null && sv_mine 2 &&
		pid=$(sv_pid_of $stage) && test -n "$pid" && kill -9 "$pid" &&
		sv_unstake $A1 10 >/dev/null && sv_mine 3 && sv_wait_synced && sv_check || return 1
	done &&
	test $(grep -c "restarting\|restart" "$TEST_DIR/sv.log") -ge 3
'

test_expect_success 'the node stopped and restarted (--state): the listener retries, then resumes' '
	sv_anvil_stop "$CHAIN" TERM &&
	sv_stake $A2 33 2>/dev/null && { echo "the node still answers"; return 1; };
	n=$(grep -c "endpoint .*: " "$TEST_DIR/sv.log");
	i=0; while [ "$(grep -c "endpoint .*: " "$TEST_DIR/sv.log")" -le "$n" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done;
	sv_anvil_start "$CHAIN" --state "$CHAIN/state.json" &&
	sv_stake $A2 33 >/dev/null && sv_mine 3 && sv_wait_synced && sv_check
'

test_expect_success 'the status file says healthy, with the RPC counters' '
	jq -e ".healthy == true and .lag < 100 and (.rpc_requests > 0)" "$TEST_DIR/run-sv/rpc-status.json"
'

test_done
