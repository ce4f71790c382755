# tests/stakevault/model.sh -- the independent model of the StakeVault
# tests: from the chain's final logs of the vault (eth_getLogs, block
# timestamps) and the list of registered developers, the rows the database
# must hold.  Plain shell arithmetic on 64-bit integers (the tests' amounts
# are far below 2^63), nothing of the C code.  Sourced after chain.sh.
#
#   sv_model_logs FILE [TO]         the vault's logs (up to block TO), one TSV line each:
#                                   kind wallet amount block timestamp block_hash log_index
#   sv_model REGISTERED LOGS OUTDIR writes OUTDIR/developers, dead_letters, mail_jobs, stakes
# Every file is sorted; formats as sv_db_rows prints them.

sv_model_logs() {
	local to=latest
	[ -n "${2:-}" ] && to=0x$(printf %x "$2")
	sv_rpc eth_getLogs "[{\"fromBlock\":\"0x0\",\"toBlock\":\"$to\",\"address\":\"$SV_VAULT\"}]" |
		jq -r '.[] | [
			(if .topics[0] == "0x9e71bc8eea02a63969f509818f2dafb9254532904319f9dbda79b67bd34a5f3d" then "S"
			 elif .topics[0] == "0x0f5bb82176feb1b5e747e28471aa92156a04d9f3ab9f45f28e2d704232b93f75" then "U"
			 else "R" end),
			(if (.topics | length) > 1 then "0x" + .topics[1][26:] else "-" end),
			.data[2:66], .blockNumber, .blockTimestamp, .blockHash, .logIndex] | @tsv' >"$1"
}

# sv_model REGISTERED LOGS OUTDIR: REGISTERED has one lower-case wallet a line.
# The side effects are per wallet and block (the state at the block's end):
# an unregistered wallet's block -> one dead letter naming its last log; a
# registered developer's welcome -> the first block that ends with a stake.
sv_model() {
	local reg=$1 logs=$2 out=$3 kind w amt bn ts bh li k
	declare -A stake=() at=() first=() nst=() nun=() isreg=() endst=() endli=() endbh=()
	local blocks=()
	while read -r w; do isreg[$w]=1; done <"$reg"
	while IFS=$'\t' read -r kind w amt bn ts bh li; do
		[ "$kind" = R ] && continue
		amt=$((16#$amt)) bn=$((bn)) ts=$((ts)) li=$((li))
		if [ "$kind" = S ]; then
			stake[$w]=$((${stake[$w]:-0} + amt)) at[$w]=$ts nst[$w]=$((${nst[$w]:-0} + 1))
		else
			stake[$w]=$((${stake[$w]:-0} - amt)) nun[$w]=$((${nun[$w]:-0} + 1))
		fi
		[ "${stake[$w]}" -ge 0 ] || { echo "model: negative stake of $w" >&2; return 1; }
		k="$w|$bn"
		[ -n "${endst[$k]:-}" ] || blocks+=("$k")
		endst[$k]=${stake[$w]} endli[$k]=$li endbh[$k]=$bh
	done <"$logs"
	: >"$out/dead_letters"
	for k in "${blocks[@]}"; do
		w=${k%|*} bn=${k#*|}
		if [ -z "${isreg[$w]:-}" ]; then
			printf '%s|%s|%s|%s\n' "$w" "$bn" "${endbh[$k]}" "${endli[$k]}" >>"$out/dead_letters"
		elif [ "${endst[$k]}" -gt 0 ] && [ -z "${first[$w]:-}" ]; then
			first[$w]=$bn
		fi
	done
	LC_ALL=C sort -o "$out/dead_letters" "$out/dead_letters"
	: >"$out/developers"
	: >"$out/mail_jobs"
	while read -r w; do
		local s=${stake[$w]:-0} st=pending
		[ "$s" -gt 0 ] && st=active
		printf '%s|%d.%06d|%s|%s\n' "$w" $((s / 1000000)) $((s % 1000000)) "${at[$w]:--}" "$st" >>"$out/developers"
		[ -n "${first[$w]:-}" ] && printf '%s|%s\n' "$w" "${first[$w]}" >>"$out/mail_jobs"
	done <"$reg"
	: >"$out/stakes"
	for w in "${!stake[@]}"; do
		local s=${stake[$w]} st=pending
		[ "$s" -gt 0 ] && st=active
		printf '%s|%s|%s|%s|%s|%s\n' "$w" "$s" "${at[$w]}" "$st" "${nst[$w]:-0}" "${nun[$w]:-0}" >>"$out/stakes"
	done
	for f in developers mail_jobs stakes; do LC_ALL=C sort -o "$out/$f" "$out/$f"; done
}

# sv_db_rows OUTDIR: the same four files from the database.
sv_db_rows() {
	psql -X -At -v ON_ERROR_STOP=1 -c "SELECT wallet_address, stake_amount, coalesce(extract(epoch FROM staked_at)::bigint::text, '-'), status
		FROM developers ORDER BY 1" | LC_ALL=C sort >"$1/developers" &&
	psql -X -At -v ON_ERROR_STOP=1 -c "SELECT wallet_address, block_number, '0x' || lpad(substr(block_hash, 3), 64, '0'), log_index FROM sv_dead_letters" |
		LC_ALL=C sort >"$1/dead_letters" &&
	psql -X -At -v ON_ERROR_STOP=1 -c "SELECT wallet_address, block_number FROM sv_mail_jobs WHERE kind = 'welcome'" |
		LC_ALL=C sort >"$1/mail_jobs" &&
	psql -X -At -v ON_ERROR_STOP=1 -c "SELECT sv_wallet(wallet_address), stake_amount, staked_at, status, stakes, unstakes FROM sv_stakes" |
		LC_ALL=C sort >"$1/stakes"
}
