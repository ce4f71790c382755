/*
 * apply.c -- the apply loop: event frames in, delta frames out.
 *
 * Every mutation a handler makes goes through dl_mut / dl_update /
 * dl_new_row / dl_del_row (rows.c), which keep the first before-image of
 * each (table, key) touched in the frame and, in multi-block frames, in
 * the current block (for the undo journal).  At the end of a frame the
 * touched rows are compared with their before-images and the changes are
 * written in canonical order.
 */
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "delta/delta_int.h"
#include "frame/frame.h"

/* Close the current block of a multi-block frame: emit its undo lines. */
static void close_block(struct dl *dl)
{
	if (!dl->blk_open)
		return;
	dl_close_hist(dl);
	if (dl->multi) {
		struct outl *v;
		size_t n = dl_changed_sorted(dl, &dl->blk, &v, 1);
		struct jblock *pb = NULL;
		uint64_t unit = n ? ++dl->junit : 0; /* this frame's changes in this block */
		for (size_t i = 0; i < n; i++) {
			struct touch *t = v[i].t;
			if (!pb) {
				/* pending journal blocks of this frame, in creation order */
				for (pb = dl->pending; pb && !u256_eq(&pb->hash, &dl->cur_hash); pb = pb->next)
					;
				if (!pb) {
					pb = xcalloc(1, sizeof *pb);
					pb->number = dl->cur_block;
					pb->hash = dl->cur_hash;
					struct jblock **pp = &dl->pending;
					while (*pp)
						pp = &(*pp)->next;
					*pp = pb;
				}
			}
			dl_add_undo_line(dl, &dl->undo, dl->cur_block, &dl->cur_hash, (int)t->tab, t->key, t->before);
			dl_jblock_add(dl, pb, (int)t->tab, t->key, t->before, unit);
			t->before = NULL; /* ownership moved to the journal */
		}
		dl_ts_clear(dl, &dl->blk);
	}
	dl->blk_open = 0;
}

static void open_block(struct dl *dl, uint64_t number, const u256 *hash, uint64_t ts)
{
	dl->cur_block = number;
	dl->cur_hash = *hash;
	dl->cur_time = ts;
	dl->blk_open = 1;
	if (number > dl->f_maxblock)
		dl->f_maxblock = number;
}

/* Undo all in-memory effects of the frame in progress (EOF mid-frame). */
static void rollback_frame(struct dl *dl)
{
	for (uint32_t i = dl->frame.n; i-- > 0;) {
		struct touch *t = dl->frame.list[i];
		if (dl->tabs[t->tab].src >= 0)
			continue;
		void *cur = hm_get(&dl->tab[t->tab], t->key);
		if (cur)
			dl_unstore_row(dl, (int)t->tab, cur);
		if (t->before)
			dl_store_row(dl, (int)t->tab, t->before);
	}
}

static void reset_frame(struct dl *dl)
{
	dl_ts_clear(dl, &dl->frame);
	dl_ts_clear(dl, &dl->blk);
	dl->nhist = 0;
	while (dl->pending) {
		struct jblock *n = dl->pending->next;
		dl_jblock_free(dl, dl->pending);
		dl->pending = n;
	}
	sb_reset(&dl->undo);
	dl->in_frame = dl->skipping = dl->multi = dl->blk_open = dl->f_final = 0;
	dl->f_maxblock = 0;
	dl->f_head = -1;
}

/* ---------------------------------------------------------------- frames */

/* An error of frame order (not of a line's own syntax): returns rc. */
static int framing(struct dl *dl, int rc)
{
	dl->err_kind = FR_REJ_FRAMING;
	return rc;
}

/*
 * "prev": the work item just before this one in the work table (pg-listen
 * says so).  It must be the one our state ends with: otherwise items were
 * applied by someone else meanwhile (a standby behind the active writer)
 * and our state is stale -- not bad input: restart from a fresh snapshot.
 */
static int check_prev(struct dl *dl)
{
	int p = js_get(&dl->js, 0, "prev");
	if (p < 0)
		return 0; /* not said (hand-written frames, replays) */
	int64_t pd = -1, ps = -1;
	if (dl->js.t[p].type != JS_NULL &&
		(dl->js.t[p].type != JS_OBJ || js_u63(&dl->js, js_get(&dl->js, p, "driver_id"), &pd) < 0 ||
			js_u63(&dl->js, js_get(&dl->js, p, "seq"), &ps) < 0))
		return error("field 'prev' is not null or an object with driver_id and seq");
	if (pd < 0 ? !dl->have_cp : dl->have_cp && pd == dl->cp_driver && ps == dl->cp_seq)
		return 0;
	dl->err_kind = FR_REJ_STALE;
	if (!dl->have_cp)
		return error("stale state: work item %lld follows item %lld (seq %lld), but nothing was applied here yet "
			     "(restart from a fresh snapshot)",
			(long long)dl->f_driver, (long long)pd, (long long)ps);
	if (pd < 0)
		return error("stale state: work item %lld is the first, but this state has applied item %lld (seq %lld)",
			(long long)dl->f_driver, (long long)dl->cp_driver, (long long)dl->cp_seq);
	return error("stale state: work item %lld follows item %lld (seq %lld), but this state ends with item %lld "
		     "(seq %lld): items were applied elsewhere meanwhile (restart from a fresh snapshot)",
		(long long)dl->f_driver, (long long)pd, (long long)ps, (long long)dl->cp_driver, (long long)dl->cp_seq);
}

/*
 * "reverts": every block of the reorg this revert starts or continues,
 * newest first (block-fetch reads them from the work table).  All of them
 * must be in the undo journal, or the reorg is refused now -- before any
 * of its reverts is written -- instead of half-way through.
 */
static int check_reorg(struct dl *dl)
{
	int arr = js_get(&dl->js, 0, "reverts");
	if (arr < 0)
		return 0;
	if (dl->js.t[arr].type != JS_ARR)
		return error("field 'reverts' is not an array");
	uint64_t prev_number = UINT64_MAX, lo = UINT64_MAX, hi = 0;
	for (const struct jblock *x = dl->jhead; x; x = x->next) {
		lo = x->number < lo ? x->number : lo;
		hi = x->number > hi ? x->number : hi;
	}
	int t = js_first(&dl->js, arr);
	for (uint32_t i = 0; i < dl->js.t[arr].n; i++, t = js_sibling(&dl->js, t)) {
		const char *s;
		size_t n;
		u256 h;
		if (js_str(&dl->js, t, &dl->tmp2, &s, &n) < 0 ||
			(dl->dom->hash256 ? u256_parse_hex(&h, s, n) : felt_parse(&h, s, n)) < 0)
			return error("reverts[%u] is not a block hash", i);
		if (i == 0 && !u256_eq(&h, &dl->f_hash))
			return error("reverts[0] is not the frame's block_hash");
		const struct jblock *b = dl_jblock_find(dl->jhead, &h);
		char hb[U256_HEX_MAX];
		u256_format_hex(&h, hb);
		dl->err_kind = FR_REJ_REVERT;
		if (!b && !dl->jhead)
			return error("unable to revert a reorg of %u blocks: block %s is not in the undo journal, which is empty "
				     "(deeper than the finality depth %llu); nothing of the reorg was applied",
				dl->js.t[arr].n, hb, (unsigned long long)dl->finality);
		if (!b)
			return error("unable to revert a reorg of %u blocks: block %s (number %u of the %u to "
				     "revert, newest first) is not in the undo journal, which holds blocks %llu..%llu (deeper than the finality depth %llu); nothing of "
				     "the reorg was applied",
				dl->js.t[arr].n, hb, i + 1, dl->js.t[arr].n, (unsigned long long)lo, (unsigned long long)hi,
				(unsigned long long)dl->finality);
		if (b->number >= prev_number)
			return error("unable to revert a reorg of %u blocks: block %llu (%s) is not older than the block "
				     "reverted before it (reverts must come newest first); nothing of the reorg was applied",
				dl->js.t[arr].n, (unsigned long long)b->number, hb);
		prev_number = b->number;
		dl->err_kind = FR_REJ_SYNTAX;
	}
	return 0;
}

static int frame_begin(struct dl *dl)
{
	int64_t ts;
	if (dl->in_frame)
		return framing(dl, error("'begin' inside the frame of driver event %lld (missing 'end')", (long long)dl->f_driver));
	if (dl_get_i64(dl, 0, "driver_id", &dl->f_driver, 1) < 0 || dl_get_i64(dl, 0, "seq", &dl->f_seq, 1) < 0)
		return -1;
	int tt = js_get(&dl->js, 0, "type");
	if (tt < 0 || dl->js.t[tt].type != JS_STR)
		return error("missing field 'type'");
	dl->kind = fr_kind_of(&dl->js, tt);
	if (dl->kind < 0) {
		const char *s;
		size_t n;
		js_str(&dl->js, tt, &dl->tmp2, &s, &n);
		return error("unknown driver event type '%.*s'", (int)(n > 40 ? 40 : n), s);
	}
	if (dl_get_i64(dl, 0, "block_number", &dl->f_block, dl->kind != FR_KIND_REVERT) < 0 ||
		dl_field_block_hash(dl, 0, "block_hash", &dl->f_hash) < 0 || dl_get_i64(dl, 0, "timestamp", &ts, 0) < 0)
		return -1;
	/* "head" (docs/formats.md): the chain head when the block was fetched,
	 * present only while the block is on the canonical chain.  A block at
	 * least `finality` below it is final already: no undo journal for it. */
	int64_t head = -1;
	if (dl_get_i64(dl, 0, "head", &head, 0) < 0)
		return -1;
	dl->f_final = dl->kind == FR_KIND_BLOCK && head >= 0 && dl->f_block >= 0 &&
		      (uint64_t)dl->f_block + dl->finality <= (uint64_t)head;
	/* a multi-block frame (CatchupVault: a Redis message) is final when all its
	 * blocks are: decided at its end, when they are known */
	dl->f_head = dl->kind == FR_KIND_RANGE ? head : -1;
	dl->in_frame = 1;
	dl->multi = dl->kind == FR_KIND_RANGE;
	dl->fork = -1;
	int fk = dl->kind == FR_KIND_REVERT ? js_get(&dl->js, 0, "fork_block") : -1;
	if (fk >= 0 && js_u63(&dl->js, fk, &dl->fork) < 0)
		return error("field 'fork_block' is not a non-negative integer");
	if (dl->have_cp && (dl->f_seq < dl->cp_seq || (dl->f_seq == dl->cp_seq && dl->f_driver <= dl->cp_driver))) {
		dl->skipping = 1;
		return 0;
	}
	if (check_prev(dl) < 0)
		return -1;
	if (dl->kind == FR_KIND_REVERT && dl->fork < 0 && check_reorg(dl) < 0)
		return -1;
	if (dl->fork >= 0 && (uint64_t)dl->fork < dl->finalized) {
		/* blocks above the fork may have left the journal: fail closed, before any revert */
		dl->err_kind = FR_REJ_REVERT;
		return error("unable to revert to fork block %lld: blocks up to %llu are final (they left the undo journal, "
			     "finality depth %llu); nothing of the reorg was applied",
			(long long)dl->fork, (unsigned long long)dl->finalized, (unsigned long long)dl->finality);
	}
	if (dl->kind == FR_KIND_BLOCK) {
		open_block(dl, (uint64_t)dl->f_block, &dl->f_hash, ts < 0 ? 0 : (uint64_t)ts);
		if (dl->dom->block) {
			dl->err_kind = FR_REJ_INVARIANT;
			if (dl->dom->block(dl) < 0)
				return -1;
			dl->err_kind = FR_REJ_SYNTAX;
		}
	}
	if (dl->kind == FR_KIND_RANGE && (uint64_t)dl->f_block > dl->f_maxblock)
		dl->f_maxblock = (uint64_t)dl->f_block;
	return 0;
}

static int frame_event(struct dl *dl)
{
	int64_t bn, ts;
	u256 bh;
	if (!dl->in_frame)
		return framing(dl, error("event outside a frame"));
	if (dl->skipping || dl->kind == FR_KIND_REVERT)
		return 0; /* already applied / a revert undoes from the journal */
	if (dl_get_i64(dl, 0, "block_number", &bn, 1) < 0 || dl_field_block_hash(dl, 0, "block_hash", &bh) < 0 ||
		dl_get_i64(dl, 0, "timestamp", &ts, 0) < 0)
		return -1;
	if (dl->kind == FR_KIND_BLOCK) {
		if ((uint64_t)bn != dl->cur_block || !u256_eq(&bh, &dl->cur_hash))
			return framing(dl, error("event of block %lld in the frame of block %lld", (long long)bn, (long long)dl->f_block));
		if (ts >= 0)
			dl->cur_time = (uint64_t)ts;
	} else if (!dl->blk_open || (uint64_t)bn != dl->cur_block || !u256_eq(&bh, &dl->cur_hash)) {
		if (dl->blk_open && (uint64_t)bn < dl->cur_block)
			return framing(dl, error("events out of chain order: block %lld after block %llu", (long long)bn,
						   (unsigned long long)dl->cur_block));
		close_block(dl);
		open_block(dl, (uint64_t)bn, &bh, ts < 0 ? 0 : (uint64_t)ts);
	}
	dl->err_kind = FR_REJ_INVARIANT; /* unless the handler says otherwise */
	int r = dl->dom->event(dl);
	if (r < 0)
		return -1;
	dl->err_kind = FR_REJ_SYNTAX;
	if (r != DL_ALREADY)
		dl->st.events++;
	if (r != DL_APPLIED)
		dl->st.ignored_events++;
	return 0;
}

static void add_begin(struct dl *dl, struct sb *out)
{
	char hash[U256_HEX_MAX];
	u256_format_hex(&dl->f_hash, hash);
	fr_add_begin(out, dl->f_driver, dl->f_seq, dl->kind, dl->f_block < 0 ? 0 : dl->f_block, hash);
	sb_adds(out, ",\"finalized\":");
	sb_add_u64(out, dl->finalized);
	if (dl->f_final)
		sb_adds(out, ",\"final\":true"); /* its block needs no journal (docs/formats.md) */
	/* The checkpoint this frame builds on: pg-write commits it only on top
	 * of exactly that checkpoint (a stale state never commits). */
	if (dl->have_cp) {
		sb_adds(out, ",\"after\":{\"driver_id\":");
		sb_add_i64(out, dl->cp_driver);
		sb_adds(out, ",\"seq\":");
		sb_add_i64(out, dl->cp_seq);
		sb_addc(out, '}');
	} else {
		sb_adds(out, ",\"after\":null");
	}
	fr_close_obj(out);
}

/* Move the frame's before-images into the journal. */
static void commit_journal(struct dl *dl, struct outl *v, size_t n)
{
	if (dl->kind == FR_KIND_REVERT) {
		struct jblock *b = dl_jblock_find(dl->jhead, &dl->f_hash);
		dl_journal_unlink(dl, b);
		dl_jblock_free(dl, b);
		return;
	}
	struct jblock *fb = dl_journal_block(dl, (uint64_t)(dl->f_block < 0 ? 0 : dl->f_block), &dl->f_hash);
	if (dl->multi) {
		for (struct jblock *p = dl->pending; p; p = p->next) {
			struct jblock *b = dl_journal_block(dl, p->number, &p->hash);
			for (uint32_t i = 0; i < p->n; i++) {
				dl_jblock_add(dl, b, (int)p->e[i].tab, dl_je_key(p, &p->e[i]), p->e[i].before, p->e[i].unit);
				p->e[i].before = NULL;
			}
		}
	} else {
		uint64_t unit = n ? ++dl->junit : 0;
		for (size_t i = 0; i < n; i++) {
			dl_jblock_add(dl, fb, (int)v[i].t->tab, v[i].t->key, v[i].t->before, unit);
			v[i].t->before = NULL;
		}
	}
	/* A final block goes at once, as if pruned (the domain hears on_final). */
	if (dl->f_final && !dl->multi)
		dl_journal_drop(dl, fb);
	if (dl->f_final && dl->multi) { /* every block of the frame, and what earlier frames journaled of them */
		for (struct jblock *p = dl->pending; p; p = p->next) {
			struct jblock *b = dl_jblock_find(dl->jhead, &p->hash);
			if (b)
				dl_journal_drop(dl, b);
		}
		struct jblock *b = dl_jblock_find(dl->jhead, &dl->f_hash);
		if (b)
			dl_journal_drop(dl, b);
	}
	dl_journal_prune(dl);
}

static void emit_frame(struct dl *dl, struct sb *out);
static int fork_end(struct dl *dl, struct sb *out);

static int frame_end(struct dl *dl, struct sb *out)
{
	int64_t d;
	if (!dl->in_frame)
		return framing(dl, error("'end' outside a frame"));
	if (dl_get_i64(dl, 0, "driver_id", &d, 1) < 0)
		return -1;
	if (d != dl->f_driver)
		return framing(dl, error("'end' of driver event %lld inside the frame of %lld", (long long)d, (long long)dl->f_driver));
	if (dl->skipping) {
		dl->st.skipped_frames++;
		reset_frame(dl);
		return 0;
	}
	if (dl->kind == FR_KIND_REVERT && dl->fork < 0) {
		dl->err_kind = FR_REJ_REVERT;
		if (dl_revert(dl) < 0)
			return -1;
		dl->err_kind = FR_REJ_SYNTAX;
	} else {
		close_block(dl);
	}
	if (dl->multi && dl->f_head >= 0 && dl->f_maxblock + dl->finality <= (uint64_t)dl->f_head) {
		dl->f_final = 1;
		/* what "head" says is final is final from now on: a later reorg below
		 * it is refused (fail closed), whether or not the messages that
		 * showed the head get applied (a poison message among them) */
		if ((uint64_t)dl->f_head - dl->finality > dl->finalized)
			dl->finalized = (uint64_t)dl->f_head - dl->finality;
	}
	/* The new finality horizon. */
	if (dl->kind != FR_KIND_REVERT && dl->f_maxblock >= dl->finality && dl->f_maxblock - dl->finality > dl->finalized)
		dl->finalized = dl->f_maxblock - dl->finality;

	if (dl->fork >= 0)
		return fork_end(dl, out);
	emit_frame(dl, out);
	reset_frame(dl);
	return 0;
}

/* The delta frame of the frame in progress; commits its journal and checkpoint. */
static void emit_frame(struct dl *dl, struct sb *out)
{
	struct outl *v;
	size_t n = dl_changed_sorted(dl, &dl->frame, &v, 0);
	add_begin(dl, out);
	for (size_t i = 0; i < n; i++) {
		struct touch *t = v[i].t;
		size_t nl = dl->namelen[t->tab];
		sb_grow(out, 32 + nl + v[i].klen);
		char *o = out->buf + out->len;
		memcpy(o, v[i].after ? "{\"op\":\"put\",\"table\":\"" : "{\"op\":\"del\",\"table\":\"", 21);
		o += 21;
		memcpy(o, dl->tabs[t->tab].name, nl);
		o += nl;
		memcpy(o, "\",\"key\":", 8);
		o += 8;
		memcpy(o, dl->tmp.buf + v[i].koff, v[i].klen);
		o += v[i].klen;
		*o = '\0';
		out->len = (size_t)(o - out->buf);
		/* A final block keeps no journal: its lines need no before-image. */
		dl_add_images(dl, out, (int)t->tab, v[i].after, t->before, !dl->f_final);
		sb_add(out, "}\n", 2);
	}
	if (!dl->f_final) /* a final frame journals nothing */
		sb_add(out, dl->undo.buf ? dl->undo.buf : "", dl->undo.len);
	fr_add_end(out, dl->f_driver);

	commit_journal(dl, v, n);
	dl->have_cp = 1;
	dl->cp_driver = dl->f_driver;
	dl->cp_seq = dl->f_seq;
	dl->st.frames++;
}

/*
 * A RevertBlock frame with fork_block F (a source's reorg notice, e.g.
 * rindexer's __rindexer_reorg): every journaled block above F is reverted
 * (dl_revert_fork: in the reverse order of recording), each block as a
 * RevertBlock delta frame of its own (driver ids driver_id, driver_id+1,
 * ... under the same seq), so pg-write restores and drops each block's
 * journal as for any revert.  Nothing above F: one empty frame, so that the
 * work item is recorded.
 */
static int fork_end(struct dl *dl, struct sb *out)
{
	dl->err_kind = FR_REJ_REVERT;
	int sent = dl_revert_fork(dl, out, emit_frame);
	if (sent < 0)
		return -1;
	dl->err_kind = FR_REJ_SYNTAX;
	if (!sent) {
		dl->kind = FR_KIND_RANGE;
		dl->f_block = 0;
		u256_zero(&dl->f_hash);
		emit_frame(dl, out);
	}
	reset_frame(dl);
	return 0;
}

int dl_feed(struct dl *dl, const char *line, size_t len, struct sb *out)
{
	dl->err_kind = FR_REJ_SYNTAX;
	if (js_parse(&dl->js, line, len) < 0)
		return -1;
	if (dl->js.t[0].type != JS_OBJ)
		return error("line is not a JSON object");
	switch (fr_op(&dl->js)) {
	case FR_EVENT:
		return frame_event(dl);
	case FR_BEGIN:
		return frame_begin(dl);
	case FR_END:
		return frame_end(dl, out);
	case -1:
		if (js_get(&dl->js, 0, "op") < 0)
			return -1; /* "missing field 'op'" */
				   /* fall through */
	default:
		return error("unknown op in an event stream");
	}
}

int dl_finish(struct dl *dl)
{
	if (!dl->in_frame)
		return 0;
	if (!dl->skipping)
		rollback_frame(dl);
	reset_frame(dl);
	return 1;
}

/* ---------------------------------------------------------------- lifecycle */

struct dl *dl_new(const struct dl_domain *dom, uint64_t finality)
{
	struct dl *dl = xcalloc(1, sizeof *dl);
	dl->dom = dom;
	dl->tabs = dom->tabs;
	dl->finality = finality;
	dl->tab = xcalloc((size_t)dom->ntabs, sizeof *dl->tab);
	dl->rows = xcalloc((size_t)dom->ntabs, sizeof *dl->rows);
	sl_init(&dl->touches, sizeof(struct touch));
	dl->namelen = xcalloc((size_t)dom->ntabs, sizeof *dl->namelen);
	for (int i = 0; i < dom->ntabs; i++) {
		if (dom->tabs[i].keylen > DL_KEY_MAX || dom->tabs[i].size > DL_ROW_MAX)
			die_code(EXIT_SOFTWARE, "table '%s' of domain '%s' exceeds DL_KEY_MAX or DL_ROW_MAX",
				dom->tabs[i].name, dom->name);
		hm_init(&dl->tab[i], dom->tabs[i].keylen);
		sl_init(&dl->rows[i], dom->tabs[i].size);
		dl->namelen[i] = strlen(dom->tabs[i].name);
	}
	dl_ts_init(&dl->frame);
	dl_ts_init(&dl->blk);
	js_init(&dl->js);
	dl->domstate = dom->init ? dom->init(dl) : NULL;
	return dl;
}

void dl_free(struct dl *dl)
{
	if (!dl)
		return;
	reset_frame(dl);
	if (dl->dom->fini)
		dl->dom->fini(dl, dl->domstate);
	for (int i = 0; i < dl->dom->ntabs; i++) {
		size_t pos = 0;
		void *r;
		while ((r = hm_next(&dl->tab[i], &pos)))
			dl_release_row(dl, i, r);
		hm_free(&dl->tab[i]);
	}
	free(dl->tab);
	while (dl->jhead) {
		struct jblock *n = dl->jhead->next;
		dl_jblock_free(dl, dl->jhead);
		dl->jhead = n;
	}
	dl_ts_free(dl, &dl->frame);
	dl_ts_free(dl, &dl->blk);
	for (int i = 0; i < dl->dom->ntabs; i++)
		sl_free(&dl->rows[i]);
	free(dl->rows);
	sl_free(&dl->touches);
	free(dl->outv);
	free(dl->namelen);
	free(dl->outtmp);
	free(dl->hist_pending);
	js_free(&dl->js);
	sb_free(&dl->tmp);
	sb_free(&dl->tmp2);
	sb_free(&dl->undo);
	dl_texts_free(dl);
	free(dl);
}

void *dl_dom(struct dl *dl)
{
	return dl->domstate;
}

struct js *dl_js(struct dl *dl)
{
	return &dl->js;
}

struct sb *dl_scratch(struct dl *dl)
{
	return &dl->tmp2;
}

uint64_t dl_block(const struct dl *dl)
{
	return dl->cur_block;
}

uint64_t dl_time(const struct dl *dl)
{
	return dl->cur_time;
}

const struct dl_stats *dl_stats(const struct dl *dl)
{
	return &dl->st;
}

void dl_describe_stats(struct dl *dl, struct sb *out)
{
	const struct dl_stats *s = &dl->st;
	sb_addf(out, "frames %llu, skipped %llu, events %llu, ignored %llu, reverted blocks %llu",
		(unsigned long long)s->frames, (unsigned long long)s->skipped_frames, (unsigned long long)s->events,
		(unsigned long long)s->ignored_events, (unsigned long long)s->reverted_blocks);
	if (dl->dom->stats)
		dl->dom->stats(dl, out);
}

void dl_describe(const struct dl *dl, struct sb *out)
{
	sb_adds(out, "rows:");
	for (int t = 0; t < dl->dom->ntabs; t++)
		if (dl->tabs[t].src < 0)
			sb_addf(out, " %s %zu", dl->tabs[t].name, dl->tab[t].n);
	size_t blocks = 0, entries = 0;
	for (const struct jblock *b = dl->jhead; b; b = b->next) {
		blocks++;
		entries += b->n;
	}
	sb_addf(out, "; undo journal: %zu blocks, %zu entries, finalized %llu", blocks, entries,
		(unsigned long long)dl->finalized);
}

void dl_describe_memory(const struct dl *dl, struct sb *out)
{
	size_t rows = 0, maps = 0;
	sb_adds(out, "memory (KiB): rows");
	for (int t = 0; t < dl->dom->ntabs; t++) {
		rows += sl_bytes(&dl->rows[t]);
		maps += dl->tab[t].cap * sizeof(void *);
		if (sl_bytes(&dl->rows[t]))
			sb_addf(out, " %s %zu", dl->tabs[t].name, sl_bytes(&dl->rows[t]) >> 10);
	}
	size_t jent = 0;
	for (const struct jblock *b = dl->jhead; b; b = b->next)
		jent += b->cap * sizeof *b->e + b->kcap;
	sb_addf(out, "; all rows %zu, row maps %zu, journal entries %zu, touch records %zu", rows >> 10, maps >> 10,
		jent >> 10, sl_bytes(&dl->touches) >> 10);
}

int dl_error_kind(const struct dl *dl)
{
	return dl->err_kind;
}

void dl_set_error_kind(struct dl *dl, int kind)
{
	dl->err_kind = kind;
}

long long dl_current_driver_seq(const struct dl *dl, long long *seq)
{
	*seq = dl->in_frame ? (long long)dl->f_seq : -1;
	return dl->in_frame ? (long long)dl->f_driver : -1;
}

long long dl_current_driver(const struct dl *dl)
{
	return dl->in_frame ? (long long)dl->f_driver : -1;
}
