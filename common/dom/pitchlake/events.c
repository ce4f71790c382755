/*
 * events.c -- the Pitchlake vault events (deployed ABI, "Layout A" of
 * pitchlake-spec.md §5.2) and the state transitions of spec §6, with the
 * contract's own integer arithmetic.  Every handler checks the invariants
 * the contract guarantees; a violation means our state and the chain have
 * diverged, which is reported (exit 65) rather than papered over.
 */
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "dom/pitchlake/pitchlake.h"

enum {
	EV_DEPOSIT,
	EV_WITHDRAWAL,
	EV_WITHDRAWAL_QUEUED,
	EV_STASH_WITHDRAWN,
	EV_ROUND_DEPLOYED,
	EV_PRICING_SET,
	EV_AUCTION_STARTED,
	EV_AUCTION_ENDED,
	EV_ROUND_SETTLED,
	EV_BID_PLACED,
	EV_BID_UPDATED,
	EV_REFUNDED,
	EV_MINTED,
	EV_EXERCISED,
	EV_CONTRACT_DEPLOYED,
	EV_COUNT
};

static const struct {
	const char *name, *selector;
	int nkeys, ndata; /* ndata < 0: variable */
} events[EV_COUNT] = {
	[EV_DEPOSIT] = {"Deposit", "0x9149d2123147c5f43d258257fef0b7b969db78269369ebcf5ebb9eef8592f2", 2, 6},
	[EV_WITHDRAWAL] = {"Withdrawal", "0x2eed7e29b3502a726faf503ac4316b7101f3da813654e8df02c13449e03da8", 2, 6},
	[EV_WITHDRAWAL_QUEUED] = {"WithdrawalQueued", "0x36a0768f9b1cc8742e7726e951a13aec0f1ee9461c6be53a80378c49299c5fb", 2, 8},
	[EV_STASH_WITHDRAWN] = {"StashWithdrawn", "0x14430163c5d26a17d82f2c2eda269f26b054e14a1641bb700a114b2a63bc605", 2, 4},
	[EV_ROUND_DEPLOYED] = {"OptionRoundDeployed", "0xd659a517d721168cbed4f7cb1abb424037bf0f34a8a22948c502429045b312", 1, 10},
	[EV_PRICING_SET] = {"PricingDataSet", "0x3f68cb197d4ac6576b566cd954873b6530b9eac0309487c09f9a35271533737", 2, 6},
	[EV_AUCTION_STARTED] = {"AuctionStarted", "0x26a7d477600536be46a48d46dcdebf5d8c5703c5e16f6bfad368996adea83f3", 2, 5},
	[EV_AUCTION_ENDED] = {"AuctionEnded", "0x369d2b1c46f2b24795aafc23c97301b1f924966a1b4fdaad2473cf4d9df23ca", 2, 8},
	[EV_ROUND_SETTLED] = {"OptionRoundSettled", "0x9fadeca7092d377c750978a256f85278e6f70781e5c879baa766ca6a4db079", 2, 5},
	[EV_BID_PLACED] = {"BidPlaced", "0x284319dd93fe6054ee43527bfdc6c222e6b0cafdcbd3ef60c9190c70bb1d638", 3, 7},
	[EV_BID_UPDATED] = {"BidUpdated", "0x35446d7dda93a65e80ece35b20810ab34e64178c54b8693ef635afb5c2f7ee3", 3, 6},
	[EV_REFUNDED] = {"UnusedBidsRefunded", "0x1678c5f70bd63f9239387cb96dd9fa4d6a9817a3089a0b97513f63120f92792", 3, 3},
	[EV_MINTED] = {"OptionsMinted", "0x1f66c9480f0238b7c61817f7e724aa3f313dac819d40d5b48a968ef27847f54", 3, 3},
	[EV_EXERCISED] = {"OptionsExercised", "0x2d02464cd0ec035fbc5f7d9e201312f112ca0ed123ca3ae5ebd91b2364ce580", 3, 7},
	[EV_CONTRACT_DEPLOYED] = {"ContractDeployed", "0x26b160f10156dea0639bec90696772c640b9706a47f5b8c52ea1abe5858b34d", 1, -1},
};

#define MAXF 64
#define BPS 10000

static u256 selectors[EV_COUNT];
static int selectors_ready;

static void init_selectors(void)
{
	for (int i = 0; i < EV_COUNT; i++)
		if (u256_parse_hex(&selectors[i], events[i].selector, strlen(events[i].selector)) < 0)
			die_code(EXIT_SOFTWARE, "bad built-in selector for %s", events[i].name);
	selectors_ready = 1;
}

struct ev {
	struct dl *dl;
	int kind;
	const char *name;
	u256 k[8], d[MAXF];
	uint32_t nk, nd;
	const u256 *vault;
	struct vault *v;
};

/* Before changing a vault's / LP's balances in the current block (their history rows follow). */
static struct vault *vault_update(struct dl *dl, struct vault *v)
{
	return dl_update(dl, T_VAULTS, v);
}

static struct lp *lp_update(struct dl *dl, struct lp *l)
{
	return dl_update(dl, T_LP, l);
}

static int felts(struct dl *dl, int arr, const char *what, u256 *out, uint32_t max, uint32_t *n)
{
	struct js *js = dl_js(dl);
	if (arr < 0)
		return error("missing field '%s'", what);
	if (js->t[arr].type != JS_ARR)
		return error("field '%s' is not an array", what);
	if (js->t[arr].n > max)
		return error("field '%s' has %u elements, at most %u expected", what, js->t[arr].n, max);
	int t = js_first(js, arr);
	for (uint32_t i = 0; i < js->t[arr].n; i++, t = js_sibling(js, t)) {
		const char *s;
		size_t len;
		if (js_str(js, t, dl_scratch(dl), &s, &len) < 0)
			return error("%s[%u] is not a string", what, i);
		if (felt_parse(&out[i], s, len) < 0)
			return error("%s[%u]: %s", what, i, err_msg());
	}
	*n = js->t[arr].n;
	return 0;
}

/* u256 from data[i] (low 128) and data[i+1] (high 128). */
static int d_u256(struct ev *e, uint32_t i, u256 *out, const char *field)
{
	if (u256_from_halves(out, &e->d[i], &e->d[i + 1]) < 0)
		return error("%s: %s is not a u256 (a half is >= 2^128)", e->name, field);
	return 0;
}

static int d_u64(struct ev *e, uint32_t i, uint64_t *out, const char *field)
{
	if (!u256_fits64(&e->d[i]))
		return error("%s: %s does not fit in a u64", e->name, field);
	*out = e->d[i].w[0];
	return 0;
}

static int d_u128(struct ev *e, uint32_t i, u256 *out, const char *field)
{
	if (!u256_fits128(&e->d[i]))
		return error("%s: %s does not fit in a u128", e->name, field);
	*out = e->d[i];
	return 0;
}

static const char *hex(const u256 *a, char buf[U256_HEX_MAX])
{
	u256_format_hex(a, buf);
	return buf;
}

static const char *dec(const u256 *a, char buf[U256_DEC_MAX])
{
	u256_format_dec(a, buf);
	return buf;
}

/* Checked arithmetic with messages naming the event and the quantity. */
static int add(struct ev *e, u256 *r, const u256 *a, const u256 *b, const char *what)
{
	if (u256_add(r, a, b) < 0)
		return error("%s: %s overflows 256 bits", e->name, what);
	return 0;
}

static int sub(struct ev *e, u256 *r, const u256 *a, const u256 *b, const char *what)
{
	if (u256_sub(r, a, b) < 0) {
		char x[U256_DEC_MAX], y[U256_DEC_MAX];
		return error("%s: %s would go below zero (%s - %s)", e->name, what, dec(a, x), dec(b, y));
	}
	return 0;
}

static int mul(struct ev *e, u256 *r, const u256 *a, const u256 *b, const char *what)
{
	if (u256_mul(r, a, b) < 0)
		return error("%s: %s overflows 256 bits", e->name, what);
	return 0;
}

/* floor(a*b/c), 0 when c == 0 (the contract's "if S = 0" cases). */
static int muldiv0(struct ev *e, u256 *r, const u256 *a, const u256 *b, const u256 *c, const char *what)
{
	if (u256_is_zero(c)) {
		u256_zero(r);
		return 0;
	}
	if (u256_muldiv(r, a, b, c) < 0)
		return error("%s: %s overflows 256 bits", e->name, what);
	return 0;
}

static int expect_eq(struct ev *e, const u256 *got, const u256 *want, const char *what)
{
	if (u256_eq(got, want))
		return 0;
	char x[U256_DEC_MAX], y[U256_DEC_MAX];
	return error("%s: %s is %s in the event but %s by our state", e->name, what, dec(got, x), dec(want, y));
}

/* The round addressed by (round_id key, round_address data[idx]); must belong to the vault. */
static int event_round(struct ev *e, uint32_t idx, struct round **out)
{
	char b1[U256_HEX_MAX], b2[U256_HEX_MAX];
	uint64_t rid;
	u256 keyid = e->k[e->nk - 1];
	if (!u256_fits64(&keyid))
		return error("%s: round_id does not fit in a u64", e->name);
	rid = keyid.w[0];
	struct round *r = dl_get(e->dl, T_ROUNDS, &e->d[idx]);
	if (!r)
		return error("%s: round %s does not exist", e->name, hex(&e->d[idx], b1));
	if (!u256_eq(&r->vault, e->vault))
		return error("%s: round %s belongs to vault %s", e->name, hex(&e->d[idx], b1), hex(&r->vault, b2));
	if (r->round_id != rid)
		return error("%s: round %s has id %llu, the event says %llu", e->name, hex(&e->d[idx], b1),
			(unsigned long long)r->round_id, (unsigned long long)rid);
	*out = r;
	return 0;
}

static int need_state(struct ev *e, const struct round *r, uint64_t st)
{
	static const char *const names[] = {"Open", "Auctioning", "Running", "Settled"};
	char b[U256_HEX_MAX];
	if (r->state != st)
		return error("%s: round %s is %s, expected %s", e->name, hex(&r->address, b), names[r->state & 3], names[st]);
	return 0;
}

static void max_payout(const struct round *r, u256 *out)
{
	/* strike * cap_level / BPS; cannot overflow for u256 strike and u128 cap
	 * in 512 bits, and the result fits when the contract accepted them. */
	u256 bps;
	u256_set_u64(&bps, BPS);
	if (u256_muldiv(out, &r->strike, &r->cap, &bps) < 0)
		u256_zero(out);
}

static struct lp *get_lp(struct dl *dl, const u256 *account, const u256 *vault)
{
	u256 key[2] = {*account, *vault};
	return dl_get(dl, T_LP, key);
}

/* ---------------------------------------------------------------- vault / LP events */

static int on_deposit_withdrawal(struct ev *e, int deposit)
{
	u256 amount, acct_now, vault_now, want;
	if (d_u256(e, 0, &amount, "amount") < 0 || d_u256(e, 2, &acct_now, "account_unlocked_balance_now") < 0 ||
		d_u256(e, 4, &vault_now, "vault_unlocked_balance_now") < 0)
		return -1;
	if (deposit ? add(e, &want, &e->v->unlocked, &amount, "vault unlocked balance")
		    : sub(e, &want, &e->v->unlocked, &amount, "vault unlocked balance"))
		return -1;
	if (expect_eq(e, &vault_now, &want, "vault_unlocked_balance_now") < 0)
		return -1;
	struct lp *l = get_lp(e->dl, &e->k[1], e->vault);
	if (!l) {
		char b[U256_HEX_MAX];
		if (!deposit)
			return error("Withdrawal: liquidity provider %s has never deposited", hex(&e->k[1], b));
		u256 key[2] = {e->k[1], *e->vault};
		l = dl_new_row(e->dl, T_LP, key);
	}
	lp_update(e->dl, l)->unlocked = acct_now;
	vault_update(e->dl, e->v)->unlocked = vault_now;
	return 0;
}

static int on_withdrawal_queued(struct ev *e)
{
	u256 bps, before, now, vault_now, want, cur, maxbps;
	uint64_t rid = 0;
	if (d_u128(e, 0, &bps, "bps") < 0 || d_u64(e, 1, &rid, "round_id") < 0 ||
		d_u256(e, 2, &before, "account_queued_liquidity_before") < 0 ||
		d_u256(e, 4, &now, "account_queued_liquidity_now") < 0 || d_u256(e, 6, &vault_now, "vault_queued_liquidity_now") < 0)
		return -1;
	u256_set_u64(&maxbps, BPS);
	if (u256_cmp(&bps, &maxbps) > 0)
		return error("WithdrawalQueued: bps above 10000");
	struct round *r = pl_round_by_id(e->dl, e->vault, rid);
	if (!r)
		return error("WithdrawalQueued: round %llu of the vault does not exist", (unsigned long long)rid);
	u256 key[2] = {e->k[1], r->address};
	struct queued *q = dl_get(e->dl, T_QUEUED, key);
	if (q)
		cur = q->queued;
	else
		u256_zero(&cur);
	if (expect_eq(e, &before, &cur, "account_queued_liquidity_before") < 0)
		return -1;
	if (sub(e, &want, &r->queued, &before, "round queued liquidity") < 0 ||
		add(e, &want, &want, &now, "round queued liquidity") < 0 ||
		expect_eq(e, &vault_now, &want, "vault_queued_liquidity_now") < 0)
		return -1;
	if (!q)
		q = dl_new_row(e->dl, T_QUEUED, key);
	dl_mut(e->dl, T_QUEUED, q);
	q->bps = bps;
	q->queued = now;
	dl_mut(e->dl, T_ROUNDS, r);
	r->queued = vault_now;
	return 0;
}

static int on_stash_withdrawn(struct ev *e)
{
	u256 amount, stashed_now, want;
	char b[U256_HEX_MAX];
	if (d_u256(e, 0, &amount, "amount") < 0 || d_u256(e, 2, &stashed_now, "vault_stashed_balance_now") < 0)
		return -1;
	if (sub(e, &want, &e->v->stashed, &amount, "vault stashed balance") < 0 ||
		expect_eq(e, &stashed_now, &want, "vault_stashed_balance_now") < 0)
		return -1;
	struct lp *l = get_lp(e->dl, &e->k[1], e->vault);
	if (!l)
		return error("StashWithdrawn: liquidity provider %s does not exist", hex(&e->k[1], b));
	u256_zero(&lp_update(e->dl, l)->stashed);
	vault_update(e->dl, e->v)->stashed = stashed_now;
	return 0;
}

static int on_contract_deployed(struct ev *e)
{
	char b1[U256_HEX_MAX], b2[U256_HEX_MAX];
	/* UDC: address, deployer, unique, class_hash, calldata_len, calldata..., salt */
	if (e->nd < 6)
		return error("ContractDeployed: data has %u felts, expected at least 6", e->nd);
	if (!u256_fits64(&e->d[4]) || e->d[4].w[0] != e->nd - 6)
		return error("ContractDeployed: calldata_len does not match the data length %u", e->nd);
	if (e->d[4].w[0] != 9)
		return error("ContractDeployed: vault constructor has %llu arguments, expected 9 (deployed ABI)",
			(unsigned long long)e->d[4].w[0]);
	if (!u256_eq(&e->d[0], e->vault))
		return error("ContractDeployed: deploys %s, not the vault %s", hex(&e->d[0], b1), hex(e->vault, b2));
	if (e->v)
		return error("ContractDeployed: vault %s already exists", hex(e->vault, b1));
	static const char *const names[] = {"alpha", "strike_level", "minimum_cap_level", "round_transition_duration",
		"auction_duration", "round_duration"};
	for (int i = 8; i <= 13; i++)
		if (i != 9 && !u256_fits128(&e->d[i]))
			return error("ContractDeployed: %s does not fit in 128 bits", names[i - 8]);
	char i128[U256_DEC_MAX + 1];
	if (felt_format_i128(&e->d[9], i128) < 0)
		return error("ContractDeployed: strike_level is not an i128");
	struct vault *v = dl_new_row(e->dl, T_VAULTS, e->vault);
	vault_update(e->dl, v);
	v->fossil = e->d[5];
	v->eth = e->d[6];
	v->class_hash = e->d[7];
	v->alpha = e->d[8];
	v->strike_level = e->d[9];
	/* d[10] minimum_cap_level has no column */
	v->rtp = e->d[11];
	v->auction_dur = e->d[12];
	v->round_dur = e->d[13];
	v->deployment_date = dl_time(e->dl);
	return 0;
}

/* ---------------------------------------------------------------- round lifecycle */

static int on_round_deployed(struct ev *e)
{
	char b[U256_HEX_MAX];
	uint64_t rid = 0, start = 0, end = 0, settle = 0;
	u256 strike, cap, reserve;
	if (d_u64(e, 0, &rid, "round_id") < 0 || d_u64(e, 2, &start, "auction_start_date") < 0 ||
		d_u64(e, 3, &end, "auction_end_date") < 0 || d_u64(e, 4, &settle, "option_settlement_date") < 0 ||
		d_u256(e, 5, &strike, "strike_price") < 0 || d_u128(e, 7, &cap, "cap_level") < 0 ||
		d_u256(e, 8, &reserve, "reserve_price") < 0)
		return -1;
	if (rid != e->v->current_round + 1)
		return error("OptionRoundDeployed: round %llu deployed while the vault is at round %llu",
			(unsigned long long)rid, (unsigned long long)e->v->current_round);
	if (e->v->current_round) {
		struct round *prev = pl_round_by_id(e->dl, e->vault, e->v->current_round);
		if (prev && prev->state != R_SETTLED)
			return error("OptionRoundDeployed: round %llu deployed before round %llu settled",
				(unsigned long long)rid, (unsigned long long)prev->round_id);
	}
	if (dl_get(e->dl, T_ROUNDS, &e->d[1]))
		return error("OptionRoundDeployed: round %s already exists", hex(&e->d[1], b));
	struct round r;
	memset(&r, 0, sizeof r);
	r.address = e->d[1];
	r.vault = *e->vault;
	r.round_id = rid;
	r.state = R_OPEN;
	r.start_date = start;
	r.end_date = end;
	r.settlement_date = settle;
	r.strike = strike;
	r.cap = cap;
	r.reserve = reserve;
	r.deployment_date = dl_time(e->dl);
	dl_insert_row(e->dl, T_ROUNDS, &r); /* also indexes (vault, round_id) */
	dl_mut(e->dl, T_VAULTS, e->v);
	e->v->current_round = rid;
	e->v->current_round_address = e->d[1];
	return 0;
}

static int on_pricing_set(struct ev *e)
{
	struct round *r;
	u256 strike, cap, reserve;
	if (d_u256(e, 0, &strike, "strike_price") < 0 || d_u128(e, 2, &cap, "cap_level") < 0 ||
		d_u256(e, 3, &reserve, "reserve_price") < 0 || event_round(e, 5, &r) < 0 || need_state(e, r, R_OPEN) < 0)
		return -1;
	dl_mut(e->dl, T_ROUNDS, r);
	r->strike = strike;
	r->cap = cap;
	r->reserve = reserve;
	return 0;
}

static int on_auction_started(struct ev *e)
{
	struct round *r;
	u256 S, avail, mp, want;
	if (d_u256(e, 0, &S, "starting_liquidity") < 0 || d_u256(e, 2, &avail, "options_available") < 0 ||
		event_round(e, 4, &r) < 0 || need_state(e, r, R_OPEN) < 0)
		return -1;
	if (!u256_eq(&r->address, &e->v->current_round_address))
		return error("AuctionStarted: round is not the vault's current round");
	if (expect_eq(e, &S, &e->v->unlocked, "starting_liquidity") < 0)
		return -1;
	if (!u256_is_zero(&e->v->locked)) {
		char x[U256_DEC_MAX];
		return error("AuctionStarted: vault still has %s locked from an earlier round", dec(&e->v->locked, x));
	}
	max_payout(r, &mp);
	if (u256_is_zero(&mp))
		u256_zero(&want);
	else
		u256_div(&want, &S, &mp);
	if (expect_eq(e, &avail, &want, "options_available") < 0)
		return -1;
	dl_mut(e->dl, T_ROUNDS, r);
	r->starting = S;
	r->available = avail;
	r->state = R_AUCTIONING;
	struct vault *v = vault_update(e->dl, e->v);
	v->locked = S;
	u256_zero(&v->unlocked);
	struct vidx *lps = pl_lps_of(e->dl, e->vault);
	for (uint32_t i = 0; lps && i < lps->v.n; i++) {
		struct lp *l = lps->v.p[i];
		if (u256_is_zero(&l->unlocked))
			continue;
		struct lprl *x = dl_get(e->dl, T_LPRL, l);
		if (x)
			dl_del_row(e->dl, T_LPRL, x); /* a stale entry cannot survive settlement; be safe */
		x = dl_new_row(e->dl, T_LPRL, l);
		x->round = r->address;
		x->starting = l->unlocked;
		lp_update(e->dl, l);
		l->locked = l->unlocked;
		u256_zero(&l->unlocked);
	}
	return 0;
}

static int cmp_bid(const void *a, const void *b)
{
	const struct bid *x = *(struct bid *const *)a, *y = *(struct bid *const *)b;
	int c = u256_cmp(&y->price, &x->price); /* higher price first */
	if (c)
		return c;
	return x->tree_nonce < y->tree_nonce ? -1 : x->tree_nonce > y->tree_nonce; /* earlier first */
}

static int on_auction_ended(struct ev *e)
{
	struct round *r;
	u256 sold, cp, U, mp, want, P, PU, t;
	uint64_t nonce = 0;
	if (d_u256(e, 0, &sold, "options_sold") < 0 || d_u256(e, 2, &cp, "clearing_price") < 0 ||
		d_u256(e, 4, &U, "unsold_liquidity") < 0 || d_u64(e, 6, &nonce, "clearing_bid_tree_nonce") < 0 ||
		event_round(e, 7, &r) < 0 || need_state(e, r, R_AUCTIONING) < 0)
		return -1;

	/* Clearing (spec §6.3): walk the bids best-first. */
	struct vidx *bx = pl_bids_of(e->dl, &r->address);
	uint32_t nb = bx ? bx->v.n : 0;
	struct bid **bids = xmalloc((nb ? nb : 1) * sizeof *bids);
	if (nb)
		memcpy(bids, bx->v.p, nb * sizeof *bids);
	qsort(bids, nb, sizeof *bids, cmp_bid);
	u256 remaining = r->available, csold, ccp;
	int64_t clearing = -1; /* index of the clearing bid */
	for (uint32_t i = 0; i < nb; i++) {
		if (u256_cmp(&bids[i]->amount, &remaining) >= 0) {
			clearing = i;
			break;
		}
		u256_sub(&remaining, &remaining, &bids[i]->amount);
	}
	u256 clearing_part;
	uint64_t cnonce = 0;
	if (clearing >= 0) {
		clearing_part = remaining;
		csold = r->available;
		ccp = bids[clearing]->price;
		cnonce = bids[clearing]->tree_nonce;
	} else {
		u256_zero(&clearing_part);
		u256_sub(&csold, &r->available, &remaining);
		if (nb) {
			ccp = bids[nb - 1]->price;
			cnonce = bids[nb - 1]->tree_nonce;
		} else {
			u256_zero(&ccp);
		}
	}
	int bad = expect_eq(e, &sold, &csold, "options_sold") < 0 || expect_eq(e, &cp, &ccp, "clearing_price") < 0;
	if (!bad && nonce != cnonce)
		bad = error("AuctionEnded: clearing_bid_tree_nonce is %llu in the event but %llu by our bids",
			      (unsigned long long)nonce, (unsigned long long)cnonce) < 0;
	max_payout(r, &mp);
	if (!bad)
		bad = mul(e, &t, &sold, &mp, "options_sold * max_payout") < 0 ||
		      sub(e, &want, &r->starting, &t, "unsold liquidity") < 0 ||
		      expect_eq(e, &U, &want, "unsold_liquidity") < 0 || mul(e, &P, &cp, &sold, "premiums") < 0 ||
		      add(e, &PU, &P, &U, "premiums + unsold") < 0;
	if (bad) {
		free(bids);
		return -1;
	}

	/* Per-buyer outcomes, summed into Option_Buyers (which BidPlaced created). */
	for (uint32_t i = 0; i < nb; i++) {
		u256 key[2] = {bids[i]->buyer, r->address};
		struct buyer *b = dl_get(e->dl, T_BUYERS, key);
		if (!b) {
			free(bids);
			return error("AuctionEnded: bidder without an Option_Buyers row");
		}
		dl_mut(e->dl, T_BUYERS, b);
	}
	/* Reset every bidder's amounts, then add each bid's outcome. */
	for (uint32_t i = 0; i < nb; i++) {
		u256 key[2] = {bids[i]->buyer, r->address};
		struct buyer *b = dl_get(e->dl, T_BUYERS, key);
		u256_zero(&b->mintable);
		u256_zero(&b->refundable);
	}
	for (uint32_t i = 0; i < nb; i++) {
		struct bid *bd = bids[i];
		u256 key[2] = {bd->buyer, r->address};
		struct buyer *b = dl_get(e->dl, T_BUYERS, key);
		u256 mint, refund, diff;
		int winner = clearing < 0 || (int64_t)i < clearing;
		if (winner) {
			mint = bd->amount;
			if (sub(e, &diff, &bd->price, &cp, "bid price - clearing price") < 0 ||
				mul(e, &refund, &diff, &bd->amount, "refundable amount") < 0)
				goto fail;
		} else if ((int64_t)i == clearing) {
			mint = clearing_part;
			if (sub(e, &diff, &bd->amount, &clearing_part, "unsold part of the clearing bid") < 0 ||
				mul(e, &refund, &diff, &bd->price, "refundable amount") < 0)
				goto fail;
		} else {
			u256_zero(&mint);
			if (mul(e, &refund, &bd->amount, &bd->price, "refundable amount") < 0)
				goto fail;
		}
		if (add(e, &b->mintable, &b->mintable, &mint, "mintable options") < 0 ||
			add(e, &b->refundable, &b->refundable, &refund, "refundable amount") < 0)
			goto fail;
	}
	free(bids);

	dl_mut(e->dl, T_ROUNDS, r);
	r->clearing = cp;
	r->sold = sold;
	r->unsold = U;
	r->premiums = P;
	r->state = R_RUNNING;
	struct vault *v = vault_update(e->dl, e->v);
	if (add(e, &v->unlocked, &v->unlocked, &PU, "vault unlocked balance") < 0 ||
		sub(e, &v->locked, &v->locked, &U, "vault locked balance") < 0)
		return -1;
	const u256 *S = &r->starting;
	if (u256_is_zero(S))
		return 0;
	u256 SU;
	if (sub(e, &SU, S, &U, "starting - unsold liquidity") < 0)
		return -1;
	struct vidx *lps = pl_lps_of(e->dl, e->vault);
	for (uint32_t i = 0; lps && i < lps->v.n; i++) {
		struct lp *l = lps->v.p[i];
		struct lprl *x = dl_get(e->dl, T_LPRL, l);
		if (!x || u256_is_zero(&x->starting))
			continue;
		u256 gain;
		if (muldiv0(e, &gain, &PU, &x->starting, S, "LP share of premiums and unsold liquidity") < 0)
			return -1;
		lp_update(e->dl, l);
		if (add(e, &l->unlocked, &l->unlocked, &gain, "LP unlocked balance") < 0 ||
			muldiv0(e, &l->locked, &SU, &x->starting, S, "LP locked balance") < 0)
			return -1;
	}
	return 0;
fail:
	free(bids);
	return -1;
}

static int on_round_settled(struct ev *e)
{
	struct round *r;
	u256 price, ppo, mp, want, t, R, stash, rest;
	if (d_u256(e, 0, &price, "settlement_price") < 0 || d_u256(e, 2, &ppo, "payout_per_option") < 0 ||
		event_round(e, 4, &r) < 0 || need_state(e, r, R_RUNNING) < 0)
		return -1;
	max_payout(r, &mp);
	if (u256_cmp(&price, &r->strike) <= 0) {
		u256_zero(&want);
	} else {
		u256_sub(&want, &price, &r->strike);
		if (u256_cmp(&want, &mp) > 0)
			want = mp;
	}
	if (expect_eq(e, &ppo, &want, "payout_per_option") < 0)
		return -1;
	const u256 *S = &r->starting;
	if (mul(e, &t, &ppo, &r->sold, "total payout") < 0 || sub(e, &R, S, &r->unsold, "remaining liquidity") < 0 ||
		sub(e, &R, &R, &t, "remaining liquidity") < 0)
		return -1;
	if (muldiv0(e, &stash, &R, &r->queued, S, "stashed liquidity") < 0 ||
		sub(e, &rest, &R, &stash, "remaining minus stashed liquidity") < 0)
		return -1;
	dl_mut(e->dl, T_ROUNDS, r);
	r->settlement = price;
	r->ppo = ppo;
	r->remaining = R;
	r->state = R_SETTLED;
	struct vault *v = vault_update(e->dl, e->v);
	u256_zero(&v->locked);
	if (add(e, &v->stashed, &v->stashed, &stash, "vault stashed balance") < 0 ||
		add(e, &v->unlocked, &v->unlocked, &rest, "vault unlocked balance") < 0)
		return -1;
	struct vidx *lps = pl_lps_of(e->dl, e->vault);
	for (uint32_t i = 0; lps && i < lps->v.n; i++) {
		struct lp *l = lps->v.p[i];
		struct lprl *x = dl_get(e->dl, T_LPRL, l);
		if (!x)
			continue;
		u256 share, lstash, lrest, qv;
		u256 qkey[2] = {l->address, r->address};
		struct queued *q = dl_get(e->dl, T_QUEUED, qkey);
		if (q)
			qv = q->queued;
		else
			u256_zero(&qv);
		if (muldiv0(e, &share, &R, &x->starting, S, "LP share of remaining liquidity") < 0 ||
			muldiv0(e, &lstash, &R, &qv, S, "LP stashed liquidity") < 0 ||
			sub(e, &lrest, &share, &lstash, "LP share minus stash") < 0)
			return -1;
		lp_update(e->dl, l);
		u256_zero(&l->locked);
		if (add(e, &l->unlocked, &l->unlocked, &lrest, "LP unlocked balance") < 0 ||
			add(e, &l->stashed, &l->stashed, &lstash, "LP stashed balance") < 0)
			return -1;
		dl_del_row(e->dl, T_LPRL, x);
	}
	return 0;
}

/* ---------------------------------------------------------------- option buyers */

static int on_bid_placed(struct ev *e)
{
	struct round *r;
	u256 amount, price;
	uint64_t nonce_now = 0;
	char b[U256_HEX_MAX];
	if (d_u256(e, 1, &amount, "amount") < 0 || d_u256(e, 3, &price, "price") < 0 ||
		d_u64(e, 5, &nonce_now, "bid_tree_nonce_now") < 0 || event_round(e, 6, &r) < 0 ||
		need_state(e, r, R_AUCTIONING) < 0)
		return -1;
	if (nonce_now == 0)
		return error("BidPlaced: bid_tree_nonce_now is 0 (the bid's nonce is one less)");
	if (u256_cmp(&price, &r->reserve) < 0)
		return error("BidPlaced: price is below the round's reserve price");
	u256 bkey[2] = {r->address, e->d[0]};
	if (dl_get(e->dl, T_BIDS, bkey))
		return error("BidPlaced: bid %s already exists in the round", hex(&e->d[0], b));
	u256 okey[2] = {e->k[1], r->address};
	if (!dl_get(e->dl, T_BUYERS, okey))
		dl_new_row(e->dl, T_BUYERS, okey);
	struct bid *bd = dl_new_row(e->dl, T_BIDS, bkey);
	bd->buyer = e->k[1];
	bd->tree_nonce = nonce_now - 1;
	bd->amount = amount;
	bd->price = price;
	return 0;
}

static int on_bid_updated(struct ev *e)
{
	struct round *r;
	u256 inc;
	uint64_t before = 0, now = 0;
	char b1[U256_HEX_MAX], b2[U256_HEX_MAX];
	if (d_u256(e, 1, &inc, "price_increase") < 0 || d_u64(e, 3, &before, "bid_tree_nonce_before") < 0 ||
		d_u64(e, 4, &now, "bid_tree_nonce_now") < 0 || event_round(e, 5, &r) < 0 ||
		need_state(e, r, R_AUCTIONING) < 0)
		return -1;
	u256 bkey[2] = {r->address, e->d[0]};
	struct bid *bd = dl_get(e->dl, T_BIDS, bkey);
	if (!bd)
		return error("BidUpdated: bid %s does not exist", hex(&e->d[0], b1));
	if (!u256_eq(&bd->buyer, &e->k[1]))
		return error("BidUpdated: bid %s belongs to %s", hex(&e->d[0], b1), hex(&bd->buyer, b2));
	if (bd->tree_nonce != before)
		return error("BidUpdated: bid_tree_nonce_before is %llu, the bid has %llu", (unsigned long long)before,
			(unsigned long long)bd->tree_nonce);
	dl_mut(e->dl, T_BIDS, bd);
	if (add(e, &bd->price, &bd->price, &inc, "bid price") < 0)
		return -1;
	bd->tree_nonce = now; /* Layout A: "now" is the bid's new nonce */
	return 0;
}

static int on_buyer_flag(struct ev *e)
{
	struct round *r;
	char b[U256_HEX_MAX];
	uint32_t ridx = e->kind == EV_EXERCISED ? 6 : 2;
	u256 amount;
	if (d_u256(e, 0, &amount, "amount") < 0 || (e->kind == EV_EXERCISED &&
							   (d_u256(e, 2, &amount, "mintable_options_exercised") < 0 || d_u256(e, 4, &amount, "exercised_amount") < 0)))
		return -1;
	if (!u256_fits64(&e->k[e->nk - 1]))
		return error("%s: round_id does not fit in a u64", e->name);
	/* A round whose settlement is final has left memory (tables.c), and the
	 * events name it for ever after: its buyer rows still in memory are what
	 * such an event can change (their round ended its auction: it settled). */
	if (!dl_get(e->dl, T_ROUNDS, &e->d[ridx]))
		r = NULL;
	else if (event_round(e, ridx, &r) < 0)
		return -1;
	if (r && (r->state == R_OPEN || r->state == R_AUCTIONING))
		return error("%s: round %s has not finished its auction", e->name, hex(&r->address, b));
	if (r && e->kind == EV_EXERCISED && r->state != R_SETTLED)
		return error("OptionsExercised: round %s is not settled", hex(&r->address, b));
	u256 key[2] = {e->k[1], e->d[ridx]};
	struct buyer *by = dl_get(e->dl, T_BUYERS, key);
	if (!by) {
		/* No row: options bought on the secondary market can be exercised
		 * without ever bidding, and the contract lets any account mint or
		 * refund (nothing) once the auction ended -- the row would not
		 * change (the original's UPDATE matches no row).  A done buyer's
		 * row (both flags set, final) has left memory (tables.c): for it
		 * too the event changes nothing; so has an archived round's. */
		return 0;
	}
	if (e->kind == EV_REFUNDED) {
		if (!by->has_refunded) {
			dl_mut(e->dl, T_BUYERS, by);
			by->has_refunded = 1;
		}
	} else if (!by->has_minted) {
		/* OptionsMinted, and OptionsExercised (which mints what was still mintable). */
		dl_mut(e->dl, T_BUYERS, by);
		by->has_minted = 1;
	}
	return 0;
}

/* One event of a known vault: decode by selector, check the shape, dispatch. */
static int apply_event(struct dl *dl, const u256 *vault)
{
	const int ev = 0;
	struct js *js = dl_js(dl);
	struct ev e;
	char b[U256_HEX_MAX];
	if (!selectors_ready)
		init_selectors();
	int keys = js_get(js, ev, "keys"), data = js_get(js, ev, "data");
	if (keys < 0 || js->t[keys].type != JS_ARR || js->t[keys].n == 0)
		return error("missing or empty field 'keys'");
	u256 sel;
	const char *s;
	size_t n;
	int k0 = js_first(js, keys);
	if (js_str(js, k0, dl_scratch(dl), &s, &n) < 0 || felt_parse(&sel, s, n) < 0)
		return error("keys[0] is not a felt");
	e.kind = -1;
	for (int i = 0; i < EV_COUNT; i++)
		if (u256_eq(&sel, &selectors[i])) {
			e.kind = i;
			break;
		}
	if (e.kind < 0) {
		return DL_UNTRACKED; /* ERC-20 Transfer and other selectors we do not track */
	}
	e.dl = dl;
	e.name = events[e.kind].name;
	e.vault = vault;
	if (felts(dl, keys, "keys", e.k, 8, &e.nk) < 0 || felts(dl, data, "data", e.d, MAXF, &e.nd) < 0)
		return error("%s: %s", e.name, err_msg());
	if ((int)e.nk != events[e.kind].nkeys)
		return error("%s: keys has %u felts, expected %d", e.name, e.nk, events[e.kind].nkeys);
	if (events[e.kind].ndata >= 0 && (int)e.nd != events[e.kind].ndata)
		return error("%s: data has %u felts, expected %d", e.name, e.nd, events[e.kind].ndata);
	e.v = dl_get(dl, T_VAULTS, vault);
	if (!e.v && e.kind != EV_CONTRACT_DEPLOYED)
		return error("%s: vault %s has not been deployed (no ContractDeployed event)", e.name, hex(vault, b));
	switch (e.kind) {
	case EV_DEPOSIT:
		return on_deposit_withdrawal(&e, 1);
	case EV_WITHDRAWAL:
		return on_deposit_withdrawal(&e, 0);
	case EV_WITHDRAWAL_QUEUED:
		return on_withdrawal_queued(&e);
	case EV_STASH_WITHDRAWN:
		return on_stash_withdrawn(&e);
	case EV_ROUND_DEPLOYED:
		return on_round_deployed(&e);
	case EV_PRICING_SET:
		return on_pricing_set(&e);
	case EV_AUCTION_STARTED:
		return on_auction_started(&e);
	case EV_AUCTION_ENDED:
		return on_auction_ended(&e);
	case EV_ROUND_SETTLED:
		return on_round_settled(&e);
	case EV_BID_PLACED:
		return on_bid_placed(&e);
	case EV_BID_UPDATED:
		return on_bid_updated(&e);
	case EV_REFUNDED:
	case EV_MINTED:
	case EV_EXERCISED:
		return on_buyer_flag(&e);
	case EV_CONTRACT_DEPLOYED:
		return on_contract_deployed(&e);
	}
	return error("internal: unhandled event kind");
}

/*
 * The domain's event hook.  CatchupVault frames re-read a vault's events
 * over a block range, so a per-vault cursor (pl_vault_cursor: the highest
 * block whose events of the vault are applied) makes sure that no event is
 * applied twice: events of blocks at or below the cursor as it was when
 * the frame began are skipped.
 */
int pl_apply_event(struct dl *dl)
{
	u256 vault;
	uint64_t bn = dl_block(dl);
	if (dl_field_felt(dl, 0, "vault", &vault) < 0)
		return -1;
	const struct cursor *before = dl_get_before_frame(dl, T_CURSOR, &vault);
	if (before && bn <= before->block)
		return DL_ALREADY;
	int r = apply_event(dl, &vault);
	if (r < 0)
		return -1;
	if (dl_get(dl, T_VAULTS, &vault)) {
		struct cursor *c = dl_get(dl, T_CURSOR, &vault);
		if (!c)
			c = dl_new_row(dl, T_CURSOR, &vault);
		if (c->block != bn) {
			dl_mut(dl, T_CURSOR, c);
			c->block = bn;
		}
	}
	return r;
}
