/*
 * ep-apply -- the Pitchlake state machine as a filter: event frames on stdin,
 * delta frames on stdout (docs/formats.md).  Deterministic: the same snapshot
 * and input give byte-identical output.  The domain is in
 * common/dom/pitchlake/, the filter around it in common/delta/main.c.
 */
#include "delta/delta.h"
#include "dom/pitchlake/pitchlake.h"

static const char about[] =
	"The Pitchlake vaults: every event of the deployed vault ABI turned into the\n"
	"rows of VaultStates, Liquidity_Providers, Option_Rounds, Option_Buyers, Bids,\n"
	"Queued_Liquidity and their history, exactly as the contracts compute them.\n";

int main(int argc, char **argv)
{
	return dl_main(argc, argv, &pitchlake_domain, about);
}
