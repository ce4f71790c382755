/*
 * sim_emit.c -- every byte chain-sim writes: event lines (Layout A,
 * pitchlake-spec §5.2), event frames (design §3.2) and the --dump-state
 * snapshot rows (docs/formats.md).
 *
 * Event lines and frames are formatted by hand into a buffer grown once per
 * line (sb_grow, then plain pointer writes) rather than printf'd: formatting
 * is most of chain-sim's time, and fixed code keeps the bytes stable --
 * felts in canonical hex without leading zeros, amounts exactly the model's.
 * A block's event lines go into its body, which the reorg ring keeps to
 * repeat in the RevertBlock frame; frames collect in one output buffer that
 * is written out in FLUSH_AT chunks.  The snapshot rows are written once, at
 * the end or when a round retires, so they use the ordinary sb helpers.
 */
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "dom/pitchlake/sim_int.h"

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

static const char *const round_state[] = {"Open", "Auctioning", "Running", "Settled"};

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

void sim_hexs_set(struct hexs *h, const u4 *f)
{
	h->len = (uint32_t)(put_hex(h->s, f->w, 4) - h->s);
	h->s[h->len] = '\0';
}

/* Quoted felt list items, each followed by a comma (closed by sim_ev_data/sim_ev_end). */
char *sim_q_hex(char *p, const mp_limb_t *w, int n)
{
	*p++ = '"';
	p = put_hex(p, w, n);
	*p++ = '"';
	*p++ = ',';
	return p;
}

char *sim_q_felt(char *p, const u4 *f)
{
	return sim_q_hex(p, f->w, 4);
}

/* A u256 as two felts [low128, high128]. */
char *sim_q_u256(char *p, const u4 *a)
{
	p = sim_q_hex(p, a->w, 2);
	return sim_q_hex(p, a->w + 2, 2);
}

char *sim_q_u64(char *p, uint64_t v)
{
	mp_limb_t w = v;
	return sim_q_hex(p, &w, 1);
}

char *sim_q_str(char *p, const struct hexs *h)
{
	*p++ = '"';
	p = put_mem(p, h->s, h->len);
	*p++ = '"';
	*p++ = ',';
	return p;
}

/* ---- event lines ---- */

void sim_ev_init(struct sim *s)
{
	for (int e = 0; e < E_COUNT; e++) {
		int n = snprintf(s->evpre[e].s, sizeof s->evpre[e].s, ",\"name\":\"%s\",\"keys\":[\"%s\",", ev_name[e], ev_sel[e]);
		if (n < 0 || (size_t)n >= sizeof s->evpre[e].s)
			die_code(EXIT_SOFTWARE, "internal error: event prefix too long");
		s->evpre[e].len = (uint32_t)n;
	}
}

void sim_block_prefix(struct sim *s, uint64_t number, const u4 *hash, uint64_t ts)
{
	char *p = s->bpre;
	p = PUT_LIT(p, "{\"op\":\"event\",\"block_number\":");
	p = put_u64(p, number);
	p = PUT_LIT(p, ",\"block_hash\":\"");
	p = put_hex(p, hash->w, 4);
	p = PUT_LIT(p, "\",\"timestamp\":");
	p = put_u64(p, ts);
	p = PUT_LIT(p, ",\"tx\":\"");
	s->bprelen = (size_t)(p - s->bpre);
}

/* Start an event line of vault v up to and including the selector key. */
char *sim_ev_begin(struct sim *s, struct vault *v, enum ev e)
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
char *sim_ev_data(char *p)
{
	p[-1] = ']';
	return PUT_LIT(p, ",\"data\":[");
}

void sim_ev_end(struct sim *s, char *p)
{
	p[-1] = ']';
	*p++ = '}';
	*p++ = '\n';
	*p = '\0';
	s->body->len = (size_t)(p - s->body->buf);
	s->st.events++;
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
	sim_hexs_set(&h, f);
	j_hex(sb, name, &h);
}

static void j_dec(struct sb *sb, const char *name, const u4 *a)
{
	char buf[96];
	sim_u_dec(buf, a);
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

void sim_round_rows(const struct sim *s, const struct vault *v, const struct round *r, struct sb *sb)
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
		sim_bid_id(s, v, r, b, &id);
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
	const struct round *r = sim_cur_round(v);
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
			sim_round_rows(s, v, v->ring[k], sb);
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* All rows, sorted by table then key (bytewise: the line prefix is the same). */
void sim_dump_write(struct sim *s, FILE *f)
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

/* ---- frames ---- */

void sim_flush(struct sim *s)
{
	io_out(s->out.buf, s->out.len);
	sb_reset(&s->out);
}

void sim_frame(struct sim *s, int revert, uint64_t number, const u4 *hash, uint64_t ts, const struct sb *body)
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
		sim_flush(s);
}
