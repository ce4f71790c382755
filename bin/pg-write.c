/*
 * pg-write -- apply delta frames to PostgreSQL, one transaction per work
 * item, and acknowledge each frame on stdout once it has committed.
 *
 *   ep-apply | pg-write [--conninfo STR] [--work-table T | --no-work-table]
 *
 * The generic writer lives in common/pgwrite.c; this file holds the
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
#include "pg/pgwrite.h"

static const char usage_text[] =
	"usage: pg-write [options] < delta-frames > acks\n"
	"\n"
	"Applies delta frames (design.md 3.3, docs/formats.md) to the tables they\n"
	"name (which must be listed in pl_state_tables), with the undo journal,\n"
	"the checkpoint and the work item, in one transaction per frame (several\n"
	"frames per transaction when more are already waiting on stdin).  Prints\n"
	"{\"op\":\"ack\",\"driver_id\":D,\"seq\":S} for each frame after its COMMIT.\n"
	"Frames at or below the checkpoint are skipped (and acked again).\n"
	"\n"
	"options:\n"
	"  --conninfo STR      libpq connection string or URI (default: PG* environment)\n"
	"  --work-table T      mark the work item done: UPDATE T SET is_processed = true\n"
	"                      WHERE id = driver_id (default: driver_events)\n"
	"  --no-work-table     do not touch a work table\n"
	"  --batch-max N       at most N frames per transaction in catch-up (default 500)\n"
	"  --lock-key K        advisory lock key of the single writer\n"
	"                      (default: hashtext('pitchlake-pg-write'))\n"
	"  --verify-before     check each row equals its 'before' image before writing it;\n"
	"                      a mismatch rejects the frame\n"
	"  -h, --help          this text\n"
	"\n"
	"A second pg-write on the same database waits as a standby (without reading\n"
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
	"  78  configuration error: bad conninfo, missing processor tables (do not restart)\n";

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

/* Take the single-writer lock, waiting as a standby while another pg-write holds it. */
static void take_lock(PGconn *conn, const char *key)
{
	const char *p[1] = {key};
	int said = 0;
	for (;;) {
		PGresult *r = PQexecParams(conn,
			"SELECT pg_try_advisory_lock(coalesce($1::bigint, hashtext('pitchlake-pg-write')::bigint))",
			1, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			pgc_die(conn, r, EXIT_TEMPFAIL, "take the advisory lock");
		int got = PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		if (got) {
			if (said)
				note("lock taken, now the active writer");
			return;
		}
		if (!said)
			note("waiting as standby: another pg-write holds the advisory lock");
		said = 1;
		sleep_ms(getenv("PL_TEST_NO_SLEEP") ? 50 : 1000);
		if (stop_flag)
			exit(0);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"conninfo", required_argument, NULL, 'c'},
		{"work-table", required_argument, NULL, 'w'},
		{"no-work-table", no_argument, NULL, 'W'},
		{"batch-max", required_argument, NULL, 'b'},
		{"lock-key", required_argument, NULL, 'k'},
		{"verify-before", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *conninfo = NULL, *lock_key = NULL;
	struct pgw_opts o = {"driver_events", 500, 0};
	int c;

	die_set_prog(argv[0]);
	io_init_stdout();
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'c':
			conninfo = optarg;
			break;
		case 'w':
			if (!*optarg)
				die_code(EXIT_USAGE, "unable to use an empty --work-table");
			o.work_table = optarg;
			break;
		case 'W':
			o.work_table = NULL;
			break;
		case 'b': {
			errno = 0;
			long n = strtol(optarg, &end, 10);
			if (errno || *end || n < 1 || n > 100000)
				die_code(EXIT_USAGE, "unable to use --batch-max '%s': want 1..100000", optarg);
			o.batch_max = (int)n;
			break;
		}
		case 'k':
			errno = 0;
			(void)strtoll(optarg, &end, 10);
			if (errno || *end || !*optarg)
				die_code(EXIT_USAGE, "unable to use --lock-key '%s': want a 64-bit integer", optarg);
			lock_key = optarg;
			break;
		case 'v':
			o.verify_before = 1;
			break;
		case 'h':
			io_out(usage_text, sizeof usage_text - 1);
			return 0;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fputs(usage_text, stderr);
		die_code(EXIT_USAGE, "unable to use argument '%s'", argv[optind]);
	}

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
	take_lock(conn, lock_key);
	struct pgw *w = pgw_new(conn, &o);
	/* A larger input pipe lets catch-up batches grow (fewer, larger
	 * transactions); harmless when stdin is not a pipe or the size is refused. */
#ifdef F_SETPIPE_SZ
	(void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, 1 << 20);
#endif
	int rc = pgw_run(w, STDIN_FILENO, stop_pipe[0], &stop_flag);
	pgw_free(w);
	PQfinish(conn);
	io_close_stdout();
	return rc;
}
