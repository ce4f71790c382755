#!/bin/bash
# t2100-pg-listen -- pg-listen against a real cluster: backlog order, --once,
# --after-seq, --until-seq, live NOTIFY wake-ups, polling, reconnection after
# pg_terminate_backend with nothing lost or repeated, exit codes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
pl-migrate >/dev/null || { echo "Bail out! pl-migrate failed"; exit 1; }

TS="2025-09-15 10:11:12.345678+00"

# add_event SEQ TYPE [BLOCK_HASH]: insert one unprocessed driver event.
add_event() {
	local h=NULL
	[ -z "${3:-}" ] || h="'$3'"
	pg_sql -c "INSERT INTO driver_events (sequence_index, type, timestamp, block_hash)
		VALUES ($1, '$2', '$TS', $h)"
}

# wait_lines FILE N: wait (up to 20 s) until FILE has at least N lines.
wait_lines() {
	local i=0
	while [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -lt "$2" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "timed out waiting for $2 lines in $1" >&2; return 1; }
		sleep 0.1
	done
}

# wait_sql SQL: until the query prints t (up to 30 s)
wait_sql() {
	local i=0
	until [ "$(pg_sql -c "$1" 2>/dev/null)" = t ]; do
		i=$((i + 1))
		[ $i -lt 300 ] || { echo "timed out waiting for: $1" >&2; return 1; }
		sleep 0.1
	done
}
# the listener connected, did its catch-up and waits (its backend idle)
LISTENER_IDLE="SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'pg-listen' AND state = 'idle'"

listener_pids() {
	pg_sql -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pg-listen'"
}

test_expect_success 'pg-listen --help lists options and exit codes' '
	pg-listen --help >out &&
	grep -q "^usage: pg-listen" out &&
	grep -q -- "--until-seq" out &&
	grep -q "exit codes: 0 done" out &&
	test_must_fail --code 64 pg-listen --bogus 2>err &&
	test_must_fail --code 64 pg-listen --poll-interval x 2>err
'

test_expect_success 'bad conninfo is a configuration error (78)' '
	test_must_fail --code 78 pg-listen --once --conninfo "bogus=1" 2>err &&
	grep -q "^pg-listen: fatal: unable to connect to the database" err
'

test_expect_success 'unreachable server: exit 69 after --connect-timeout' '
	start=$(date +%s) &&
	test_must_fail --code 69 pg-listen --once --connect-timeout 1 \
		--conninfo "host=$TEST_DIR/nowhere port=1" 2>err &&
	test $(( $(date +%s) - start )) -le 5 &&
	grep -q "unable to connect" err
'

test_expect_success 'schema not migrated: exit 78' '
	pg_sql -c "CREATE DATABASE empty" &&
	test_must_fail --code 78 pg-listen --once --conninfo "dbname=empty" 2>err &&
	grep -q "pl-migrate" err
'

test_expect_success 'empty table: --once prints nothing and exits 0' '
	pg-listen --once >out &&
	test_must_be_empty() { ! test -s "$1"; } &&
	test_must_be_empty out
'

test_expect_success 'backlog is drained in (sequence_index, id) order, processed rows skipped; each line names the item before it' '
	add_event 3 StartBlock 0x3 &&         # id 1
	add_event 1 StartBlock 0x1 &&         # id 2
	add_event 2 RevertBlock 0x2 &&        # id 3
	add_event 2 StartBlock 0x22 &&        # id 4
	add_event 4 StartBlock 0x4 &&         # id 5
	pg_sql -c "UPDATE driver_events SET is_processed = true WHERE id = 5" &&
	pg_sql -c "INSERT INTO driver_events (sequence_index, type, timestamp, vault_address,
		start_block_hash, end_block_hash) VALUES (5, \$\$CatchupVault\$\$, \$\$$TS\$\$, \$\$0x50aa\$\$, \$\$0x1\$\$, \$\$0x4\$\$)" &&
	pg-listen --once >out &&
	cat >expect <<-EOT &&
	{"id":2,"sequence_index":1,"type":"StartBlock","timestamp":"2025-09-15T10:11:12.345678+00:00","is_processed":false,"block_hash":"0x1","start_block_hash":null,"end_block_hash":null,"vault_address":null,"pl_prev":null}
	{"id":3,"sequence_index":2,"type":"RevertBlock","timestamp":"2025-09-15T10:11:12.345678+00:00","is_processed":false,"block_hash":"0x2","start_block_hash":null,"end_block_hash":null,"vault_address":null,"pl_prev":{"driver_id":2,"seq":1}}
	{"id":4,"sequence_index":2,"type":"StartBlock","timestamp":"2025-09-15T10:11:12.345678+00:00","is_processed":false,"block_hash":"0x22","start_block_hash":null,"end_block_hash":null,"vault_address":null,"pl_prev":{"driver_id":3,"seq":2}}
	{"id":1,"sequence_index":3,"type":"StartBlock","timestamp":"2025-09-15T10:11:12.345678+00:00","is_processed":false,"block_hash":"0x3","start_block_hash":null,"end_block_hash":null,"vault_address":null,"pl_prev":{"driver_id":4,"seq":2}}
	{"id":6,"sequence_index":5,"type":"CatchupVault","timestamp":"2025-09-15T10:11:12.345678+00:00","is_processed":false,"block_hash":null,"start_block_hash":"0x1","end_block_hash":"0x4","vault_address":"0x50aa","pl_prev":{"driver_id":5,"seq":4}}
	EOT
	test_cmp expect out
'

test_expect_success 'lines carry the trigger payload (same keys, values and order), then pl_prev' '
	printf "LISTEN driver_events;\nINSERT INTO driver_events (sequence_index, type, block_hash) VALUES (6, \$\$StartBlock\$\$, \$\$0x6\$\$);\nSELECT 1;\n" |
		psql -X -q -At 2>&1 | sed -n "s/^Asynchronous notification \"driver_events\" with payload \"\(.*\)\" received.*/\1/p" >payload &&
	jq -c . payload >expect &&
	pg-listen --once --after-seq 5 >out &&
	jq -c "del(.pl_prev)" out >got &&
	test_cmp expect got &&
	test_json out ".pl_prev == {\"driver_id\": 6, \"seq\": 5}"
'

test_expect_success '--after-seq starts after that sequence_index' '
	pg-listen --once --after-seq 2 >out &&
	test "$(jq -r .sequence_index out | tr "\n" " ")" = "3 5 6 "
'

test_expect_success '--until-seq stops after the first item at or past N' '
	pg-listen --until-seq 2 >out &&
	test "$(jq -r .id out | tr "\n" " ")" = "2 3 "
'

test_expect_success 'more than one batch (1000 rows) is drained in order' '
	pg_sql -c "INSERT INTO driver_events (sequence_index, type, block_hash)
		SELECT 100 + g, \$\$StartBlock\$\$, \$\$0x\$\$ || to_hex(g) FROM generate_series(1, 2500) g" &&
	pg-listen --once >out &&
	test "$(wc -l <out)" -eq 2506 &&
	jq -r "[.sequence_index, .id] | @tsv" out >keys &&
	sort -k1,1n -k2,2n keys >sorted &&
	test_cmp sorted keys &&
	test "$(sort -u keys | wc -l)" -eq 2506 &&
	pg_sql -c "UPDATE driver_events SET is_processed = true"
'

test_expect_success 'live: a NOTIFY wakes the listener (timer far away)' '
	timeout 30 pg-listen --poll-interval 600000 --until-seq 3003 >live 2>err &
	pid=$! &&
	wait_sql "$LISTENER_IDLE" &&
	add_event 3001 StartBlock 0xa1 &&
	wait_lines live 1 &&
	add_event 3002 StartBlock 0xa2 &&
	add_event 3003 StartBlock 0xa3 &&
	wait $pid &&
	test "$(jq -r .sequence_index live | tr "\n" " ")" = "3001 3002 3003 "
'

test_expect_success 'live: rows inserted without NOTIFY are found by the poll timer' '
	timeout 30 pg-listen --poll-interval 100 --after-seq 3003 --until-seq 3005 >live 2>err &
	pid=$! &&
	pg_sql -c "ALTER TABLE driver_events DISABLE TRIGGER driver_event_notify_trigger" &&
	add_event 3004 StartBlock 0xb1 &&
	add_event 3005 StartBlock 0xb2 &&
	pg_sql -c "ALTER TABLE driver_events ENABLE TRIGGER driver_event_notify_trigger" &&
	wait $pid &&
	test "$(jq -r .sequence_index live | tr "\n" " ")" = "3004 3005 "
'

test_expect_success 'reconnects after pg_terminate_backend; every event once, in order' '
	PL_TEST_NO_SLEEP=1 timeout 60 pg-listen --poll-interval 200 --after-seq 3005 --until-seq 4040 >live 2>err &
	pid=$! &&
	for i in $(seq 4001 4010); do add_event $i StartBlock 0x$i || return 1; done &&
	wait_lines live 10 &&
	for i in $(seq 4011 4040); do
		add_event $i StartBlock 0x$i || return 1
		if [ $((i % 5)) -eq 0 ]; then
			pg_sql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE application_name = \$\$pg-listen\$\$" >/dev/null || return 1
		fi
	done &&
	wait $pid &&
	grep -q "reconnected (reconnects: [1-9]" err &&
	pg-listen --once --after-seq 3005 >expect &&
	test "$(wc -l <expect)" -eq 40 &&
	test_cmp expect live
'

test_expect_success 'reconnects when the server restarts; nothing lost' '
	PL_TEST_NO_SLEEP=1 timeout 60 pg-listen --poll-interval 200 --after-seq 4040 --until-seq 5003 >live 2>err &
	pid=$! &&
	add_event 5001 StartBlock 0xc1 &&
	wait_lines live 1 &&
	_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast restart -w >/dev/null &&
	add_event 5002 StartBlock 0xc2 &&
	add_event 5003 StartBlock 0xc3 &&
	wait $pid &&
	test "$(jq -r .sequence_index live | tr "\n" " ")" = "5001 5002 5003 " &&
	grep -q "reconnected" err
'

test_expect_success 'an idle listener survives heartbeats and still wakes up' '
	timeout 30 pg-listen --heartbeat 1 --poll-interval 600000 --after-seq 5003 --until-seq 5004 >live 2>err &
	pid=$! &&
	wait_sql "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = \$\$pg-listen\$\$ AND query LIKE \$\$%pg_listening_channels%\$\$" &&
	add_event 5004 StartBlock 0xd1 &&
	wait $pid &&
	test "$(jq -r .sequence_index live)" = 5004 &&
	! grep -q reconnect err
'

test_expect_success 'SIGTERM: exit 0' '
	timeout 30 pg-listen --after-seq 99999 >live 2>err &
	pid=$! &&
	wait_sql "$LISTENER_IDLE" &&
	kill -TERM $pid &&
	wait $pid
'

test_expect_success 'SIGINT while idle in the timer wait: exit 0' '
	timeout 30 pg-listen --poll-interval 600000 --after-seq 99999 >live 2>err &
	pid=$! &&
	wait_sql "$LISTENER_IDLE" &&
	kill -INT $pid &&
	wait $pid
'

test_expect_success 'a vanished reader ends pg-listen quietly (SIGPIPE)' '
	pg-listen --once | head -n 1 >out &&
	test "$(wc -l <out)" -eq 1
'

test_expect_success 'a reader that falls behind: the socket is still drained, and every event arrives once' '
	mkfifo behind.fifo || return 1
	{ while [ ! -e reader.go ]; do sleep 0.1; done; cat; } <behind.fifo >got 2>/dev/null &
	reader=$!
	test_when_finished "touch reader.go"
	timeout 60 pg-listen --poll-interval 60000 --after-seq 9000 --until-seq 12000 >behind.fifo 2>err &
	pid=$! &&
	for b in 0 1 2; do
		pg_sql -c "INSERT INTO driver_events (sequence_index, type, block_hash)
			SELECT 9000 + $b * 1000 + g, \$\$StartBlock\$\$, \$\$0x\$\$ || to_hex(g) FROM generate_series(1, 1000) g" || return 1
	done &&
	# every notification read off the queue by the backend of the listener
	wait_sql "SELECT pg_notification_queue_usage() = 0" &&
	# Still blocked on stdout, pg-listen keeps reading its socket: its backend
	# must not be stuck sending notifications (ClientWrite), which would hold
	# back the shared notification queue.
	pg_sql -c "SELECT coalesce(wait_event, \$\$none\$\$) FROM pg_stat_activity
		WHERE application_name = \$\$pg-listen\$\$" >wait_event &&
	cat wait_event && ! grep -q ClientWrite wait_event && test -s wait_event &&
	touch reader.go &&
	wait $pid && wait $reader &&
	test "$(wc -l <got)" -eq 3000 &&
	jq -r .sequence_index got >seqs && seq 9001 12000 >want && test_cmp want seqs
'

test_done
