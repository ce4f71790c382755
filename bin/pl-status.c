/*
 * pl-status -- health, readiness, status and Prometheus metrics of a
 * running pipeline over HTTP (port 6060 by default), and its progress on
 * stderr.  Started by run-pipeline beside the stages; reads the database,
 * the run directory and the stages' stats files (docs/status.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "core/opt.h"
#include "http/httpd.h"
#include "pg/pgconn.h"
#include "status/status.h"

static const char usage_text[] =
	"usage: pl-status [options]\n"
	"\n"
	"Serves a pipeline's state over HTTP, from the database (pl_pipeline,\n"
	"pl_checkpoint, the work table, pl_quarantine, pl_state_tables), the\n"
	"supervisor's run directory and the stages' stats files (docs/status.md):\n"
	"  /metrics  Prometheus text format\n"
	"  /health   200 {\"status\":\"ok\"}, or 503 with a JSON reason (database down,\n"
	"            supervisor or a stage gone or stopped, stalled, permanent failure)\n"
	"  /ready    200 once caught up (no work item waits), 503 before\n"
	"  /status   JSON: last work item, block, lag, per-stage state, last error\n"
	"and a progress line on stderr: on a terminal one line rewritten in place,\n"
	"otherwise a log line every --progress-interval seconds while catching up.\n"
	"\n"
	"options:\n" OPT_CONN_USAGE
	"  --pipeline NAME     the pipeline (default: $PL_PIPELINE, or the only one)\n"
	"  --run-dir DIR       the supervisor's run directory (stages.pid, *.stats)\n"
	"  --http-port PORT    listen on PORT (default 6060; 0: no HTTP; 'any': a free\n"
	"                      port, written to DIR/http.port)\n"
	"  --http-addr ADDR    listen address (default 127.0.0.1; 0.0.0.0 for all)\n"
	"  --interval MS       refresh the figures every MS (default 1000)\n"
	"  --progress MODE     auto (default: tty line on a terminal, else log lines),\n"
	"                      tty, log or none\n"
	"  --progress-interval SECONDS  between progress log lines (default 10)\n"
	"  --stall-timeout SECONDS  /health is 503 when work waits and the checkpoint\n"
	"                      has not moved this long (default 120; 0: never)\n"
	"  --ready-items N     /ready is 200 while at most N work items wait (default 0)\n"
	"  --once              print /status once on stdout and exit\n"
	"  --parent PID        exit when the parent process is no longer PID (the\n"
	"                      supervisor that started it died)\n"
	"  --log-level LEVEL   error, warn, info (default) or debug ($PL_LOG_LEVEL)\n"
	"  --help              this text\n"
	"  --version           print the version\n"
	"\n"
	"SIGTERM/SIGINT: stop serving, exit 0.\n"
	"\n"
	"exit status: 0 stopped by a signal (or --once); 64 usage; 69 the HTTP port\n"
	"cannot be bound (in use); 78 configuration (bad --http-addr)\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* What the HTTP thread serves: rendered by the main loop, copied under the lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sb metrics_text, status_text, health_text, ready_text;
static int healthy, ready, have_snapshot;

static void handle(void *ctx, const char *path, struct http_reply *out)
{
	(void)ctx;
	const struct sb *src = NULL;
	int code = 200;
	out->type = "application/json";
	pthread_mutex_lock(&lock);
	if (!have_snapshot) {
		code = 503;
		src = NULL;
	} else if (!strcmp(path, "/metrics")) {
		src = &metrics_text;
		out->type = "text/plain; version=0.0.4; charset=utf-8";
	} else if (!strcmp(path, "/health") || !strcmp(path, "/healthz")) {
		src = &health_text;
		code = healthy ? 200 : 503;
	} else if (!strcmp(path, "/ready") || !strcmp(path, "/readyz")) {
		src = &ready_text;
		code = ready ? 200 : 503;
	} else if (!strcmp(path, "/status") || !strcmp(path, "/")) {
		src = &status_text;
	} else {
		code = 404;
	}
	if (src) {
		out->body = xstrndup(src->buf ? src->buf : "", src->len);
		out->len = src->len;
	} else if (code == 404) {
		out->type = "text/plain; charset=utf-8";
		out->body = xstrdup("not found: try /metrics, /health, /ready or /status\n");
		out->len = strlen(out->body);
	} else {
		out->body = xstrdup("{\"status\":\"starting\",\"reason\":\"no figures yet\"}\n");
		out->len = strlen(out->body);
	}
	pthread_mutex_unlock(&lock);
	out->code = code;
}

static void publish(const struct st_snap *s)
{
	struct sb m = SB_INIT, st = SB_INIT, h = SB_INIT, r = SB_INIT;
	st_metrics(s, &m);
	st_status_json(s, &st);
	st_health_json(s, &h);
	st_ready_json(s, &r);
	pthread_mutex_lock(&lock);
	sb_free(&metrics_text);
	sb_free(&status_text);
	sb_free(&health_text);
	sb_free(&ready_text);
	metrics_text = m;
	status_text = st;
	health_text = h;
	ready_text = r;
	healthy = s->healthy;
	ready = s->ready;
	have_snapshot = 1;
	pthread_mutex_unlock(&lock);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum { P_NONE,
	P_TTY,
	P_LOG };

/* The progress display: items/s over the last ~10 s of snapshots. */
struct progress {
	int mode;
	int64_t interval_ms, next_log_ms;
	int64_t hist_ms[16], hist_items[16];
	int nhist, shown, caught_up_said;
};

static void progress(struct progress *p, const struct st_snap *s)
{
	if (p->mode == P_NONE)
		return;
	int64_t now = mono_ms();
	int64_t items = st_file_value(st_file_of(s, "pg-write"), "items_total", NULL);
	if (p->nhist == 16) {
		memmove(p->hist_ms, p->hist_ms + 1, 15 * sizeof *p->hist_ms);
		memmove(p->hist_items, p->hist_items + 1, 15 * sizeof *p->hist_items);
		p->nhist--;
	}
	p->hist_ms[p->nhist] = now;
	p->hist_items[p->nhist++] = items;
	double rate = 0;
	if (p->nhist > 1 && now > p->hist_ms[0])
		rate = (double)(items - p->hist_items[0]) * 1000.0 / (double)(now - p->hist_ms[0]);
	int catching_up = s->waiting > 0;
	struct sb line = SB_INIT;
	st_progress(s, rate, &line);
	if (p->mode == P_TTY) {
		if (catching_up || p->shown) {
			fprintf(stderr, "\r\033[K%s", line.buf);
			if (!catching_up) {
				fputc('\n', stderr); /* caught up: the line stays */
				p->shown = 0;
			} else {
				p->shown = 1;
			}
			fflush(stderr);
		}
	} else if (catching_up && now >= p->next_log_ms) {
		note("progress: %s", line.buf);
		p->next_log_ms = now + p->interval_ms;
		p->caught_up_said = 0;
	} else if (!catching_up && s->waiting == 0 && !p->caught_up_said && p->next_log_ms) {
		note("progress: %s", line.buf);
		p->caught_up_said = 1;
		p->next_log_ms = 0;
	}
	sb_free(&line);
}

enum { O_PIPELINE = OPT_LONG,
	O_RUN,
	O_PORT,
	O_ADDR,
	O_INTERVAL,
	O_PROGRESS,
	O_PINTERVAL,
	O_STALL,
	O_READY,
	O_ONCE,
	O_PARENT };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		OPT_CONN_LONGOPTS,
		{"pipeline", required_argument, NULL, O_PIPELINE},
		{"run-dir", required_argument, NULL, O_RUN},
		{"http-port", required_argument, NULL, O_PORT},
		{"http-addr", required_argument, NULL, O_ADDR},
		{"interval", required_argument, NULL, O_INTERVAL},
		{"progress", required_argument, NULL, O_PROGRESS},
		{"progress-interval", required_argument, NULL, O_PINTERVAL},
		{"stall-timeout", required_argument, NULL, O_STALL},
		{"ready-items", required_argument, NULL, O_READY},
		{"once", no_argument, NULL, O_ONCE},
		{"parent", required_argument, NULL, O_PARENT},
		{NULL, 0, NULL, 0},
	};
	struct opt_conn oc;
	struct st_opts so = {NULL, NULL, 120000, 0};
	struct progress pr;
	memset(&pr, 0, sizeof pr);
	const char *addr = NULL, *pmode = "auto";
	long port = 6060, interval = 1000;
	int once = 0, c;
	long parent = 0;
	pr.interval_ms = 10000;
	die_set_prog(argv[0]);
	opt_conn_init(&oc);
	struct opt op;
	opt_init(&op, argc, argv, longopts, OPT_CONN_SHORTS, usage_text);
	while ((c = opt_next(&op)) != -1) {
		if (opt_conn(&oc, c, optarg))
			continue;
		switch (c) {
		case O_PIPELINE:
			so.pipeline = opt_str("--pipeline", optarg);
			break;
		case O_RUN:
			so.run_dir = opt_str("--run-dir", optarg);
			break;
		case O_PORT:
			port = !strcmp(optarg, "any") ? -1 : (long)opt_u64("--http-port", optarg, 0, 65535);
			break;
		case O_ADDR:
			addr = opt_str("--http-addr", optarg);
			break;
		case O_INTERVAL:
			interval = (long)opt_u64("--interval", optarg, 50, 3600000);
			break;
		case O_PROGRESS:
			pmode = optarg;
			if (strcmp(pmode, "auto") && strcmp(pmode, "tty") && strcmp(pmode, "log") && strcmp(pmode, "none"))
				opt_usage_error("unable to use --progress '%s': want auto, tty, log or none", pmode);
			break;
		case O_PINTERVAL:
			pr.interval_ms = (int64_t)opt_u64("--progress-interval", optarg, 1, 86400) * 1000;
			break;
		case O_STALL:
			so.stall_ms = (int64_t)opt_u64("--stall-timeout", optarg, 0, 86400) * 1000;
			break;
		case O_READY:
			so.ready_items = (int64_t)opt_u64("--ready-items", optarg, 0, INT64_MAX);
			break;
		case O_ONCE:
			once = 1;
			break;
		case O_PARENT:
			parent = (long)opt_u64("--parent", optarg, 1, INT32_MAX);
			break;
		default:
			die_code(EXIT_SOFTWARE, "unexpected option value %d", c);
		}
	}
	opt_no_operands(&op);
	opt_free(&op);
	if (!so.pipeline)
		so.pipeline = getenv("PL_PIPELINE") && *getenv("PL_PIPELINE") ? getenv("PL_PIPELINE") : NULL;
	pgc_use_options(&oc);
	pr.mode = !strcmp(pmode, "none")  ? P_NONE
		  : !strcmp(pmode, "tty") ? P_TTY
		  : !strcmp(pmode, "log") ? P_LOG
		  : isatty(STDERR_FILENO) ? P_TTY
					  : P_LOG;

	struct st_collector col;
	st_init(&col, oc.dbname, &so);
	if (once) {
		st_collect(&col);
		struct sb out = SB_INIT;
		st_status_json(&col.cur, &out);
		io_init_stdout();
		io_out(out.buf, out.len);
		sb_free(&out);
		st_free(&col);
		io_close_stdout();
		return 0;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pgc_set_stop(&stop);

	struct httpd *h = NULL;
	if (port != 0) {
		h = httpd_start(addr, port < 0 ? 0 : (unsigned)port, handle, NULL);
		if (!h)
			die_code(EXIT_UNAVAILABLE, "%s", err_msg());
		note("serving /metrics, /health, /ready and /status on http://%s:%u/", addr ? addr : "127.0.0.1",
			httpd_port(h));
		if (so.run_dir) {
			char path[4096], num[32];
			snprintf(path, sizeof path, "%s/http.port", so.run_dir);
			int n = snprintf(num, sizeof num, "%u\n", httpd_port(h));
			if (io_replace(path, num, (size_t)n) < 0)
				warn("%s", err_msg());
		}
	}
	while (!stop) {
		if (parent && getppid() != (pid_t)parent)
			break; /* the supervisor is gone (kill -9): so are we */
		int64_t t0 = mono_ms();
		st_collect(&col);
		publish(&col.cur);
		progress(&pr, &col.cur);
		while (!stop && mono_ms() - t0 < interval) {
			struct timespec ts = {0, 50 * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	if (pr.mode == P_TTY && pr.shown)
		fputc('\n', stderr);
	if (h && so.run_dir) {
		char path[4096];
		snprintf(path, sizeof path, "%s/http.port", so.run_dir);
		unlink(path);
	}
	httpd_stop(h);
	st_free(&col);
	return 0;
}
