/*
 * counter.c -- a second domain on the generic layers, for the tests: a
 * running count and sum per key, with a per-block history, exact reverts
 * and deletion.  Nothing here but a descriptor and one event handler: it
 * proves that core, num, frame and delta (and pg-listen, pg-write,
 * pg-snapshot, run-pipeline) serve a domain that is not Pitchlake.
 *
 * Events (inside StartBlock / CatchupVault frames):
 *   {"op":"event",...block fields...,"key":"0x1f","amount":"25"}  count+1, sum+amount
 *   {"op":"event",...block fields...,"key":"0x1f","reset":true}   the key's row goes
 * Tables: counter_totals (key, count, sum, latest_block) and its history
 * counter_history (key, block_number, count, sum): one row per key and
 * block in which the total changed (tests/counter/schema.sql).
 */
#include <stddef.h>
#include <string.h>

#include "core/die.h"
#include "delta/delta.h"
#include "frame/frame.h"

struct total {
	u256 key;
	uint64_t count;
	u256 sum;
	uint64_t latest_block;
};
struct hist {
	u256 key;
	uint64_t block;
	uint64_t count;
	u256 sum;
};

enum { T_HIST,
	T_TOTALS,
	T_COUNT };

static const struct dl_col tot_key[] = {DL_COL("key", DL_FELT, total, key)};
static const struct dl_col tot_cols[] = {DL_COL("key", DL_FELT, total, key), DL_COL("count", DL_U64, total, count),
	DL_COL("sum", DL_DEC, total, sum), DL_COL("latest_block", DL_U64, total, latest_block)};
static const struct dl_col hist_key[] = {DL_COL("key", DL_FELT, hist, key), DL_COL("block_number", DL_U64, hist, block)};
static const struct dl_col hist_cols[] = {DL_COL("key", DL_FELT, hist, key), DL_COL("block_number", DL_U64, hist, block),
	DL_COL("count", DL_U64, hist, count), DL_COL("sum", DL_DEC, hist, sum)};

static void hist_image(const void *ent, uint64_t block, void *out)
{
	const struct total *t = ent;
	struct hist *h = out;
	h->key = t->key;
	h->block = block;
	h->count = t->count;
	h->sum = t->sum;
}

static const struct dl_table tabs[T_COUNT] = {
	[T_HIST] = {"counter_history", sizeof(struct hist), 40, hist_key, 2, hist_cols, 4, -1, 0, T_TOTALS, hist_image},
	[T_TOTALS] = {"counter_totals", sizeof(struct total), 32, tot_key, 1, tot_cols, 4, T_HIST,
		offsetof(struct total, latest_block), -1, NULL},
};

static int on_event(struct dl *dl)
{
	struct js *js = dl_js(dl);
	u256 key, amount;
	if (dl_field_felt(dl, 0, "key", &key) < 0) {
		dl_set_error_kind(dl, FR_REJ_SYNTAX);
		return -1;
	}
	struct total *t = dl_get(dl, T_TOTALS, &key);
	int reset = js_get(js, 0, "reset");
	if (reset >= 0 && js->t[reset].type == JS_TRUE) {
		if (!t)
			return error("reset of key that has no total");
		dl_update(dl, T_TOTALS, t); /* its history row for this block shows the last total */
		dl_del_row(dl, T_TOTALS, t);
		return DL_APPLIED;
	}
	const char *s;
	size_t n;
	int a = js_get(js, 0, "amount");
	if (a < 0 || js_str(js, a, dl_scratch(dl), &s, &n) < 0 || u256_parse_dec(&amount, s, n) < 0) {
		dl_set_error_kind(dl, FR_REJ_SYNTAX);
		return error("field 'amount' is not a decimal string");
	}
	if (!t)
		t = dl_new_row(dl, T_TOTALS, &key);
	dl_update(dl, T_TOTALS, t);
	if (u256_add(&t->sum, &t->sum, &amount) < 0)
		return error("the sum of key overflows 256 bits");
	t->count++;
	return DL_APPLIED;
}

static const struct dl_domain counter_domain = {
	.name = "counter",
	.tabs = tabs,
	.ntabs = T_COUNT,
	.event = on_event,
};

static const char about[] = "A running count and sum per key (the test suite's second domain).\n";

int main(int argc, char **argv)
{
	return dl_main(argc, argv, &counter_domain, about);
}
