#!/bin/bash
# t7400-status-search-path -- pl-status of a pipeline whose tables live in
# their own schema (pl_pipeline.search_path, sql/040; the erc8004 pipeline:
# work table erc8004.work_items, named unqualified): it sets the pipeline's
# search_path as the stages do, so the waiting items are counted and the
# pipeline is ready once they are applied, instead of a "relation does not
# exist" database error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
command -v jq >/dev/null || skip_all "no jq"
pg_start
export PL_TEST_NO_SLEEP=1

block() { # CHAIN NUMBER HASH
	pg_sql -c "INSERT INTO erc8004.events (id, chain_id, block_number, block_hash, transaction_hash, log_index, registry,
		event_type, agent_id, timestamp, score) VALUES
		(\$\$$1-$3-0\$\$, $1, $2, \$\$$3\$\$, \$\$0xt\$\$, 0, \$\$reputation\$\$, \$\$NewFeedback\$\$, 7, 1700000000 + $2, 60)"
}
status() { pl-status --once --pipeline erc8004 --run-dir "$TEST_DIR/run" >status.json; }

test_expect_success 'set up: the erc8004 pipeline registered beside pitchlake, three blocks waiting' '
	pl-migrate >/dev/null &&
	pg_sql -f "$SRC/scripts/pipelines/erc8004.sql" >/dev/null &&
	test "$(pg_sql -At -c "SELECT search_path FROM pl_pipeline WHERE name = \$\$erc8004\$\$")" = "erc8004, public" &&
	block 1 10 0xa10 && block 1 11 0xa11 && block 1 12 0xa12 &&
	mkdir -p "$TEST_DIR/run"
'

test_expect_success 'pl-status counts the waiting work items of erc8004.work_items; not ready' '
	status &&
	jq -e ".database.up == true" status.json &&
	jq -e ".lag.items == 3" status.json &&
	jq -e ".ready == false" status.json
'

test_expect_success 'once the pipeline has applied them: nothing waits, ready, no reason' '
	run-pipeline --pipeline erc8004 --once --max-restarts 3 --finality 4096 --run-dir "$TEST_DIR/run" --acks /dev/null \
		--http-port 0 --progress none 2>sup.log &&
	status &&
	jq -e ".database.up == true and .lag.items == 0 and .ready == true and .reason == null" status.json &&
	jq -e ".last_work_item.seq == 3" status.json
'

test_done
