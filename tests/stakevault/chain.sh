# tests/stakevault/chain.sh -- a real local chain for the StakeVault tests
# and the demo: anvil on a free loopback port, the contracts of
# StakeVault.sol deployed and driven with raw JSON-RPC (curl), using
# anvil's unlocked dev accounts (eth_sendTransaction).  Sourced, plain sh.
#
#   . tests/stakevault/chain.sh
#   sv_anvil_start DIR [anvil options...]   # sets SV_RPC (http://127.0.0.1:PORT)
#   sv_deploy 150000000                     # TestUSDC + StakeVault; SV_TOKEN, SV_VAULT
#   sv_fund ACCOUNT AMOUNT; sv_stake ACCOUNT AMOUNT; sv_unstake ACCOUNT AMOUNT
#   sv_set_required AMOUNT; sv_mine N; sv_reorg DEPTH; sv_rollback DEPTH
#   sv_rpc METHOD PARAMS-JSON               # prints the result (JSON), fails on an error
#   sv_anvil_stop DIR
#
# Amounts are token base units (6 decimals), < 2^63 (printf %064x).
# Every transaction is checked: its receipt must have status 0x1.

SV_DIR=$(cd "$(dirname "${SV_LIB:-tests/stakevault/chain.sh}")" 2>/dev/null && pwd)

sv_rpc_to() { # URL METHOD PARAMS
	_sv_out=$(curl -sS --max-time "${SV_RPC_TIMEOUT:-300}" -X POST -H 'Content-Type: application/json' \
		--data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}" "$1") || return 1
	if printf '%s' "$_sv_out" | jq -e 'has("error")' >/dev/null; then
		echo "sv_rpc: $2: $(printf '%s' "$_sv_out" | jq -c .error)" >&2
		return 1
	fi
	printf '%s' "$_sv_out" | jq -c .result
}
sv_rpc() { sv_rpc_to "$SV_RPC" "$@"; }

# sv_anvil_start DIR [OPTIONS]: anvil on 127.0.0.1, a port the kernel picks
# (or SV_PORT to reuse one, e.g. after a restart); its pid in DIR/anvil.pid.
sv_anvil_start() {
	_sv_d=$1
	shift
	mkdir -p "$_sv_d"
	: >"$_sv_d/anvil.log"
	# HOME: anvil keeps the states it prunes from memory in ~/.foundry/anvil/tmp
	# and leaves them there when it is killed (75 GB after a day of tests
	# and benches here); in DIR/home they go with the test's directory.
	mkdir -p "$_sv_d/home"
	HOME=$_sv_d/home anvil --host 127.0.0.1 --port "${SV_PORT:-0}" --accounts 12 "$@" >"$_sv_d/anvil.log" 2>&1 &
	echo $! >"$_sv_d/anvil.pid"
	_sv_i=0
	while [ $_sv_i -lt 600 ]; do
		SV_PORT=$(sed -n 's/^Listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$_sv_d/anvil.log")
		if [ -n "$SV_PORT" ]; then
			SV_RPC=http://127.0.0.1:$SV_PORT
			export SV_RPC SV_PORT
			sv_rpc eth_blockNumber '[]' >/dev/null 2>&1 && return 0
		fi
		kill -0 "$(cat "$_sv_d/anvil.pid")" 2>/dev/null || { cat "$_sv_d/anvil.log" >&2; return 1; }
		sleep 0.05
		_sv_i=$((_sv_i + 1))
	done
	echo "sv_anvil_start: anvil did not start" >&2
	return 1
}

# sv_anvil_stop DIR [SIGNAL]: stop the anvil of DIR (TERM: it dumps --state).
sv_anvil_stop() {
	[ -f "$1/anvil.pid" ] || return 0
	_sv_p=$(cat "$1/anvil.pid")
	kill "-${2:-TERM}" "$_sv_p" 2>/dev/null
	while kill -0 "$_sv_p" 2>/dev/null; do sleep 0.05; done
	rm -f "$1/anvil.pid"
}

sv_accounts() { sv_rpc eth_accounts '[]' | jq -r '.[]'; }
sv_u256() { printf '%064x' "$1"; }
sv_addr_word() { printf '%064s' "${1#0x}" | tr ' ' 0; }

# sv_send FROM TO DATA: a transaction, mined (anvil automine); prints its hash.
sv_send() {
	_sv_to=""
	[ -n "$2" ] && _sv_to="\"to\":\"$2\","
	_sv_tx=$(sv_rpc eth_sendTransaction "[{\"from\":\"$1\",$_sv_to\"data\":\"$3\",\"gas\":\"0x500000\"}]") || return 1
	_sv_tx=$(printf '%s' "$_sv_tx" | jq -r .)
	_sv_rc=$(sv_rpc eth_getTransactionReceipt "[\"$_sv_tx\"]") || return 1
	if [ "$(printf '%s' "$_sv_rc" | jq -r .status)" != 0x1 ]; then
		echo "sv_send: transaction $_sv_tx failed: $_sv_rc" >&2
		return 1
	fi
	SV_RECEIPT=$_sv_rc
	echo "$_sv_tx"
}

# sv_deploy REQUIRED: deploy TestUSDC and StakeVault(token, REQUIRED) from
# the first account; sets SV_OWNER SV_TOKEN SV_VAULT.
sv_deploy() {
	SV_OWNER=$(sv_accounts | head -n 1)
	sv_send "$SV_OWNER" "" "0x$(cat "$SV_DIR/TestUSDC.bin")" >/dev/null || return 1
	SV_TOKEN=$(printf '%s' "$SV_RECEIPT" | jq -r .contractAddress)
	sv_send "$SV_OWNER" "" "0x$(cat "$SV_DIR/StakeVault.bin")$(sv_addr_word "$SV_TOKEN")$(sv_u256 "$1")" >/dev/null || return 1
	SV_VAULT=$(printf '%s' "$SV_RECEIPT" | jq -r .contractAddress)
	export SV_OWNER SV_TOKEN SV_VAULT
}

# sv_fund ACCOUNT AMOUNT: mint AMOUNT to ACCOUNT and approve the vault for all of it.
sv_fund() {
	sv_send "$1" "$SV_TOKEN" "0x40c10f19$(sv_addr_word "$1")$(sv_u256 "$2")" >/dev/null &&
		sv_send "$1" "$SV_TOKEN" "0x095ea7b3$(sv_addr_word "$SV_VAULT")$(sv_u256 "$2")" >/dev/null
}
sv_stake() { sv_send "$1" "$SV_VAULT" "0xa694fc3a$(sv_u256 "$2")"; }
sv_unstake() { sv_send "$1" "$SV_VAULT" "0x2e17de78$(sv_u256 "$2")"; }
sv_set_required() { sv_send "$SV_OWNER" "$SV_VAULT" "0xaf9cb9f6$(sv_u256 "$1")"; }
# The vault's own view of a stake (getStake), decimal.
sv_get_stake() {
	_sv_r=$(sv_rpc eth_call "[{\"to\":\"$SV_VAULT\",\"data\":\"0x7a766460$(sv_addr_word "$1")\"},\"latest\"]" | jq -r .)
	printf '%d\n' "$_sv_r"
}
sv_head() { printf '%d\n' "$(sv_rpc eth_blockNumber '[]' | jq -r .)"; }
# (in calls of at most 200 blocks: a loaded machine answers each in time)
sv_mine() {
	_sv_n=$1
	while [ "$_sv_n" -gt 0 ]; do
		_sv_k=$((_sv_n > 200 ? 200 : _sv_n))
		sv_rpc anvil_mine "[\"0x$(printf '%x' "$_sv_k")\"]" >/dev/null || return 1
		_sv_n=$((_sv_n - _sv_k))
	done
}
# anvil_reorg DEPTH: replace the newest DEPTH blocks by DEPTH empty ones.
sv_reorg() { sv_rpc anvil_reorg "[$1, []]" >/dev/null; }
# anvil_rollback DEPTH: drop the newest DEPTH blocks (nothing mined instead).
sv_rollback() { sv_rpc anvil_rollback "[$1]" >/dev/null; }
# sv_deploy_bench: the benchmark contract (StakeVaultBench); sets SV_BENCH.
sv_deploy_bench() {
	sv_send "$(sv_accounts | head -n 1)" "" "0x$(cat "$SV_DIR/StakeVaultBench.bin")" >/dev/null || return 1
	SV_BENCH=$(printf '%s' "$SV_RECEIPT" | jq -r .contractAddress)
	export SV_BENCH
}
# sv_emit_stakes N SPREAD AMOUNT: one transaction with N Staked logs.
sv_emit_stakes() { sv_send "$(sv_accounts | head -n 1)" "$SV_BENCH" "0xa625030d$(sv_u256 "$1")$(sv_u256 "$2")$(sv_u256 "$3")" >/dev/null; }
