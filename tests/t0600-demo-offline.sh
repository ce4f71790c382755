#!/bin/sh
# t0600-demo-offline -- scripts/demo-offline, the README's first command
# without a database: it generates a chain, replays it through ep-apply and
# compares the state with chain-sim's model, allowing for exactly the rows
# ep-apply archives (settled, final rounds with their bids and queued
# withdrawals, done option buyers).
# A state that differs anywhere else must make it fail.
. "$(dirname "$0")/lib.sh"

test_expect_success 'demo-offline succeeds and says the state equals the model' '
	demo-offline >out 2>err &&
	grep -q "state equals chain-sim.s independent model: OK ([1-9][0-9]* rows of settled, final rounds and done buyers archived)" out &&
	grep -q "^Vaults:" out && grep -q "Settled" out &&
	grep -q "^Liquidity providers: [1-9]" out
'

test_expect_success 'other seeds and sizes agree too' '
	for s in 2 3 4; do
		demo-offline --seed $s --blocks 700 --vaults 3 >out 2>/dev/null || { echo "seed $s"; cat out; return 1; }
		grep -q "independent model: OK" out || return 1
	done
'

# An ep-apply whose dump is altered after the fact: BIN=wrap, with the real
# chain-sim beside it.
wrap() { # SED-SCRIPT: an ep-apply that edits its --dump-state file so
	mkdir -p wrap &&
	ln -sf "$BIN/chain-sim" wrap/chain-sim &&
	printf "%s\n" "$1" >wrap/edit.sed &&
	cat >wrap/ep-apply <<-EOF &&
	#!/bin/sh
	"$BIN/ep-apply" "\$@" || exit
	while [ \$# -gt 0 ]; do
		if [ "\$1" = --dump-state ]; then sed -i -f "$TEST_DIR/wrap/edit.sed" "\$2" || exit; fi
		shift
	done
	EOF
	chmod +x wrap/ep-apply
}

test_expect_success 'a changed balance makes it fail (exit 1)' '
	wrap "0,/\"op\":\"put\",\"table\":\"VaultStates\"/s/\"unlocked_balance\":\"\([0-9]\)/\"unlocked_balance\":\"9\1/" &&
	test_must_fail --code 1 env BIN=$TEST_DIR/wrap demo-offline >out 2>err &&
	grep -q "state DIFFERS" err
'

test_expect_success 'a bid missing from a round that is not settled makes it fail' '
	rm -rf wrap &&
	demo-offline >/dev/null 2>&1 &&
	chain-sim --seed 1 --blocks 600 --vaults 5 --lps 8 --buyers 6 --reorg-rate 30 --transfers 2>/dev/null |
		ep-apply --dump-state st >/dev/null 2>&1 &&
	live=$(grep "\"op\":\"put\",\"table\":\"Option_Rounds\"" st | grep -v "\"state\":\"Settled\"" |
		sed "s/.*\"key\":{\"address\":\"\(0x[0-9a-f]*\)\".*/\1/" |
		while read r; do grep -q "\"op\":\"put\",\"table\":\"Bids\",\"key\":{\"round_address\":\"$r\"" st && echo $r; done | head -n 1) &&
	test -n "$live" &&
	wrap "0,/\"op\":\"put\",\"table\":\"Bids\",\"key\":{\"round_address\":\"$live\"/{//d}" &&
	test_must_fail --code 1 env BIN=$TEST_DIR/wrap demo-offline >out 2>err &&
	grep -q "state DIFFERS" err
'

test_expect_success 'usage: --help, --version, a bad option (64)' '
	demo-offline --help >out && grep -q "^usage: demo-offline" out &&
	demo-offline --version | grep -q "^demo-offline (pitchlake) " &&
	test_must_fail --code 64 demo-offline --bogus 2>err && grep -q "unknown option" err
'

test_done
