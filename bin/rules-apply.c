/*
 * rules-apply -- the ERC-8004 rules domain as an apply filter: event frames
 * of erc8004 work items (Rules, StartBlock, RevertBlock) in, delta frames of
 * checkpoints, compiled rules, trigger_state and jobs out (docs/erc8004.md).
 * The engine's options (dl_main) plus --skip-bad-events.
 */
#include <string.h>

#include "delta/delta.h"
#include "dom/erc8004/erc8004.h"

static const char about[] =
	"Evaluate ERC-8004 registry events against the users' triggers (agentauri's rules: conditions ANDed,\n"
	"score/tag/agent/event-type conditions, stateful ema_threshold and rate_limit) and emit one job per matched\n"
	"action, with per-chain checkpoints, exact reverts and rule changes in work-item order (docs/erc8004.md).\n"
	"An unreadable event row stops it (exit 65, quarantined by the supervisor) unless --skip-bad-events is\n"
	"given (first option): then the row is recorded in skipped_events and skipped.\n";

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--skip-bad-events")) {
		erc8004_skip_bad_events(1);
		argv[1] = argv[0];
		return dl_main(argc - 1, argv + 1, &erc8004_domain, about);
	}
	return dl_main(argc, argv, &erc8004_domain, about);
}
