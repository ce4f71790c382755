#!/bin/bash
# t7100-erc8004-pipeline -- the ERC-8004 rules pipeline end to end on a real
# PostgreSQL (docs/erc8004.md): erc8004-produce plays Ponder for two chains
# (blocks, reorgs that invalidate rows, users' rule changes in between);
# pg-listen | jq | rules-apply | pg-write under run-pipeline turns them into
# jobs.  A backlog first, then live operations while stages are killed with
# SIGKILL; at the end every job, trigger status, trigger_state row and
# per-chain checkpoint equals tests/erc8004/model.py's prediction, no job is
# lost or doubled, and the database equals an offline replay.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
command -v jq >/dev/null || skip_all "no jq"
command -v python3 >/dev/null || skip_all "no python3"
pg_start
export PL_TEST_NO_SLEEP=1
MODEL=$SRC/tests/erc8004/model.py

stop_all() {
	[ -f "$TEST_DIR/prod.pid" ] && kill "$(cat "$TEST_DIR/prod.pid")" 2>/dev/null
	pl_unsupervise erc8004
	return 0
}
test_when_finished stop_all
supervisor() { cat "$TEST_DIR/erc8004.pid"; }
# kill9 NAME: SIGKILL the supervisor's stage NAME once it runs (within 30 s;
# the names killed go to $TEST_DIR/kills)
kill9() {
	local p i=0
	while [ $i -lt 300 ]; do
		p=$(pgrep -P "$(supervisor)" -x "$1" | head -n 1)
		if [ -n "$p" ]; then
			kill -KILL "$p" 2>/dev/null && echo "$1" >>"$TEST_DIR/kills"
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
}
# q COLUMNS TABLE: the rows of erc8004.TABLE as '|'-joined COLUMNS, bytewise sorted
q() { pg_sql -c "SELECT l FROM (SELECT $1 AS l FROM erc8004.$2) x ORDER BY l COLLATE \"C\""; }
last_seq() { pg_sql -c "SELECT coalesce(max(seq), 0) FROM erc8004.work"; }

test_expect_success 'set up: schema, registration, operations of two chains, the model' '
	pl-migrate >/dev/null &&
	pg_sql -f "$SRC/scripts/pipelines/erc8004.sql" >/dev/null &&
	erc8004-produce --seed 11 --blocks 400 --triggers 40 --reorg-rate 15 --rule-rate 6 >ops &&
	test "$(grep -c "\"op\": \"reorg\"" ops)" -ge 5 &&
	test "$(grep -c "\"op\": \"trigger\"" ops)" -ge 60 &&
	test "$(jq -r "select(.op == \"block\") | .chain" ops | sort -u | wc -l)" = 2 &&
	python3 "$MODEL" model <ops &&
	test "$(grep -c "|live$" model/jobs)" -gt 500 &&
	test "$(grep -c "|reverted$" model/jobs)" -gt 20 &&
	grep -q "|malformed|" model/rules &&
	test -s model/state
'

test_expect_success 'the seed'"'"'s NOTIFY: channel new_event, payload of five keys' '
	pg_sql -c "SELECT tgname FROM pg_trigger WHERE tgrelid = \$\$erc8004.events\$\$::regclass AND tgname = \$\$trigger_notify_new_event\$\$" >out &&
	test "$(cat out)" = trigger_notify_new_event &&
	pg_sql -c "SELECT pg_get_functiondef(\$\$erc8004.notify_new_event()\$\$::regprocedure)" >def &&
	grep -q "pg_notify" def && grep -q "new_event" def &&
	for k in event_id chain_id block_number event_type registry; do grep -q "$k" def || return 1; done
'

test_expect_success 'a backlog of half the operations, then the supervisor drains it' '
	n=$(wc -l <ops) && half=$((n / 2)) &&
	head -n $half ops | erc8004-produce --sql | pg_sql >/dev/null &&
	pl_supervise erc8004 --pipeline erc8004 --finality 4096 &&
	pg_wait_checkpoint "$(last_seq)" erc8004
'

test_expect_success 'live operations with rule changes and reorgs while stages die by SIGKILL' '
	n=$(wc -l <ops) && half=$((n / 2)) &&
	{ tail -n +$((half + 1)) ops | erc8004-produce --sql --rate 150 | pg_sql >/dev/null 2>prod.log &
	  echo $! >"$TEST_DIR/prod.pid"; } &&
	for s in pg-listen jq rules-apply pg-write pg-listen rules-apply pg-write jq; do
		sleep 0.3; kill9 $s
	done &&
	while kill -0 "$(cat "$TEST_DIR/prod.pid")" 2>/dev/null; do sleep 0.1; done &&
	rm -f "$TEST_DIR/prod.pid" &&
	test ! -s prod.log &&
	test "$(wc -l <"$TEST_DIR/kills")" = 8 &&
	pg_wait_checkpoint "$(last_seq)" erc8004 &&
	test "$(pg_sql -c "SELECT count(*) FROM erc8004.work WHERE NOT processed")" = 0
'

# A job whose block was applied and reverted inside one transaction (pg-write
# coalesces a catch-up batch) never reached the queue, so no worker saw it:
# the queue holds every live job of the model and only reverted ones of it.
test_expect_success 'every job is the model'"'"'s: rule version, priority, type; reverted ones cancelled' '
	q "id || \$\$|\$\$ || trigger_id || \$\$|\$\$ || rule_version || \$\$|\$\$ || priority || \$\$|\$\$ || action_type || \$\$|\$\$ ||
	   CASE WHEN status IN (\$\$cancelled\$\$, \$\$invalidated\$\$) THEN \$\$reverted\$\$ ELSE \$\$live\$\$ END" job_queue >got &&
	grep "|live\$" model/jobs >expect.live && grep "|live\$" got >got.live &&
	test_cmp expect.live got.live &&
	grep "|reverted\$" got | sort >got.rev && grep "|reverted\$" model/jobs | sort >model.rev &&
	comm -23 got.rev model.rev >extra && test_cmp /dev/null extra
'

test_expect_success 'no job lost, none doubled: one jobs row per live job, the queue order' '
	test "$(pg_sql -c "SELECT count(*) FROM erc8004.jobs")" = "$(grep -c "|live$" model/jobs)" &&
	test "$(pg_sql -c "SELECT count(*) FROM erc8004.job_queue j LEFT JOIN erc8004.jobs k USING (event_seq, action_id)
		WHERE (k.event_seq IS NULL) <> (j.status = \$\$cancelled\$\$)")" = 0 &&
	pg_sql -c "SELECT id FROM erc8004.job_queue WHERE status <> \$\$cancelled\$\$ ORDER BY item_seq, log_index, rank" >order &&
	test_cmp model/order order
'

test_expect_success 'compiled rules, trigger_state and per-chain checkpoints are the model'"'"'s' '
	q "trigger_id || \$\$|\$\$ || status || \$\$|\$\$ || reason || \$\$|\$\$ || bad_condition || \$\$|\$\$ || version" rule_triggers >got &&
	test_cmp model/rules got &&
	q "trigger_id || \$\$|\$\$ || ema || \$\$|\$\$ || ema_count || \$\$|\$\$ || window_start || \$\$|\$\$ || window_count || \$\$|\$\$ || last_updated" trigger_state >got &&
	test_cmp model/state got &&
	q "chain_id || \$\$|\$\$ || block_number || \$\$|\$\$ || block_hash || \$\$|\$\$ || updated_at" checkpoints >got &&
	test_cmp model/checkpoints got
'

test_expect_success 'the database equals an offline replay of every work item' '
	pg-listen --pipeline erc8004 --once --include-processed | jq -c -f "$SRC/scripts/erc8004-fetch.jq" |
		rules-apply --finality 4096 --dump-state expect >/dev/null &&
	pg-snapshot --pipeline erc8004 -o got &&
	test_cmp expect got
'

test_expect_success 'the job body in the queue has the seed'"'"'s fields, in order' '
	pg_sql -c "SELECT body FROM erc8004.job_queue ORDER BY id LIMIT 1" >body &&
	test "$(jq -c "keys_unsorted" body)" = "[\"id\",\"trigger_id\",\"event_id\",\"action_type\",\"priority\",\"config\",\"event_data\",\"created_at\"]" &&
	test "$(jq -r ".event_data.id + \":\" + (.id | split(\":\") | .[1])" body)" = "$(jq -r .id body)" &&
	jq -e ".created_at | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$\")" body >/dev/null
'

test_done
