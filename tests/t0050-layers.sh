#!/bin/bash
# t0050-layers -- the layout is the architecture (docs/architecture.md):
# each layer of common/ includes only itself and the layers below it, the
# domains include no other domain, and the generic layers and programs
# name nothing of Pitchlake's (its tables, columns and channels come from
# the pipeline's configuration).
. "$(dirname "$0")/lib.sh"

# allowed LAYER: the layers a file of LAYER may include
allowed() {
	case $1 in
	core) echo "core" ;;
	num) echo "core num" ;;
	frame) echo "core num frame" ;;
	delta) echo "core num frame delta" ;;
	pg) echo "core num frame pg" ;;
	rpc) echo "core num frame rpc" ;;
	dom/*) echo "core num frame delta pg $1" ;;
	http) echo "core http" ;;
	status) echo "core num frame pg http status" ;;
	tests) echo "core num frame delta" ;;
	redis) echo "core num frame redis" ;;
	esac
}

# check_includes LAYER FILE...: print "FILE: includes X" for every violation
check_includes() {
	local layer=$1 f inc ok a
	shift
	for f in "$@"; do
		for inc in $(sed -n 's/^#include "\([^"]*\)\/[^/"]*\.h"$/\1/p' "$f"); do
			ok=0
			for a in $(allowed "$layer"); do [ "$inc" = "$a" ] && ok=1; done
			[ $ok = 1 ] || echo "$f: includes $inc/"
		done
		grep -n '^#include "[^/]*"' "$f" | sed "s|^|$f: unqualified |"
	done
}

test_expect_success 'every layer includes only itself and the layers below it' '
	: >bad &&
	for l in core num frame delta pg http status rpc; do
		check_includes $l "$SRC"/common/$l/*.[ch] >>bad
	done &&
	for d in "$SRC"/common/dom/*/; do
		d=${d%/}
		check_includes "dom/${d##*/}" "$d"/*.[ch] >>bad
	done &&
	check_includes tests "$SRC"/tests/counter/*.c >>bad &&
	check_includes redis "$SRC"/common/redis/*.[ch] >>bad &&
	test_cmp /dev/null bad
'

test_expect_success 'the layers are what the Makefile builds, lowest first' '
	grep -q "^LAYERS := core num frame delta pg http status dom/pitchlake" "$SRC/Makefile" &&
	grep -q "^LAYERS := .* dom/erc8004" "$SRC/Makefile"
'

test_expect_success 'no Pitchlake table, column or channel in the generic layers and programs' '
	grep -n -E "driver_events|VaultStates|Vault_Historic|_Historic|Option_Rounds|Option_Buyers|Liquidity_Providers|Queued_Liquidity|\"Bids\"|is_processed|sequence_index|starknet_blocks|pitchlake-pg-write|hashtext\(.pitchlake|vault_address" \
		"$SRC"/common/core/* "$SRC"/common/num/* "$SRC"/common/frame/* "$SRC"/common/delta/* "$SRC"/common/pg/* "$SRC"/common/http/* "$SRC"/common/status/* "$SRC"/bin/pl-status.c \
		"$SRC"/common/rpc/* "$SRC"/bin/rpc-listen.c \
		"$SRC"/bin/pg-listen.c "$SRC"/bin/pg-write.c "$SRC"/bin/pg-snapshot.c >found;
	test_cmp /dev/null found
'

test_expect_success 'a domain is a descriptor: ep-apply hands Pitchlake to the engine' '
	grep -q "dl_main(argc, argv, &pitchlake_domain" "$SRC/bin/ep-apply.c" &&
	test $(grep -c . "$SRC/bin/ep-apply.c") -lt 30
'

test_done
