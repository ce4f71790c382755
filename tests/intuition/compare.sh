# tests/intuition/compare.sh -- helpers for the Intuition tests (sourced).
#
# ix_project MODEL STATE: the put lines of STATE (an ix-apply snapshot, or
# pg-snapshot's output) for the tables the model (ix-sim --model) covers,
# each row cut down to the model's columns, in the model's column order;
# sorted, so that `ix_project m s | diff - <(ix_model_sorted m)` compares
# value by value.
ix_project() {
	jq -c -n --slurpfile m "$1" --slurpfile s "$2" '
		($m | map({key: .table, value: (.row | keys_unsorted)}) | from_entries) as $cols
		| $s[] | select(.op == "put" and ($cols[.table] != null))
		| . as $r | {op, table, key, row: ($cols[.table] | map({key: ., value: $r.row[.]}) | from_entries)}' |
		LC_ALL=C sort
}
ix_model_sorted() {
	jq -c . "$1" | LC_ALL=C sort
}
