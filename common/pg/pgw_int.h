/*
 * pgw_int.h -- the internals shared by the three files of the delta-frame
 * writer; not a public interface (that is pgwrite.h).
 *
 *   pgw_input.c  frame buffering, input lines -> validated frames (no libpq)
 *   pgw_stmt.c   per-table statements, frame -> queued statements in
 *                pipeline mode, journal entries, --verify-before
 *   pgwrite.c    lifecycle, transactions, quarantine, the read loop
 *
 * Everything one of them alone needs stays static in it.
 */
#ifndef PL_PGW_INT_H
#define PL_PGW_INT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "pg/catalog.h"
#include "pg/pgwrite.h"

/* ------------------------------------------------------------ parameters */

/* Text parameters of one statement: values copied NUL-terminated into b. */
struct pbuf {
	struct sb b;
	size_t *off;
	const char **v;
	int n, cap;
};

static inline void pb_reset(struct pbuf *p)
{
	sb_reset(&p->b);
	p->n = 0;
}

static inline void pb_slot(struct pbuf *p, size_t off)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 32;
		p->off = xrealloc(p->off, (size_t)p->cap * sizeof *p->off);
		p->v = xrealloc(p->v, (size_t)p->cap * sizeof *p->v);
	}
	p->off[p->n++] = off;
}

static inline void pb_add(struct pbuf *p, const char *s, size_t n)
{
	pb_slot(p, p->b.len);
	sb_add(&p->b, s, n);
	sb_addc(&p->b, '\0');
}

static inline void pb_null(struct pbuf *p)
{
	pb_slot(p, (size_t)-1);
}

static inline void pb_i64(struct pbuf *p, int64_t v)
{
	pb_slot(p, p->b.len);
	sb_add_i64(&p->b, v);
	sb_addc(&p->b, '\0');
}

static inline const char *const *pb_vals(struct pbuf *p)
{
	for (int i = 0; i < p->n; i++)
		p->v[i] = p->off[i] == (size_t)-1 ? NULL : p->b.buf + p->off[i];
	return p->v;
}

static inline void pb_free(struct pbuf *p)
{
	sb_free(&p->b);
	free(p->off);
	free(p->v);
}

/* ----------------------------------------------------------------- frames */

/* One complete (or, in the last slot, partial) frame: its lines verbatim. */
struct frame {
	struct sb text; /* every line, '\n'-terminated */
	size_t *loff;	/* start of each line in text */
	size_t nl, al;
	uint64_t line0; /* input line number of the begin line */
	int64_t driver_id, seq, finalized, block_number;
	int has_fin, has_block, has_undo, skipped;
	int final; /* "final": true -- the block needs no journal (docs/formats.md) */
	/* "after": the checkpoint the frame builds on (has_after 0: not said) */
	int has_after, after_none;
	int64_t after_driver, after_seq;
	int type;	/* enum fr_kind */
	struct sb hash; /* begin line's block_hash */
};

/* ---------------------------------------------------------- coalescing */

/* Per table (by id): can its rows go in multi-row statements, and the
 * array types of its columns (the parameter types of those statements). */
struct pgw_mt {
	int multi;
	unsigned *arrtyp;
	/* COPY staging (large batches): a temporary table ON COMMIT DELETE ROWS,
	 * created the first time it is needed; 2 while its creation is not
	 * committed (a rollback drops it again). */
	int stage;
	int nput; /* rows whose last line is a put, counted at the flush */
	struct sb s_create, s_copy, s_merge;
};

/* One row touched by the transaction: its last line (frame fi, line li). */
struct coal_ent {
	int tab, fi, li, put;
	size_t koff, klen, slot;
	uint64_t h;
};

/* ------------------------------------------------------------- the writer */

enum { K_CMD,
	K_CP,
	K_CPX, /* the checkpoint guard of a one-round-trip transaction (pgw_cpexp) */
	K_VERIFY,
	K_COMMIT,
	K_COAL }; /* a multi-row statement of several frames: the frame is not known */

struct expect {
	int frame; /* index into fr[], -1 for BEGIN/checkpoint/COMMIT */
	int kind;
	int line;
};

struct pgw {
	PGconn *conn;
	struct pgw_opts o;
	struct cat_table **tabs;
	int ntabs, atabs;
	struct frame *fr; /* batch_max + 1 slots; the last may hold a partial frame */
	int nfr;
	size_t batch_bytes;
	int in_frame;
	struct lr lr;
	struct js js, js2;
	struct sb tmp, tmp2, reason, out, sql, badline;
	struct sb work_label; /* "work_table", for the guard's messages */
	struct pbuf pb;
	struct expect *ex;
	int nex, aex;
	/* outcome of the transaction being run */
	int failed, fail_frame, fail_kind;
	/* checkpoint as read in the current transaction, or as the last one
	 * committed it (cp_known: the next transaction needs no read first) */
	int cp_known;
	int have_cp;
	int64_t cp_driver, cp_seq, cp_fin;
	/* journal pruning: last finalized pruned, lowest block journaled since */
	int64_t prune_fin, min_new_block;
	int64_t batch_fin; /* highest `finalized` of the frames in the transaction */
	/* journal entries waiting to be sent as one INSERT (same frame and block) */
	struct sb ja_tbl, ja_key, ja_before, ja_hash;
	int ja_n, ja_fi;
	int64_t ja_bn;
	/* rows of the transaction coalesced by (table, key): written once, final image */
	struct pgw_mt *mt;
	int amt;
	int coal; /* coalescing on for this transaction */
	struct coal_ent *ce;
	int nce, ace;
	int *cb; /* open-addressing buckets: entry index + 1, 0 empty */
	size_t cbcap;
	struct sb ckeys; /* the entries' key texts */
	struct sb *carr; /* one text[] literal per column being built */
	int acarr;
	struct sb wt_ids, wt_seqs; /* work items to mark: bigint[] literals */
	int wt_n, wt_fi;
	int readahead;	   /* read input while waiting for the server (pgw_run) */
	int backlog_wait;  /* ms a batch of final frames waits for more input */
	long copy_min;	   /* COPY-stage a table's puts from this many rows on (0: never) */
	struct sb copybuf; /* COPY data being sent */
	long commits, die_after;
	int reject_kind; /* enum fr_reject_kind of the reason */
	int stale;	 /* the failed frame builds on another checkpoint: restart, do not quarantine */
	/* observers (pgw_observe) */
	pgw_commit_fn *on_commit;
	pgw_idle_fn *on_idle;
	void *obs_ctx;
	struct pgw_item *obs_items;
	int obs_cap;
};

/* ----------------------------------------------------------- pgw_input.c */

/* Take one input line into frame slot w->nfr: 1 completed it, 0 more needed, -1 malformed. */
int pgw_take_line(struct pgw *w, const char *line, size_t len);
/* Line i of a buffered frame (without its '\n'). */
const char *pgw_frame_line(const struct frame *f, size_t i, size_t *len);
/* The table called name (n bytes); with create, registered (not looked up yet) when new. */
struct cat_table *pgw_get_table(struct pgw *w, const char *name, size_t n, int create);
/* Wait for input: 1 readable, 0 timed out, 2 asked to stop. */
int pgw_wait_input(int fd, int stop_fd, volatile sig_atomic_t *stop, int timeout_ms);

/* ------------------------------------------------------------ pgw_stmt.c */

/* Look up every table named by the batch that is not known yet (outside any transaction). */
void pgw_resolve_tables(struct pgw *w);
/* Die with 75 when the connection is gone, else 70. */
void pgw_conn_die(struct pgw *w, const char *what);
/* Sync and read every queued result. */
void pgw_segment_end(struct pgw *w);
/* Queue a bookkeeping statement: the pipeline name is its last parameter. */
void pgw_send_book(struct pgw *w, const char *stmt, int frame, int kind);
/* Queue a statement without parameters. */
void pgw_send_plain(struct pgw *w, const char *sql, int frame, int kind);
/* Queue every statement of frame fi.  -1 (w->reason set) if the frame cannot be applied. */
int pgw_send_frame(struct pgw *w, int fi);
/* Forget the coalesced rows (start of a transaction). */
void pgw_coal_reset(struct pgw *w);
/* Send the coalesced rows: per table one DELETE and one INSERT ... ON CONFLICT
 * over unnest(arrays).  frame: the frame to blame on an error, or -1 (K_COAL). */
void pgw_coal_flush(struct pgw *w, int frame);
void pgw_coal_free(struct pgw *w);
/* The transaction ended (committed or not): staging tables created in it stay or are gone. */
void pgw_stage_end(struct pgw *w, int committed);
/* Read available input without waiting (read-ahead between frames). */
void pgw_readahead_poll(struct pgw *w);
/* Prune the journal up to the transaction's highest `finalized`, if that can delete anything. */
void pgw_send_prune(struct pgw *w, int fi);

#endif
