/*
 * fuzz-ep-apply.c -- libFuzzer target for ep-apply, the Pitchlake domain
 * on the delta engine (the body: fuzz/apply-filter.h).  The seed corpus
 * holds the worked example, so mutations explore real frames.
 */
#include "dom/pitchlake/pitchlake.h"
#include "apply-filter.h"

FUZZ_APPLY_FILTER(&pitchlake_domain)
