#!/bin/bash
# t3050-pg-write-copy -- the COPY staging of large catch-up batches
# (docs/pg-write.md "COPY staging"): a table with at least PL_PGW_COPY_MIN
# rows to put in a transaction of several frames is COPYed into a temporary
# staging table and merged with the put's own ON CONFLICT clause.  It must
# leave the same state and journal, and fire the same row triggers with the
# same images in the same order, as the unnest statements; a batch whose
# COPY or merge fails is re-run frame by frame and the right frame
# quarantined.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start

# The schema, and a log of every row trigger event on the state tables: what
# the NOTIFY triggers and the projections see (table, operation, image).
setup_db() {
	pg_sql -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public" 2>/dev/null &&
	pl-migrate >/dev/null &&
	pg_sql <<-'SQL'
	CREATE TABLE t3050_log (id bigserial PRIMARY KEY, tbl text, op text, img text);
	CREATE FUNCTION t3050_log() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN
	  INSERT INTO t3050_log (tbl, op, img) VALUES (TG_TABLE_NAME, TG_OP,
	    CASE WHEN TG_OP = 'DELETE' THEN row_to_json(OLD)::text ELSE row_to_json(NEW)::text END);
	  RETURN NULL; END$$;
	DO $$DECLARE t text; BEGIN
	  FOR t IN SELECT table_name FROM pl_state_tables WHERE pipeline = 'pitchlake' LOOP
	    EXECUTE format('CREATE TRIGGER t3050_log AFTER INSERT OR UPDATE OR DELETE ON %I
	      FOR EACH ROW EXECUTE FUNCTION t3050_log()', t);
	  END LOOP; END$$;
	SQL
}

# The database's state (pg-snapshot: state tables, journal, checkpoint) and
# the trigger log in order, into $1.state and $1.log.
dump() {
	pg-snapshot -o "$1.state" &&
	pg_sql -c "SELECT tbl, op, img FROM t3050_log ORDER BY id" >"$1.log"
}

test_expect_success 'set up: deltas of a generated chain (reorgs, transfers, journal)' '
	chain-sim --seed 7 --blocks 600 --vaults 3 --lps 10 --buyers 6 --reorg-rate 30 --transfers >chain &&
	grep -q "\"type\":\"RevertBlock\"" chain &&
	ep-apply --finality 20 <chain >deltas &&
	test "$(grep -c "\"op\":\"begin\"" deltas)" -gt 500
'

test_expect_success 'unnest only (PL_PGW_COPY_MIN=0): the reference' '
	setup_db &&
	PL_PGW_COPY_MIN=0 pg-write --no-work-table <deltas >acks.ref &&
	dump ref &&
	test -s ref.log
'

test_expect_success 'COPY staging for every table of every batch: same state, journal, trigger events' '
	setup_db &&
	PL_PGW_COPY_MIN=1 pg-write --no-work-table <deltas >acks &&
	test_cmp acks.ref acks &&
	dump copy1 &&
	test_cmp ref.state copy1.state &&
	test_cmp ref.log copy1.log
'

test_expect_success 'the default threshold: same again' '
	setup_db &&
	pg-write --no-work-table <deltas >acks &&
	test_cmp acks.ref acks &&
	dump dflt &&
	test_cmp ref.state dflt.state &&
	test_cmp ref.log dflt.log
'

# (They exist only once a batch was COPYed: pg_class shows them.)
test_expect_success 'the staging tables exist in the writer session' '
	setup_db &&
	mkfifo in &&
	{ PL_PGW_COPY_MIN=1 pg-write --no-work-table <in >acks & } &&
	exec 7>in &&
	cat deltas >&7 &&
	n=$(wc -l <acks.ref) && i=0 &&
	while [ "$(wc -l <acks)" -lt "$n" ]; do
		[ $i -lt 1200 ] || { echo "pg-write did not ack everything"; exit 1; }
		sleep 0.05; i=$((i + 1))
	done &&
	pg_sql -c "SELECT count(*) > 0 FROM pg_class WHERE relname LIKE \$\$pgw_stage_%\$\$ AND relpersistence = \$\$t\$\$" >got &&
	exec 7>&- &&
	wait &&
	echo t >expect && test_cmp expect got &&
	test_cmp acks.ref acks &&
	dump fifo && test_cmp ref.state fifo.state
'

# The first frame after the 100th with Liquidity_Providers_Historic puts: each
# of them gets a balance of 80 digits (10^79: a decimal, so pg-write passes it
# on; numeric(78,0) refuses it on the server, in the COPY).  Every such row is
# the final image of its key in the batch (the key holds the block number).
test_expect_success 'a value the server refuses in the COPY: the batch is split, the right frame quarantined' '
	setup_db &&
	awk "/\"op\":\"begin\"/ { f++ } f > 100 && (!done || done == f) && /\"op\":\"put\",\"table\":\"Liquidity_Providers_Historic\"/ {
		sub(/\"stashed_balance\":\"[0-9]*\"/, \"\\\"stashed_balance\\\":\\\"\" sprintf(\"1%079d\", 0) \"\\\"\"); done = f }
		{ print } END { print done > \"bad.frame\" }" deltas >bad &&
	k=$(cat bad.frame) && test "$k" -gt 100 &&
	! cmp -s deltas bad &&
	test_must_fail --code 65 env PL_PGW_COPY_MIN=1 pg-write --no-work-table <bad >out 2>err &&
	grep "numeric field overflow" err &&
	test "$(wc -l <out)" = $((k - 1)) &&
	head -n $((k - 1)) acks.ref >expect && test_cmp expect out &&
	want=$(grep "\"op\":\"begin\"" deltas | sed -n "${k}p" | jq .driver_id) &&
	pg_sql -c "SELECT driver_id, program, kind FROM pl_quarantine" >got &&
	echo "$want|pg-write|invariant" >expect && test_cmp expect got
'

# A batch of final frames (a backlog) waits a moment for more input
# (docs/pg-write.md); with none coming it still commits and acks.
test_expect_success 'final frames on a pipe that stays open: committed and acked without more input' '
	setup_db &&
	rm -f in && mkfifo in &&
	{ PL_PGW_BACKLOG_WAIT_MS=20 pg-write --no-work-table <in >acks2 & } &&
	exec 7>in &&
	sed "s/\"type\":\"StartBlock\",/\"type\":\"StartBlock\",\"final\":true,/" "$DATA/pg-write-frames.ndjson" >final &&
	grep -q "\"final\":true" final &&
	cat final >&7 &&
	n=$(grep -c "\"op\":\"begin\"" final) && i=0 &&
	while [ "$(wc -l <acks2)" -lt "$n" ]; do
		[ $i -lt 1200 ] || { echo "pg-write did not ack the final frames"; exit 1; }
		sleep 0.05; i=$((i + 1))
	done &&
	pg_sql -c "SELECT count(*) FROM pl_journal" >got &&
	exec 7>&- &&
	wait &&
	echo 0 >expect && test_cmp expect got
'

test_done
