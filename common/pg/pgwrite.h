/*
 * pgwrite.h -- the generic delta-frame writer behind pg-write.
 *
 * pg-write knows no Pitchlake: it learns every table it is asked to write
 * (columns, types, primary key) from pg_catalog, after checking that the
 * table is registered in pl_state_tables, and applies "put" (upsert) and
 * "del" lines with per-table prepared statements in libpq pipeline mode.
 * One transaction per work item (several in catch-up), committed together
 * with the undo journal, the checkpoint and the work-table row; acks are
 * printed only after COMMIT.  See docs/pg-write.md.
 *
 * The code: pgwrite.c (lifecycle, transactions, quarantine, the read
 * loop), pgw_input.c (input lines -> frames), pgw_stmt.c (frames ->
 * statements, journal, --verify-before), their shared internals in
 * pgw_int.h; the catalog helpers it shares with pg-snapshot are
 * catalog.h.
 */
#ifndef PL_PGWRITE_H
#define PL_PGWRITE_H

#include <signal.h>
#include <stdint.h>

#include <libpq-fe.h>

struct pip;
struct pgw_opts {
	const struct pip *pip; /* the pipeline: bookkeeping key, work table (pipeline.h) */
	int batch_max;	       /* frames per transaction at most (>= 1) */
	int verify_before;     /* compare current rows with 'before' first */
};

/*
 * Prepare the fixed statements (checkpoint, journal, quarantine, work
 * table) on conn, which must hold the single-writer lock.  Dies with 78
 * when a processor table is missing, 75 when the connection is lost.
 */
struct pgw *pgw_new(PGconn *conn, const struct pgw_opts *opts);

/*
 * Read delta frames from fd until EOF or until *stop becomes non-zero
 * (checked between transactions; stop_fd, if >= 0, is polled while waiting
 * for input and wakes the reader).  Applies them and writes one ack line
 * per frame to stdout after the frame's transaction commits.  Returns the
 * exit status: 0 at EOF or on stop.  Bad input and rejected frames die
 * with 65 (after recording a pl_quarantine row), a lost connection with 75.
 */
int pgw_run(struct pgw *w, int fd, int stop_fd, volatile sig_atomic_t *stop);

void pgw_free(struct pgw *w);

/*
 * Observers (pg-write's --stats-file): on_commit after each committed
 * transaction with its work items and how long it took from BEGIN to the
 * end of COMMIT; on_idle when the writer is about to wait for input with
 * nothing buffered.  Either may be NULL.
 */
struct pgw_item {
	int64_t driver_id, seq, block_number; /* block_number -1: the frame named none */
	int type;			      /* enum fr_kind (frame/frame.h) */
	size_t lines;			      /* put/del/undo lines */
};
typedef void pgw_commit_fn(void *ctx, const struct pgw_item *items, int n, int64_t tx_usec);
typedef void pgw_idle_fn(void *ctx);
void pgw_observe(struct pgw *w, pgw_commit_fn *on_commit, pgw_idle_fn *on_idle, void *ctx);

#endif
