#!/bin/bash
# t4950-install -- make install into a temporary PREFIX (and with DESTDIR),
# then the pipeline runs from the installed copy alone: pl-migrate finds the
# installed sql/, run-pipeline its stages and pipelines/, on a throwaway
# cluster, with the checkout out of PATH; the man pages are installed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1

P=$TEST_DIR/p
# Install what the build under test built (BIN), building nothing.
install_to() { make -s -C "$SRC" install-files B="$BIN" "$@" >install.log 2>&1 || { cat install.log; return 1; }; }

test_expect_success 'make install PREFIX=... installs programs, scripts, sql/ and man pages' '
	install_to PREFIX="$P" &&
	for p in ep-apply chain-sim pg-listen block-fetch pg-write pg-snapshot pg-produce \
		run-pipeline pl-stage pl-migrate pl-verify pl-skip demo demo-offline; do
		test -x "$P/bin/$p" || { echo "missing $P/bin/$p"; exit 1; }
	done &&
	test "$(ls "$P/share/pitchlake/sql" | wc -l)" -eq "$(ls "$SRC/sql" | wc -l)" &&
	test -r "$P/share/pitchlake/scripts/pipelines/pitchlake.conf" &&
	test -r "$P/share/pitchlake/scripts/pipelines/erc8004.sql" &&
	test -r "$P/share/pitchlake/scripts/erc8004-fetch.jq" &&
	for m in "$SRC"/man/*.1; do test -r "$P/share/man/man1/$(basename "$m")" || exit 1; done &&
	test -r "$P/share/man/man1/pg-write.1"
'

test_expect_success 'DESTDIR stages the same tree' '
	install_to PREFIX=/opt/pl DESTDIR="$TEST_DIR/stage" &&
	test -x "$TEST_DIR/stage/opt/pl/bin/run-pipeline" &&
	test -r "$TEST_DIR/stage/opt/pl/share/pitchlake/sql/001-producer.sql"
'

# Only the installed copy (and the system) in PATH; no BIN from the tests.
installed() { env -u BIN PATH="$P/bin:/usr/bin:/bin" "$@"; }

test_expect_success 'the installed scripts answer --version and --help from there' '
	installed run-pipeline --version | grep -q "^run-pipeline (pitchlake) " &&
	installed pl-migrate --help | grep -q "$P/share/pitchlake/scripts/../sql" &&
	installed pl-migrate --dry-run | grep -q "would apply 001-producer" &&
	cd /tmp && installed pl-stage --help >/dev/null
'

test_expect_success 'the pipeline runs from the installed copy: pl-migrate, run-pipeline --once' '
	installed pl-migrate >migrate.out && grep -q "applied 015-backend-payloads" migrate.out &&
	chain-sim --seed 4 --blocks 80 --vaults 2 >chain &&
	installed pg-produce --quiet <chain &&
	last=$(pg_sql -c "SELECT max(sequence_index) FROM driver_events") &&
	installed run-pipeline --run-dir run --acks acks --once 2>log &&
	grep -q "$P/bin/pg-write\|pipeline started" log &&
	test "$(pg_sql -c "SELECT seq FROM pl_checkpoint")" = "$last" &&
	ep-apply --dump-state expect <chain >/dev/null &&
	installed pg-snapshot -o got && test_cmp expect got &&
	{ installed pl-verify >verify.out 2>&1 || { cat verify.out; exit 1; }; } && grep -q "equals the replay" verify.out
'

test_expect_success 'the installed stages are the installed programs' '
	installed bash -c "top=$P/share/pitchlake; BIN=\$top/bin; . \$top/scripts/pl-pipeline.sh; pl_load_pipeline pitchlake \"\"; echo \${APPLY[0]}" >apply &&
	test "$(cat apply)" = "$P/share/pitchlake/bin/ep-apply" &&
	test "$(readlink -f "$(cat apply)")" = "$(readlink -f "$P/bin/ep-apply")"
'

test_done
