#!/bin/bash
# t6100-intuition-pg -- the Intuition tables in PostgreSQL: ix-apply's
# deltas written by pg-write under pipeline 'intuition' (no work table:
# sql/010), one transaction per stream message.  The database equals
# ix-apply's own snapshot and ix-sim's model, value by value; event rows
# that left the undo journal stay in the tables but out of the snapshot;
# re-delivered frames are skipped and acked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
. "$SRC/tests/intuition/compare.sh"
pg_start

test_expect_success 'set up: schema, a generated stream, the expectations' '
	pl-migrate >/dev/null &&
	test "$(pg_sql -c "SELECT work_table IS NULL FROM pl_pipeline WHERE name = \$\$intuition\$\$")" = t &&
	ix-sim --seed 5 --blocks 400 --chunk 9 --model model >rec &&
	redis-read --replay rec >frames &&
	ix-apply --dump-state expect <frames >deltas
'

test_expect_success 'pg-write applies every message in its own transaction and acks it' '
	pg-write --pipeline intuition <deltas >acks &&
	test "$(wc -l <acks)" = "$(grep -c "\"op\":\"begin\"" frames)" &&
	last=$(grep "\"op\":\"begin\"" frames | tail -n 1 | jq .seq) &&
	test "$(pg_sql -c "SELECT seq FROM pl_checkpoint WHERE pipeline = \$\$intuition\$\$")" = "$last"
'

test_expect_success 'the database equals ix-apply'"'"'s snapshot (live rows, journal, checkpoint)' '
	pg-snapshot --pipeline intuition -o got &&
	test_cmp expect got
'

test_expect_success 'the database equals the model, value by value' '
	ix_project model got >proj && ix_model_sorted model >exp && test -s exp && test_cmp exp proj
'

test_expect_success 'final event rows stay in the tables, out of the snapshot' '
	all=$(pg_sql -c "SELECT count(*) FROM deposited_events") &&
	test "$all" = "$(grep -c "\"event_name\":\"Deposited\"" frames)" &&
	test "$all" -gt "$(grep -c "\"table\":\"deposited_events\"" got)"
'

test_expect_success 'the pitchlake pipeline is still the default beside a sourceless one' '
	test "$(pg_sql -c "SELECT count(*) FROM pl_pipeline")" -ge 2 &&
	pg-snapshot -o p && ! grep -q "\"table\":\"term\"" p
'

test_expect_success 're-delivered frames are skipped and acked, nothing changes' '
	pg-write --pipeline intuition <deltas >acks2 &&
	test_cmp acks acks2 &&
	pg-snapshot --pipeline intuition -o got2 && test_cmp expect got2
'

# The undo journal of blocks that several messages changed in turn (orphan
# blocks before a reorg): pg-write keeps the order of recording (ids) and
# pg-snapshot lists the entries in it, as ix-apply's own snapshot does.
cat >"$TEST_DIR/reset.sql" <<'EOF'
DO $$BEGIN
	EXECUTE (SELECT 'TRUNCATE ' || string_agg(quote_ident(table_name), ', ')
		FROM pl_state_tables WHERE pipeline = 'intuition');
END$$;
DELETE FROM pl_journal WHERE pipeline = 'intuition';
DELETE FROM pl_journal_block WHERE pipeline = 'intuition';
DELETE FROM pl_checkpoint WHERE pipeline = 'intuition';
EOF
test_expect_success 'reorgs over interleaved ranges: the database equals ix-apply and the model' '
	pg_sql -f reset.sql &&
	ix-sim --seed 12 --blocks 200 --reorgs 20 --chunk 12 --model rmodel >rrec &&
	redis-read --replay rrec >rframes &&
	n=$(grep -c "\"fork_block\"" rframes) && test "$n" -gt 5 &&
	k=$(grep -n "\"fork_block\"" rframes | sed -n "$((n / 2))p" | cut -d: -f1) &&
	head -n $((k - 1)) rframes >r1 && tail -n +$k rframes >r2 &&
	ix-apply --dump-state rmid <r1 | pg-write --pipeline intuition >/dev/null &&
	pg-snapshot --pipeline intuition -o gmid && test_cmp rmid gmid &&
	ix-apply --state gmid --dump-state rexpect <r2 | pg-write --pipeline intuition >/dev/null &&
	pg-snapshot --pipeline intuition -o rgot && test_cmp rexpect rgot &&
	ix_project rmodel rgot >proj && ix_model_sorted rmodel >exp && test -s exp && test_cmp exp proj
'

test_done
