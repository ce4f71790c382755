/*
 * bench/notify-rtt.c -- the raw NOTIFY -> LISTEN round trip of a PostgreSQL
 * server, the yardstick of the live-latency benchmark (scripts/bench-live).
 *
 *   cc -O2 bench/notify-rtt.c -I$(pg_config --includedir) -lpq -lpthread -o notify-rtt
 *   notify-rtt [--mode select|insert] [-n SAMPLES] [--warmup N] [--conninfo STR]
 *
 * Two connections: a listener thread blocks in poll() on connection A
 * (LISTEN pl_bench_rtt) and stamps each notification with CLOCK_REALTIME as
 * soon as libpq has parsed it; the main thread, on connection B in
 * autocommit, sends one notification at a time and waits for it to arrive
 * before sending the next:
 *   select  SELECT pg_notify('pl_bench_rtt', i)   (no xid, no WAL flush)
 *   insert  INSERT INTO pl_bench_rtt VALUES (i), an AFTER INSERT trigger
 *           NOTIFYs (a WAL-flushing commit, like the producer's blocks)
 * Per sample: send = before PQexec, commit = after PQexec returned (the
 * commit is visible to the sender), recv = notification parsed by the
 * listener.  Prints p50/p90/p99/max in microseconds of
 *   rtt     recv - send      (the round trip: statement issued -> notified)
 *   after   recv - commit    (how long after the sender saw its commit; may
 *                             be negative: the listener can be told first)
 * on one line of key=value pairs.  Exit 0 ok, 64 usage, 69 no database.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static PGconn *lconn;
static int64_t *recv_ns;
static int total;
static atomic_int received = -1; /* highest sample index received */
static atomic_int stop_flag;

static void die(const char *what, PGconn *c)
{
	fprintf(stderr, "notify-rtt: %s: %s", what, c ? PQerrorMessage(c) : "\n");
	exit(69);
}

static void exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 0); /* constant commands, one each */
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "notify-rtt: %s: %s", sql, PQresultErrorMessage(r));
		exit(69);
	}
	PQclear(r);
}

static void *listener(void *arg)
{
	(void)arg;
	struct pollfd pfd = {.fd = PQsocket(lconn), .events = POLLIN};
	while (!atomic_load(&stop_flag)) {
		int n = poll(&pfd, 1, 200);
		if (n < 0 && errno != EINTR)
			die("poll", NULL);
		if (n <= 0)
			continue;
		if (!PQconsumeInput(lconn))
			die("consume input", lconn);
		int64_t t = now_ns();
		PGnotify *nt;
		while ((nt = PQnotifies(lconn)) != NULL) {
			int i = atoi(nt->extra);
			if (i >= 0 && i < total) {
				recv_ns[i] = t;
				atomic_store(&received, i);
			}
			PQfreemem(nt);
		}
	}
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double pct(const int64_t *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);
	return v[i] / 1000.0;
}

int main(int argc, char **argv)
{
	const char *mode = "select", *conninfo = "";
	int n = 2000, warmup = 200;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			mode = argv[++i];
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			n = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
			warmup = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--conninfo") && i + 1 < argc)
			conninfo = argv[++i];
		else {
			fprintf(stderr, "usage: notify-rtt [--mode select|insert] [-n SAMPLES] [--warmup N] [--conninfo STR]\n");
			return 64;
		}
	}
	int insert = !strcmp(mode, "insert");
	if ((!insert && strcmp(mode, "select")) || n < 2 || warmup < 0) {
		fprintf(stderr, "notify-rtt: bad --mode, -n or --warmup\n");
		return 64;
	}
	total = n + warmup;
	recv_ns = calloc((size_t)total, sizeof *recv_ns);
	int64_t *send_ns = calloc((size_t)total, sizeof *send_ns);
	int64_t *commit_ns = calloc((size_t)total, sizeof *commit_ns);
	if (!recv_ns || !send_ns || !commit_ns)
		return 70;

	lconn = PQconnectdb(conninfo);
	PGconn *s = PQconnectdb(conninfo);
	if (PQstatus(lconn) != CONNECTION_OK)
		die("connect", lconn);
	if (PQstatus(s) != CONNECTION_OK)
		die("connect", s);
	if (insert) {
		exec_ok(s, "SET client_min_messages = warning");
		exec_ok(s, "CREATE TABLE IF NOT EXISTS pl_bench_rtt (i int)");
		exec_ok(s, "CREATE OR REPLACE FUNCTION pl_bench_rtt_notify() RETURNS trigger AS $$ "
			   "BEGIN PERFORM pg_notify('pl_bench_rtt', NEW.i::text); RETURN NEW; END $$ LANGUAGE plpgsql");
		exec_ok(s, "DROP TRIGGER IF EXISTS pl_bench_rtt_trigger ON pl_bench_rtt");
		exec_ok(s, "CREATE TRIGGER pl_bench_rtt_trigger AFTER INSERT ON pl_bench_rtt "
			   "FOR EACH ROW EXECUTE FUNCTION pl_bench_rtt_notify()");
	}
	exec_ok(lconn, "LISTEN pl_bench_rtt");
	const char *sql = insert ? "INSERT INTO pl_bench_rtt VALUES ($1::int)" : "SELECT pg_notify('pl_bench_rtt', $1)";
	PGresult *pr = PQprepare(s, "rtt", sql, 1, NULL);
	if (PQresultStatus(pr) != PGRES_COMMAND_OK)
		die("prepare", s);
	PQclear(pr);

	pthread_t th;
	if (pthread_create(&th, NULL, listener, NULL))
		return 70;
	for (int i = 0; i < total; i++) {
		char buf[16];
		snprintf(buf, sizeof buf, "%d", i);
		const char *vals[1] = {buf};
		send_ns[i] = now_ns();
		PGresult *r = PQexecPrepared(s, "rtt", 1, vals, NULL, NULL, 0);
		commit_ns[i] = now_ns();
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
			fprintf(stderr, "notify-rtt: %s", PQresultErrorMessage(r));
			return 69;
		}
		PQclear(r);
		int64_t deadline = now_ns() + 5000000000LL;
		while (atomic_load(&received) < i) {
			if (now_ns() > deadline) {
				fprintf(stderr, "notify-rtt: notification %d not received in 5 s\n", i);
				return 69;
			}
			struct timespec ts = {0, 20000}; /* 20 us */
			nanosleep(&ts, NULL);
		}
		struct timespec gap = {0, 200000}; /* 0.2 ms between samples */
		nanosleep(&gap, NULL);
	}
	atomic_store(&stop_flag, 1);
	pthread_join(th, NULL);
	if (insert) {
		exec_ok(s, "DROP TABLE pl_bench_rtt");
		exec_ok(s, "DROP FUNCTION pl_bench_rtt_notify()");
	}
	PQfinish(s);
	PQfinish(lconn);

	int64_t *rtt = calloc((size_t)n, sizeof *rtt), *after = calloc((size_t)n, sizeof *after);
	if (!rtt || !after)
		return 70;
	for (int i = 0; i < n; i++) {
		rtt[i] = recv_ns[warmup + i] - send_ns[warmup + i];
		after[i] = recv_ns[warmup + i] - commit_ns[warmup + i];
	}
	qsort(rtt, (size_t)n, sizeof *rtt, cmp_i64);
	qsort(after, (size_t)n, sizeof *after, cmp_i64);
	printf("mode=%s n=%d rtt_p50_us=%.1f rtt_p90_us=%.1f rtt_p99_us=%.1f rtt_max_us=%.1f "
	       "after_p50_us=%.1f after_p90_us=%.1f after_p99_us=%.1f after_max_us=%.1f\n",
		mode, n, pct(rtt, n, .5), pct(rtt, n, .9), pct(rtt, n, .99), rtt[n - 1] / 1000.0,
		pct(after, n, .5), pct(after, n, .9), pct(after, n, .99), after[n - 1] / 1000.0);
	return 0;
}
