/*
 * fuzz-stake-apply.c -- libFuzzer target for stake-apply, the StakeVault
 * domain on the delta engine (the body: fuzz/apply-filter.h).  The seed
 * corpus holds rpc-listen frames of each StakeVault log and a revert
 * (made with tests/stakevault/frames.sh).
 */
#include "dom/stakevault/stakevault.h"
#include "apply-filter.h"

FUZZ_APPLY_FILTER(&stakevault_domain)
