/*
 * sim.c -- ix-sim's generator and model.  The generator plays the
 * MultiVault contract (atoms, triples, per-curve bonding vaults with a
 * share price, accounts depositing and redeeming) and writes what rindexer
 * writes into Redis for it: one message per event type and block range,
 * event_data chunked, log indexes as hex strings, uint256 as decimal
 * strings.  The model is the contract's own state at the end (GMP
 * integers), written as the rows the tables must hold: it never looks at
 * the messages and shares no code with ix-apply (docs/intuition.md).
 */
#include <gmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "dom/intuition/keccak.h"
#include "dom/intuition/sim.h"

static uint64_t rng_s;
static uint64_t rnd(void)
{
	uint64_t x = rng_s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_s = x;
}
static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

typedef struct {
	unsigned char b[32];
} h32;

static h32 rand_h32(void)
{
	h32 h;
	for (int i = 0; i < 32; i += 8) {
		uint64_t v = rnd();
		memcpy(h.b + i, &v, 8);
	}
	return h;
}

static void hex_of(const unsigned char *b, int n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	out[0] = '0';
	out[1] = 'x';
	for (int i = 0; i < n; i++) {
		out[2 + 2 * i] = hx[b[i] >> 4];
		out[3 + 2 * i] = hx[b[i] & 15];
	}
	out[2 + 2 * n] = 0;
}

/* ---------------------------------------------------------------- the contract */

enum { KIND_ATOM,
	KIND_TRIPLE,
	KIND_COUNTER };
#define NCURVES 2

struct vlt {
	int exists;
	mpz_t shares, assets, price; /* vault totals; price in 1e18 units */
	uint64_t last_b, last_l;
};
struct trm {
	h32 id;
	int kind;
	int triple; /* triples: own index; counters: the triple's index; atoms: -1 */
	struct vlt v[NCURVES + 1];
};
struct trp {
	int term, counter, s, p, o;
};
struct pos {
	int acct, term, curve;
	mpz_t shares, dep, red;
	struct pos *next;
};

static struct trm *terms;
static size_t nterms, capterms;
static struct trp *triples;
static size_t ntriples, captriples;
static struct pos *positions;
static h32 *accounts;

static int add_term(h32 id, int kind, int triple)
{
	if (nterms == capterms) {
		capterms = capterms ? 2 * capterms : 64;
		terms = realloc(terms, capterms * sizeof *terms);
		if (!terms)
			die_code(70, "out of memory");
	}
	struct trm *t = &terms[nterms];
	memset(t, 0, sizeof *t);
	t->id = id;
	t->kind = kind;
	t->triple = triple;
	for (int c = 0; c <= NCURVES; c++) {
		mpz_init(t->v[c].shares);
		mpz_init(t->v[c].assets);
		mpz_init_set_str(t->v[c].price, "1000000000000000000", 10);
	}
	return (int)nterms++;
}

static struct pos *pos_get(int acct, int term, int curve)
{
	for (struct pos *p = positions; p; p = p->next)
		if (p->acct == acct && p->term == term && p->curve == curve)
			return p;
	struct pos *p = xcalloc(1, sizeof *p);
	p->acct = acct;
	p->term = term;
	p->curve = curve;
	mpz_init(p->shares);
	mpz_init(p->dep);
	mpz_init(p->red);
	p->next = positions;
	positions = p;
	return p;
}

/* ---------------------------------------------------------------- messages */

struct ev {
	int type; /* 0 AtomCreated 1 TripleCreated 2 Deposited 3 Redeemed 4 SharePriceChanged 5 generic */
	uint64_t block, log;
	char *args; /* the ABI-named arguments, JSON members */
	h32 tx;
};
static const char *const ev_names[6] = {"AtomCreated", "TripleCreated", "Deposited", "Redeemed", "SharePriceChanged",
	"AtomWalletDeployed"};

static struct ev *evs;
static size_t nevs, capevs;

static void emit(int type, uint64_t block, uint64_t log, h32 tx, char *args)
{
	if (nevs == capevs) {
		capevs = capevs ? 2 * capevs : 256;
		evs = realloc(evs, capevs * sizeof *evs);
		if (!evs)
			die_code(70, "out of memory");
	}
	evs[nevs++] = (struct ev){type, block, log, args, tx};
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	char *s = xmalloc((size_t)n + 1);
	va_start(ap, f);
	vsnprintf(s, (size_t)n + 1, f, ap);
	va_end(ap);
	return s;
}

static void block_hash(uint64_t block, uint64_t fork, char *out)
{
	unsigned char in[16], h[32];
	memcpy(in, &block, 8);
	memcpy(in + 8, &fork, 8);
	ix_keccak256(in, 16, h);
	hex_of(h, 32, out);
}

static uint64_t msg_count;

static void put_message(const struct ix_sim_opts *o, FILE *out, const char *payload)
{
	msg_count++;
	if (o->resp) {
		fprintf(out, "*5\r\n$4\r\nXADD\r\n$%zu\r\n%s\r\n$1\r\n*\r\n$7\r\npayload\r\n$%zu\r\n%s\r\n", strlen(o->stream),
			o->stream, strlen(payload), payload);
	} else {
		fprintf(out, "{\"stream\":\"%s\",\"id\":\"%llu-0\",\"payload\":%s}\n", o->stream,
			(unsigned long long)(o->first_ms + msg_count), payload);
	}
}

/* One rindexer message per event type over the range [lo, hi], chunked. */
static void flush_range(const struct ix_sim_opts *o, FILE *out, uint64_t lo, uint64_t hi, uint64_t fork)
{
	for (int type = 0; type < 6; type++) {
		size_t n = 0, chunk = 0;
		struct sb buf = SB_INIT;
		for (size_t i = 0; i <= nevs; i++) {
			int take = i < nevs && evs[i].type == type;
			if (take) {
				char bh[67], tx[67];
				block_hash(evs[i].block, fork, bh);
				hex_of(evs[i].tx.b, 32, tx);
				sb_adds(&buf, n ? "," : "");
				sb_addf(&buf,
					"{%s,\"transaction_information\":{\"chain_id\":84532,\"network\":\"base_sepolia\","
					"\"address\":\"0x2ece8d4dedcb9918a398528f3fa4688b1d2cab91\",\"block_hash\":\"%s\","
					"\"block_number\":%llu,\"block_timestamp\":\"0x%llx\",\"transaction_hash\":\"%s\","
					"\"log_index\":\"0x%llx\",\"transaction_index\":%llu}}",
					evs[i].args, bh, (unsigned long long)evs[i].block,
					(unsigned long long)(1700000000 + 2 * evs[i].block), tx, (unsigned long long)evs[i].log,
					(unsigned long long)(evs[i].log / 3));
				n++;
			}
			if (n && (n == o->chunk || i == nevs)) {
				char *p = fmt("{\"event_name\":\"%s\",\"event_signature_hash\":\"0x%02x\",\"event_data\":[%s],"
					      "\"network\":\"base_sepolia\",\"message_id\":\"rindexer_stream__intuition-multivault-%s-"
					      "base_sepolia-%llu-%llu-chunk-%zu\",\"block_number\":%llu}",
					ev_names[type], type, buf.buf, ev_names[type], (unsigned long long)lo,
					(unsigned long long)hi, chunk++, (unsigned long long)hi);
				put_message(o, out, p);
				free(p);
				sb_reset(&buf);
				n = 0;
			}
		}
		sb_free(&buf);
	}
	for (size_t i = 0; i < nevs; i++)
		free(evs[i].args);
	nevs = 0;
}

/* ---------------------------------------------------------------- one block */

static const char *vt_num(int kind)
{
	return kind == KIND_ATOM ? "0" : kind == KIND_TRIPLE ? "1"
							     : "2";
}

static void price_changed(struct trm *t, int c, uint64_t block, uint64_t *log, h32 tx)
{
	char id[67], *sp = mpz_get_str(NULL, 10, t->v[c].price), *ta = mpz_get_str(NULL, 10, t->v[c].assets),
		     *ts = mpz_get_str(NULL, 10, t->v[c].shares);
	hex_of(t->id.b, 32, id);
	emit(4, block, (*log)++, tx,
		fmt("\"termId\":\"%s\",\"curveId\":\"%d\",\"sharePrice\":\"%s\",\"totalAssets\":\"%s\",\"totalShares\":\"%s\","
		    "\"vaultType\":%s",
			id, c, sp, ta, ts, vt_num(t->kind)));
	t->v[c].exists = 1;
	free(sp);
	free(ta);
	free(ts);
}

static void sim_block(const struct ix_sim_opts *o, uint64_t block)
{
	uint64_t log = 0;
	int nev = 1 + (int)below(6);
	for (int k = 0; k < nev; k++) {
		h32 tx = rand_h32();
		uint64_t r = below(100);
		char id[67], who[43], a2[43];
		hex_of(accounts[below(o->accounts)].b + 12, 20, who);
		if (nterms < 3 || r < 15) {
			h32 t = rand_h32();
			int i = add_term(t, KIND_ATOM, -1);
			hex_of(terms[i].id.b, 32, id);
			hex_of(rand_h32().b + 12, 20, a2);
			char data[64];
			int n = snprintf(data, sizeof data, "atom %llu", (unsigned long long)rnd() % 100000);
			struct sb hx = SB_INIT;
			for (int j = 0; j < n; j++)
				sb_addf(&hx, "%02x", (unsigned char)data[j]);
			if (below(10) == 0)
				sb_adds(&hx, "ff"); /* not UTF-8: atom_data null */
			emit(0, block, log++, tx,
				fmt("\"creator\":\"%s\",\"termId\":\"%s\",\"atomData\":\"%s\",\"atomWallet\":\"%s\"", who, id,
					hx.buf, a2));
			sb_free(&hx);
		} else if (r < 25) {
			int s = (int)below(nterms), p = (int)below(nterms), ob = (int)below(nterms);
			h32 t = rand_h32();
			u256 tu, cu;
			ix_be_u256(t.b, &tu);
			ix_counter_id(&tu, &cu);
			h32 c;
			ix_u256_be(&cu, c.b);
			if (ntriples == captriples) {
				captriples = captriples ? 2 * captriples : 64;
				triples = realloc(triples, captriples * sizeof *triples);
				if (!triples)
					die_code(70, "out of memory");
			}
			int ti = add_term(t, KIND_TRIPLE, (int)ntriples);
			int ci = add_term(c, KIND_COUNTER, (int)ntriples);
			triples[ntriples++] = (struct trp){ti, ci, s, p, ob};
			char si[67], pi[67], oi[67];
			hex_of(terms[ti].id.b, 32, id);
			hex_of(terms[s].id.b, 32, si);
			hex_of(terms[p].id.b, 32, pi);
			hex_of(terms[ob].id.b, 32, oi);
			emit(1, block, log++, tx,
				fmt("\"creator\":\"%s\",\"termId\":\"%s\",\"subjectId\":\"%s\",\"predicateId\":\"%s\",\"objectId\":\"%s\"",
					who, id, si, pi, oi));
		} else if (r < 33) {
			/* something rindexer indexes that has no table of its own */
			hex_of(terms[below(nterms)].id.b, 32, id);
			emit(5, block, log++, tx, fmt("\"termId\":\"%s\",\"atomWallet\":\"%s\"", id, who));
		} else {
			int ti = (int)below(nterms), c = 1 + (int)below(NCURVES);
			int acct = (int)below(o->accounts);
			hex_of(accounts[acct].b + 12, 20, who);
			struct trm *t = &terms[ti];
			struct pos *p = pos_get(acct, ti, c);
			hex_of(t->id.b, 32, id);
			mpz_t assets, fee, net, sh, q;
			mpz_inits(assets, fee, net, sh, q, NULL);
			if (r < 75 || mpz_sgn(p->shares) == 0) {
				mpz_set_ui(assets, 1 + below(1000000));
				mpz_mul_ui(assets, assets, 1000000000000ULL); /* up to 1e18 wei */
				mpz_tdiv_q_ui(fee, assets, 100);
				mpz_sub(net, assets, fee);
				mpz_mul_ui(sh, net, 1000000000ULL);
				mpz_mul_ui(sh, sh, 1000000000ULL);
				mpz_tdiv_q(sh, sh, t->v[c].price);
				if (mpz_sgn(sh) == 0)
					mpz_set_ui(sh, 1);
				mpz_add(p->shares, p->shares, sh);
				mpz_add(p->dep, p->dep, net);
				mpz_add(t->v[c].shares, t->v[c].shares, sh);
				mpz_add(t->v[c].assets, t->v[c].assets, net);
				char *as = mpz_get_str(NULL, 10, assets), *ns = mpz_get_str(NULL, 10, net),
				     *ss = mpz_get_str(NULL, 10, sh), *ts = mpz_get_str(NULL, 10, p->shares);
				emit(2, block, log++, tx,
					fmt("\"sender\":\"%s\",\"receiver\":\"%s\",\"termId\":\"%s\",\"curveId\":\"%d\",\"assets\":\"%s\","
					    "\"assetsAfterFees\":\"%s\",\"shares\":\"%s\",\"totalShares\":\"%s\",\"vaultType\":%s",
						who, who, id, c, as, ns, ss, ts, vt_num(t->kind)));
				free(as), free(ns), free(ss), free(ts);
			} else {
				/* redeem a part (sometimes all) of the position */
				if (below(4) == 0)
					mpz_set(sh, p->shares);
				else {
					mpz_tdiv_q_ui(sh, p->shares, 1 + below(5));
					if (mpz_sgn(sh) == 0)
						mpz_set(sh, p->shares);
				}
				/* assets = shares * assets / total shares (floor), fee 1% of it */
				mpz_mul(assets, sh, t->v[c].assets);
				mpz_tdiv_q(assets, assets, t->v[c].shares);
				mpz_tdiv_q_ui(fee, assets, 100);
				mpz_sub(net, assets, fee);
				mpz_sub(p->shares, p->shares, sh);
				mpz_add(p->red, p->red, net);
				mpz_sub(t->v[c].shares, t->v[c].shares, sh);
				mpz_sub(t->v[c].assets, t->v[c].assets, assets);
				char *as = mpz_get_str(NULL, 10, net), *fs = mpz_get_str(NULL, 10, fee),
				     *ss = mpz_get_str(NULL, 10, sh), *ts = mpz_get_str(NULL, 10, p->shares);
				emit(3, block, log++, tx,
					fmt("\"sender\":\"%s\",\"receiver\":\"%s\",\"termId\":\"%s\",\"curveId\":\"%d\",\"shares\":\"%s\","
					    "\"totalShares\":\"%s\",\"assets\":\"%s\",\"fees\":\"%s\",\"vaultType\":%s",
						who, who, id, c, ss, ts, as, fs, vt_num(t->kind)));
				free(as), free(fs), free(ss), free(ts);
			}
			/* the new price: assets per share, moved a little */
			if (mpz_sgn(t->v[c].shares) > 0) {
				mpz_mul_ui(q, t->v[c].assets, 1000000000ULL);
				mpz_mul_ui(q, q, 1000000000ULL);
				mpz_tdiv_q(q, q, t->v[c].shares);
				mpz_mul_ui(q, q, 100 + below(20));
				mpz_tdiv_q_ui(q, q, 100);
				if (mpz_sgn(q) > 0)
					mpz_set(t->v[c].price, q);
			}
			price_changed(t, c, block, &log, tx);
			mpz_clears(assets, fee, net, sh, q, NULL);
		}
	}
}

/* ---------------------------------------------------------------- the model */

static void put_row(FILE *m, const char *table, const char *key, const char *row)
{
	fprintf(m, "{\"op\":\"put\",\"table\":\"%s\",\"key\":{%s},\"row\":{%s}}\n", table, key, row);
}

static void model_dump(FILE *m)
{
	mpz_t mc, wad, sum_a, sum_m;
	mpz_inits(mc, sum_a, sum_m, NULL);
	mpz_init_set_str(wad, "1000000000000000000", 10);
	char id[67], k[400];
	for (size_t i = 0; i < nterms; i++) {
		struct trm *t = &terms[i];
		hex_of(t->id.b, 32, id);
		mpz_set_ui(sum_a, 0);
		mpz_set_ui(sum_m, 0);
		for (int c = 1; c <= NCURVES; c++) {
			struct vlt *v = &t->v[c];
			if (!v->exists)
				continue;
			uint64_t count = 0;
			for (struct pos *p = positions; p; p = p->next)
				count += p->term == (int)i && p->curve == c && mpz_sgn(p->shares) > 0;
			mpz_mul(mc, v->shares, v->price);
			mpz_tdiv_q(mc, mc, wad);
			mpz_add(sum_a, sum_a, v->assets);
			mpz_add(sum_m, sum_m, mc);
			gmp_snprintf(k, sizeof k, "\"term_id\":\"%s\",\"curve_id\":\"%d\"", id, c);
			char *row = NULL;
			gmp_asprintf(&row, "%s,\"total_shares\":\"%Zd\",\"current_share_price\":\"%Zd\",\"total_assets\":\"%Zd\","
					   "\"market_cap\":\"%Zd\",\"position_count\":\"%llu\",\"vault_type\":\"%s\"",
				k, v->shares, v->price, v->assets, mc, (unsigned long long)count,
				t->kind == KIND_ATOM ? "Atom" : t->kind == KIND_TRIPLE ? "Triple"
										       : "CounterTriple");
			put_row(m, "vault", k, row);
			free(row);
		}
		char *row = NULL, tid[67];
		const char *ty = t->kind == KIND_ATOM ? "Atom" : t->kind == KIND_TRIPLE ? "Triple"
											: "CounterTriple";
		if (t->kind == KIND_ATOM)
			gmp_asprintf(&row, "\"id\":\"%s\",\"type\":\"%s\",\"atom_id\":\"%s\",\"triple_id\":null,\"total_assets\":\"%Zd\",\"total_market_cap\":\"%Zd\"",
				id, ty, id, sum_a, sum_m);
		else {
			hex_of(terms[triples[t->triple].term].id.b, 32, tid);
			gmp_asprintf(&row, "\"id\":\"%s\",\"type\":\"%s\",\"atom_id\":null,\"triple_id\":\"%s\",\"total_assets\":\"%Zd\",\"total_market_cap\":\"%Zd\"",
				id, ty, tid, sum_a, sum_m);
		}
		snprintf(k, sizeof k, "\"id\":\"%s\"", id);
		put_row(m, "term", k, row);
		free(row);
	}
	for (struct pos *p = positions; p; p = p->next) {
		if (!terms[p->term].v[p->curve].exists)
			continue; /* never happens: every deposit moves the price */
		char acct[43];
		hex_of(accounts[p->acct].b + 12, 20, acct);
		hex_of(terms[p->term].id.b, 32, id);
		snprintf(k, sizeof k, "\"account_id\":\"%s\",\"term_id\":\"%s\",\"curve_id\":\"%d\"", acct, id, p->curve);
		char *row = NULL;
		gmp_asprintf(&row, "%s,\"shares\":\"%Zd\",\"total_deposit_assets_after_total_fees\":\"%Zd\",\"total_redeem_assets_for_receiver\":\"%Zd\"",
			k, p->shares, p->dep, p->red);
		put_row(m, "position", k, row);
		free(row);
	}
	/* triple_vault, triple_term, predicate_object, subject_predicate: sums over the vaults */
	struct agg {
		char key[200];
		uint64_t triples, count;
		mpz_t mcap;
	};
	size_t npo = 0, nsp = 0;
	struct agg *po = xcalloc(ntriples + 1, sizeof *po), *sp = xcalloc(ntriples + 1, sizeof *sp);
	for (size_t i = 0; i < ntriples; i++) {
		struct trp *tr = &triples[i];
		char ti[67], ci[67], s[67], pr[67], ob[67];
		hex_of(terms[tr->term].id.b, 32, ti);
		hex_of(terms[tr->counter].id.b, 32, ci);
		hex_of(terms[tr->s].id.b, 32, s);
		hex_of(terms[tr->p].id.b, 32, pr);
		hex_of(terms[tr->o].id.b, 32, ob);
		mpz_t ta, tm;
		mpz_inits(ta, tm, NULL);
		uint64_t tcount = 0;
		for (int c = 1; c <= NCURVES; c++) {
			int any = terms[tr->term].v[c].exists || terms[tr->counter].v[c].exists;
			if (!any)
				continue;
			mpz_t sh, as, mcap;
			mpz_inits(sh, as, mcap, NULL);
			uint64_t cnt = 0;
			int side[2] = {tr->term, tr->counter};
			for (int j = 0; j < 2; j++) {
				struct vlt *v = &terms[side[j]].v[c];
				if (!v->exists)
					continue;
				mpz_add(sh, sh, v->shares);
				mpz_add(as, as, v->assets);
				mpz_mul(mc, v->shares, v->price);
				mpz_tdiv_q(mc, mc, wad);
				mpz_add(mcap, mcap, mc);
				for (struct pos *p = positions; p; p = p->next)
					cnt += p->term == side[j] && p->curve == c && mpz_sgn(p->shares) > 0;
			}
			snprintf(k, sizeof k, "\"term_id\":\"%s\",\"counter_term_id\":\"%s\",\"curve_id\":\"%d\"", ti, ci, c);
			char *row = NULL;
			gmp_asprintf(&row, "%s,\"total_shares\":\"%Zd\",\"total_assets\":\"%Zd\",\"position_count\":\"%llu\",\"market_cap\":\"%Zd\"",
				k, sh, as, (unsigned long long)cnt, mcap);
			put_row(m, "triple_vault", k, row);
			free(row);
			mpz_add(ta, ta, as);
			mpz_add(tm, tm, mcap);
			tcount += cnt;
			mpz_clears(sh, as, mcap, NULL);
		}
		snprintf(k, sizeof k, "\"term_id\":\"%s\",\"counter_term_id\":\"%s\"", ti, ci);
		char *row = NULL;
		gmp_asprintf(&row, "%s,\"total_assets\":\"%Zd\",\"total_market_cap\":\"%Zd\",\"total_position_count\":\"%llu\"", k,
			ta, tm, (unsigned long long)tcount);
		put_row(m, "triple_term", k, row);
		free(row);
		char pk[200], sk[200];
		snprintf(pk, sizeof pk, "\"predicate_id\":\"%s\",\"object_id\":\"%s\"", pr, ob);
		snprintf(sk, sizeof sk, "\"subject_id\":\"%s\",\"predicate_id\":\"%s\"", s, pr);
		struct agg *a[2] = {NULL, NULL};
		for (size_t j = 0; j < npo && !a[0]; j++)
			if (!strcmp(po[j].key, pk))
				a[0] = &po[j];
		for (size_t j = 0; j < nsp && !a[1]; j++)
			if (!strcmp(sp[j].key, sk))
				a[1] = &sp[j];
		if (!a[0]) {
			a[0] = &po[npo++];
			strcpy(a[0]->key, pk);
			mpz_init(a[0]->mcap);
		}
		if (!a[1]) {
			a[1] = &sp[nsp++];
			strcpy(a[1]->key, sk);
			mpz_init(a[1]->mcap);
		}
		for (int j = 0; j < 2; j++) {
			a[j]->triples++;
			a[j]->count += tcount;
			mpz_add(a[j]->mcap, a[j]->mcap, tm);
		}
		mpz_clears(ta, tm, NULL);
	}
	for (int w = 0; w < 2; w++) {
		struct agg *v = w ? sp : po;
		size_t n = w ? nsp : npo;
		for (size_t j = 0; j < n; j++) {
			char *row = NULL;
			gmp_asprintf(&row, "%s,\"triple_count\":\"%llu\",\"total_position_count\":\"%llu\",\"total_market_cap\":\"%Zd\"",
				v[j].key, (unsigned long long)v[j].triples, (unsigned long long)v[j].count, v[j].mcap);
			put_row(m, w ? "subject_predicate" : "predicate_object", v[j].key, row);
			free(row);
			mpz_clear(v[j].mcap);
		}
	}
	free(po);
	free(sp);
	mpz_clears(mc, wad, sum_a, sum_m, NULL);
}

/*
 * Blocks F+1..F+d of a fork that rindexer saw and then reorged away: valid
 * events against the state at F (new atoms, deposits into existing vaults,
 * prices) that change nothing of the contract's own state, then the
 * __rindexer_reorg message.  The canonical blocks F+1.. follow.
 */
static void orphan_blocks(const struct ix_sim_opts *o, FILE *out, uint64_t f, uint64_t d, uint64_t forkno)
{
	for (uint64_t b = f + 1; b <= f + d; b++) {
		uint64_t log = 0;
		for (int k = 0; k < 3; k++) {
			h32 tx = rand_h32();
			char id[67], who[43], a2[43];
			hex_of(accounts[below(o->accounts)].b + 12, 20, who);
			if (k == 0) {
				h32 t = rand_h32();
				hex_of(t.b, 32, id);
				hex_of(rand_h32().b + 12, 20, a2);
				emit(0, b, log++, tx,
					fmt("\"creator\":\"%s\",\"termId\":\"%s\",\"atomData\":\"6f727068616e\",\"atomWallet\":\"%s\"",
						who, id, a2));
				continue;
			}
			struct trm *t = &terms[below(nterms)];
			int c = 1 + (int)below(NCURVES);
			hex_of(t->id.b, 32, id);
			emit(2, b, log++, tx,
				fmt("\"sender\":\"%s\",\"receiver\":\"%s\",\"termId\":\"%s\",\"curveId\":\"%d\",\"assets\":\"777\","
				    "\"assetsAfterFees\":\"770\",\"shares\":\"770\",\"totalShares\":\"99999\",\"vaultType\":%s",
					who, who, id, c, vt_num(t->kind)));
			emit(4, b, log++, tx,
				fmt("\"termId\":\"%s\",\"curveId\":\"%d\",\"sharePrice\":\"3000000000000000000\",\"totalAssets\":\"123456\","
				    "\"totalShares\":\"99999\",\"vaultType\":%s",
					id, c, vt_num(t->kind)));
		}
	}
	flush_range(o, out, f + 1, f + d, forkno);
	char *p = fmt("{\"event_name\":\"__rindexer_reorg\",\"event_signature_hash\":\"0x0\",\"event_data\":[{\"type\":\"reorg\","
		      "\"network\":\"base_sepolia\",\"fork_block\":%llu,\"depth\":%llu,\"events_deleted\":0,"
		      "\"affected_tx_hashes\":[],\"affected_events\":[]}],\"network\":\"base_sepolia\","
		      "\"message_id\":\"rindexer_stream__reorg-%llu\"}",
		(unsigned long long)f, (unsigned long long)d, (unsigned long long)forkno);
	put_message(o, out, p);
	free(p);
}

int ix_sim_run(const struct ix_sim_opts *o, FILE *out)
{
	rng_s = o->seed * 0x9e3779b97f4a7c15ULL + 0x1234567ULL;
	for (int i = 0; i < 10; i++)
		rnd();
	accounts = xcalloc(o->accounts, sizeof *accounts);
	for (uint64_t i = 0; i < o->accounts; i++)
		accounts[i] = rand_h32();
	uint64_t b = 1, forks = 0;
	while (b <= o->blocks) {
		uint64_t hi = b + below(3);
		if (hi > o->blocks)
			hi = o->blocks;
		for (uint64_t x = b; x <= hi; x++)
			sim_block(o, x);
		flush_range(o, out, b, hi, 0);
		b = hi + 1;
		if (o->reorgs && b <= o->blocks && nterms > 3 && below(o->blocks) < 2 * o->reorgs)
			orphan_blocks(o, out, hi, 1 + below(4), ++forks);
	}
	if (o->model)
		model_dump(o->model);
	/* everything back (the model is written) */
	for (size_t i = 0; i < nterms; i++)
		for (int c = 0; c <= NCURVES; c++)
			mpz_clears(terms[i].v[c].shares, terms[i].v[c].assets, terms[i].v[c].price, NULL);
	while (positions) {
		struct pos *n = positions->next;
		mpz_clears(positions->shares, positions->dep, positions->red, NULL);
		free(positions);
		positions = n;
	}
	free(terms);
	free(triples);
	free(evs);
	free(accounts);
	terms = NULL, triples = NULL, evs = NULL, accounts = NULL;
	nterms = capterms = ntriples = captriples = nevs = capevs = 0;
	return 0;
}
