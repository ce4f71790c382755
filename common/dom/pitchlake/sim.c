/*
 * sim.c -- chain-sim's engine (see sim.h): the chain around the model --
 * set-up, blocks, reorgs and the run loop; the vaults themselves are in
 * sim_life.c, the maths in sim_math.c, the output in sim_emit.c.
 *
 * Reorgs use a byte-level undo log rather than copies of the model: every
 * model write goes through sim_sv(), which records the old bytes in the log
 * of the block being built, so a block costs what it changed.  A ring of
 * the last --max-reorg-depth blocks keeps each block's log and its event
 * lines (repeated in the RevertBlock frame).  Event nonces, frame ids and
 * the random generator are outside the model and never go back, so a
 * replacement block is new, not a replay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/io.h"
#include "dom/pitchlake/sim.h"
#include "dom/pitchlake/sim_int.h"

/* The Starknet ETH token (spec §9). */
static const char eth_hex[] = "0x49d36570d4e46f48e99674bd3fcc84644ddd6b96f7c741b1562b82f9e004dc7";

/* ---- undo log ---- */

void sim_sv(struct sim *s, void *p, size_t n)
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

/* Undo one block: restore its saved bytes, newest first. */
static void blk_undo(struct blk *b)
{
	for (size_t i = b->nu; i-- > 0;)
		memcpy(b->u[i].p, b->saved.buf + b->u[i].off, b->u[i].n);
	b->nu = 0;
	sb_reset(&b->saved);
}

/* ---- blocks and reorgs ---- */

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
	uint64_t ts = s->have_head ? s->head_ts + sim_range(s, 2, 12) : s->o.start_time;
	sim_set64(s, &s->have_head, 1);
	sim_set64(s, &s->head, number);
	sim_set64(s, &s->head_ts, ts);
	s->number = number;
	s->ts = ts;
	u4 hash;
	sim_felt_rand(s, &hash);

	sim_block_prefix(s, number, &hash, ts);

	sim_vaults_block(s);
	if (b) {
		b->number = number;
		b->ts = ts;
		b->hash = hash;
	}
	sim_frame(s, 0, number, &hash, ts, s->body);
	s->st.blocks++;
}

/* Revert the newest k retained blocks (RevertBlock frames, newest first). */
static void reorg(struct sim *s)
{
	unsigned k = 1 + (unsigned)sim_below(s, s->depth);
	if (k > s->nret)
		k = s->nret;
	if (!k)
		return;
	uint64_t old_head = s->head;
	for (unsigned i = 0; i < k; i++) {
		struct blk *b = &s->ring[(s->first + s->nret - 1) % s->depth];
		sim_frame(s, 1, b->number, &b->hash, b->ts, &b->body);
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
		s->rs[i] = sim_splitmix(&x);
	sim_math_init(s);
	sim_ev_init(s);

	u4 f;
	sim_felt_derive(&f, o->seed, TAG_MISC, 1, 0);
	sim_hexs_set(&s->fossil, &f);
	sim_felt_derive(&f, o->seed, TAG_MISC, 2, 0);
	sim_hexs_set(&s->orch_class, &f);
	sim_felt_derive(&f, o->seed, TAG_MISC, 3, 0);
	sim_hexs_set(&s->vault_class, &f);
	sim_felt_derive(&f, o->seed, TAG_MISC, 4, 0);
	sim_hexs_set(&s->deployer, &f);
	s->eth.len = (uint32_t)strlen(eth_hex);
	memcpy(s->eth.s, eth_hex, s->eth.len + 1);

	s->lphex = xcalloc(o->lps, sizeof *s->lphex);
	for (unsigned i = 0; i < o->lps; i++) {
		sim_felt_derive(&f, o->seed, TAG_LP, i, 0);
		sim_hexs_set(&s->lphex[i], &f);
	}
	s->obhex = xcalloc(o->buyers, sizeof *s->obhex);
	for (unsigned i = 0; i < o->buyers; i++) {
		sim_felt_derive(&f, o->seed, TAG_BUYER, i, 0);
		sim_hexs_set(&s->obhex[i], &f);
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
		v->kind = i < 3 ? i : sim_below(s, 3);
		v->deploy_at = o->start_block + (i ? sim_below(s, 2 * (uint64_t)i + 1) : 0);
		sim_felt_derive(&v->addr, o->seed, TAG_VAULT, i, 0);
		sim_felt_derive(&v->salt, o->seed, TAG_SALT, i, 0);
		sim_hexs_set(&v->hex, &v->addr);
		v->alpha = alphas[sim_below(s, 3)];
		v->strike_level = levels[sim_below(s, 5)];
		v->min_cap = caps[sim_below(s, 4)];
		if (v->kind == 0 && v->min_cap < 1000)
			v->min_cap = 1000; /* keeps strike * cap / BPS > 0 */
		v->transition = sim_range(s, 60, 300) * o->time_scale;
		v->auction_dur = sim_range(s, 120, 600) * o->time_scale;
		v->round_dur = sim_range(s, 120, 900) * o->time_scale;
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
	sim_math_free(s);
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
		if (s->undo_on && s->head >= s->reorg_floor && sim_chance(s, s->o.reorg_rate))
			reorg(s);
	}
	sim_flush(s);
	if (dump) {
		sim_dump_write(s, dump);
		if (fclose(dump))
			die_errno(EXIT_TEMPFAIL, "unable to write '%s'", o->dump_state);
	}
	if (st)
		*st = s->st;
	teardown(s);
	free(s);
}
