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
	"options:\n"
	"  -d, --conninfo STR  libpq connection string or URI (default: PG* environment)\n"
	"  --pipeline NAME     the pipeline (pl_pipeline) whose checkpoint, journal and\n"
	"                      tables these frames belong to (default: $PL_PIPELINE, or\n"
	"                      the only registered pipeline)\n"
	"  --work-table T      mark work items done in T instead of the pipeline's work\n"
	"                      table (same id and done columns)\n"
	"  --no-work-table     do not touch a work table\n"
	"  --batch-max N       at most N frames per transaction in catch-up (default 500)\n"
	"  --lock-key K        advisory lock key of the single writer (default: derived\n"
	"                      from the pipeline name)\n"
	"  --verify-before     check each row equals its 'before' image before writing it;\n"
	"                      a mismatch rejects the frame\n"
	"  -h, --help          this text\n"
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
	O_VERIFY };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"conninfo", required_argument, NULL, 'd'},
		{"pipeline", required_argument, NULL, O_PIPELINE},
		{"work-table", required_argument, NULL, O_WORK},
		{"no-work-table", no_argument, NULL, O_NOWORK},
		{"batch-max", required_argument, NULL, O_BATCH},
		{"lock-key", required_argument, NULL, O_LOCK},
		{"verify-before", no_argument, NULL, O_VERIFY},
		{NULL, 0, NULL, 0},
	};
	const char *conninfo = NULL, *lock_key = NULL, *pipeline = NULL, *work_table = NULL;
	struct pgw_opts o = {NULL, 500, 0};
	int no_work = 0, c;
	struct opt op;

	die_set_prog(argv[0]);
	opt_init(&op, argc, argv, longopts, "d:", usage_text);
	while ((c = opt_next(&op)) != -1) {
		switch (c) {
		case 'd':
			conninfo = optarg;
			break;
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
		}
	}
	opt_no_operands(&op);
	opt_free(&op);

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

	PGconn *conn = pgc_connect_or_die(conninfo, "pg-write", 30);
	struct pip pip;
	pip_resolve(conn, pipeline, &pip);
	pip_set(&pip.work_table, work_table);
	if (no_work || !pip.done_column) /* no done column (a shard): the checkpoint alone */
		pip_set(&pip.work_table, "");
	o.pip = &pip;
	take_lock(conn, &pip, lock_key);
	struct pgw *w = pgw_new(conn, &o);
	/* A larger input pipe lets catch-up batches grow (fewer, larger
	 * transactions); harmless when stdin is not a pipe or the size is refused. */
#ifdef F_SETPIPE_SZ
	(void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, 1 << 20);
#endif
	int rc = pgw_run(w, STDIN_FILENO, stop_pipe[0], &stop_flag);
	pgw_free(w);
	pip_free(&pip);
	PQfinish(conn);
	io_close_stdout();
	return rc;
}
