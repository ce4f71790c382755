# tests/counter/gen.awk -- a deterministic chain of counter work items with
# reorgs, as tab-separated rows for counter_work:
#   seq  type  block_number  block_hash  key  amount  reset
# awk -v seed=S -v blocks=N -f gen.awk.  Each block carries one event; now
# and then the newest blocks are reverted (newest first) and replaced at
# the same heights by blocks with new hashes.
BEGIN {
	srand(seed); seq = 0; top = 0; version = 0
	while (top < blocks) {
		top++
		emit_block(top)
		if (top > 3 && rand() < 0.08) {
			depth = 1 + int(rand() * 3)
			for (i = 0; i < depth; i++)
				printf "%d\tRevertBlock\t%d\t%s\t\\N\t\\N\tf\n", ++seq, top - i, hash[top - i]
			version++
			for (i = depth - 1; i >= 0; i--)
				emit_block(top - i)
		}
	}
}
# 1 if key has a total after the canonical blocks below n.
function alive(key, n,    i) {
	for (i = n - 1; i >= 1; i--)
		if (bkey[i] == key)
			return breset[i] == "f"
	return 0
}
function emit_block(n,    key, amount, reset) {
	hash[n] = sprintf("0x%x%04x", n, version)
	key = sprintf("0x%x", 1 + int(rand() * 7))
	amount = 1 + int(rand() * 100000)
	reset = rand() < 0.05 && alive(key, n) ? "t" : "f"
	bkey[n] = key; breset[n] = reset
	printf "%d\tStartBlock\t%d\t%s\t%s\t%s\t%s\n", ++seq, n, hash[n], key, amount, reset
}
