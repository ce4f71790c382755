#!/bin/bash
# t4500-deep-reorg -- a reorg deeper than the undo journal is refused before
# any of its reverts commits: block-fetch gives each RevertBlock frame the
# whole reorg as the work table holds it ("reverts"), the apply filter
# checks every block of it against its journal first.  Reorgs within the
# journal, before it, apply as usual.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

test_expect_success 'set up: a chain whose reorgs go deeper than a finality of 2' '
	pl-migrate >/dev/null &&
	chain-sim --seed 8 --blocks 300 --vaults 2 --lps 3 --buyers 2 --reorg-rate 60 --max-reorg-depth 5 >chain &&
	grep -q RevertBlock chain &&
	pg-produce --quiet <chain
'

test_expect_success 'block-fetch names the whole reorg on every revert' '
	pg-listen --once | block-fetch >frames &&
	test_json --slurp frames "map(select(.op == \"begin\" and .type == \"RevertBlock\")) | length > 0 and all(.reverts[0] == .block_hash) and any(.reverts | length > 2)"
'

test_expect_success 'the supervisor stops with 65 on the deep reorg; none of its reverts committed' '
	test_must_fail --code 65 run-pipeline --run-dir run --acks acks --finality 2 --once 2>log &&
	grep -q "unable to revert a reorg of [0-9]* blocks: block 0x[0-9a-f]* (number [0-9]* of the [0-9]* to revert, newest first) is not in the undo journal" log &&
	bad=$(pg_sql -c "SELECT driver_id FROM pl_quarantine WHERE kind = \$\$revert\$\$") &&
	test -n "$bad" &&
	prev=$(pg_sql -c "SELECT type FROM driver_events WHERE (sequence_index, id) < (SELECT sequence_index, id FROM driver_events WHERE id = $bad) ORDER BY sequence_index DESC, id DESC LIMIT 1") &&
	test "$prev" != RevertBlock &&
	test "$(pg_sql -c "SELECT is_processed FROM driver_events WHERE id = $bad")" = f &&
	test "$(pg_sql -c "SELECT seq FROM pl_checkpoint")" -lt "$(pg_sql -c "SELECT sequence_index FROM driver_events WHERE id = $bad")"
'

test_expect_success 'the refusal stands: a restart refuses the same reorg again, commits nothing' '
	cp=$(pg_sql -c "SELECT seq FROM pl_checkpoint") &&
	test_must_fail --code 65 run-pipeline --run-dir run --acks acks --finality 2 --once 2>log2 &&
	grep -q "nothing of the reorg was applied" log2 &&
	test "$(pg_sql -c "SELECT seq FROM pl_checkpoint")" = "$cp"
'

test_done
