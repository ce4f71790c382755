# tests/counter/fetch.jq -- the counter pipeline's fetch stage: a work-table
# row (pg-listen's line) becomes an event frame (docs/formats.md).  Run as
# jq -c --unbuffered -f fetch.jq, so that each frame leaves at once.
{op: "begin", driver_id: .id, seq: .seq, type: .type,
 block_number: .block_number, block_hash: .block_hash, timestamp: 0},
(select(.type == "StartBlock")
 | {op: "event", block_number: .block_number, block_hash: .block_hash, timestamp: 0, key: .key}
   + (if .reset then {reset: true} else {amount: .amount} end)),
{op: "end", driver_id: .id}
