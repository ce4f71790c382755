# tests/stakevault/pipeline.sh -- waiting for and checking a StakeVault
# pipeline that runs under the supervisor NAME "sv" (pl_supervise sv: its
# log is $TEST_DIR/sv.log, its run directory $TEST_DIR/run-sv).  Sourced
# after chain.sh and model.sh; the test sets ACCOUNTS (the wallets whose
# getStake() is checked) and writes $TEST_DIR/registered.
#   sv_wait_block N      system_state says block N is applied (120 s at most)
#   sv_wait_synced       caught up with head - 2, on the chain's own block; sets SYNCED
#   sv_check             the database equals the model of the logs up to SYNCED,
#                        and the model equals the vault
#   sv_pid_of STAGE      the stage's pid in the current formation
#   sv_setup N R         the schema, anvil and the contracts, N funded accounts of
#                        which the first R are registered developers
#   sv_env               in the test script: the chain's variables sv_setup found

# sv_setup N R: the schema and the StakeVault pipeline registered, anvil
# started on $CHAIN (with --state), the contracts deployed; the node's accounts
# 2..N+1 funded in $TEST_DIR/accounts, the first R of them registered
# developers ($TEST_DIR/registered); the chain's variables in $TEST_DIR/env.
sv_setup() {
	pl-migrate >/dev/null &&
		pg_sql -c "SELECT sv_register_pipeline()" >/dev/null &&
		sv_anvil_start "$CHAIN" --state "$CHAIN/state.json" &&
		sv_deploy 150000000 &&
		sv_accounts | sed -n "2,$(($1 + 1))p" >"$TEST_DIR/accounts" &&
		sed -n "1,$2p" "$TEST_DIR/accounts" >"$TEST_DIR/registered" || return 1
	local a
	while read -r a; do
		pg_sql -c "INSERT INTO developers (wallet_address, email, skills) VALUES ('$a', '$a@example.com', '[]')" || return 1
	done <"$TEST_DIR/registered"
	for a in $(cat "$TEST_DIR/accounts"); do sv_fund "$a" 100000000000 || return 1; done
	echo "SV_RPC=$SV_RPC SV_VAULT=$SV_VAULT SV_PORT=$SV_PORT SV_TOKEN=$SV_TOKEN SV_OWNER=$SV_OWNER" >"$TEST_DIR/env"
}
# sv_env: what sv_setup found, in the test script itself (each test's body
# runs in a subshell): the chain's variables exported, $ACCOUNTS.
sv_env() {
	. "$TEST_DIR/env" 2>/dev/null
	export SV_RPC SV_VAULT SV_PORT SV_TOKEN SV_OWNER
	ACCOUNTS=$(cat "$TEST_DIR/accounts" 2>/dev/null)
}

# sv_wait_block N: until system_state says block N is applied (120 s at most).
sv_wait_block() {
	local i=0 v
	while [ $i -lt 1200 ]; do
		v=$(pg_sql -c "SELECT value FROM system_state WHERE key = 'last_processed_block_stake_vault'" 2>/dev/null)
		[ -n "$v" ] && [ "$v" -ge "$1" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "timed out waiting for block $1 (at '$v')"
	tail -n 20 "$TEST_DIR/sv.log"
	return 1
}
# The pipeline has caught up with head - confirmations (2) and its newest
# block is the chain's (after a reorg the number alone says nothing).
sv_wait_synced() {
	local i=0 n h want
	while [ $i -lt 1200 ]; do
		n=$(($(sv_head) - 2))
		want=$(sv_rpc eth_getBlockByNumber "[\"0x$(printf %x $n)\",false]" | jq -r .hash)
		h=$(pg_sql -c "SELECT '0x' || lpad(substr(block_hash, 3), 64, '0') FROM sv_cursor WHERE block_number = $n" 2>/dev/null)
		[ "$h" = "$want" ] && { SYNCED=$n; return 0; }
		sleep 0.1
		i=$((i + 1))
	done
	echo "timed out waiting for block $n ($want); the cursor: $(pg_sql -c 'SELECT block_number, block_hash FROM sv_cursor')"
	tail -n 20 "$TEST_DIR/sv.log"
	return 1
}
# The database equals the model of the chain's logs up to the block
# sv_wait_synced saw applied; the model equals the vault (whose getStake()
# is the newest state: so check after mining past the last transaction).
sv_check() {
	mkdir -p "$TEST_DIR/model" "$TEST_DIR/db" &&
	sv_model_logs "$TEST_DIR/logs.tsv" "${SYNCED:?sv_wait_synced first}" &&
	sv_model "$TEST_DIR/registered" "$TEST_DIR/logs.tsv" "$TEST_DIR/model" &&
	sv_db_rows "$TEST_DIR/db" &&
	for f in developers stakes dead_letters mail_jobs; do
		test_cmp "$TEST_DIR/model/$f" "$TEST_DIR/db/$f" || return 1
	done &&
	for a in $ACCOUNTS; do
		want=$(awk -F'|' -v w="$a" '$1 == w { print $2 }' "$TEST_DIR/model/stakes")
		got=$(sv_get_stake "$a")
		[ "${want:-0}" = "$got" ] || { echo "model says $a has ${want:-0}, the vault says $got"; return 1; }
	done
}
sv_pid_of() { # STAGE: its pid in the supervisor's current formation
	awk -v n="$1" '$3 == n { p = $1 } END { print p }' "$TEST_DIR/run-sv/stages.pid"
}
