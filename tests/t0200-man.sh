#!/bin/sh
# t0200-man -- a manual page per program (bin/) and user-facing script, in
# man/NAME.1: each renders with man -l without a single warning, has the
# sections an operator looks for, and mentions every long option that the
# program's --help lists (so a new option cannot go undocumented).
. "$(dirname "$0")/lib.sh"

command -v man >/dev/null 2>&1 || skip_all "no man (scripts/setup installs man-db)"

SCRIPTS="run-pipeline pl-stage pl-migrate pl-verify pl-skip demo demo-offline setup demo-erc8004 erc8004-produce demo-stakevault demo-intuition"
PROGS=$(for f in "$SRC"/bin/*.c; do basename "$f" .c; done)

prog_path() { # NAME
	if [ -x "$BIN/$1" ]; then echo "$BIN/$1"; else echo "$SRC/scripts/$1"; fi
}

test_expect_success 'every program and user-facing script has a page, and no page is extra' '
	for n in $PROGS $SCRIPTS; do
		test -f "$SRC/man/$n.1" || { echo "no man/$n.1"; exit 1; }
	done &&
	for f in "$SRC"/man/*.1; do
		n=$(basename "$f" .1)
		printf "%s\n" $PROGS $SCRIPTS | grep -qx "$n" || { echo "man/$n.1 documents nothing known"; exit 1; }
	done
'

test_expect_success 'man -l renders every page without a warning' '
	for f in "$SRC"/man/*.1; do
		MANWIDTH=80 man --warnings -l "$f" 2>warn >/dev/null || { echo "$f: man failed"; cat warn; exit 1; }
		if test -s warn; then echo "$f:"; cat warn; exit 1; fi
	done
'

test_expect_success 'every page has NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, EXAMPLES, SEE ALSO' '
	for f in "$SRC"/man/*.1; do
		for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
			grep -q "^\.SH \"*$s\"*\$" "$f" || { echo "$f: no section $s"; exit 1; }
		done
	done
'

test_expect_success 'every long option of --help is in the page' '
	for n in $PROGS $SCRIPTS; do
		"$(prog_path $n)" --help </dev/null >help 2>&1 || { echo "$n --help failed"; exit 1; }
		MANWIDTH=200 man -l "$SRC/man/$n.1" 2>/dev/null | col -b >page &&
		for o in $(grep -o -- "--[a-z][a-z0-9-]*" help | sort -u); do
			grep -q -- "$o\\b" page || { echo "man/$n.1 does not mention $o"; exit 1; }
		done
	done
'

test_expect_success 'the filters pages show tee, jq and a replay in their examples' '
	for n in ep-apply pg-write block-fetch pg-listen; do
		sed -n "/^\.SH EXAMPLES/,/^\.SH/p" "$SRC/man/$n.1" >ex &&
		grep -q "tee" ex && grep -q "jq" ex || { echo "man/$n.1: examples without tee or jq"; exit 1; }
	done &&
	grep -qi "replay" "$SRC/man/ep-apply.1" && grep -qi "replay" "$SRC/man/run-pipeline.1"
'

test_done
