/*
 * pg-listen -- emit one NDJSON line per unprocessed driver_events row, in
 * (sequence_index, id) order, each exactly once, forever (or until --once /
 * --until-seq).
 *
 * LISTEN driver_events first, then drain the table past the last emitted
 * (sequence_index, id), then wait on the socket, a timer and a self-pipe
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
#include "pg/pglisten.h"

static const char usage_text[] =
	"usage: pg-listen [--conninfo STR] [--once] [--until-seq N] [--after-seq N]\n"
	"                 [--poll-interval MS] [--heartbeat SECONDS] [--connect-timeout SECONDS]\n"
	"\n"
	"Emit one line per unprocessed driver_events row (design.md 3.1), ordered by\n"
	"(sequence_index, id), each once; wait for more (LISTEN driver_events + polling).\n"
	"\n"
	"  --conninfo STR          libpq connection string or URI (default: PG* environment)\n"
	"  --once                  drain what is there now, then exit 0\n"
	"  --until-seq N           exit 0 after emitting an item with sequence_index >= N\n"
	"  --after-seq N           start after sequence_index N (default: from the start)\n"
	"  --poll-interval MS      re-query at least this often (default 1000)\n"
	"  --heartbeat SECONDS     check the LISTEN registration after this long without\n"
	"                          a notification (default 10)\n"
	"  --connect-timeout SECONDS  give up (exit 69) when the database stays unreachable\n"
	"                          this long, at start or after a lost connection (default 60)\n"
	"  -h, --help              this text\n"
	"\n"
	"SIGTERM/SIGINT: finish the current line and exit 0.  Reconnections are reported\n"
	"on stderr.\n"
	"\n"
	"exit codes: 0 done (--once, --until-seq, signal); 64 usage; 69 database\n"
	"unavailable; 70 internal error; 75 transient failure (query or output failed);\n"
	"78 configuration (bad conninfo, authentication, schema not migrated)\n";

static _Noreturn void usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	exit(code);
}

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

static long long parse_num(const char *opt, const char *s, long long min, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max) {
		fprintf(stderr, "pg-listen: invalid value '%s' for %s (want %lld..%lld)\n", s, opt, min, max);
		usage(EXIT_USAGE);
	}
	return v;
}

struct opts {
	const char *conninfo;
	int once;
	int has_until;
	long long until_seq;
	long long after_seq;
	int has_after;
	long poll_ms;
	long heartbeat_ms;
	int connect_timeout;
};

static void parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof *o);
	o->conninfo = "";
	o->poll_ms = 1000;
	o->heartbeat_ms = 10000;
	o->connect_timeout = 60;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = NULL;
		const char *eq = strchr(a, '=');
		char name[64];
		if (!strncmp(a, "--", 2) && eq && (size_t)(eq - a) < sizeof name) {
			memcpy(name, a, (size_t)(eq - a));
			name[eq - a] = '\0';
			v = eq + 1;
			a = name;
		}
#define NEEDARG()                                                                           \
	do {                                                                                \
		if (!v) {                                                                   \
			if (i + 1 >= argc) {                                                \
				fprintf(stderr, "pg-listen: option %s needs a value\n", a); \
				usage(EXIT_USAGE);                                          \
			}                                                                   \
			v = argv[++i];                                                      \
		}                                                                           \
	} while (0)
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(0);
		} else if (!strcmp(a, "--once") && !v) {
			o->once = 1;
		} else if (!strcmp(a, "--conninfo")) {
			NEEDARG();
			o->conninfo = v;
		} else if (!strcmp(a, "--until-seq")) {
			NEEDARG();
			o->has_until = 1;
			o->until_seq = parse_num(a, v, 0, LLONG_MAX);
		} else if (!strcmp(a, "--after-seq")) {
			NEEDARG();
			o->has_after = 1;
			o->after_seq = parse_num(a, v, 0, LLONG_MAX);
		} else if (!strcmp(a, "--poll-interval")) {
			NEEDARG();
			o->poll_ms = (long)parse_num(a, v, 10, 86400000);
		} else if (!strcmp(a, "--heartbeat")) {
			NEEDARG();
			o->heartbeat_ms = (long)parse_num(a, v, 1, 86400) * 1000;
		} else if (!strcmp(a, "--connect-timeout")) {
			NEEDARG();
			o->connect_timeout = (int)parse_num(a, v, 0, 86400);
		} else {
			fprintf(stderr, "pg-listen: unknown argument '%s'\n", argv[i]);
			usage(EXIT_USAGE);
		}
#undef NEEDARG
	}
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
 * Emit every unprocessed item past (*seq, *id), batch by batch.  DR_DONE when
 * --until-seq was reached or a signal asked us to stop.
 */
static enum drained drain(struct pgl *l, const struct opts *o, int64_t *seq, int64_t *id, struct sb *out)
{
	for (;;) {
		if (stop)
			return DR_DONE;
		PGresult *r = pgl_drain(l, *seq, *id);
		if (!r)
			return DR_LOST;
		int n = PQntuples(r), done = 0;
		sb_reset(out);
		for (int i = 0; i < n && !done; i++) {
			if (stop) {
				done = 1;
				break;
			}
			pgl_format(r, i, out, seq, id);
			if (o->has_until && *seq >= o->until_seq)
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
	io_init_stdout();
	out_init();
	setup_signals();

	int64_t seq = INT64_MIN, id = INT64_MIN;
	if (o.has_after) {
		seq = (int64_t)o.after_seq;
		id = INT64_MAX;
	}
	struct pgl l;
	if (pgl_open(&l, o.conninfo, o.connect_timeout, &stop) < 0)
		return 0;
	struct sb out = SB_INIT;
	long next_tick = now_ms() + o.poll_ms;
	long hb_due = now_ms() + o.heartbeat_ms;
	for (;;) {
		enum drained d = drain(&l, &o, &seq, &id, &out);
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
	io_close_stdout();
	return 0;
}
