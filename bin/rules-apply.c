/*
 * rules-apply -- the ERC-8004 rules domain as an apply filter: event frames
 * of erc8004 work items (Rules, StartBlock, RevertBlock) in, delta frames of
 * checkpoints, compiled rules, trigger_state and jobs out (docs/erc8004.md).
 */
#include "delta/delta.h"
#include "dom/erc8004/erc8004.h"

static const char about[] =
	"Evaluate ERC-8004 registry events against the users' triggers (agentauri's rules: conditions ANDed,\n"
	"score/tag/agent/event-type conditions, stateful ema_threshold and rate_limit) and emit one job per matched\n"
	"action, with per-chain checkpoints, exact reverts and rule changes in work-item order (docs/erc8004.md).\n";

int main(int argc, char **argv)
{
	return dl_main(argc, argv, &erc8004_domain, about);
}
