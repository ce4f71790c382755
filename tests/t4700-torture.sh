#!/bin/bash
# t4700-torture -- faults while the pipeline runs live: random kill -9 of
# every stage while the producer writes a chain with reorgs, backends
# terminated, PostgreSQL restarted -m immediate while the pipeline catches
# up.  Whatever happens, the run ends with pl-verify clean and the database
# equal to the offline replay.  `make check` runs a short version;
# `make torture` sets PL_TORTURE_CYCLES (and a longer chain) for the long one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1
CYCLES=${PL_TORTURE_CYCLES:-12}
BLOCKS=${PL_TORTURE_BLOCKS:-300}

last_seq() { grep '"op":"begin"' "$1" | tail -n 1 | sed 's/.*"seq":\([0-9]*\).*/\1/'; }
supervisor() { cat "$TEST_DIR/sup.pid"; }
stop_all() {
	[ -f "$TEST_DIR/sup.pid" ] && kill -TERM "$(supervisor)" 2>/dev/null
	[ -f "$TEST_DIR/sup.pid" ] && while kill -0 "$(supervisor)" 2>/dev/null; do sleep 0.1; done
	[ -f "$TEST_DIR/prod.pid" ] && kill "$(cat "$TEST_DIR/prod.pid")" 2>/dev/null
	return 0
}
test_when_finished stop_all

# kill_random: kill -9 one stage of the formation, if one is running
kill_random() {
	local stages=(pg-listen block-fetch ep-apply pg-write) s p
	s=${stages[RANDOM % 4]}
	p=$(pgrep -P "$(supervisor)" -x "$s" | head -n 1)
	[ -n "$p" ] && kill -KILL "$p" 2>/dev/null && echo "$s" >>"$TEST_DIR/kills"
	return 0
}
pause() { sleep "0.$((RANDOM % 8 + 2))"; }

test_expect_success "set up: a chain of $BLOCKS blocks with reorgs, its offline replay" '
	pl-migrate >/dev/null &&
	chain-sim --seed 31 --blocks "$BLOCKS" --vaults 3 --lps 5 --buyers 4 --reorg-rate 40 --transfers >chain &&
	ep-apply --dump-state expect <chain >/dev/null &&
	{ run-pipeline --run-dir "$TEST_DIR/run" --acks /dev/null >/dev/null 2>>"$TEST_DIR/sup.log" & } &&
	echo $! >"$TEST_DIR/sup.pid"
'

test_expect_success "$CYCLES random kill -9 of stages while the producer writes live" '
	{ pg-produce --quiet --rate 150 <chain >/dev/null 2>"$TEST_DIR/prod.log" & echo $! >"$TEST_DIR/prod.pid"; } &&
	i=0 && while [ $i -lt "$CYCLES" ]; do pause; kill_random; i=$((i + 1)); done &&
	wait "$(cat "$TEST_DIR/prod.pid")" &&
	test -s "$TEST_DIR/kills"
'

test_expect_success 'backends terminated and PostgreSQL restarted -m immediate while catching up' '
	pg_sql -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = \$\$client backend\$\$" >/dev/null &&
	pause && pg_stop && pause && pg_start_again &&
	pause && kill_random &&
	pg_wait_checkpoint "$(last_seq chain)"
'

test_expect_success 'pl-verify is clean and the database equals the offline replay' '
	pl-verify --pipeline pitchlake >verify &&
	grep -q "equals the replay" verify &&
	pg-snapshot -o got && test_cmp expect got &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_quarantine")" = 0 &&
	! grep -q "permanent failure" "$TEST_DIR/sup.log"
'

# The figures (RELIABILITY.md): kill -9s per stage, formations started.
say "kill -9: $(sort "$TEST_DIR/kills" 2>/dev/null | uniq -c | awk "{printf \"%s %s, \", \$2, \$1}")formations started: $(grep -c "pipeline started" "$TEST_DIR/sup.log"), reorgs: $(grep -c "\"type\":\"RevertBlock\"" "$TEST_DIR/chain" 2>/dev/null || echo 0) reverted blocks, database restarts: 1"

test_done
