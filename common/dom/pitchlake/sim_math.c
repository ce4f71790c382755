/*
 * sim_math.c -- chain-sim's contract maths (pitchlake-spec §6) on GMP.
 *
 * It is re-implemented here on purpose, apart from ep-apply and
 * common/num/u256: the generator is a differential oracle, so it must not
 * share the code it checks.  Amounts are fixed four-limb values (u4) so that
 * the model stays flat memory (the undo log copies bytes); GMP does the
 * arithmetic (mpn for add/sub/compare, inline in sim_int.h; read-only mpz
 * views for products and quotients).  Every product stays below 2^256: a vault does not start an
 * auction while it holds 2^WHALE_BITS or more (whales withdraw first), and
 * any overflow dies as an internal error rather than wrap silently.
 *
 * The formulas here only compute; sim_life.c writes their results into the
 * model, so that every write goes through the undo log.
 */
#include <gmp.h>

#include "core/die.h"
#include "dom/pitchlake/sim_int.h"

const u4 sim_u_zero = {{0, 0, 0, 0}};

/* ---- scratch and felts ---- */

static mpz_srcptr zv(mpz_ptr view, const u4 *a)
{
	return mpz_roinit_n(view, a->w, 4);
}

static void zcheck(mpz_srcptr z)
{
	if (mpz_sgn(z) < 0 || mpz_sizeinbase(z, 2) > 256)
		die_code(EXIT_SOFTWARE, "internal error: value out of u256 range in the model");
}

static void zst(u4 *r, mpz_srcptr z)
{
	zcheck(z);
	size_t n = mpz_size(z);
	for (size_t i = 0; i < 4; i++)
		r->w[i] = i < n ? mpz_getlimbn(z, (mp_size_t)i) : 0;
}

void sim_math_init(struct sim *s)
{
	mpz_init(s->t1);
	mpz_init(s->t2);
	/* the Stark field prime P = 2^251 + 17 * 2^192 + 1 */
	mpz_set_ui(s->t1, 1);
	mpz_mul_2exp(s->t1, s->t1, 251);
	mpz_set_ui(s->t2, 17);
	mpz_mul_2exp(s->t2, s->t2, 192);
	mpz_add(s->t1, s->t1, s->t2);
	mpz_add_ui(s->t1, s->t1, 1);
	zst(&s->felt_p, s->t1);
}

void sim_math_free(struct sim *s)
{
	mpz_clear(s->t1);
	mpz_clear(s->t2);
}

void sim_felt_rand(struct sim *s, u4 *f)
{
	for (int i = 0; i < 4; i++)
		f->w[i] = sim_rnd(s);
	f->w[3] &= FELT_TOP;
}

/* A felt that depends only on (seed, tag, a, b): addresses, bid ids. */
void sim_felt_derive(u4 *f, uint64_t seed, uint64_t tag, uint64_t a, uint64_t b)
{
	uint64_t x = seed;
	x = sim_splitmix(&x) ^ tag;
	x = sim_splitmix(&x) ^ a;
	x = sim_splitmix(&x) ^ b;
	for (int i = 0; i < 4; i++)
		f->w[i] = sim_splitmix(&x);
	f->w[3] &= FELT_TOP;
}

/* ---- 256-bit arithmetic on u4 ---- */

unsigned sim_u_bits(const u4 *a)
{
	for (int i = 3; i >= 0; i--)
		if (a->w[i])
			return (unsigned)(64 * i + 64 - __builtin_clzll(a->w[i]));
	return 0;
}

void sim_u_mul(struct sim *s, u4 *r, const u4 *a, const u4 *b)
{
	mpz_t va, vb;
	mpz_mul(s->t1, zv(va, a), zv(vb, b));
	zst(r, s->t1);
}

/* r = floor(a * b / c); the product must fit in 256 bits. */
void sim_u_muldiv(struct sim *s, u4 *r, const u4 *a, const u4 *b, const u4 *c)
{
	mpz_t va, vb, vc;
	if (sim_u_is0(c))
		die_code(EXIT_SOFTWARE, "internal error: division by zero in the model");
	mpz_mul(s->t1, zv(va, a), zv(vb, b));
	zcheck(s->t1);
	mpz_tdiv_q(s->t1, s->t1, zv(vc, c));
	zst(r, s->t1);
}

void sim_u_div(struct sim *s, u4 *r, const u4 *a, const u4 *b)
{
	mpz_t va, vb;
	if (sim_u_is0(b))
		die_code(EXIT_SOFTWARE, "internal error: division by zero in the model");
	mpz_tdiv_q(s->t1, zv(va, a), zv(vb, b));
	zst(r, s->t1);
}

/* r = a * num / den for small num, den. */
void sim_u_scale(struct sim *s, u4 *r, const u4 *a, uint64_t num, uint64_t den)
{
	mpz_t va;
	mpz_mul_ui(s->t1, zv(va, a), num);
	mpz_tdiv_q_ui(s->t1, s->t1, den);
	zst(r, s->t1);
}

/* r = x * m + add. */
void sim_u_muladd(struct sim *s, u4 *r, uint64_t x, uint64_t m, uint64_t add)
{
	mpz_set_ui(s->t1, x);
	mpz_mul_ui(s->t1, s->t1, m);
	mpz_add_ui(s->t1, s->t1, add);
	zst(r, s->t1);
}

/* r uniform in [0, n) (0 if n = 0). */
void sim_u_below(struct sim *s, u4 *r, const u4 *n)
{
	mpz_t vn;
	mpz_mul_ui(s->t1, zv(vn, n), sim_rnd(s));
	mpz_tdiv_q_2exp(s->t1, s->t1, 64);
	zst(r, s->t1);
}

/* max payout per option = strike * cap_level / BPS. */
void sim_max_payout(struct sim *s, u4 *r, const struct round *rd)
{
	u4 bps;
	sim_u_set64(&bps, BPS);
	sim_u_muldiv(s, r, &rd->strike, &rd->cap, &bps);
}

void sim_u_dec(char *buf, const u4 *a)
{
	mpz_t va;
	mpz_get_str(buf, 10, zv(va, a));
}

/* ---- the contract formulas ---- */

/* Bid order: price descending, then tree nonce ascending. */
static int bid_before(const struct bid *a, const struct bid *b)
{
	int c = sim_u_cmp(&a->price, &b->price);
	return c > 0 || (c == 0 && a->nonce < b->nonce);
}

/*
 * The bids fill the available options in bid order.  The first bid that
 * takes the last of them (amount >= what remains) is the clearing bid: it
 * gets what remains and its price clears.  With no such bid, every bid is
 * filled and the last one's price clears.
 */
void sim_clear(struct sim *s, const struct round *r, struct clearing *c)
{
	unsigned n = (unsigned)r->nbids, *ord = s->ord;
	for (unsigned i = 0; i < n; i++) {
		unsigned j = i;
		while (j > 0 && bid_before(&r->bids[i], &r->bids[ord[j - 1]])) {
			ord[j] = ord[j - 1];
			j--;
		}
		ord[j] = i;
	}
	u4 remaining = r->avail, mp, x;
	c->n = n;
	c->k = -1;
	c->part = sim_u_zero;
	c->cp = sim_u_zero;
	c->nonce = 0;
	for (unsigned k = 0; k < n; k++) {
		const struct bid *b = &r->bids[ord[k]];
		if (sim_u_cmp(&b->amount, &remaining) >= 0) {
			c->k = k;
			c->part = remaining;
			remaining = sim_u_zero;
			break;
		}
		sim_u_sub(&remaining, &remaining, &b->amount);
	}
	sim_u_sub(&c->sold, &r->avail, &remaining);
	if (n) {
		const struct bid *cb = &r->bids[ord[c->k >= 0 ? (unsigned)c->k : n - 1]];
		c->cp = cb->price;
		c->nonce = cb->nonce;
	}
	sim_max_payout(s, &mp, r);
	sim_u_mul(s, &x, &c->sold, &mp);
	sim_u_sub(&c->U, &r->S, &x);
	sim_u_mul(s, &c->P, &c->cp, &c->sold);
}

/* The payout is capped at the max payout; the stash is the queued share of what remains. */
void sim_settlement(struct sim *s, const struct round *r, const u4 *mp, const u4 *settle, u4 *ppo, u4 *R, u4 *stash)
{
	u4 x;
	if (sim_u_cmp(settle, &r->strike) <= 0) {
		*ppo = sim_u_zero;
	} else {
		sim_u_sub(&x, settle, &r->strike);
		*ppo = *sim_u_min(&x, mp);
	}
	sim_u_sub(R, &r->S, &r->U);
	sim_u_mul(s, &x, ppo, &r->sold);
	sim_u_sub(R, R, &x);
	*stash = sim_u_zero;
	if (!sim_u_is0(&r->S))
		sim_u_muldiv(s, stash, R, &r->Q, &r->S);
}
