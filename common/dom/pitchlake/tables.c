/*
 * tables.c -- the Pitchlake tables as the engine sees them (column names
 * and types exactly as sql/002-state.sql and pitchlake-spec.md §3), the
 * secondary indexes the event handlers use, archiving of settled rounds,
 * the snapshot's consistency check, and the domain descriptor.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "dom/pitchlake/pitchlake.h"

static const char *const state_names[] = {"Open", "Auctioning", "Running", "Settled"};

static const struct dl_col bids_key[] = {DL_COL("round_address", DL_FELT, bid, round), DL_COL("bid_id", DL_FELT, bid, bid_id)};
static const struct dl_col bids_cols[] = {DL_COL("buyer_address", DL_FELT, bid, buyer), DL_COL("round_address", DL_FELT, bid, round),
	DL_COL("bid_id", DL_FELT, bid, bid_id), DL_COL("tree_nonce", DL_U64, bid, tree_nonce), DL_COL("amount", DL_DEC, bid, amount),
	DL_COL("price", DL_DEC, bid, price)};
static const struct dl_col lp_key[] = {DL_COL("address", DL_FELT, lp, address), DL_COL("vault_address", DL_FELT, lp, vault)};
static const struct dl_col lp_cols[] = {DL_COL("address", DL_FELT, lp, address), DL_COL("vault_address", DL_FELT, lp, vault),
	DL_COL("stashed_balance", DL_DEC, lp, stashed), DL_COL("locked_balance", DL_DEC, lp, locked),
	DL_COL("unlocked_balance", DL_DEC, lp, unlocked), DL_COL("latest_block", DL_U64, lp, latest_block)};
static const struct dl_col lph_key[] = {DL_COL("address", DL_FELT, lphist, address), DL_COL("vault_address", DL_FELT, lphist, vault),
	DL_COL("block_number", DL_U64, lphist, block)};
static const struct dl_col lph_cols[] = {DL_COL("address", DL_FELT, lphist, address), DL_COL("vault_address", DL_FELT, lphist, vault),
	DL_COL("stashed_balance", DL_DEC, lphist, stashed), DL_COL("locked_balance", DL_DEC, lphist, locked),
	DL_COL("unlocked_balance", DL_DEC, lphist, unlocked), DL_COL("block_number", DL_U64, lphist, block)};
static const struct dl_col buyer_key[] = {DL_COL("address", DL_FELT, buyer, address), DL_COL("round_address", DL_FELT, buyer, round)};
static const struct dl_col buyer_cols[] = {DL_COL("address", DL_FELT, buyer, address), DL_COL("round_address", DL_FELT, buyer, round),
	DL_COL("has_minted", DL_BOOL, buyer, has_minted), DL_COL("has_refunded", DL_BOOL, buyer, has_refunded),
	DL_COL("mintable_options", DL_DEC, buyer, mintable), DL_COL("refundable_amount", DL_DEC, buyer, refundable)};
static const struct dl_col round_key[] = {DL_COL("address", DL_FELT, round, address)};
static const struct dl_col round_cols[] = {DL_COL("address", DL_FELT, round, address), DL_COL("vault_address", DL_FELT, round, vault),
	DL_COL("round_id", DL_U64, round, round_id), DL_ENUM_COL("state", round, state, state_names),
	DL_COL("available_options", DL_DEC, round, available), DL_COL("starting_liquidity", DL_DEC, round, starting),
	DL_COL("queued_liquidity", DL_DEC, round, queued), DL_COL("remaining_liquidity", DL_DEC, round, remaining),
	DL_COL("unsold_liquidity", DL_DEC, round, unsold), DL_COL("clearing_price", DL_DEC, round, clearing),
	DL_COL("settlement_price", DL_DEC, round, settlement), DL_COL("reserve_price", DL_DEC, round, reserve),
	DL_COL("strike_price", DL_DEC, round, strike), DL_COL("cap_level", DL_DEC, round, cap),
	DL_COL("sold_options", DL_DEC, round, sold), DL_COL("premiums", DL_DEC, round, premiums),
	DL_COL("payout_per_option", DL_DEC, round, ppo), DL_COL("start_date", DL_U64, round, start_date),
	DL_COL("end_date", DL_U64, round, end_date), DL_COL("settlement_date", DL_U64, round, settlement_date),
	DL_COL("deployment_date", DL_U64, round, deployment_date)};
static const struct dl_col q_key[] = {DL_COL("address", DL_FELT, queued, address), DL_COL("round_address", DL_FELT, queued, round)};
static const struct dl_col q_cols[] = {DL_COL("address", DL_FELT, queued, address), DL_COL("queued_liquidity", DL_DEC, queued, queued),
	DL_COL("bps", DL_DEC, queued, bps), DL_COL("round_address", DL_FELT, queued, round)};
static const struct dl_col v_key[] = {DL_COL("address", DL_FELT, vault, address)};
static const struct dl_col v_cols[] = {DL_COL("address", DL_FELT, vault, address), DL_COL("unlocked_balance", DL_DEC, vault, unlocked),
	DL_COL("locked_balance", DL_DEC, vault, locked), DL_COL("stashed_balance", DL_DEC, vault, stashed),
	DL_COL("current_round", DL_U64, vault, current_round), DL_COL("current_round_address", DL_FELT0, vault, current_round_address),
	DL_COL("latest_block", DL_U64, vault, latest_block), DL_COL("fossil_client_address", DL_FELT, vault, fossil),
	DL_COL("eth_address", DL_FELT, vault, eth), DL_COL("option_round_class_hash", DL_FELT, vault, class_hash),
	DL_COL("alpha", DL_DEC, vault, alpha), DL_COL("strike_level", DL_I128, vault, strike_level),
	DL_COL("round_transition_period", DL_DEC, vault, rtp), DL_COL("auction_duration", DL_DEC, vault, auction_dur),
	DL_COL("round_duration", DL_DEC, vault, round_dur), DL_COL("deployment_date", DL_U64, vault, deployment_date)};
static const struct dl_col vh_key[] = {DL_COL("address", DL_FELT, vhist, address), DL_COL("block_number", DL_U64, vhist, block)};
static const struct dl_col vh_cols[] = {DL_COL("unlocked_balance", DL_DEC, vhist, unlocked), DL_COL("locked_balance", DL_DEC, vhist, locked),
	DL_COL("stashed_balance", DL_DEC, vhist, stashed), DL_COL("address", DL_FELT, vhist, address),
	DL_COL("block_number", DL_U64, vhist, block)};
static const struct dl_col lprl_key[] = {DL_COL("address", DL_FELT, lprl, address), DL_COL("vault_address", DL_FELT, lprl, vault)};
static const struct dl_col lprl_cols[] = {DL_COL("address", DL_FELT, lprl, address), DL_COL("vault_address", DL_FELT, lprl, vault),
	DL_COL("round_address", DL_FELT, lprl, round), DL_COL("starting_liquidity", DL_DEC, lprl, starting)};
static const struct dl_col cur_key[] = {DL_COL("vault_address", DL_FELT, cursor, vault)};
static const struct dl_col cur_cols[] = {DL_COL("vault_address", DL_FELT, cursor, vault), DL_COL("block_number", DL_U64, cursor, block)};

static void vault_image(const void *ent, uint64_t block, void *out)
{
	const struct vault *v = ent;
	struct vhist *h = out;
	h->address = v->address;
	h->block = block;
	h->unlocked = v->unlocked;
	h->locked = v->locked;
	h->stashed = v->stashed;
}

static void lp_image(const void *ent, uint64_t block, void *out)
{
	const struct lp *l = ent;
	struct lphist *h = out;
	h->address = l->address;
	h->vault = l->vault;
	h->block = block;
	h->unlocked = l->unlocked;
	h->locked = l->locked;
	h->stashed = l->stashed;
}

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))
/* A stored table; one with history (per-block images in table h); a history table of entity table e. */
#define T(name, s, klen, k, c)                                                  \
	{                                                                       \
		name, sizeof(struct s), klen, k, N(k), c, N(c), -1, 0, -1, NULL \
	}
#define TH(name, s, klen, k, c, h)                                                                            \
	{                                                                                                     \
		name, sizeof(struct s), klen, k, N(k), c, N(c), h, offsetof(struct s, latest_block), -1, NULL \
	}
#define HIST(name, s, klen, k, c, e, img)                                     \
	{                                                                     \
		name, sizeof(struct s), klen, k, N(k), c, N(c), -1, 0, e, img \
	}

static const struct dl_table tabs[T_COUNT] = {
	[T_BIDS] = T("Bids", bid, 64, bids_key, bids_cols),
	[T_LP] = TH("Liquidity_Providers", lp, 64, lp_key, lp_cols, T_LP_HIST),
	[T_LP_HIST] = HIST("Liquidity_Providers_Historic", lphist, 72, lph_key, lph_cols, T_LP, lp_image),
	[T_BUYERS] = T("Option_Buyers", buyer, 64, buyer_key, buyer_cols),
	[T_ROUNDS] = T("Option_Rounds", round, 32, round_key, round_cols),
	[T_QUEUED] = T("Queued_Liquidity", queued, 64, q_key, q_cols),
	[T_VAULTS] = TH("VaultStates", vault, 32, v_key, v_cols, T_VAULT_HIST),
	[T_VAULT_HIST] = HIST("Vault_Historic", vhist, 40, vh_key, vh_cols, T_VAULTS, vault_image),
	[T_LPRL] = T("pl_lp_round_liquidity", lprl, 64, lprl_key, lprl_cols),
	[T_CURSOR] = T("pl_vault_cursor", cursor, 32, cur_key, cur_cols),
};

/* ---------------------------------------------------------------- indexes */

struct ridx {
	u256 vault;
	uint64_t round_id;
	struct round *r;
};

struct pl {
	struct hmap idx_lps;	/* vault -> struct vidx (LPs of the vault) */
	struct hmap idx_bids;	/* round -> struct vidx (bids of the round) */
	struct hmap idx_queued; /* round -> struct vidx (queued withdrawals of the round) */
	struct hmap idx_rounds; /* (vault, round_id) -> struct ridx */
	uint64_t archived_rounds, archived_buyers;
};

static void vec_add(struct vec *v, void *p)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 8;
		v->p = xrealloc(v->p, v->cap * sizeof *v->p);
	}
	v->p[v->n++] = p;
}

static void vec_remove(struct vec *v, void *p)
{
	for (uint32_t i = 0; i < v->n; i++)
		if (v->p[i] == p) {
			v->p[i] = v->p[--v->n];
			return;
		}
}

static struct vidx *vidx_get(struct hmap *m, const u256 *key, int create)
{
	struct vidx *x = hm_get(m, key);
	if (!x && create) {
		x = xcalloc(1, sizeof *x);
		x->key = *key;
		hm_put(m, x);
	}
	return x;
}

static void vidx_drop(struct hmap *m, const u256 *key, void *p)
{
	struct vidx *x = hm_get(m, key);
	if (!x)
		return;
	vec_remove(&x->v, p);
	if (x->v.n == 0) {
		hm_del(m, key);
		free(x->v.p);
		free(x);
	}
}

struct vidx *pl_lps_of(struct dl *dl, const u256 *vault)
{
	struct pl *pl = dl_dom(dl);
	return hm_get(&pl->idx_lps, vault);
}

struct vidx *pl_bids_of(struct dl *dl, const u256 *round)
{
	struct pl *pl = dl_dom(dl);
	return hm_get(&pl->idx_bids, round);
}

struct round *pl_round_by_id(struct dl *dl, const u256 *vault, uint64_t round_id)
{
	struct pl *pl = dl_dom(dl);
	struct ridx k;
	memset(&k, 0, sizeof k);
	k.vault = *vault;
	k.round_id = round_id;
	struct ridx *x = hm_get(&pl->idx_rounds, &k);
	return x ? x->r : NULL;
}

static void on_insert(struct dl *dl, int tab, void *row)
{
	struct pl *pl = dl_dom(dl);
	if (tab == T_LP) {
		struct lp *l = row;
		vec_add(&vidx_get(&pl->idx_lps, &l->vault, 1)->v, l);
	} else if (tab == T_BIDS) {
		struct bid *b = row;
		vec_add(&vidx_get(&pl->idx_bids, &b->round, 1)->v, b);
	} else if (tab == T_QUEUED) {
		struct queued *q = row;
		vec_add(&vidx_get(&pl->idx_queued, &q->round, 1)->v, q);
	} else if (tab == T_ROUNDS) {
		struct round *r = row;
		struct ridx *x = xcalloc(1, sizeof *x);
		x->vault = r->vault;
		x->round_id = r->round_id;
		x->r = r;
		hm_put(&pl->idx_rounds, x);
	}
}

static void on_delete(struct dl *dl, int tab, void *row)
{
	struct pl *pl = dl_dom(dl);
	if (tab == T_LP) {
		struct lp *l = row;
		vidx_drop(&pl->idx_lps, &l->vault, l);
	} else if (tab == T_BIDS) {
		struct bid *b = row;
		vidx_drop(&pl->idx_bids, &b->round, b);
	} else if (tab == T_QUEUED) {
		struct queued *q = row;
		vidx_drop(&pl->idx_queued, &q->round, q);
	} else if (tab == T_ROUNDS) {
		struct round *r = row;
		struct ridx k;
		memset(&k, 0, sizeof k);
		k.vault = r->vault;
		k.round_id = r->round_id;
		free(hm_del(&pl->idx_rounds, &k));
	}
}

/* ---------------------------------------------------------------- archive */

/* Drop a round's rows of table tab (bids or queued withdrawals) from memory. */
static void archive_rows(struct dl *dl, struct hmap *idx, int tab, const u256 *round)
{
	/* Out of the index first, so that forgetting each row is O(1). */
	struct vidx *x = hm_del(idx, round);
	if (!x)
		return;
	for (uint32_t i = 0; i < x->v.n; i++)
		dl_forget_row(dl, tab, x->v.p[i]);
	free(x->v.p);
	free(x);
}

/*
 * An option buyer's row can change after its round's auction only by
 * has_minted and has_refunded going from false to true (OptionsMinted and
 * OptionsExercised, UnusedBidsRefunded: spec §6.4; the contract lets any
 * account call them for a round whose auction ended, any number of times,
 * and events.c treats them as no-ops for an account without a row).  With
 * both set, no event can change it again; once its last change has left the
 * undo journal (so the AuctionEnded that wrote its amounts is final too),
 * the row is done.
 */
static int buyer_is_done(struct dl *dl, const struct buyer *b)
{
	return b->has_minted && b->has_refunded && !dl_journal_mentions(dl, T_BUYERS, b);
}

static void archive_buyer(struct dl *dl, struct buyer *b)
{
	struct pl *pl = dl_dom(dl);
	dl_forget_row(dl, T_BUYERS, b);
	pl->archived_buyers++;
}

/*
 * Rows whose changes are final leave ep-apply's memory and snapshot, so
 * that the state grows with live entities, not with history; they stay in
 * the database (for the backends), and the database snapshot omits the same
 * rows (sql/005-archive.sql, sql/060-archive-buyers.sql):
 * - once a settled round leaves the undo journal its settlement is final:
 *   the round, its bids and its queued withdrawals can never change again
 *   (mints, refunds and exercises still name it: events.c then changes the
 *   buyer rows still in memory, without the round's own checks);
 * - a done option buyer (buyer_is_done), when its last change leaves it.
 */
/* A settled round whose settlement is final: its bids, queued withdrawals and itself go. */
static void archive_round(struct dl *dl, struct round *r)
{
	struct pl *pl = dl_dom(dl);
	u256 addr = r->address;
	archive_rows(dl, &pl->idx_bids, T_BIDS, &addr);
	archive_rows(dl, &pl->idx_queued, T_QUEUED, &addr);
	dl_forget_row(dl, T_ROUNDS, r);
	pl->archived_rounds++;
}

static void on_final(struct dl *dl, int tab, const void *key)
{
	if (tab == T_BUYERS) {
		struct buyer *b = dl_get(dl, T_BUYERS, key);
		if (b && buyer_is_done(dl, b))
			archive_buyer(dl, b);
		return;
	}
	if (tab != T_ROUNDS)
		return;
	struct round *r = dl_get(dl, T_ROUNDS, key);
	if (!r || r->state != R_SETTLED || dl_journal_mentions(dl, T_ROUNDS, key))
		return;
	archive_round(dl, r);
}

/* ---------------------------------------------------------------- lifecycle */

static void *init(struct dl *dl)
{
	(void)dl;
	struct pl *pl = xcalloc(1, sizeof *pl);
	hm_init(&pl->idx_lps, 32);
	hm_init(&pl->idx_bids, 32);
	hm_init(&pl->idx_queued, 32);
	hm_init(&pl->idx_rounds, 40);
	return pl;
}

static void free_vidx(struct hmap *m)
{
	size_t pos = 0;
	struct vidx *x;
	while ((x = hm_next(m, &pos))) {
		free(x->v.p);
		free(x);
	}
	hm_free(m);
}

static void fini(struct dl *dl, void *dom)
{
	(void)dl;
	struct pl *pl = dom;
	free_vidx(&pl->idx_lps);
	free_vidx(&pl->idx_bids);
	free_vidx(&pl->idx_queued);
	size_t pos = 0;
	void *r;
	while ((r = hm_next(&pl->idx_rounds, &pos)))
		free(r);
	hm_free(&pl->idx_rounds);
	free(pl);
}

/* Every LP, round and bid must hang off an existing parent. */
static int check(struct dl *dl)
{
	size_t pos = 0;
	struct lp *l;
	while ((l = dl_next_row(dl, T_LP, &pos)))
		if (!dl_get(dl, T_VAULTS, &l->vault))
			return error("liquidity provider of a vault that is not in the snapshot");
	pos = 0;
	struct round *r;
	while ((r = dl_next_row(dl, T_ROUNDS, &pos)))
		if (!dl_get(dl, T_VAULTS, &r->vault))
			return error("option round of a vault that is not in the snapshot");
	pos = 0;
	struct bid *b;
	while ((b = dl_next_row(dl, T_BIDS, &pos)))
		if (!dl_get(dl, T_ROUNDS, &b->round))
			return error("bid of a round that is not in the snapshot");
	/* A snapshot written before rounds and buyers were archived may hold final ones. */
	struct vec fin = {NULL, 0, 0};
	pos = 0;
	while ((r = dl_next_row(dl, T_ROUNDS, &pos)))
		if (r->state == R_SETTLED && !dl_journal_mentions(dl, T_ROUNDS, &r->address))
			vec_add(&fin, r);
	for (uint32_t i = 0; i < fin.n; i++)
		archive_round(dl, fin.p[i]);
	free(fin.p);
	struct vec done = {NULL, 0, 0};
	struct buyer *o;
	pos = 0;
	while ((o = dl_next_row(dl, T_BUYERS, &pos)))
		if (buyer_is_done(dl, o))
			vec_add(&done, o);
	for (uint32_t i = 0; i < done.n; i++)
		archive_buyer(dl, done.p[i]);
	free(done.p);
	return 0;
}

static void stats(struct dl *dl, struct sb *out)
{
	struct pl *pl = dl_dom(dl);
	sb_addf(out, ", archived rounds %llu, archived buyers %llu", (unsigned long long)pl->archived_rounds,
		(unsigned long long)pl->archived_buyers);
}

const struct dl_domain pitchlake_domain = {
	.name = "pitchlake",
	.tabs = tabs,
	.ntabs = T_COUNT,
	.init = init,
	.fini = fini,
	.on_insert = on_insert,
	.on_delete = on_delete,
	.event = pl_apply_event,
	.on_final = on_final,
	.check = check,
	.stats = stats,
};
