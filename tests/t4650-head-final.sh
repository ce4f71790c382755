#!/bin/bash
# t4650-head-final -- block-fetch --head tells downstream the chain head
# (docs/formats.md "head" and "final"): blocks at least the finality depth
# below it are final when applied, so ep-apply and pg-write keep no undo
# journal for them.  The state is the same as without it, reorgs inside the
# backlog still revert (their blocks are REVERTED, so never final), the
# journal holds only the blocks still within finality of the head, and
# pl-verify stays exact when the chain has grown since the pipeline ran.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

# first N frames / the rest of a chain-sim stream
frames_upto() { awk -v n="$1" '/"op":"begin"/ { k++ } k <= n'; }
frames_after() { awk -v n="$1" '/"op":"begin"/ { k++ } k > n'; }
head_sql="SELECT max(block_number) FROM starknet_blocks WHERE status <> 'REVERTED'"

test_expect_success 'set up: a backlog with reorgs, caught up with --head' '
	pl-migrate >/dev/null &&
	chain-sim --seed 31 --blocks 400 --vaults 2 --lps 4 --buyers 3 --reorg-rate 50 >chain &&
	frames_upto 300 <chain >chain1 && frames_after 300 <chain >chain2 &&
	grep -q RevertBlock chain1 &&
	pg-produce --quiet <chain1 &&
	run-pipeline --run-dir run --acks acks --once 2>log &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE NOT is_processed")" = 0
'

test_expect_success 'block-fetch --head: "head" only on StartBlock frames of blocks not REVERTED' '
	pg-listen --once --include-processed >items &&
	block-fetch --head <items >frames &&
	block-fetch <items >frames.nohead &&
	! grep -q "\"head\":" frames.nohead &&
	h=$(pg_sql -c "$head_sql") &&
	grep "\"op\":\"begin\"" frames | jq -r "select(.head != null) | [.type, .head, .block_hash] | @tsv" >with_head &&
	test -s with_head &&
	awk -F "\t" -v h="$h" "\$1 != \"StartBlock\" || \$2 != h { bad++ } END { exit bad > 0 }" with_head &&
	cut -f 3 with_head | sort -u >hashes &&
	pg_sql -c "SELECT block_hash FROM starknet_blocks WHERE status = \$\$REVERTED\$\$" | sort -u >reverted &&
	test -s reverted &&
	comm -12 hashes reverted >both && test ! -s both
'

test_expect_success 'ep-apply: final frames say so and are not journaled; the state is the same without --head' '
	pg_sql -c "SELECT 1" >/dev/null &&
	ep-apply --dump-state with.state <frames >with.deltas &&
	ep-apply --dump-state without.state <frames.nohead >without.deltas &&
	grep -q "\"final\":true" with.deltas &&
	# the lines of final frames carry no before-image, the others do
	awk "/\"op\":\"begin\"/ { f = /\"final\":true/ } /\"op\":\"(put|del)\"/ { if (f == /\"before\":/) bad++ } END { exit bad > 0 }" with.deltas &&
	! grep -q "\"final\":" without.deltas &&
	grep "\"op\":\"put\"" with.state >with.rows && grep "\"op\":\"put\"" without.state >without.rows &&
	test_cmp without.rows with.rows &&
	# up to the first final frame: its block is journaled only without "head"
	k=$(grep "\"op\":\"begin\"" frames | awk "/\"head\":/ { match(\$0, /\"block_number\":[0-9]+/); b = substr(\$0, RSTART + 15, RLENGTH - 15); match(\$0, /\"head\":[0-9]+/); h = substr(\$0, RSTART + 7, RLENGTH - 7); if (b + 64 <= h) { print NR; exit } }") &&
	test -n "$k" &&
	hash=$(grep "\"op\":\"begin\"" frames | sed -n "${k}p" | jq -r .block_hash) &&
	frames_upto "$k" <frames | ep-apply --dump-state k.with >/dev/null &&
	frames_upto "$k" <frames.nohead | ep-apply --dump-state k.without >/dev/null &&
	grep -q "\"op\":\"block\".*\"$hash\"" k.without &&
	! grep -q "\"op\":\"block\".*\"$hash\"" k.with
'

test_expect_success 'the database: same rows and journal as the offline replay, no journal below head - finality' '
	pg-snapshot -o db.state &&
	test_cmp with.state db.state &&
	h=$(pg_sql -c "$head_sql") &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_journal_block WHERE block_number + 64 <= $h")" = 0 &&
	pl-verify --pipeline pitchlake >out &&
	grep -q "the database equals the replay" out
'

test_expect_success 'the chain grows meanwhile: pl-verify is still exact (the replay sees a higher head)' '
	pg-produce --quiet <chain2 &&
	h0=$(pg_sql -c "SELECT max(block_number) FROM pl_journal_block") &&
	h=$(pg_sql -c "$head_sql") && test "$h" -gt $((h0 + 64)) &&
	pl-verify --pipeline pitchlake >out &&
	grep -q "the database equals the replay" out
'

test_expect_success 'catching up the rest: still equal to the replay and to a run without --head' '
	run-pipeline --run-dir run --acks acks --once 2>>log &&
	pl-verify --pipeline pitchlake >out &&
	grep -q "the database equals the replay" out &&
	pg-listen --once --include-processed | block-fetch | ep-apply --dump-state ref.state >/dev/null &&
	pg-snapshot -o db2.state &&
	grep "\"op\":\"put\"" ref.state >ref.rows && grep "\"op\":\"put\"" db2.state >db2.rows &&
	test_cmp ref.rows db2.rows
'

test_expect_success 'pg-write: a put without "before" is refused outside a final frame (exit 65)' '
	d=$(pg_sql -c "INSERT INTO driver_events (type, block_hash) VALUES (\$\$StartBlock\$\$, \$\$0xfe\$\$) RETURNING id") &&
	s=$(pg_sql -c "SELECT sequence_index FROM driver_events WHERE id = $d") &&
	printf "%s\n" "{\"op\":\"begin\",\"driver_id\":$d,\"seq\":$s,\"type\":\"StartBlock\",\"block_number\":99999,\"block_hash\":\"0xfe\"}" \
		"{\"op\":\"put\",\"table\":\"pl_vault_cursor\",\"key\":{\"vault_address\":\"0xfe\"},\"row\":{\"vault_address\":\"0xfe\",\"block_number\":\"1\"}}" \
		"{\"op\":\"end\",\"driver_id\":$d}" >nobefore &&
	test_must_fail --code 65 pg-write <nobefore >out 2>err &&
	grep -q "no \"before\"" err &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_vault_cursor WHERE vault_address = \$\$0xfe\$\$")" = 0
'

test_done
