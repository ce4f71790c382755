/*
 * ep.c -- tables, frames, the undo journal and snapshots of the Pitchlake
 * state machine (the event handlers are in ep_events.c).
 *
 * Every mutation goes through ep_mut / ep_new_row / ep_del_row, which keep
 * the first before-image of each (table, key) touched in the frame (for the
 * put/del lines) and, in multi-block frames, in the current block (for the
 * undo journal).  At the end of a frame the touched rows are compared with
 * their before-images and the changes are written in canonical order.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "die.h"
#include "ep_int.h"

enum { C_FELT,
	C_FELT0,
	C_DEC,
	C_U64,
	C_I128,
	C_BOOL,
	C_STATE };

struct col {
	const char *name;
	uint8_t nlen; /* strlen(name) */
	uint8_t type;
	uint16_t off;
};

struct tabdef {
	const char *name;
	uint16_t size, keylen;
	const struct col *key;
	int nkey;
	const struct col *cols;
	int ncols;
	int stored;
};

#define C(n, t, s, f)                                                           \
	{                                                                       \
		n, (uint8_t)(sizeof(n) - 1), t, (uint16_t)offsetof(struct s, f) \
	}

static const struct col bids_key[] = {C("round_address", C_FELT, bid, round), C("bid_id", C_FELT, bid, bid_id)};
static const struct col bids_cols[] = {C("buyer_address", C_FELT, bid, buyer), C("round_address", C_FELT, bid, round),
	C("bid_id", C_FELT, bid, bid_id), C("tree_nonce", C_U64, bid, tree_nonce), C("amount", C_DEC, bid, amount),
	C("price", C_DEC, bid, price)};
static const struct col lp_key[] = {C("address", C_FELT, lp, address), C("vault_address", C_FELT, lp, vault)};
static const struct col lp_cols[] = {C("address", C_FELT, lp, address), C("vault_address", C_FELT, lp, vault),
	C("stashed_balance", C_DEC, lp, stashed), C("locked_balance", C_DEC, lp, locked),
	C("unlocked_balance", C_DEC, lp, unlocked), C("latest_block", C_U64, lp, latest_block)};
static const struct col lph_key[] = {C("address", C_FELT, lphist, address), C("vault_address", C_FELT, lphist, vault),
	C("block_number", C_U64, lphist, block)};
static const struct col lph_cols[] = {C("address", C_FELT, lphist, address), C("vault_address", C_FELT, lphist, vault),
	C("stashed_balance", C_DEC, lphist, stashed), C("locked_balance", C_DEC, lphist, locked),
	C("unlocked_balance", C_DEC, lphist, unlocked), C("block_number", C_U64, lphist, block)};
static const struct col buyer_key[] = {C("address", C_FELT, buyer, address), C("round_address", C_FELT, buyer, round)};
static const struct col buyer_cols[] = {C("address", C_FELT, buyer, address), C("round_address", C_FELT, buyer, round),
	C("has_minted", C_BOOL, buyer, has_minted), C("has_refunded", C_BOOL, buyer, has_refunded),
	C("mintable_options", C_DEC, buyer, mintable), C("refundable_amount", C_DEC, buyer, refundable)};
static const struct col round_key[] = {C("address", C_FELT, round, address)};
static const struct col round_cols[] = {C("address", C_FELT, round, address), C("vault_address", C_FELT, round, vault),
	C("round_id", C_U64, round, round_id), C("state", C_STATE, round, state),
	C("available_options", C_DEC, round, available), C("starting_liquidity", C_DEC, round, starting),
	C("queued_liquidity", C_DEC, round, queued), C("remaining_liquidity", C_DEC, round, remaining),
	C("unsold_liquidity", C_DEC, round, unsold), C("clearing_price", C_DEC, round, clearing),
	C("settlement_price", C_DEC, round, settlement), C("reserve_price", C_DEC, round, reserve),
	C("strike_price", C_DEC, round, strike), C("cap_level", C_DEC, round, cap),
	C("sold_options", C_DEC, round, sold), C("premiums", C_DEC, round, premiums),
	C("payout_per_option", C_DEC, round, ppo), C("start_date", C_U64, round, start_date),
	C("end_date", C_U64, round, end_date), C("settlement_date", C_U64, round, settlement_date),
	C("deployment_date", C_U64, round, deployment_date)};
static const struct col q_key[] = {C("address", C_FELT, queued, address), C("round_address", C_FELT, queued, round)};
static const struct col q_cols[] = {C("address", C_FELT, queued, address), C("queued_liquidity", C_DEC, queued, queued),
	C("bps", C_DEC, queued, bps), C("round_address", C_FELT, queued, round)};
static const struct col v_key[] = {C("address", C_FELT, vault, address)};
static const struct col v_cols[] = {C("address", C_FELT, vault, address), C("unlocked_balance", C_DEC, vault, unlocked),
	C("locked_balance", C_DEC, vault, locked), C("stashed_balance", C_DEC, vault, stashed),
	C("current_round", C_U64, vault, current_round), C("current_round_address", C_FELT0, vault, current_round_address),
	C("latest_block", C_U64, vault, latest_block), C("fossil_client_address", C_FELT, vault, fossil),
	C("eth_address", C_FELT, vault, eth), C("option_round_class_hash", C_FELT, vault, class_hash),
	C("alpha", C_DEC, vault, alpha), C("strike_level", C_I128, vault, strike_level),
	C("round_transition_period", C_DEC, vault, rtp), C("auction_duration", C_DEC, vault, auction_dur),
	C("round_duration", C_DEC, vault, round_dur), C("deployment_date", C_U64, vault, deployment_date)};
static const struct col vh_key[] = {C("address", C_FELT, vhist, address), C("block_number", C_U64, vhist, block)};
static const struct col vh_cols[] = {C("unlocked_balance", C_DEC, vhist, unlocked), C("locked_balance", C_DEC, vhist, locked),
	C("stashed_balance", C_DEC, vhist, stashed), C("address", C_FELT, vhist, address),
	C("block_number", C_U64, vhist, block)};
static const struct col lprl_key[] = {C("address", C_FELT, lprl, address), C("vault_address", C_FELT, lprl, vault)};
static const struct col lprl_cols[] = {C("address", C_FELT, lprl, address), C("vault_address", C_FELT, lprl, vault),
	C("round_address", C_FELT, lprl, round), C("starting_liquidity", C_DEC, lprl, starting)};
static const struct col cur_key[] = {C("vault_address", C_FELT, cursor, vault)};
static const struct col cur_cols[] = {C("vault_address", C_FELT, cursor, vault), C("block_number", C_U64, cursor, block)};

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))
#define T(name, s, klen, k, c, stored)                                 \
	{                                                              \
		name, sizeof(struct s), klen, k, N(k), c, N(c), stored \
	}

static const struct tabdef tabs[T_COUNT] = {
	[T_BIDS] = T("Bids", bid, 64, bids_key, bids_cols, 1),
	[T_LP] = T("Liquidity_Providers", lp, 64, lp_key, lp_cols, 1),
	[T_LP_HIST] = T("Liquidity_Providers_Historic", lphist, 72, lph_key, lph_cols, 0),
	[T_BUYERS] = T("Option_Buyers", buyer, 64, buyer_key, buyer_cols, 1),
	[T_ROUNDS] = T("Option_Rounds", round, 32, round_key, round_cols, 1),
	[T_QUEUED] = T("Queued_Liquidity", queued, 64, q_key, q_cols, 1),
	[T_VAULTS] = T("VaultStates", vault, 32, v_key, v_cols, 1),
	[T_VAULT_HIST] = T("Vault_Historic", vhist, 40, vh_key, vh_cols, 0),
	[T_LPRL] = T("pl_lp_round_liquidity", lprl, 64, lprl_key, lprl_cols, 1),
	[T_CURSOR] = T("pl_vault_cursor", cursor, 32, cur_key, cur_cols, 1),
};

static const char *const state_names[] = {"Open", "Auctioning", "Running", "Settled"};

/* ---------------------------------------------------------------- JSON of rows */

/*
 * Felts repeat a lot in the output (every row of a vault names it), so their
 * hex text is cached in a small direct-mapped table.  Output is unaffected.
 */
#define HEXCACHE 8192
static struct hexcache {
	u256 v;
	uint8_t len;
	char s[U256_HEX_MAX];
} hexcache[HEXCACHE];

static size_t felt_hex(const u256 *u, char *o)
{
	if (u256_fits64(u) && u->w[0] < 0x10000)
		return u256_format_hex(u, o); /* small values: formatting is cheaper */
	struct hexcache *c = &hexcache[(u->w[0] ^ (u->w[3] >> 7)) & (HEXCACHE - 1)];
	if (c->len == 0 || !u256_eq(&c->v, u)) {
		c->v = *u;
		c->len = (uint8_t)u256_format_hex(u, c->s);
	}
	memcpy(o, c->s, c->len);
	return c->len;
}

/* Append one column value; the caller has reserved room (sb_grow) for it. */
static void add_col(struct sb *sb, const struct col *c, const void *row)
{
	const unsigned char *p = (const unsigned char *)row + c->off;
	const u256 *u = (const u256 *)(const void *)p;
	char *o = sb->buf + sb->len;
	uint64_t v;
	switch (c->type) {
	case C_FELT0:
		if (u256_is_zero(u)) {
			memcpy(o, "null", 4);
			o += 4;
			break;
		}
		/* fall through */
	case C_FELT:
		*o++ = '"';
		o += felt_hex(u, o);
		*o++ = '"';
		break;
	case C_DEC:
		*o++ = '"';
		o += u256_format_dec(u, o);
		*o++ = '"';
		break;
	case C_U64: {
		char tmp[24];
		int i = 24;
		memcpy(&v, p, 8);
		do {
			tmp[--i] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		*o++ = '"';
		memcpy(o, tmp + i, (size_t)(24 - i));
		o += 24 - i;
		*o++ = '"';
		break;
	}
	case C_I128: {
		char buf[U256_DEC_MAX + 1];
		if (felt_format_i128(u, buf) < 0)
			strcpy(buf, "0");
		size_t n = strlen(buf);
		*o++ = '"';
		memcpy(o, buf, n);
		o += n;
		*o++ = '"';
		break;
	}
	case C_BOOL:
		memcpy(&v, p, 8);
		memcpy(o, v ? "true" : "false", v ? 4 : 5);
		o += v ? 4 : 5;
		break;
	case C_STATE: {
		memcpy(&v, p, 8);
		const char *n = state_names[v & 3];
		size_t l = strlen(n);
		*o++ = '"';
		memcpy(o, n, l);
		o += l;
		*o++ = '"';
		break;
	}
	}
	*o = '\0';
	sb->len = (size_t)(o - sb->buf);
}

static void add_obj(struct sb *sb, const struct col *cols, int n, const void *row)
{
	for (int i = 0; i < n; i++) {
		/* name, quotes, separators and the widest value (hex felt: 66, i128: 80) */
		sb_grow(sb, (size_t)cols[i].nlen + 96);
		char *o = sb->buf + sb->len;
		*o++ = i ? ',' : '{';
		*o++ = '"';
		memcpy(o, cols[i].name, cols[i].nlen);
		o += cols[i].nlen;
		*o++ = '"';
		*o++ = ':';
		sb->len = (size_t)(o - sb->buf);
		add_col(sb, &cols[i], row);
	}
	sb_addc(sb, n ? '}' : '{');
	if (!n)
		sb_addc(sb, '}');
}

static void add_key(struct sb *sb, int tab, const void *row)
{
	add_obj(sb, tabs[tab].key, tabs[tab].nkey, row);
}

static void add_row(struct sb *sb, int tab, const void *row)
{
	if (!row)
		sb_adds(sb, "null");
	else
		add_obj(sb, tabs[tab].cols, tabs[tab].ncols, row);
}

/* Parse one column value from JSON into row; 0 or -1. */
static int parse_col(struct ep *ep, const struct col *c, int tok, void *row)
{
	unsigned char *p = (unsigned char *)row + c->off;
	u256 *u = (u256 *)(void *)p;
	const char *s;
	size_t n;
	struct js *js = &ep->js;
	if (tok < 0)
		return error("missing column '%s'", c->name);
	if (c->type == C_BOOL) {
		uint64_t v;
		if (js->t[tok].type == JS_TRUE)
			v = 1;
		else if (js->t[tok].type == JS_FALSE)
			v = 0;
		else
			return error("column '%s' is not a boolean", c->name);
		memcpy(p, &v, 8);
		return 0;
	}
	if (c->type == C_FELT0 && js->t[tok].type == JS_NULL) {
		u256_zero(u);
		return 0;
	}
	if (js_str(js, tok, &ep->tmp2, &s, &n) < 0)
		return error("column '%s' is not a string", c->name);
	switch (c->type) {
	case C_FELT:
	case C_FELT0:
		if (felt_parse(u, s, n) < 0)
			return error("column '%s': %s", c->name, err_msg());
		return 0;
	case C_DEC:
		if (u256_parse_dec(u, s, n) < 0)
			return error("column '%s': %s", c->name, err_msg());
		return 0;
	case C_U64: {
		u256 t;
		if (u256_parse_dec(&t, s, n) < 0 || !u256_fits64(&t))
			return error("column '%s': '%.*s' is not a 64-bit integer", c->name, (int)(n > 40 ? 40 : n), s);
		memcpy(p, &t.w[0], 8);
		return 0;
	}
	case C_I128: {
		u256 t;
		int neg = n > 0 && s[0] == '-';
		static const u256 two127 = {{0, 0x8000000000000000ULL, 0, 0}};
		if (u256_parse_dec(&t, s + neg, n - (size_t)neg) < 0)
			return error("column '%s': %s", c->name, err_msg());
		if (u256_cmp(&t, &two127) > 0 || (!neg && u256_eq(&t, &two127)) || (neg && u256_is_zero(&t)))
			return error("column '%s' is not an i128", c->name);
		if (neg)
			u256_sub(&t, &FELT_P, &t);
		*u = t;
		return 0;
	}
	case C_STATE:
		for (uint64_t i = 0; i < 4; i++)
			if (n == strlen(state_names[i]) && !memcmp(s, state_names[i], n)) {
				memcpy(p, &i, 8);
				return 0;
			}
		return error("column '%s': unknown round state '%.*s'", c->name, (int)(n > 20 ? 20 : n), s);
	}
	return error("internal: bad column type");
}

static int parse_obj(struct ep *ep, int obj, const struct col *cols, int n, void *row)
{
	if (obj < 0 || ep->js.t[obj].type != JS_OBJ)
		return error("expected an object");
	for (int i = 0; i < n; i++)
		if (parse_col(ep, &cols[i], js_get(&ep->js, obj, cols[i].name), row) < 0)
			return -1;
	return 0;
}

static int table_by_name(struct ep *ep, int tok)
{
	for (int i = 0; i < T_COUNT; i++)
		if (js_str_eq(&ep->js, tok, tabs[i].name))
			return i;
	(void)ep;
	return -1;
}

/* ---------------------------------------------------------------- indexes */

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

struct vidx *ep_lps_of(struct ep *ep, const u256 *vault)
{
	return hm_get(&ep->idx_lps, vault);
}

struct vidx *ep_bids_of(struct ep *ep, const u256 *round)
{
	return hm_get(&ep->idx_bids, round);
}

struct round *ep_round_by_id(struct ep *ep, const u256 *vault, uint64_t round_id)
{
	struct ridx k;
	memset(&k, 0, sizeof k);
	k.vault = *vault;
	k.round_id = round_id;
	struct ridx *x = hm_get(&ep->idx_rounds, &k);
	return x ? x->r : NULL;
}

static void index_add(struct ep *ep, int tab, void *row)
{
	if (tab == T_LP) {
		struct lp *l = row;
		vec_add(&vidx_get(&ep->idx_lps, &l->vault, 1)->v, l);
	} else if (tab == T_BIDS) {
		struct bid *b = row;
		vec_add(&vidx_get(&ep->idx_bids, &b->round, 1)->v, b);
	} else if (tab == T_QUEUED) {
		struct queued *q = row;
		vec_add(&vidx_get(&ep->idx_queued, &q->round, 1)->v, q);
	} else if (tab == T_ROUNDS) {
		struct round *r = row;
		struct ridx *x = xcalloc(1, sizeof *x);
		x->vault = r->vault;
		x->round_id = r->round_id;
		x->r = r;
		hm_put(&ep->idx_rounds, x);
	}
}

static void index_del(struct ep *ep, int tab, void *row)
{
	if (tab == T_LP) {
		struct lp *l = row;
		vidx_drop(&ep->idx_lps, &l->vault, l);
	} else if (tab == T_BIDS) {
		struct bid *b = row;
		vidx_drop(&ep->idx_bids, &b->round, b);
	} else if (tab == T_QUEUED) {
		struct queued *q = row;
		vidx_drop(&ep->idx_queued, &q->round, q);
	} else if (tab == T_ROUNDS) {
		struct round *r = row;
		struct ridx k;
		memset(&k, 0, sizeof k);
		k.vault = r->vault;
		k.round_id = r->round_id;
		free(hm_del(&ep->idx_rounds, &k));
	}
}

/* ---------------------------------------------------------------- touch sets */

static void ts_init(struct touchset *ts)
{
	hm_init(&ts->map, offsetof(struct touch, before));
	ts->list = NULL;
	ts->n = ts->cap = 0;
}

static void ts_clear(struct touchset *ts)
{
	for (uint32_t i = 0; i < ts->n; i++) {
		free(ts->list[i]->before);
		free(ts->list[i]->after);
		free(ts->list[i]);
	}
	free(ts->list);
	ts->list = NULL;
	ts->n = ts->cap = 0;
	hm_free(&ts->map);
}

static void *dup_row(int tab, const void *row)
{
	if (!row)
		return NULL;
	void *p = xmalloc(tabs[tab].size);
	memcpy(p, row, tabs[tab].size);
	return p;
}

/* The entry for (tab, key) in ts, created with before = copy of cur if new. *fresh tells. */
static struct touch *ts_touch(struct touchset *ts, int tab, const void *key, const void *cur, int *fresh)
{
	struct touch probe;
	memset(&probe, 0, offsetof(struct touch, before));
	probe.tab = (uint64_t)tab;
	memcpy(probe.key, key, tabs[tab].keylen);
	struct touch *t = hm_get(&ts->map, &probe);
	if (fresh)
		*fresh = !t;
	if (t)
		return t;
	t = xcalloc(1, sizeof *t);
	memcpy(t, &probe, offsetof(struct touch, before));
	t->before = dup_row(tab, cur);
	t->order = ts->n;
	hm_put(&ts->map, t);
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 64;
		ts->list = xrealloc(ts->list, ts->cap * sizeof *ts->list);
	}
	ts->list[ts->n++] = t;
	return t;
}

/* ---------------------------------------------------------------- row access */

void *ep_get(struct ep *ep, int tab, const void *key)
{
	return hm_get(&ep->tab[tab], key);
}

static void touch_row(struct ep *ep, int tab, const void *key, const void *cur)
{
	ts_touch(&ep->frame, tab, key, cur, NULL);
	if (ep->multi)
		ts_touch(&ep->blk, tab, key, cur, NULL);
}

void *ep_mut(struct ep *ep, int tab, void *row)
{
	touch_row(ep, tab, row, row);
	return row;
}

void *ep_insert_row(struct ep *ep, int tab, const void *full)
{
	touch_row(ep, tab, full, NULL);
	void *row = dup_row(tab, full);
	hm_put(&ep->tab[tab], row);
	index_add(ep, tab, row);
	return row;
}

void *ep_new_row(struct ep *ep, int tab, const void *key)
{
	unsigned char zero[sizeof(struct round)];
	memset(zero, 0, tabs[tab].size);
	memcpy(zero, key, tabs[tab].keylen);
	return ep_insert_row(ep, tab, zero);
}

void ep_del_row(struct ep *ep, int tab, void *row)
{
	touch_row(ep, tab, row, row);
	hm_del(&ep->tab[tab], row);
	index_del(ep, tab, row);
	free(row);
}

/* Historic image of an entity's balances at block blk. */
static void hist_image(int htab, const void *ent, uint64_t blk, void *out)
{
	memset(out, 0, tabs[htab].size);
	if (htab == T_VAULT_HIST) {
		const struct vault *v = ent;
		struct vhist *h = out;
		h->address = v->address;
		h->block = blk;
		h->unlocked = v->unlocked;
		h->locked = v->locked;
		h->stashed = v->stashed;
	} else {
		const struct lp *l = ent;
		struct lphist *h = out;
		h->address = l->address;
		h->vault = l->vault;
		h->block = blk;
		h->unlocked = l->unlocked;
		h->locked = l->locked;
		h->stashed = l->stashed;
	}
}

/* Before an entity's balances change in the current block. */
static void hist_touch(struct ep *ep, int htab, const void *ent, uint64_t latest, int exists)
{
	union {
		struct vhist v;
		struct lphist l;
	} img;
	hist_image(htab, ent, ep->cur_block, &img);
	/* The historic row (entity, block) exists iff the entity's balances
	 * were already written in this block (reverts are newest-first, so no
	 * later block can have moved latest_block on). */
	const void *cur = exists && latest == ep->cur_block ? &img : NULL;
	int fresh;
	struct touch *t = ts_touch(&ep->frame, htab, &img, cur, &fresh);
	if (fresh) {
		if (ep->nhist == ep->caphist) {
			ep->caphist = ep->caphist ? ep->caphist * 2 : 64;
			ep->hist_pending = xrealloc(ep->hist_pending, ep->caphist * sizeof *ep->hist_pending);
		}
		ep->hist_pending[ep->nhist++] = t;
	}
	if (ep->multi)
		ts_touch(&ep->blk, htab, &img, cur, NULL);
}

struct vault *ep_vault_update(struct ep *ep, struct vault *v)
{
	hist_touch(ep, T_VAULT_HIST, v, v->latest_block, 1);
	ep_mut(ep, T_VAULTS, v);
	v->latest_block = ep->cur_block;
	return v;
}

struct lp *ep_lp_update(struct ep *ep, struct lp *l)
{
	hist_touch(ep, T_LP_HIST, l, l->latest_block, 1);
	ep_mut(ep, T_LP, l);
	l->latest_block = ep->cur_block;
	return l;
}

/* End of a block inside a frame: fix the historic after-images. */
static void close_hist(struct ep *ep)
{
	for (uint32_t i = 0; i < ep->nhist; i++) {
		struct touch *t = ep->hist_pending[i];
		int etab = t->tab == T_VAULT_HIST ? T_VAULTS : T_LP;
		const void *ent = hm_get(&ep->tab[etab], t->key);
		free(t->after);
		t->after = NULL;
		if (ent) {
			t->after = xmalloc(tabs[t->tab].size);
			uint64_t blk;
			memcpy(&blk, t->key + tabs[t->tab].keylen - 8, 8);
			hist_image((int)t->tab, ent, blk, t->after);
		}
	}
	ep->nhist = 0;
}

/* ---------------------------------------------------------------- output */

struct outl {
	struct touch *t;
	const void *after;
	size_t koff, klen;
};

static const struct sb *sort_keys;

static int cmp_outl(const void *a, const void *b)
{
	const struct outl *x = a, *y = b;
	if (x->t->tab != y->t->tab)
		return x->t->tab < y->t->tab ? -1 : 1;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(sort_keys->buf + x->koff, sort_keys->buf + y->koff, n);
	if (c)
		return c;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static const void *after_of(struct ep *ep, const struct touch *t)
{
	return tabs[t->tab].stored ? hm_get(&ep->tab[t->tab], t->key) : t->after;
}

/* The changed entries of ts in canonical order; returns count, *out malloc'd. keys in ep->tmp. */
static size_t changed_sorted(struct ep *ep, struct touchset *ts, struct outl **out, int all_hist)
{
	struct outl *v = xmalloc((ts->n ? ts->n : 1) * sizeof *v);
	size_t n = 0;
	sb_reset(&ep->tmp);
	for (uint32_t i = 0; i < ts->n; i++) {
		struct touch *t = ts->list[i];
		const void *after = after_of(ep, t);
		size_t sz = tabs[t->tab].size;
		/* A block's journal keeps every historic entry: their after-images
		 * are only known to the frame's touch set. */
		int keep = all_hist && !tabs[t->tab].stored;
		if (!keep && !after && !t->before)
			continue;
		if (!keep && after && t->before && !memcmp(after, t->before, sz))
			continue;
		v[n].t = t;
		v[n].after = after;
		v[n].koff = ep->tmp.len;
		add_key(&ep->tmp, (int)t->tab, t->key);
		v[n].klen = ep->tmp.len - v[n].koff;
		n++;
	}
	sort_keys = &ep->tmp;
	qsort(v, n, sizeof *v, cmp_outl);
	*out = v;
	return n;
}

static struct jblock *jblock_find(struct jblock *head, const u256 *hash)
{
	for (struct jblock *b = head; b; b = b->next)
		if (u256_eq(&b->hash, hash))
			return b;
	return NULL;
}

static void jblock_add(struct jblock *b, int tab, const void *key, void *before)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->e = xrealloc(b->e, b->cap * sizeof *b->e);
	}
	struct jentry *e = &b->e[b->n++];
	memset(e, 0, sizeof *e);
	e->tab = (uint64_t)tab;
	memcpy(e->key, key, tabs[tab].keylen);
	e->before = before;
}

static void jblock_free(struct jblock *b)
{
	for (uint32_t i = 0; i < b->n; i++)
		free(b->e[i].before);
	free(b->e);
	free(b);
}

/* The journal block for (number, hash): existing, or a new one at the tail. */
static struct jblock *journal_block(struct ep *ep, uint64_t number, const u256 *hash)
{
	struct jblock *b = jblock_find(ep->jhead, hash);
	if (b)
		return b;
	b = xcalloc(1, sizeof *b);
	b->number = number;
	b->hash = *hash;
	if (ep->jtail)
		ep->jtail->next = b;
	else
		ep->jhead = b;
	ep->jtail = b;
	return b;
}

static void journal_unlink(struct ep *ep, struct jblock *victim)
{
	struct jblock **pp = &ep->jhead, *prev = NULL;
	while (*pp && *pp != victim) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = victim->next;
	if (ep->jtail == victim)
		ep->jtail = prev;
}

static int journal_mentions(const struct ep *ep, int tab, const void *key)
{
	for (const struct jblock *b = ep->jhead; b; b = b->next)
		for (uint32_t i = 0; i < b->n; i++)
			if (b->e[i].tab == (uint64_t)tab && !memcmp(b->e[i].key, key, tabs[tab].keylen))
				return 1;
	return 0;
}

/* Drop a round's rows of table tab (bids or queued withdrawals) from memory. */
static void archive_rows(struct ep *ep, struct hmap *idx, int tab, const u256 *round)
{
	struct vidx *x = hm_del(idx, round);
	if (!x)
		return;
	for (uint32_t i = 0; i < x->v.n; i++)
		free(hm_del(&ep->tab[tab], x->v.p[i]));
	free(x->v.p);
	free(x);
}

/*
 * Once a settled round leaves the undo journal its settlement is final: its
 * bids and queued withdrawals can never change again.  They stay in the
 * database (for the backends) but leave ep-apply's memory and snapshot, so
 * that the state grows with live entities, not with history; the database
 * snapshot omits the same rows (sql/005-archive.sql).
 */
static void archive_if_final(struct ep *ep, const void *rkey)
{
	struct round *r = hm_get(&ep->tab[T_ROUNDS], rkey);
	if (!r || r->state != R_SETTLED || journal_mentions(ep, T_ROUNDS, rkey))
		return;
	archive_rows(ep, &ep->idx_bids, T_BIDS, &r->address);
	archive_rows(ep, &ep->idx_queued, T_QUEUED, &r->address);
	ep->st.archived_rounds++;
}

static void journal_prune(struct ep *ep)
{
	struct jblock *b = ep->jhead, *pruned = NULL;
	while (b) {
		struct jblock *next = b->next;
		if (b->number <= ep->finalized) {
			journal_unlink(ep, b);
			b->next = pruned;
			pruned = b;
		}
		b = next;
	}
	while (pruned) {
		struct jblock *next = pruned->next;
		for (uint32_t i = 0; i < pruned->n; i++)
			if (pruned->e[i].tab == T_ROUNDS)
				archive_if_final(ep, pruned->e[i].key);
		jblock_free(pruned);
		pruned = next;
	}
}

static void add_undo_line(struct sb *sb, uint64_t number, const u256 *hash, int tab, const void *key, const void *before)
{
	sb_adds(sb, "{\"op\":\"undo\",\"block_number\":");
	sb_add_u64(sb, number);
	sb_adds(sb, ",\"block_hash\":\"");
	sb_add_u256_hex(sb, hash);
	sb_adds(sb, "\",\"table\":\"");
	sb_adds(sb, tabs[tab].name);
	sb_adds(sb, "\",\"key\":");
	add_key(sb, tab, key);
	sb_adds(sb, ",\"before\":");
	add_row(sb, tab, before);
	sb_adds(sb, "}\n");
}

/* Close the current block of a multi-block frame: emit its undo lines. */
static void close_block(struct ep *ep)
{
	if (!ep->blk_open)
		return;
	close_hist(ep);
	if (ep->multi) {
		struct outl *v;
		size_t n = changed_sorted(ep, &ep->blk, &v, 1);
		struct jblock *pb = NULL;
		for (size_t i = 0; i < n; i++) {
			struct touch *t = v[i].t;
			if (!pb) {
				/* pending journal blocks of this frame, in creation order */
				for (pb = ep->pending; pb && !u256_eq(&pb->hash, &ep->cur_hash); pb = pb->next)
					;
				if (!pb) {
					pb = xcalloc(1, sizeof *pb);
					pb->number = ep->cur_block;
					pb->hash = ep->cur_hash;
					struct jblock **pp = &ep->pending;
					while (*pp)
						pp = &(*pp)->next;
					*pp = pb;
				}
			}
			add_undo_line(&ep->undo, ep->cur_block, &ep->cur_hash, (int)t->tab, t->key, t->before);
			jblock_add(pb, (int)t->tab, t->key, t->before);
			t->before = NULL; /* ownership moved to the journal */
		}
		free(v);
		ts_clear(&ep->blk);
		ts_init(&ep->blk);
	}
	ep->blk_open = 0;
}

static void open_block(struct ep *ep, uint64_t number, const u256 *hash, uint64_t ts)
{
	ep->cur_block = number;
	ep->cur_hash = *hash;
	ep->cur_time = ts;
	ep->blk_open = 1;
	if (number > ep->f_maxblock)
		ep->f_maxblock = number;
}

static const char *ftype_name(int t)
{
	return t == 0 ? "StartBlock" : t == 1 ? "RevertBlock"
					      : "CatchupVault";
}

/* Undo all in-memory effects of the frame in progress (EOF mid-frame). */
static void rollback_frame(struct ep *ep)
{
	for (uint32_t i = ep->frame.n; i-- > 0;) {
		struct touch *t = ep->frame.list[i];
		if (!tabs[t->tab].stored)
			continue;
		void *cur = hm_get(&ep->tab[t->tab], t->key);
		if (cur) {
			hm_del(&ep->tab[t->tab], cur);
			index_del(ep, (int)t->tab, cur);
			free(cur);
		}
		if (t->before) {
			void *row = dup_row((int)t->tab, t->before);
			hm_put(&ep->tab[t->tab], row);
			index_add(ep, (int)t->tab, row);
		}
	}
}

static void reset_frame(struct ep *ep)
{
	ts_clear(&ep->frame);
	ts_init(&ep->frame);
	ts_clear(&ep->blk);
	ts_init(&ep->blk);
	ep->nhist = 0;
	while (ep->pending) {
		struct jblock *n = ep->pending->next;
		jblock_free(ep->pending);
		ep->pending = n;
	}
	sb_reset(&ep->undo);
	ep->in_frame = ep->skipping = ep->multi = ep->blk_open = 0;
	ep->f_maxblock = 0;
}

/* ---------------------------------------------------------------- revert */

static void restore_row(struct ep *ep, int tab, const void *key, const void *before)
{
	void *cur = hm_get(&ep->tab[tab], key);
	if (!before) {
		if (cur)
			ep_del_row(ep, tab, cur);
		return;
	}
	if (cur) {
		ep_mut(ep, tab, cur);
		memcpy(cur, before, tabs[tab].size);
		return;
	}
	ep_insert_row(ep, tab, before);
}

static int do_revert(struct ep *ep)
{
	struct jblock *b = jblock_find(ep->jhead, &ep->f_hash);
	char hb[U256_HEX_MAX];
	u256_format_hex(&ep->f_hash, hb);
	if (!b) {
		uint64_t lo = UINT64_MAX, hi = 0;
		for (struct jblock *x = ep->jhead; x; x = x->next) {
			lo = x->number < lo ? x->number : lo;
			hi = x->number > hi ? x->number : hi;
		}
		if (!ep->jhead)
			return error("unable to revert block %lld (%s): the undo journal is empty "
				     "(deeper than the finality depth %llu, or never applied)",
				(long long)ep->f_block, hb, (unsigned long long)ep->finality);
		return error("unable to revert block %lld (%s): not in the undo journal, which holds blocks %llu..%llu "
			     "(deeper than the finality depth %llu, or never applied)",
			(long long)ep->f_block, hb, (unsigned long long)lo, (unsigned long long)hi,
			(unsigned long long)ep->finality);
	}
	if (ep->f_block >= 0 && (uint64_t)ep->f_block != b->number)
		return error("unable to revert block %s: the frame says height %lld, the journal %llu", hb,
			(long long)ep->f_block, (unsigned long long)b->number);
	for (struct jblock *x = ep->jhead; x; x = x->next)
		if (x->number > b->number)
			return error("unable to revert block %llu (%s): newer block %llu is still applied "
				     "(reverts must come newest first)",
				(unsigned long long)b->number, hb, (unsigned long long)x->number);
	ep->cur_block = b->number;
	/* Pass 1: before-images of everything the revert touches, historic rows included. */
	for (uint32_t i = b->n; i-- > 0;) {
		struct jentry *e = &b->e[i];
		if (tabs[e->tab].stored) {
			touch_row(ep, (int)e->tab, e->key, hm_get(&ep->tab[e->tab], e->key));
			continue;
		}
		int etab = e->tab == T_VAULT_HIST ? T_VAULTS : T_LP;
		const void *ent = hm_get(&ep->tab[etab], e->key);
		uint64_t latest = 0;
		if (ent)
			latest = etab == T_VAULTS ? ((const struct vault *)ent)->latest_block : ((const struct lp *)ent)->latest_block;
		union {
			struct vhist v;
			struct lphist l;
		} img;
		if (ent)
			hist_image((int)e->tab, ent, b->number, &img);
		struct touch *t = ts_touch(&ep->frame, (int)e->tab, e->key, ent && latest == b->number ? (void *)&img : NULL, NULL);
		free(t->after);
		t->after = dup_row((int)e->tab, e->before);
	}
	/* Pass 2: restore, newest entry first. */
	for (uint32_t i = b->n; i-- > 0;) {
		struct jentry *e = &b->e[i];
		if (tabs[e->tab].stored)
			restore_row(ep, (int)e->tab, e->key, e->before);
	}
	ep->st.reverted_blocks++;
	return 0;
}

/* ---------------------------------------------------------------- frames */

static int get_i64(struct ep *ep, int obj, const char *name, int64_t *v, int required)
{
	int t = js_get(&ep->js, obj, name);
	if (t < 0) {
		if (required)
			return error("missing field '%s'", name);
		*v = -1;
		return 0;
	}
	if (js_u63(&ep->js, t, v) < 0)
		return error("field '%s' is not a non-negative integer", name);
	return 0;
}

static int get_felt(struct ep *ep, int obj, const char *name, u256 *v)
{
	const char *s;
	size_t n;
	int t = js_get(&ep->js, obj, name);
	if (t < 0)
		return error("missing field '%s'", name);
	if (js_str(&ep->js, t, &ep->tmp2, &s, &n) < 0)
		return error("field '%s' is not a string", name);
	if (felt_parse(v, s, n) < 0)
		return error("field '%s': %s", name, err_msg());
	return 0;
}

static int frame_begin(struct ep *ep)
{
	int64_t ts;
	const char *s;
	size_t n;
	if (ep->in_frame)
		return error("'begin' inside the frame of driver event %lld (missing 'end')", (long long)ep->f_driver);
	if (get_i64(ep, 0, "driver_id", &ep->f_driver, 1) < 0 || get_i64(ep, 0, "seq", &ep->f_seq, 1) < 0)
		return -1;
	int tt = js_get(&ep->js, 0, "type");
	if (js_str(&ep->js, tt, &ep->tmp2, &s, &n) < 0)
		return error("missing field 'type'");
	if ((n == 10 && !memcmp(s, "StartBlock", 10)) || (n == 8 && !memcmp(s, "NewBlock", 8)))
		ep->ftype = 0;
	else if (n == 11 && !memcmp(s, "RevertBlock", 11))
		ep->ftype = 1;
	else if (n == 12 && !memcmp(s, "CatchupVault", 12))
		ep->ftype = 2;
	else
		return error("unknown driver event type '%.*s'", (int)(n > 40 ? 40 : n), s);
	if (get_i64(ep, 0, "block_number", &ep->f_block, ep->ftype != 1) < 0 || get_felt(ep, 0, "block_hash", &ep->f_hash) < 0 ||
		get_i64(ep, 0, "timestamp", &ts, 0) < 0)
		return -1;
	ep->in_frame = 1;
	ep->multi = ep->ftype == 2;
	if (ep->have_cp && (ep->f_seq < ep->cp_seq || (ep->f_seq == ep->cp_seq && ep->f_driver <= ep->cp_driver))) {
		ep->skipping = 1;
		return 0;
	}
	if (ep->ftype == 0)
		open_block(ep, (uint64_t)ep->f_block, &ep->f_hash, ts < 0 ? 0 : (uint64_t)ts);
	if (ep->ftype == 2 && (uint64_t)ep->f_block > ep->f_maxblock)
		ep->f_maxblock = (uint64_t)ep->f_block;
	return 0;
}

static int frame_event(struct ep *ep)
{
	int64_t bn, ts;
	u256 bh, vault;
	if (!ep->in_frame)
		return error("event outside a frame");
	if (ep->skipping || ep->ftype == 1)
		return 0; /* already applied / a revert undoes from the journal */
	if (get_i64(ep, 0, "block_number", &bn, 1) < 0 || get_felt(ep, 0, "block_hash", &bh) < 0 ||
		get_i64(ep, 0, "timestamp", &ts, 0) < 0 || get_felt(ep, 0, "vault", &vault) < 0)
		return -1;
	if (ep->ftype == 0) {
		if ((uint64_t)bn != ep->cur_block || !u256_eq(&bh, &ep->cur_hash))
			return error("event of block %lld in the frame of block %lld", (long long)bn, (long long)ep->f_block);
		if (ts >= 0)
			ep->cur_time = (uint64_t)ts;
	} else if (!ep->blk_open || (uint64_t)bn != ep->cur_block || !u256_eq(&bh, &ep->cur_hash)) {
		if (ep->blk_open && (uint64_t)bn < ep->cur_block)
			return error("events out of chain order: block %lld after block %llu", (long long)bn,
				(unsigned long long)ep->cur_block);
		close_block(ep);
		open_block(ep, (uint64_t)bn, &bh, ts < 0 ? 0 : (uint64_t)ts);
	}
	/* Events of blocks whose events of this vault are already applied are skipped. */
	struct cursor *c = ep_get(ep, T_CURSOR, &vault);
	int have = 0;
	uint64_t applied = 0;
	struct touch probe;
	memset(&probe, 0, offsetof(struct touch, before));
	probe.tab = T_CURSOR;
	memcpy(probe.key, &vault, 32);
	struct touch *t = hm_get(&ep->frame.map, &probe);
	if (t) {
		if (t->before) {
			have = 1;
			applied = ((struct cursor *)t->before)->block;
		}
	} else if (c) {
		have = 1;
		applied = c->block;
	}
	if (have && (uint64_t)bn <= applied) {
		ep->st.ignored_events++;
		return 0;
	}
	ep->st.events++;
	if (ep_apply_event(ep, 0, &vault) < 0)
		return -1;
	if (ep_get(ep, T_VAULTS, &vault)) {
		c = ep_get(ep, T_CURSOR, &vault);
		if (!c)
			c = ep_new_row(ep, T_CURSOR, &vault);
		if (c->block != (uint64_t)bn) {
			ep_mut(ep, T_CURSOR, c);
			c->block = (uint64_t)bn;
		}
	}
	return 0;
}

static void add_begin(struct ep *ep, struct sb *out)
{
	sb_adds(out, "{\"op\":\"begin\",\"driver_id\":");
	sb_add_i64(out, ep->f_driver);
	sb_adds(out, ",\"seq\":");
	sb_add_i64(out, ep->f_seq);
	sb_adds(out, ",\"type\":\"");
	sb_adds(out, ftype_name(ep->ftype));
	sb_adds(out, "\",\"block_number\":");
	sb_add_i64(out, ep->f_block < 0 ? 0 : ep->f_block);
	sb_adds(out, ",\"block_hash\":\"");
	sb_add_u256_hex(out, &ep->f_hash);
	sb_adds(out, "\",\"finalized\":");
	sb_add_u64(out, ep->finalized);
	sb_adds(out, "}\n");
}

static int frame_end(struct ep *ep, struct sb *out)
{
	int64_t d;
	if (!ep->in_frame)
		return error("'end' outside a frame");
	if (get_i64(ep, 0, "driver_id", &d, 1) < 0)
		return -1;
	if (d != ep->f_driver)
		return error("'end' of driver event %lld inside the frame of %lld", (long long)d, (long long)ep->f_driver);
	if (ep->skipping) {
		ep->st.skipped_frames++;
		reset_frame(ep);
		return 0;
	}
	if (ep->ftype == 1) {
		if (do_revert(ep) < 0)
			return -1;
	} else {
		close_block(ep);
	}
	/* The new finality horizon. */
	if (ep->ftype != 1 && ep->f_maxblock >= ep->finality && ep->f_maxblock - ep->finality > ep->finalized)
		ep->finalized = ep->f_maxblock - ep->finality;

	struct outl *v;
	size_t n = changed_sorted(ep, &ep->frame, &v, 0);
	add_begin(ep, out);
	for (size_t i = 0; i < n; i++) {
		struct touch *t = v[i].t;
		sb_adds(out, v[i].after ? "{\"op\":\"put\",\"table\":\"" : "{\"op\":\"del\",\"table\":\"");
		sb_adds(out, tabs[t->tab].name);
		sb_adds(out, "\",\"key\":");
		sb_add(out, ep->tmp.buf + v[i].koff, v[i].klen);
		if (v[i].after) {
			sb_adds(out, ",\"row\":");
			add_row(out, (int)t->tab, v[i].after);
		}
		sb_adds(out, ",\"before\":");
		add_row(out, (int)t->tab, t->before);
		sb_adds(out, "}\n");
	}
	sb_add(out, ep->undo.buf ? ep->undo.buf : "", ep->undo.len);
	sb_adds(out, "{\"op\":\"end\",\"driver_id\":");
	sb_add_i64(out, ep->f_driver);
	sb_adds(out, "}\n");

	/* Commit: journal, checkpoint. */
	if (ep->ftype == 1) {
		struct jblock *b = jblock_find(ep->jhead, &ep->f_hash);
		journal_unlink(ep, b);
		jblock_free(b);
	} else {
		struct jblock *fb = journal_block(ep, (uint64_t)(ep->f_block < 0 ? 0 : ep->f_block), &ep->f_hash);
		if (ep->multi) {
			for (struct jblock *p = ep->pending; p; p = p->next) {
				struct jblock *b = journal_block(ep, p->number, &p->hash);
				for (uint32_t i = 0; i < p->n; i++) {
					jblock_add(b, (int)p->e[i].tab, p->e[i].key, p->e[i].before);
					p->e[i].before = NULL;
				}
			}
		} else {
			for (size_t i = 0; i < n; i++) {
				jblock_add(fb, (int)v[i].t->tab, v[i].t->key, v[i].t->before);
				v[i].t->before = NULL;
			}
		}
		journal_prune(ep);
	}
	free(v);
	ep->have_cp = 1;
	ep->cp_driver = ep->f_driver;
	ep->cp_seq = ep->f_seq;
	ep->st.frames++;
	reset_frame(ep);
	return 0;
}

int ep_feed(struct ep *ep, const char *line, size_t len, struct sb *out)
{
	ep->lineno++;
	if (js_parse(&ep->js, line, len) < 0)
		return -1;
	if (ep->js.t[0].type != JS_OBJ)
		return error("line is not a JSON object");
	int op = js_get(&ep->js, 0, "op");
	if (op < 0)
		return error("missing field 'op'");
	if (js_str_eq(&ep->js, op, "event"))
		return frame_event(ep);
	if (js_str_eq(&ep->js, op, "begin"))
		return frame_begin(ep);
	if (js_str_eq(&ep->js, op, "end"))
		return frame_end(ep, out);
	return error("unknown op in an event stream");
}

int ep_finish(struct ep *ep)
{
	if (!ep->in_frame)
		return 0;
	if (!ep->skipping)
		rollback_frame(ep);
	reset_frame(ep);
	return 1;
}

/* ---------------------------------------------------------------- lifecycle */

struct ep *ep_new(uint64_t finality)
{
	struct ep *ep = xcalloc(1, sizeof *ep);
	ep->finality = finality;
	for (int i = 0; i < T_COUNT; i++)
		hm_init(&ep->tab[i], tabs[i].keylen);
	hm_init(&ep->idx_lps, 32);
	hm_init(&ep->idx_bids, 32);
	hm_init(&ep->idx_queued, 32);
	hm_init(&ep->idx_rounds, 40);
	ts_init(&ep->frame);
	ts_init(&ep->blk);
	js_init(&ep->js);
	return ep;
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

void ep_free(struct ep *ep)
{
	if (!ep)
		return;
	reset_frame(ep);
	for (int i = 0; i < T_COUNT; i++) {
		size_t pos = 0;
		void *r;
		while ((r = hm_next(&ep->tab[i], &pos)))
			free(r);
		hm_free(&ep->tab[i]);
	}
	free_vidx(&ep->idx_lps);
	free_vidx(&ep->idx_bids);
	free_vidx(&ep->idx_queued);
	size_t pos = 0;
	void *r;
	while ((r = hm_next(&ep->idx_rounds, &pos)))
		free(r);
	hm_free(&ep->idx_rounds);
	while (ep->jhead) {
		struct jblock *n = ep->jhead->next;
		jblock_free(ep->jhead);
		ep->jhead = n;
	}
	ts_clear(&ep->frame);
	ts_clear(&ep->blk);
	free(ep->hist_pending);
	js_free(&ep->js);
	sb_free(&ep->tmp);
	sb_free(&ep->tmp2);
	sb_free(&ep->undo);
	free(ep);
}

const struct ep_stats *ep_stats(const struct ep *ep)
{
	return &ep->st;
}

void ep_describe(const struct ep *ep, struct sb *out)
{
	sb_adds(out, "rows:");
	for (int t = 0; t < T_COUNT; t++)
		if (tabs[t].stored) {
			sb_addf(out, " %s %zu", tabs[t].name, ep->tab[t].n);
		}
	size_t blocks = 0, entries = 0;
	for (const struct jblock *b = ep->jhead; b; b = b->next) {
		blocks++;
		entries += b->n;
	}
	sb_addf(out, "; undo journal: %zu blocks, %zu entries, finalized %llu", blocks, entries,
		(unsigned long long)ep->finalized);
}

long long ep_current_driver(const struct ep *ep)
{
	return ep->in_frame ? (long long)ep->f_driver : -1;
}

/* ---------------------------------------------------------------- snapshots */

struct dumprow {
	const void *row;
	size_t koff, klen;
	uint64_t tab;
};

static int cmp_dump(const void *a, const void *b)
{
	const struct dumprow *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(sort_keys->buf + x->koff, sort_keys->buf + y->koff, n);
	if (c)
		return c;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

void ep_dump(struct ep *ep, struct sb *out)
{
	for (int t = 0; t < T_COUNT; t++) {
		if (!tabs[t].stored || !ep->tab[t].n)
			continue;
		struct dumprow *v = xmalloc(ep->tab[t].n * sizeof *v);
		size_t n = 0, pos = 0;
		void *r;
		sb_reset(&ep->tmp);
		while ((r = hm_next(&ep->tab[t], &pos))) {
			v[n].row = r;
			v[n].koff = ep->tmp.len;
			add_key(&ep->tmp, t, r);
			v[n].klen = ep->tmp.len - v[n].koff;
			n++;
		}
		sort_keys = &ep->tmp;
		qsort(v, n, sizeof *v, cmp_dump);
		for (size_t i = 0; i < n; i++) {
			sb_adds(out, "{\"op\":\"put\",\"table\":\"");
			sb_adds(out, tabs[t].name);
			sb_adds(out, "\",\"key\":");
			sb_add(out, ep->tmp.buf + v[i].koff, v[i].klen);
			sb_adds(out, ",\"row\":");
			add_row(out, t, v[i].row);
			sb_adds(out, "}\n");
		}
		free(v);
	}
	for (struct jblock *b = ep->jhead; b; b = b->next) {
		sb_adds(out, "{\"op\":\"block\",\"block_number\":");
		sb_add_u64(out, b->number);
		sb_adds(out, ",\"block_hash\":\"");
		sb_add_u256_hex(out, &b->hash);
		sb_adds(out, "\"}\n");
		for (uint32_t i = 0; i < b->n; i++)
			add_undo_line(out, b->number, &b->hash, (int)b->e[i].tab, b->e[i].key, b->e[i].before);
	}
	if (ep->have_cp) {
		sb_adds(out, "{\"op\":\"checkpoint\",\"driver_id\":");
		sb_add_i64(out, ep->cp_driver);
		sb_adds(out, ",\"seq\":");
		sb_add_i64(out, ep->cp_seq);
		sb_adds(out, ",\"finalized\":");
		sb_add_u64(out, ep->finalized);
		sb_adds(out, "}\n");
	}
}

int ep_load_line(struct ep *ep, const char *line, size_t len)
{
	union {
		struct vault v;
		struct round r;
		struct lphist h;
		unsigned char raw[512];
	} row;
	if (js_parse(&ep->js, line, len) < 0)
		return -1;
	if (ep->js.t[0].type != JS_OBJ)
		return error("line is not a JSON object");
	int op = js_get(&ep->js, 0, "op");
	if (js_str_eq(&ep->js, op, "put")) {
		int tab = table_by_name(ep, js_get(&ep->js, 0, "table"));
		if (tab < 0 || !tabs[tab].stored)
			return error("unknown or non-snapshot table");
		memset(&row, 0, sizeof row);
		if (parse_obj(ep, js_get(&ep->js, 0, "row"), tabs[tab].cols, tabs[tab].ncols, &row) < 0)
			return -1;
		if (hm_get(&ep->tab[tab], &row))
			return error("duplicate row in table '%s'", tabs[tab].name);
		void *r = dup_row(tab, &row);
		hm_put(&ep->tab[tab], r);
		index_add(ep, tab, r);
		return 0;
	}
	if (js_str_eq(&ep->js, op, "block")) {
		int64_t bn;
		u256 h;
		if (get_i64(ep, 0, "block_number", &bn, 1) < 0 || get_felt(ep, 0, "block_hash", &h) < 0)
			return -1;
		if (jblock_find(ep->jhead, &h))
			return error("journal block listed twice");
		ep->load_block = journal_block(ep, (uint64_t)bn, &h);
		return 0;
	}
	if (js_str_eq(&ep->js, op, "undo")) {
		int64_t bn;
		u256 h;
		if (get_i64(ep, 0, "block_number", &bn, 1) < 0 || get_felt(ep, 0, "block_hash", &h) < 0)
			return -1;
		struct jblock *b = jblock_find(ep->jhead, &h);
		if (!b)
			return error("undo entry before its 'block' line");
		int tab = table_by_name(ep, js_get(&ep->js, 0, "table"));
		if (tab < 0)
			return error("unknown table");
		memset(&row, 0, sizeof row);
		if (parse_obj(ep, js_get(&ep->js, 0, "key"), tabs[tab].key, tabs[tab].nkey, &row) < 0)
			return -1;
		unsigned char key[KEY_MAX];
		memcpy(key, &row, tabs[tab].keylen);
		int bt = js_get(&ep->js, 0, "before");
		void *before = NULL;
		if (bt < 0)
			return error("missing field 'before'");
		if (ep->js.t[bt].type != JS_NULL) {
			memset(&row, 0, sizeof row);
			if (parse_obj(ep, bt, tabs[tab].cols, tabs[tab].ncols, &row) < 0)
				return -1;
			if (memcmp(&row, key, tabs[tab].keylen))
				return error("undo entry: key and before-image disagree");
			before = dup_row(tab, &row);
		}
		jblock_add(b, tab, key, before);
		return 0;
	}
	if (js_str_eq(&ep->js, op, "checkpoint")) {
		int64_t fin;
		if (get_i64(ep, 0, "driver_id", &ep->cp_driver, 1) < 0 || get_i64(ep, 0, "seq", &ep->cp_seq, 1) < 0 ||
			get_i64(ep, 0, "finalized", &fin, 1) < 0)
			return -1;
		ep->have_cp = 1;
		ep->finalized = (uint64_t)fin;
		return 0;
	}
	return error("unknown op in a snapshot");
}

int ep_load_done(struct ep *ep)
{
	/* Every LP, round, buyer and bid must hang off an existing parent. */
	size_t pos = 0;
	struct lp *l;
	while ((l = hm_next(&ep->tab[T_LP], &pos)))
		if (!hm_get(&ep->tab[T_VAULTS], &l->vault))
			return error("liquidity provider of a vault that is not in the snapshot");
	pos = 0;
	struct round *r;
	while ((r = hm_next(&ep->tab[T_ROUNDS], &pos)))
		if (!hm_get(&ep->tab[T_VAULTS], &r->vault))
			return error("option round of a vault that is not in the snapshot");
	pos = 0;
	struct bid *b;
	while ((b = hm_next(&ep->tab[T_BIDS], &pos)))
		if (!hm_get(&ep->tab[T_ROUNDS], &b->round))
			return error("bid of a round that is not in the snapshot");
	return 0;
}
