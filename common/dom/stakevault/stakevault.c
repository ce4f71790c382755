/*
 * stakevault.c -- the StakeVault domain on the generic delta engine.
 *
 * Input: rpc-listen's event frames, one per block; each event is an EVM log
 * ({"address","topics":[...],"data":"0x…","tx","log_index",...}).  Events:
 *   Staked(address indexed developer, uint256 amount)      stake += amount,
 *       staked_at = the block's timestamp, status active
 *   Unstaked(address indexed developer, uint256 amount)    stake -= amount
 *       (below zero: broken invariant), status pending when it reaches 0
 *   RequiredStakeUpdated(uint256 oldAmount, uint256 newAmount)  recorded;
 *       oldAmount must be the requirement we know (when we know one)
 * Other logs are ignored (counted).  A log whose topics or data do not
 * decode is bad input (kind syntax: the pipeline stops, quarantined).
 *
 * Tables (sql/050-stakevault.sql), amounts in token base units (USDC: 6
 * decimals; developers.stake_amount shows them as DECIMAL(20,6)):
 *   sv_cursor                  the last block applied (one row, id 0):
 *                              system_state['last_processed_block_stake_vault']
 *   sv_required_stake_updates  every RequiredStakeUpdated
 *   sv_stakes                  one row per developer wallet that ever staked
 *   sv_stake_history           its image at the end of every block that
 *                              changed it (history: never kept in memory)
 *   sv_vault                   per vault: the required stake (0: not known yet)
 * Whether the wallet is a registered developer, the dead letters and the
 * welcome e-mail job are the database's (triggers in the same
 * transaction: developers follows sv_stakes, the dead letters and jobs
 * follow sv_stake_history, one row per wallet and block, so they do not
 * depend on how many blocks pg-write puts in one transaction):
 * docs/stakevault.md says why.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "dom/stakevault/stakevault.h"
#include "frame/frame.h"

struct cursor {
	uint64_t id;
	uint64_t block_number;
	u256 block_hash;
	uint64_t timestamp;
};
struct upd {
	uint64_t block_number, log_index;
	u256 vault, old_amount, new_amount, block_hash, tx;
	uint64_t timestamp;
};
struct stake {
	u256 wallet;
	u256 vault, amount;
	uint64_t staked_at, status, stakes, unstakes;
	uint64_t last_block, last_log_index, last_timestamp;
	u256 last_block_hash, last_tx;
};
/* sv_stake_history: a stake at the end of a block (key: wallet, block) */
struct stakehist {
	u256 wallet;
	uint64_t block;
	u256 vault, amount;
	uint64_t status, stakes, unstakes, log_index, timestamp;
	u256 block_hash, tx;
};
struct vault {
	u256 address;
	u256 required;
	uint64_t stakers, last_block;
};

enum { T_CURSOR,
	T_UPD,
	T_HIST,
	T_STAKES,
	T_VAULT,
	T_COUNT };

static const char *const status_names[] = {"pending", "active"};
enum { ST_PENDING,
	ST_ACTIVE };

static const struct dl_col cur_key[] = {DL_COL("id", DL_U64, cursor, id)};
static const struct dl_col cur_cols[] = {DL_COL("id", DL_U64, cursor, id), DL_COL("block_number", DL_U64, cursor, block_number),
	DL_COL("block_hash", DL_H256, cursor, block_hash), DL_COL("timestamp", DL_U64, cursor, timestamp)};

static const struct dl_col upd_key[] = {DL_COL("block_number", DL_U64, upd, block_number), DL_COL("log_index", DL_U64, upd, log_index)};
static const struct dl_col upd_cols[] = {DL_COL("block_number", DL_U64, upd, block_number), DL_COL("log_index", DL_U64, upd, log_index),
	DL_COL("vault_address", DL_FELT, upd, vault), DL_COL("old_amount", DL_DEC, upd, old_amount),
	DL_COL("new_amount", DL_DEC, upd, new_amount), DL_COL("block_hash", DL_H256, upd, block_hash),
	DL_COL("tx_hash", DL_H256, upd, tx), DL_COL("block_timestamp", DL_U64, upd, timestamp)};

static const struct dl_col stake_key[] = {DL_COL("wallet_address", DL_FELT, stake, wallet)};
static const struct dl_col stake_cols[] = {DL_COL("wallet_address", DL_FELT, stake, wallet),
	DL_COL("vault_address", DL_FELT, stake, vault), DL_COL("stake_amount", DL_DEC, stake, amount),
	DL_COL("staked_at", DL_U64, stake, staked_at), DL_ENUM_COL("status", stake, status, status_names),
	DL_COL("stakes", DL_U64, stake, stakes), DL_COL("unstakes", DL_U64, stake, unstakes),
	DL_COL("last_block", DL_U64, stake, last_block), DL_COL("last_block_hash", DL_H256, stake, last_block_hash),
	DL_COL("last_log_index", DL_U64, stake, last_log_index), DL_COL("last_tx_hash", DL_H256, stake, last_tx),
	DL_COL("last_timestamp", DL_U64, stake, last_timestamp)};

static const struct dl_col hist_key[] = {DL_COL("wallet_address", DL_FELT, stakehist, wallet),
	DL_COL("block_number", DL_U64, stakehist, block)};
static const struct dl_col hist_cols[] = {DL_COL("wallet_address", DL_FELT, stakehist, wallet),
	DL_COL("block_number", DL_U64, stakehist, block), DL_COL("vault_address", DL_FELT, stakehist, vault),
	DL_COL("stake_amount", DL_DEC, stakehist, amount), DL_ENUM_COL("status", stakehist, status, status_names),
	DL_COL("stakes", DL_U64, stakehist, stakes), DL_COL("unstakes", DL_U64, stakehist, unstakes),
	DL_COL("block_hash", DL_H256, stakehist, block_hash), DL_COL("log_index", DL_U64, stakehist, log_index),
	DL_COL("tx_hash", DL_H256, stakehist, tx), DL_COL("block_timestamp", DL_U64, stakehist, timestamp)};

static void stake_image(const void *ent, uint64_t block, void *out)
{
	const struct stake *st = ent;
	struct stakehist *h = out;
	h->wallet = st->wallet;
	h->block = block;
	h->vault = st->vault;
	h->amount = st->amount;
	h->status = st->status;
	h->stakes = st->stakes;
	h->unstakes = st->unstakes;
	h->block_hash = st->last_block_hash;
	h->log_index = st->last_log_index;
	h->tx = st->last_tx;
	h->timestamp = st->last_timestamp;
}

static const struct dl_col vault_key[] = {DL_COL("address", DL_FELT, vault, address)};
static const struct dl_col vault_cols[] = {DL_COL("address", DL_FELT, vault, address), DL_COL("required_stake", DL_DEC, vault, required),
	DL_COL("stakers", DL_U64, vault, stakers), DL_COL("last_block", DL_U64, vault, last_block)};

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct dl_table tabs[T_COUNT] = {
	[T_CURSOR] = {"sv_cursor", sizeof(struct cursor), 8, cur_key, 1, cur_cols, NCOLS(cur_cols), -1, 0, -1, NULL},
	[T_UPD] = {"sv_required_stake_updates", sizeof(struct upd), 16, upd_key, 2, upd_cols, NCOLS(upd_cols), -1, 0, -1, NULL},
	[T_HIST] = {"sv_stake_history", sizeof(struct stakehist), 40, hist_key, 2, hist_cols, NCOLS(hist_cols), -1, 0, T_STAKES,
		stake_image},
	[T_STAKES] = {"sv_stakes", sizeof(struct stake), 32, stake_key, 1, stake_cols, NCOLS(stake_cols), T_HIST,
		offsetof(struct stake, last_block), -1, NULL},
	[T_VAULT] = {"sv_vault", sizeof(struct vault), 32, vault_key, 1, vault_cols, NCOLS(vault_cols), -1, 0, -1, NULL},
};

/* keccak256 of the event signatures (topic 0) */
static const char SEL_STAKED[] = "0x9e71bc8eea02a63969f509818f2dafb9254532904319f9dbda79b67bd34a5f3d";
static const char SEL_UNSTAKED[] = "0x0f5bb82176feb1b5e747e28471aa92156a04d9f3ab9f45f28e2d704232b93f75";
static const char SEL_REQUIRED[] = "0x06b86b411d108b7e7f6a78941df4fc02eca326ba7e6e470ac32ded9b7ba1dea1";

struct svdom {
	u256 staked, unstaked, required;
	uint64_t nstaked, nunstaked, nrequired;
};

static void *sv_init(struct dl *dl)
{
	(void)dl;
	struct svdom *d = xcalloc(1, sizeof(*d));
	u256_parse_hex(&d->staked, SEL_STAKED, sizeof SEL_STAKED - 1);
	u256_parse_hex(&d->unstaked, SEL_UNSTAKED, sizeof SEL_UNSTAKED - 1);
	u256_parse_hex(&d->required, SEL_REQUIRED, sizeof SEL_REQUIRED - 1);
	return d;
}

static void sv_fini(struct dl *dl, void *dom)
{
	(void)dl;
	free(dom);
}

static int bad(struct dl *dl, const char *what)
{
	dl_set_error_kind(dl, FR_REJ_SYNTAX);
	return error("malformed log: %s", what);
}

/* The event's fields: topics (count, values), data words. */
struct ev {
	u256 topics[4];
	int ntopics;
	u256 words[2];
	int nwords;
	u256 address, tx;
	uint64_t log_index;
};

static int read_event(struct dl *dl, struct ev *e)
{
	struct js *js = dl_js(dl);
	const char *s;
	size_t n;
	int64_t li;
	if (dl_field_h256(dl, 0, "address", &e->address) < 0 || dl_field_h256(dl, 0, "tx", &e->tx) < 0)
		return bad(dl, err_msg());
	int t = js_get(js, 0, "log_index");
	if (t < 0 || js_u63(js, t, &li) < 0)
		return bad(dl, "field 'log_index' is not a non-negative integer");
	e->log_index = (uint64_t)li;
	int tp = js_get(js, 0, "topics");
	if (tp < 0 || js->t[tp].type != JS_ARR || js->t[tp].n > 4)
		return bad(dl, "field 'topics' is not an array of at most 4 hashes");
	e->ntopics = (int)js->t[tp].n;
	int x = js_first(js, tp);
	for (int i = 0; i < e->ntopics; i++, x = js_sibling(js, x))
		if (js_str(js, x, dl_scratch(dl), &s, &n) < 0 || u256_parse_hex(&e->topics[i], s, n) < 0)
			return bad(dl, "a topic is not a 0x hash");
	int d = js_get(js, 0, "data");
	if (d < 0 || js_str(js, d, dl_scratch(dl), &s, &n) < 0 || n < 2 || s[0] != '0' || s[1] != 'x')
		return bad(dl, "field 'data' is not a 0x string");
	if ((n - 2) % 64)
		return bad(dl, "field 'data' is not a whole number of 32-byte words");
	e->nwords = (int)((n - 2) / 64);
	for (int i = 0; i < e->nwords && i < 2; i++) {
		char w[67] = "0x";
		memcpy(w + 2, s + 2 + 64 * i, 64);
		if (u256_parse_hex(&e->words[i], w, 66) < 0)
			return bad(dl, "field 'data' is not hex");
	}
	return 0;
}

static int address_topic(struct dl *dl, const u256 *t, u256 *out)
{
	if (t->w[3] || t->w[2] >> 32)
		return bad(dl, "an address topic has bits above 160");
	*out = *t;
	return 0;
}

static struct vault *get_vault(struct dl *dl, const u256 *address)
{
	struct vault *v = dl_get(dl, T_VAULT, address);
	if (!v)
		v = dl_new_row(dl, T_VAULT, address);
	return dl_mut(dl, T_VAULT, v);
}

static void touch(struct stake *st, struct dl *dl, const struct ev *e)
{
	st->last_block = dl_block(dl);
	st->last_timestamp = dl_time(dl);
	st->last_log_index = e->log_index;
	st->last_tx = e->tx;
}

static int on_stake(struct dl *dl, const struct ev *e, int staking)
{
	const char *name = staking ? "Staked" : "Unstaked";
	u256 wallet;
	if (e->ntopics != 2 || e->nwords != 1)
		return bad(dl, staking ? "Staked needs 2 topics and 1 data word" : "Unstaked needs 2 topics and 1 data word");
	if (address_topic(dl, &e->topics[1], &wallet) < 0)
		return -1;
	struct stake *st = dl_get(dl, T_STAKES, &wallet);
	struct vault *v = get_vault(dl, &e->address);
	v->last_block = dl_block(dl);
	char wb[U256_HEX_MAX];
	u256_format_hex(&wallet, wb);
	if (!st) {
		if (!staking)
			return error("Unstaked by %s, who has no stake", wb);
		st = dl_new_row(dl, T_STAKES, &wallet);
		st->vault = e->address;
	}
	st = dl_update(dl, T_STAKES, st);
	if (!u256_eq(&st->vault, &e->address))
		return error("%s by %s at another vault than its stake's", name, wb);
	/* the row's last change names this block: its hash is the frame's */
	u256 bh;
	if (dl_field_block_hash(dl, 0, "block_hash", &bh) < 0)
		return -1;
	st->last_block_hash = bh;
	if (staking) {
		if (u256_is_zero(&e->words[0]))
			return error("Staked by %s of 0 (the vault refuses that)", wb);
		if (u256_is_zero(&st->amount) && !u256_is_zero(&v->required) && u256_cmp(&e->words[0], &v->required) < 0)
			return error("first stake of %s is below the required stake (the vault refuses that)", wb);
		if (u256_is_zero(&st->amount))
			v->stakers++;
		if (u256_add(&st->amount, &st->amount, &e->words[0]) < 0)
			return error("stake of %s overflows 256 bits", wb);
		st->staked_at = dl_time(dl);
		st->status = ST_ACTIVE;
		st->stakes++;
	} else {
		if (u256_sub(&st->amount, &st->amount, &e->words[0]) < 0)
			return error("Unstaked by %s of more than its stake", wb);
		if (u256_is_zero(&st->amount) && !u256_is_zero(&e->words[0])) {
			st->status = ST_PENDING;
			v->stakers--;
		}
		st->unstakes++;
	}
	touch(st, dl, e);
	return DL_APPLIED;
}

static int on_required(struct dl *dl, const struct ev *e)
{
	if (e->ntopics != 1 || e->nwords != 2)
		return bad(dl, "RequiredStakeUpdated needs 1 topic and 2 data words");
	struct vault *v = get_vault(dl, &e->address);
	if (!u256_is_zero(&v->required) && !u256_eq(&v->required, &e->words[0]))
		return error("RequiredStakeUpdated from an amount that is not the required stake we know");
	if (u256_is_zero(&e->words[1]))
		return error("RequiredStakeUpdated to 0 (the vault refuses that)");
	v->required = e->words[1];
	v->last_block = dl_block(dl);
	struct upd key = {0};
	key.block_number = dl_block(dl);
	key.log_index = e->log_index;
	if (dl_get(dl, T_UPD, &key))
		return error("two logs with index %llu in block %llu", (unsigned long long)e->log_index,
			(unsigned long long)key.block_number);
	struct upd *u = dl_new_row(dl, T_UPD, &key);
	u->vault = e->address;
	u->old_amount = e->words[0];
	u->new_amount = e->words[1];
	if (dl_field_block_hash(dl, 0, "block_hash", &u->block_hash) < 0)
		return -1;
	u->tx = e->tx;
	u->timestamp = dl_time(dl);
	return DL_APPLIED;
}

static int sv_event(struct dl *dl)
{
	struct svdom *d = dl_dom(dl);
	struct ev e;
	if (read_event(dl, &e) < 0)
		return -1;
	if (e.ntopics == 0)
		return DL_UNTRACKED; /* anonymous events: not the vault's */
	if (u256_eq(&e.topics[0], &d->staked)) {
		d->nstaked++;
		return on_stake(dl, &e, 1);
	}
	if (u256_eq(&e.topics[0], &d->unstaked)) {
		d->nunstaked++;
		return on_stake(dl, &e, 0);
	}
	if (u256_eq(&e.topics[0], &d->required)) {
		d->nrequired++;
		return on_required(dl, &e);
	}
	return DL_UNTRACKED;
}

/* Every block: the cursor (system_state's checkpoint key) moves to it. */
static int sv_block(struct dl *dl)
{
	struct cursor key = {0};
	struct cursor *c = dl_get(dl, T_CURSOR, &key);
	if (!c)
		c = dl_new_row(dl, T_CURSOR, &key);
	c = dl_mut(dl, T_CURSOR, c);
	c->block_number = dl_block(dl);
	c->timestamp = dl_time(dl);
	return dl_field_block_hash(dl, 0, "block_hash", &c->block_hash);
}

static void sv_stats(struct dl *dl, struct sb *out)
{
	struct svdom *d = dl_dom(dl);
	sb_addf(out, ", staked %llu, unstaked %llu, required-stake updates %llu", (unsigned long long)d->nstaked,
		(unsigned long long)d->nunstaked, (unsigned long long)d->nrequired);
}

const struct dl_domain stakevault_domain = {
	.name = "stakevault",
	.tabs = tabs,
	.ntabs = T_COUNT,
	.init = sv_init,
	.fini = sv_fini,
	.event = sv_event,
	.stats = sv_stats,
	.hash256 = 1,
	.block = sv_block,
};

const char stakevault_about[] =
	"The StakeVault domain: rpc-listen's frames of the vault's logs (Staked,\n"
	"Unstaked, RequiredStakeUpdated) into developer stakes (sv_stakes, and per\n"
	"block in sv_stake_history), the vault's required stake (sv_vault,\n"
	"sv_required_stake_updates) and the block cursor (sv_cursor).  Amounts are\n"
	"exact token base units.  A log that does not decode, an unstake beyond the\n"
	"stake or a required stake that does not match stops with 65\n"
	"(docs/stakevault.md).\n";
