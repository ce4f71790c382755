/*
 * pg-listen -- emit one NDJSON line per unprocessed work item of a
 * pipeline's work table (pl_pipeline), in the order of its order columns,
 * each exactly once, forever (or until --once / --until-seq).
 *
 * LISTEN on the pipeline's channel first, then drain the table past the
 * last emitted order key, then wait on the socket, a timer and a self-pipe
 * for signals.  A notification only wakes us; its payload is dropped and
 * every wake-up (and every timer tick) re-runs the drain query.  A lost
 * connection is re-established with backoff, LISTEN is issued again and the
 * drain resumes from the last emitted item, so nothing is skipped or
 * repeated.  Output is written one batch of complete lines at a time; while
 * a slow reader keeps stdout (a pipe or FIFO) full, the socket is still read
 * and notifications are consumed, so this backend never holds back the
 * server's notification queue; they count as one wake-up afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "core/opt.h"
#include "pg/pgconn.h"
#include "pg/pglisten.h"
#include "pg/pipeline.h"

static const char usage_text[] =
	"usage: pg-listen [--pipeline NAME] [--conninfo STR] [--once] [--until-seq N]\n"
	"                 [--after-seq N] [--poll-interval MS] [--heartbeat SECONDS]\n"
	"                 [--connect-timeout SECONDS] [--work-table T] [--channel C]\n"
	"                 [--order COL,COL] [--done-column COL]\n"
	"\n"
	"Emit one line per unprocessed row of the pipeline's work table (registered in\n"
	"pl_pipeline), the row as JSON, in the order of its order columns, each once;\n"
	"wait for more (LISTEN on its channel + polling).  A pipeline whose registry row\n"
	"has no done column (a shard, sql/025) emits the items past its own checkpoint.\n"
	"\n" OPT_CONN_USAGE
	"  --pipeline NAME         the pipeline (default: $PL_PIPELINE, or the only one\n"
	"                          registered in pl_pipeline)\n"
	"  --once                  drain what is there now, then exit 0\n"
	"  --include-processed     processed items too (a replay of the whole history,\n"
	"                          as pl-verify does)\n"
	"  --until-seq N           exit 0 after emitting an item whose first order column\n"
	"                          is >= N\n"
	"  --after-seq N           start after first order column N (default: the start)\n"
	"  --poll-interval MS      re-query at least this often (default 1000)\n"
	"  --heartbeat SECONDS     check the LISTEN registration after this long without\n"
	"                          a notification (default 10)\n"
	"                          (--connect-timeout applies at start and after a lost\n"
	"                          connection; default 60)\n"
	"  --work-table T, --channel C, --order COLS, --done-column COL\n"
	"                          override the pipeline's work table (docs/formats.md)\n"
	"  --help                  this text\n"
	"  --log-level LEVEL       error, warn, info (default) or debug ($PL_LOG_LEVEL)\n"
	"  --version               print the version\n"
	"\n"
	"SIGTERM/SIGINT: finish the current line and exit 0.  Reconnections are reported\n"
	"on stderr.\n"
	"\n"
	"exit codes: 0 done (--once, --until-seq, signal); 64 usage; 69 database\n"
	"unavailable; 70 internal error; 75 transient failure (query or output failed);\n"
	"78 configuration (bad conninfo, authentication, unknown pipeline, schema not\n"
	"migrated)\n";

static int sigpipe_fd[2] = {-1, -1};
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	int saved = errno;
	(void)sig;
	stop = 1;
	if (write(sigpipe_fd[1], "x", 1) < 0) {
		/* the pipe is full: a wake-up is pending anyway */
	}
	errno = saved;
}

static void setup_signals(void)
{
	if (pipe(sigpipe_fd) < 0)
		die_errno(EXIT_SOFTWARE, "unable to create the signal pipe");
	for (int i = 0; i < 2; i++) {
		int fl = fcntl(sigpipe_fd[i], F_GETFL);
		if (fl < 0 || fcntl(sigpipe_fd[i], F_SETFL, fl | O_NONBLOCK) < 0 ||
			fcntl(sigpipe_fd[i], F_SETFD, FD_CLOEXEC) < 0)
			die_errno(EXIT_SOFTWARE, "unable to set up the signal pipe");
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: interrupt poll() */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static void drain_sigpipe(void)
{
	char buf[64];
	while (read(sigpipe_fd[0], buf, sizeof buf) > 0)
		;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct opts {
	const char *conninfo, *pipeline;
	const char *work_table, *channel, *order, *done_column;
	int once, include_done;
	int has_until;
	long long until_seq;
	long long after_seq;
	int has_after;
	long poll_ms;
	long heartbeat_ms;
	int connect_timeout;
};

enum { O_PIPELINE = OPT_LONG,
	O_ONCE,
	O_UNTIL,
	O_AFTER,
	O_POLL,
	O_HEARTBEAT,
	O_WORK,
	O_CHANNEL,
	O_ORDER,
	O_DONE,
	O_ALL };

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		OPT_CONN_LONGOPTS,
		{"pipeline", required_argument, NULL, O_PIPELINE},
		{"once", no_argument, NULL, O_ONCE},
		{"until-seq", required_argument, NULL, O_UNTIL},
		{"after-seq", required_argument, NULL, O_AFTER},
		{"poll-interval", required_argument, NULL, O_POLL},
		{"heartbeat", required_argument, NULL, O_HEARTBEAT},
		{"work-table", required_argument, NULL, O_WORK},
		{"channel", required_argument, NULL, O_CHANNEL},
		{"order", required_argument, NULL, O_ORDER},
		{"done-column", required_argument, NULL, O_DONE},
		{"include-processed", no_argument, NULL, O_ALL},
		{NULL, 0, NULL, 0},
	};
	struct opt op;
	int c;
	memset(o, 0, sizeof *o);
	o->conninfo = "";
	o->poll_ms = 1000;
	o->heartbeat_ms = 10000;
	o->connect_timeout = 60;
	struct opt_conn oc;
	opt_conn_init(&oc);
	opt_init(&op, argc, argv, longopts, OPT_CONN_SHORTS, usage_text);
	while ((c = opt_next(&op)) != -1) {
		if (opt_conn(&oc, c, optarg))
			continue;
		switch (c) {
		case O_PIPELINE:
			o->pipeline = opt_str("--pipeline", optarg);
			break;
		case O_ONCE:
			o->once = 1;
			break;
		case O_UNTIL:
			o->has_until = 1;
			o->until_seq = (long long)opt_i64("--until-seq", optarg, 0, INT64_MAX);
			break;
		case O_AFTER:
			o->has_after = 1;
			o->after_seq = (long long)opt_i64("--after-seq", optarg, 0, INT64_MAX);
			break;
		case O_POLL:
			o->poll_ms = (long)opt_u64("--poll-interval", optarg, 10, 86400000);
			break;
		case O_HEARTBEAT:
			o->heartbeat_ms = (long)opt_u64("--heartbeat", optarg, 1, 86400) * 1000;
			break;
		case O_WORK:
			o->work_table = opt_str("--work-table", optarg);
			break;
		case O_CHANNEL:
			o->channel = opt_str("--channel", optarg);
			break;
		case O_ORDER:
			o->order = opt_str("--order", optarg);
			break;
		case O_DONE:
			o->done_column = opt_str("--done-column", optarg);
			break;
		case O_ALL:
			o->include_done = 1;
			break;
		}
	}
	opt_no_operands(&op);
	opt_free(&op);
	if (oc.dbname)
		o->conninfo = oc.dbname;
	pgc_use_options(&oc);
	o->connect_timeout = pgc_wait_seconds(o->connect_timeout);
}

/*
 * A pipeline without a done column (a shard, sql/025) starts past its own
 * checkpoint: order (seq) or (seq, id), as the checkpoint records them.
 * 1 and pos set when there is a checkpoint, 0 when there is none yet.
 */
static int checkpoint_pos(PGconn *c, const struct pip *w, int64_t *pos)
{
	const char *vals[1] = {w->name};
	PGresult *r = PQexecParams(c, "SELECT seq, driver_id FROM pl_checkpoint WHERE pipeline = $1", 1, NULL, vals,
		NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		pgc_die(c, r, EXIT_TEMPFAIL, "read the checkpoint");
	int n = PQntuples(r);
	if (n == 1) {
		if (w->norder > 2)
			die_code(EXIT_CONFIG, "unable to follow the checkpoint of pipeline '%s': its work table has %d order"
					      " columns (at most 2: seq, id)",
				w->name, w->norder);
		pos[0] = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		if (w->norder == 2)
			pos[1] = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	}
	PQclear(r);
	return n == 1;
}

/* The pipeline's work table, from the registry, with the options' overrides. */
static void resolve_work(const struct opts *o, struct pip *w, int64_t *pos)
{
	PGconn *c = pgc_connect_or_die(o->conninfo, "pg-listen", o->connect_timeout);
	pip_resolve(c, o->pipeline, w);
	pip_set(&w->work_table, o->work_table);
	pip_set(&w->channel, o->channel);
	pip_set(&w->done_column, o->done_column);
	if (pip_set_order(w, o->order) < 0)
		opt_usage_error("unable to use --order '%s': %s", o->order, err_msg());
	if (!w->work_table || !w->channel || !w->id_column || w->norder == 0)
		die_code(EXIT_CONFIG, "unable to listen for pipeline '%s': it has no work table in pl_pipeline"
				      " (its work items come from another source)",
			w->name);
	if (!w->done_column && !o->include_done && !o->has_after)
		checkpoint_pos(c, w, pos);
	PQfinish(c);
}

/*
 * Writing to a slow reader.  When stdout is a pipe or FIFO it is made
 * non-blocking, and while the reader is behind we keep consuming the
 * database socket: a backend whose client stops reading holds back the
 * server's shared notification queue, and a full queue makes the
 * producer's commits fail.  Notifications that arrive meanwhile are only
 * remembered as "something new" (woken), never queued.
 */
static int out_nonblock;
static int woken;

static void out_init(void)
{
	struct stat st;
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISFIFO(st.st_mode)) {
		int fl = fcntl(STDOUT_FILENO, F_GETFL);
		if (fl >= 0 && fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK) == 0)
			out_nonblock = 1;
	}
}

/* Write all of buf; -1 if the connection was lost meanwhile (reconnect after). */
static int out_draining(struct pgl *l, const char *buf, size_t len)
{
	int lost = 0;
	if (!out_nonblock) {
		io_out(buf, len);
		return 0;
	}
	while (len) {
		ssize_t n = write(STDOUT_FILENO, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN) {
			io_out(buf, len); /* reports EPIPE quietly, other errors loudly */
			return 0;
		}
		struct pollfd p[2] = {{STDOUT_FILENO, POLLOUT, 0}, {lost ? -1 : PQsocket(l->conn), POLLIN, 0}};
		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			die_errno(EXIT_SOFTWARE, "unable to poll standard output");
		if (!lost && p[1].revents) {
			if (!PQconsumeInput(l->conn)) {
				lost = 1;
				continue;
			}
			PGnotify *nf;
			while ((nf = PQnotifies(l->conn))) {
				PQfreemem(nf);
				woken = 1;
			}
		}
	}
	return lost ? -1 : 0;
}

/* Why the drain stopped. */
enum drained {
	DR_IDLE,
	DR_LOST,
	DR_DONE,
};

/*
 * Emit every unprocessed item past the order key pos, batch by batch.  DR_DONE when
 * --until-seq was reached or a signal asked us to stop.
 */
static enum drained drain(struct pgl *l, const struct opts *o, int64_t *pos, struct sb *out)
{
	for (;;) {
		if (stop)
			return DR_DONE;
		PGresult *r = pgl_drain(l, pos);
		if (!r)
			return DR_LOST;
		int n = PQntuples(r), done = 0;
		sb_reset(out);
		for (int i = 0; i < n && !done; i++) {
			if (stop) {
				done = 1;
				break;
			}
			pgl_format(l, r, i, out, pos);
			if (o->has_until && pos[0] >= o->until_seq)
				done = 1;
		}
		PQclear(r);
		woken = 0;
		if (out->len && out_draining(l, out->buf, out->len) < 0)
			return DR_LOST;
		if (done)
			return DR_DONE;
		if (n < PGL_BATCH && !woken)
			return DR_IDLE;
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	die_set_prog(argv[0]);
	parse_args(argc, argv, &o);
	out_init();
	setup_signals();
	pgc_set_stop(&stop);

	struct pip work;
	int64_t pos[PIP_MAX_ORDER];
	for (int i = 0; i < PIP_MAX_ORDER; i++)
		pos[i] = i == 0 && o.has_after ? (int64_t)o.after_seq : o.has_after ? INT64_MAX
										    : INT64_MIN;
	resolve_work(&o, &work, pos);
	struct pgl l;
	if (pgl_open(&l, &work, o.include_done, o.conninfo, o.connect_timeout, &stop) < 0)
		return 0;
	struct sb out = SB_INIT;
	long next_tick = now_ms() + o.poll_ms;
	long hb_due = now_ms() + o.heartbeat_ms;
	for (;;) {
		enum drained d = drain(&l, &o, pos, &out);
		if (d == DR_DONE || (d == DR_IDLE && o.once))
			break;
		if (d == DR_LOST) {
			if (pgl_reconnect(&l, err_msg()) < 0)
				break;
			hb_due = now_ms() + o.heartbeat_ms;
			continue;
		}
		/* Wait for a reason to query again. */
		int lost = 0;
		for (;;) {
			long now = now_ms();
			long t = (next_tick < hb_due ? next_tick : hb_due) - now;
			enum pgl_wake w = pgl_wait(&l, t, sigpipe_fd[0]);
			now = now_ms();
			if (w == PGL_LOST) {
				lost = 1;
				break;
			}
			if (w == PGL_FD) {
				drain_sigpipe();
				if (stop)
					break;
				continue;
			}
			if (w == PGL_NOTIFY) {
				hb_due = now + o.heartbeat_ms;
				break;
			}
			if (now >= hb_due) {
				hb_due = now + o.heartbeat_ms;
				if (pgl_heartbeat(&l) < 0) {
					lost = 1;
					break;
				}
			}
			if (now >= next_tick) {
				next_tick = now + o.poll_ms;
				break;
			}
		}
		if (stop)
			break;
		if (lost) {
			if (pgl_reconnect(&l, err_msg()) < 0)
				break;
			hb_due = now_ms() + o.heartbeat_ms;
		}
	}
	sb_free(&out);
	pgl_close(&l);
	pip_free(&work);
	io_close_stdout();
	return 0;
}
