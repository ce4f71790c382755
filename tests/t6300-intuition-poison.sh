#!/bin/bash
# t6300-intuition-poison -- bad input on the Intuition pipeline (real Redis,
# real PostgreSQL): a message that does not parse and one that breaks an
# invariant (a redeem below zero shares) each stop the pipeline (exit 65)
# naming the stream and message id, leave a pl_quarantine row, are never
# half-applied, are copied to the dead-letter stream (by redis-read, or by
# redis-ack at the stop for what ix-apply refused), and redis-ack --skip (copy to the dead-letter stream, XACK)
# is the explicit way past them; the result equals the model.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
. "$SRC/tests/intuition/redislib.sh"
. "$SRC/tests/intuition/compare.sh"
pg_start
redis_start
export PL_TEST_NO_SLEEP=1 CONSUMER_NAME=c1
S=intuition
test_when_finished 'pl_unsupervise ix'

caught_up() { pg_wait_checkpoint "$(ix_last_seq $S)" intuition || { cat ix.log; false; }; }
# until the supervisor has exited; its exit code on stdout
sup_exit_code() {
	local pid i=0
	pid=$(cat ix.pid)
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 1200 ] && { echo timeout; return 1; }
		sleep 0.1
	done
	wait "$pid" 2>/dev/null
	tail -n 1 ix.log
}
last_id() { rcli XREVRANGE $S + - COUNT 1 | head -n 1; }

test_expect_success 'set up and apply a first part' '
	pl-migrate >/dev/null &&
	ix-sim --seed 11 --blocks 200 --model model >rec &&
	n=$(wc -l <rec) && head -n $((n / 2)) rec >part1 && tail -n +$((n / 2 + 1)) rec >part2 &&
	ix_feed $S <part1 &&
	pl_supervise ix --pipeline intuition && caught_up &&
	pg-snapshot --pipeline intuition -o before
'

test_expect_success 'a message that does not parse stops the pipeline, quarantined, dead-lettered' '
	rcli XADD $S "*" payload "{\"event_name\":\"Deposited\",\"event_data\":[{\"oops\":1}]}" >/dev/null &&
	bad=$(last_id) && echo "$bad" >bad1 &&
	sup_exit_code >out; grep -q "permanent failure (exit 65)" ix.log || { cat ix.log; false; } &&
	{ grep -q "message $bad of stream $S" ix.log || { cat ix.log; false; }; } &&
	test "$(rcli XLEN $S:dead)" = 1 &&
	rcli XRANGE $S:dead - + | grep -qx "$bad" &&
	pg_sql -c "SELECT program || \$\$ \$\$ || kind FROM pl_quarantine WHERE pipeline = \$\$intuition\$\$" >q &&
	{ test "$(cat q)" = "redis-read syntax" || { cat q; false; }; } &&
	pg-snapshot --pipeline intuition -o now && test_cmp before now
'

test_expect_success 'redis-ack --skip moves past it' '
	bad=$(cat bad1) && redis-ack --skip "$bad" $S 2>err && grep -q "skipped message $bad" err &&
	test "$(rcli XLEN $S:dead)" = 2 &&
	: >ix.log && pl_supervise ix --pipeline intuition &&
	head -n 20 part2 | ix_feed $S && caught_up
'

test_expect_success 'a redeem below zero shares stops it, nothing of the message applied' '
	pg-snapshot --pipeline intuition -o before2 &&
	jq -r "select(.table == \"position\" and .row.shares != \"0\") | .key.account_id + \" \" + .key.term_id + \" \" + .key.curve_id" before2 | head -n 1 >pos &&
	read -r acct term curve <pos &&
	vt=$(jq -r "select(.table == \"vault\" and .key.term_id == \"$term\" and .key.curve_id == \"$curve\") | .row.vault_type" before2) &&
	case $vt in Atom) vt=0 ;; Triple) vt=1 ;; CounterTriple) vt=2 ;; *) false ;; esac &&
	TI="\"transaction_information\":{\"chain_id\":1,\"network\":\"base_sepolia\",\"address\":\"0x2ece8d4dedcb9918a398528f3fa4688b1d2cab91\",\"block_hash\":\"0x77\",\"block_number\":9999,\"block_timestamp\":null,\"transaction_hash\":\"0x99\",\"log_index\":\"0x0\",\"transaction_index\":0}" &&
	rcli XADD $S "*" payload "{\"event_name\":\"Redeemed\",\"event_data\":[{\"sender\":\"$acct\",\"receiver\":\"$acct\",\"termId\":\"$term\",\"curveId\":\"$curve\",\"shares\":\"999999999999999999999999\",\"totalShares\":\"0\",\"assets\":\"1\",\"fees\":\"0\",\"vaultType\":$vt,$TI}]}" >/dev/null &&
	last_id >bad2 &&
	sup_exit_code >out; grep -q "permanent failure (exit 65)" ix.log || { cat ix.log; false; } &&
	{ grep -q "below zero shares" ix.log || { cat ix.log; false; }; } &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_quarantine WHERE pipeline = \$\$intuition\$\$ AND program = \$\$ix-apply\$\$")" = 1 &&
	pg-snapshot --pipeline intuition -o now2 && test_cmp before2 now2 &&
	test "$(pg_sql -c "SELECT count(*) FROM redeemed_events WHERE transaction_hash LIKE \$\$%0099\$\$")" = 0
'

test_expect_success 'the refused message is on the dead-letter stream too, naming stream, id and reason' '
	bad=$(cat bad2) &&
	test "$(rcli XLEN $S:dead)" = 3 &&
	rcli --raw XREVRANGE $S:dead + - COUNT 1 >dl &&
	sed -n 3p dl >f_stream && sed -n 5p dl >f_id && sed -n 9p dl >f_reason && sed -n 7p dl >f_payload &&
	test "$(cat f_stream)" = $S && test "$(cat f_id)" = "$bad" &&
	grep -q "message $bad of stream $S stopped the pipeline: .*below zero shares" f_reason &&
	rcli --raw XRANGE $S "$bad" "$bad" | sed -n 3p >orig && test_cmp orig f_payload &&
	grep -q "copied message $bad of stream $S to $S:dead" ix.log
'

test_expect_success 'skipped too, the rest applies; the database equals the model' '
	redis-ack --skip "$(cat bad2)" $S 2>err &&
	test "$(rcli XLEN $S:dead)" = 4 &&
	: >ix.log && pl_supervise ix --pipeline intuition &&
	tail -n +21 part2 | ix_feed $S && caught_up &&
	pg-snapshot --pipeline intuition -o got &&
	ix_project model got >proj && ix_model_sorted model >exp && test -s exp && test_cmp exp proj
'

test_done
