/*
 * events.c -- the Intuition event handlers.  An event line (redis-read's
 * framing of one element of a rindexer message's event_data array):
 *
 *   {"op":"event","block_number":7,"block_hash":"0x…","event_name":"Deposited","data":{…}}
 *
 * data is the element as rindexer wrote it: the ABI-named arguments
 * (uint256 as decimal strings, uint8 as numbers, address/bytes32 as "0x…",
 * bytes as hex without 0x) and transaction_information (log_index a hex
 * string).  Every event inserts its event-table row and, in the same frame,
 * changes the base tables and every aggregate above them by the difference
 * it makes -- never a recount (docs/intuition.md has the rules).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "dom/intuition/intuition.h"
#include "dom/intuition/ix_int.h"
#include "dom/intuition/keccak.h"
#include "frame/frame.h"

struct ix {
	uint64_t atoms, triples, deposits, redeems, prices, generic, duplicates;
};

static const u256 WAD = {{1000000000000000000ULL, 0, 0, 0}};

/* ---------------------------------------------------------------- fields */

static int syntax(struct dl *dl)
{
	dl_set_error_kind(dl, FR_REJ_SYNTAX);
	return -1;
}

static int member(struct dl *dl, int obj, const char *name)
{
	int t = js_get(dl_js(dl), obj, name);
	if (t < 0) {
		error("missing field '%s'", name);
		return syntax(dl);
	}
	return t;
}

/* "0x…" hex of at most bits bits (bytes32: 256, address: 160). */
static int f_hex(struct dl *dl, int obj, const char *name, unsigned bits, u256 *v)
{
	const char *s;
	size_t n;
	int t = member(dl, obj, name);
	if (t < 0)
		return -1;
	if (js_str(dl_js(dl), t, dl_scratch(dl), &s, &n) < 0) {
		error("field '%s' is not a string", name);
		return syntax(dl);
	}
	if (u256_parse_hex(v, s, n) < 0 || n > 2 + bits / 4) {
		error("field '%s' is not a %u-bit 0x-hex value", name, bits);
		return syntax(dl);
	}
	return 0;
}

/* A decimal big integer: a string of digits (rindexer's uint256), or a JSON number. */
static int f_dec(struct dl *dl, int obj, const char *name, u256 *v)
{
	struct js *js = dl_js(dl);
	int t = member(dl, obj, name);
	if (t < 0)
		return -1;
	const char *s;
	size_t n;
	if (js->t[t].type == JS_NUM) {
		s = js->src + js->t[t].off;
		n = js->t[t].len;
	} else if (js_str(js, t, dl_scratch(dl), &s, &n) < 0) {
		error("field '%s' is not a decimal string", name);
		return syntax(dl);
	}
	if (u256_parse_dec(v, s, n) < 0) {
		error("field '%s': %s", name, err_msg());
		return syntax(dl);
	}
	return 0;
}

static int f_u64(struct dl *dl, int obj, const char *name, uint64_t *v)
{
	u256 t;
	if (f_dec(dl, obj, name, &t) < 0)
		return -1;
	if (!u256_fits64(&t)) {
		error("field '%s' does not fit in 64 bits", name);
		return syntax(dl);
	}
	*v = t.w[0];
	return 0;
}

static int f_text(struct dl *dl, int obj, const char *name, const char **v, int nullable)
{
	struct js *js = dl_js(dl);
	const char *s;
	size_t n;
	int t = member(dl, obj, name);
	if (t < 0)
		return -1;
	if (nullable && js->t[t].type == JS_NULL) {
		*v = NULL;
		return 0;
	}
	if (js_str(js, t, dl_scratch(dl), &s, &n) < 0) {
		error("field '%s' is not a string", name);
		return syntax(dl);
	}
	*v = dl_text(dl, s, n);
	return 0;
}

static int f_vault_type(struct dl *dl, int obj, uint64_t *v)
{
	if (f_u64(dl, obj, "vaultType", v) < 0)
		return -1;
	if (*v > VT_COUNTER) {
		error("field 'vaultType' is %llu, not 0 (ATOM), 1 (TRIPLE) or 2 (COUNTER_TRIPLE)", (unsigned long long)*v);
		return syntax(dl);
	}
	return 0;
}

/* transaction_information: the event row's key and block columns. */
static int f_txinfo(struct dl *dl, int data, u256 *tx, uint64_t *log, struct evblock *b)
{
	struct js *js = dl_js(dl);
	int ti = member(dl, data, "transaction_information");
	if (ti < 0)
		return -1;
	if (js->t[ti].type != JS_OBJ) {
		error("field 'transaction_information' is not an object");
		return syntax(dl);
	}
	u256 lg;
	const char *s;
	size_t n;
	if (f_hex(dl, ti, "transaction_hash", 256, tx) < 0 || f_hex(dl, ti, "log_index", 64, &lg) < 0 ||
		f_hex(dl, ti, "address", 160, &b->address) < 0 || f_hex(dl, ti, "block_hash", 256, &b->block_hash) < 0 ||
		f_u64(dl, ti, "block_number", &b->block_number) < 0 || f_u64(dl, ti, "transaction_index", &b->tx_index) < 0 ||
		f_text(dl, ti, "network", &b->network, 0) < 0)
		return -1;
	*log = lg.w[0];
	int ts = member(dl, ti, "block_timestamp");
	if (ts < 0)
		return -1;
	b->block_ts = 0; /* null: unknown */
	if (js->t[ts].type != JS_NULL) {
		u256 t;
		if (js_str(js, ts, dl_scratch(dl), &s, &n) < 0 || u256_parse_hex(&t, s, n) < 0 || !u256_fits64(&t)) {
			error("field 'block_timestamp' is not null or a 64-bit 0x-hex value");
			return syntax(dl);
		}
		b->block_ts = t.w[0];
	}
	if (b->block_number != dl_block(dl)) {
		error("transaction_information.block_number %llu differs from the event's block %llu",
			(unsigned long long)b->block_number, (unsigned long long)dl_block(dl));
		dl_set_error_kind(dl, FR_REJ_FRAMING);
		return -1;
	}
	return 0;
}

/*
 * The event row: a fresh row of table tab with key (tx, log), or NULL with
 * *dup set when that event is already applied (a duplicate within the undo
 * journal; older ones are final and the checkpoint keeps them out).
 */
static void *event_row(struct dl *dl, int tab, const u256 *tx, uint64_t log, int *dup)
{
	unsigned char key[40];
	memcpy(key, tx, 32);
	memcpy(key + 32, &log, 8);
	*dup = dl_get(dl, tab, key) != NULL;
	if (*dup) {
		((struct ix *)dl_dom(dl))->duplicates++;
		return NULL;
	}
	return dl_new_row(dl, tab, key);
}

static int is_newer(uint64_t nb, uint64_t nl, uint64_t ob, uint64_t ol, int have_old)
{
	return !have_old || nb > ob || (nb == ob && nl > ol);
}

/* x = x + add - sub, exactly (x >= sub holds for every aggregate: it is a sum that includes sub). */
static int adjust(u256 *x, const u256 *add, const u256 *sub, const char *what)
{
	if (u256_add(x, x, add) < 0)
		return error("%s overflows 256 bits", what);
	if (u256_sub(x, x, sub) < 0)
		return error("internal: %s would fall below zero", what);
	return 0;
}

static int adjust64(uint64_t *x, uint64_t add, uint64_t sub, const char *what)
{
	if (*x + add < sub)
		return error("internal: %s would fall below zero", what);
	*x = *x + add - sub;
	return 0;
}

/* ---------------------------------------------------------------- cascade */

struct vsum {
	u256 total_shares, total_assets, market_cap;
	uint64_t position_count;
};

static void vsum_of(const struct vault *v, struct vsum *s)
{
	memset(s, 0, sizeof *s);
	if (!v)
		return;
	s->total_shares = v->total_shares;
	s->total_assets = v->total_assets;
	s->market_cap = v->market_cap;
	s->position_count = v->position_count;
}

static struct pair *pair_row(struct dl *dl, int tab, const u256 *a, const u256 *b)
{
	unsigned char key[64];
	memcpy(key, a, 32);
	memcpy(key + 32, b, 32);
	struct pair *p = dl_get(dl, tab, key);
	if (!p)
		p = dl_new_row(dl, tab, key);
	return dl_mut(dl, tab, p);
}

/*
 * A vault changed from old to new: carry the difference up to its term
 * and, for a triple's (or counter triple's) vault, to triple_vault,
 * triple_term, predicate_object and subject_predicate.
 */
static int cascade(struct dl *dl, const u256 *term_id, uint64_t curve, const struct vsum *o, const struct vsum *n)
{
	struct term *t = dl_get(dl, T_TERM, term_id);
	if (!t)
		return error("internal: vault of a term that does not exist");
	dl_mut(dl, T_TERM, t);
	if (adjust(&t->total_assets, &n->total_assets, &o->total_assets, "term.total_assets") < 0 ||
		adjust(&t->total_market_cap, &n->market_cap, &o->market_cap, "term.total_market_cap") < 0)
		return -1;
	if (t->type == TT_ATOM)
		return 0;
	const struct triple *tr = dl_get(dl, T_TRIPLE, &t->triple_id);
	if (!tr)
		return error("internal: triple term without its triple");
	unsigned char key[72];
	memcpy(key, &tr->term_id, 32);
	memcpy(key + 32, &tr->counter_term_id, 32);
	memcpy(key + 64, &curve, 8);
	struct triple_vault *tv = dl_get(dl, T_TV, key);
	if (!tv)
		tv = dl_new_row(dl, T_TV, key);
	dl_mut(dl, T_TV, tv);
	if (adjust(&tv->total_shares, &n->total_shares, &o->total_shares, "triple_vault.total_shares") < 0 ||
		adjust(&tv->total_assets, &n->total_assets, &o->total_assets, "triple_vault.total_assets") < 0 ||
		adjust(&tv->market_cap, &n->market_cap, &o->market_cap, "triple_vault.market_cap") < 0 ||
		adjust64(&tv->position_count, n->position_count, o->position_count, "triple_vault.position_count") < 0)
		return -1;
	struct triple_term *tt = dl_get(dl, T_TT, key);
	if (!tt)
		return error("internal: triple without its triple_term");
	dl_mut(dl, T_TT, tt);
	if (adjust(&tt->total_assets, &n->total_assets, &o->total_assets, "triple_term.total_assets") < 0 ||
		adjust(&tt->total_market_cap, &n->market_cap, &o->market_cap, "triple_term.total_market_cap") < 0 ||
		adjust64(&tt->total_position_count, n->position_count, o->position_count, "triple_term.total_position_count") < 0)
		return -1;
	struct pair *po = pair_row(dl, T_PO, &tr->predicate_id, &tr->object_id);
	struct pair *sp = pair_row(dl, T_SP, &tr->subject_id, &tr->predicate_id);
	if (adjust(&po->total_market_cap, &n->market_cap, &o->market_cap, "predicate_object.total_market_cap") < 0 ||
		adjust64(&po->total_position_count, n->position_count, o->position_count, "predicate_object.total_position_count") < 0 ||
		adjust(&sp->total_market_cap, &n->market_cap, &o->market_cap, "subject_predicate.total_market_cap") < 0 ||
		adjust64(&sp->total_position_count, n->position_count, o->position_count, "subject_predicate.total_position_count") < 0)
		return -1;
	return 0;
}

/* The vault (term, curve), created empty if absent (the term must exist). */
static struct vault *vault_row(struct dl *dl, const u256 *term_id, uint64_t curve, uint64_t vtype)
{
	unsigned char key[40];
	memcpy(key, term_id, 32);
	memcpy(key + 32, &curve, 8);
	const struct term *t = dl_get(dl, T_TERM, term_id);
	if (!t) {
		char h[U256_HEX_MAX];
		u256_format_hex(term_id, h);
		error("vault of term %s, which was never created", h);
		return NULL;
	}
	if (t->type != vtype) {
		error("vaultType %llu does not match the term's type", (unsigned long long)vtype);
		return NULL;
	}
	struct vault *v = dl_get(dl, T_VAULT, key);
	if (!v) {
		v = dl_new_row(dl, T_VAULT, key);
		v->vault_type = vtype;
	}
	return dl_mut(dl, T_VAULT, v);
}

/* A position's shares changed from old to new: the vault's position_count, then the cascade. */
static int position_shares(struct dl *dl, struct vault *v, const u256 *old, const u256 *new)
{
	int was = !u256_is_zero(old), is = !u256_is_zero(new);
	if (was == is)
		return 0;
	struct vsum o, n;
	vsum_of(v, &o);
	if (is)
		v->position_count++;
	else
		v->position_count--;
	vsum_of(v, &n);
	return cascade(dl, &v->term_id, v->curve_id, &o, &n);
}

/* ---------------------------------------------------------------- events */

static int new_term(struct dl *dl, const u256 *id, uint64_t type, const u256 *atom, const u256 *triple)
{
	if (dl_get(dl, T_TERM, id)) {
		char h[U256_HEX_MAX];
		u256_format_hex(id, h);
		return error("term %s exists already", h);
	}
	struct term *t = dl_new_row(dl, T_TERM, id);
	t->type = type;
	if (atom)
		t->atom_id = *atom;
	if (triple)
		t->triple_id = *triple;
	return 0;
}

static int atom_created(struct dl *dl, int d)
{
	struct ev_atom e;
	memset(&e, 0, sizeof e);
	if (f_txinfo(dl, d, &e.tx, &e.log, &e.b) < 0 || f_hex(dl, d, "creator", 160, &e.creator) < 0 ||
		f_hex(dl, d, "termId", 256, &e.term_id) < 0 || f_text(dl, d, "atomData", &e.raw_data, 0) < 0 ||
		f_hex(dl, d, "atomWallet", 160, &e.atom_wallet) < 0)
		return -1;
	if (u256_is_zero(&e.term_id))
		return error("AtomCreated: termId is zero");
	/* atom_data: the bytes as text when they are UTF-8 without NUL, else null */
	const char *h = e.raw_data;
	size_t hn = strlen(h);
	if (hn % 2)
		return error("AtomCreated: atomData has an odd number of hex digits"), syntax(dl);
	struct sb *b = dl_scratch(dl);
	sb_reset(b);
	for (size_t i = 0; i < hn; i += 2) {
		int hi = h[i] >= 'a' ? h[i] - 'a' + 10 : h[i] >= 'A' ? h[i] - 'A' + 10
								     : h[i] - '0';
		int lo = h[i + 1] >= 'a' ? h[i + 1] - 'a' + 10 : h[i + 1] >= 'A' ? h[i + 1] - 'A' + 10
										 : h[i + 1] - '0';
		if (hi < 0 || hi > 15 || lo < 0 || lo > 15 || !strchr("0123456789abcdefABCDEF", h[i]) ||
			!strchr("0123456789abcdefABCDEF", h[i + 1]))
			return error("AtomCreated: atomData is not hex"), syntax(dl);
		sb_addc(b, (char)(hi * 16 + lo));
	}
	struct sb safe = SB_INIT;
	sb_add_utf8_safe(&safe, b->buf ? b->buf : "", b->len);
	if (safe.len == b->len && (!b->len || !memcmp(safe.buf, b->buf, b->len)))
		e.atom_data = dl_text(dl, b->buf ? b->buf : "", b->len);
	sb_free(&safe);

	int dup;
	struct ev_atom *r = event_row(dl, T_ACE, &e.tx, e.log, &dup);
	if (dup)
		return DL_ALREADY;
	memcpy(r, &e, sizeof e);
	if (new_term(dl, &e.term_id, TT_ATOM, &e.term_id, NULL) < 0)
		return -1;
	struct atom *a = dl_new_row(dl, T_ATOM, &e.term_id);
	a->wallet_id = e.atom_wallet;
	a->creator_id = e.creator;
	a->data = e.atom_data;
	a->raw_data = e.raw_data;
	a->type = dl_text(dl, "Unknown", 7);
	a->resolving_status = dl_text(dl, "Pending", 7);
	a->block_number = e.b.block_number;
	a->tx = e.tx;
	a->last_block = e.b.block_number;
	a->last_log = e.log;
	((struct ix *)dl_dom(dl))->atoms++;
	return DL_APPLIED;
}

static int triple_created(struct dl *dl, int d)
{
	struct ev_triple e;
	memset(&e, 0, sizeof e);
	if (f_txinfo(dl, d, &e.tx, &e.log, &e.b) < 0 || f_hex(dl, d, "creator", 160, &e.creator) < 0 ||
		f_hex(dl, d, "termId", 256, &e.term_id) < 0 || f_hex(dl, d, "subjectId", 256, &e.subject_id) < 0 ||
		f_hex(dl, d, "predicateId", 256, &e.predicate_id) < 0 || f_hex(dl, d, "objectId", 256, &e.object_id) < 0)
		return -1;
	if (u256_is_zero(&e.term_id))
		return error("TripleCreated: termId is zero");
	ix_counter_id(&e.term_id, &e.counter_term_id);
	int dup;
	struct ev_triple *r = event_row(dl, T_TCE, &e.tx, e.log, &dup);
	if (dup)
		return DL_ALREADY;
	memcpy(r, &e, sizeof e);
	static const char *const role[3] = {"subject", "predicate", "object"};
	const u256 *ids[3] = {&e.subject_id, &e.predicate_id, &e.object_id};
	for (int i = 0; i < 3; i++)
		if (!dl_get(dl, T_TERM, ids[i])) {
			char h[U256_HEX_MAX];
			u256_format_hex(ids[i], h);
			return error("TripleCreated: its %s %s does not exist", role[i], h);
		}
	if (new_term(dl, &e.term_id, TT_TRIPLE, NULL, &e.term_id) < 0 ||
		new_term(dl, &e.counter_term_id, TT_COUNTER, NULL, &e.term_id) < 0)
		return -1;
	struct triple *t = dl_new_row(dl, T_TRIPLE, &e.term_id);
	t->creator_id = e.creator;
	t->subject_id = e.subject_id;
	t->predicate_id = e.predicate_id;
	t->object_id = e.object_id;
	t->counter_term_id = e.counter_term_id;
	t->block_number = e.b.block_number;
	t->tx = e.tx;
	t->last_block = e.b.block_number;
	t->last_log = e.log;
	unsigned char key[64];
	memcpy(key, &e.term_id, 32);
	memcpy(key + 32, &e.counter_term_id, 32);
	dl_new_row(dl, T_TT, key);
	pair_row(dl, T_PO, &e.predicate_id, &e.object_id)->triple_count++;
	pair_row(dl, T_SP, &e.subject_id, &e.predicate_id)->triple_count++;
	((struct ix *)dl_dom(dl))->triples++;
	return DL_APPLIED;
}

static struct position *position_row(struct dl *dl, const u256 *acct, const u256 *term_id, uint64_t curve, int create)
{
	unsigned char key[72];
	memcpy(key, acct, 32);
	memcpy(key + 32, term_id, 32);
	memcpy(key + 64, &curve, 8);
	struct position *p = dl_get(dl, T_POS, key);
	if (!p && !create)
		return NULL;
	if (!p)
		p = dl_new_row(dl, T_POS, key);
	return dl_mut(dl, T_POS, p);
}

static int deposited(struct dl *dl, int d)
{
	struct ev_dep e;
	memset(&e, 0, sizeof e);
	if (f_txinfo(dl, d, &e.tx, &e.log, &e.b) < 0 || f_hex(dl, d, "sender", 160, &e.sender) < 0 ||
		f_hex(dl, d, "receiver", 160, &e.receiver) < 0 || f_hex(dl, d, "termId", 256, &e.term_id) < 0 ||
		f_u64(dl, d, "curveId", &e.curve_id) < 0 || f_dec(dl, d, "assets", &e.assets) < 0 ||
		f_dec(dl, d, "assetsAfterFees", &e.assets_after_fees) < 0 || f_dec(dl, d, "shares", &e.shares) < 0 ||
		f_dec(dl, d, "totalShares", &e.total_shares) < 0 || f_vault_type(dl, d, &e.vault_type) < 0)
		return -1;
	int dup;
	struct ev_dep *r = event_row(dl, T_DEP, &e.tx, e.log, &dup);
	if (dup)
		return DL_ALREADY;
	memcpy(r, &e, sizeof e);
	struct vault *v = vault_row(dl, &e.term_id, e.curve_id, e.vault_type);
	if (!v)
		return error("Deposited: %s", err_msg());
	struct position *p = position_row(dl, &e.receiver, &e.term_id, e.curve_id, 1);
	int had = p->last_shares_block || p->last_shares_log || p->last_deposit_block || p->last_redeem_block ||
		  !u256_is_zero(&p->shares) || !u256_is_zero(&p->total_deposit) || !u256_is_zero(&p->total_redeem);
	u256 old = p->shares;
	if (u256_add(&p->total_deposit, &p->total_deposit, &e.assets_after_fees) < 0)
		return error("Deposited: the position's total deposits overflow 256 bits");
	if (is_newer(e.b.block_number, e.log, p->last_shares_block, p->last_shares_log, had)) {
		p->shares = e.total_shares;
		p->last_shares_block = e.b.block_number;
		p->last_shares_log = e.log;
	}
	if (is_newer(e.b.block_number, e.log, p->last_deposit_block, p->last_deposit_log, had)) {
		p->last_deposit_block = e.b.block_number;
		p->last_deposit_log = e.log;
	}
	((struct ix *)dl_dom(dl))->deposits++;
	return position_shares(dl, v, &old, &p->shares) < 0 ? -1 : DL_APPLIED;
}

static int redeemed(struct dl *dl, int d)
{
	struct ev_red e;
	memset(&e, 0, sizeof e);
	if (f_txinfo(dl, d, &e.tx, &e.log, &e.b) < 0 || f_hex(dl, d, "sender", 160, &e.sender) < 0 ||
		f_hex(dl, d, "receiver", 160, &e.receiver) < 0 || f_hex(dl, d, "termId", 256, &e.term_id) < 0 ||
		f_u64(dl, d, "curveId", &e.curve_id) < 0 || f_dec(dl, d, "shares", &e.shares) < 0 ||
		f_dec(dl, d, "totalShares", &e.total_shares) < 0 || f_dec(dl, d, "assets", &e.assets) < 0 ||
		f_dec(dl, d, "fees", &e.fees) < 0 || f_vault_type(dl, d, &e.vault_type) < 0)
		return -1;
	int dup;
	struct ev_red *r = event_row(dl, T_RED, &e.tx, e.log, &dup);
	if (dup)
		return DL_ALREADY;
	memcpy(r, &e, sizeof e);
	struct vault *v = vault_row(dl, &e.term_id, e.curve_id, e.vault_type);
	if (!v)
		return error("Redeemed: %s", err_msg());
	struct position *p = position_row(dl, &e.receiver, &e.term_id, e.curve_id, 0);
	if (!p)
		return error("Redeemed: a redeem of %s shares from a position that does not exist (below zero shares)",
			"some");
	u256 old = p->shares;
	int newest = is_newer(e.b.block_number, e.log, p->last_shares_block, p->last_shares_log, 1);
	if (newest && u256_cmp(&e.shares, &old) > 0) {
		char a[U256_DEC_MAX], b[U256_DEC_MAX];
		u256_format_dec(&e.shares, a);
		u256_format_dec(&old, b);
		return error("Redeemed: redeems %s shares from a position that holds %s (below zero shares)", a, b);
	}
	if (u256_add(&p->total_redeem, &p->total_redeem, &e.assets) < 0)
		return error("Redeemed: the position's total redeems overflow 256 bits");
	if (newest) {
		p->shares = e.total_shares;
		p->last_shares_block = e.b.block_number;
		p->last_shares_log = e.log;
	}
	if (is_newer(e.b.block_number, e.log, p->last_redeem_block, p->last_redeem_log,
		    p->last_redeem_block || p->last_redeem_log || !u256_is_zero(&p->total_redeem))) {
		p->last_redeem_block = e.b.block_number;
		p->last_redeem_log = e.log;
	}
	((struct ix *)dl_dom(dl))->redeems++;
	return position_shares(dl, v, &old, &p->shares) < 0 ? -1 : DL_APPLIED;
}

static int share_price_changed(struct dl *dl, int d)
{
	struct ev_price e;
	memset(&e, 0, sizeof e);
	if (f_txinfo(dl, d, &e.tx, &e.log, &e.b) < 0 || f_hex(dl, d, "termId", 256, &e.term_id) < 0 ||
		f_u64(dl, d, "curveId", &e.curve_id) < 0 || f_dec(dl, d, "sharePrice", &e.share_price) < 0 ||
		f_dec(dl, d, "totalAssets", &e.total_assets) < 0 || f_dec(dl, d, "totalShares", &e.total_shares) < 0 ||
		f_vault_type(dl, d, &e.vault_type) < 0)
		return -1;
	int dup;
	struct ev_price *r = event_row(dl, T_SPC, &e.tx, e.log, &dup);
	if (dup)
		return DL_ALREADY;
	memcpy(r, &e, sizeof e);
	struct vault *v = vault_row(dl, &e.term_id, e.curve_id, e.vault_type);
	if (!v)
		return error("SharePriceChanged: %s", err_msg());
	((struct ix *)dl_dom(dl))->prices++;
	if (!is_newer(e.b.block_number, e.log, v->last_price_block, v->last_price_log,
		    v->last_price_block || v->last_price_log))
		return DL_APPLIED; /* an older price: the event row only */
	struct vsum o, n;
	vsum_of(v, &o);
	v->total_shares = e.total_shares;
	v->share_price = e.share_price;
	v->total_assets = e.total_assets;
	if (u256_muldiv(&v->market_cap, &e.total_shares, &e.share_price, &WAD) < 0)
		return error("SharePriceChanged: market cap overflows 256 bits");
	v->last_price_block = e.b.block_number;
	v->last_price_log = e.log;
	vsum_of(v, &n);
	return cascade(dl, &v->term_id, v->curve_id, &o, &n) < 0 ? -1 : DL_APPLIED;
}

static int generic(struct dl *dl, int d, int name)
{
	struct ev_generic e;
	memset(&e, 0, sizeof e);
	if (f_txinfo(dl, d, &e.tx, &e.log, &e.b) < 0)
		return -1;
	struct js *js = dl_js(dl);
	const char *s;
	size_t n;
	js_str(js, name, dl_scratch(dl), &s, &n);
	e.event_name = dl_text(dl, s, n);
	struct sb raw = SB_INIT;
	sb_add_jraw(&raw, js, d);
	e.event_data = dl_text(dl, raw.buf ? raw.buf : "", raw.len);
	sb_free(&raw);
	int dup;
	struct ev_generic *r = event_row(dl, T_GEN, &e.tx, e.log, &dup);
	if (dup)
		return DL_ALREADY;
	memcpy(r, &e, sizeof e);
	((struct ix *)dl_dom(dl))->generic++;
	return DL_APPLIED;
}

static int on_event(struct dl *dl)
{
	struct js *js = dl_js(dl);
	int name = member(dl, 0, "event_name");
	if (name < 0)
		return -1;
	if (js->t[name].type != JS_STR) {
		error("field 'event_name' is not a string");
		return syntax(dl);
	}
	int d = member(dl, 0, "data");
	if (d < 0)
		return -1;
	if (js->t[d].type != JS_OBJ) {
		error("field 'data' is not an object");
		return syntax(dl);
	}
	if (js_str_eq(js, name, "AtomCreated"))
		return atom_created(dl, d);
	if (js_str_eq(js, name, "TripleCreated"))
		return triple_created(dl, d);
	if (js_str_eq(js, name, "Deposited"))
		return deposited(dl, d);
	if (js_str_eq(js, name, "Redeemed"))
		return redeemed(dl, d);
	if (js_str_eq(js, name, "SharePriceChanged"))
		return share_price_changed(dl, d);
	return generic(dl, d, name);
}

/* ---------------------------------------------------------------- lifecycle */

static int is_event_table(int tab)
{
	return tab == T_ACE || tab == T_TCE || tab == T_DEP || tab == T_RED || tab == T_SPC || tab == T_GEN;
}

/*
 * Once an event's block leaves the undo journal the event row is final:
 * it stays in the database but leaves memory and the snapshot (the
 * snapshot views of sql/030 leave out the same rows), so memory grows with
 * the journal window, not with history.
 */
static void on_final(struct dl *dl, int tab, const void *key)
{
	if (!is_event_table(tab) || dl_journal_mentions(dl, tab, key))
		return;
	void *r = dl_get(dl, tab, key);
	if (r)
		dl_forget_row(dl, tab, r);
}

static void *init(struct dl *dl)
{
	(void)dl;
	return xcalloc(1, sizeof(struct ix));
}

static void fini(struct dl *dl, void *st)
{
	(void)dl;
	free(st);
}

static void stats(struct dl *dl, struct sb *out)
{
	const struct ix *x = dl_dom(dl);
	sb_addf(out, ", atoms %llu, triples %llu, deposits %llu, redeems %llu, prices %llu, generic %llu, duplicates %llu",
		(unsigned long long)x->atoms, (unsigned long long)x->triples, (unsigned long long)x->deposits,
		(unsigned long long)x->redeems, (unsigned long long)x->prices, (unsigned long long)x->generic,
		(unsigned long long)x->duplicates);
}

const struct dl_domain ix_domain = {
	.name = "intuition",
	.tabs = ix_tabs,
	.ntabs = IX_NTABS,
	.init = init,
	.fini = fini,
	.event = on_event,
	.on_final = on_final,
	.stats = stats,
};
