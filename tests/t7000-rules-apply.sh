#!/bin/bash
# t7000-rules-apply -- the erc8004 rules domain as a filter, on hand-written
# frames (docs/erc8004.md): the EMA in fixed point (floor), the tumbling
# rate-limit window, job ranks by priority, an exact revert of a block's
# jobs and trigger state, a rule change between blocks, and refusals.
. "$(dirname "$0")/lib.sh"

# ev SEQ BLOCK HASH LOG TS SCORE: one event line of frame BLOCK/HASH
ev() {
	printf '{"op":"event","block_number":%s,"block_hash":"%s","timestamp":%s,"kind":"event","event":{"event_seq":%s,"chain_id":1,"block_number":%s,"block_hash":"0xb%s","log_index":%s,"registry":"reputation","event_type":"NewFeedback","agent_id":"7","timestamp":%s,"score":%s,"tag1":"quality","tag2":null}}\n' \
		"$2" "$3" "$5" "$1" "$((100 + $2))" "$2" "$4" "$5" "$6"
}
begin() { printf '{"op":"begin","driver_id":%s,"seq":%s,"type":"%s","block_number":%s,"block_hash":"%s"}\n' "$1" "$1" "$2" "$3" "$4"; }
end() { printf '{"op":"end","driver_id":%s}\n' "$1"; }
rules() { # SEQ HASH JSON
	begin "$1" StartBlock "$1" "$2"
	printf '{"op":"event","block_number":%s,"block_hash":"%s","timestamp":0,"kind":"rules","trigger_id":%s,"rules":%s}\n' "$1" "$2" "$3" "$4"
	end "$1"
}
T1='{"trigger":{"id":1,"chain_id":1,"registry":"reputation","enabled":true},"conditions":[{"id":1,"condition_type":"ema_threshold","field":"score","operator":">=","value":"50","config":{"window_size":3}}],"actions":[{"id":10,"action_type":"rest","priority":1},{"id":11,"action_type":"mcp","priority":5}]}'
T2='{"trigger":{"id":2,"chain_id":1,"registry":"reputation","enabled":true},"conditions":[{"id":2,"condition_type":"rate_limit","value":"1","config":{"time_window":"1m"}},{"id":3,"condition_type":"tag_equals","field":"tag1","value":"quality"}],"actions":[{"id":20,"action_type":"telegram","priority":9}]}'
T2BAD='{"trigger":{"id":2,"chain_id":1,"registry":"reputation","enabled":true},"conditions":[{"id":2,"condition_type":"rate_limit","value":"1","config":{"time_window":"1 hour"}}],"actions":[]}'

test_expect_success 'frames: two triggers, three blocks, a revert of the last, a malformed change' '
	{ rules 1 0x11 1 "$T1" && rules 2 0x12 2 "$T2" &&
	  begin 3 StartBlock 3 0x23 && ev 1 3 0x23 0 100 40 && end 3 &&
	  begin 4 StartBlock 4 0x24 && ev 2 4 0x24 0 110 70 && end 4 &&
	  begin 5 StartBlock 5 0x25 && ev 3 5 0x25 0 170 70 && end 5; } >frames &&
	{ cat frames && begin 6 RevertBlock 5 0x25 && end 6 && rules 7 0x17 2 "$T2BAD"; } >frames-revert &&
	rules-apply --dump-state state <frames >delta &&
	rules-apply --dump-state state-revert <frames-revert >delta-revert
'

test_expect_success 'the EMA in fixed point: 40, then floor((2*70 + 2*40)/4) = 55, then 62.5 (x 10^18)' '
	jq -r "select(.op == \"put\" and .table == \"trigger_state\") | .row | [.trigger_id, .ema, .ema_count, .window_start, .window_count] | join(\"|\")" state >got &&
	printf "%s\n" "1|62500000000000000000|3|0|0" "2|0|0|120|1" >want &&
	test_cmp want got
'

test_expect_success 'jobs: EMA >= 50 from the second event on, ranked by priority; the rate limit passes once per minute (not at 110 s)' '
	jq -r "select(.op == \"put\" and .table == \"jobs\") | .row | [.event_seq, .action_id, .trigger_id, .rule_version, .rank] | join(\"|\")" state | sort >got &&
	printf "%s\n" "1|20|2|2|0" "2|10|1|1|1" "2|11|1|1|0" "3|10|1|1|2" "3|11|1|1|1" "3|20|2|2|0" | sort >want &&
	test_cmp want got
'

test_expect_success 'the revert restores the state exactly and removes the block'"'"'s jobs; the checkpoint goes back' '
	jq -r "select(.op == \"put\" and .table == \"trigger_state\") | .row | [.trigger_id, .ema, .ema_count, .window_start, .window_count] | join(\"|\")" state-revert >got &&
	printf "%s\n" "1|55000000000000000000|2|0|0" "2|0|0|60|1" >want &&
	test_cmp want got &&
	test "$(jq -r "select(.op == \"put\" and .table == \"jobs\") | .row.event_seq" state-revert | sort -u | tr "\n" " ")" = "1 2 " &&
	test "$(jq -r "select(.op == \"put\" and .table == \"checkpoints\") | .row.block_number" state-revert)" = 104
'

test_expect_success 'a malformed condition: status malformed, reason and condition recorded' '
	test "$(jq -r "select(.op == \"put\" and .table == \"rule_triggers\" and .key.trigger_id == \"2\") | .row | [.status, .reason, .bad_condition, .version] | join(\"|\")" state-revert)" = "malformed|bad_config|2|7" &&
	test "$(jq -r "select(.op == \"put\" and .table == \"rule_conditions\") | .key.trigger_id" state-revert | sort -u)" = 1
'

test_expect_success 'replaying the frames from the dumped state changes nothing' '
	rules-apply --state state --dump-state again <frames >out &&
	test_cmp state again && test ! -s out
'

test_expect_success 'an unreadable event row is refused (65) with a reject line of kind syntax' '
	{ rules 1 0x11 1 "$T1" && begin 2 StartBlock 2 0x22 &&
	  echo "{\"op\":\"event\",\"block_number\":2,\"block_hash\":\"0x22\",\"kind\":\"event\",\"event\":{\"event_seq\":1,\"chain_id\":1,\"block_number\":1,\"block_hash\":\"0x1\",\"log_index\":0,\"timestamp\":1,\"registry\":\"nope\",\"event_type\":\"X\",\"agent_id\":null}}" &&
	  end 2; } >bad &&
	test_must_fail --code 65 rules-apply --reject-file rej <bad >/dev/null 2>err &&
	grep -q "unknown registry" err &&
	test "$(jq -r "[.kind, .driver_id] | join(\"|\")" rej)" = "syntax|2"
'

test_done
