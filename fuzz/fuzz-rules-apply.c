/*
 * fuzz-rules-apply.c -- libFuzzer target for rules-apply, the ERC-8004
 * rules domain on the delta engine (the body: fuzz/apply-filter.h).  The
 * seed corpus holds Rules, StartBlock and RevertBlock frames.
 */
#include "dom/erc8004/erc8004.h"
#include "apply-filter.h"

FUZZ_APPLY_FILTER(&erc8004_domain)
