/*
 * snapshot.c -- the state as a snapshot (docs/formats.md): every stored
 * row as a put line, sorted by table then key text, then the undo journal
 * (block lines, oldest block first, then undo lines in the order they were
 * recorded) and the checkpoint.  Loading
 * a dump and dumping again is byte-identical.
 */
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "delta/delta_int.h"
#include "frame/frame.h"

struct dumprow {
	const void *row;
	size_t koff, klen;
};

static const struct sb *sort_keys;

static int cmp_dump(const void *a, const void *b)
{
	const struct dumprow *x = a, *y = b;
	return dl_cmp_keytext(sort_keys, x->koff, x->klen, y->koff, y->klen);
}

void dl_dump(struct dl *dl, struct sb *out)
{
	for (int t = 0; t < dl->dom->ntabs; t++) {
		if (dl->tabs[t].src >= 0 || !dl->tab[t].n)
			continue;
		struct dumprow *v = xmalloc(dl->tab[t].n * sizeof *v);
		size_t n = 0, pos = 0;
		void *r;
		sb_reset(&dl->tmp);
		while ((r = hm_next(&dl->tab[t], &pos))) {
			v[n].row = r;
			v[n].koff = dl->tmp.len;
			dl_add_key(dl, &dl->tmp, t, r);
			v[n].klen = dl->tmp.len - v[n].koff;
			n++;
		}
		sort_keys = &dl->tmp;
		qsort(v, n, sizeof *v, cmp_dump);
		for (size_t i = 0; i < n; i++) {
			sb_adds(out, "{\"op\":\"put\",\"table\":\"");
			sb_adds(out, dl->tabs[t].name);
			sb_adds(out, "\",\"key\":");
			sb_add(out, dl->tmp.buf + v[i].koff, v[i].klen);
			sb_adds(out, ",\"row\":");
			dl_add_row(dl, out, t, v[i].row);
			sb_adds(out, "}\n");
		}
		free(v);
	}
	/* The journal: its blocks, then its entries in the order of recording
	 * (a block's entries are in that order; the blocks' interleave). */
	size_t nb = 0;
	for (struct jblock *b = dl->jhead; b; b = b->next) {
		sb_adds(out, "{\"op\":\"block\",\"block_number\":");
		sb_add_u64(out, b->number);
		sb_adds(out, ",\"block_hash\":\"");
		sb_add_u256_hex(out, &b->hash);
		sb_adds(out, "\"}\n");
		nb++;
	}
	struct jblock **bv = xcalloc(nb ? nb : 1, sizeof *bv);
	uint32_t *at = xcalloc(nb ? nb : 1, sizeof *at);
	nb = 0;
	for (struct jblock *b = dl->jhead; b; b = b->next)
		bv[nb++] = b;
	for (;;) {
		size_t k = nb;
		for (size_t i = 0; i < nb; i++)
			if (at[i] < bv[i]->n && (k == nb || bv[i]->e[at[i]].unit < bv[k]->e[at[k]].unit))
				k = i;
		if (k == nb)
			break;
		struct jblock *b = bv[k];
		uint64_t unit = b->e[at[k]].unit;
		for (; at[k] < b->n && b->e[at[k]].unit == unit; at[k]++)
			dl_add_undo_line(dl, out, b->number, &b->hash, (int)b->e[at[k]].tab, dl_je_key(b, &b->e[at[k]]),
				b->e[at[k]].before);
	}
	free(bv);
	free(at);
	if (dl->have_cp) {
		sb_adds(out, "{\"op\":\"checkpoint\",\"driver_id\":");
		sb_add_i64(out, dl->cp_driver);
		sb_adds(out, ",\"seq\":");
		sb_add_i64(out, dl->cp_seq);
		sb_adds(out, ",\"finalized\":");
		sb_add_u64(out, dl->finalized);
		sb_adds(out, "}\n");
	}
}

static int load_put(struct dl *dl)
{
	unsigned char row[DL_ROW_MAX];
	int tab = dl_table_by_name(dl, js_get(&dl->js, 0, "table"));
	if (tab < 0 || dl->tabs[tab].src >= 0)
		return error("unknown or non-snapshot table");
	memset(row, 0, sizeof row);
	if (dl_parse_obj(dl, js_get(&dl->js, 0, "row"), dl->tabs[tab].cols, dl->tabs[tab].ncols, row) < 0)
		return -1;
	if (hm_get(&dl->tab[tab], row))
		return error("duplicate row in table '%s'", dl->tabs[tab].name);
	dl_store_row(dl, tab, row);
	return 0;
}

static int load_undo(struct dl *dl)
{
	unsigned char row[DL_ROW_MAX], key[DL_KEY_MAX];
	int64_t bn;
	u256 h;
	if (dl_get_i64(dl, 0, "block_number", &bn, 1) < 0 || dl_field_block_hash(dl, 0, "block_hash", &h) < 0)
		return -1;
	struct jblock *b = dl_jblock_find(dl->jhead, &h);
	if (!b)
		return error("undo entry before its 'block' line");
	int tab = dl_table_by_name(dl, js_get(&dl->js, 0, "table"));
	if (tab < 0)
		return error("unknown table");
	const struct dl_table *t = &dl->tabs[tab];
	memset(row, 0, sizeof row);
	if (dl_parse_obj(dl, js_get(&dl->js, 0, "key"), t->key, t->nkey, row) < 0)
		return -1;
	memcpy(key, row, t->keylen);
	int bt = js_get(&dl->js, 0, "before");
	void *before = NULL;
	if (bt < 0)
		return error("missing field 'before'");
	if (dl->js.t[bt].type != JS_NULL) {
		memset(row, 0, sizeof row);
		if (dl_parse_obj(dl, bt, t->cols, t->ncols, row) < 0)
			return -1;
		if (memcmp(row, key, t->keylen))
			return error("undo entry: key and before-image disagree");
		before = dl_dup_row(dl, tab, row);
	}
	/* Consecutive entries of one block are one unit (dl_dump lists them in
	 * the order of recording). */
	uint64_t unit = b->n && b->e[b->n - 1].unit == dl->junit ? dl->junit : ++dl->junit;
	dl_jblock_add(dl, b, tab, key, before, unit);
	return 0;
}

int dl_load_line(struct dl *dl, const char *line, size_t len)
{
	if (js_parse(&dl->js, line, len) < 0)
		return -1;
	if (dl->js.t[0].type != JS_OBJ)
		return error("line is not a JSON object");
	switch (fr_op(&dl->js)) {
	case FR_PUT:
		return load_put(dl);
	case FR_BLOCK: {
		int64_t bn;
		u256 h;
		if (dl_get_i64(dl, 0, "block_number", &bn, 1) < 0 || dl_field_block_hash(dl, 0, "block_hash", &h) < 0)
			return -1;
		if (dl_jblock_find(dl->jhead, &h))
			return error("journal block listed twice");
		dl_journal_block(dl, (uint64_t)bn, &h);
		return 0;
	}
	case FR_UNDO:
		return load_undo(dl);
	case FR_CHECKPOINT: {
		int64_t fin;
		if (dl_get_i64(dl, 0, "driver_id", &dl->cp_driver, 1) < 0 || dl_get_i64(dl, 0, "seq", &dl->cp_seq, 1) < 0 ||
			dl_get_i64(dl, 0, "finalized", &fin, 1) < 0)
			return -1;
		dl->have_cp = 1;
		dl->finalized = (uint64_t)fin;
		return 0;
	}
	default:
		return error("unknown op in a snapshot");
	}
}

int dl_load_done(struct dl *dl)
{
	return dl->dom->check ? dl->dom->check(dl) : 0;
}
