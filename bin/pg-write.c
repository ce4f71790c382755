/*
 * pg-write -- apply delta frames to PostgreSQL, one transaction per work
 * item, and acknowledge each frame on stdout once it has committed.
 *
 *   ep-apply | pg-write [--pipeline NAME] [--conninfo STR] [--work-table T | --no-work-table]
 *
 * The generic writer lives in common/pg/pgwrite.c; this file holds the
 * command line, the single-writer advisory lock and signal handling.
 * See docs/pg-write.md.
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "pg/pgconn.h"
#include "core/opt.h"
#include "pg/pgwrite.h"
#include "pg/pipeline.h"
#include "frame/frame.h"

static const char usage_text[] =
	"usage: pg-write [options] < delta-frames > acks\n"
	"\n"
	"Applies delta frames (docs/formats.md) to the tables they name, which must\n"
	"be registered in pl_state_tables for the pipeline, with the undo journal,\n"
	"the checkpoint and the work item, in one transaction per frame (several\n"
	"frames per transaction when more are already waiting on stdin).  Prints\n"
	"{\"op\":\"ack\",\"driver_id\":D,\"seq\":S} for each frame after its COMMIT.\n"
	"Frames at or below the pipeline's checkpoint are skipped (and acked again).\n"
	"\n"
	"options:\n" OPT_CONN_USAGE
	"                      (--connect-timeout default 30)\n"
	"  --pipeline NAME     the pipeline (pl_pipeline) whose checkpoint, journal and\n"
	"                      tables these frames belong to (default: $PL_PIPELINE, or\n"
	"                      the only registered pipeline)\n"
	"  --work-table T      mark work items done in T instead of the pipeline's work\n"
	"                      table (same id and done columns)\n"
	"  --no-work-table     do not touch a work table\n"
	"  --batch-max N       at most N frames per transaction in catch-up (default\n"
	"                      $PL_PGW_BATCH_MAX, else 500)\n"
	"  --lock-key K        advisory lock key of the single writer (default: derived\n"
	"                      from the pipeline name)\n"
	"  --verify-before     check each row equals its 'before' image before writing it;\n"
	"                      a mismatch rejects the frame\n"
	"  --stats-file FILE   rewrite FILE (atomically, at most every --stats-interval\n"
	"                      ms, default 1000) with this writer's counters: items,\n"
	"                      rows, reverted blocks, reorgs, commit latency (pl-status)\n"
	"  --log-level LEVEL   error, warn, info (default) or debug ($PL_LOG_LEVEL)\n"
	"  --help              this text\n"
	"  --version           print the version\n"
	"\n"
	"A second pg-write of the same pipeline waits as a standby (without reading\n"
	"stdin) until the lock is free.  SIGTERM: finish the current transaction, exit 0.\n"
	"\n"
	"exit status:\n"
	"  0   end of input (an incomplete last frame is discarded), or SIGTERM\n"
	"  64  usage error\n"
	"  65  bad input: a malformed line, or a frame the database rejects (recorded\n"
	"      in pl_quarantine; do not restart)\n"
	"  69  database unavailable at start-up (restart with backoff)\n"
	"  70  internal error\n"
	"  75  connection lost or transient failure (restart with backoff)\n"
	"  78  configuration error: bad conninfo, unknown pipeline, missing processor\n"
	"      tables (do not restart)\n";

static volatile sig_atomic_t stop_flag;
static int stop_pipe[2] = {-1, -1};

static void on_term(int sig)
{
	(void)sig;
	int e = errno;
	stop_flag = 1;
	if (stop_pipe[1] >= 0 && write(stop_pipe[1], "x", 1) < 0) {
		/* the pipe is full: a wake-up is pending anyway */
	}
	errno = e;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL); /* EINTR (SIGTERM) ends it early, as it should */
}

/*
 * --stats-file: this writer's counters for pl-status (docs/status.md), one
 * "name value" line each (histogram buckets "commit_bucket_us LE COUNT",
 * cumulative), rewritten whole (io_replace) after a commit at most every
 * --stats-interval ms, and whenever the writer goes idle with news.
 */
static const long commit_bounds_us[] = {1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	2500000, 5000000, 10000000};
#define NBOUNDS (sizeof commit_bounds_us / sizeof commit_bounds_us[0])
static struct stats {
	const char *path;
	long interval_ms;
	int64_t items, rows, transactions, reverted, reorgs, depth_last, depth_max, cur_depth;
	int64_t last_driver, last_seq, last_block, last_commit_ms, commit_sum_us;
	int64_t bucket[NBOUNDS + 1]; /* not cumulative; the last is +Inf */
	int in_reorg, dirty;
	long written_ms; /* monotonic ms of the last write */
} st = {.last_driver = -1, .last_seq = -1, .last_block = -1};

static long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stats_write(void)
{
	struct sb b = SB_INIT;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	sb_addf(&b, "# pl-stats 1\nprog pg-write\npid %ld\nupdated_ms %lld\n", (long)getpid(),
		(long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
	sb_addf(&b, "items_total %lld\nrows_total %lld\ntransactions_total %lld\n", (long long)st.items,
		(long long)st.rows, (long long)st.transactions);
	sb_addf(&b, "reverted_blocks_total %lld\nreorgs_total %lld\nreorg_depth_last %lld\nreorg_depth_max %lld\n",
		(long long)st.reverted, (long long)st.reorgs, (long long)st.depth_last, (long long)st.depth_max);
	sb_addf(&b, "last_driver_id %lld\nlast_seq %lld\nlast_block %lld\nlast_commit_ms %lld\n",
		(long long)st.last_driver, (long long)st.last_seq, (long long)st.last_block,
		(long long)st.last_commit_ms);
	int64_t cum = 0;
	for (size_t i = 0; i < NBOUNDS; i++) {
		cum += st.bucket[i];
		sb_addf(&b, "commit_bucket_us %ld %lld\n", commit_bounds_us[i], (long long)cum);
	}
	cum += st.bucket[NBOUNDS];
	sb_addf(&b, "commit_bucket_us +Inf %lld\ncommit_sum_us %lld\n", (long long)cum, (long long)st.commit_sum_us);
	if (io_replace(st.path, b.buf, b.len) < 0)
		warn("unable to write the stats file: %s (pl-status shows old figures)", err_msg());
	sb_free(&b);
	st.dirty = 0;
	st.written_ms = mono_ms();
}

static void stats_on_commit(void *ctx, const struct pgw_item *it, int n, int64_t tx_usec)
{
	(void)ctx;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	for (int i = 0; i < n; i++) {
		st.items++;
		st.rows += (int64_t)it[i].lines;
		if (it[i].type == FR_KIND_REVERT) {
			st.reverted++;
			if (!st.in_reorg) {
				st.reorgs++;
				st.cur_depth = 0;
			}
			st.in_reorg = 1;
			st.depth_last = ++st.cur_depth;
			if (st.cur_depth > st.depth_max)
				st.depth_max = st.cur_depth;
		} else {
			st.in_reorg = 0;
		}
		st.last_driver = it[i].driver_id;
		st.last_seq = it[i].seq;
		if (it[i].block_number >= 0)
			st.last_block = it[i].block_number;
	}
	st.transactions++;
	st.last_commit_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	st.commit_sum_us += tx_usec;
	size_t b = 0;
	while (b < NBOUNDS && tx_usec > commit_bounds_us[b])
		b++;
	st.bucket[b]++;
	st.dirty = 1;
	if (mono_ms() - st.written_ms >= st.interval_ms)
		stats_write();
}

static void stats_on_idle(void *ctx)
{
	(void)ctx;
	if (st.dirty)
		stats_write();
}

/* Take the pipeline's single-writer lock, waiting as a standby while another pg-write holds it. */
static void take_lock(PGconn *conn, const struct pip *p, const char *key)
{
	int said = 0;
	while (!pip_try_lock(conn, p, key)) {
		if (!said)
			note("waiting as standby: another pg-write of pipeline '%s' holds the advisory lock", p->name);
		said = 1;
		sleep_ms(getenv("PL_TEST_NO_SLEEP") ? 50 : 1000);
		if (stop_flag)
			exit(0);
	}
	if (said)
		note("lock taken, now the active writer");
}

enum { O_PIPELINE = OPT_LONG,
	O_WORK,
	O_NOWORK,
	O_BATCH,
	O_LOCK,
	O_VERIFY,
	O_STATS,
	O_STATS_INTERVAL };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		OPT_CONN_LONGOPTS,
		{"pipeline", required_argument, NULL, O_PIPELINE},
		{"work-table", required_argument, NULL, O_WORK},
		{"no-work-table", no_argument, NULL, O_NOWORK},
		{"batch-max", required_argument, NULL, O_BATCH},
		{"lock-key", required_argument, NULL, O_LOCK},
		{"verify-before", no_argument, NULL, O_VERIFY},
		{"stats-file", required_argument, NULL, O_STATS},
		{"stats-interval", required_argument, NULL, O_STATS_INTERVAL},
		{NULL, 0, NULL, 0},
	};
	const char *conninfo = NULL, *lock_key = NULL, *pipeline = NULL, *work_table = NULL;
	struct pgw_opts o = {NULL, 500, 0};
	st.interval_ms = 1000;
	int no_work = 0, c;
	struct opt op;

	die_set_prog(argv[0]);
	/* a pipeline's conf can set the catch-up batch (docs/pg-write.md) */
	const char *bm = getenv("PL_PGW_BATCH_MAX");
	if (bm && *bm)
		o.batch_max = (int)opt_u64("PL_PGW_BATCH_MAX", bm, 1, 100000);
	struct opt_conn oc;
	opt_conn_init(&oc);
	opt_init(&op, argc, argv, longopts, OPT_CONN_SHORTS, usage_text);
	while ((c = opt_next(&op)) != -1) {
		if (opt_conn(&oc, c, optarg))
			continue;
		switch (c) {
		case O_PIPELINE:
			pipeline = opt_str("--pipeline", optarg);
			break;
		case O_WORK:
			work_table = opt_str("--work-table", optarg);
			break;
		case O_NOWORK:
			no_work = 1;
			break;
		case O_BATCH:
			o.batch_max = (int)opt_u64("--batch-max", optarg, 1, 100000);
			break;
		case O_LOCK:
			(void)opt_i64("--lock-key", optarg, INT64_MIN, INT64_MAX);
			lock_key = optarg;
			break;
		case O_VERIFY:
			o.verify_before = 1;
			break;
		case O_STATS:
			st.path = opt_str("--stats-file", optarg);
			break;
		case O_STATS_INTERVAL:
			st.interval_ms = (long)opt_u64("--stats-interval", optarg, 0, 3600000);
			break;
		}
	}
	opt_no_operands(&op);
	opt_free(&op);
	conninfo = oc.dbname;
	pgc_use_options(&oc);

	if (pipe(stop_pipe) < 0)
		die_errno(EXIT_SOFTWARE, "unable to create a pipe");
	fcntl(stop_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(stop_pipe[1], F_SETFL, O_NONBLOCK);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pgc_set_stop(&stop_flag);

	PGconn *conn = pgc_connect_or_die(conninfo, "pg-write", 30);
	struct pip pip;
	pip_resolve(conn, pipeline, &pip);
	pip_set(&pip.work_table, work_table);
	if (no_work || !pip.done_column) /* no done column (a shard): the checkpoint alone */
		pip_set(&pip.work_table, "");
	o.pip = &pip;
	take_lock(conn, &pip, lock_key);
	struct pgw *w = pgw_new(conn, &o);
	if (st.path) {
		stats_write(); /* at once: pl-status sees the writer before its first commit */
		pgw_observe(w, stats_on_commit, stats_on_idle, NULL);
	}
	/* A larger input pipe lets catch-up batches grow (fewer, larger
	 * transactions); harmless when stdin is not a pipe or the size is refused. */
#ifdef F_SETPIPE_SZ
	(void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, 1 << 20);
#endif
	int rc = pgw_run(w, STDIN_FILENO, stop_pipe[0], &stop_flag);
	if (st.path && st.dirty)
		stats_write();
	pgw_free(w);
	pip_free(&pip);
	PQfinish(conn);
	io_close_stdout();
	return rc;
}
