# tests/counter/rows.sh -- helpers for the counter domain's tests (sourced).
#
# counter_rows SEED BLOCKS: gen.awk's work items as tab-separated rows.
# counter_json: those rows (stdin) as pg-listen lines (the work table's row
#   JSON), so that tests can build frames without a database.
# counter_frames: pg-listen lines (stdin) as event frames (fetch.jq).
counter_rows() {
	awk -v seed="$1" -v blocks="$2" -f "$SRC/tests/counter/gen.awk"
}
counter_json() {
	jq -R -c 'split("\t") | {id: (.[0] | tonumber), seq: (.[0] | tonumber), type: .[1],
		block_number: (.[2] | tonumber), block_hash: .[3],
		key: (if .[4] == "\\N" then null else .[4] end),
		amount: (if .[5] == "\\N" then null else .[5] end),
		reset: (.[6] == "t"), done: false}'
}
counter_frames() {
	jq -c --unbuffered -f "$SRC/tests/counter/fetch.jq"
}
# counter_totals_of DUMP: the totals of a snapshot as key|count|sum, sorted.
counter_totals_of() {
	jq -r 'select(.op == "put" and .table == "counter_totals") | .row | "\(.key)|\(.count)|\(.sum)"' "$1" | LC_ALL=C sort
}
