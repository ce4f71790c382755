/*
 * sim_int.h -- what the modules of chain-sim's engine share; sim.h is the
 * public side and stays the only interface to the rest of the tree.
 *
 * The engine is one model split by the kind of work, not by the data: the
 * model (below) is flat memory that every module reads, so it is defined
 * once here.  sim.c drives blocks, reorgs and the undo log, sim_life.c is
 * what vaults, rounds and their users do, sim_math.c the contract maths on
 * GMP, sim_emit.c every byte that goes out (event lines, frames, the state
 * dump).
 *
 * The random generator, the undo-log setters and the smallest u4 operations
 * are inline here: they are the hot path of every action, and splitting the
 * engine into files should not make it slower.  There is one random stream
 * and the order of its draws is the output, so a change that moves a draw
 * changes every byte after it.
 *
 * The model's names (struct vault, struct round, R_OPEN, ...) are those of
 * ep-apply's pitchlake.h on purpose: the generator is a differential oracle
 * and must never share ep-apply's code, so the two headers exclude each
 * other.
 */
#ifndef PL_SIM_INT_H
#define PL_SIM_INT_H

#ifdef PL_PITCHLAKE_H
#error "sim_int.h and pitchlake.h must not meet: chain-sim is independent of ep-apply"
#endif

#include <gmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/io.h"
#include "dom/pitchlake/sim.h"

_Static_assert(GMP_NUMB_BITS == 64 && GMP_NAIL_BITS == 0, "chain-sim needs 64-bit GMP limbs");

#define BPS 10000
#define RING 4				   /* live rounds per vault: the current one and 3 older */
#define WHALE_BITS 120			   /* no auction starts with this much unlocked liquidity */
#define FLUSH_AT (1u << 20)		   /* output chunk size */
#define FELT_TOP ((UINT64_C(1) << 58) - 1) /* mask of limb 3: felts stay below 2^250 */

enum {
	TAG_VAULT = 1,
	TAG_LP,
	TAG_BUYER,
	TAG_ROUND,
	TAG_BID,
	TAG_SALT,
	TAG_MISC,
};

/* An unsigned 256-bit amount or a felt, little-endian limbs. */
typedef struct {
	mp_limb_t w[4];
} u4;

/* A preformatted hex felt ("0x..", no quotes). */
struct hexs {
	char s[68];
	uint32_t len;
};

enum ev {
	E_DEPOSIT,
	E_WITHDRAWAL,
	E_QUEUED,
	E_STASH,
	E_ROUND_DEPLOYED,
	E_PRICING,
	E_STARTED,
	E_ENDED,
	E_SETTLED,
	E_BID_PLACED,
	E_BID_UPDATED,
	E_REFUNDED,
	E_MINTED,
	E_EXERCISED,
	E_DEPLOYED,
	E_TRANSFER,
	E_COUNT
};

/* ---- model ---- */

/* A liquidity provider's position in one vault. */
struct lp {
	u4 unlocked, locked, stashed;
	uint64_t latest_block, exists;
};

/* A liquidity provider in one round: L and its queued part q. */
struct lpr {
	u4 L, q;
	uint64_t bps, queued_row;
};

struct bid {
	u4 amount, price;
	uint64_t nonce, buyer, seq;
};

/* An option buyer in one round ("Option_Buyers"). */
struct ob {
	u4 mintable, refundable;
	uint64_t exists, minted, refunded, exercised;
};

enum {
	R_OPEN,
	R_AUCTIONING,
	R_RUNNING,
	R_SETTLED,
};

/* One round slot: this struct, then bids[bcap], obs[buyers], lprs[lps]. */
struct round {
	uint64_t id; /* 0: free slot */
	uint64_t state, priced, mood, nbids, tree_c, clear_nonce;
	uint64_t start_date, end_date, settle_date, deploy_date;
	u4 addr, strike, cap, reserve, S, avail, Q, R, U, cp, settle, sold, prem, ppo;
	struct hexs hex;
	struct bid *bids;
	struct ob *obs;
	struct lpr *lprs;
};

struct vault {
	/* constant */
	uint64_t idx, kind, deploy_at;
	u4 addr, salt;
	struct hexs hex;
	uint64_t alpha, min_cap, transition, auction_dur, round_dur;
	int64_t strike_level;
	/* outside the model: never undone */
	uint64_t nonce, cnt;
	/* model state */
	uint64_t deployed, deployment_date, latest_block, cur;
	u4 unlocked, locked, stashed;
	struct lp *lps;
	struct round *ring[RING];
};

/* Undo log entry: n bytes at p were saved at offset off of the block's log. */
struct undo {
	void *p;
	size_t n, off;
};

/* A block kept for reorgs: its frame body and its undo log. */
struct blk {
	uint64_t number, ts;
	u4 hash;
	struct sb body, saved;
	struct undo *u;
	size_t nu, capu;
};

struct sim {
	struct sim_opts o;
	uint64_t rs[4];
	mpz_t t1, t2;
	struct vault *v;
	unsigned nv;
	unsigned bcap;
	size_t slot_size;
	unsigned *ord; /* scratch for auction clearing */
	struct hexs *lphex, *obhex;
	struct hexs fossil, eth, orch_class, vault_class, deployer;
	struct {
		char s[160];
		uint32_t len;
	} evpre[E_COUNT]; /* ,"name":"X","keys":["0xsel", */
	u4 felt_p;
	/* model globals */
	uint64_t have_head, head, head_ts, dump_len;
	/* the block being built */
	uint64_t number, ts;
	char bpre[256];
	size_t bprelen;
	struct hexs tx;
	struct sb *body, body0;
	/* reorg machinery */
	int undo_on;
	struct blk *ring, *cur;
	unsigned depth, first, nret;
	uint64_t reorg_floor;
	/* output */
	struct sb out, dump;
	uint64_t driver_id;
	struct sim_stats st;
};

/* The outcome of an auction (spec §6.3), computed before any model write. */
struct clearing {
	unsigned n;	   /* bids, sorted into s->ord */
	long k;		   /* position in s->ord of the clearing bid; -1: every bid is filled */
	u4 part;	   /* options the clearing bid gets */
	u4 sold, cp, U, P; /* options sold, clearing price, unsold liquidity, premiums */
	uint64_t nonce;	   /* tree nonce of the clearing (or last) bid */
};

/* ---- random numbers: splitmix64 seeding xoshiro256** ---- */

static inline uint64_t sim_splitmix(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline uint64_t sim_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t sim_rnd(struct sim *s)
{
	uint64_t *q = s->rs;
	uint64_t r = sim_rotl(q[1] * 5, 7) * 9, t = q[1] << 17;
	q[2] ^= q[0];
	q[3] ^= q[1];
	q[1] ^= q[2];
	q[0] ^= q[3];
	q[2] ^= t;
	q[3] = sim_rotl(q[3], 45);
	return r;
}

/* Uniform enough in [0, n); 0 when n = 0. */
static inline uint64_t sim_below(struct sim *s, uint64_t n)
{
	return n ? sim_rnd(s) % n : 0;
}

static inline uint64_t sim_range(struct sim *s, uint64_t lo, uint64_t hi)
{
	return lo + sim_below(s, hi - lo + 1);
}

static inline int sim_chance(struct sim *s, unsigned permille)
{
	return sim_below(s, 1000) < permille;
}

/* ---- undo log (sim.c) ---- */

/* Record the n bytes at p before the model changes them. */
void sim_sv(struct sim *s, void *p, size_t n);

static inline void sim_set64(struct sim *s, uint64_t *d, uint64_t v)
{
	if (*d == v)
		return;
	sim_sv(s, d, sizeof *d);
	*d = v;
}

static inline void sim_setu(struct sim *s, u4 *d, const u4 *v)
{
	if (!memcmp(d, v, sizeof *d))
		return;
	sim_sv(s, d, sizeof *d);
	*d = *v;
}

/* ---- 256-bit arithmetic and the contract maths (sim_math.c) ---- */

extern const u4 sim_u_zero;

/* Scratch numbers and the field prime; sim_math_free undoes sim_math_init. */
void sim_math_init(struct sim *s);
void sim_math_free(struct sim *s);

void sim_felt_rand(struct sim *s, u4 *f);
/* A felt that depends only on (seed, tag, a, b): addresses, bid ids. */
void sim_felt_derive(u4 *f, uint64_t seed, uint64_t tag, uint64_t a, uint64_t b);

/* The smallest ones are inline: the loops over LPs and bids call them most. */
static inline void sim_u_set64(u4 *r, uint64_t x)
{
	r->w[0] = x;
	r->w[1] = r->w[2] = r->w[3] = 0;
}

static inline int sim_u_is0(const u4 *a)
{
	return !(a->w[0] | a->w[1] | a->w[2] | a->w[3]);
}

static inline int sim_u_cmp(const u4 *a, const u4 *b)
{
	return mpn_cmp(a->w, b->w, 4);
}

static inline const u4 *sim_u_min(const u4 *a, const u4 *b)
{
	return sim_u_cmp(a, b) <= 0 ? a : b;
}

/* These die on overflow (exit 70): that is a bug in the model. */
static inline void sim_u_add(u4 *r, const u4 *a, const u4 *b)
{
	if (mpn_add_n(r->w, a->w, b->w, 4))
		die_code(EXIT_SOFTWARE, "internal error: u256 overflow in the model");
}

static inline void sim_u_sub(u4 *r, const u4 *a, const u4 *b)
{
	if (mpn_sub_n(r->w, a->w, b->w, 4))
		die_code(EXIT_SOFTWARE, "internal error: u256 underflow in the model");
}

/* Bit length of a (0 for 0). */
unsigned sim_u_bits(const u4 *a);
void sim_u_mul(struct sim *s, u4 *r, const u4 *a, const u4 *b);
/* r = floor(a * b / c); the product must fit in 256 bits. */
void sim_u_muldiv(struct sim *s, u4 *r, const u4 *a, const u4 *b, const u4 *c);
void sim_u_div(struct sim *s, u4 *r, const u4 *a, const u4 *b);
/* r = a * num / den for small num, den. */
void sim_u_scale(struct sim *s, u4 *r, const u4 *a, uint64_t num, uint64_t den);
/* r = x * m + add. */
void sim_u_muladd(struct sim *s, u4 *r, uint64_t x, uint64_t m, uint64_t add);
/* r uniform in [0, n) (0 if n = 0); draws one number. */
void sim_u_below(struct sim *s, u4 *r, const u4 *n);
/* The decimal digits of a, NUL-terminated (buf: 80 bytes at least). */
void sim_u_dec(char *buf, const u4 *a);

/* max payout per option = strike * cap_level / BPS. */
void sim_max_payout(struct sim *s, u4 *r, const struct round *rd);
/* Clear the auction of round r (spec §6.3). */
void sim_clear(struct sim *s, const struct round *r, struct clearing *c);
/* Settle round r (max payout mp) at price settle: payout per option, remaining liquidity, its stashed part. */
void sim_settlement(struct sim *s, const struct round *r, const u4 *mp, const u4 *settle, u4 *ppo, u4 *R, u4 *stash);

/* ---- output (sim_emit.c) ---- */

void sim_hexs_set(struct hexs *h, const u4 *f);
/* Fill s->evpre, the constant part of each event's line. */
void sim_ev_init(struct sim *s);
/* Fill s->bpre, the block's part of its event lines. */
void sim_block_prefix(struct sim *s, uint64_t number, const u4 *hash, uint64_t ts);
/* Start an event line of vault v up to and including the selector key. */
char *sim_ev_begin(struct sim *s, struct vault *v, enum ev e);
/* Close the keys, open the data. */
char *sim_ev_data(char *p);
void sim_ev_end(struct sim *s, char *p);
/* Quoted felt list items, each followed by a comma (closed by sim_ev_data/sim_ev_end). */
char *sim_q_hex(char *p, const mp_limb_t *w, int n);
char *sim_q_felt(char *p, const u4 *f);
/* A u256 as two felts [low128, high128]. */
char *sim_q_u256(char *p, const u4 *a);
char *sim_q_u64(char *p, uint64_t v);
char *sim_q_str(char *p, const struct hexs *h);
/* The snapshot rows of round r of vault v, appended to sb. */
void sim_round_rows(const struct sim *s, const struct vault *v, const struct round *r, struct sb *sb);
/* Add the live vaults' rows to the retired rounds' ones, write them all to f, sorted. */
void sim_dump_write(struct sim *s, FILE *f);
/* Append one frame to the output, flushing it in FLUSH_AT chunks. */
void sim_frame(struct sim *s, int revert, uint64_t number, const u4 *hash, uint64_t ts, const struct sb *body);
void sim_flush(struct sim *s);

/* ---- vaults and rounds (sim_life.c) ---- */

static inline struct round *sim_cur_round(const struct vault *v)
{
	return v->ring[v->cur % RING];
}

/*
 * The vaults' part of the block being built: deployments, due phase changes
 * and about --events-per-block random user actions spread over the vaults.
 */
void sim_vaults_block(struct sim *s);
/* The bid id of b: a felt of the seed, the vault, the round and the bid's position. */
void sim_bid_id(const struct sim *s, const struct vault *v, const struct round *r, const struct bid *b, u4 *id);

#endif
