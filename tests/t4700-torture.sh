#!/bin/bash
# t4700-torture -- faults while the pipeline runs live.  The chain (with
# reorgs) is written in sets of blocks by pg-produce; during each set, every
# 0.2-1 s, one random fault: kill -9 of a stage (most often), kill -9 of the
# supervisor (a new one adopts the run directory and must stop the orphans),
# a SIGSTOP stall of a stage with every stage's RSS and
# pg_notification_queue_usage() watched (asserted bounded), or every client
# backend terminated.  Between sets, in turn: everything down (supervisor and
# stages kill -9'd) while the next set's driver events are inserted and a
# CatchupVault is queued over the newest blocks that the next set's reorgs
# revert (served late); PostgreSQL restarted -m immediate mid-stream; a
# CatchupVault over a range holding reverted blocks, served at once (early).
# At the end, the same height is reorged again and again, each time right
# after a restart.  Each set ends with pl-verify clean; the run with the
# database's state equal to the offline replay of the chain, nothing
# quarantined, no permanent failure.
#
# `make check` runs a short version; `make torture` sets PL_TORTURE_CYCLES
# (faults) and PL_TORTURE_BLOCKS for the long one; the figures are printed
# as a TAP comment at the end (RELIABILITY.md).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
export PL_TEST_NO_SLEEP=1
CYCLES=${PL_TORTURE_CYCLES:-12}
BLOCKS=${PL_TORTURE_BLOCKS:-300}
PER_SET=${PL_TORTURE_PER_SET:-3}
SETS=$(((CYCLES + PER_SET - 1) / PER_SET))
[ $SETS -ge 4 ] || SETS=4
# A rate that keeps the producer writing through a set's faults (0.6 s each).
RATE=$(((BLOCKS / SETS) * 10 / (PER_SET * 6)))
[ $RATE -ge 20 ] || RATE=20
[ $RATE -le 150 ] || RATE=150
# Bounds asserted during the SIGSTOP stalls: every stage's RSS, the share of
# the NOTIFY queue in use.
MAX_RSS_KB=${PL_TORTURE_MAX_RSS_KB:-262144}
MAX_QUEUE=0.01

T=$TEST_DIR
count() { echo "$2" >>"$T/fig.$1"; }
figure() { if [ -f "$T/fig.$1" ]; then wc -l <"$T/fig.$1"; else echo 0; fi; }

supervisor() { cat "$T/sup.pid"; }
start_supervisor() {
	run-pipeline --run-dir "$T/run" --acks /dev/null >/dev/null 2>>"$T/sup.log" &
	echo $! >"$T/sup.pid"
	echo $! >>"$T/supervisors"
}
# stages: the pids of the current formation (children of the supervisor)
stages() {
	ps -o pid=,comm= --ppid "$(supervisor)" 2>/dev/null |
		awk '$2 ~ /^(pg-listen|block-fetch|ep-apply|pg-write|pg-snapshot)$/ { print $1 }'
}
alive() {
	local s
	s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $s in Z*) return 1 ;; esac
}
none_alive() {
	local p
	for p in "$@"; do alive "$p" && return 1; done
	return 0
}
# kill_everything: kill -9 of the supervisor, then of its stages: all down
kill_everything() {
	local s p
	s=$(stages)
	kill -KILL "$(supervisor)" 2>/dev/null
	for p in $s; do kill -KILL "$p" 2>/dev/null; done
	wait_until 30 none_alive "$(supervisor)" $s
}
stop_all() {
	local p
	[ -f "$T/prod.pid" ] && kill "$(cat "$T/prod.pid")" 2>/dev/null
	[ -f "$T/sup.pid" ] && kill -TERM "$(supervisor)" 2>/dev/null
	[ -f "$T/sup.pid" ] && wait_until 60 none_alive "$(supervisor)"
	# whatever a killed supervisor left (only processes of this test): also
	# a stage forked but not yet recorded in stages.pid when its supervisor
	# was killed, still a copy of run-pipeline blocked opening a FIFO
	for p in $(cat "$T/supervisors" 2>/dev/null) $(awk '{ print $1 }' "$T/run/stages.pid" 2>/dev/null) \
		$(ps -eo pid=,args= | awk -v r="--run-dir $T/run " 'index($0 " ", r) { print $1 }'); do
		ps -o args= -p "$p" 2>/dev/null | grep -qF -e "$T" -e "$BIN/" && kill -KILL "$p" 2>/dev/null
	done
	return 0
}
test_when_finished stop_all

# --- The faults.

kill_stage() {
	local st=(pg-listen block-fetch ep-apply pg-write) s p
	s=${st[RANDOM % 4]}
	p=$(pgrep -P "$(supervisor)" -x "$s" | head -n 1)
	[ -n "$p" ] && kill -KILL "$p" 2>/dev/null && count kill "$s"
	return 0
}
# kill -9 of the supervisor: its stages run on; a new supervisor must stop them
kill_supervisor() {
	local old
	old=$(stages)
	kill -KILL "$(supervisor)" 2>/dev/null
	wait_until 30 none_alive "$(supervisor)" || return 1
	start_supervisor
	count supkill "$(echo $old)"
	[ -z "$old" ] || count orphaned "$(echo $old)"
	[ -z "$old" ] || wait_until 60 none_alive $old || { echo "orphans of the killed supervisor still run: $old"; return 1; }
}
# SIGSTOP of a stage while the producer writes; watch RSS and the NOTIFY queue
stall() {
	local st=(pg-listen block-fetch ep-apply pg-write) s p i rss q n0 n
	s=${st[RANDOM % 4]}
	p=$(pgrep -P "$(supervisor)" -x "$s" | head -n 1)
	[ -n "$p" ] || return 0
	kill -STOP "$p" 2>/dev/null || return 0
	count stall "$s"
	n0=$(pg_sql -c "SELECT count(*) FROM driver_events")
	for ((i = 0; i < 30; i++)); do
		rss=$(ps -o rss= -p "$(stages | paste -sd, -)" 2>/dev/null | sort -n | tail -n 1 | tr -d " ")
		q=$(pg_sql -c "SELECT pg_notification_queue_usage()")
		echo "${rss:-0} $q" >>"$T/watch"
		n=$(pg_sql -c "SELECT count(*) FROM driver_events")
		[ $((n - n0)) -ge 40 ] && break
		sleep 0.1
	done
	kill -CONT "$p" 2>/dev/null
	awk -v r="$MAX_RSS_KB" -v q="$MAX_QUEUE" '$1 > r || $2 > q { print "unbounded while stalled: rss " $1 " kB, queue " $2; bad = 1 } END { exit bad }' "$T/watch"
}
# every backend of the pipeline (not the producer's: pg-produce, standing in for
# the Juno plugin, does not reconnect, and the set it writes must be whole)
terminate_backends() {
	pg_sql -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = \$\$client backend\$\$ AND application_name <> \$\$pg-produce\$\$" >/dev/null &&
		count term 1
}
pause() { sleep "0.$((RANDOM % 8 + 2))"; }
fault() {
	local r=$((RANDOM % 20))
	if [ $r -lt 14 ]; then kill_stage
	elif [ $r -lt 16 ]; then kill_supervisor
	elif [ $r -lt 18 ]; then stall
	else terminate_backends
	fi
}

# catchup SEQ_FROM_HEAD: a CatchupVault of a vault over the newest blocks
catchup() {
	local v s e
	v=$(pg_sql -c "SELECT address FROM \"VaultStates\" ORDER BY address LIMIT 1")
	[ -n "$v" ] || v=$(pg_sql -c "SELECT vault_address FROM events WHERE event_name = \$\$ContractDeployed\$\$ LIMIT 1")
	e=$(pg_sql -c "SELECT block_hash FROM starknet_blocks WHERE status <> \$\$REVERTED\$\$ ORDER BY block_number DESC LIMIT 1")
	s=$(pg_sql -c "SELECT block_hash FROM starknet_blocks WHERE status <> \$\$REVERTED\$\$ ORDER BY block_number DESC OFFSET $1 LIMIT 1")
	[ -n "$s" ] || s=$e
	pg_sql -c "INSERT INTO driver_events (sequence_index, type, start_block_hash, end_block_hash, vault_address)
		VALUES (nextval(\$\$driver_events_sequence\$\$), \$\$CatchupVault\$\$, \$\$$s\$\$, \$\$$e\$\$, \$\$$v\$\$)
		RETURNING sequence_index" >>"$T/catchups"
}

# caught_up: every driver event processed, the checkpoint at the last one
caught_up() {
	[ "$(pg_sql -c "SELECT (SELECT count(*) FROM driver_events WHERE NOT is_processed) = 0 AND
		(SELECT max(seq) FROM pl_checkpoint WHERE pipeline = \$\$pitchlake\$\$) = (SELECT max(sequence_index) FROM driver_events)" 2>/dev/null)" = t ]
}
# what the pipeline is doing when it does not catch up: the supervisor's
# last lines, the work items left, the checkpoint, this test's processes
stuck() {
	echo "# the supervisor's log (last 40 lines):"
	tail -n 40 "$T/sup.log"
	echo "# unprocessed work items, checkpoint:"
	pg_sql -c "SELECT sequence_index, type, block_number, block_hash FROM driver_events WHERE NOT is_processed ORDER BY sequence_index LIMIT 10" 2>&1
	pg_sql -c "SELECT pipeline, seq FROM pl_checkpoint" 2>&1
	pg_sql -c "SELECT count(*) FROM pl_quarantine" 2>&1
	echo "# this test's processes:"
	ps -eo pid=,ppid=,stat=,args= | grep -F -e "$T" -e "$BIN/" | grep -v grep
	return 1
}
verify() {
	pl-verify --pipeline pitchlake "$@" >"$T/verify" 2>&1 || { cat "$T/verify"; return 1; }
	grep -q "equals the replay" "$T/verify" && count verify 1
}
# the quick check of the last few blocks (pl-verify --since), then, every
# fifth set and at the last, the full one
verify_set() {
	local head
	head=$(pg_sql -c "SELECT max(block_number) FROM pl_journal_block WHERE pipeline = \$\$pitchlake\$\$")
	if [ -n "$head" ]; then
		pl-verify --pipeline pitchlake --since $((head > 8 ? head - 8 : 0)) >"$T/verify" 2>&1 || { cat "$T/verify"; return 1; }
		grep -q "equals the replay of the [0-9]* work items since block" "$T/verify" && count since 1 || return 1
	fi
	if [ $(($1 % 5)) = 0 ] || [ "$1" = "$SETS" ]; then verify; fi
}

test_expect_success "set up: a chain of $BLOCKS blocks with reorgs in $SETS sets, its offline replay" '
	pl-migrate >/dev/null &&
	chain-sim --seed 31 --blocks "$BLOCKS" --vaults 3 --lps 5 --buyers 4 --reorg-rate 40 --transfers >chain &&
	awk -v per=$(((BLOCKS + SETS - 1) / SETS)) -v sets=$SETS -v dir="$T" "
		/\"op\":\"begin\"/ && /\"type\":\"StartBlock\"/ { if (b++ % per == 0 && n < sets) n++ }
		{ print > (dir \"/set.\" n) }" chain &&
	test -s "$T/set.$SETS" &&
	start_supervisor
'

# Between the sets: one of three, in turn; then the next set's producer
# runs in the background (its pid in prod.pid), unless it ran already.
produce_next() {
	pg-produce --quiet --rate "$RATE" <"$T/set.$1" >/dev/null 2>>"$T/prod.log" &
	echo $! >"$T/prod.pid"
}
between() {
	local next=$(($1 + 1))
	case $(($1 % 3)) in
	1) # everything down while the next set is written, a CatchupVault queued before it
		kill_everything &&
			catchup 12 && count late 1 &&
			pg-produce --quiet <"$T/set.$next" >/dev/null &&
			count down 1 &&
			start_supervisor && { true & echo $! >"$T/prod.pid"; }
		;;
	2) # PostgreSQL restarted -m immediate while the pipeline runs
		terminate_backends && pause && pg_stop && pause && pg_start_again && count restart 1 && pause && kill_stage &&
			produce_next $next
		;;
	0) # a CatchupVault over blocks some of which are REVERTED, served at once
		catchup 30 && count early 1 && produce_next $next
		;;
	esac
}

test_expect_success "$CYCLES faults in $SETS sets; pl-verify clean after each set" '
	produce_next 1 &&
	set=1 i=0 &&
	while :; do
		j=0 &&
		while [ $j -lt $PER_SET ] && [ $i -lt $CYCLES ]; do pause && fault || exit 1; i=$((i + 1)) j=$((j + 1)); done &&
		wait "$(cat "$T/prod.pid")" &&
		{ wait_until 120 caught_up || stuck; } && verify_set $set || exit 1
		[ $set -lt $SETS ] || break
		between $set || exit 1
		set=$((set + 1))
	done &&
	echo $i >"$T/cycles" &&
	test "$(figure kill)" -gt 0
'

# The tail: the chain's last block reorged to a block at the same height,
# three times, each right after a restart of everything.
test_expect_success 'the same height reorged three times, each right after a restart' '
	awk "/\"op\":\"begin\"/ { n++; f[n] = \"\" } { f[n] = f[n] \$0 \"\\n\" } END { printf \"%s\", f[n] }" chain >last &&
	head -n 1 last | grep -q "\"type\":\"StartBlock\"" &&
	h=$(head -n 1 last | sed "s/.*\"block_hash\":\"\\(0x[0-9a-f]*\\)\".*/\\1/") &&
	seq=$(head -n 1 last | sed "s/.*\"seq\":\\([0-9]*\\).*/\\1/") &&
	cur=$h && : >tails &&
	for k in 1 2 3; do
		n=$(printf "0x5a5a%04x" $k) &&
		{ sed "s/$h/$cur/g; s/\"type\":\"StartBlock\"/\"type\":\"RevertBlock\"/" last && sed "s/$h/$n/g" last; } >tail.$k &&
		cat tail.$k >>tails &&
		kill_everything && start_supervisor &&
		pg-produce --quiet <tail.$k >/dev/null &&
		cur=$n && count rereorg 1 || exit 1
	done &&
	awk -v s="$seq" "/\"op\":\"begin\"/ { s++; sub(/\"driver_id\":[0-9]*,\"seq\":[0-9]*/, \"\\\"driver_id\\\":\" s \",\\\"seq\\\":\" s) }
		/\"op\":\"end\"/ { sub(/\"driver_id\":[0-9]*/, \"\\\"driver_id\\\":\" s) } { print }" tails >tails.renumbered &&
	cat chain tails.renumbered >chain.all &&
	{ wait_until 120 caught_up || stuck; } && verify
'

test_expect_success 'pl-verify is clean; the state equals the offline replay; nothing quarantined' '
	ep-apply --dump-state expect <chain.all >/dev/null &&
	verify &&
	pg-snapshot -o got &&
	grep "\"op\":\"put\"" expect >expect.rows && grep "\"op\":\"put\"" got >got.rows &&
	test_cmp expect.rows got.rows &&
	test "$(pg_sql -c "SELECT count(*) FROM pl_quarantine")" = 0 &&
	! grep -q "permanent failure" "$T/sup.log"
'

test_expect_success 'the killed supervisors were taken over (adopted), the CatchupVaults served' '
	test "$(figure orphaned)" -eq 0 || grep -q "adopting run directory" "$T/sup.log" &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE type = \$\$CatchupVault\$\$ AND NOT is_processed")" = 0 &&
	test "$(pg_sql -c "SELECT count(*) FROM driver_events WHERE type = \$\$CatchupVault\$\$")" -ge 1
'

# The figures (RELIABILITY.md).
reverted=$(pg_sql -c "SELECT count(*) FROM driver_events WHERE type = 'RevertBlock'" 2>/dev/null)
reorgs=$(pg_sql -c "SELECT count(*) FROM (SELECT type, lag(type) OVER (ORDER BY sequence_index, id) AS prev FROM driver_events) t WHERE type = 'RevertBlock' AND prev IS DISTINCT FROM 'RevertBlock'" 2>/dev/null)
rev_catchups=$(pg_sql -c "SELECT count(*) FROM driver_events c WHERE c.type = 'CatchupVault' AND EXISTS (SELECT 1 FROM driver_events r JOIN starknet_blocks b ON b.block_hash = r.block_hash JOIN starknet_blocks e ON e.block_hash = c.end_block_hash WHERE r.type = 'RevertBlock' AND b.block_number <= e.block_number AND b.block_number >= e.block_number - 30)" 2>/dev/null)
maxw=$(sort -n "$T/watch" 2>/dev/null | tail -n 1)
say "cycles $(cat "$T/cycles" 2>/dev/null) faults: kill -9 of stages $(figure kill) ($(sort "$T/fig.kill" 2>/dev/null | uniq -c | awk '{ printf "%s %s ", $2, $1 }')), of the supervisor $(figure supkill) (takeovers: $(grep -c 'adopting run directory' "$T/sup.log")), SIGSTOP stalls $(figure stall) (max stage RSS ${maxw%% *} kB, max NOTIFY queue usage $(awk '{ print $2 }' "$T/watch" 2>/dev/null | sort -g | tail -n 1)), backends terminated $(figure term)x; everything down while a set was written $(figure down)x; PostgreSQL restarts $(figure restart); formations started $(grep -c 'pipeline started' "$T/sup.log") (stall-watchdog restarts $(grep -c 'stalled:' "$T/sup.log"), waits for a lock left by a killed supervisor $(grep -c 'still holds' "$T/sup.log")); reorgs $reorgs ($reverted reverted blocks, applied and reverted), same-height re-reorgs after restarts $(figure rereorg); CatchupVaults early $(figure early), late $(figure late) ($rev_catchups over a range with reverted blocks); pl-verify clean $(figure verify)x, pl-verify --since clean $(figure since)x"

test_done
