/*
 * sim_life.c -- what happens to chain-sim's vaults: deployment, the rounds'
 * phases (pricing, auction start and end, settlement, the next round) and
 * the users' random actions (deposits, withdrawals, queueing, stashes, bids,
 * mints, refunds, exercises), each as its model writes and its events.
 *
 * Each action is one transaction (new_tx).  It writes the model only
 * through the undo log (sim_sv and its setters sim_set64/sim_setu), so that
 * a reorg can take it back, and emits its events as it goes.  The weights
 * and delays below shape the chain (quiet and busy auctions, ties in the
 * price ladder, whales, keepers that act late); they and the order of the
 * random draws are part of the output: a seed must keep giving the same
 * bytes.
 *
 * Rounds live in a ring of RING slots per vault; when round N+RING is
 * deployed, round N is retired: its rows go to the --dump-state store (an
 * append-only buffer whose length is model state), then the slot is reused.
 */
#include <string.h>

#include "dom/pitchlake/sim_int.h"

/* ---- transactions ---- */

static void new_tx(struct sim *s)
{
	u4 h;
	sim_felt_rand(s, &h);
	sim_hexs_set(&s->tx, &h);
}

/* ERC-20 Transfer noise (--transfers): consumers must ignore it. */
static void maybe_transfer(struct sim *s, struct vault *v)
{
	if (!s->o.transfers || !sim_chance(s, 150))
		return;
	const struct hexs *from = &s->lphex[sim_below(s, s->o.lps)];
	const struct hexs *to = sim_chance(s, 500) ? &v->hex : &s->obhex[sim_below(s, s->o.buyers)];
	u4 amt;
	sim_u_muladd(s, &amt, sim_range(s, 1, 1000000), 1000000000, sim_below(s, 1000000000));
	char *p = sim_ev_begin(s, v, E_TRANSFER);
	p = sim_q_str(p, from);
	p = sim_q_str(p, to);
	p = sim_ev_data(p);
	p = sim_q_u256(p, &amt);
	sim_ev_end(s, p);
}

/* ---- amounts and prices ---- */

static void strike_range(const struct vault *v, uint64_t *lo, uint64_t *hi)
{
	static const uint64_t lim[3][2] = {
		{100, 1000},
		{UINT64_C(1000000000), UINT64_C(10000000000)},
		{UINT64_C(100000000000000000), UINT64_C(10000000000000000000)},
	};
	*lo = lim[v->kind][0];
	*hi = lim[v->kind][1];
}

static void gen_deposit(struct sim *s, const struct vault *v, u4 *a)
{
	if (v->kind && sim_chance(s, 4)) {
		/* a whale: the u256 high half is non-zero */
		a->w[0] = sim_rnd(s);
		a->w[1] = sim_rnd(s);
		a->w[2] = sim_range(s, 1, 1u << 20);
		a->w[3] = 0;
		return;
	}
	if (sim_chance(s, 40)) {
		sim_u_set64(a, sim_range(s, 1, 100));
		return;
	}
	switch (v->kind) {
	case 0:
		sim_u_set64(a, sim_range(s, 1000, 1000000));
		break;
	case 1:
		sim_u_muladd(s, a, sim_range(s, 1, 10000), UINT64_C(1000000000000000), sim_below(s, UINT64_C(1000000000000000)));
		break;
	default:
		sim_u_muladd(s, a, sim_range(s, 1, 1000000), UINT64_C(1000000000000000000), sim_below(s, UINT64_C(1000000000000000000)));
		break;
	}
}

/* Pricing of a new round: from the last settlement price when it is in range. */
static void gen_pricing(struct sim *s, const struct vault *v, const u4 *settle, u4 *strike, u4 *cap, u4 *reserve)
{
	uint64_t lo, hi;
	strike_range(v, &lo, &hi);
	sim_u_set64(strike, sim_range(s, lo, hi));
	if (settle) {
		u4 x;
		sim_u_scale(s, &x, settle, (uint64_t)(BPS + v->strike_level), BPS);
		if (!x.w[1] && !x.w[2] && !x.w[3] && x.w[0] >= lo && x.w[0] <= hi)
			*strike = x;
	}
	sim_u_set64(cap, sim_range(s, v->min_cap, 9000));
	u4 mp, bps;
	sim_u_set64(&bps, BPS);
	sim_u_muldiv(s, &mp, strike, cap, &bps);
	sim_u_scale(s, reserve, &mp, sim_range(s, 1, 30), 100);
	if (sim_u_is0(reserve))
		sim_u_set64(reserve, 1);
}

/* ---- vault lifecycle ---- */

/* A round leaves the live window: keep its (now final) rows for --dump-state. */
static void retire(struct sim *s, struct vault *v, struct round *r)
{
	if (!s->o.dump_state)
		return;
	sim_round_rows(s, v, r, &s->dump);
	sim_set64(s, &s->dump_len, s->dump.len);
}

static char *q_round_tail(char *p, const struct round *r)
{
	return sim_q_str(p, &r->hex);
}

/* Deploy round id into its slot (retiring the round it held) and emit OptionRoundDeployed. */
static void round_deploy(struct sim *s, struct vault *v, uint64_t id, const u4 *strike, const u4 *cap, const u4 *reserve, int priced)
{
	struct round *r = v->ring[id % RING];
	if (r->id)
		retire(s, v, r);
	sim_sv(s, r, s->slot_size);
	struct bid *bids = r->bids;
	struct ob *obs = r->obs;
	struct lpr *lprs = r->lprs;
	memset(r, 0, s->slot_size);
	r->bids = bids;
	r->obs = obs;
	r->lprs = lprs;
	r->id = id;
	r->state = R_OPEN;
	r->priced = (uint64_t)priced;
	r->mood = sim_chance(s, 100) ? 0 : sim_range(s, 1, 3);
	sim_felt_derive(&r->addr, s->o.seed, TAG_ROUND, v->idx, id);
	sim_hexs_set(&r->hex, &r->addr);
	r->deploy_date = s->ts;
	r->start_date = s->ts + v->transition;
	r->end_date = r->start_date + v->auction_dur;
	r->settle_date = r->end_date + v->round_dur;
	r->strike = *strike;
	r->cap = *cap;
	r->reserve = *reserve;
	sim_set64(s, &v->cur, id);

	char *p = sim_ev_begin(s, v, E_ROUND_DEPLOYED);
	p = sim_ev_data(p);
	p = sim_q_u64(p, id);
	p = sim_q_str(p, &r->hex);
	p = sim_q_u64(p, r->start_date);
	p = sim_q_u64(p, r->end_date);
	p = sim_q_u64(p, r->settle_date);
	p = sim_q_u256(p, &r->strike);
	p = sim_q_hex(p, r->cap.w, 2);
	p = sim_q_u256(p, &r->reserve);
	sim_ev_end(s, p);
}

static void act_deploy(struct sim *s, struct vault *v)
{
	new_tx(s);
	sim_set64(s, &v->deployed, 1);
	sim_set64(s, &v->deployment_date, s->ts);
	sim_set64(s, &v->latest_block, s->number);

	u4 sl;
	if (v->strike_level < 0) {
		u4 m;
		sim_u_set64(&m, (uint64_t)-v->strike_level);
		sim_u_sub(&sl, &s->felt_p, &m);
	} else {
		sim_u_set64(&sl, (uint64_t)v->strike_level);
	}
	char *p = sim_ev_begin(s, v, E_DEPLOYED);
	p = sim_ev_data(p);
	p = sim_q_str(p, &v->hex);
	p = sim_q_str(p, &s->deployer);
	p = sim_q_u64(p, 0);
	p = sim_q_str(p, &s->vault_class);
	p = sim_q_u64(p, 9);
	p = sim_q_str(p, &s->fossil);
	p = sim_q_str(p, &s->eth);
	p = sim_q_str(p, &s->orch_class);
	p = sim_q_u64(p, v->alpha);
	p = sim_q_felt(p, &sl);
	p = sim_q_u64(p, v->min_cap);
	p = sim_q_u64(p, v->transition);
	p = sim_q_u64(p, v->auction_dur);
	p = sim_q_u64(p, v->round_dur);
	p = sim_q_felt(p, &v->salt);
	sim_ev_end(s, p);

	round_deploy(s, v, 1, &sim_u_zero, &sim_u_zero, &sim_u_zero, 0);
}

/* Round 1's pricing (the fossil callback). */
static void act_pricing(struct sim *s, struct vault *v)
{
	struct round *r = sim_cur_round(v);
	u4 strike, cap, reserve;
	gen_pricing(s, v, NULL, &strike, &cap, &reserve);
	new_tx(s);
	sim_setu(s, &r->strike, &strike);
	sim_setu(s, &r->cap, &cap);
	sim_setu(s, &r->reserve, &reserve);
	sim_set64(s, &r->priced, 1);

	char *p = sim_ev_begin(s, v, E_PRICING);
	p = sim_q_u64(p, r->id);
	p = sim_ev_data(p);
	p = sim_q_u256(p, &strike);
	p = sim_q_hex(p, cap.w, 2);
	p = sim_q_u256(p, &reserve);
	p = q_round_tail(p, r);
	sim_ev_end(s, p);
}

/* Deposit or Withdrawal of amt by LP i (unlocked balances only). */
static void lp_move(struct sim *s, struct vault *v, unsigned i, const u4 *amt, int out)
{
	struct lp *l = &v->lps[i];
	u4 an, vn;
	new_tx(s);
	maybe_transfer(s, v);
	if (out) {
		sim_u_sub(&an, &l->unlocked, amt);
		sim_u_sub(&vn, &v->unlocked, amt);
	} else {
		sim_u_add(&an, &l->unlocked, amt);
		sim_u_add(&vn, &v->unlocked, amt);
	}
	sim_setu(s, &l->unlocked, &an);
	sim_setu(s, &v->unlocked, &vn);
	sim_set64(s, &l->exists, 1);
	sim_set64(s, &l->latest_block, s->number);
	sim_set64(s, &v->latest_block, s->number);

	char *p = sim_ev_begin(s, v, out ? E_WITHDRAWAL : E_DEPOSIT);
	p = sim_q_str(p, &s->lphex[i]);
	p = sim_ev_data(p);
	p = sim_q_u256(p, amt);
	p = sim_q_u256(p, &an);
	p = sim_q_u256(p, &vn);
	sim_ev_end(s, p);
}

static void act_deposit(struct sim *s, struct vault *v)
{
	u4 amt;
	gen_deposit(s, v, &amt);
	lp_move(s, v, (unsigned)sim_below(s, s->o.lps), &amt, 0);
}

/* A random LP for which ok() holds, or -1. */
static long pick_lp(struct sim *s, const struct vault *v, int (*ok)(const struct vault *, unsigned))
{
	unsigned n = s->o.lps, k = (unsigned)sim_below(s, n);
	for (unsigned j = 0; j < n; j++) {
		unsigned i = (k + j) % n;
		if (ok(v, i))
			return i;
	}
	return -1;
}

static int has_unlocked(const struct vault *v, unsigned i)
{
	return !sim_u_is0(&v->lps[i].unlocked);
}

static int has_stash(const struct vault *v, unsigned i)
{
	return !sim_u_is0(&v->lps[i].stashed);
}

static int has_L(const struct vault *v, unsigned i)
{
	return !sim_u_is0(&sim_cur_round(v)->lprs[i].L);
}

static int act_withdraw(struct sim *s, struct vault *v)
{
	long i = pick_lp(s, v, has_unlocked);
	if (i < 0)
		return 0;
	/* never more than the vault holds: per-LP shares are floored separately */
	const u4 *max = sim_u_min(&v->lps[i].unlocked, &v->unlocked);
	if (sim_u_is0(max))
		return 0;
	u4 amt;
	if (sim_chance(s, 250)) {
		amt = *max;
	} else {
		u4 one;
		sim_u_set64(&one, 1);
		sim_u_below(s, &amt, max);
		sim_u_add(&amt, &amt, &one);
	}
	lp_move(s, v, (unsigned)i, &amt, 1);
	return 1;
}

/* Before an auction start: the biggest LP takes out all but its low 96 bits. */
static void act_whale_out(struct sim *s, struct vault *v)
{
	unsigned best = 0;
	for (unsigned i = 1; i < s->o.lps; i++)
		if (sim_u_cmp(&v->lps[i].unlocked, &v->lps[best].unlocked) > 0)
			best = i;
	u4 amt = v->lps[best].unlocked;
	amt.w[0] = 0;
	amt.w[1] &= ~(mp_limb_t)0xffffffffu;
	amt = *sim_u_min(&amt, &v->unlocked);
	if (!sim_u_is0(&amt))
		lp_move(s, v, best, &amt, 1);
}

static int act_queue(struct sim *s, struct vault *v)
{
	struct round *r = sim_cur_round(v);
	if (r->state != R_AUCTIONING && r->state != R_RUNNING)
		return 0;
	long i = pick_lp(s, v, has_L);
	if (i < 0)
		return 0;
	struct lpr *x = &r->lprs[i];
	uint64_t bps = sim_range(s, 1, BPS - 1);
	if (sim_chance(s, 200))
		bps = BPS;
	else if (sim_chance(s, 100))
		bps = 0;
	u4 now, vnow;
	sim_u_scale(s, &now, &x->L, bps, BPS);
	sim_u_sub(&vnow, &r->Q, &x->q);
	sim_u_add(&vnow, &vnow, &now);
	if (sim_u_cmp(&vnow, &r->S) > 0) /* keeps the stash <= R at settlement */
		return 0;
	u4 before = x->q;
	new_tx(s);
	sim_setu(s, &x->q, &now);
	sim_set64(s, &x->bps, bps);
	sim_set64(s, &x->queued_row, 1);
	sim_setu(s, &r->Q, &vnow);

	char *p = sim_ev_begin(s, v, E_QUEUED);
	p = sim_q_str(p, &s->lphex[i]);
	p = sim_ev_data(p);
	p = sim_q_u64(p, bps);
	p = sim_q_u64(p, r->id);
	p = sim_q_u256(p, &before);
	p = sim_q_u256(p, &now);
	p = sim_q_u256(p, &vnow);
	sim_ev_end(s, p);
	return 1;
}

static int act_stash(struct sim *s, struct vault *v)
{
	long i = pick_lp(s, v, has_stash);
	if (i < 0)
		return 0;
	struct lp *l = &v->lps[i];
	u4 amt = l->stashed, vnow;
	sim_u_sub(&vnow, &v->stashed, &amt);
	new_tx(s);
	maybe_transfer(s, v);
	sim_setu(s, &l->stashed, &sim_u_zero);
	sim_setu(s, &v->stashed, &vnow);
	sim_set64(s, &l->latest_block, s->number);
	sim_set64(s, &v->latest_block, s->number);

	char *p = sim_ev_begin(s, v, E_STASH);
	p = sim_q_str(p, &s->lphex[i]);
	p = sim_ev_data(p);
	p = sim_q_u256(p, &amt);
	p = sim_q_u256(p, &vnow);
	sim_ev_end(s, p);
	return 1;
}

static void act_start(struct sim *s, struct vault *v, const u4 *avail)
{
	struct round *r = sim_cur_round(v);
	u4 S = v->unlocked;
	new_tx(s);
	for (unsigned i = 0; i < s->o.lps; i++) {
		struct lp *l = &v->lps[i];
		if (sim_u_is0(&l->unlocked))
			continue;
		sim_setu(s, &r->lprs[i].L, &l->unlocked);
		sim_setu(s, &l->locked, &l->unlocked);
		sim_setu(s, &l->unlocked, &sim_u_zero);
		sim_set64(s, &l->latest_block, s->number);
	}
	sim_setu(s, &v->locked, &S);
	sim_setu(s, &v->unlocked, &sim_u_zero);
	sim_set64(s, &v->latest_block, s->number);
	sim_setu(s, &r->S, &S);
	sim_setu(s, &r->avail, avail);
	sim_set64(s, &r->state, R_AUCTIONING);

	char *p = sim_ev_begin(s, v, E_STARTED);
	p = sim_q_u64(p, r->id);
	p = sim_ev_data(p);
	p = sim_q_u256(p, &S);
	p = sim_q_u256(p, avail);
	p = q_round_tail(p, r);
	sim_ev_end(s, p);
}

void sim_bid_id(const struct sim *s, const struct vault *v, const struct round *r, const struct bid *b, u4 *id)
{
	sim_felt_derive(id, s->o.seed, TAG_BID, v->idx * 1000003 + r->id, b->seq);
}

static int act_bid(struct sim *s, struct vault *v)
{
	struct round *r = sim_cur_round(v);
	if (r->state != R_AUCTIONING || !r->mood || r->nbids >= s->bcap)
		return 0;
	u4 mp, step, price, amount, x;
	sim_max_payout(s, &mp, r);
	sim_u_scale(s, &step, &mp, 1, 20);
	if (sim_u_is0(&step))
		sim_u_set64(&step, 1);
	/* a quiet auction */
	if (r->mood == 1 && sim_chance(s, 500))
		return 0;
	if (sim_chance(s, 600)) { /* a price ladder: ties are common */
		sim_u_scale(s, &x, &step, sim_below(s, 3), 1);
	} else {
		sim_u_scale(s, &x, &mp, 1, 2);
		sim_u_below(s, &x, &x);
	}
	sim_u_add(&price, &r->reserve, &x);
	if (sim_chance(s, 100)) {
		sim_u_set64(&amount, sim_range(s, 1, 10));
	} else {
		u4 one;
		sim_u_set64(&one, 1);
		static const uint64_t most[] = {0, 8, 30, 60}; /* percent of the options, by mood */
		sim_u_scale(s, &amount, &r->avail, sim_range(s, 1, most[r->mood]), 100);
		sim_u_add(&amount, &amount, &one);
	}
	uint64_t buyer = sim_below(s, s->o.buyers);
	struct bid *b = &r->bids[r->nbids]; /* beyond nbids: not model state yet */
	b->amount = amount;
	b->price = price;
	b->nonce = r->tree_c;
	b->buyer = buyer;
	b->seq = r->nbids;
	new_tx(s);
	maybe_transfer(s, v);
	sim_set64(s, &r->nbids, r->nbids + 1);
	sim_set64(s, &r->tree_c, r->tree_c + 1);
	sim_set64(s, &r->obs[buyer].exists, 1);

	u4 id;
	sim_bid_id(s, v, r, b, &id);
	char *p = sim_ev_begin(s, v, E_BID_PLACED);
	p = sim_q_str(p, &s->obhex[buyer]);
	p = sim_q_u64(p, r->id);
	p = sim_ev_data(p);
	p = sim_q_felt(p, &id);
	p = sim_q_u256(p, &amount);
	p = sim_q_u256(p, &price);
	p = sim_q_u64(p, b->nonce + 1);
	p = q_round_tail(p, r);
	sim_ev_end(s, p);
	return 1;
}

static int act_update(struct sim *s, struct vault *v)
{
	struct round *r = sim_cur_round(v);
	if (r->state != R_AUCTIONING || !r->nbids)
		return 0;
	struct bid *b = &r->bids[sim_below(s, r->nbids)];
	u4 mp, inc, price;
	sim_max_payout(s, &mp, r);
	if (sim_chance(s, 500)) {
		sim_u_scale(s, &inc, &mp, sim_range(s, 1, 3), 20);
	} else {
		sim_u_scale(s, &inc, &mp, 1, 4);
		sim_u_below(s, &inc, &inc);
	}
	if (sim_u_is0(&inc))
		sim_u_set64(&inc, 1);
	sim_u_add(&price, &b->price, &inc);
	uint64_t before = b->nonce;
	new_tx(s);
	sim_setu(s, &b->price, &price);
	sim_set64(s, &b->nonce, r->tree_c);
	sim_set64(s, &r->tree_c, r->tree_c + 1);

	u4 id;
	sim_bid_id(s, v, r, b, &id);
	char *p = sim_ev_begin(s, v, E_BID_UPDATED);
	p = sim_q_str(p, &s->obhex[b->buyer]);
	p = sim_q_u64(p, r->id);
	p = sim_ev_data(p);
	p = sim_q_felt(p, &id);
	p = sim_q_u256(p, &inc);
	p = sim_q_u64(p, before);
	p = sim_q_u64(p, b->nonce);
	p = q_round_tail(p, r);
	sim_ev_end(s, p);
	return 1;
}

static void add_to(struct sim *s, u4 *d, const u4 *x)
{
	u4 t;
	sim_u_add(&t, d, x);
	sim_setu(s, d, &t);
}

/* AuctionEnded: clearing (spec §6.3), buyers' outcomes, premiums to LPs. */
static void act_end(struct sim *s, struct vault *v)
{
	struct round *r = sim_cur_round(v);
	struct clearing c;
	u4 x;
	sim_clear(s, r, &c);

	for (unsigned k = 0; k < c.n; k++) {
		const struct bid *b = &r->bids[s->ord[k]];
		struct ob *o = &r->obs[b->buyer];
		u4 d;
		if (c.k < 0 || k < (unsigned)c.k) {
			add_to(s, &o->mintable, &b->amount);
			sim_u_sub(&d, &b->price, &c.cp);
			sim_u_mul(s, &d, &d, &b->amount);
			add_to(s, &o->refundable, &d);
		} else if (k == (unsigned)c.k) {
			add_to(s, &o->mintable, &c.part);
			sim_u_sub(&d, &b->amount, &c.part);
			sim_u_mul(s, &d, &d, &b->price);
			add_to(s, &o->refundable, &d);
		} else {
			sim_u_mul(s, &d, &b->amount, &b->price);
			add_to(s, &o->refundable, &d);
		}
	}

	new_tx(s);
	u4 PU;
	sim_u_add(&PU, &c.P, &c.U);
	add_to(s, &v->unlocked, &PU);
	sim_u_sub(&x, &v->locked, &c.U);
	sim_setu(s, &v->locked, &x);
	sim_set64(s, &v->latest_block, s->number);
	u4 SU;
	sim_u_sub(&SU, &r->S, &c.U);
	for (unsigned i = 0; i < s->o.lps; i++) {
		const u4 *L = &r->lprs[i].L;
		struct lp *l = &v->lps[i];
		if (sim_u_is0(L))
			continue;
		sim_u_muldiv(s, &x, &PU, L, &r->S);
		add_to(s, &l->unlocked, &x);
		sim_u_muldiv(s, &x, &SU, L, &r->S);
		sim_setu(s, &l->locked, &x);
		sim_set64(s, &l->latest_block, s->number);
	}
	sim_setu(s, &r->cp, &c.cp);
	sim_setu(s, &r->sold, &c.sold);
	sim_setu(s, &r->U, &c.U);
	sim_setu(s, &r->prem, &c.P);
	sim_set64(s, &r->clear_nonce, c.nonce);
	sim_set64(s, &r->state, R_RUNNING);

	char *p = sim_ev_begin(s, v, E_ENDED);
	p = sim_q_u64(p, r->id);
	p = sim_ev_data(p);
	p = sim_q_u256(p, &c.sold);
	p = sim_q_u256(p, &c.cp);
	p = sim_q_u256(p, &c.U);
	p = sim_q_u64(p, c.nonce);
	p = q_round_tail(p, r);
	sim_ev_end(s, p);
}

/* OptionRoundSettled, then OptionRoundDeployed for the next round, one tx. */
static void act_settle(struct sim *s, struct vault *v)
{
	struct round *r = sim_cur_round(v);
	u4 mp, settle, ppo, R, stash, x, y;
	sim_max_payout(s, &mp, r);
	unsigned k = (unsigned)sim_below(s, 10);
	if (k < 3) { /* at or below the strike: no payout */
		sim_u_scale(s, &settle, &r->strike, sim_range(s, 50, 100), 100);
	} else if (k < 7) { /* between strike and cap */
		sim_u_below(s, &x, &mp);
		sim_u_add(&settle, &r->strike, &x);
		sim_u_set64(&x, 1);
		sim_u_add(&settle, &settle, &x);
	} else { /* at or above the cap */
		sim_u_scale(s, &y, &r->strike, 1, 2);
		sim_u_below(s, &x, &y);
		sim_u_add(&settle, &r->strike, &mp);
		sim_u_add(&settle, &settle, &x);
	}
	sim_settlement(s, r, &mp, &settle, &ppo, &R, &stash);

	new_tx(s);
	sim_setu(s, &v->locked, &sim_u_zero);
	add_to(s, &v->stashed, &stash);
	sim_u_sub(&x, &R, &stash);
	add_to(s, &v->unlocked, &x);
	sim_set64(s, &v->latest_block, s->number);
	for (unsigned i = 0; i < s->o.lps; i++) {
		const struct lpr *q = &r->lprs[i];
		struct lp *l = &v->lps[i];
		if (sim_u_is0(&q->L))
			continue;
		sim_u_muldiv(s, &x, &R, &q->L, &r->S);
		sim_u_muldiv(s, &y, &R, &q->q, &r->S);
		sim_setu(s, &l->locked, &sim_u_zero);
		sim_u_sub(&x, &x, &y);
		add_to(s, &l->unlocked, &x);
		add_to(s, &l->stashed, &y);
		sim_set64(s, &l->latest_block, s->number);
	}
	sim_setu(s, &r->settle, &settle);
	sim_setu(s, &r->ppo, &ppo);
	sim_setu(s, &r->R, &R);
	sim_set64(s, &r->state, R_SETTLED);

	char *p = sim_ev_begin(s, v, E_SETTLED);
	p = sim_q_u64(p, r->id);
	p = sim_ev_data(p);
	p = sim_q_u256(p, &settle);
	p = sim_q_u256(p, &ppo);
	p = q_round_tail(p, r);
	sim_ev_end(s, p);

	u4 strike, cap, reserve;
	gen_pricing(s, v, &settle, &strike, &cap, &reserve);
	round_deploy(s, v, r->id + 1, &strike, &cap, &reserve, 1);
}

/* Mint, refund or exercise for a buyer of a live round whose auction ended. */
static int act_buyer(struct sim *s, struct vault *v)
{
	for (int attempt = 0; attempt < 6; attempt++) {
		struct round *r = v->ring[sim_below(s, RING)];
		if (!r->id || r->state < R_RUNNING)
			continue;
		uint64_t k = sim_below(s, s->o.buyers);
		struct ob *o = &r->obs[k];
		if (!o->exists)
			continue;
		int can_mint = !sim_u_is0(&o->mintable) && !o->minted;
		int can_refund = !sim_u_is0(&o->refundable) && !o->refunded;
		int can_ex = r->state == R_SETTLED && !sim_u_is0(&o->mintable) && !o->exercised;
		int n = can_mint + can_refund + can_ex;
		if (!n)
			continue;
		int pick = (int)sim_below(s, (uint64_t)n);
		enum ev e = E_EXERCISED;
		if (can_mint && pick-- == 0)
			e = E_MINTED;
		else if (can_refund && pick-- == 0)
			e = E_REFUNDED;
		new_tx(s);
		char *p = sim_ev_begin(s, v, e);
		p = sim_q_str(p, &s->obhex[k]);
		p = sim_q_u64(p, r->id);
		p = sim_ev_data(p);
		if (e == E_MINTED) {
			sim_set64(s, &o->minted, 1);
			p = sim_q_u256(p, &o->mintable);
		} else if (e == E_REFUNDED) {
			sim_set64(s, &o->refunded, 1);
			p = sim_q_u256(p, &o->refundable);
		} else {
			/* the minted ERC-20 options plus the not yet minted ones */
			u4 amount;
			sim_u_mul(s, &amount, &o->mintable, &r->ppo);
			p = sim_q_u256(p, &o->mintable);
			p = sim_q_u256(p, o->minted ? &sim_u_zero : &o->mintable);
			p = sim_q_u256(p, &amount);
			sim_set64(s, &o->minted, 1);
			sim_set64(s, &o->exercised, 1);
		}
		p = q_round_tail(p, r);
		sim_ev_end(s, p);
		return 1;
	}
	return 0;
}

/* Phase changes that are due by the block time (keepers act with some delay). */
static void transitions(struct sim *s, struct vault *v)
{
	struct round *r = sim_cur_round(v);
	switch (r->state) {
	case R_OPEN:
		if (!r->priced) {
			if (sim_chance(s, 300))
				act_pricing(s, v);
			return;
		}
		if (s->ts < r->start_date || !sim_chance(s, 600))
			return;
		if (sim_u_bits(&v->unlocked) >= WHALE_BITS) {
			act_whale_out(s, v);
			return;
		}
		u4 mp, avail;
		sim_max_payout(s, &mp, r);
		sim_u_div(s, &avail, &v->unlocked, &mp);
		if (!sim_u_is0(&avail))
			act_start(s, v, &avail);
		return;
	case R_AUCTIONING:
		if (s->ts >= r->end_date && sim_chance(s, 600))
			act_end(s, v);
		return;
	case R_RUNNING:
		if (s->ts >= r->settle_date && sim_chance(s, 600))
			act_settle(s, v);
		return;
	}
}

/*
 * One random action of the vault's users, weighted by the round's phase
 * (percent).  An infeasible pick (nobody to do it) is retried; a deposit is
 * always possible.
 */
static void random_action(struct sim *s, struct vault *v)
{
	static const unsigned char w[3][7] = {
		/* deposit, withdraw, queue, stash, buyer, bid, update */
		{35, 25, 0, 15, 25, 0, 0},  /* Open */
		{12, 8, 10, 5, 10, 35, 20}, /* Auctioning */
		{25, 20, 20, 10, 25, 0, 0}, /* Running */
	};
	const unsigned char *wt = w[sim_cur_round(v)->state < 3 ? sim_cur_round(v)->state : 2];
	for (int attempt = 0; attempt < 3; attempt++) {
		unsigned x = (unsigned)sim_below(s, 100), k = 0;
		while (x >= wt[k]) {
			x -= wt[k];
			k++;
		}
		int done;
		switch (k) {
		case 0:
			act_deposit(s, v);
			return;
		case 1:
			done = act_withdraw(s, v);
			break;
		case 2:
			done = act_queue(s, v);
			break;
		case 3:
			done = act_stash(s, v);
			break;
		case 4:
			done = act_buyer(s, v);
			break;
		case 5:
			done = act_bid(s, v);
			break;
		default:
			done = act_update(s, v);
			break;
		}
		if (done)
			return;
	}
	act_deposit(s, v);
}

void sim_vaults_block(struct sim *s)
{
	uint64_t n = sim_below(s, 2 * (uint64_t)s->o.events_per_block + 1);
	for (uint64_t j = 0; j < n; j++)
		s->v[sim_below(s, s->nv)].cnt++;
	for (unsigned i = 0; i < s->nv; i++) {
		struct vault *v = &s->v[i];
		if (!v->deployed) {
			if (s->number >= v->deploy_at)
				act_deploy(s, v);
			v->cnt = 0;
			continue;
		}
		transitions(s, v);
		for (; v->cnt; v->cnt--)
			random_action(s, v);
	}
}
