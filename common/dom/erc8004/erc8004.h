/*
 * erc8004.h -- the ERC-8004 rules domain (docs/erc8004.md): agentauri's
 * trigger evaluation as a delta-engine domain.  Work items (sql/041):
 *
 *   Rules       one trigger's whole definition (trigger, conditions,
 *               actions) as committed: compiled into rule_triggers,
 *               rule_conditions, rule_actions (a malformed one is stored as
 *               status "malformed" with its reason and condition).
 *   StartBlock  the events of one block of one chain, by log_index: each
 *               is evaluated against every active trigger of its chain and
 *               registry (conditions ANDed, stateful ones in trigger_state),
 *               one jobs row per matched action; checkpoints per chain.
 *   RevertBlock undone from the journal (the engine).
 *
 * Exact integers only; EMA in fixed point (ERC_EMA_SCALE, floor).
 */
#ifndef PL_DOM_ERC8004_H
#define PL_DOM_ERC8004_H

#include "delta/delta.h"

/* EMA values are stored as ema * 10^18, rounded toward zero (floor). */
#define ERC_EMA_SCALE_DIGITS 18

extern const struct dl_domain erc8004_domain;

/*
 * 0 (default): an unreadable event row is refused (exit 65, a reject line:
 * the supervisor quarantines it and stops).  1: it is recorded in
 * skipped_events (work item, ordinal in the frame, reason) and skipped.
 */
void erc8004_skip_bad_events(int on);

#endif
