/*
 * sim.c -- chain-sim's engine (see sim.h): a model of Pitchlake vaults that
 * emits Layout A events (pitchlake-spec §5.2) in event frames (design §3.2).
 *
 * The contract maths (spec §6) is re-implemented here on purpose, apart
 * from ep-apply and common/u256: the generator is a differential oracle.
 * Amounts are fixed four-limb values (struct u4) so that the model is flat
 * memory; GMP does the arithmetic (mpn for add/sub/compare, mpz views for
 * products and quotients).  Every product stays below 2^256: a vault does
 * not start an auction while it holds 2^120 or more (whales withdraw first).
 *
 * Reorgs use a byte-level undo log: every model write goes through sv(),
 * which records the old bytes in the log of the block being built.  A ring
 * of the last --max-reorg-depth blocks keeps each block's log and its event
 * lines (repeated in the RevertBlock frame).  Event nonces, frame ids and
 * the random generator are outside the model and never go back.
 *
 * Rounds live in a ring of RING slots per vault; when round N+RING is
 * deployed, round N is retired: its rows go to the --dump-state store (an
 * append-only buffer whose length is model state), then the slot is reused.
 */
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
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

/* Names and selectors, spec §5.1. */
static const char *const ev_name[E_COUNT] = {
	"Deposit",
	"Withdrawal",
	"WithdrawalQueued",
	"StashWithdrawn",
	"OptionRoundDeployed",
	"PricingDataSet",
	"AuctionStarted",
	"AuctionEnded",
	"OptionRoundSettled",
	"BidPlaced",
	"BidUpdated",
	"UnusedBidsRefunded",
	"OptionsMinted",
	"OptionsExercised",
	"ContractDeployed",
	"Transfer",
};
static const char *const ev_sel[E_COUNT] = {
	"0x9149d2123147c5f43d258257fef0b7b969db78269369ebcf5ebb9eef8592f2",
	"0x2eed7e29b3502a726faf503ac4316b7101f3da813654e8df02c13449e03da8",
	"0x36a0768f9b1cc8742e7726e951a13aec0f1ee9461c6be53a80378c49299c5fb",
	"0x14430163c5d26a17d82f2c2eda269f26b054e14a1641bb700a114b2a63bc605",
	"0xd659a517d721168cbed4f7cb1abb424037bf0f34a8a22948c502429045b312",
	"0x3f68cb197d4ac6576b566cd954873b6530b9eac0309487c09f9a35271533737",
	"0x26a7d477600536be46a48d46dcdebf5d8c5703c5e16f6bfad368996adea83f3",
	"0x369d2b1c46f2b24795aafc23c97301b1f924966a1b4fdaad2473cf4d9df23ca",
	"0x9fadeca7092d377c750978a256f85278e6f70781e5c879baa766ca6a4db079",
	"0x284319dd93fe6054ee43527bfdc6c222e6b0cafdcbd3ef60c9190c70bb1d638",
	"0x35446d7dda93a65e80ece35b20810ab34e64178c54b8693ef635afb5c2f7ee3",
	"0x1678c5f70bd63f9239387cb96dd9fa4d6a9817a3089a0b97513f63120f92792",
	"0x1f66c9480f0238b7c61817f7e724aa3f313dac819d40d5b48a968ef27847f54",
	"0x2d02464cd0ec035fbc5f7d9e201312f112ca0ed123ca3ae5ebd91b2364ce580",
	"0x26b160f10156dea0639bec90696772c640b9706a47f5b8c52ea1abe5858b34d",
	"0x99cd8bde557814842a3121e8ddfd433a539b8c9f14bf31ebf108d12e6196e9",
};

/* The Starknet ETH token (spec §9). */
static const char eth_hex[] = "0x49d36570d4e46f48e99674bd3fcc84644ddd6b96f7c741b1562b82f9e004dc7";

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
static const char *const round_state[] = {"Open", "Auctioning", "Running", "Settled"};

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

/* ---- random numbers: splitmix64 seeding xoshiro256** ---- */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rnd(struct sim *s)
{
	uint64_t *q = s->rs;
	uint64_t r = rotl(q[1] * 5, 7) * 9, t = q[1] << 17;
	q[2] ^= q[0];
	q[3] ^= q[1];
	q[1] ^= q[2];
	q[0] ^= q[3];
	q[2] ^= t;
	q[3] = rotl(q[3], 45);
	return r;
}

/* Uniform enough in [0, n); 0 when n = 0. */
static uint64_t below(struct sim *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

static uint64_t range(struct sim *s, uint64_t lo, uint64_t hi)
{
	return lo + below(s, hi - lo + 1);
}

static int chance(struct sim *s, unsigned permille)
{
	return below(s, 1000) < permille;
}

static void felt_rand(struct sim *s, u4 *f)
{
	for (int i = 0; i < 4; i++)
		f->w[i] = rnd(s);
	f->w[3] &= FELT_TOP;
}

/* A felt that depends only on (seed, tag, a, b): addresses, bid ids. */
static void felt_derive(u4 *f, uint64_t seed, uint64_t tag, uint64_t a, uint64_t b)
{
	uint64_t x = seed;
	x = splitmix(&x) ^ tag;
	x = splitmix(&x) ^ a;
	x = splitmix(&x) ^ b;
	for (int i = 0; i < 4; i++)
		f->w[i] = splitmix(&x);
	f->w[3] &= FELT_TOP;
}

/* ---- formatting ---- */

/* Two hex digits per byte value. */
static const char hex2[] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* The 16 hex digits of x. */
static void hex16(char *p, uint64_t x)
{
	for (int j = 7; j >= 0; j--) {
		memcpy(p + 2 * j, hex2 + 2 * (x & 0xff), 2);
		x >>= 8;
	}
}

/* "0x" + lowercase hex of the n-limb value w, no leading zeros. */
static char *put_hex(char *p, const mp_limb_t *w, int n)
{
	char top[16];
	int i = n - 1;
	while (i > 0 && !w[i])
		i--;
	*p++ = '0';
	*p++ = 'x';
	uint64_t x = w[i];
	int nib = x ? 16 - __builtin_clzll(x) / 4 : 1;
	hex16(top, x);
	memcpy(p, top + 16 - nib, (size_t)nib);
	p += nib;
	while (i-- > 0) {
		hex16(p, w[i]);
		p += 16;
	}
	return p;
}

static char *put_u64(char *p, uint64_t v)
{
	char t[20];
	int i = 20;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(p, t + i, (size_t)(20 - i));
	return p + 20 - i;
}

static char *put_mem(char *p, const char *s, size_t n)
{
	if (n)
		memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put_mem((p), (lit), sizeof(lit) - 1)

static void hexs_set(struct hexs *h, const u4 *f)
{
	h->len = (uint32_t)(put_hex(h->s, f->w, 4) - h->s);
	h->s[h->len] = '\0';
}

/* Quoted felt list items, each followed by a comma (closed by ev_data/ev_end). */
static char *q_hex(char *p, const mp_limb_t *w, int n)
{
	*p++ = '"';
	p = put_hex(p, w, n);
	*p++ = '"';
	*p++ = ',';
	return p;
}

static char *q_felt(char *p, const u4 *f)
{
	return q_hex(p, f->w, 4);
}

/* A u256 as two felts [low128, high128]. */
static char *q_u256(char *p, const u4 *a)
{
	p = q_hex(p, a->w, 2);
	return q_hex(p, a->w + 2, 2);
}

static char *q_u64(char *p, uint64_t v)
{
	mp_limb_t w = v;
	return q_hex(p, &w, 1);
}

static char *q_str(char *p, const struct hexs *h)
{
	*p++ = '"';
	p = put_mem(p, h->s, h->len);
	*p++ = '"';
	*p++ = ',';
	return p;
}

/* ---- undo log ---- */

/* Record the n bytes at p before the model changes them. */
static void sv(struct sim *s, void *p, size_t n)
{
	if (!s->undo_on)
		return;
	struct blk *b = s->cur;
	if (b->nu == b->capu) {
		b->capu = b->capu ? 2 * b->capu : 256;
		b->u = xrealloc(b->u, b->capu * sizeof *b->u);
	}
	b->u[b->nu++] = (struct undo){p, n, b->saved.len};
	sb_add(&b->saved, p, n);
}

static void set64(struct sim *s, uint64_t *d, uint64_t v)
{
	if (*d == v)
		return;
	sv(s, d, sizeof *d);
	*d = v;
}

static void setu(struct sim *s, u4 *d, const u4 *v)
{
	if (!memcmp(d, v, sizeof *d))
		return;
	sv(s, d, sizeof *d);
	*d = *v;
}

/* Undo one block: restore its saved bytes, newest first. */
static void blk_undo(struct blk *b)
{
	for (size_t i = b->nu; i-- > 0;)
		memcpy(b->u[i].p, b->saved.buf + b->u[i].off, b->u[i].n);
	b->nu = 0;
	sb_reset(&b->saved);
}

/* ---- 256-bit arithmetic on u4 with GMP (dies on overflow: a bug here) ---- */

static const u4 U_ZERO = {{0, 0, 0, 0}};

static void u_set64(u4 *r, uint64_t x)
{
	r->w[0] = x;
	r->w[1] = r->w[2] = r->w[3] = 0;
}

static int u_is0(const u4 *a)
{
	return !(a->w[0] | a->w[1] | a->w[2] | a->w[3]);
}

static int u_cmp(const u4 *a, const u4 *b)
{
	return mpn_cmp(a->w, b->w, 4);
}

static unsigned u_bits(const u4 *a)
{
	for (int i = 3; i >= 0; i--)
		if (a->w[i])
			return (unsigned)(64 * i + 64 - __builtin_clzll(a->w[i]));
	return 0;
}

static void u_add(u4 *r, const u4 *a, const u4 *b)
{
	if (mpn_add_n(r->w, a->w, b->w, 4))
		die_code(EXIT_SOFTWARE, "internal error: u256 overflow in the model");
}

static void u_sub(u4 *r, const u4 *a, const u4 *b)
{
	if (mpn_sub_n(r->w, a->w, b->w, 4))
		die_code(EXIT_SOFTWARE, "internal error: u256 underflow in the model");
}

static const u4 *u_min(const u4 *a, const u4 *b)
{
	return u_cmp(a, b) <= 0 ? a : b;
}

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

static void u_mul(struct sim *s, u4 *r, const u4 *a, const u4 *b)
{
	mpz_t va, vb;
	mpz_mul(s->t1, zv(va, a), zv(vb, b));
	zst(r, s->t1);
}

/* r = floor(a * b / c); the product must fit in 256 bits. */
static void u_muldiv(struct sim *s, u4 *r, const u4 *a, const u4 *b, const u4 *c)
{
	mpz_t va, vb, vc;
	if (u_is0(c))
		die_code(EXIT_SOFTWARE, "internal error: division by zero in the model");
	mpz_mul(s->t1, zv(va, a), zv(vb, b));
	zcheck(s->t1);
	mpz_tdiv_q(s->t1, s->t1, zv(vc, c));
	zst(r, s->t1);
}

static void u_div(struct sim *s, u4 *r, const u4 *a, const u4 *b)
{
	mpz_t va, vb;
	if (u_is0(b))
		die_code(EXIT_SOFTWARE, "internal error: division by zero in the model");
	mpz_tdiv_q(s->t1, zv(va, a), zv(vb, b));
	zst(r, s->t1);
}

/* r = a * num / den for small num, den. */
static void u_scale(struct sim *s, u4 *r, const u4 *a, uint64_t num, uint64_t den)
{
	mpz_t va;
	mpz_mul_ui(s->t1, zv(va, a), num);
	mpz_tdiv_q_ui(s->t1, s->t1, den);
	zst(r, s->t1);
}

/* r = x * m + add. */
static void u_muladd(struct sim *s, u4 *r, uint64_t x, uint64_t m, uint64_t add)
{
	mpz_set_ui(s->t1, x);
	mpz_mul_ui(s->t1, s->t1, m);
	mpz_add_ui(s->t1, s->t1, add);
	zst(r, s->t1);
}

/* r uniform in [0, n) (0 if n = 0). */
static void u_below(struct sim *s, u4 *r, const u4 *n)
{
	mpz_t vn;
	mpz_mul_ui(s->t1, zv(vn, n), rnd(s));
	mpz_tdiv_q_2exp(s->t1, s->t1, 64);
	zst(r, s->t1);
}

/* max payout per option = strike * cap_level / BPS. */
static void max_payout(struct sim *s, u4 *r, const struct round *rd)
{
	u4 bps;
	u_set64(&bps, BPS);
	u_muldiv(s, r, &rd->strike, &rd->cap, &bps);
}

/* ---- event lines ---- */

static void new_tx(struct sim *s)
{
	u4 h;
	felt_rand(s, &h);
	hexs_set(&s->tx, &h);
}

/* Start an event line of vault v up to and including the selector key. */
static char *ev_begin(struct sim *s, struct vault *v, enum ev e)
{
	struct sb *b = s->body;
	sb_grow(b, 4096);
	char *p = b->buf + b->len;
	p = put_mem(p, s->bpre, s->bprelen);
	p = put_mem(p, s->tx.s, s->tx.len);
	p = PUT_LIT(p, "\",\"vault\":\"");
	p = put_mem(p, v->hex.s, v->hex.len);
	p = PUT_LIT(p, "\",\"nonce\":");
	p = put_u64(p, ++v->nonce);
	return put_mem(p, s->evpre[e].s, s->evpre[e].len);
}

/* Close the keys, open the data. */
static char *ev_data(char *p)
{
	p[-1] = ']';
	return PUT_LIT(p, ",\"data\":[");
}

static void ev_end(struct sim *s, char *p)
{
	p[-1] = ']';
	*p++ = '}';
	*p++ = '\n';
	*p = '\0';
	s->body->len = (size_t)(p - s->body->buf);
	s->st.events++;
}

/* ERC-20 Transfer noise (--transfers): consumers must ignore it. */
static void maybe_transfer(struct sim *s, struct vault *v)
{
	if (!s->o.transfers || !chance(s, 150))
		return;
	const struct hexs *from = &s->lphex[below(s, s->o.lps)];
	const struct hexs *to = chance(s, 500) ? &v->hex : &s->obhex[below(s, s->o.buyers)];
	u4 amt;
	u_muladd(s, &amt, range(s, 1, 1000000), 1000000000, below(s, 1000000000));
	char *p = ev_begin(s, v, E_TRANSFER);
	p = q_str(p, from);
	p = q_str(p, to);
	p = ev_data(p);
	p = q_u256(p, &amt);
	ev_end(s, p);
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
	if (v->kind && chance(s, 4)) {
		/* a whale: the u256 high half is non-zero */
		a->w[0] = rnd(s);
		a->w[1] = rnd(s);
		a->w[2] = range(s, 1, 1u << 20);
		a->w[3] = 0;
		return;
	}
	if (chance(s, 40)) {
		u_set64(a, range(s, 1, 100));
		return;
	}
	switch (v->kind) {
	case 0:
		u_set64(a, range(s, 1000, 1000000));
		break;
	case 1:
		u_muladd(s, a, range(s, 1, 10000), UINT64_C(1000000000000000), below(s, UINT64_C(1000000000000000)));
		break;
	default:
		u_muladd(s, a, range(s, 1, 1000000), UINT64_C(1000000000000000000), below(s, UINT64_C(1000000000000000000)));
		break;
	}
}

/* Pricing of a new round: from the last settlement price when it is in range. */
static void gen_pricing(struct sim *s, const struct vault *v, const u4 *settle, u4 *strike, u4 *cap, u4 *reserve)
{
	uint64_t lo, hi;
	strike_range(v, &lo, &hi);
	u_set64(strike, range(s, lo, hi));
	if (settle) {
		u4 x;
		u_scale(s, &x, settle, (uint64_t)(BPS + v->strike_level), BPS);
		if (!x.w[1] && !x.w[2] && !x.w[3] && x.w[0] >= lo && x.w[0] <= hi)
			*strike = x;
	}
	u_set64(cap, range(s, v->min_cap, 9000));
	u4 mp, bps;
	u_set64(&bps, BPS);
	u_muldiv(s, &mp, strike, cap, &bps);
	u_scale(s, reserve, &mp, range(s, 1, 30), 100);
	if (u_is0(reserve))
		u_set64(reserve, 1);
}

/* ---- vault lifecycle ---- */

static struct round *cur_round(const struct vault *v)
{
	return v->ring[v->cur % RING];
}

static void retire(struct sim *s, struct vault *v, struct round *r);

static char *q_round_tail(char *p, const struct round *r)
{
	return q_str(p, &r->hex);
}

/* Deploy round id into its slot (retiring the round it held) and emit OptionRoundDeployed. */
static void round_deploy(struct sim *s, struct vault *v, uint64_t id, const u4 *strike, const u4 *cap, const u4 *reserve, int priced)
{
	struct round *r = v->ring[id % RING];
	if (r->id)
		retire(s, v, r);
	sv(s, r, s->slot_size);
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
	r->mood = chance(s, 100) ? 0 : range(s, 1, 3);
	felt_derive(&r->addr, s->o.seed, TAG_ROUND, v->idx, id);
	hexs_set(&r->hex, &r->addr);
	r->deploy_date = s->ts;
	r->start_date = s->ts + v->transition;
	r->end_date = r->start_date + v->auction_dur;
	r->settle_date = r->end_date + v->round_dur;
	r->strike = *strike;
	r->cap = *cap;
	r->reserve = *reserve;
	set64(s, &v->cur, id);

	char *p = ev_begin(s, v, E_ROUND_DEPLOYED);
	p = ev_data(p);
	p = q_u64(p, id);
	p = q_str(p, &r->hex);
	p = q_u64(p, r->start_date);
	p = q_u64(p, r->end_date);
	p = q_u64(p, r->settle_date);
	p = q_u256(p, &r->strike);
	p = q_hex(p, r->cap.w, 2);
	p = q_u256(p, &r->reserve);
	ev_end(s, p);
}

static void act_deploy(struct sim *s, struct vault *v)
{
	new_tx(s);
	set64(s, &v->deployed, 1);
	set64(s, &v->deployment_date, s->ts);
	set64(s, &v->latest_block, s->number);

	u4 sl;
	if (v->strike_level < 0) {
		u4 m;
		u_set64(&m, (uint64_t)-v->strike_level);
		u_sub(&sl, &s->felt_p, &m);
	} else {
		u_set64(&sl, (uint64_t)v->strike_level);
	}
	char *p = ev_begin(s, v, E_DEPLOYED);
	p = ev_data(p);
	p = q_str(p, &v->hex);
	p = q_str(p, &s->deployer);
	p = q_u64(p, 0);
	p = q_str(p, &s->vault_class);
	p = q_u64(p, 9);
	p = q_str(p, &s->fossil);
	p = q_str(p, &s->eth);
	p = q_str(p, &s->orch_class);
	p = q_u64(p, v->alpha);
	p = q_felt(p, &sl);
	p = q_u64(p, v->min_cap);
	p = q_u64(p, v->transition);
	p = q_u64(p, v->auction_dur);
	p = q_u64(p, v->round_dur);
	p = q_felt(p, &v->salt);
	ev_end(s, p);

	round_deploy(s, v, 1, &U_ZERO, &U_ZERO, &U_ZERO, 0);
}

/* Round 1's pricing (the fossil callback). */
static void act_pricing(struct sim *s, struct vault *v)
{
	struct round *r = cur_round(v);
	u4 strike, cap, reserve;
	gen_pricing(s, v, NULL, &strike, &cap, &reserve);
	new_tx(s);
	setu(s, &r->strike, &strike);
	setu(s, &r->cap, &cap);
	setu(s, &r->reserve, &reserve);
	set64(s, &r->priced, 1);

	char *p = ev_begin(s, v, E_PRICING);
	p = q_u64(p, r->id);
	p = ev_data(p);
	p = q_u256(p, &strike);
	p = q_hex(p, cap.w, 2);
	p = q_u256(p, &reserve);
	p = q_round_tail(p, r);
	ev_end(s, p);
}

/* Deposit or Withdrawal of amt by LP i (unlocked balances only). */
static void lp_move(struct sim *s, struct vault *v, unsigned i, const u4 *amt, int out)
{
	struct lp *l = &v->lps[i];
	u4 an, vn;
	new_tx(s);
	maybe_transfer(s, v);
	if (out) {
		u_sub(&an, &l->unlocked, amt);
		u_sub(&vn, &v->unlocked, amt);
	} else {
		u_add(&an, &l->unlocked, amt);
		u_add(&vn, &v->unlocked, amt);
	}
	setu(s, &l->unlocked, &an);
	setu(s, &v->unlocked, &vn);
	set64(s, &l->exists, 1);
	set64(s, &l->latest_block, s->number);
	set64(s, &v->latest_block, s->number);

	char *p = ev_begin(s, v, out ? E_WITHDRAWAL : E_DEPOSIT);
	p = q_str(p, &s->lphex[i]);
	p = ev_data(p);
	p = q_u256(p, amt);
	p = q_u256(p, &an);
	p = q_u256(p, &vn);
	ev_end(s, p);
}

static void act_deposit(struct sim *s, struct vault *v)
{
	u4 amt;
	gen_deposit(s, v, &amt);
	lp_move(s, v, (unsigned)below(s, s->o.lps), &amt, 0);
}

/* A random LP for which ok() holds, or -1. */
static long pick_lp(struct sim *s, const struct vault *v, int (*ok)(const struct vault *, unsigned))
{
	unsigned n = s->o.lps, k = (unsigned)below(s, n);
	for (unsigned j = 0; j < n; j++) {
		unsigned i = (k + j) % n;
		if (ok(v, i))
			return i;
	}
	return -1;
}

static int has_unlocked(const struct vault *v, unsigned i)
{
	return !u_is0(&v->lps[i].unlocked);
}

static int has_stash(const struct vault *v, unsigned i)
{
	return !u_is0(&v->lps[i].stashed);
}

static int has_L(const struct vault *v, unsigned i)
{
	return !u_is0(&cur_round(v)->lprs[i].L);
}

static int act_withdraw(struct sim *s, struct vault *v)
{
	long i = pick_lp(s, v, has_unlocked);
	if (i < 0)
		return 0;
	/* never more than the vault holds: per-LP shares are floored separately */
	const u4 *max = u_min(&v->lps[i].unlocked, &v->unlocked);
	if (u_is0(max))
		return 0;
	u4 amt;
	if (chance(s, 250)) {
		amt = *max;
	} else {
		u4 one;
		u_set64(&one, 1);
		u_below(s, &amt, max);
		u_add(&amt, &amt, &one);
	}
	lp_move(s, v, (unsigned)i, &amt, 1);
	return 1;
}

/* Before an auction start: the biggest LP takes out all but its low 96 bits. */
static void act_whale_out(struct sim *s, struct vault *v)
{
	unsigned best = 0;
	for (unsigned i = 1; i < s->o.lps; i++)
		if (u_cmp(&v->lps[i].unlocked, &v->lps[best].unlocked) > 0)
			best = i;
	u4 amt = v->lps[best].unlocked;
	amt.w[0] = 0;
	amt.w[1] &= ~(mp_limb_t)0xffffffffu;
	amt = *u_min(&amt, &v->unlocked);
	if (!u_is0(&amt))
		lp_move(s, v, best, &amt, 1);
}

static int act_queue(struct sim *s, struct vault *v)
{
	struct round *r = cur_round(v);
	if (r->state != R_AUCTIONING && r->state != R_RUNNING)
		return 0;
	long i = pick_lp(s, v, has_L);
	if (i < 0)
		return 0;
	struct lpr *x = &r->lprs[i];
	uint64_t bps = range(s, 1, BPS - 1);
	if (chance(s, 200))
		bps = BPS;
	else if (chance(s, 100))
		bps = 0;
	u4 now, vnow;
	u_scale(s, &now, &x->L, bps, BPS);
	u_sub(&vnow, &r->Q, &x->q);
	u_add(&vnow, &vnow, &now);
	if (u_cmp(&vnow, &r->S) > 0) /* keeps the stash <= R at settlement */
		return 0;
	u4 before = x->q;
	new_tx(s);
	setu(s, &x->q, &now);
	set64(s, &x->bps, bps);
	set64(s, &x->queued_row, 1);
	setu(s, &r->Q, &vnow);

	char *p = ev_begin(s, v, E_QUEUED);
	p = q_str(p, &s->lphex[i]);
	p = ev_data(p);
	p = q_u64(p, bps);
	p = q_u64(p, r->id);
	p = q_u256(p, &before);
	p = q_u256(p, &now);
	p = q_u256(p, &vnow);
	ev_end(s, p);
	return 1;
}

static int act_stash(struct sim *s, struct vault *v)
{
	long i = pick_lp(s, v, has_stash);
	if (i < 0)
		return 0;
	struct lp *l = &v->lps[i];
	u4 amt = l->stashed, vnow;
	u_sub(&vnow, &v->stashed, &amt);
	new_tx(s);
	maybe_transfer(s, v);
	setu(s, &l->stashed, &U_ZERO);
	setu(s, &v->stashed, &vnow);
	set64(s, &l->latest_block, s->number);
	set64(s, &v->latest_block, s->number);

	char *p = ev_begin(s, v, E_STASH);
	p = q_str(p, &s->lphex[i]);
	p = ev_data(p);
	p = q_u256(p, &amt);
	p = q_u256(p, &vnow);
	ev_end(s, p);
	return 1;
}

static void act_start(struct sim *s, struct vault *v, const u4 *avail)
{
	struct round *r = cur_round(v);
	u4 S = v->unlocked;
	new_tx(s);
	for (unsigned i = 0; i < s->o.lps; i++) {
		struct lp *l = &v->lps[i];
		if (u_is0(&l->unlocked))
			continue;
		setu(s, &r->lprs[i].L, &l->unlocked);
		setu(s, &l->locked, &l->unlocked);
		setu(s, &l->unlocked, &U_ZERO);
		set64(s, &l->latest_block, s->number);
	}
	setu(s, &v->locked, &S);
	setu(s, &v->unlocked, &U_ZERO);
	set64(s, &v->latest_block, s->number);
	setu(s, &r->S, &S);
	setu(s, &r->avail, avail);
	set64(s, &r->state, R_AUCTIONING);

	char *p = ev_begin(s, v, E_STARTED);
	p = q_u64(p, r->id);
	p = ev_data(p);
	p = q_u256(p, &S);
	p = q_u256(p, avail);
	p = q_round_tail(p, r);
	ev_end(s, p);
}

static void bid_id(const struct sim *s, const struct vault *v, const struct round *r, const struct bid *b, u4 *id)
{
	felt_derive(id, s->o.seed, TAG_BID, v->idx * 1000003 + r->id, b->seq);
}

static int act_bid(struct sim *s, struct vault *v)
{
	struct round *r = cur_round(v);
	if (r->state != R_AUCTIONING || !r->mood || r->nbids >= s->bcap)
		return 0;
	u4 mp, step, price, amount, x;
	max_payout(s, &mp, r);
	u_scale(s, &step, &mp, 1, 20);
	if (u_is0(&step))
		u_set64(&step, 1);
	/* a quiet auction */
	if (r->mood == 1 && chance(s, 500))
		return 0;
	if (chance(s, 600)) { /* a price ladder: ties are common */
		u_scale(s, &x, &step, below(s, 3), 1);
	} else {
		u_scale(s, &x, &mp, 1, 2);
		u_below(s, &x, &x);
	}
	u_add(&price, &r->reserve, &x);
	if (chance(s, 100)) {
		u_set64(&amount, range(s, 1, 10));
	} else {
		u4 one;
		u_set64(&one, 1);
		static const uint64_t most[] = {0, 8, 30, 60}; /* percent of the options, by mood */
		u_scale(s, &amount, &r->avail, range(s, 1, most[r->mood]), 100);
		u_add(&amount, &amount, &one);
	}
	uint64_t buyer = below(s, s->o.buyers);
	struct bid *b = &r->bids[r->nbids]; /* beyond nbids: not model state yet */
	b->amount = amount;
	b->price = price;
	b->nonce = r->tree_c;
	b->buyer = buyer;
	b->seq = r->nbids;
	new_tx(s);
	maybe_transfer(s, v);
	set64(s, &r->nbids, r->nbids + 1);
	set64(s, &r->tree_c, r->tree_c + 1);
	set64(s, &r->obs[buyer].exists, 1);

	u4 id;
	bid_id(s, v, r, b, &id);
	char *p = ev_begin(s, v, E_BID_PLACED);
	p = q_str(p, &s->obhex[buyer]);
	p = q_u64(p, r->id);
	p = ev_data(p);
	p = q_felt(p, &id);
	p = q_u256(p, &amount);
	p = q_u256(p, &price);
	p = q_u64(p, b->nonce + 1);
	p = q_round_tail(p, r);
	ev_end(s, p);
	return 1;
}

static int act_update(struct sim *s, struct vault *v)
{
	struct round *r = cur_round(v);
	if (r->state != R_AUCTIONING || !r->nbids)
		return 0;
	struct bid *b = &r->bids[below(s, r->nbids)];
	u4 mp, inc, price;
	max_payout(s, &mp, r);
	if (chance(s, 500)) {
		u_scale(s, &inc, &mp, range(s, 1, 3), 20);
	} else {
		u_scale(s, &inc, &mp, 1, 4);
		u_below(s, &inc, &inc);
	}
	if (u_is0(&inc))
		u_set64(&inc, 1);
	u_add(&price, &b->price, &inc);
	uint64_t before = b->nonce;
	new_tx(s);
	setu(s, &b->price, &price);
	set64(s, &b->nonce, r->tree_c);
	set64(s, &r->tree_c, r->tree_c + 1);

	u4 id;
	bid_id(s, v, r, b, &id);
	char *p = ev_begin(s, v, E_BID_UPDATED);
	p = q_str(p, &s->obhex[b->buyer]);
	p = q_u64(p, r->id);
	p = ev_data(p);
	p = q_felt(p, &id);
	p = q_u256(p, &inc);
	p = q_u64(p, before);
	p = q_u64(p, b->nonce);
	p = q_round_tail(p, r);
	ev_end(s, p);
	return 1;
}

/* Bid order: price descending, then tree nonce ascending. */
static int bid_before(const struct bid *a, const struct bid *b)
{
	int c = u_cmp(&a->price, &b->price);
	return c > 0 || (c == 0 && a->nonce < b->nonce);
}

static void add_to(struct sim *s, u4 *d, const u4 *x)
{
	u4 t;
	u_add(&t, d, x);
	setu(s, d, &t);
}

/* AuctionEnded: clearing (spec §6.3), buyers' outcomes, premiums to LPs. */
static void act_end(struct sim *s, struct vault *v)
{
	struct round *r = cur_round(v);
	unsigned n = (unsigned)r->nbids, *ord = s->ord;
	for (unsigned i = 0; i < n; i++) {
		unsigned j = i;
		while (j > 0 && bid_before(&r->bids[i], &r->bids[ord[j - 1]])) {
			ord[j] = ord[j - 1];
			j--;
		}
		ord[j] = i;
	}
	u4 remaining = r->avail, part = U_ZERO, cp = U_ZERO, sold, mp, U, P, x;
	long clearing = -1;
	uint64_t cnonce = 0;
	for (unsigned k = 0; k < n; k++) {
		const struct bid *b = &r->bids[ord[k]];
		if (u_cmp(&b->amount, &remaining) >= 0) {
			clearing = k;
			part = remaining;
			remaining = U_ZERO;
			break;
		}
		u_sub(&remaining, &remaining, &b->amount);
	}
	u_sub(&sold, &r->avail, &remaining);
	if (n) {
		const struct bid *cb = &r->bids[ord[clearing >= 0 ? (unsigned)clearing : n - 1]];
		cp = cb->price;
		cnonce = cb->nonce;
	}
	max_payout(s, &mp, r);
	u_mul(s, &x, &sold, &mp);
	u_sub(&U, &r->S, &x);
	u_mul(s, &P, &cp, &sold);

	for (unsigned k = 0; k < n; k++) {
		const struct bid *b = &r->bids[ord[k]];
		struct ob *o = &r->obs[b->buyer];
		u4 d;
		if (clearing < 0 || k < (unsigned)clearing) {
			add_to(s, &o->mintable, &b->amount);
			u_sub(&d, &b->price, &cp);
			u_mul(s, &d, &d, &b->amount);
			add_to(s, &o->refundable, &d);
		} else if (k == (unsigned)clearing) {
			add_to(s, &o->mintable, &part);
			u_sub(&d, &b->amount, &part);
			u_mul(s, &d, &d, &b->price);
			add_to(s, &o->refundable, &d);
		} else {
			u_mul(s, &d, &b->amount, &b->price);
			add_to(s, &o->refundable, &d);
		}
	}

	new_tx(s);
	u4 PU;
	u_add(&PU, &P, &U);
	add_to(s, &v->unlocked, &PU);
	u_sub(&x, &v->locked, &U);
	setu(s, &v->locked, &x);
	set64(s, &v->latest_block, s->number);
	u4 SU;
	u_sub(&SU, &r->S, &U);
	for (unsigned i = 0; i < s->o.lps; i++) {
		const u4 *L = &r->lprs[i].L;
		struct lp *l = &v->lps[i];
		if (u_is0(L))
			continue;
		u_muldiv(s, &x, &PU, L, &r->S);
		add_to(s, &l->unlocked, &x);
		u_muldiv(s, &x, &SU, L, &r->S);
		setu(s, &l->locked, &x);
		set64(s, &l->latest_block, s->number);
	}
	setu(s, &r->cp, &cp);
	setu(s, &r->sold, &sold);
	setu(s, &r->U, &U);
	setu(s, &r->prem, &P);
	set64(s, &r->clear_nonce, cnonce);
	set64(s, &r->state, R_RUNNING);

	char *p = ev_begin(s, v, E_ENDED);
	p = q_u64(p, r->id);
	p = ev_data(p);
	p = q_u256(p, &sold);
	p = q_u256(p, &cp);
	p = q_u256(p, &U);
	p = q_u64(p, cnonce);
	p = q_round_tail(p, r);
	ev_end(s, p);
}

/* OptionRoundSettled, then OptionRoundDeployed for the next round, one tx. */
static void act_settle(struct sim *s, struct vault *v)
{
	struct round *r = cur_round(v);
	u4 mp, settle, ppo, R, stash, x, y;
	max_payout(s, &mp, r);
	unsigned k = (unsigned)below(s, 10);
	if (k < 3) { /* at or below the strike: no payout */
		u_scale(s, &settle, &r->strike, range(s, 50, 100), 100);
	} else if (k < 7) { /* between strike and cap */
		u_below(s, &x, &mp);
		u_add(&settle, &r->strike, &x);
		u_set64(&x, 1);
		u_add(&settle, &settle, &x);
	} else { /* at or above the cap */
		u_scale(s, &y, &r->strike, 1, 2);
		u_below(s, &x, &y);
		u_add(&settle, &r->strike, &mp);
		u_add(&settle, &settle, &x);
	}
	if (u_cmp(&settle, &r->strike) <= 0) {
		ppo = U_ZERO;
	} else {
		u_sub(&x, &settle, &r->strike);
		ppo = *u_min(&x, &mp);
	}
	u_sub(&R, &r->S, &r->U);
	u_mul(s, &x, &ppo, &r->sold);
	u_sub(&R, &R, &x);
	stash = U_ZERO;
	if (!u_is0(&r->S))
		u_muldiv(s, &stash, &R, &r->Q, &r->S);

	new_tx(s);
	setu(s, &v->locked, &U_ZERO);
	add_to(s, &v->stashed, &stash);
	u_sub(&x, &R, &stash);
	add_to(s, &v->unlocked, &x);
	set64(s, &v->latest_block, s->number);
	for (unsigned i = 0; i < s->o.lps; i++) {
		const struct lpr *q = &r->lprs[i];
		struct lp *l = &v->lps[i];
		if (u_is0(&q->L))
			continue;
		u_muldiv(s, &x, &R, &q->L, &r->S);
		u_muldiv(s, &y, &R, &q->q, &r->S);
		setu(s, &l->locked, &U_ZERO);
		u_sub(&x, &x, &y);
		add_to(s, &l->unlocked, &x);
		add_to(s, &l->stashed, &y);
		set64(s, &l->latest_block, s->number);
	}
	setu(s, &r->settle, &settle);
	setu(s, &r->ppo, &ppo);
	setu(s, &r->R, &R);
	set64(s, &r->state, R_SETTLED);

	char *p = ev_begin(s, v, E_SETTLED);
	p = q_u64(p, r->id);
	p = ev_data(p);
	p = q_u256(p, &settle);
	p = q_u256(p, &ppo);
	p = q_round_tail(p, r);
	ev_end(s, p);

	u4 strike, cap, reserve;
	gen_pricing(s, v, &settle, &strike, &cap, &reserve);
	round_deploy(s, v, r->id + 1, &strike, &cap, &reserve, 1);
}

/* Mint, refund or exercise for a buyer of a live round whose auction ended. */
static int act_buyer(struct sim *s, struct vault *v)
{
	for (int attempt = 0; attempt < 6; attempt++) {
		struct round *r = v->ring[below(s, RING)];
		if (!r->id || r->state < R_RUNNING)
			continue;
		uint64_t k = below(s, s->o.buyers);
		struct ob *o = &r->obs[k];
		if (!o->exists)
			continue;
		int can_mint = !u_is0(&o->mintable) && !o->minted;
		int can_refund = !u_is0(&o->refundable) && !o->refunded;
		int can_ex = r->state == R_SETTLED && !u_is0(&o->mintable) && !o->exercised;
		int n = can_mint + can_refund + can_ex;
		if (!n)
			continue;
		int pick = (int)below(s, (uint64_t)n);
		enum ev e = E_EXERCISED;
		if (can_mint && pick-- == 0)
			e = E_MINTED;
		else if (can_refund && pick-- == 0)
			e = E_REFUNDED;
		new_tx(s);
		char *p = ev_begin(s, v, e);
		p = q_str(p, &s->obhex[k]);
		p = q_u64(p, r->id);
		p = ev_data(p);
		if (e == E_MINTED) {
			set64(s, &o->minted, 1);
			p = q_u256(p, &o->mintable);
		} else if (e == E_REFUNDED) {
			set64(s, &o->refunded, 1);
			p = q_u256(p, &o->refundable);
		} else {
			/* the minted ERC-20 options plus the not yet minted ones */
			u4 amount;
			u_mul(s, &amount, &o->mintable, &r->ppo);
			p = q_u256(p, &o->mintable);
			p = q_u256(p, o->minted ? &U_ZERO : &o->mintable);
			p = q_u256(p, &amount);
			set64(s, &o->minted, 1);
			set64(s, &o->exercised, 1);
		}
		p = q_round_tail(p, r);
		ev_end(s, p);
		return 1;
	}
	return 0;
}

/* Phase changes that are due by the block time (keepers act with some delay). */
static void transitions(struct sim *s, struct vault *v)
{
	struct round *r = cur_round(v);
	switch (r->state) {
	case R_OPEN:
		if (!r->priced) {
			if (chance(s, 300))
				act_pricing(s, v);
			return;
		}
		if (s->ts < r->start_date || !chance(s, 600))
			return;
		if (u_bits(&v->unlocked) >= WHALE_BITS) {
			act_whale_out(s, v);
			return;
		}
		u4 mp, avail;
		max_payout(s, &mp, r);
		u_div(s, &avail, &v->unlocked, &mp);
		if (!u_is0(&avail))
			act_start(s, v, &avail);
		return;
	case R_AUCTIONING:
		if (s->ts >= r->end_date && chance(s, 600))
			act_end(s, v);
		return;
	case R_RUNNING:
		if (s->ts >= r->settle_date && chance(s, 600))
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
	const unsigned char *wt = w[cur_round(v)->state < 3 ? cur_round(v)->state : 2];
	for (int attempt = 0; attempt < 3; attempt++) {
		unsigned x = (unsigned)below(s, 100), k = 0;
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

/* ---- snapshot rows (docs/formats.md) ---- */

static void j_hex(struct sb *sb, const char *name, const struct hexs *h)
{
	sb_adds(sb, name);
	sb_addc(sb, '"');
	sb_add(sb, h->s, h->len);
	sb_addc(sb, '"');
}

static void j_felt(struct sb *sb, const char *name, const u4 *f)
{
	struct hexs h;
	hexs_set(&h, f);
	j_hex(sb, name, &h);
}

static void j_dec(struct sb *sb, const char *name, const u4 *a)
{
	char buf[96];
	mpz_t va;
	mpz_get_str(buf, 10, zv(va, a));
	sb_adds(sb, name);
	sb_addc(sb, '"');
	sb_adds(sb, buf);
	sb_addc(sb, '"');
}

static void j_d64(struct sb *sb, const char *name, uint64_t x)
{
	sb_adds(sb, name);
	sb_addc(sb, '"');
	sb_add_u64(sb, x);
	sb_addc(sb, '"');
}

static void row_begin(struct sb *sb, const char *table)
{
	sb_adds(sb, "{\"op\":\"put\",\"table\":\"");
	sb_adds(sb, table);
	sb_adds(sb, "\",\"key\":{");
}

static void round_rows(const struct sim *s, const struct vault *v, const struct round *r, struct sb *sb)
{
	row_begin(sb, "Option_Rounds");
	j_hex(sb, "\"address\":", &r->hex);
	j_hex(sb, "},\"row\":{\"address\":", &r->hex);
	j_hex(sb, ",\"vault_address\":", &v->hex);
	j_d64(sb, ",\"round_id\":", r->id);
	sb_adds(sb, ",\"state\":");
	sb_add_jstr(sb, round_state[r->state], strlen(round_state[r->state]));
	j_dec(sb, ",\"available_options\":", &r->avail);
	j_dec(sb, ",\"starting_liquidity\":", &r->S);
	j_dec(sb, ",\"queued_liquidity\":", &r->Q);
	j_dec(sb, ",\"remaining_liquidity\":", &r->R);
	j_dec(sb, ",\"unsold_liquidity\":", &r->U);
	j_dec(sb, ",\"clearing_price\":", &r->cp);
	j_dec(sb, ",\"settlement_price\":", &r->settle);
	j_dec(sb, ",\"reserve_price\":", &r->reserve);
	j_dec(sb, ",\"strike_price\":", &r->strike);
	j_dec(sb, ",\"cap_level\":", &r->cap);
	j_dec(sb, ",\"sold_options\":", &r->sold);
	j_dec(sb, ",\"premiums\":", &r->prem);
	j_dec(sb, ",\"payout_per_option\":", &r->ppo);
	j_d64(sb, ",\"start_date\":", r->start_date);
	j_d64(sb, ",\"end_date\":", r->end_date);
	j_d64(sb, ",\"settlement_date\":", r->settle_date);
	j_d64(sb, ",\"deployment_date\":", r->deploy_date);
	sb_adds(sb, "}}\n");

	for (unsigned i = 0; i < s->o.lps; i++) {
		const struct lpr *q = &r->lprs[i];
		if (!q->queued_row)
			continue;
		row_begin(sb, "Queued_Liquidity");
		j_hex(sb, "\"address\":", &s->lphex[i]);
		j_hex(sb, ",\"round_address\":", &r->hex);
		j_hex(sb, "},\"row\":{\"address\":", &s->lphex[i]);
		j_dec(sb, ",\"queued_liquidity\":", &q->q);
		j_d64(sb, ",\"bps\":", q->bps);
		j_hex(sb, ",\"round_address\":", &r->hex);
		sb_adds(sb, "}}\n");
	}
	for (unsigned k = 0; k < s->o.buyers; k++) {
		const struct ob *o = &r->obs[k];
		if (!o->exists)
			continue;
		row_begin(sb, "Option_Buyers");
		j_hex(sb, "\"address\":", &s->obhex[k]);
		j_hex(sb, ",\"round_address\":", &r->hex);
		j_hex(sb, "},\"row\":{\"address\":", &s->obhex[k]);
		j_hex(sb, ",\"round_address\":", &r->hex);
		sb_adds(sb, o->minted ? ",\"has_minted\":true" : ",\"has_minted\":false");
		sb_adds(sb, o->refunded ? ",\"has_refunded\":true" : ",\"has_refunded\":false");
		j_dec(sb, ",\"mintable_options\":", &o->mintable);
		j_dec(sb, ",\"refundable_amount\":", &o->refundable);
		sb_adds(sb, "}}\n");
	}
	for (unsigned k = 0; k < r->nbids; k++) {
		const struct bid *b = &r->bids[k];
		u4 id;
		bid_id(s, v, r, b, &id);
		row_begin(sb, "Bids");
		j_hex(sb, "\"round_address\":", &r->hex);
		j_felt(sb, ",\"bid_id\":", &id);
		j_hex(sb, "},\"row\":{\"buyer_address\":", &s->obhex[b->buyer]);
		j_hex(sb, ",\"round_address\":", &r->hex);
		j_felt(sb, ",\"bid_id\":", &id);
		j_d64(sb, ",\"tree_nonce\":", b->nonce);
		j_dec(sb, ",\"amount\":", &b->amount);
		j_dec(sb, ",\"price\":", &b->price);
		sb_adds(sb, "}}\n");
	}
}

static void vault_rows(const struct sim *s, const struct vault *v, struct sb *sb)
{
	const struct round *r = cur_round(v);
	row_begin(sb, "VaultStates");
	j_hex(sb, "\"address\":", &v->hex);
	j_hex(sb, "},\"row\":{\"address\":", &v->hex);
	j_dec(sb, ",\"unlocked_balance\":", &v->unlocked);
	j_dec(sb, ",\"locked_balance\":", &v->locked);
	j_dec(sb, ",\"stashed_balance\":", &v->stashed);
	j_d64(sb, ",\"current_round\":", v->cur);
	j_hex(sb, ",\"current_round_address\":", &r->hex);
	j_d64(sb, ",\"latest_block\":", v->latest_block);
	j_hex(sb, ",\"fossil_client_address\":", &s->fossil);
	j_hex(sb, ",\"eth_address\":", &s->eth);
	j_hex(sb, ",\"option_round_class_hash\":", &s->orch_class);
	j_d64(sb, ",\"alpha\":", v->alpha);
	sb_adds(sb, ",\"strike_level\":\"");
	sb_add_i64(sb, v->strike_level);
	sb_addc(sb, '"');
	j_d64(sb, ",\"round_transition_period\":", v->transition);
	j_d64(sb, ",\"auction_duration\":", v->auction_dur);
	j_d64(sb, ",\"round_duration\":", v->round_dur);
	j_d64(sb, ",\"deployment_date\":", v->deployment_date);
	sb_adds(sb, "}}\n");

	for (unsigned i = 0; i < s->o.lps; i++) {
		const struct lp *l = &v->lps[i];
		if (!l->exists)
			continue;
		row_begin(sb, "Liquidity_Providers");
		j_hex(sb, "\"address\":", &s->lphex[i]);
		j_hex(sb, ",\"vault_address\":", &v->hex);
		j_hex(sb, "},\"row\":{\"address\":", &s->lphex[i]);
		j_hex(sb, ",\"vault_address\":", &v->hex);
		j_dec(sb, ",\"stashed_balance\":", &l->stashed);
		j_dec(sb, ",\"locked_balance\":", &l->locked);
		j_dec(sb, ",\"unlocked_balance\":", &l->unlocked);
		j_d64(sb, ",\"latest_block\":", l->latest_block);
		sb_adds(sb, "}}\n");
	}
	for (int k = 0; k < RING; k++)
		if (v->ring[k]->id)
			round_rows(s, v, v->ring[k], sb);
}

/* A round leaves the live window: keep its (now final) rows for --dump-state. */
static void retire(struct sim *s, struct vault *v, struct round *r)
{
	if (!s->o.dump_state)
		return;
	round_rows(s, v, r, &s->dump);
	set64(s, &s->dump_len, s->dump.len);
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* All rows, sorted by table then key (bytewise: the line prefix is the same). */
static void write_dump(struct sim *s, FILE *f)
{
	for (unsigned i = 0; i < s->nv; i++)
		if (s->v[i].deployed)
			vault_rows(s, &s->v[i], &s->dump);
	size_t n = 0, cap = 1024;
	char **lines = xmalloc(cap * sizeof *lines);
	for (char *p = s->dump.buf, *end = p + s->dump.len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		*nl = '\0';
		if (n == cap) {
			cap *= 2;
			lines = xrealloc(lines, cap * sizeof *lines);
		}
		lines[n++] = p;
		p = nl + 1;
	}
	qsort(lines, n, sizeof *lines, cmp_line);
	for (size_t i = 0; i < n; i++)
		if (fputs(lines[i], f) == EOF || putc('\n', f) == EOF)
			die_errno(EXIT_TEMPFAIL, "unable to write '%s'", s->o.dump_state);
	free(lines);
}

/* ---- frames, blocks and reorgs ---- */

static void flush_out(struct sim *s)
{
	io_out(s->out.buf, s->out.len);
	sb_reset(&s->out);
}

static void frame(struct sim *s, int revert, uint64_t number, const u4 *hash, uint64_t ts, const struct sb *body)
{
	uint64_t id = ++s->driver_id;
	sb_grow(&s->out, body->len + 512);
	char *p = s->out.buf + s->out.len;
	p = PUT_LIT(p, "{\"op\":\"begin\",\"driver_id\":");
	p = put_u64(p, id);
	p = PUT_LIT(p, ",\"seq\":");
	p = put_u64(p, id);
	p = revert ? PUT_LIT(p, ",\"type\":\"RevertBlock\"") : PUT_LIT(p, ",\"type\":\"StartBlock\"");
	p = PUT_LIT(p, ",\"block_number\":");
	p = put_u64(p, number);
	p = PUT_LIT(p, ",\"block_hash\":\"");
	p = put_hex(p, hash->w, 4);
	p = PUT_LIT(p, "\",\"timestamp\":");
	p = put_u64(p, ts);
	p = PUT_LIT(p, "}\n");
	p = put_mem(p, body->buf, body->len);
	p = PUT_LIT(p, "{\"op\":\"end\",\"driver_id\":");
	p = put_u64(p, id);
	p = PUT_LIT(p, "}\n");
	*p = '\0';
	s->out.len = (size_t)(p - s->out.buf);
	if (s->out.len >= FLUSH_AT)
		flush_out(s);
}

/* Take a ring slot for a new block, dropping the oldest block when full. */
static struct blk *blk_push(struct sim *s)
{
	unsigned idx;
	if (s->nret < s->depth) {
		idx = (s->first + s->nret) % s->depth;
		s->nret++;
	} else {
		idx = s->first;
		s->first = (s->first + 1) % s->depth;
	}
	struct blk *b = &s->ring[idx];
	b->nu = 0;
	sb_reset(&b->saved);
	sb_reset(&b->body);
	return b;
}

static void gen_block(struct sim *s)
{
	struct blk *b = NULL;
	if (s->undo_on) {
		b = blk_push(s);
		s->body = &b->body;
	} else {
		s->body = &s->body0;
		sb_reset(s->body);
	}
	s->cur = b;
	uint64_t number = s->have_head ? s->head + 1 : s->o.start_block;
	uint64_t ts = s->have_head ? s->head_ts + range(s, 2, 12) : s->o.start_time;
	set64(s, &s->have_head, 1);
	set64(s, &s->head, number);
	set64(s, &s->head_ts, ts);
	s->number = number;
	s->ts = ts;
	u4 hash;
	felt_rand(s, &hash);

	char *p = s->bpre;
	p = PUT_LIT(p, "{\"op\":\"event\",\"block_number\":");
	p = put_u64(p, number);
	p = PUT_LIT(p, ",\"block_hash\":\"");
	p = put_hex(p, hash.w, 4);
	p = PUT_LIT(p, "\",\"timestamp\":");
	p = put_u64(p, ts);
	p = PUT_LIT(p, ",\"tx\":\"");
	s->bprelen = (size_t)(p - s->bpre);

	uint64_t n = below(s, 2 * (uint64_t)s->o.events_per_block + 1);
	for (uint64_t j = 0; j < n; j++)
		s->v[below(s, s->nv)].cnt++;
	for (unsigned i = 0; i < s->nv; i++) {
		struct vault *v = &s->v[i];
		if (!v->deployed) {
			if (number >= v->deploy_at)
				act_deploy(s, v);
			v->cnt = 0;
			continue;
		}
		transitions(s, v);
		for (; v->cnt; v->cnt--)
			random_action(s, v);
	}
	if (b) {
		b->number = number;
		b->ts = ts;
		b->hash = hash;
	}
	frame(s, 0, number, &hash, ts, s->body);
	s->st.blocks++;
}

/* Revert the newest k retained blocks (RevertBlock frames, newest first). */
static void reorg(struct sim *s)
{
	unsigned k = 1 + (unsigned)below(s, s->depth);
	if (k > s->nret)
		k = s->nret;
	if (!k)
		return;
	uint64_t old_head = s->head;
	for (unsigned i = 0; i < k; i++) {
		struct blk *b = &s->ring[(s->first + s->nret - 1) % s->depth];
		frame(s, 1, b->number, &b->hash, b->ts, &b->body);
		blk_undo(b);
		s->nret--;
		s->dump.len = s->dump_len;
		if (s->dump.buf)
			s->dump.buf[s->dump.len] = '\0';
		s->st.reverted++;
	}
	/* the replacement chain must outgrow the old one before the next reorg */
	s->reorg_floor = old_head + 1;
	s->st.reorgs++;
}

static int finished(const struct sim *s)
{
	if (s->o.blocks && s->have_head && s->head - s->o.start_block + 1 >= s->o.blocks)
		return 1;
	return s->o.events && s->st.events >= s->o.events;
}

/* ---- set-up ---- */

static void setup(struct sim *s, const struct sim_opts *o)
{
	memset(s, 0, sizeof *s);
	s->o = *o;
	uint64_t x = o->seed;
	for (int i = 0; i < 4; i++)
		s->rs[i] = splitmix(&x);
	mpz_init(s->t1);
	mpz_init(s->t2);
	mpz_set_ui(s->t1, 1);
	mpz_mul_2exp(s->t1, s->t1, 251);
	mpz_set_ui(s->t2, 17);
	mpz_mul_2exp(s->t2, s->t2, 192);
	mpz_add(s->t1, s->t1, s->t2);
	mpz_add_ui(s->t1, s->t1, 1);
	zst(&s->felt_p, s->t1);

	for (int e = 0; e < E_COUNT; e++) {
		int n = snprintf(s->evpre[e].s, sizeof s->evpre[e].s, ",\"name\":\"%s\",\"keys\":[\"%s\",", ev_name[e], ev_sel[e]);
		if (n < 0 || (size_t)n >= sizeof s->evpre[e].s)
			die_code(EXIT_SOFTWARE, "internal error: event prefix too long");
		s->evpre[e].len = (uint32_t)n;
	}
	u4 f;
	felt_derive(&f, o->seed, TAG_MISC, 1, 0);
	hexs_set(&s->fossil, &f);
	felt_derive(&f, o->seed, TAG_MISC, 2, 0);
	hexs_set(&s->orch_class, &f);
	felt_derive(&f, o->seed, TAG_MISC, 3, 0);
	hexs_set(&s->vault_class, &f);
	felt_derive(&f, o->seed, TAG_MISC, 4, 0);
	hexs_set(&s->deployer, &f);
	s->eth.len = (uint32_t)strlen(eth_hex);
	memcpy(s->eth.s, eth_hex, s->eth.len + 1);

	s->lphex = xcalloc(o->lps, sizeof *s->lphex);
	for (unsigned i = 0; i < o->lps; i++) {
		felt_derive(&f, o->seed, TAG_LP, i, 0);
		hexs_set(&s->lphex[i], &f);
	}
	s->obhex = xcalloc(o->buyers, sizeof *s->obhex);
	for (unsigned i = 0; i < o->buyers; i++) {
		felt_derive(&f, o->seed, TAG_BUYER, i, 0);
		hexs_set(&s->obhex[i], &f);
	}

	s->bcap = 16 + 4 * o->buyers;
	if (s->bcap > 256)
		s->bcap = 256;
	s->ord = xcalloc(s->bcap, sizeof *s->ord);
	s->slot_size = sizeof(struct round) + s->bcap * sizeof(struct bid) + o->buyers * sizeof(struct ob) + o->lps * sizeof(struct lpr);

	static const int64_t levels[] = {-2500, 0, -2500, 0, 1000};
	static const uint64_t alphas[] = {5000, 2500, 10000};
	static const uint64_t caps[] = {1000, 1000, 2000, 500};
	s->nv = o->vaults;
	s->v = xcalloc(s->nv, sizeof *s->v);
	for (unsigned i = 0; i < s->nv; i++) {
		struct vault *v = &s->v[i];
		v->idx = i;
		v->kind = i < 3 ? i : below(s, 3);
		v->deploy_at = o->start_block + (i ? below(s, 2 * (uint64_t)i + 1) : 0);
		felt_derive(&v->addr, o->seed, TAG_VAULT, i, 0);
		felt_derive(&v->salt, o->seed, TAG_SALT, i, 0);
		hexs_set(&v->hex, &v->addr);
		v->alpha = alphas[below(s, 3)];
		v->strike_level = levels[below(s, 5)];
		v->min_cap = caps[below(s, 4)];
		if (v->kind == 0 && v->min_cap < 1000)
			v->min_cap = 1000; /* keeps strike * cap / BPS > 0 */
		v->transition = range(s, 60, 300) * o->time_scale;
		v->auction_dur = range(s, 120, 600) * o->time_scale;
		v->round_dur = range(s, 120, 900) * o->time_scale;
		v->lps = xcalloc(o->lps, sizeof *v->lps);
		for (int k = 0; k < RING; k++) {
			char *m = xcalloc(1, s->slot_size);
			struct round *r = (struct round *)m;
			m += sizeof *r;
			r->bids = (struct bid *)m;
			m += s->bcap * sizeof(struct bid);
			r->obs = (struct ob *)m;
			m += o->buyers * sizeof(struct ob);
			r->lprs = (struct lpr *)m;
			v->ring[k] = r;
		}
	}

	s->undo_on = o->reorg_rate > 0 && o->max_reorg_depth > 0;
	s->depth = o->max_reorg_depth;
	if (s->undo_on)
		s->ring = xcalloc(s->depth, sizeof *s->ring);
}

static int cmp_vault(const void *a, const void *b)
{
	return strcmp(((const struct vault *)a)->hex.s, ((const struct vault *)b)->hex.s);
}

static void teardown(struct sim *s)
{
	for (unsigned i = 0; i < s->nv; i++) {
		for (int k = 0; k < RING; k++)
			free(s->v[i].ring[k]);
		free(s->v[i].lps);
	}
	free(s->v);
	if (s->ring) {
		for (unsigned i = 0; i < s->depth; i++) {
			sb_free(&s->ring[i].body);
			sb_free(&s->ring[i].saved);
			free(s->ring[i].u);
		}
		free(s->ring);
	}
	free(s->lphex);
	free(s->obhex);
	free(s->ord);
	sb_free(&s->body0);
	sb_free(&s->out);
	sb_free(&s->dump);
	mpz_clear(s->t1);
	mpz_clear(s->t2);
}

void sim_opts_default(struct sim_opts *o)
{
	memset(o, 0, sizeof *o);
	o->seed = 1;
	o->vaults = 3;
	o->lps = 5;
	o->buyers = 4;
	o->events_per_block = 6;
	o->time_scale = 1;
	o->reorg_rate = 20;
	o->max_reorg_depth = 3;
	o->start_block = 1000;
	o->start_time = 1735711223;
}

void sim_run(const struct sim_opts *o, struct sim_stats *st)
{
	struct sim *s = xmalloc(sizeof *s);
	FILE *dump = NULL;
	if (o->dump_state && !(dump = fopen(o->dump_state, "w")))
		die_errno(EXIT_CONFIG, "unable to open '%s'", o->dump_state);
	setup(s, o);
	/* the vaults' order within a block is the DB's: by address text */
	qsort(s->v, s->nv, sizeof *s->v, cmp_vault);

	for (;;) {
		gen_block(s);
		if (finished(s))
			break;
		if (s->undo_on && s->head >= s->reorg_floor && chance(s, s->o.reorg_rate))
			reorg(s);
	}
	flush_out(s);
	if (dump) {
		write_dump(s, dump);
		if (fclose(dump))
			die_errno(EXIT_TEMPFAIL, "unable to write '%s'", o->dump_state);
	}
	if (st)
		*st = s->st;
	teardown(s);
	free(s);
}
