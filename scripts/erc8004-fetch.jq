# scripts/erc8004-fetch.jq -- the erc8004 pipeline's fetch stage: one
# erc8004.work_items row (pg-listen's line, sql/041) becomes one event frame
# (docs/formats.md, docs/erc8004.md).  The view already holds everything the
# frame needs, so no database access here.  Run as
# jq -c --unbuffered -f erc8004-fetch.jq, so that each frame leaves at once.
#   StartBlock  one event line per event row of the block, by log_index
#   Rules       one line with the trigger's whole definition
#   RevertBlock no event lines (rules-apply undoes the block from its journal)
{op: "begin", driver_id: .seq, seq: .seq,
 type: (if .type == "RevertBlock" then "RevertBlock" else "StartBlock" end),
 block_number: .frame_block, block_hash: .frame_hash, timestamp: 0, prev: .pl_prev},
(if .type == "StartBlock" then
   .frame_block as $b | .frame_hash as $h | .events[]
   | {op: "event", block_number: $b, block_hash: $h, timestamp: .timestamp, kind: "event", event: .}
 elif .type == "Rules" then
   {op: "event", block_number: .frame_block, block_hash: .frame_hash, timestamp: 0, kind: "rules",
    trigger_id: .trigger_id, rules: .rules}
 else empty end),
{op: "end", driver_id: .seq}
