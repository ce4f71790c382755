/*
 * ep_int.h -- internals shared by ep.c (tables, frames, journal, snapshot)
 * and ep_events.c (the Pitchlake event handlers).  Not a public interface.
 */
#ifndef PL_EP_INT_H
#define PL_EP_INT_H

#include <stdint.h>

#include "ep.h"
#include "hmap.h"
#include "io.h"
#include "json.h"
#include "u256.h"

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

#define KEY_MAX 72

/*
 * Row structs: the key columns come first and contiguous, so the first
 * keylen bytes of a row are its key (hmap relies on it).  Rows are always
 * zeroed before use and copied with memcpy, so padding compares equal.
 */
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

/* First touch of a (table, key) in a frame or a block: the before-image. */
struct touch {
	uint64_t tab; /* 64 bits so that key is 8-byte aligned (rows are read in place) */
	unsigned char key[KEY_MAX];
	void *before; /* owned copy, NULL if the row did not exist */
	void *after;  /* historic tables only: owned copy of the final image */
	uint32_t order;
};

struct jentry {
	uint64_t tab; /* 64 bits so that key is 8-byte aligned (rows are read in place) */
	unsigned char key[KEY_MAX];
	void *before; /* owned copy or NULL */
};

struct jblock {
	uint64_t number;
	u256 hash;
	struct jentry *e;
	uint32_t n, cap;
	struct jblock *next;
};

struct touchset {
	struct hmap map;
	struct touch **list;
	uint32_t n, cap;
};

struct ep {
	uint64_t finality;
	struct hmap tab[T_COUNT]; /* stored tables; historic ones stay empty */
	struct hmap idx_lps;	  /* vault -> struct vidx (LPs of the vault) */
	struct hmap idx_bids;	  /* round -> struct vidx (bids of the round) */
	struct hmap idx_queued;	  /* round -> struct vidx (queued withdrawals of the round) */
	struct hmap idx_rounds;	  /* (vault, round_id) -> struct ridx */

	/* journal, oldest block first */
	struct jblock *jhead, *jtail;
	uint64_t finalized;
	int have_cp;
	int64_t cp_driver, cp_seq;

	/* the frame in progress */
	int in_frame, skipping, multi;
	int ftype; /* F_START, F_REVERT, F_CATCHUP */
	int64_t f_driver, f_seq, f_block;
	u256 f_hash;
	uint64_t f_maxblock;
	struct touchset frame; /* before-images for the frame's put/del lines */
	struct touchset blk;   /* before-images for the current block (multi-block frames) */
	int blk_open;
	uint64_t cur_block, cur_time;
	u256 cur_hash;
	struct touch **hist_pending; /* historic rows touched in the current block */
	uint32_t nhist, caphist;
	struct jblock *pending; /* journal blocks of this frame (committed at end) */
	struct sb undo;		/* undo lines of a multi-block frame */
	uint64_t lineno;

	struct js js;
	struct sb tmp, tmp2;
	struct ep_stats st;
	int loading_journal;
	struct jblock *load_block;
};

struct vidx {
	u256 key;
	struct vec v;
};
struct ridx {
	u256 vault;
	uint64_t round_id;
	struct round *r;
};

/* ep.c: row access for the event handlers. */
void *ep_get(struct ep *ep, int tab, const void *key);
/* Record the before-image (once per frame and block), then return row for mutation. */
void *ep_mut(struct ep *ep, int tab, void *row);
/* Create a zeroed row with the given key (which must be absent). */
void *ep_new_row(struct ep *ep, int tab, const void *key);
/* Insert a copy of a complete row (its key must be absent); indexes follow its columns. */
void *ep_insert_row(struct ep *ep, int tab, const void *full);
void ep_del_row(struct ep *ep, int tab, void *row);
/* Before changing a vault's / LP's balances in the current block: records the
 * row's and its historic row's before-images; sets latest_block. */
struct vault *ep_vault_update(struct ep *ep, struct vault *v);
struct lp *ep_lp_update(struct ep *ep, struct lp *l);
struct vidx *ep_lps_of(struct ep *ep, const u256 *vault);
struct vidx *ep_bids_of(struct ep *ep, const u256 *round);
struct round *ep_round_by_id(struct ep *ep, const u256 *vault, uint64_t round_id);

/* ep_events.c: apply one decoded event line (token 0 of ep->js). */
int ep_apply_event(struct ep *ep, int ev, const u256 *vault);

#endif
