/*
 * journal.c -- the undo journal: per block (number, hash), the
 * before-image of every row the block changed, kept for `finality` blocks
 * so that a RevertBlock frame restores the state exactly.  Pruned entries
 * are final; the domain hears of each (on_final) and may archive.
 */
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "delta/delta_int.h"

struct jblock *dl_jblock_find(struct jblock *head, const u256 *hash)
{
	for (struct jblock *b = head; b; b = b->next)
		if (u256_eq(&b->hash, hash))
			return b;
	return NULL;
}

void dl_jblock_add(struct dl *dl, struct jblock *b, int tab, const void *key, void *before, uint64_t unit)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->e = xrealloc(b->e, b->cap * sizeof *b->e);
	}
	struct jentry *e = &b->e[b->n++];
	e->tab = (uint32_t)tab;
	e->koff = 0;
	e->before = before;
	e->unit = unit;
	if (!before) {
		size_t kl = (dl->tabs[tab].keylen + 7u) & ~(size_t)7;
		if (b->klen + kl > b->kcap) {
			b->kcap = b->kcap ? b->kcap * 2 : 1024;
			while (b->kcap < b->klen + kl)
				b->kcap *= 2;
			b->keys = xrealloc(b->keys, b->kcap);
		}
		memset(b->keys + b->klen, 0, kl);
		memcpy(b->keys + b->klen, key, dl->tabs[tab].keylen);
		e->koff = (uint32_t)b->klen;
		b->klen += kl;
	}
}

void dl_jblock_free(struct dl *dl, struct jblock *b)
{
	for (uint32_t i = 0; i < b->n; i++)
		dl_release_row(dl, (int)b->e[i].tab, b->e[i].before);
	free(b->e);
	free(b->keys);
	free(b);
}

/* The journal block for (number, hash): existing, or a new one at the tail. */
struct jblock *dl_journal_block(struct dl *dl, uint64_t number, const u256 *hash)
{
	struct jblock *b = dl_jblock_find(dl->jhead, hash);
	if (b)
		return b;
	b = xcalloc(1, sizeof *b);
	b->number = number;
	b->hash = *hash;
	if (dl->jtail)
		dl->jtail->next = b;
	else
		dl->jhead = b;
	dl->jtail = b;
	return b;
}

void dl_journal_unlink(struct dl *dl, struct jblock *victim)
{
	struct jblock **pp = &dl->jhead, *prev = NULL;
	while (*pp && *pp != victim) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = victim->next;
	if (dl->jtail == victim)
		dl->jtail = prev;
}

int dl_journal_mentions(const struct dl *dl, int tab, const void *key)
{
	for (const struct jblock *b = dl->jhead; b; b = b->next)
		for (uint32_t i = 0; i < b->n; i++)
			if (b->e[i].tab == (uint32_t)tab && !memcmp(dl_je_key(b, &b->e[i]), key, dl->tabs[tab].keylen))
				return 1;
	return 0;
}

/* Block b's changes are final: remember the newest (dl_revert_fork). */
static void note_final(struct dl *dl, const struct jblock *b)
{
	if (b->n && b->e[b->n - 1].unit > dl->final_unit)
		dl->final_unit = b->e[b->n - 1].unit;
}

/* Drop the blocks at or below the finality horizon; their changes are final. */
void dl_journal_prune(struct dl *dl)
{
	struct jblock *b = dl->jhead, *pruned = NULL;
	while (b) {
		struct jblock *next = b->next;
		if (b->number <= dl->finalized) {
			dl_journal_unlink(dl, b);
			b->next = pruned;
			pruned = b;
		}
		b = next;
	}
	while (pruned) {
		struct jblock *next = pruned->next;
		note_final(dl, pruned);
		if (dl->dom->on_final)
			for (uint32_t i = 0; i < pruned->n; i++)
				dl->dom->on_final(dl, (int)pruned->e[i].tab, dl_je_key(pruned, &pruned->e[i]));
		dl_jblock_free(dl, pruned);
		pruned = next;
	}
}

void dl_journal_drop(struct dl *dl, struct jblock *b)
{
	dl_journal_unlink(dl, b);
	note_final(dl, b);
	if (dl->dom->on_final)
		for (uint32_t i = 0; i < b->n; i++)
			dl->dom->on_final(dl, (int)b->e[i].tab, dl_je_key(b, &b->e[i]));
	dl_jblock_free(dl, b);
}

void dl_add_undo_line(struct dl *dl, struct sb *sb, uint64_t number, const u256 *hash, int tab, const void *key,
	const void *before)
{
	sb_adds(sb, "{\"op\":\"undo\",\"block_number\":");
	sb_add_u64(sb, number);
	sb_adds(sb, ",\"block_hash\":\"");
	sb_add_u256_hex(sb, hash);
	sb_adds(sb, "\",\"table\":\"");
	sb_adds(sb, dl->tabs[tab].name);
	sb_adds(sb, "\",\"key\":");
	dl_add_key(dl, sb, tab, key);
	sb_adds(sb, ",\"before\":");
	dl_add_row(dl, sb, tab, before);
	sb_adds(sb, "}\n");
}

/* ---------------------------------------------------------------- revert */

static void restore_row(struct dl *dl, int tab, const void *key, const void *before)
{
	void *cur = hm_get(&dl->tab[tab], key);
	if (!before) {
		if (cur)
			dl_del_row(dl, tab, cur);
		return;
	}
	if (cur) {
		dl_mut(dl, tab, cur);
		memcpy(cur, before, dl->tabs[tab].size);
		return;
	}
	dl_insert_row(dl, tab, before);
}

/* The table of a row that both journal blocks changed, or -1. */
static int overlap(const struct dl *dl, const struct jblock *a, const struct jblock *b)
{
	for (uint32_t i = 0; i < a->n; i++)
		for (uint32_t k = 0; k < b->n; k++)
			if (a->e[i].tab == b->e[k].tab &&
				!memcmp(dl_je_key(a, &a->e[i]), dl_je_key(b, &b->e[k]), dl->tabs[a->e[i].tab].keylen))
				return (int)a->e[i].tab;
	return -1;
}

/*
 * Undo entries [from, to) of journal block b, newest first: the touches of
 * the frame in progress get their before-images (history rows included),
 * then the rows are restored.
 */
static void undo_entries(struct dl *dl, struct jblock *b, uint32_t from, uint32_t to)
{
	dl->cur_block = b->number;
	/* Pass 1: before-images of everything the revert touches, history rows included. */
	for (uint32_t i = to; i-- > from;) {
		struct jentry *e = &b->e[i];
		const void *ekey = dl_je_key(b, e);
		const struct dl_table *t = &dl->tabs[e->tab];
		if (t->src < 0) {
			dl_touch_row(dl, (int)e->tab, ekey, hm_get(&dl->tab[e->tab], ekey));
			continue;
		}
		const struct dl_table *et = &dl->tabs[t->src];
		const void *ent = hm_get(&dl->tab[t->src], ekey);
		unsigned char img[DL_ROW_MAX];
		uint64_t latest = 0;
		if (ent) {
			memcpy(&latest, (const unsigned char *)ent + et->latest_off, 8);
			memset(img, 0, t->size);
			t->image(ent, b->number, img);
		}
		struct touch *tt = dl_ts_touch(dl, &dl->frame, (int)e->tab, ekey,
			ent && latest == b->number ? (void *)img : NULL, NULL);
		dl_release_row(dl, (int)tt->tab, tt->after);
		tt->after = dl_dup_row(dl, (int)e->tab, e->before);
	}
	/* Pass 2: restore, newest entry first. */
	for (uint32_t i = to; i-- > from;) {
		struct jentry *e = &b->e[i];
		if (dl->tabs[e->tab].src < 0)
			restore_row(dl, (int)e->tab, dl_je_key(b, e), e->before);
	}
}

/* Undo the block of the frame in progress (dl->f_hash) from the journal. */
int dl_revert(struct dl *dl)
{
	struct jblock *b = dl_jblock_find(dl->jhead, &dl->f_hash);
	char hb[U256_HEX_MAX];
	u256_format_hex(&dl->f_hash, hb);
	if (!b) {
		uint64_t lo = UINT64_MAX, hi = 0;
		for (struct jblock *x = dl->jhead; x; x = x->next) {
			lo = x->number < lo ? x->number : lo;
			hi = x->number > hi ? x->number : hi;
		}
		if (!dl->jhead)
			return error("unable to revert block %lld (%s): the undo journal is empty "
				     "(deeper than the finality depth %llu, or never applied)",
				(long long)dl->f_block, hb, (unsigned long long)dl->finality);
		return error("unable to revert block %lld (%s): not in the undo journal, which holds blocks %llu..%llu "
			     "(deeper than the finality depth %llu, or never applied)",
			(long long)dl->f_block, hb, (unsigned long long)lo, (unsigned long long)hi,
			(unsigned long long)dl->finality);
	}
	if (dl->f_block >= 0 && (uint64_t)dl->f_block != b->number)
		return error("unable to revert block %s: the frame says height %lld, the journal %llu", hb,
			(long long)dl->f_block, (unsigned long long)b->number);
	for (struct jblock *x = dl->jhead; x; x = x->next)
		if (x->number > b->number) {
			if (!dl->dom->revert_independent)
				return error("unable to revert block %llu (%s): newer block %llu is still applied "
					     "(reverts must come newest first)",
					(unsigned long long)b->number, hb, (unsigned long long)x->number);
			int tab = overlap(dl, b, x);
			if (tab >= 0)
				return error("unable to revert block %llu (%s): newer block %llu, still applied, changed a "
					     "row of table %s that this block changed (revert it first)",
					(unsigned long long)b->number, hb, (unsigned long long)x->number, dl->tabs[tab].name);
		}
	undo_entries(dl, b, 0, b->n);
	dl->st.reverted_blocks++;
	return 0;
}

/*
 * Revert every journaled block above the fork dl->fork.  Multi-block frames
 * interleave in the journal: rindexer writes one message per event type and
 * block range, so one message changes blocks 5..8 and the next (another
 * event type) 5..8 again.  A row the second changed at block 6 after the
 * first changed it at block 7 has, at block 6, a before-image holding block
 * 7's change.  So the journal is undone unit by unit (one frame's changes in
 * one block) in the reverse order of recording, across the blocks -- not
 * block by block.  A block's RevertBlock frame goes out (emit) once none of
 * its units is left and no higher block is still pending, with every row
 * touched since the frame before it: each frame holds the rows' images at
 * that point, so the frames applied in order end in the exact state.
 *
 * A kept block (at or below the fork, in the journal or final already)
 * changed after the first change above the fork is a fork inside an
 * interleaved range: its changes were made on
 * top of ones being reverted, and before-images cannot take those out and
 * keep these.  That reorg is refused before anything is reverted.
 *
 * Returns the number of frames emitted (0: nothing above the fork), -1 on
 * error.
 */
struct fork_block {
	struct jblock *b;
	uint32_t left; /* entries not undone yet: [0, left) */
	int sent;
};

int dl_revert_fork(struct dl *dl, struct sb *out, void (*emit)(struct dl *, struct sb *))
{
	struct fork_block *v = NULL;
	size_t nb = 0, cap = 0;
	uint64_t first = UINT64_MAX;
	const struct jblock *fb = NULL;
	for (struct jblock *x = dl->jhead; x; x = x->next) {
		if ((int64_t)x->number <= dl->fork)
			continue;
		if (nb == cap) {
			cap = cap ? 2 * cap : 16;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[nb++] = (struct fork_block){x, x->n, 0};
		if (x->n && x->e[0].unit < first) {
			first = x->e[0].unit;
			fb = x;
		}
	}
	for (const struct jblock *x = dl->jhead; x; x = x->next)
		if ((int64_t)x->number <= dl->fork && x->n && x->e[x->n - 1].unit > first) {
			free(v);
			return error("unable to revert to fork block %lld exactly: block %llu, which stays, was changed "
				     "after block %llu, above the fork (one message covered blocks on both sides of the fork "
				     "and another was interleaved with it: see docs/intuition.md, \"Known limits\"); "
				     "nothing was reverted",
				(long long)dl->fork, (unsigned long long)x->number, (unsigned long long)fb->number);
		}
	/* The same for a change that has left the journal since (its block is
	 * final now).  Known in this process only: units are numbered afresh
	 * when a snapshot is loaded (docs/intuition.md, "Known limits"). */
	if (fb && dl->final_unit > first) {
		free(v);
		return error("unable to revert to fork block %lld exactly: a block that is final now (at or below %llu) was "
			     "changed after block %llu, above the fork (one message covered blocks on both sides of the fork "
			     "and another was interleaved with it: see docs/intuition.md, \"Known limits\"); "
			     "nothing was reverted",
			(long long)dl->fork, (unsigned long long)dl->finalized, (unsigned long long)fb->number);
	}
	int64_t base = dl->f_driver;
	int sent = 0;
	for (;;) {
		/* The newest unit left, and the highest block with units left. */
		struct fork_block *next = NULL;
		uint64_t busy = 0;
		for (size_t i = 0; i < nb; i++)
			if (v[i].left) {
				if (!next || v[i].b->e[v[i].left - 1].unit > next->b->e[next->left - 1].unit)
					next = &v[i];
				if (v[i].b->number > busy)
					busy = v[i].b->number;
			}
		/* Emit the finished blocks above every pending one, highest first. */
		for (;;) {
			struct fork_block *done = NULL;
			for (size_t i = 0; i < nb; i++)
				if (!v[i].sent && !v[i].left && (!next || v[i].b->number > busy) &&
					(!done || v[i].b->number > done->b->number))
					done = &v[i];
			if (!done)
				break;
			dl->f_hash = done->b->hash;
			dl->f_block = (int64_t)done->b->number;
			dl->f_driver = base + sent++;
			done->sent = 1;
			emit(dl, out); /* drops the journal block */
			dl_ts_clear(dl, &dl->frame);
			dl->st.reverted_blocks++;
		}
		if (!next)
			break;
		uint32_t to = next->left, from = to;
		while (from > 0 && next->b->e[from - 1].unit == next->b->e[to - 1].unit)
			from--;
		undo_entries(dl, next->b, from, to);
		next->left = from;
	}
	free(v);
	return sent;
}
