# tests/counter/model.awk -- the counter domain's expected state, computed
# independently of the engine from gen.awk's rows: replay the canonical
# blocks (those never reverted) in order; print "key|count|sum" per key,
# sorted by key as text.  A reset removes the key's total; resetting a key
# that has none is what the engine refuses, so the model says so.
BEGIN { FS = "\t" }
$2 == "StartBlock" { n++; type[n] = $2; hash[n] = $4; key[n] = $5; amount[n] = $6; reset[n] = $7 }
$2 == "RevertBlock" { reverted[$4] = 1 }
END {
	for (i = 1; i <= n; i++) {
		if (hash[i] in reverted)
			continue
		k = key[i]
		if (reset[i] == "t") {
			if (!(k in count)) { print "model: reset of a key without total" > "/dev/stderr"; exit 1 }
			delete count[k]; delete sum[k]
			continue
		}
		count[k]++; sum[k] += amount[i]
	}
	for (k in count)
		printf "%s|%d|%d\n", k, count[k], sum[k]
}
