#!/bin/bash
# t4830-status -- pl-status under the supervisor, asked with a real HTTP
# client (curl) on a free port: /health, /ready, /status and /metrics of a
# running pipeline, a stalled stage (SIGSTOP) and a stage that is gone, the
# Prometheus text format, the progress display (log lines when stderr is not
# a terminal, the rewritten line on a terminal under script(1)) and where
# the acks go.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
command -v curl >/dev/null || skip_all 'no curl'
pg_start
export PL_TEST_NO_SLEEP=1

# get PATH [FILE]: the body of http://127.0.0.1:PORT/PATH into FILE (default
# out); prints the HTTP status code.
get() {
	curl -s -o "${2:-out}" -w '%{http_code}' "http://127.0.0.1:$(cat "$TEST_DIR/run/http.port")$1"
}
# until_get PATH CODE [JQ]: until PATH answers CODE (and its JSON satisfies
# JQ), 60 s at most; the body stays in out.
until_get() {
	local i
	for ((i = 0; i < 600; i++)); do
		if [ "$(get "$1")" = "$2" ] && { [ -z "${3:-}" ] || jq -e "$3" out >/dev/null 2>&1; }; then
			return 0
		fi
		sleep 0.1
	done
	echo "gave up waiting for $1 to answer $2 ${3:-}: $(cat out)" >&2
	return 1
}
# stage_pid NAME: its pid, from the supervisor's stages.pid
stage_pid() { awk -v n="$1" '$3 == n { print $1 }' "$TEST_DIR/run/stages.pid" | tail -n 1; }

# metric NAME [LABELS]: the value of one sample of the last /metrics answer
metric() {
	awk -v n="$1" -v l="${2:-}" '$1 ~ "^" n "[{]" && index($1, l) { print $2 }' metrics
}

# The Prometheus text exposition format (0.0.4), checked by hand: every
# sample belongs to a family with one HELP and one TYPE line before it,
# names and label names are valid, label values quoted, values numbers,
# histogram buckets cumulative with le ascending and +Inf equal to _count.
prom_check() {
	perl -e '
		my (%help, %type, %seen, %bucket, %count, $bad);
		sub bad { print STDERR "line $.: $_[0]\n"; $bad = 1 }
		while (<>) {
			chomp;
			if (/^# HELP (\S+) (.+)$/) { bad("second HELP for $1") if $help{$1}++; next }
			if (/^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/) {
				bad("second TYPE for $1") if $type{$1}; $type{$1} = $2;
				bad("TYPE for $1 after its samples") if $seen{$1}; next }
			if (/^#/) { bad("bad comment: $_"); next }
			my ($name, $labels, $value) = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/
				or do { bad("bad sample: $_"); next };
			bad("bad value $value") unless $value =~ /^(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|[-+]Inf|NaN)$/;
			my %l;
			if ($labels) {
				my $s = substr($labels, 1, -1);
				while ($s =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?//) { bad("label $1 twice") if exists $l{$1}; $l{$1} = $2 }
				bad("bad labels $labels") if length $s;
			}
			(my $fam = $name) =~ s/_(bucket|sum|count)$//;
			$fam = $name unless ($type{$fam} // "") eq "histogram";
			bad("sample $name without TYPE") unless $type{$fam};
			bad("sample $name without HELP") unless $help{$fam};
			$seen{$fam} = 1;
			if ($name =~ /_bucket$/ && $type{$fam} eq "histogram") {
				my $le = delete $l{le}; defined $le or bad("bucket without le");
				my $key = $fam . join(",", map { "$_=$l{$_}" } sort keys %l);
				my $prev = $bucket{$key};
				if ($prev) {
					bad("le not ascending at $le") unless $le eq "+Inf" or $prev->[0] ne "+Inf" && $le > $prev->[0];
					bad("bucket not cumulative at le=$le") if $value < $prev->[1];
				}
				$bucket{$key} = [$le, $value];
			} elsif ($name =~ /_count$/ && $type{$fam} eq "histogram") {
				my $key = $fam . join(",", map { "$_=$l{$_}" } sort keys %l);
				$count{$key} = $value;
			}
		}
		for my $k (keys %bucket) {
			bad("histogram $k has no +Inf bucket") unless $bucket{$k}[0] eq "+Inf";
			bad("histogram $k: +Inf bucket differs from _count") unless defined $count{$k} && $count{$k} == $bucket{$k}[1];
		}
		exit($bad ? 1 : 0);
	' "$1"
}

test_expect_success 'the format check itself finds the defects it looks for' '
	printf "%s\n" "# HELP a_total a." "# TYPE a_total counter" "a_total 1" >good &&
	prom_check good &&
	printf "%s\n" "b_total 1" >no-help && test_must_fail prom_check no-help 2>/dev/null &&
	printf "%s\n" "# HELP 1x x." "# TYPE 1x gauge" "1x 1" >bad-name && test_must_fail prom_check bad-name 2>/dev/null &&
	printf "%s\n" "# HELP h h." "# TYPE h histogram" "h_bucket{le=\"1\"} 5" "h_bucket{le=\"2\"} 4" \
		"h_bucket{le=\"+Inf\"} 5" "h_sum 3" "h_count 5" >not-cumulative &&
	test_must_fail prom_check not-cumulative 2>/dev/null
'

test_expect_success 'set up: schema, a chain with reorgs' '
	pl-migrate >/dev/null &&
	chain-sim --seed 5 --blocks 120 --vaults 2 --lps 4 --buyers 3 --reorg-rate 30 >chain &&
	grep -c "\"op\":\"begin\"" chain >items &&
	grep "\"op\":\"begin\"" chain | grep -c "\"type\":\"RevertBlock\"" >reverts &&
	test "$(cat reverts)" -gt 0
'

stop_pipeline() {
	[ -f "$TEST_DIR/sup.pid" ] || return 0
	local pid
	pid=$(cat "$TEST_DIR/sup.pid")
	kill -CONT "$pid" 2>/dev/null
	kill -TERM "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	rm -f "$TEST_DIR/sup.pid"
}
test_when_finished stop_pipeline

test_expect_success 'the supervisor starts pl-status on a free port; healthy and ready with nothing to do' '
	{ run-pipeline --run-dir run --acks acks --http-port any --progress log --progress-interval 1 \
		>/dev/null 2>sup.log & echo $! >sup.pid; } &&
	for i in $(seq 600); do [ -s run/http.port ] && break; sleep 0.1; done &&
	test "$(cat run/http.port)" != 6060 &&
	until_get /health 200 ".status == \"ok\" and .reason == null" &&
	until_get /ready 200 ".ready == true and .waiting == 0" &&
	until_get /status 200 "(.stages | map(.name)) == [\"pg-listen\", \"block-fetch\", \"ep-apply\", \"pg-write\"]" &&
	test_json out ".pipeline == \"pitchlake\" and .supervisor.state == \"running\" and (.stages | all(.state == \"running\" and .rss_bytes > 0))" &&
	test "$(get /no-such-path)" = 404 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -X POST "http://127.0.0.1:$(cat run/http.port)/health")" = 405
'

test_expect_success 'a stalled stage (SIGSTOP): /health 503 naming it, /ready 503 while items wait, progress lines' '
	pid=$(stage_pid pg-write) && test -n "$pid" &&
	kill -STOP "$pid" &&
	pg-produce --quiet <chain &&
	until_get /health 503 ".reason | test(\"stage pg-write \\\\(pid $pid\\\\) is stopped\")" &&
	until_get /ready 503 ".ready == false and .waiting > 0" &&
	get /status >/dev/null &&
	test_json out "(.stages[] | select(.name == \"pg-write\") | .state) == \"stopped\" and .lag.items > 0 and .healthy == false" &&
	get /metrics metrics >/dev/null &&
	test "$(metric pl_stage_up stage=\"pg-write\")" = 0 &&
	test "$(metric pl_healthy)" = 0 &&
	test "$(metric pl_work_items_waiting)" -gt 0 &&
	for i in $(seq 300); do grep -q "pl-status: progress: pitchlake: .* waiting, .*ETA" sup.log && break; sleep 0.1; done &&
	grep "pl-status: progress:" sup.log | grep -q "waiting, .*ETA"
'

test_expect_success 'on a terminal the progress is one line rewritten in place (script -q)' '
	command -v script >/dev/null || { say "no script(1): skipped"; exit 0; }
	{ script -qfec "pl-status --run-dir run --http-port 0 --progress auto --interval 100" typescript >/dev/null 2>&1 & echo $! >script.pid; } &&
	test_when_finished "kill \$(cat script.pid) 2>/dev/null; wait \$(cat script.pid) 2>/dev/null; true" &&
	for i in $(seq 300); do [ "$(grep -o "waiting" typescript 2>/dev/null | wc -l)" -ge 3 ] && break; sleep 0.1; done &&
	grep -q "items/s, [0-9]* waiting" typescript &&
	LC_ALL=C grep -q "$(printf "\r\033\\[K")pitchlake:" typescript &&
	! grep -q "progress:" typescript
'

test_expect_success 'continued, it catches up: /ready 200; the figures add up' '
	kill -CONT "$(stage_pid pg-write)" &&
	until_get /ready 200 ".ready == true" &&
	until_get /status 200 ".last_work_item.seq == $(cat items) and .lag.items == 0 and .lag.blocks == 0 and .healthy" &&
	test_json out ".block == .head_block and .quarantined == 0 and .items_total == $(cat items)" &&
	for i in $(seq 100); do get /metrics metrics >/dev/null; [ "$(metric pl_work_items_total)" = "$(cat items)" ] && break; sleep 0.1; done &&
	test "$(metric pl_work_items_total)" = "$(cat items)" &&
	test "$(metric pl_reverted_blocks_total)" = "$(cat reverts)" &&
	test "$(metric pl_reorgs_total)" -gt 0 &&
	test "$(metric pl_reorg_depth_max)" -ge 1 &&
	test "$(metric pl_events_total)" -gt 0 &&
	test "$(metric pl_lag_blocks)" = 0 &&
	test "$(metric pl_quarantined_items)" = 0 &&
	test "$(metric pl_commit_duration_seconds_count)" -gt 0 &&
	test "$(metric pl_stage_rss_bytes stage=\"ep-apply\")" -gt 0 &&
	metric pl_table_rows table=\"VaultStates\" | grep -q "^[0-9][0-9]*$" &&
	prom_check metrics &&
	for i in $(seq 100); do grep -q "progress: .*caught up" sup.log && break; sleep 0.1; done &&
	grep -q "progress: pitchlake: $(cat items) items, [0-9]* events, .*0 waiting, .*caught up" sup.log
'

test_expect_success 'a stage gone while the supervisor cannot act: /health 503 naming it; then counted as a restart' '
	sup=$(cat sup.pid) && pid=$(stage_pid pg-write) &&
	kill -STOP "$sup" &&
	kill -KILL "$pid" &&
	until_get /health 503 ".reason | test(\"stage pg-write \\\\(pid $pid\\\\) is not running\")" &&
	get /status >/dev/null &&
	test_json out "(.stages[] | select(.name == \"pg-write\") | .state) == \"exited\"" &&
	kill -CONT "$sup" &&
	until_get /status 200 ".supervisor.restarts == 1 and .healthy and (.stages | all(.state == \"running\"))" &&
	test_json out ".last_error | test(\"pg-write exited with 137\")" &&
	get /metrics metrics >/dev/null &&
	test "$(metric pl_formation_restarts_total)" = 1 &&
	test "$(metric pl_stage_restarts_total stage=\"pg-write\")" = 1 &&
	test "$(metric pl_stage_restarts_total stage=\"pg-listen\")" = 0 &&
	test "$(metric pl_work_items_total)" = "$(cat items)" &&
	prom_check metrics
'

test_expect_success 'SIGTERM: the supervisor exits 0, pl-status with it, the port closes' '
	port=$(cat run/http.port) && sup=$(cat sup.pid) &&
	kill -TERM "$sup" &&
	for i in $(seq 300); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done &&
	! kill -0 "$sup" 2>/dev/null && rm -f sup.pid &&
	test_must_fail curl -s -o /dev/null "http://127.0.0.1:$port/health" &&
	test ! -e run/http.port &&
	! grep -q "fatal" sup.log
'

test_expect_success 'acks: stdout when it is not a terminal, "-" too, none on a terminal' '
	for d in acks1 acks2 acks3; do
		pg_sql -c "CREATE DATABASE $d" && PGDATABASE=$d pl-migrate >/dev/null &&
		head -n 40 chain | PGDATABASE=$d pg-produce --quiet || exit 1
	done &&
	PGDATABASE=acks1 run-pipeline --run-dir run2 --once --http-port 0 >acks-default 2>log &&
	test_json acks-default ".op == \"ack\"" &&
	PGDATABASE=acks2 run-pipeline --run-dir run2 --once --http-port 0 --acks - >acks-dash 2>log &&
	test_json acks-dash ".op == \"ack\"" &&
	if command -v script >/dev/null; then
		PGDATABASE=acks3 script -qfec "run-pipeline --run-dir run3 --once --http-port 0" tty-out >/dev/null 2>&1 &&
		grep -q "run-pipeline: done" tty-out &&
		! grep -q "\"op\":\"ack\"" tty-out
	fi
'

test_done
