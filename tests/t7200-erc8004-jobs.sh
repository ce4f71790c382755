#!/bin/bash
# t7200-erc8004-jobs -- the consumers of the erc8004 job queue on real
# servers (docs/erc8004.md): job-relay moves jobs to a throwaway redis-server
# (the seed's list action_jobs and body, idempotent by job id across crashes,
# jobs of reverted blocks taken back out), action-run executes the rest
# actions against a local HTTP receiver that fails, times out and recovers
# (retries with backoff, dead letters, two workers sharing the queue, every
# job executed successfully once), and a reorg after execution marks the
# results invalidated.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
command -v redis-server >/dev/null || skip_all "no redis-server"
command -v python3 >/dev/null || skip_all "no python3"
command -v jq >/dev/null || skip_all "no jq"
pg_start
export PL_TEST_NO_SLEEP=1
MODEL=$SRC/tests/erc8004/model.py
SOCK=$TEST_DIR/redis.sock

stop_all() {
	local f
	for f in redis webhook; do
		[ -f "$TEST_DIR/$f.pid" ] && kill "$(cat "$TEST_DIR/$f.pid")" 2>/dev/null
	done
	return 0
}
test_when_finished stop_all
rcli() { redis-cli -s "$SOCK" "$@"; }
# apply: run the pipeline over every waiting work item, then stop
apply() { run-pipeline --pipeline erc8004 --once --finality 4096 --run-dir "$TEST_DIR/run" --acks /dev/null 2>>"$TEST_DIR/sup.log"; }
relay() { job-relay --redis-socket "$SOCK" --types telegram,mcp --once 2>>"$TEST_DIR/relay.log"; }
wait_file() { local i=0; while [ ! -s "$1" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done; [ -s "$1" ]; }

test_expect_success 'set up: PostgreSQL, redis-server, the webhook, the jobs of two chains' '
	pl-migrate >/dev/null &&
	pg_sql -f "$SRC/scripts/pipelines/erc8004.sql" >/dev/null &&
	{ redis-server --port 0 --unixsocket "$SOCK" --save "" --appendonly no >"$TEST_DIR/redis.log" 2>&1 &
	  echo $! >"$TEST_DIR/redis.pid"; } &&
	{ python3 "$SRC/tests/erc8004/webhook.py" port hooks.log >/dev/null 2>&1 & echo $! >"$TEST_DIR/webhook.pid"; } &&
	wait_file port &&
	i=0 && until rcli ping >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); [ $i -lt 300 ] || return 1; done &&
	erc8004-produce --seed 21 --blocks 120 --triggers 25 --reorg-rate 0 --rule-rate 0 \
		--rest-url "http://127.0.0.1:$(cat port)" >ops &&
	python3 "$MODEL" model <ops &&
	erc8004-produce --sql <ops | pg_sql >/dev/null &&
	apply &&
	test "$(pg_sql -c "SELECT count(*) FROM erc8004.work WHERE NOT processed")" = 0 &&
	test "$(pg_sql -c "SELECT count(*) FROM erc8004.job_queue")" = "$(wc -l <model/jobs)" &&
	test "$(grep -c "|rest|" model/jobs)" -gt 10 &&
	test "$(grep -c -e "|mcp|" -e "|telegram|" model/jobs)" -gt 10
'

test_expect_success 'job-relay: the non-rest jobs in Redis, in queue order, bodies as committed' '
	relay &&
	rcli lrange action_jobs 0 -1 >list &&
	tac list >fifo &&
	pg_sql -c "SELECT body FROM erc8004.job_queue WHERE action_type IN (\$\$telegram\$\$, \$\$mcp\$\$) ORDER BY item_seq, log_index, rank" >expect &&
	test_cmp expect fifo &&
	jq -r .id fifo >ids && grep -v -e "|rest|" model/jobs | cut -d"|" -f1 | LC_ALL=C sort >want &&
	LC_ALL=C sort ids | test_cmp want - &&
	test "$(jq -c "keys_unsorted" fifo | sort -u)" = "[\"id\",\"trigger_id\",\"event_id\",\"action_type\",\"priority\",\"config\",\"event_data\",\"created_at\"]"
'

test_expect_success 'job-relay is idempotent by job id: a crash before marking pushes nothing twice' '
	n=$(rcli llen action_jobs) &&
	pg_sql -c "UPDATE erc8004.job_queue SET relayed_at = NULL" >/dev/null &&
	relay && relay &&
	test "$(rcli llen action_jobs)" = "$n" &&
	test "$(pg_sql -c "SELECT count(*) FROM erc8004.job_queue WHERE relayed_at IS NULL AND action_type <> \$\$rest\$\$")" = 0
'

test_expect_success 'job-relay: Redis unreachable is 'unavailable' (69)' '
	test_must_fail --code 69 job-relay --redis-socket "$TEST_DIR/no.sock" --once 2>err &&
	grep -q "unable to connect to Redis" err
'

test_expect_success 'action-run: two workers; retries, timeouts, dead letters; each job succeeds once' '
	{ action-run --once --max-attempts 3 --backoff-ms 20 --timeout-ms 1000 --lease 30 --poll-interval 50 2>w1.log & p1=$!; } &&
	{ action-run --once --max-attempts 3 --backoff-ms 20 --timeout-ms 1000 --lease 30 --poll-interval 50 2>w2.log & p2=$!; } &&
	wait $p1 && wait $p2 &&
	grep "|rest|" model/jobs | cut -d"|" -f1 | LC_ALL=C sort >rest &&
	awk -F: "{ print \$0 \"|\" ((\$NF % 4 == 3) ? \"dead\" : \"done\") }" rest >want &&
	pg_sql -c "SELECT id || \$\$|\$\$ || status FROM erc8004.job_queue WHERE action_type = \$\$rest\$\$ ORDER BY id COLLATE \"C\"" >got &&
	test_cmp want got &&
	test "$(pg_sql -c "SELECT count(*) FROM (SELECT job_id FROM erc8004.action_results WHERE status = \$\$success\$\$ GROUP BY job_id HAVING count(*) <> 1) x")" = 0 &&
	test "$(awk "\$3 == 200" hooks.log | cut -d" " -f1 | sort | uniq -d | wc -l)" = 0 &&
	test "$(awk "\$3 == 200" hooks.log | wc -l)" = "$(grep -c "|done$" want)" &&
	pg_sql -c "SELECT count(*) FROM erc8004.action_results r JOIN erc8004.job_queue q ON q.id = r.job_id
		WHERE r.status = \$\$dead\$\$ AND q.attempts = 3" >dead &&
	test "$(cat dead)" = "$(grep -c "|dead$" want)" &&
	test "$(pg_sql -c "SELECT count(*) FROM erc8004.action_results r WHERE r.error_message LIKE \$\$%Timeout%\$\$ OR r.error_message LIKE \$\$%timed out%\$\$")" -gt 0 &&
	test -s w1.log -a -s w2.log
'

test_expect_success 'kill -9 of job-relay and of action-run: no job lost, none doubled' '
	rcli del action_jobs >/dev/null &&
	rcli --scan --pattern "action_jobs:seen:*" | while read -r k; do rcli del "$k" >/dev/null; done &&
	pg_sql -c "UPDATE erc8004.job_queue SET relayed_at = NULL, recalled_at = NULL WHERE status = \$\$pending\$\$" >/dev/null &&
	want=$(pg_sql -c "SELECT count(*) FROM erc8004.job_queue WHERE status = \$\$pending\$\$ AND action_type <> \$\$rest\$\$") &&
	{ job-relay --redis-socket "$SOCK" --types telegram,mcp 2>>relay.log & p=$!; } &&
	i=0 && until [ "$(rcli llen action_jobs)" -gt 0 ]; do sleep 0.01; i=$((i + 1)); [ $i -lt 3000 ] || return 1; done &&
	kill -KILL $p && { wait $p 2>/dev/null; true; } &&
	relay &&
	test "$(rcli llen action_jobs)" = "$want" &&
	test "$(rcli lrange action_jobs 0 -1 | jq -r .id | sort | uniq -d | wc -l)" = 0 &&
	pg_sql -c "UPDATE erc8004.job_queue SET status = \$\$pending\$\$, attempts = 0, next_attempt_at = now()
		WHERE action_type = \$\$rest\$\$ AND status = \$\$done\$\$" >/dev/null &&
	pg_sql -c "DELETE FROM erc8004.action_results WHERE status = \$\$success\$\$" >/dev/null &&
	{ action-run --lease 1 --poll-interval 50 --backoff-ms 20 2>w3.log & p=$!; } &&
	i=0 && until [ "$(pg_sql -c "SELECT count(*) FROM erc8004.action_results WHERE status = \$\$success\$\$")" -gt 0 ]; do
		sleep 0.01; i=$((i + 1)); [ $i -lt 3000 ] || return 1; done &&
	kill -KILL $p && { wait $p 2>/dev/null; true; } &&
	action-run --once --lease 1 --poll-interval 50 --backoff-ms 20 2>w4.log &&
	test "$(pg_sql -c "SELECT count(*) FROM erc8004.job_queue WHERE action_type = \$\$rest\$\$ AND status IN (\$\$pending\$\$, \$\$running\$\$, \$\$retry\$\$)")" = 0 &&
	test "$(pg_sql -c "SELECT count(*) FROM erc8004.job_queue q WHERE q.action_type = \$\$rest\$\$ AND q.status = \$\$done\$\$
		AND (SELECT count(*) FROM erc8004.action_results r WHERE r.job_id = q.id AND r.status = \$\$success\$\$) <> 1")" = 0
'

test_expect_success 'a reorg after execution: results invalidated, relayed jobs recalled from Redis' '
	for c in $(jq -r "select(.op == \"block\") | .chain" ops | sort -u); do
		h=$(pg_sql -c "SELECT block_hash FROM erc8004.events WHERE chain_id = $c ORDER BY block_number DESC LIMIT 1") &&
		pg_sql -c "UPDATE erc8004.events SET invalidated = true WHERE chain_id = $c AND block_hash = \$\$$h\$\$" >/dev/null || return 1
	done &&
	before=$(rcli llen action_jobs) &&
	apply &&
	pg_sql -c "SELECT count(*) FROM erc8004.job_queue WHERE status IN (\$\$cancelled\$\$, \$\$invalidated\$\$)" >reverted &&
	test "$(cat reverted)" -gt 0 &&
	test "$(pg_sql -c "SELECT count(*) FROM erc8004.job_queue q JOIN erc8004.jobs j USING (event_seq, action_id)
		WHERE q.status IN (\$\$cancelled\$\$, \$\$invalidated\$\$)")" = 0 &&
	test "$(pg_sql -c "SELECT count(*) FROM erc8004.action_results r JOIN erc8004.job_queue q ON q.id = r.job_id
		WHERE q.status = \$\$invalidated\$\$ AND r.status <> \$\$invalidated\$\$")" = 0 &&
	relay &&
	recalled=$(pg_sql -c "SELECT count(*) FROM erc8004.job_queue WHERE recalled_at IS NOT NULL") &&
	test "$(rcli llen action_jobs)" = "$((before - recalled))" &&
	pg_sql -c "SELECT id FROM erc8004.job_queue WHERE recalled_at IS NOT NULL" >gone &&
	rcli lrange action_jobs 0 -1 | jq -r .id >left &&
	! grep -F -x -f gone left
'

test_done
