#!/bin/sh
# t0500-chain-sim: the chain generator -- determinism, options, frame format,
# reorg shape, the state dump, and speed.

. "$(dirname "$0")/lib.sh"

have_python=
command -v python3 >/dev/null 2>&1 && have_python=1

# test_python 'name' 'commands': a test that needs python3 (skipped without).
test_python() {
	if [ -n "$have_python" ]; then
		test_expect_success "$1" "$2"
	else
		test_expect_success "$1 # SKIP python3 missing" 'true'
	fi
}

# check-frames FILE: every line is JSON of the design §3.2 shapes, frames are
# well nested with driver_id = seq = 1,2,..., felts canonical and < P, events
# ordered by vault then nonce, new event nonces consecutive per vault, and each
# RevertBlock repeats the newest unreverted block.  Prints a summary.
cat >"$TEST_DIR/check-frames" <<'EOF'
import json, re, sys
P = 2**251 + 17 * 2**192 + 1
FELT = re.compile(r'^0x(0|[1-9a-f][0-9a-f]*)$')
def felt(x):
    assert isinstance(x, str) and FELT.match(x) and int(x, 16) < P, x
    return x
nonce, chain, cur, evs, n = {}, [], None, [], 0
names, reverts, replaced = {}, 0, 0
after_revert = None
for line in open(sys.argv[1]):
    f = json.loads(line)
    op = f['op']
    if op == 'begin':
        assert cur is None
        n += 1
        assert f['driver_id'] == f['seq'] == n
        assert f['type'] in ('StartBlock', 'RevertBlock')
        assert type(f['block_number']) is int and type(f['timestamp']) is int
        felt(f['block_hash'])
        cur, evs = f, []
    elif op == 'event':
        assert cur is not None
        for k in ('block_number', 'block_hash', 'timestamp'):
            assert f[k] == cur[k]
        for k in ('tx', 'vault'):
            felt(f[k])
        assert type(f['nonce']) is int and f['nonce'] >= 1
        assert f['keys'] and f['data'] and isinstance(f['name'], str)
        for x in f['keys'] + f['data']:
            felt(x)
        evs.append(f)
    elif op == 'end':
        assert f['driver_id'] == cur['driver_id']
        order = [(e['vault'], e['nonce']) for e in evs]
        assert order == sorted(order), 'events not ordered by vault, nonce'
        if cur['type'] == 'StartBlock':
            if chain:
                assert cur['block_number'] == chain[-1][0] + 1, 'gap in heights'
            if after_revert is not None:
                assert cur['block_number'] == after_revert[0] and cur['block_hash'] != after_revert[1]
                replaced += 1
                after_revert = None
            for e in evs:
                assert e['nonce'] == nonce.get(e['vault'], 0) + 1, 'nonce'
                nonce[e['vault']] = e['nonce']
                names[e['name']] = names.get(e['name'], 0) + 1
            chain.append((cur['block_number'], cur['block_hash'], [json.dumps(e) for e in evs]))
        else:
            top = chain.pop()
            assert (cur['block_number'], cur['block_hash']) == top[:2], 'not the newest block'
            assert [json.dumps(e) for e in evs] == top[2], 'revert body differs'
            after_revert = top[:2]
            reverts += 1
        cur = None
    else:
        raise AssertionError('unknown op ' + op)
assert cur is None
print('blocks', len(chain), 'head', chain[-1][0] if chain else None, 'reverts', reverts, 'replaced', replaced)
for k in sorted(names):
    print('event', k, names[k])
EOF

test_expect_success '--help documents the options and exit codes' '
	chain-sim --help >help &&
	grep -q -- "--reorg-rate" help &&
	grep -q -- "--dump-state" help &&
	grep -q "64 usage" help
'

test_expect_success 'bad options exit 64 with nothing on stdout' '
	test_must_fail --code 64 chain-sim --no-such-option >out 2>err &&
	test ! -s out && grep -q "^chain-sim: unknown option .--no-such-option." err &&
	test_must_fail --code 64 chain-sim --vaults 0 >out 2>err && test ! -s out &&
	test_must_fail --code 64 chain-sim --seed >out 2>err && test ! -s out &&
	test_must_fail --code 64 chain-sim --blocks 12x >out 2>err && test ! -s out &&
	test_must_fail --code 64 chain-sim stray >out 2>err && test ! -s out
'

test_expect_success 'same seed gives byte-identical output and dump' '
	chain-sim --seed 42 --blocks 400 --transfers --dump-state d1 >o1 &&
	chain-sim --seed 42 --blocks 400 --transfers --dump-state d2 >o2 &&
	test -s o1 && test -s d1 &&
	test_cmp o1 o2 && test_cmp d1 d2
'

test_expect_success 'different seeds give different chains' '
	chain-sim --seed 1 --blocks 50 >s1 &&
	chain-sim --seed 2 --blocks 50 >s2 &&
	! cmp -s s1 s2
'

test_python 'frames are well-formed JSON with the required fields' '
	chain-sim --seed 3 --blocks 2000 --reorg-rate 100 --max-reorg-depth 4 --transfers >f &&
	python3 "$TEST_DIR/check-frames" f >summary &&
	cat summary &&
	grep -q "^blocks 2000 head 2999 " summary &&
	for e in ContractDeployed OptionRoundDeployed PricingDataSet Deposit Withdrawal \
		WithdrawalQueued StashWithdrawn AuctionStarted BidPlaced BidUpdated AuctionEnded \
		OptionsMinted UnusedBidsRefunded OptionRoundSettled OptionsExercised Transfer; do
		grep -q "^event $e " summary || { echo "no $e"; return 1; }
	done
'

test_python 'reorgs revert newest first and are followed by replacement blocks' '
	chain-sim --seed 5 --blocks 600 --reorg-rate 200 --max-reorg-depth 3 >r &&
	grep -q "\"type\":\"RevertBlock\"" r &&
	python3 "$TEST_DIR/check-frames" r >summary &&
	cat summary &&
	awk "\$1 == \"blocks\" && \$6 > 0 && \$8 > 0 { ok = 1 } END { exit !ok }" summary
'

test_expect_success '--no-reorgs and --reorg-rate 0 emit no RevertBlock' '
	chain-sim --seed 5 --blocks 600 --reorg-rate 200 --no-reorgs >n1 &&
	chain-sim --seed 5 --blocks 600 --reorg-rate 0 >n2 &&
	! grep -q RevertBlock n1 && test_cmp n1 n2
'

test_expect_success 'Transfer events only with --transfers' '
	chain-sim --blocks 300 >t0 && chain-sim --blocks 300 --transfers >t1 &&
	! grep -q "\"name\":\"Transfer\"" t0 &&
	grep -q "\"name\":\"Transfer\"" t1
'

test_expect_success 'u256 high halves and negative strike levels occur' '
	chain-sim --seed 1 --blocks 20000 --no-reorgs >h &&
	grep "\"name\":\"Deposit\"" h | grep -q -v "\"data\":\[\"0x[0-9a-f]*\",\"0x0\"" &&
	grep -q "\"0x800000000000010fffffffffffffffffffffffffffffffffffffffffffff63d\"" h
'

test_expect_success '--events stops at the first block end past N events' '
	chain-sim --events 500 --no-reorgs >e &&
	n=$(grep -c "\"op\":\"event\"" e) &&
	test "$n" -ge 500 && test "$n" -lt 700 &&
	tail -n 1 e | grep -q "\"op\":\"end\""
'

test_python '--dump-state: six tables, sorted by table then key, rows as documented' '
	chain-sim --seed 8 --blocks 3000 --dump-state dump >/dev/null &&
	python3 - dump <<-\EOF
	import json, sys
	cols = {
	 "VaultStates": "address unlocked_balance locked_balance stashed_balance current_round current_round_address latest_block fossil_client_address eth_address option_round_class_hash alpha strike_level round_transition_period auction_duration round_duration deployment_date",
	 "Liquidity_Providers": "address vault_address stashed_balance locked_balance unlocked_balance latest_block",
	 "Option_Rounds": "address vault_address round_id state available_options starting_liquidity queued_liquidity remaining_liquidity unsold_liquidity clearing_price settlement_price reserve_price strike_price cap_level sold_options premiums payout_per_option start_date end_date settlement_date deployment_date",
	 "Queued_Liquidity": "address queued_liquidity bps round_address",
	 "Option_Buyers": "address round_address has_minted has_refunded mintable_options refundable_amount",
	 "Bids": "buyer_address round_address bid_id tree_nonce amount price",
	}
	keys = []
	seen = set()
	for line in open(sys.argv[1]):
	    x = json.loads(line)
	    assert list(x) == ["op", "table", "key", "row"] and x["op"] == "put"
	    t = x["table"]
	    assert list(x["row"]) == cols[t].split(), t
	    for k, v in x["key"].items():
	        assert x["row"][k] == v
	    keys.append((t.encode(), json.dumps(x["key"], separators=(",", ":")).encode()))
	    seen.add(t)
	assert keys == sorted(keys) and len(set(keys)) == len(keys)
	assert seen == set(cols), seen
	EOF
'

test_expect_success '--events 1000000 finishes' '
	chain-sim --events 1000000 --stats >/dev/null 2>"$TEST_DIR/rate"
'
say "$(cat "$TEST_DIR/rate" 2>/dev/null)"

test_done
