#!/bin/sh
# Done option buyers (both flags set, last change out of the undo journal)
# and settled rounds whose settlement is final leave ep-apply's memory and
# the database snapshot alike (sql/060, sql/061): through
# the live pipeline, pg-snapshot must equal ep-apply's offline dump right
# after a reorg that reverts a settlement and at the end, while the table
# itself keeps every row for the backends.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

SETTLED=0x9fadeca7092d377c750978a256f85278e6f70781e5c879baa766ca6a4db079
last_seq() { grep '"op":"begin"' "$1" | tail -n 1 | sed 's/.*"seq":\([0-9]*\).*/\1/'; }
buyer_rows() { grep -c '"op":"put","table":"Option_Buyers"' "$1"; }
round_rows() { grep -c '"op":"put","table":"Option_Rounds"' "$1"; }

test_when_finished 'pl_unsupervise pl'

test_expect_success 'set up: a chain whose reorgs revert a settlement, split right after one' '
	pl-migrate >/dev/null &&
	chain-sim --seed 5 --blocks 900 --vaults 3 --lps 4 --buyers 6 --reorg-rate 60 >chain &&
	n=$(awk -v s=$SETTLED "/\"op\":\"begin\"/{n++; rv = /\"type\":\"RevertBlock\"/} rv && index(\$0, s) {print n; exit}" chain) &&
	test -n "$n" && test $n -lt $(grep -c "\"op\":\"begin\"" chain) &&
	awk -v to=$n "/\"op\":\"begin\"/{b++} b<=to" chain >first &&
	awk -v to=$n "/\"op\":\"begin\"/{b++} b>to" chain >second &&
	ep-apply --stats --dump-state expect1 <first >/dev/null 2>stats1 &&
	grep -q "archived buyers [1-9]" stats1 &&
	ep-apply --dump-state expect <chain >/dev/null &&
	ep-apply --finality 100000 --dump-state everything <chain >/dev/null
'

test_expect_success 'after the reorg that reverts a settlement: snapshot == offline dump' '
	pg-produce --quiet <first &&
	pl_supervise pl &&
	pg_wait_checkpoint $(last_seq first) &&
	pg-snapshot -o got1 && test_cmp expect1 got1
'

test_expect_success 'the rest of the chain, live: snapshot == offline dump' '
	pg-produce --quiet --rate 500 <second &&
	pg_wait_checkpoint $(last_seq chain) &&
	pg-snapshot -o got && test_cmp expect got
'

test_expect_success 'the tables keep every row; the snapshot leaves done buyers and final rounds out' '
	test "$(pg_sql -c "SELECT count(*) FROM \"Option_Rounds\"")" = $(round_rows everything) &&
	test $(round_rows got) -lt $(round_rows everything) &&
	test "$(pg_sql -c "SELECT count(*) FROM \"Option_Buyers\"")" = $(buyer_rows everything) &&
	test $(buyer_rows got) -lt $(buyer_rows everything) &&
	test "$(pg_sql -c "SELECT count(*) FROM \"Option_Buyers\" WHERE NOT (has_minted AND has_refunded)")" -le $(buyer_rows got)
'

test_done
