#!/bin/bash
# t7300-erc8004-bad-input -- bad input of the erc8004 pipeline
# (docs/erc8004.md): an event row the rules cannot read is quarantined with
# its work item and stops the pipeline (fail closed), nothing of it
# committed; under --skip-bad-events it is recorded in skipped_events and
# skipped; a malformed condition disables only its own trigger, with the
# reason recorded, while the other triggers keep firing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
command -v jq >/dev/null || skip_all "no jq"
pg_start
export PL_TEST_NO_SLEEP=1

run_once() { # CONFIG-ARGS...
	run-pipeline "$@" --once --finality 4096 --run-dir "$TEST_DIR/run" --acks /dev/null 2>>"$TEST_DIR/sup.log"
}
block() { # CHAIN NUMBER HASH REGISTRY SCORE
	pg_sql -c "INSERT INTO erc8004.events (id, chain_id, block_number, block_hash, transaction_hash, log_index, registry,
		event_type, agent_id, timestamp, score) VALUES
		(\$\$$1-$3-0\$\$, $1, $2, \$\$$3\$\$, \$\$0xt\$\$, 0, \$\$$4\$\$, \$\$NewFeedback\$\$, 7, 1700000000 + $2, $5)"
}

test_expect_success 'set up: two triggers on the same events, one with a malformed condition' '
	pl-migrate >/dev/null &&
	pg_sql -f "$SRC/scripts/pipelines/erc8004.sql" >/dev/null &&
	pg_sql -c "INSERT INTO erc8004.triggers (id, user_id, name, chain_id, registry) VALUES
		(1, \$\$u\$\$, \$\$good\$\$, 1, \$\$reputation\$\$), (2, \$\$u\$\$, \$\$bad\$\$, 1, \$\$reputation\$\$)" &&
	pg_sql -c "INSERT INTO erc8004.trigger_conditions (id, trigger_id, condition_type, field, operator, value) VALUES
		(10, 1, \$\$score_threshold\$\$, \$\$score\$\$, \$\$>=\$\$, \$\$50\$\$),
		(20, 2, \$\$score_threshold\$\$, \$\$score\$\$, \$\$~\$\$, \$\$50\$\$)" &&
	pg_sql -c "INSERT INTO erc8004.trigger_actions (id, trigger_id, action_type, priority) VALUES
		(100, 1, \$\$mcp\$\$, 1), (200, 2, \$\$mcp\$\$, 1)" &&
	block 1 10 0xa10 reputation 60 &&
	block 1 11 0xa11 reputation 40 &&
	run_once --pipeline erc8004
'

test_expect_success 'the malformed condition disables its trigger only, with its reason' '
	pg_sql -c "SELECT trigger_id || \$\$|\$\$ || status || \$\$|\$\$ || reason || \$\$|\$\$ || bad_condition FROM erc8004.rule_triggers ORDER BY trigger_id" >got &&
	printf "%s\n" "1|active||0" "2|malformed|bad_operator|20" >want &&
	test_cmp want got &&
	pg_sql -c "SELECT id FROM erc8004.job_queue ORDER BY id" >got &&
	echo "1-0xa10-0:100" >want &&
	test_cmp want got
'

test_expect_success 'an unreadable event row: quarantined with its work item, the pipeline stops (65)' '
	block 1 12 0xa12 bogus 70 &&
	block 1 13 0xa13 reputation 90 &&
	bad=$(pg_sql -c "SELECT seq FROM erc8004.work WHERE block_hash = \$\$0xa12\$\$") &&
	test_must_fail --code 65 run_once --pipeline erc8004 &&
	pg_sql -c "SELECT driver_id || \$\$|\$\$ || kind FROM pl_quarantine WHERE pipeline = \$\$erc8004\$\$" >got &&
	echo "$bad|syntax" >want &&
	test_cmp want got &&
	grep -q "unknown registry" "$TEST_DIR/sup.log" &&
	test "$(pg_sql -c "SELECT seq FROM pl_checkpoint WHERE pipeline = \$\$erc8004\$\$")" -lt "$bad" &&
	test "$(pg_sql -c "SELECT block_number FROM erc8004.checkpoints WHERE chain_id = 1")" = 11 &&
	test "$(pg_sql -c "SELECT count(*) FROM erc8004.work WHERE NOT processed")" = 2
'

test_expect_success 'under --skip-bad-events the row is recorded and skipped, the rest applied' '
	bad=$(pg_sql -c "SELECT seq FROM erc8004.work WHERE block_hash = \$\$0xa12\$\$") &&
	{ echo "PIPELINE=erc8004" &&
	  echo "FETCH=(jq -c --unbuffered -f \"\$top/scripts/erc8004-fetch.jq\")" &&
	  echo "FETCH_USES_DB=0" &&
	  echo "APPLY=(rules-apply --skip-bad-events)"; } >skip.conf &&
	run_once --config skip.conf &&
	pg_sql -c "SELECT item_seq || \$\$|\$\$ || ordinal || \$\$|\$\$ || reason FROM erc8004.skipped_events" >got &&
	echo "$bad|1|registry" >want &&
	test_cmp want got &&
	test "$(pg_sql -c "SELECT count(*) FROM erc8004.work WHERE NOT processed")" = 0 &&
	test "$(pg_sql -c "SELECT block_number FROM erc8004.checkpoints WHERE chain_id = 1")" = 13 &&
	pg_sql -c "SELECT id FROM erc8004.job_queue ORDER BY id" >got &&
	printf "%s\n" "1-0xa10-0:100" "1-0xa13-0:100" >want &&
	test_cmp want got
'

test_expect_success 'late events of a block already queued are refused at INSERT' '
	test_must_fail pg_sql -c "INSERT INTO erc8004.events (id, chain_id, block_number, block_hash, transaction_hash,
		log_index, registry, event_type, timestamp) VALUES (\$\$late\$\$, 1, 13, \$\$0xa13\$\$, \$\$0xt\$\$, 1,
		\$\$identity\$\$, \$\$Registered\$\$, 1)" 2>err &&
	grep -q "insert a block.s events in one transaction" err
'

test_expect_success 'invalidating a block while a newer one of its chain is valid is refused' '
	test_must_fail pg_sql -c "UPDATE erc8004.events SET invalidated = true WHERE block_hash = \$\$0xa11\$\$" 2>err &&
	grep -q "newer block is valid" err
'

test_done
