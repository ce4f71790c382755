#!/bin/sh
# ep-apply at scale: a generated chain of a million events with reorgs
# (100,000 under the sanitizers) replays deterministically, and replaying it
# in two halves through a snapshot gives the same output and dump as one run.
. "$(dirname "$0")/lib.sh"

EVENTS=1000000
[ -n "${PL_SANITIZED:-}" ] && EVENTS=100000

test_expect_success "generate $EVENTS events with reorgs" '
	chain-sim --seed 21 --events $EVENTS --vaults 200 --lps 20 --buyers 10 --events-per-block 40 \
		--time-scale 20 --reorg-rate 20 --stats >chain 2>gen &&
	cat gen && grep -q "reorgs" gen &&
	test $(grep -c "\"type\":\"RevertBlock\"" chain) -gt 10
'

test_expect_success 'one full replay, twice: byte-identical output and dump' '
	ep-apply --stats --dump-state d1 <chain 2>stats | md5sum >o1 &&
	cat stats &&
	ep-apply --dump-state d2 <chain | md5sum >o2 &&
	test_cmp o1 o2 && test_cmp d1 d2
'

test_expect_success 'split replay through a snapshot equals the full replay' '
	n=$(grep -c "\"op\":\"begin\"" chain) &&
	{ awk -v to=$((n / 2)) "/\"op\":\"begin\"/{b++} b<=to" chain | ep-apply --dump-state half &&
	  awk -v to=$((n / 2)) "/\"op\":\"begin\"/{b++} b>to" chain | ep-apply --state half --dump-state whole; } | md5sum >o3 &&
	test_cmp o1 o3 && test_cmp d1 whole
'

test_expect_success 're-feeding the whole chain to the final state changes nothing' '
	ep-apply --state d1 --dump-state d3 <chain >out && test ! -s out && test_cmp d1 d3
'

test_done
