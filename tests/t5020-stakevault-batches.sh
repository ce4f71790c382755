#!/bin/sh
# t5020-stakevault-batches -- the StakeVault side effects (dead letters,
# welcome jobs) do not depend on how many blocks pg-write puts in one
# transaction.  The same frames go through stake-apply | pg-write with
# one block per transaction and with every block in one transaction
# (the catch-up case, where pg-write writes each row's final image once):
# a developer who stakes, unstakes everything and stakes again keeps the
# welcome of the first stake; an unregistered wallet gets one dead letter
# per block; a reorg that removes the first stake moves the unsent welcome
# to the next stake still on the chain, in either order of the statements.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
. "$SRC/tests/stakevault/frames.sh"

pg_start
X=0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc # not a registered developer
H4=0xff00000000000000000000000000000000000000000000000000000000000004
H5=0xff00000000000000000000000000000000000000000000000000000000000005
H6=0xff00000000000000000000000000000000000000000000000000000000000006
H7=0xff00000000000000000000000000000000000000000000000000000000000007

# effects: the side-effect tables and the developer, one line each
effects() {
	pg_sql -c "SELECT 'mail', wallet_address, block_number, block_hash FROM sv_mail_jobs ORDER BY 2" &&
	pg_sql -c "SELECT 'dead', wallet_address, block_number, log_index, block_hash FROM sv_dead_letters ORDER BY 3, 4" &&
	pg_sql -c "SELECT 'dev', wallet_address, stake_amount, status FROM developers ORDER BY 2"
}
reset() {
	pg_sql -c "TRUNCATE sv_cursor, sv_stakes, sv_stake_history, sv_vault, sv_required_stake_updates,
		sv_dead_letters, sv_mail_jobs, pl_journal, pl_journal_block, pl_checkpoint, system_state;
		UPDATE developers SET stake_amount = 0, staked_at = NULL, status = 'pending'" >/dev/null
}
# write N FILE: FILE's delta frames into the database, at most N per transaction
write() { pg-write --pipeline stakevault --batch-max "$1" <"$2" >/dev/null; }

test_expect_success 'setup: schema, the pipeline, one registered developer' '
	pl-migrate >/dev/null &&
	pg_sql -c "SELECT sv_register_pipeline()" >/dev/null &&
	pg_sql -c "INSERT INTO developers (wallet_address, email, skills) VALUES ('\''$W'\'', '\''w@example.com'\'', '\''[]'\'')"
'

test_expect_success 'frames: stake, unstake all, stake again; an unregistered wallet twice in one block' '
	{
		frame 1 10 $H1 1700000000 "$(staked $W "$(word 150000000)")" &&
		frame 2 11 $H2 1700000012 "$(unstaked $W "$(word 150000000)")" "$(staked $X "$(word 1)")" "$(staked $X "$(word 2)")" &&
		frame 3 12 $H3 1700000024 "$(staked $W "$(word 150000000)")" &&
		frame 4 13 $H4 1700000036 "$(staked $X "$(word 3)")"
	} >frames &&
	stake-apply <frames >deltas
'

cat >"$TEST_DIR/want" <<EOF
mail|$W|10|$H1
dead|$X|11|2|$H2
dead|$X|13|0|$H4
dev|$W|150.000000|active
EOF

test_expect_success 'one block per transaction: the welcome of the first stake, a dead letter per block' '
	write 1 deltas && effects >got && test_cmp want got
'

test_expect_success 'all four blocks in one transaction: the same effects' '
	reset && write 500 deltas && effects >got && test_cmp want got &&
	test "$(pg_sql -c "SELECT count(*) FROM sv_stake_history")" = 5
'

# A reorg of blocks 13..10 (newest first), then a new 10 without the
# stake and a new 11 with it: the unsent welcome moves to block 11.
cat >"$TEST_DIR/want2" <<EOF
mail|$W|11|$H6
dev|$W|150.000000|active
EOF
test_expect_success 'a reorg that removes the first stake moves the welcome, in one transaction or one per block' '
	{
		cat frames && revert 5 13 $H4 && revert 6 12 $H3 && revert 7 11 $H2 && revert 8 10 $H1 &&
		frame 9 10 $H5 1700000001 &&
		frame 10 11 $H6 1700000013 "$(staked $W "$(word 150000000)")"
	} >frames2 &&
	stake-apply <frames2 >deltas2 &&
	reset && write 500 deltas2 && effects >got && test_cmp want2 got &&
	reset && write 1 deltas2 && effects >got && test_cmp want2 got &&
	reset && write 4 deltas && write 500 deltas2 && effects >got && test_cmp want2 got
'

test_expect_success 'a sent welcome stays what it was (a mail cannot be unsent)' '
	reset && write 500 deltas &&
	pg_sql -c "UPDATE sv_mail_jobs SET sent_at = now()" &&
	write 500 deltas2 &&
	test "$(pg_sql -c "SELECT block_number FROM sv_mail_jobs")" = 10
'

test_done
