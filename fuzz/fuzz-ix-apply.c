/*
 * fuzz-ix-apply.c -- libFuzzer target for ix-apply, the Intuition domain
 * on the delta engine (the body: fuzz/apply-filter.h).  The seed corpus
 * holds a small frame file (tests/data/ix-small.frames).
 */
#include "dom/intuition/intuition.h"
#include "apply-filter.h"

FUZZ_APPLY_FILTER(&ix_domain)
