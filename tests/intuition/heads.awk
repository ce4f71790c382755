# tests/intuition/heads.awk -- redis-read's look-ahead, checked on its frames.
# frames on stdin: each frame's head must not exceed the highest block of the
# frames written after it, up to the next RevertBlock; prints "N heads ok" or the first bad one
function num(line, key,   m) { if (match(line, "\"" key "\":[0-9]+")) { m = substr(line, RSTART, RLENGTH); sub(/.*:/, "", m); return m + 0 } return -1 }
/"op":"begin"/ { n++; rev[n] = index($0, "\"type\":\"RevertBlock\"") > 0; hd[n] = num($0, "head"); mb[n] = -1; next }
/"op":"event"/ { b = num($0, "block_number"); if (b > mb[n]) mb[n] = b }
END {
	after = -1
	for (i = n; i >= 1; i--) {
		if (hd[i] >= 0) { cnt++; if (hd[i] > after) { printf "frame %d: head %d above %d\n", i, hd[i], after; exit 1 } }
		if (rev[i]) after = -1; else if (mb[i] > after) after = mb[i]
	}
	print cnt " heads ok"
}
