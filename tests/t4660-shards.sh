#!/bin/bash
# t4660-shards -- scale-out by vault (docs/scaling.md): two shards of the
# Pitchlake pipeline (pl_register_shard, sql/025), each a pipeline of its own
# following the shared work table past its own checkpoint, leave in the state
# tables exactly what one pipeline leaves: the same rows byte for byte, also
# across a restart in the middle of the chain and through its reorgs.  The
# done flag stays to the unsharded pipeline; each shard's snapshot holds only
# its vaults.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

# Every state table (history too) as text, rows sorted bytewise.
state_dump() { # DB
	for t in VaultStates Vault_Historic Liquidity_Providers Liquidity_Providers_Historic Option_Rounds \
		Queued_Liquidity Option_Buyers Bids pl_vault_cursor pl_lp_round_liquidity; do
		echo "== $t"
		PGDATABASE=$1 pg_sql -c "COPY \"$t\" TO STDOUT" | LC_ALL=C sort
	done
}
# A snapshot's lines of one kind (put, undo), sorted bytewise.
lines() { # OP FILE...
	cat "${@:2}" | grep "^{\"op\":\"$1\"" | LC_ALL=C sort
}
# Run pipeline NAME into DB once.
run_once() { # DB NAME
	PGDATABASE=$1 run-pipeline --pipeline "$2" --run-dir "run-$1-$2" --acks "acks-$1-$2" --once 2>>"log-$1-$2"
}

test_expect_success 'set up: a chain of 6 vaults with reorgs, in two halves; two databases' '
	chain-sim --seed 46 --blocks 240 --vaults 6 --lps 4 --buyers 3 --reorg-rate 60 >chain &&
	grep -q RevertBlock chain &&
	half=$(grep -c "^{\"op\":\"begin\"" chain) && half=$((half / 2)) &&
	awk -v h=$half "/^\\{\"op\":\"begin\"/ { n++ } { print > (n <= h ? \"chain1\" : \"chain2\") }" chain &&
	grep -q RevertBlock chain2 &&
	pg_sql -c "CREATE DATABASE one" -c "CREATE DATABASE two" &&
	PGDATABASE=one pl-migrate >/dev/null &&
	PGDATABASE=two pl-migrate >/dev/null &&
	test "$(PGDATABASE=two pg_sql -c "SELECT pl_register_shard(\$\$pitchlake\$\$, 0, 2)")" = pitchlake-0of2 &&
	test "$(PGDATABASE=two pg_sql -c "SELECT pl_register_shard(\$\$pitchlake\$\$, 1, 2)")" = pitchlake-1of2 &&
	PGDATABASE=two pg_sql -c "SELECT pl_register_shard(\$\$pitchlake\$\$, 1, 2)" >/dev/null
'

test_expect_success 'the shard function: C and SQL agree, both shards get vaults' '
	PGDATABASE=one pg_sql -c "SELECT pl_shard_of(\$\$0x24a2d6608cf4b7624421d9c16bf8c0b491c3563e2775786a7d97dc7be801199\$\$, 2),
		pl_shard_of(\$\$0x0024A2d6608cf4b7624421d9c16bf8c0b491c3563e2775786a7d97dc7be801199\$\$, 2),
		pl_shard_of(\$\$0x9\$\$, 7), pl_shard_of(\$\$0x10\$\$, 3)" >out &&
	test "$(cat out)" = "1|1|2|1" &&
	vaults=$(grep -o "\"vault\":\"0x[0-9a-f]*\"" chain | sort -u | cut -d\" -f4) &&
	test "$(echo "$vaults" | wc -l)" = 6 &&
	for v in $vaults; do PGDATABASE=one pg_sql -c "SELECT pl_shard_of(\$\$$v\$\$, 2)"; done | sort -u >shards &&
	test "$(cat shards)" = "$(printf "0\n1")"
'

test_expect_success 'first half: one pipeline into one, two shards into two' '
	PGDATABASE=one pg-produce --quiet <chain1 &&
	PGDATABASE=two pg-produce --quiet <chain1 &&
	run_once one pitchlake &&
	run_once two pitchlake-0of2 &&
	run_once two pitchlake-1of2 &&
	state_dump one >one.state && state_dump two >two.state &&
	test_cmp one.state two.state
'

test_expect_success 'the shards mark nothing; each follows its checkpoint' '
	test "$(PGDATABASE=two pg_sql -c "SELECT count(*) FROM driver_events WHERE is_processed")" = 0 &&
	test "$(PGDATABASE=one pg_sql -c "SELECT count(*) FROM driver_events WHERE NOT is_processed")" = 0 &&
	want=$(PGDATABASE=one pg_sql -c "SELECT driver_id, seq FROM pl_checkpoint WHERE pipeline = \$\$pitchlake\$\$") &&
	test "$(PGDATABASE=two pg_sql -c "SELECT driver_id, seq FROM pl_checkpoint WHERE pipeline = \$\$pitchlake-0of2\$\$")" = "$want" &&
	test "$(PGDATABASE=two pg_sql -c "SELECT driver_id, seq FROM pl_checkpoint WHERE pipeline = \$\$pitchlake-1of2\$\$")" = "$want" &&
	PGDATABASE=two pg-listen --pipeline pitchlake-0of2 --once >rest &&
	test ! -s rest
'

test_expect_success 'second half (with reorgs): restarted from the checkpoints, the same state' '
	PGDATABASE=one pg-produce --quiet <chain2 &&
	PGDATABASE=two pg-produce --quiet <chain2 &&
	run_once one pitchlake &&
	run_once two pitchlake-1of2 &&
	run_once two pitchlake-0of2 &&
	state_dump one >one.state && state_dump two >two.state &&
	test_cmp one.state two.state &&
	test "$(grep -vc "^==" one.state)" -gt 100
'

test_expect_success 'snapshots: each shard holds only its vaults; their union is the one pipeline'"'"'s' '
	PGDATABASE=one pg-snapshot --pipeline pitchlake -o s.one &&
	PGDATABASE=two pg-snapshot --pipeline pitchlake-0of2 -o s.0 &&
	PGDATABASE=two pg-snapshot --pipeline pitchlake-1of2 -o s.1 &&
	test -s s.0 && test -s s.1 &&
	lines put s.one >put.one && lines put s.0 s.1 >put.two &&
	test_cmp put.one put.two &&
	test "$(lines put s.0 | wc -l)" -gt 0 && test "$(lines put s.1 | wc -l)" -gt 0 &&
	lines put s.1 >put.1 && test -z "$(lines put s.0 | LC_ALL=C comm -12 - put.1)" &&
	lines undo s.one >undo.one && lines undo s.0 s.1 >undo.two &&
	test_cmp undo.one undo.two
'

test_expect_success 'pl-verify of each shard: its share of the database equals its replay' '
	PGDATABASE=two pl-verify --pipeline pitchlake-0of2 >out &&
	grep -q "pipeline pitchlake-0of2: the database equals the replay of [0-9]* work items" out &&
	PGDATABASE=two pl-verify --pipeline pitchlake-1of2 >out &&
	grep -q "pipeline pitchlake-1of2: the database equals the replay of [0-9]* work items" out
'

test_expect_success 'block-fetch of a shard: only its vaults'"'"' events; the shards together: every event once' '
	PGDATABASE=two pg-listen --pipeline pitchlake --once --include-processed >items &&
	PGDATABASE=two block-fetch <items >f.all &&
	PGDATABASE=two block-fetch --pipeline pitchlake-0of2 <items >f.0 &&
	PGDATABASE=two block-fetch --shard 1/2 <items >f.1 &&
	test "$(grep -c "^{\"op\":\"begin\"" f.0)" = "$(grep -c "^{\"op\":\"begin\"" f.all)" &&
	test "$(grep -c "^{\"op\":\"begin\"" f.1)" = "$(grep -c "^{\"op\":\"begin\"" f.all)" &&
	grep "^{\"op\":\"event\"" f.all | LC_ALL=C sort >e.all &&
	grep -h "^{\"op\":\"event\"" f.0 f.1 | LC_ALL=C sort >e.two &&
	test_cmp e.all e.two &&
	for k in 0 1; do
		grep -o "\"vault\":\"0x[0-9a-f]*\"" f.$k | sort -u | cut -d\" -f4 >v.$k &&
		test -s v.$k &&
		for v in $(cat v.$k); do PGDATABASE=two pg_sql -c "SELECT pl_shard_of(\$\$$v\$\$, 2)"; done | sort -u >k.$k &&
		test "$(cat k.$k)" = $k || return 1
	done
'

test_expect_success 'a shard registry row: no done column, follows its parent; marking below every shard' '
	test "$(PGDATABASE=two pg_sql -c "SELECT done_column IS NULL, follows, shard_index, shard_count FROM pl_pipeline WHERE name = \$\$pitchlake-1of2\$\$")" = "t|pitchlake|1|2" &&
	n=$(PGDATABASE=two pg_sql -c "SELECT count(*) FROM driver_events") &&
	test "$(PGDATABASE=two pg_sql -c "SELECT pl_shards_mark_done(\$\$pitchlake\$\$)")" = $((n - 1)) &&
	test "$(PGDATABASE=two pg_sql -c "SELECT count(*) FROM driver_events WHERE NOT is_processed")" = 1
'

test_expect_success 'block-fetch --shard: bad values are usage errors; a mismatch with the registry is refused' '
	test_must_fail --code 64 block-fetch --shard 2/2 </dev/null &&
	test_must_fail --code 64 block-fetch --shard 1 </dev/null &&
	test_must_fail --code 64 block-fetch --shard x/2 </dev/null &&
	PGDATABASE=two test_must_fail --code 78 block-fetch --pipeline pitchlake-0of2 --shard 1/2 </dev/null 2>err &&
	grep -q "is shard 0/2 in pl_pipeline" err
'

test_done
