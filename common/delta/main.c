/*
 * main.c -- the apply filter every domain's program is: options, the
 * snapshot to start from, the read-apply-write loop, refusals (the message
 * naming the line, a reject line for the supervisor, exit 65) and the
 * final dump.  bin/ep-apply.c hands it the Pitchlake descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "core/opt.h"
#include "delta/delta.h"
#include "frame/frame.h"

enum {
	O_STATE = OPT_LONG,
	O_DUMP,
	O_FINALITY,
	O_MAX_LINE,
	O_STATS,
	O_REJECT,
	O_STATS_FILE,
};

static const struct option longopts[] = {
	{"state", required_argument, NULL, O_STATE},
	{"dump-state", required_argument, NULL, O_DUMP},
	{"finality", required_argument, NULL, O_FINALITY},
	{"max-line", required_argument, NULL, O_MAX_LINE},
	{"stats", no_argument, NULL, O_STATS},
	{"reject-file", required_argument, NULL, O_REJECT},
	{"stats-file", required_argument, NULL, O_STATS_FILE},
	{NULL, 0, NULL, 0},
};

/* --stats-file: "name value" lines for pl-status (docs/status.md). */
static struct {
	const char *path;
	int64_t events, frames, last_driver;
	long written_ms;
	int dirty;
} st = {NULL, 0, 0, -1, 0, 0};

static long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stats_write(void)
{
	char buf[512];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int n = snprintf(buf, sizeof buf,
		"# pl-stats 1\nprog %s\npid %ld\nupdated_ms %lld\nevents_total %lld\nframes_total %lld\n"
		"last_driver_id %lld\n",
		die_prog(), (long)getpid(), (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000, (long long)st.events,
		(long long)st.frames, (long long)st.last_driver);
	if (io_replace(st.path, buf, (size_t)n) < 0)
		warn("unable to write the stats file: %s (pl-status shows old figures)", err_msg());
	st.dirty = 0;
	st.written_ms = mono_ms();
}

/* Count the line just fed; write when due. */
static void stats_line(struct dl *dl)
{
	int op = fr_op(dl_js(dl));
	if (op == FR_EVENT)
		st.events++;
	else if (op == FR_END) {
		st.frames++;
		st.last_driver = dl_current_driver(dl);
	}
	st.dirty = 1;
	if (mono_ms() - st.written_ms >= 1000)
		stats_write();
}

/* Before a read: nothing buffered and nothing to read now means idle: write the news. */
static void stats_idle(const struct lr *lr)
{
	if (!st.dirty)
		return;
	if (memchr(lr->buf + lr->start, '\n', lr->end - lr->start))
		return;
	struct pollfd p = {lr->fd, POLLIN, 0};
	if (poll(&p, 1, 0) == 0)
		stats_write();
}

/* A die() exits with the state live: it stays reachable from a global, not
 * only from a register, so that LeakSanitizer never reports it lost. */
static struct dl *volatile live_state;

static void load_state(struct dl *dl, const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die_errno(EXIT_CONFIG, "unable to open state '%s'", path);
	struct lr lr;
	lr_init(&lr, fd, FR_MAX_LINE);
	char *line;
	size_t len;
	int r;
	while ((r = lr_next(&lr, &line, &len)) > 0)
		if (dl_load_line(dl, line, len) < 0)
			die_code(EXIT_DATAERR, "unable to load state '%s' at line %llu: %s", path,
				(unsigned long long)lr.lineno, err_msg());
	if (r < 0)
		die_code(EXIT_DATAERR, "unable to load state '%s': %s", path, err_msg());
	if (lr_partial(&lr))
		die_code(EXIT_DATAERR, "unable to load state '%s': last line has no newline (truncated file?)", path);
	if (dl_load_done(dl) < 0)
		die_code(EXIT_DATAERR, "unable to load state '%s': %s", path, err_msg());
	lr_free(&lr);
	close(fd);
}

/* Write the snapshot: a temporary file in FILE's directory, renamed over it. */
static void dump_state(struct dl *dl, const char *path)
{
	struct sb out = SB_INIT;
	struct io_atomic a;
	int rc;
	dl_dump(dl, &out);
	if ((rc = io_atomic_open(&a, path)) != 0)
		die_code(rc, "unable to dump state: %s", err_msg());
	if (io_write_all(a.fd, out.buf ? out.buf : "", out.len) < 0) {
		int e = errno;
		io_atomic_abort(&a);
		errno = e;
		die_errno(EXIT_TEMPFAIL, "unable to dump state to '%s'", path);
	}
	if ((rc = io_atomic_commit(&a)) != 0)
		die_code(rc, "unable to dump state: %s", err_msg());
	sb_free(&out);
}

/* The usage text: the program's paragraph, then the options every apply filter has. */
static char *usage_text(const char *about)
{
	struct sb u = SB_INIT;
	sb_addf(&u,
		"usage: %s [--state FILE] [--dump-state FILE] [--finality N] [--max-line BYTES]\n"
		"       %*s [--stats] [--reject-file FILE]\n"
		"       %s --help | --version\n\n",
		die_prog(), (int)strlen(die_prog()), "", die_prog());
	sb_adds(&u, about);
	sb_addf(&u,
		"\n"
		"Reads event frames (NDJSON, docs/formats.md) on stdin and writes one delta\n"
		"frame per applied work item on stdout, each as soon as its 'end' line is read.\n"
		"\n"
		"  --state FILE        start from this snapshot (as written by --dump-state or pg-snapshot)\n"
		"  --dump-state FILE   write the final state snapshot to FILE at end of input\n"
		"                      (atomically: a temporary file in FILE's directory, fsync,\n"
		"                      rename; FILE must be a regular file or not exist yet)\n"
		"  --finality N        blocks kept in the undo journal (default 64); reverts deeper fail\n"
		"  --max-line BYTES    longest accepted input line (default %zu)\n"
		"  --stats             print counters and the state's size on stderr at exit\n"
		"  --reject-file FILE  on refused input, also append a reject line to FILE\n"
		"                      (what a supervisor records in pl_quarantine)\n"
		"  --stats-file FILE   rewrite FILE with the counters (events_total, frames_total)\n"
		"                      at most every second and when idle (pl-status)\n"
		"  -h, --help          show this help\n"
		"  --version           print the version\n"
		"\n"
		"Frames already applied according to the snapshot's checkpoint are skipped.\n"
		"A partial frame at end of input is discarded (it will be delivered again).\n"
		"\n"
		"exit codes: 0 end of input; 64 usage; 65 bad input data or broken invariant\n"
		"(do not restart: the message names the line); 70 internal error; 75 read or\n"
		"output error, or a stale state: the input's work items follow items this\n"
		"state has not seen (restart from a fresh snapshot); 78 unreadable --state file,\n"
		"or a --dump-state FILE that is not a regular file or cannot be created\n"
		"(checked before reading input).\n",
		FR_MAX_LINE);
	return u.buf;
}

/* Refused input: the reject line (if asked for), then the message, exit 65. */
static _Noreturn void refuse(struct dl *dl, const char *reject_file, int kind, uint64_t lineno, const char *msg)
{
	if (reject_file) {
		long long seq, driver = dl ? dl_current_driver_seq(dl, &seq) : -1;
		if (!dl)
			seq = -1;
		struct sb r = SB_INIT;
		fr_add_reject(&r, die_prog(), kind, driver, seq, (int64_t)lineno, msg);
		int fd = open(reject_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0 || io_write_all(fd, r.buf, r.len) < 0 || close(fd) < 0)
			warn("unable to write the reject line to '%s': %s", reject_file, strerror(errno));
		sb_free(&r);
	}
	die_code(EXIT_DATAERR, "%s", msg);
}

int dl_main(int argc, char **argv, const struct dl_domain *dom, const char *about)
{
	const char *state = NULL, *dump = NULL, *reject_file = NULL;
	uint64_t finality = 64, max_line = FR_MAX_LINE;
	int stats = 0;

	die_set_prog(argv[0]);
	char *usage = usage_text(about);
	struct opt op;
	opt_init(&op, argc, argv, longopts, "", usage);
	for (int c; (c = opt_next(&op)) != -1;) {
		switch (c) {
		case O_STATE:
			state = opt_str("--state", optarg);
			break;
		case O_DUMP:
			dump = opt_str("--dump-state", optarg);
			break;
		case O_FINALITY:
			finality = opt_u64("--finality", optarg, 0, UINT64_MAX);
			break;
		case O_MAX_LINE:
			max_line = opt_u64("--max-line", optarg, 1024, SIZE_MAX);
			break;
		case O_STATS:
			stats = 1;
			break;
		case O_STATS_FILE:
			st.path = opt_str("--stats-file", optarg);
			break;
		case O_REJECT:
			reject_file = opt_str("--reject-file", optarg);
			break;
		default:
			die_code(EXIT_SOFTWARE, "unexpected option value %d", c);
		}
	}
	opt_no_operands(&op);
	opt_free(&op);
	free(usage);
	int rc;
	if (dump && (rc = io_atomic_check(dump)) != 0)
		die_code(rc, "unable to dump state: %s", err_msg());

	io_init_stdout();
	struct dl *dl = dl_new(dom, finality);
	live_state = dl;
	if (state)
		load_state(dl, state);

	struct lr lr;
	struct sb out = SB_INIT, msg = SB_INIT;
	lr_init(&lr, STDIN_FILENO, (size_t)max_line);
	char *line;
	size_t len;
	int r;
	/* SIGTERM/SIGINT: between lines the program ends at once (exit 0: a
	 * partial frame is never written, it comes again); while a line is
	 * applied, after it.  Not with --dump-state, which must be written. */
	static volatile sig_atomic_t stop;
	if (!dump)
		io_graceful_signals(&stop);
	if (st.path)
		stats_write();
	for (;;) {
		if (st.path && lr.buf)
			stats_idle(&lr);
		io_busy(0);
		r = lr_next(&lr, &line, &len);
		io_busy(1);
		if (r <= 0)
			break;
		if (dl_feed(dl, line, len, &out) < 0) {
			long long d = dl_current_driver(dl);
			sb_addf(&msg, "unable to apply input at line %llu", (unsigned long long)lr.lineno);
			if (d >= 0)
				sb_addf(&msg, " (driver event %lld)", d);
			sb_addf(&msg, ": %s", err_msg());
			if (dl_error_kind(dl) == FR_REJ_STALE)
				die_code(EXIT_TEMPFAIL, "%s", msg.buf); /* nothing wrong with the input */
			refuse(dl, reject_file, dl_error_kind(dl), lr.lineno, msg.buf);
		}
		if (st.path)
			stats_line(dl);
		if (out.len) {
			io_out(out.buf, out.len);
			sb_reset(&out);
		}
	}
	if (r == LR_EREAD)
		die_code(EXIT_TEMPFAIL, "%s", err_msg());
	if (r < 0) {
		sb_addf(&msg, "unable to read input: %s", err_msg());
		refuse(dl, reject_file, FR_REJ_SYNTAX, lr.lineno + 1, msg.buf);
	}
	if (lr_partial(&lr))
		warn("ignoring an incomplete last line (%zu bytes without a newline)", lr_partial(&lr));
	if (dl_finish(dl))
		warn("discarding a partial frame at end of input (it will be delivered again)");
	if (st.path && st.dirty)
		stats_write();
	if (dump)
		dump_state(dl, dump);
	if (stats) {
		struct sb d = SB_INIT;
		dl_describe_stats(dl, &d);
		note("%s", d.buf);
		sb_reset(&d);
		dl_describe(dl, &d);
		note("%s", d.buf);
		sb_reset(&d);
		dl_describe_memory(dl, &d);
		note("%s", d.buf);
		sb_free(&d);
	}
	dl_free(dl);
	lr_free(&lr);
	sb_free(&out);
	sb_free(&msg);
	io_close_stdout();
	return 0;
}
