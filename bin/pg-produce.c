/*
 * pg-produce -- play the Juno event-logger plugin against PostgreSQL: read
 * event frames (design.md 3.2, e.g. from chain-sim) on stdin and commit
 * each one the way the plugin does (pitchlake-spec.md 2.5), so that tests,
 * benchmarks and the demo drive the real pipeline (pg-listen, block-fetch,
 * ep-apply, pg-write) from generated chains.
 *
 *   StartBlock / NewBlock: one transaction with the block's events, its
 *     starknet_blocks row (MINED, parent = the live block one below) and a
 *     StartBlock driver event (whose trigger NOTIFYs pg-listen), sent in
 *     one round trip;
 *   RevertBlock: one transaction marking the block REVERTED plus a
 *     RevertBlock driver event (the events rows stay, as in the plugin);
 *   CatchupVault: rejected (exit 65): the plugin's vault catch-up reads
 *     the chain over RPC, which a frame stream cannot stand in for.
 *
 * The frames' own driver_id/seq are not written: the database numbers the
 * driver events, as it does for the plugin (a fresh database gives the same
 * numbers as chain-sim).  --rate paces transactions on an absolute
 * CLOCK_MONOTONIC schedule; --latency-log records each commit's driver id
 * and wall-clock time for end-to-end latency measurements.  An incomplete
 * frame at EOF is discarded (nothing of it is written).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "core/opt.h"
#include "pg/pgconn.h"
#include "dom/pitchlake/produce.h"
#include "frame/frame.h"

#define MAX_LINE FR_MAX_LINE
#define REPORT_NS 5000000000LL

static const char usage_text[] =
	"usage: pg-produce [--conninfo STR] [--rate BLOCKS_PER_SEC] [--register]\n"
	"                  [--latency-log FILE] [--quiet] [--connect-timeout SECONDS] <frames\n"
	"       pg-produce --help | --version\n"
	"\n"
	"Write event frames (design.md 3.2, e.g. from chain-sim) into the producer's\n"
	"tables as the Juno event-logger plugin does: per StartBlock frame one\n"
	"transaction with its events, its starknet_blocks row and a StartBlock driver\n"
	"event; per RevertBlock frame one transaction marking the block REVERTED and a\n"
	"RevertBlock driver event.  CatchupVault frames are refused (exit 65).\n"
	"\n" OPT_CONN_USAGE
	"  --rate R                   at most R transactions (blocks) per second, on an\n"
	"                             absolute schedule (default 0: as fast as possible;\n"
	"                             fractions allowed; PL_TEST_NO_SLEEP disables the waits)\n"
	"  --register                 also insert a vault_registry row for every vault with a\n"
	"                             ContractDeployed event (deployed_at = last_block_indexed\n"
	"                             = the block's hash), in the block's transaction\n"
	"  --latency-log FILE         append {\"driver_id\":N,\"seq\":N,\"commit_ns\":N} per commit\n"
	"                             (driver_events id and sequence_index, CLOCK_REALTIME\n"
	"                             nanoseconds right after COMMIT returned)\n"
	"  --quiet                    no progress lines (every 5 s) on stderr; the summary stays\n"
	"                             (--connect-timeout default 60)\n"
	"  --log-level LEVEL          error, warn, info (default) or debug ($PL_LOG_LEVEL)\n"
	"  --help                     this text\n"
	"  --version                  print the version\n"
	"\n"
	"An incomplete frame at EOF is discarded with a warning.  blocks/s in the progress\n"
	"and summary lines counts every committed transaction (StartBlock and RevertBlock).\n"
	"\n"
	"exit codes: 0 done (EOF); 64 usage; 65 bad input data: an unparseable frame, a\n"
	"CatchupVault frame, an event whose line as block-fetch writes it would exceed the\n"
	"16 MiB line limit of the stages downstream, a block already stored, a RevertBlock\n"
	"of a block that is not stored or already REVERTED (do not restart); 69 database\n"
	"unavailable; 70 internal error; 75 transient failure (connection lost, latency\n"
	"log not writable);\n"
	"78 configuration (bad conninfo, schema not migrated, latency log not openable)\n";

/*
 * --rate takes fractions, which opt.h's integer parsers do not: checked
 * here, with opt.h's message and exit.
 */
static double parse_rate(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || isspace((unsigned char)s[0]) || !isfinite(v) || v < 0 || v > 1e6)
		opt_usage_error("unable to use %s '%s': want a number in 0..1000000", opt, s);
	return v;
}

struct opts {
	const char *conninfo;
	const char *latency_log;
	double rate;
	int reg, quiet, connect_timeout;
};

enum {
	O_CONNINFO = OPT_LONG,
	O_RATE,
	O_REGISTER,
	O_LATENCY_LOG,
	O_QUIET,
	O_CONNECT_TIMEOUT,
};

static const struct option longopts[] = {
	OPT_CONN_LONGOPTS,
	{"rate", required_argument, NULL, O_RATE},
	{"register", no_argument, NULL, O_REGISTER},
	{"latency-log", required_argument, NULL, O_LATENCY_LOG},
	{"quiet", no_argument, NULL, O_QUIET},
	{NULL, 0, NULL, 0},
};

static void parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof *o);
	o->conninfo = "";
	o->connect_timeout = 60;
	struct opt op;
	struct opt_conn oc;
	opt_conn_init(&oc);
	opt_init(&op, argc, argv, longopts, OPT_CONN_SHORTS, usage_text);
	for (int c; (c = opt_next(&op)) != -1;) {
		if (opt_conn(&oc, c, optarg))
			continue;
		switch (c) {
		case O_RATE:
			o->rate = parse_rate("--rate", optarg);
			break;
		case O_REGISTER:
			o->reg = 1;
			break;
		case O_LATENCY_LOG:
			o->latency_log = opt_str("--latency-log", optarg);
			break;
		case O_QUIET:
			o->quiet = 1;
			break;
		default:
			die_code(EXIT_SOFTWARE, "unexpected option value %d", c);
		}
	}
	opt_no_operands(&op);
	opt_free(&op);
	if (oc.dbname)
		o->conninfo = oc.dbname;
	pgc_use_options(&oc);
	o->connect_timeout = pgc_wait_seconds(o->connect_timeout);
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* SIGTERM/SIGINT: between blocks the program ends at once, exit 0; within one, after its COMMIT. */
static volatile sig_atomic_t stop;

/* Sleep until CLOCK_MONOTONIC reaches at_ns (absolute: no drift). */
static void sleep_until(int64_t at_ns)
{
	if (getenv("PL_TEST_NO_SLEEP") || at_ns <= mono_ns())
		return;
	struct timespec ts = {(time_t)(at_ns / 1000000000), (long)(at_ns % 1000000000)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop)
		;
}

struct counts {
	uint64_t blocks, reverts, events;
};

/* Progress (done = 0: rate over the last interval) or the summary. */
static void report(int done, const struct counts *c, int64_t ns, uint64_t tx)
{
	double s = (double)ns / 1e9, rate = s > 0 ? (double)tx / s : 0.0;
	unsigned long long n = c->blocks + c->reverts;
	if (done)
		note("done: %llu blocks (%llu RevertBlock), %llu events in %.2f s, %.1f blocks/s", n,
			(unsigned long long)c->reverts, (unsigned long long)c->events, s, rate);
	else
		note("%llu blocks (%llu RevertBlock), %llu events, %.1f blocks/s", n,
			(unsigned long long)c->reverts, (unsigned long long)c->events, rate);
}

int main(int argc, char **argv)
{
	struct opts o;
	die_set_prog(argv[0]);
	parse_args(argc, argv, &o);

	int logfd = -1;
	if (o.latency_log) {
		logfd = open(o.latency_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (logfd < 0)
			die_errno(EXIT_CONFIG, "unable to open latency log '%s'", o.latency_log);
	}
	io_graceful_signals(&stop);
	pgc_set_stop(&stop);
	struct pgp w;
	pgp_open(&w, o.conninfo, o.connect_timeout, o.reg);

	struct lr lr;
	struct pgp_parser p;
	struct sb logline = SB_INIT;
	struct counts cnt = {0, 0, 0};
	uint64_t ntx = 0, last_tx = 0;
	int64_t start = mono_ns(), last_report = start, t0 = 0;
	lr_init(&lr, 0, MAX_LINE);
	pgp_parser_init(&p);
	for (;;) {
		char *line;
		size_t len;
		io_busy(0);
		int r = lr_next(&lr, &line, &len);
		io_busy(1);
		if (r == LR_NONE)
			break;
		if (r == LR_EREAD)
			die_code(EXIT_TEMPFAIL, "%s", err_msg());
		if (r < 0) {
			die_code(EXIT_DATAERR, "unable to parse event frame at line %llu: %s",
				(unsigned long long)lr.lineno + 1, err_msg());
		}
		r = pgp_parse_line(&p, line, len, lr.lineno);
		if (r < 0)
			die_code(EXIT_DATAERR, "unable to parse event frame at line %llu: %s",
				(unsigned long long)lr.lineno, err_msg());
		if (r == 0)
			continue;

		if (o.rate > 0) {
			if (ntx == 0)
				t0 = mono_ns();
			sleep_until(t0 + (int64_t)((double)ntx * 1e9 / o.rate));
			if (stop)
				break;
		}
		struct pgp_result res;
		pgp_write(&w, &p.f, &res);
		ntx++;
		if (p.f.kind == PGP_START) {
			cnt.blocks++;
			cnt.events += p.f.nevents;
		} else {
			cnt.reverts++;
		}
		if (logfd >= 0) {
			sb_reset(&logline);
			sb_adds(&logline, "{\"driver_id\":");
			sb_add_i64(&logline, res.driver_id);
			sb_adds(&logline, ",\"seq\":");
			sb_add_i64(&logline, res.seq);
			sb_adds(&logline, ",\"commit_ns\":");
			sb_add_i64(&logline, res.commit_ns);
			sb_adds(&logline, "}\n");
			if (io_write_all(logfd, logline.buf, logline.len) < 0)
				die_errno(EXIT_TEMPFAIL, "unable to write latency log '%s'", o.latency_log);
		}
		if (stop)
			break; /* the block is committed */
		int64_t now = mono_ns();
		if (!o.quiet && now - last_report >= REPORT_NS) {
			report(0, &cnt, now - last_report, ntx - last_tx);
			last_report = now;
			last_tx = ntx;
		}
	}
	if (lr_partial(&lr))
		warn("discarding an incomplete last line (%zu bytes without a newline)", lr_partial(&lr));
	if (pgp_parser_in_frame(&p))
		warn("discarding the incomplete frame that began at line %llu (no end line before EOF)",
			(unsigned long long)p.f.begin_line);
	report(1, &cnt, mono_ns() - start, ntx);
	if (logfd >= 0 && close(logfd) < 0)
		die_errno(EXIT_TEMPFAIL, "unable to close latency log '%s'", o.latency_log);
	sb_free(&logline);
	pgp_parser_free(&p);
	lr_free(&lr);
	pgp_close(&w);
	return 0;
}
