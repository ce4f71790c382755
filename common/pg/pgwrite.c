/*
 * pgwrite.c -- see pgwrite.h and docs/pg-write.md.  The writer's lifecycle,
 * its transactions and the read loop; the input side is pgw_input.c, the
 * statements pgw_stmt.c (internals shared by the three: pgw_int.h).
 *
 * Shape of one transaction (libpq pipeline mode, blocking socket):
 *
 *   segment 1: BEGIN; SELECT checkpoint FOR UPDATE; Sync       (one round trip)
 *   segment 2+: per frame not yet applied: work-table UPDATE, journal
 *              block, puts/dels (+ verify SELECTs), journal entries,
 *              revert/prune DELETEs; then checkpoint upsert; COMMIT; Sync
 *              (a Sync every SEGMENT statements keeps buffers bounded)
 *
 * Once this writer has committed, it knows the checkpoint, and segment 1
 * becomes a guard at the head of segment 2 -- BEGIN; the checkpoint FOR
 * UPDATE, failing (PLC01) unless it is the one last committed; ... COMMIT:
 * one round trip.  If the guard fails, the transaction is run again the
 * long way (tx_run).
 *
 * Every queued statement carries the index of its frame, so the first
 * error names the frame to quarantine.  The frames before it are then
 * re-applied in a new transaction, acked, and the program stops (65).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "pg/pgconn.h"
#include "frame/frame.h"
#include "pg/pgw_int.h"
#include "pg/pgwrite.h"
#include "pg/pipeline.h"

#define MAX_LINE FR_MAX_LINE		 /* docs/formats.md: lines are at most 16 MiB */
#define BATCH_BYTES ((size_t)32 << 20)	 /* close a catch-up batch at this much frame text */
#define QUARANTINE_MAX ((size_t)1 << 20) /* pl_quarantine.frame is truncated to 1 MB */
#define COPY_MIN 64L			 /* default PL_PGW_COPY_MIN (BENCH.md) */
#define BACKLOG_WAIT_MS 0		 /* default PL_PGW_BACKLOG_WAIT_MS: off (docs/pg-write.md) */

enum { TX_OK,
	TX_FAIL,
	TX_COMMIT_FAIL,
	TX_CP_MOVED }; /* tx_try only: the checkpoint guard failed, run it again */

/* ------------------------------------------------------------- lifecycle */

static void prepare_or_die(PGconn *conn, const char *name, const char *sql, int nparams, int code)
{
	PGresult *r = PQprepare(conn, name, sql, nparams, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		struct sb what = SB_INIT;
		sb_addf(&what, "prepare statement %s", name);
		pgc_die(conn, r, code, what.buf);
	}
	PQclear(r);
}

struct pgw *pgw_new(PGconn *conn, const struct pgw_opts *opts)
{
	struct pgw *w = xcalloc(1, sizeof *w);
	w->conn = conn;
	w->o = *opts;
	if (w->o.batch_max < 1)
		w->o.batch_max = 1;
	w->fr = xcalloc((size_t)w->o.batch_max + 1, sizeof *w->fr);
	lr_init(&w->lr, 0, MAX_LINE);
	js_init(&w->js);
	js_init(&w->js2);
	w->prune_fin = -1;
	w->min_new_block = INT64_MAX;
	const char *d = getenv("PL_TEST_DIE_AFTER");
	w->die_after = d ? atol(d) : 0;
	/* COPY staging from this many rows of a table in a batch (docs/pg-write.md). */
	d = getenv("PL_PGW_COPY_MIN");
	w->copy_min = d && *d ? atol(d) : COPY_MIN;
	/* How long a batch of final frames waits for more input (docs/pg-write.md). */
	d = getenv("PL_PGW_BACKLOG_WAIT_MS");
	w->backlog_wait = d && *d ? atoi(d) : BACKLOG_WAIT_MS;
	if (w->backlog_wait < 0 || w->backlog_wait > 1000)
		w->backlog_wait = w->backlog_wait < 0 ? 0 : 1000; /* never an endless poll */

	/*
	 * Every statement of pg-write reaches its rows through a key or an
	 * index.  The bookkeeping tables are small and churn (every transaction
	 * rewrites the checkpoint and inserts and prunes journal rows): until
	 * autovacuum and analyze catch up, the planner takes them for a few
	 * pages and scans them whole, dead rows included -- 2-5 ms per prune
	 * in a live run on a fresh database instead of 0.1 ms (BENCH.md).
	 */
	pgc_exec_or_die(conn, "SET enable_seqscan = off", PGRES_COMMAND_OK, "set the session's planner options");
	/*
	 * No JIT: with enable_seqscan off, a scan of a staging table costs 1e10
	 * and crosses jit_above_cost, and compiling the merge took 0.3 s per
	 * statement, more than executing it (BENCH.md).
	 */
	pgc_exec_or_die(conn, "SET jit = off", PGRES_COMMAND_OK, "set the session's planner options");
	/* The COPY staging tables of a batch (up to 32 MiB of frames) stay in memory. */
	pgc_exec_or_die(conn, "SET temp_buffers = '64MB'", PGRES_COMMAND_OK, "set the session's temp_buffers");
	/* Every bookkeeping statement is keyed by the pipeline: its last parameter (pgw_send_book). */
	prepare_or_die(conn, "pgw_cpget", "SELECT driver_id, seq, finalized FROM pl_checkpoint WHERE pipeline = $1 FOR UPDATE", 1,
		EXIT_CONFIG);
	/* The same check in the transaction's one round trip (tx_run): the
	 * checkpoint this writer committed last ($1 have, $2 driver, $3 seq, $4
	 * finalized) must still be the pipeline's, or the transaction aborts with
	 * PLC01 and is run again after reading it (pgw_cpget). */
	prepare_or_die(conn, "pgw_cpexp",
		"WITH c AS (SELECT driver_id, seq, finalized FROM pl_checkpoint WHERE pipeline = $5 FOR UPDATE)"
		" SELECT CASE WHEN count(*) <> CASE WHEN $1::boolean THEN 1 ELSE 0 END"
		" OR count(*) FILTER (WHERE driver_id = $2::bigint AND seq = $3::bigint AND finalized = $4::bigint)"
		" <> count(*) THEN pl_fail('PLC01', 'the checkpoint of pipeline ' || $5::text || ' moved') END FROM c",
		5, EXIT_CONFIG);
	prepare_or_die(conn, "pgw_cpput",
		"INSERT INTO pl_checkpoint (pipeline, driver_id, seq, finalized, updated_at)"
		" VALUES ($4, $1, $2, $3, now()) ON CONFLICT (pipeline) DO UPDATE SET"
		" driver_id = EXCLUDED.driver_id, seq = EXCLUDED.seq,"
		" finalized = EXCLUDED.finalized, updated_at = EXCLUDED.updated_at",
		4, EXIT_CONFIG);
	prepare_or_die(conn, "pgw_jb",
		"INSERT INTO pl_journal_block (block_number, block_hash, pipeline) VALUES ($1, $2, $3)"
		" ON CONFLICT (pipeline, block_hash) DO NOTHING",
		3, EXIT_CONFIG);
	/* A block's journal entries of one frame go in one statement: text arrays,
	 * inserted in array order (ids keep the journal order). */
	prepare_or_die(conn, "pgw_je",
		"INSERT INTO pl_journal (block_hash, tbl, key, before, block_number, pipeline)"
		" SELECT $1, u.t, u.k, u.b, $5, $6 FROM unnest($2::text[], $3::text[], $4::text[])"
		" WITH ORDINALITY AS u(t, k, b, o) ORDER BY u.o",
		6, EXIT_CONFIG);
	/* Entries are deleted explicitly (no foreign key: sql/006-journal-fast.sql). */
	prepare_or_die(conn, "pgw_rv",
		"WITH j AS (DELETE FROM pl_journal WHERE pipeline = $2 AND block_hash = $1)"
		" DELETE FROM pl_journal_block WHERE pipeline = $2 AND block_hash = $1",
		2, EXIT_CONFIG);
	/* $2: the last horizon pruned (-1: unknown).  The lower bound keeps the
	 * index scan off the dead entries of earlier prunes (a FIFO queue's
	 * classic slow-down until vacuum catches up). */
	prepare_or_die(conn, "pgw_fin",
		"WITH j AS (DELETE FROM pl_journal WHERE pipeline = $3 AND block_number > $2 AND block_number <= $1)"
		" DELETE FROM pl_journal_block WHERE pipeline = $3 AND block_number > $2 AND block_number <= $1",
		3, EXIT_CONFIG);
	const struct pip *pp = w->o.pip;
	if (pp->work_table) {
		/*
		 * WITH u AS (UPDATE work SET done = true WHERE id = $1 AND NOT done
		 *            RETURNING seq)
		 * SELECT CASE WHEN count(*) <> 1 THEN pl_fail('PLM01', ...)
		 *             WHEN min(seq) <> $2 THEN pl_fail('PLI01', ...) END FROM u
		 * A frame marks only an unprocessed item of its own seq; otherwise
		 * the error aborts the transaction (sql/009-work-guard.sql).
		 */
		struct sb tn = SB_INIT;
		sb_addf(&w->work_label, "\"%s\"", pp->work_table);
		cat_add_ident(&tn, conn, pp->work_table);
		sb_reset(&w->sql);
		sb_addf(&w->sql, "WITH u AS (UPDATE %s SET ", tn.buf);
		cat_add_ident(&w->sql, conn, pp->done_column);
		sb_adds(&w->sql, " = true WHERE ");
		cat_add_ident(&w->sql, conn, pp->id_column);
		sb_adds(&w->sql, " = $1::bigint AND NOT ");
		cat_add_ident(&w->sql, conn, pp->done_column);
		sb_adds(&w->sql, " RETURNING ");
		cat_add_ident(&w->sql, conn, pp->order[0]);
		sb_adds(&w->sql, "::bigint AS s) SELECT CASE WHEN count(*) <> 1 THEN pl_fail('PLM01', 'work item ' || $1::bigint"
				 " || ' is not an unprocessed row of work table ' || $3::text)"
				 " WHEN min(s) <> $2::bigint THEN pl_fail('PLI01', 'work item ' || $1::bigint || ' has ' || $4::text"
				 " || ' ' || min(s) || ' in work table ' || $3::text || ', the frame says seq ' || $2::bigint)"
				 " END FROM u");
		prepare_or_die(conn, "pgw_wt", w->sql.buf, 4, EXIT_CONFIG);
		/*
		 * The same guard for the frames of a transaction at once (coalescing):
		 * $1 ids, $2 seqs.  When it fails the frames are re-run one per
		 * transaction, which names the frame with pgw_wt's message.
		 */
		sb_reset(&w->sql);
		sb_addf(&w->sql, "WITH w AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS w(id, s)),"
				 " u AS (UPDATE %s AS x SET ",
			tn.buf);
		cat_add_ident(&w->sql, conn, pp->done_column);
		sb_adds(&w->sql, " = true FROM w WHERE x.");
		cat_add_ident(&w->sql, conn, pp->id_column);
		sb_adds(&w->sql, " = w.id AND NOT x.");
		cat_add_ident(&w->sql, conn, pp->done_column);
		sb_adds(&w->sql, " RETURNING x.");
		cat_add_ident(&w->sql, conn, pp->order[0]);
		sb_adds(&w->sql, "::bigint AS s, w.s AS want)"
				 " SELECT CASE WHEN count(*) <> (SELECT count(*) FROM w) THEN pl_fail('PLM01', 'a work item of the batch"
				 " is not an unprocessed row of work table ' || $3::text)"
				 " WHEN bool_or(s <> want) THEN pl_fail('PLI01', 'a work item of the batch has another ' || $4::text"
				 " || ' in work table ' || $3::text) END FROM u");
		sb_free(&tn);
		prepare_or_die(conn, "pgw_wtm", w->sql.buf, 4, EXIT_CONFIG);
	}
	return w;
}

void pgw_free(struct pgw *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->ntabs; i++) {
		cat_table_free(w->tabs[i]);
		free(w->tabs[i]);
	}
	free(w->tabs);
	for (int i = 0; i <= w->o.batch_max; i++) {
		sb_free(&w->fr[i].text);
		sb_free(&w->fr[i].hash);
		free(w->fr[i].loff);
	}
	free(w->fr);
	free(w->obs_items);
	lr_free(&w->lr);
	js_free(&w->js);
	js_free(&w->js2);
	sb_free(&w->tmp);
	sb_free(&w->tmp2);
	sb_free(&w->reason);
	sb_free(&w->ja_tbl);
	sb_free(&w->ja_key);
	sb_free(&w->ja_before);
	sb_free(&w->ja_hash);
	sb_free(&w->out);
	sb_free(&w->sql);
	sb_free(&w->badline);
	sb_free(&w->work_label);
	pgw_coal_free(w);
	pb_free(&w->pb);
	free(w->ex);
	free(w);
}

/* -------------------------------------------------------- transactions */

/*
 * Apply frames [first, first+n) in one transaction.  TX_OK: committed.
 * TX_FAIL: rolled back, *bad = the frame that failed, w->reason says why.
 * TX_COMMIT_FAIL: COMMIT itself failed (a deferred constraint).
 */
/* Does frame f build on the checkpoint (have, cd, cs)?  Frames that do not say: yes. */
static int builds_on(const struct frame *f, int have, int64_t cd, int64_t cs)
{
	if (!f->has_after)
		return 1;
	if (f->after_none)
		return !have;
	return have && f->after_driver == cd && f->after_seq == cs;
}

static void add_checkpoint(struct sb *sb, int have, int64_t d, int64_t s)
{
	if (have)
		sb_addf(sb, "driver_id %" PRId64 " seq %" PRId64, d, s);
	else
		sb_adds(sb, "none");
}

/*
 * One transaction.  The checkpoint it builds on: the one this writer
 * committed last, if it knows it (w->cp_known) -- then BEGIN, the guard
 * (pgw_cpexp), the frames and COMMIT go in one round trip, and if the guard
 * finds the checkpoint moved (PLC01) the transaction is rolled back and run
 * again the long way: read the checkpoint FOR UPDATE first, one more round
 * trip.
 */
static int tx_try(struct pgw *w, int first, int n, int *bad);

/* After a failed transaction: roll back what the server still holds. */
static void rollback(struct pgw *w)
{
	/* What the journal holds is unknown after a rollback: prune again next time. */
	w->prune_fin = -1;
	w->min_new_block = INT64_MAX;
	if (PQtransactionStatus(w->conn) != PQTRANS_IDLE) {
		PGresult *r = PQexec(w->conn, "ROLLBACK");
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			pgc_die(w->conn, r, EXIT_TEMPFAIL, "roll back");
		PQclear(r);
	}
	pgw_coal_reset(w);
}

static int tx_run(struct pgw *w, int first, int n, int *bad)
{
	int rc = tx_try(w, first, n, bad);
	if (rc == TX_CP_MOVED)
		rc = tx_try(w, first, n, bad); /* w->cp_known is 0 now */
	return rc;
}

static int tx_try(struct pgw *w, int first, int n, int *bad)
{
	int fast = w->cp_known;
	w->cp_known = 0; /* until this transaction commits */
	w->failed = 0;
	w->stale = 0;
	w->nex = 0;
	if (!PQenterPipelineMode(w->conn))
		pgw_conn_die(w, "enter pipeline mode");
	pgw_send_plain(w, "BEGIN", -1, K_CMD);
	pb_reset(&w->pb);
	if (fast) {
		pb_add(&w->pb, w->have_cp ? "t" : "f", 1);
		pb_i64(&w->pb, w->cp_driver);
		pb_i64(&w->pb, w->cp_seq);
		pb_i64(&w->pb, w->cp_fin);
		pgw_send_book(w, "pgw_cpexp", -1, K_CPX);
	} else {
		pgw_send_book(w, "pgw_cpget", -1, K_CP);
		pgw_segment_end(w);
		if (w->failed)
			die_code(EXIT_CONFIG, "unable to read the checkpoint: %s", w->reason.buf);
	}
	int have = w->have_cp;
	int64_t cd = w->cp_driver, cs = w->cp_seq, fin = w->cp_fin;
	w->batch_fin = -1;
	for (int i = first; i < first + n; i++)
		if (w->fr[i].has_fin && w->fr[i].finalized > w->batch_fin)
			w->batch_fin = w->fr[i].finalized;
	/* Coalescing (pgw_coal_flush) unless each row's before-image is checked. */
	w->coal = !w->o.verify_before;
	pgw_coal_reset(w);
	int applied = 0, last_applied = -1, local_frame = -1, local_stale = 0;
	struct sb local_reason = SB_INIT;
	for (int i = first; i < first + n && !w->failed; i++) {
		struct frame *f = &w->fr[i];
		f->skipped = have && (f->seq < cs || (f->seq == cs && f->driver_id <= cd));
		if (f->skipped)
			continue;
		if (!builds_on(f, have, cd, cs)) {
			/* Computed from a state this database no longer has (a standby
			 * that took over, a formation restarted behind another writer):
			 * committing it would write wrong rows. */
			local_frame = i;
			local_stale = 1;
			sb_adds(&local_reason, "it builds on checkpoint ");
			add_checkpoint(&local_reason, !f->after_none, f->after_driver, f->after_seq);
			sb_adds(&local_reason, " but the database's checkpoint is ");
			add_checkpoint(&local_reason, have, cd, cs);
			break;
		}
		if (pgw_send_frame(w, i) < 0) {
			/* Statements of earlier frames may still fail on the server:
			 * read them first, the earliest failure is the one to report. */
			local_frame = i;
			sb_add(&local_reason, w->reason.buf, w->reason.len);
			break;
		}
		have = 1;
		cs = f->seq;
		cd = f->driver_id;
		if (f->has_fin)
			fin = f->finalized;
		applied++;
		last_applied = i;
		if ((applied & 15) == 0)
			pgw_readahead_poll(w);
	}
	int more = !w->failed && local_frame < 0;
	if (more && applied)
		pgw_coal_flush(w, applied == 1 ? last_applied : -1);
	if (more && applied)
		pgw_send_prune(w, first + n - 1);
	if (more && applied && !w->failed) {
		pb_reset(&w->pb);
		pb_i64(&w->pb, cd);
		pb_i64(&w->pb, cs);
		pb_i64(&w->pb, fin);
		pgw_send_book(w, "pgw_cpput", -1, K_CMD);
	}
	if (more && !w->failed && !w->o.verify_before)
		pgw_send_plain(w, "COMMIT", -1, K_COMMIT);
	pgw_segment_end(w);
	if (more && !w->failed && w->o.verify_before) {
		pgw_send_plain(w, "COMMIT", -1, K_COMMIT);
		pgw_segment_end(w);
	}
	if (!PQexitPipelineMode(w->conn))
		pgw_conn_die(w, "leave pipeline mode");
	if (w->failed && w->fail_kind == K_CPX) {
		/* Everything above was decided on a checkpoint that is not the
		 * database's: nothing of it counts. */
		sb_free(&local_reason);
		pgw_stage_end(w, 0);
		rollback(w);
		return TX_CP_MOVED;
	}
	if (!w->failed && local_frame >= 0) {
		w->failed = 1;
		w->fail_frame = local_frame;
		w->fail_kind = K_CMD;
		w->stale = local_stale;
		sb_reset(&w->reason);
		sb_add(&w->reason, local_reason.buf, local_reason.len);
	}
	sb_free(&local_reason);
	pgw_stage_end(w, !w->failed);
	if (!w->failed) {
		/* Committed: the pipeline's checkpoint is what this transaction left. */
		w->cp_known = 1;
		w->have_cp = have;
		w->cp_driver = cd;
		w->cp_seq = cs;
		w->cp_fin = fin;
		return TX_OK;
	}
	rollback(w);
	/* A multi-row statement of several frames failed: find the frame as
	 * for a failed COMMIT, one frame per transaction. */
	if (w->fail_kind == K_COMMIT || w->fail_kind == K_COAL)
		return TX_COMMIT_FAIL;
	if (w->fail_frame < 0)
		die_code(EXIT_CONFIG, "unable to update the checkpoint: %s", w->reason.buf);
	*bad = w->fail_frame;
	return TX_FAIL;
}

static void ack(struct pgw *w, int first, int n)
{
	sb_reset(&w->out);
	for (int i = first; i < first + n; i++)
		fr_add_ack(&w->out, w->fr[i].driver_id, w->fr[i].seq);
	io_out(w->out.buf, w->out.len);
}

/* Record a pl_quarantine row in its own transaction (autocommit). */
static void quarantine(struct pgw *w, const struct frame *f, const char *text, size_t len)
{
	struct sb q = SB_INIT;
	if (len > QUARANTINE_MAX) {
		len = QUARANTINE_MAX;
		while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
			len--; /* do not cut a UTF-8 sequence */
	}
	sb_add(&q, text, len);
	if (pgc_quarantine_n(w->conn, w->o.pip->name, "pg-write", fr_reject_kind_name(w->reject_kind), f ? f->driver_id : -1,
		    f ? f->seq : -1, w->reason.buf ? w->reason.buf : "", q.buf ? q.buf : "", q.len) < 0) {
		if (PQstatus(w->conn) == CONNECTION_BAD)
			die_code(EXIT_TEMPFAIL, "unable to record the rejected frame in pl_quarantine: %s", err_msg());
		warn("unable to record the rejected frame in pl_quarantine: %s", err_msg());
	}
	sb_free(&q);
}

static _Noreturn void reject_frame(struct pgw *w, int fi)
{
	const struct frame *f = &w->fr[fi];
	quarantine(w, f, f->text.buf, f->text.len);
	die_code(EXIT_DATAERR, "unable to apply the frame of driver_id %" PRId64 " seq %" PRId64 " (input line %" PRIu64 "): %s (recorded in pl_quarantine)",
		f->driver_id, f->seq, f->line0, w->reason.buf);
}

static void committed(struct pgw *w)
{
	w->commits++;
	if (w->die_after && w->commits == w->die_after)
		_exit(1); /* crash test: committed, not acknowledged */
}

void pgw_observe(struct pgw *w, pgw_commit_fn *on_commit, pgw_idle_fn *on_idle, void *ctx)
{
	w->on_commit = on_commit;
	w->on_idle = on_idle;
	w->obs_ctx = ctx;
}

static int64_t usec_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Tell the commit observer about frames [first, first+n), committed in tx_usec. */
static void observe_commit(struct pgw *w, int first, int n, int64_t tx_usec)
{
	if (!w->on_commit)
		return;
	if (n > w->obs_cap) {
		w->obs_cap = n;
		w->obs_items = xrealloc(w->obs_items, (size_t)n * sizeof *w->obs_items);
	}
	for (int i = 0; i < n; i++) {
		const struct frame *f = &w->fr[first + i];
		w->obs_items[i] = (struct pgw_item){f->driver_id, f->seq, f->has_block ? f->block_number : -1, f->type,
			f->nl > 2 ? f->nl - 2 : 0};
	}
	w->on_commit(w->obs_ctx, w->obs_items, n, tx_usec);
}

/* Apply frames [first, first+n); ack them; on a rejected frame, quarantine and exit 65. */
static void apply_batch(struct pgw *w, int first, int n)
{
	int bad = -1;
	pgw_resolve_tables(w);
	int64_t t0 = usec_now();
	switch (tx_run(w, first, n, &bad)) {
	case TX_OK:
		committed(w);
		ack(w, first, n);
		observe_commit(w, first, n, usec_now() - t0);
		return;
	case TX_FAIL: {
		struct sb why = SB_INIT;
		int stale = w->stale;
		sb_add(&why, w->reason.buf, w->reason.len);
		if (bad > first)
			apply_batch(w, first, bad - first);
		sb_reset(&w->reason);
		sb_add(&w->reason, why.buf, why.len);
		sb_free(&why);
		if (stale)
			die_code(EXIT_TEMPFAIL,
				"unable to apply the frame of driver_id %" PRId64 " seq %" PRId64
				" (input line %" PRIu64 "): %s; the state it was computed from is stale "
				"(restart the pipeline from a fresh snapshot)",
				w->fr[bad].driver_id, w->fr[bad].seq, w->fr[bad].line0, w->reason.buf);
		reject_frame(w, bad);
	}
	case TX_COMMIT_FAIL:
	default:
		if (n == 1)
			reject_frame(w, first);
		for (int i = first; i < first + n; i++)
			apply_batch(w, i, 1);
		return;
	}
}

int pgw_run(struct pgw *w, int fd, int stop_fd, volatile sig_atomic_t *stop)
{
	w->lr.fd = fd;
	w->readahead = 1;
	for (;;) {
		enum { EV_NONE,
			EV_EOF,
			EV_STOP,
			EV_BAD } ev = EV_NONE;
		uint64_t bad_lineno = 0;
		while (w->nfr < w->o.batch_max && w->batch_bytes < BATCH_BYTES) {
			char *line;
			size_t len;
			int r = lr_getline(&w->lr, &line, &len);
			if (r < 0) {
				bad_lineno = w->lr.lineno + 1;
				sb_reset(&w->reason);
				sb_adds(&w->reason, err_msg());
				sb_reset(&w->badline);
				ev = EV_BAD;
				break;
			}
			if (r == 0) {
				if (w->lr.eof) {
					ev = EV_EOF;
					break;
				}
				if (!w->nfr && w->on_idle)
					w->on_idle(w->obs_ctx);
				/* A backlog (the last frame's block is final) waits a moment for
				 * more frames: fewer, larger transactions; live frames commit now. */
				int tmo = !w->nfr ? -1 : w->fr[w->nfr - 1].final ? w->backlog_wait
										 : 0;
				int wr = pgw_wait_input(fd, stop_fd, stop, tmo);
				if (wr == 2) {
					ev = EV_STOP;
					break;
				}
				if (wr == 0)
					break; /* nothing more buffered: commit what we have */
				if (lr_fill(&w->lr) < 0)
					die_errno(EXIT_TEMPFAIL, "unable to read input");
				continue;
			}
			r = pgw_take_line(w, line, len);
			if (r < 0) {
				bad_lineno = w->lr.lineno;
				sb_reset(&w->badline);
				sb_add(&w->badline, line, len);
				ev = EV_BAD;
				break;
			}
			if (r == 1) {
				w->batch_bytes += w->fr[w->nfr].text.len;
				w->nfr++;
			}
		}
		if (w->nfr)
			apply_batch(w, 0, w->nfr);
		/* The partial frame (if any) moves to slot 0. */
		if (w->nfr) {
			struct frame t = w->fr[0];
			w->fr[0] = w->fr[w->nfr];
			w->fr[w->nfr] = t;
		}
		w->nfr = 0;
		w->batch_bytes = 0;
		if (ev == EV_BAD) {
			const struct frame *f = w->in_frame ? &w->fr[0] : NULL;
			struct sb why = SB_INIT;
			sb_add(&why, w->reason.buf, w->reason.len);
			quarantine(w, f, w->badline.buf ? w->badline.buf : "", w->badline.len);
			die_code(EXIT_DATAERR, "unable to parse delta frame at line %" PRIu64 ": %s", bad_lineno, why.buf);
		}
		if (ev == EV_EOF) {
			if (w->in_frame || lr_partial(&w->lr))
				warn("discarding an incomplete frame at the end of the input (it will be delivered again)");
			return 0;
		}
		if (ev == EV_STOP || *stop)
			return 0;
	}
}
