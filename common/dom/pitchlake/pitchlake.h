/*
 * pitchlake.h -- the Pitchlake domain on the delta engine: its tables (the
 * row structs and their ids), the secondary indexes its event handlers
 * use, and the descriptor ep-apply hands to the engine.
 *
 * tables.c holds the table descriptors and the domain hooks (indexes,
 * archiving of settled rounds, snapshot checks); events.c the vault events
 * and the contract's state transitions.
 */
#ifndef PL_PITCHLAKE_H
#define PL_PITCHLAKE_H

#include <stdint.h>

#include "core/hmap.h"
#include "delta/delta.h"
#include "num/u256.h"

extern const struct dl_domain pitchlake_domain;

/* Table ids, in canonical (bytewise name) order. */
enum {
	T_BIDS,
	T_LP,
	T_LP_HIST,
	T_BUYERS,
	T_ROUNDS,
	T_QUEUED,
	T_VAULTS,
	T_VAULT_HIST,
	T_LPRL,
	T_CURSOR,
	T_COUNT
};

enum { R_OPEN,
	R_AUCTIONING,
	R_RUNNING,
	R_SETTLED };

struct vault {
	u256 address;
	u256 unlocked, locked, stashed, current_round_address, fossil, eth, class_hash,
		alpha, strike_level, rtp, auction_dur, round_dur;
	uint64_t current_round, latest_block, deployment_date;
};
struct vhist {
	u256 address;
	uint64_t block;
	u256 unlocked, locked, stashed;
};
struct lp {
	u256 address, vault;
	u256 stashed, locked, unlocked;
	uint64_t latest_block;
};
struct lphist {
	u256 address, vault;
	uint64_t block;
	u256 stashed, locked, unlocked;
};
struct round {
	u256 address;
	u256 vault;
	uint64_t round_id, state;
	u256 available, starting, queued, remaining, unsold, clearing, settlement, reserve,
		strike, cap, sold, premiums, ppo;
	uint64_t start_date, end_date, settlement_date, deployment_date;
};
struct queued {
	u256 address, round;
	u256 queued, bps;
};
struct buyer {
	u256 address, round;
	uint64_t has_minted, has_refunded;
	u256 mintable, refundable;
};
struct bid {
	u256 round, bid_id;
	u256 buyer;
	uint64_t tree_nonce;
	u256 amount, price;
};
struct lprl {
	u256 address, vault;
	u256 round, starting;
};
struct cursor {
	u256 vault;
	uint64_t block;
};

/* A pointer vector (secondary indexes). */
struct vec {
	void **p;
	uint32_t n, cap;
};
struct vidx {
	u256 key;
	struct vec v;
};

/* tables.c: the indexes. */
struct vidx *pl_lps_of(struct dl *dl, const u256 *vault);
struct vidx *pl_bids_of(struct dl *dl, const u256 *round);
struct round *pl_round_by_id(struct dl *dl, const u256 *vault, uint64_t round_id);

/* events.c: apply one event line (the domain's event hook). */
int pl_apply_event(struct dl *dl);

#endif
