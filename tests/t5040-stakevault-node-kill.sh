#!/bin/bash
# t5040-stakevault-node-kill -- the node killed with SIGKILL under a running
# StakeVault pipeline and restarted from its last --state dump, which is
# older than what the pipeline applied: the blocks after the dump vanish and
# new ones with the same numbers replace them.  rpc-listen retries while the
# node is down, finds the rewind by block hash and reverts exactly what
# vanished (a stake, an unstake, a first stake's welcome job, a dead letter);
# the database then equals the independent model of the restarted chain
# (tests/stakevault/model.sh) and the vault's getStake().  A rewind deeper
# than rpc-listen's --window stops it with 65 and a clear message, the
# supervisor does not restart it, and nothing is reverted.
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

# sv_dump: the node stopped cleanly (it writes its --state dump) and started
# again from it: "the last dump" is of the head now.
sv_dump() {
	sv_anvil_stop "$CHAIN" TERM && sv_anvil_start "$CHAIN" --state "$CHAIN/state.json"
}
# sv_wait_retries: rpc-listen has logged one more failed request.
sv_wait_retries() {
	local n i=0
	n=$(grep -c "rpc-listen: warning: endpoint " "$TEST_DIR/sv.log")
	while [ "$(grep -c "rpc-listen: warning: endpoint " "$TEST_DIR/sv.log")" -le "$n" ] && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ $i -lt 300 ] || { echo "rpc-listen did not retry"; return 1; }
}
cursor() { pg_sql -c "SELECT value FROM system_state WHERE key = 'last_processed_block_stake_vault'"; }

test_expect_success 'setup: schema, anvil with --state, the contracts, registered developers' '
	sv_setup 6 4
'
sv_env
set -- $ACCOUNTS
A1=${1:-} A2=${2:-} A3=${3:-} A4=${4:-} A5=${5:-} A6=${6:-}

test_expect_success 'stakes applied, then the node dumps its state (a clean restart)' '
	sv_stake $A1 150000000 >/dev/null && sv_stake $A2 160000000 >/dev/null && sv_stake $A5 150000000 >/dev/null &&
	sv_mine 3 &&
	SV_RPC_URL=$SV_RPC SV_POLL_MS=100 pl_supervise sv --pipeline stakevault &&
	sv_wait_synced && sv_check &&
	sv_dump && DUMPED=$(sv_head) && echo "$DUMPED" >"$TEST_DIR/dumped" &&
	sv_mine 3 && sv_wait_synced && sv_check
'
DUMPED=$(cat "$TEST_DIR/dumped" 2>/dev/null)

test_expect_success 'after the dump: a first stake (welcome), a dead letter, an unstake, all applied' '
	sv_stake $A3 150000000 >/dev/null && sv_stake $A6 150000000 >/dev/null &&
	sv_unstake $A1 150000000 >/dev/null && sv_stake $A2 7 >/dev/null && sv_mine 4 &&
	sv_wait_synced && sv_check &&
	test "$(grep -c "^$A3|" "$TEST_DIR/db/mail_jobs")" = 1 &&
	test "$(grep -c "^$A6|" "$TEST_DIR/db/dead_letters")" = 1 &&
	test "$(cursor)" -gt "$DUMPED" && cursor >"$TEST_DIR/applied"
'

test_expect_success 'kill -9 of the node, restarted from the older dump: the vanished blocks are reverted exactly' '
	sv_anvil_stop "$CHAIN" KILL &&
	sv_wait_retries &&
	sv_anvil_start "$CHAIN" --state "$CHAIN/state.json" &&
	test "$(sv_head)" = "$DUMPED" &&
	sv_stake $A4 150000000 >/dev/null && sv_unstake $A2 60000000 >/dev/null && sv_mine 3 &&
	sv_wait_synced &&
	grep -q "rpc-listen: warning: reorg: .* left the chain; reverting them" "$TEST_DIR/sv.log" &&
	sv_check &&
	test "$(grep -c "^$A3|" "$TEST_DIR/db/mail_jobs")" = 0 &&
	test "$(grep -c "^$A6|" "$TEST_DIR/db/dead_letters")" = 0 &&
	test "$(pg_sql -c "SELECT status FROM developers WHERE wallet_address = '\''$A1'\''")" = active &&
	test "$(pg_sql -c "SELECT status FROM developers WHERE wallet_address = '\''$A4'\''")" = active
'

test_expect_success 'a rewind deeper than --window: rpc-listen stops with 65, nothing reverted, no restart' '
	pl_unsupervise sv &&
	SV_RPC_URL=$SV_RPC SV_POLL_MS=100 SV_RPC_ARGS="--window 3" pl_supervise sv --pipeline stakevault &&
	sv_wait_synced && sv_dump && sv_mine 1 && sv_wait_synced &&
	for i in 1 2 3 4; do sv_stake $A5 1000 >/dev/null && sv_mine 1 && sv_wait_synced || return 1; done &&
	sv_mine 2 && sv_wait_synced && sv_check && cp "$TEST_DIR/db/stakes" "$TEST_DIR/stakes-before" && before=$(cursor) &&
	sv_anvil_stop "$CHAIN" KILL && sv_anvil_start "$CHAIN" --state "$CHAIN/state.json" &&
	sv_mine 5 &&
	pid=$(cat "$TEST_DIR/sv.pid") && i=0 &&
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done &&
	! kill -0 "$pid" 2>/dev/null && rm -f "$TEST_DIR/sv.pid" &&
	grep -q "rpc-listen: fatal: .*reorg deeper than the 3 blocks remembered" "$TEST_DIR/sv.log" &&
	grep -q "permanent failure (exit 65): not restarting" "$TEST_DIR/sv.log" &&
	test "$(cursor)" = "$before" &&
	sv_db_rows "$TEST_DIR/db" && test_cmp "$TEST_DIR/stakes-before" "$TEST_DIR/db/stakes"
'

test_done
