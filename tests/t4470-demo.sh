#!/bin/bash
# t4470-demo -- scripts/demo, the README's first command: a throwaway
# cluster, the pipeline, a live producer, the check against the offline
# replay; with --follow it prints a ready psql command line, keeps a slow
# producer running (the checkpoint keeps moving), and Ctrl-C stops
# everything and removes its directory (SIGTERM here: a background job of a
# script ignores SIGINT).
. "$(dirname "$0")/lib.sh"
. "$SRC/scripts/pg-tmp.sh"
pgtmp_bindir >/dev/null 2>&1 || skip_all "no PostgreSQL server binaries"
command -v psql >/dev/null || skip_all "no psql"

wait_grep() { # PATTERN FILE: until FILE has a line matching PATTERN (180 s)
	local i=0
	while ! grep -q "$1" "$2"; do
		[ $i -lt 1800 ] || { echo "timed out waiting for '$1' in $2:"; tail -n 20 "$2"; return 1; }
		sleep 0.1; i=$((i + 1))
	done
}

test_expect_success 'demo --follow: the check passes, a psql line is printed, the producer keeps going' '
	demo --blocks 40 --rate 0 --vaults 2 --follow >out 2>&1 &
	pid=$! &&
	test_when_finished "kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; true" &&
	wait_grep "watch it: psql " out &&
	grep -q "database state == ep-apply.s offline replay of the same chain (byte for byte): OK" out &&
	cmd=$(sed -n "s/^demo: watch it: //p" out) &&
	case $cmd in "psql -h "*" -p "*" -U postgres -d postgres -c "*) ;; *) echo "bad: $cmd"; exit 1 ;; esac &&
	q=$(eval "$cmd" -At 2>&1 | tail -n 1) && s1=${q%%|*} &&
	test -n "$s1" && test "$s1" -gt 0 &&
	i=0 && while :; do
		s2=$(eval "$cmd" -At 2>/dev/null | tail -n 1) && s2=${s2%%|*} &&
		[ "${s2:-0}" -gt "$s1" ] && break
		[ $i -lt 600 ] || { echo "the checkpoint stayed at $s1"; exit 1; }
		sleep 0.1; i=$((i + 1))
	done &&
	work=$(sed -n "s/^demo: starting a throwaway PostgreSQL cluster in \(.*\)\/pg$/\1/p" out) &&
	test -d "$work" &&
	kill -TERM $pid && wait $pid; rc=$? &&
	test $rc = 130 &&
	grep -q "stopped; cluster removed" out &&
	test ! -e "$work"
'

test_done
