#!/bin/bash
# t3100-pg-snapshot -- the state snapshot written from the database after
# pg-write applied frames: golden output, byte-identical reruns, canonical
# (bytewise) order across cursor fetches, historic tables left out.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start

setup_db() {
	pg_sql -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public" 2>/dev/null &&
	if [ -x "$SRC/scripts/pl-migrate" ]; then
		pl-migrate >/dev/null
	else
		for f in "$SRC"/sql/*.sql; do pg_sql -1 -f "$f" 2>/dev/null || return 1; done
	fi
}

test_expect_success 'setup: an empty schema has an empty snapshot' '
	setup_db &&
	pg-snapshot >snap && test ! -s snap
'

test_expect_success 'pg-write applies the frames' '
	cat "$DATA/pg-write-frames.ndjson" "$DATA/pg-write-frames2.ndjson" "$DATA/pg-snapshot-frames.ndjson" |
		pg-write --no-work-table >acks &&
	test $(wc -l <acks) = 8
'

test_expect_success 'the snapshot equals the golden file' '
	pg-snapshot >snap1 &&
	test_cmp "$DATA/pg-snapshot-expected.ndjson" snap1
'

test_expect_success 'a second run is byte-identical; -o FILE writes the same bytes' '
	pg-snapshot >snap2 && cmp snap1 snap2 &&
	pg-snapshot -o snap3 && cmp snap1 snap3 && test ! -e snap3.tmp
'

test_expect_success 'historic tables are left out, but pg-write did write them' '
	! grep -q "\"op\":\"put\",\"table\":\"Vault_Historic\"" snap1 &&
	pg_sql -c "SELECT address, block_number FROM \"Vault_Historic\"" >got &&
	echo "0xv1|107" >expect && test_cmp expect got
'

test_expect_success 'rows come in bytewise key order across many cursor fetches' '
	pg_sql -c "INSERT INTO \"Bids\" SELECT '\''0xb'\'', '\''0xr5'\'', '\''0x'\'' || to_hex(i), i, i, 1 FROM generate_series(1, 4321) i" &&
	pg-snapshot >big &&
	grep -c "\"table\":\"Bids\",\"key\":{\"round_address\":\"0xr5\"" big >n && echo 4321 >expect && test_cmp expect n &&
	grep -o "\"round_address\":\"0xr5\",\"bid_id\":\"[^\"]*\"" big | sed -n "1~1p" >keys &&
	LC_ALL=C sort keys >sorted && test_cmp sorted keys &&
	grep -n "\"op\":\"put\",\"table\":\"Option_Buyers\"" big | cut -d: -f1 >line &&
	test $(cat line) = $((4321 + 5))
'

test_expect_success 'a registered table that does not exist: exit 78' '
	pg_sql -c "INSERT INTO pl_state_tables (table_name, pipeline) VALUES ('\''No_Such_Table'\'', '\''pitchlake'\'')" &&
	test_must_fail --code 78 pg-snapshot >/dev/null 2>err &&
	grep -q "table \"No_Such_Table\" does not exist" err &&
	pg_sql -c "DELETE FROM pl_state_tables WHERE table_name = '\''No_Such_Table'\''"
'

test_expect_success '--help and usage errors' '
	pg-snapshot --help >help && grep -q "^  78" help &&
	test_must_fail --code 64 pg-snapshot --bogus 2>/dev/null &&
	test_must_fail --code 64 pg-snapshot extra 2>/dev/null
'

test_done
