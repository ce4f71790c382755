/*
 * ix_int.h -- the Intuition domain's row structs and table ids (internal to
 * common/dom/intuition).  Key columns first and contiguous.
 */
#ifndef PL_IX_INT_H
#define PL_IX_INT_H

#include <stdint.h>

#include "delta/delta.h"
#include "num/u256.h"

enum vault_type { VT_ATOM,
	VT_TRIPLE,
	VT_COUNTER };
enum term_type { TT_ATOM,
	TT_TRIPLE,
	TT_COUNTER };

/* The block fields every event table carries (transaction_information). */
struct evblock {
	u256 address, block_hash;
	uint64_t block_number, tx_index, block_ts;
	const char *network;
};

struct ev_atom {
	u256 tx;
	uint64_t log;
	struct evblock b;
	const char *atom_data, *raw_data;
	u256 atom_wallet, creator, term_id;
};
struct ev_triple {
	u256 tx;
	uint64_t log;
	struct evblock b;
	u256 creator, object_id, predicate_id, subject_id, term_id, counter_term_id;
};
struct ev_dep {
	u256 tx;
	uint64_t log;
	struct evblock b;
	u256 assets, assets_after_fees;
	uint64_t curve_id;
	u256 receiver, sender, shares, term_id, total_shares;
	uint64_t vault_type;
};
struct ev_red {
	u256 tx;
	uint64_t log;
	struct evblock b;
	u256 assets;
	uint64_t curve_id;
	u256 fees, receiver, sender, shares, term_id, total_shares;
	uint64_t vault_type;
};
struct ev_price {
	u256 tx;
	uint64_t log;
	struct evblock b;
	u256 term_id;
	uint64_t curve_id;
	u256 share_price, total_assets, total_shares;
	uint64_t vault_type;
};
struct ev_generic {
	u256 tx;
	uint64_t log;
	struct evblock b;
	const char *event_name, *event_data;
};

struct atom {
	u256 term_id, wallet_id, creator_id;
	const char *data, *raw_data, *type, *emoji, *label, *image;
	u256 value_id;
	const char *resolving_status;
	uint64_t block_number;
	u256 tx;
	uint64_t last_block, last_log;
};
struct triple {
	u256 term_id, creator_id, subject_id, predicate_id, object_id, counter_term_id;
	uint64_t block_number;
	u256 tx;
	uint64_t last_block, last_log;
};
struct position {
	u256 account_id, term_id;
	uint64_t curve_id;
	u256 shares, total_deposit, total_redeem;
	uint64_t last_shares_block, last_shares_log, last_deposit_block, last_deposit_log, last_redeem_block,
		last_redeem_log;
};
struct vault {
	u256 term_id;
	uint64_t curve_id;
	u256 total_shares, share_price, total_assets, market_cap;
	uint64_t position_count, vault_type, last_price_block, last_price_log;
};
struct term {
	u256 id;
	uint64_t type;
	u256 atom_id, triple_id, total_assets, total_market_cap;
};
struct triple_vault {
	u256 term_id, counter_term_id;
	uint64_t curve_id;
	u256 total_shares, total_assets;
	uint64_t position_count;
	u256 market_cap;
};
struct triple_term {
	u256 term_id, counter_term_id, total_assets, total_market_cap;
	uint64_t total_position_count;
};
/* predicate_object (a = predicate, b = object) and subject_predicate (a = subject, b = predicate) */
struct pair {
	u256 a, b;
	uint64_t triple_count, total_position_count;
	u256 total_market_cap;
};

enum {
	T_ATOM,
	T_ACE,
	T_DEP,
	T_GEN,
	T_POS,
	T_PO,
	T_RED,
	T_SPC,
	T_SP,
	T_TERM,
	T_TRIPLE,
	T_TCE,
	T_TT,
	T_TV,
	T_VAULT,
	IX_NTABS
};

extern const struct dl_table ix_tabs[IX_NTABS];

#endif
