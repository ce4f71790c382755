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

# A character device like /dev/full: our own node when we may make one (so
# that a regression cannot replace the real one), else /dev/full itself
# when /dev is not ours to write (then it cannot be replaced either).
chardev() {
	if mknod "$1" c 1 7 2>/dev/null; then echo "$1"
	elif test ! -w /dev; then echo /dev/full
	fi
}

test_expect_success '-o refuses a device, a FIFO, a directory, a symbolic link (78), untouched' '
	mkfifo fifo && mkdir dir && echo old >real && ln -s real link &&
	dev=$(chardev full) &&
	for t in $dev fifo dir link; do
		test_must_fail --code 78 pg-snapshot -o $t >out 2>err &&
		test ! -s out &&
		grep -q "^pg-snapshot: fatal: unable to write the snapshot: .$t. is a .*, not a regular file" err || exit 1
	done &&
	{ test -z "$dev" || test -c $dev; } && test -p fifo && test -d dir && test -h link &&
	echo old >expect && test_cmp expect real &&
	ls -a dir >got && printf "%s\n" . .. >expect && test_cmp expect got
'

test_expect_success '-o: the target is checked before connecting' '
	mkfifo fifo2 &&
	test_must_fail --code 78 pg-snapshot --conninfo "host=$TEST_DIR/nowhere port=1" -o fifo2 2>err &&
	grep -q "fifo2. is a FIFO" err &&
	test_must_fail --code 78 pg-snapshot --conninfo "host=$TEST_DIR/nowhere port=1" -o nodir/snap 2>err &&
	grep -q "unable to use directory .nodir." err
'

test_expect_success '-o replaces a regular file: O_EXCL temporary file, fsync, rename, fsync of the directory' '
	mkdir out.d && echo old >out.d/snap &&
	pg-snapshot -o out.d/snap && cmp snap1 out.d/snap &&
	ls -a out.d >got && printf "%s\n" . .. snap >expect && test_cmp expect got &&
	if ! command -v strace >/dev/null || ! strace -o /dev/null true 2>/dev/null; then
		say "no usable strace: syscalls not checked"; exit 0
	fi
	strace -o tr -e trace=openat,fsync,rename pg-snapshot -o out.d/snap &&
	grep -q "^openat(AT_FDCWD, \"out\.d/\.snap\.tmp[0-9]*-[0-9]*\", O_WRONLY|O_CREAT|O_EXCL" tr &&
	sed -n "/\.snap\.tmp/,\$p" tr | grep -v "^+++" | sed "s/(.*//" >got &&
	printf "%s\n" openat fsync rename openat fsync >expect && test_cmp expect got &&
	grep -q "^openat(AT_FDCWD, \"out\.d\", O_RDONLY|O_CLOEXEC|O_DIRECTORY" tr &&
	cmp snap1 out.d/snap
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

test_expect_success '-o: a failed write (file too large) exits 75, removes the temporary file, keeps the old one' '
	mkdir big.d && echo old >big.d/snap &&
	test $(wc -c <big) -gt 65536 &&
	{ (trap "" XFSZ && ulimit -f 64 && exec pg-snapshot -o big.d/snap 2>err); rc=$?; } &&
	test $rc = 75 &&
	grep -q "unable to write the snapshot: File too large" err &&
	echo old >expect && test_cmp expect big.d/snap &&
	ls -a big.d >got && printf "%s\n" . .. snap >expect && test_cmp expect got
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
