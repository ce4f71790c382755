/*
 * bench/xadd-timed.c -- the producer side of the Intuition live-latency
 * benchmark (scripts/bench-intuition), and its yardstick.
 *
 *   cc -O2 bench/xadd-timed.c -lhiredis -o xadd-timed
 *   xadd-timed --socket PATH --stream S [--rate R] <payloads
 *   xadd-timed --socket PATH --stream S --raw N
 *
 * Default: one XADD S * payload LINE per input line (a message's payload
 * JSON), R per second (default 200) on an absolute schedule, and per message
 * one output line "ID SENT_NS DONE_NS": the id Redis gave it, CLOCK_REALTIME
 * just before the XADD was sent and just after its reply was read.  The
 * benchmark's latency is an ack's arrival minus SENT_NS: to the nanosecond,
 * where the id's milliseconds alone would add half a millisecond on average.
 *
 * --raw N: the raw round trip Redis itself gives, N samples: a second
 * connection has XREAD BLOCK 0 STREAMS S LAST-ID pending when the first
 * XADDs a message; the time from before the XADD to the XREAD's reply.  Prints
 * "raw p50_us=… p99_us=… max_us=…".  Exit 0 ok, 64 usage, 69 no server.
 */
#include <hiredis/hiredis.h>
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

static void die(const char *what, const redisContext *c)
{
	fprintf(stderr, "xadd-timed: fatal: unable to %s: %s\n", what, c && c->err ? c->errstr : "unexpected reply");
	exit(69);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void raw(redisContext *a, redisContext *b, const char *stream, int n)
{
	int64_t *v = calloc((size_t)n, sizeof *v);
	if (!v)
		die("allocate", NULL);
	char last[64] = "0-0"; /* XREAD after this id: the XADD may get there first */
	for (int i = 0; i < n; i++) {
		redisAppendCommand(b, "XREAD BLOCK 0 STREAMS %s %s", stream, last);
		int done = 0;
		while (!done)
			if (redisBufferWrite(b, &done) != REDIS_OK)
				die("send XREAD", b);
		/* let the XREAD reach the server and block, as a consumer's does */
		struct timespec pause = {0, 200000};
		nanosleep(&pause, NULL);
		int64_t t0 = now_ns();
		redisReply *r = redisCommand(a, "XADD %s * raw %d", stream, i);
		if (!r || r->type != REDIS_REPLY_STRING || r->len >= (int)sizeof last)
			die("XADD", a);
		memcpy(last, r->str, (size_t)r->len + 1);
		freeReplyObject(r);
		void *rep = NULL;
		if (redisGetReply(b, &rep) != REDIS_OK || !rep)
			die("read XREAD's reply", b);
		v[i] = now_ns() - t0;
		freeReplyObject(rep);
	}
	qsort(v, (size_t)n, sizeof *v, cmp_i64);
	printf("raw p50_us=%.1f p99_us=%.1f max_us=%.1f\n", v[n / 2] / 1e3, v[(int)(n * 0.99)] / 1e3, v[n - 1] / 1e3);
	free(v);
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *stream = NULL;
	long rate = 200, nraw = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "--stream") && i + 1 < argc)
			stream = argv[++i];
		else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
			rate = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--raw") && i + 1 < argc)
			nraw = strtol(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: xadd-timed --socket PATH --stream S [--rate R | --raw N] <payloads\n");
			return 64;
		}
	}
	if (!sock || !stream || rate <= 0 || nraw < 0) {
		fprintf(stderr, "usage: xadd-timed --socket PATH --stream S [--rate R | --raw N] <payloads\n");
		return 64;
	}
	redisContext *a = redisConnectUnix(sock);
	if (!a || a->err)
		die("connect", a);
	if (nraw) {
		redisContext *b = redisConnectUnix(sock);
		if (!b || b->err)
			die("connect", b);
		raw(a, b, stream, (int)nraw);
		redisFree(b);
		redisFree(a);
		return 0;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int64_t gap = 1000000000 / rate, next = now_ns();
	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		struct timespec at = {(time_t)(next / 1000000000), (long)(next % 1000000000)};
		while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) != 0)
			;
		next += gap;
		int64_t t0 = now_ns();
		redisReply *r = redisCommand(a, "XADD %s * payload %b", stream, line, (size_t)len);
		int64_t t1 = now_ns();
		if (!r || r->type != REDIS_REPLY_STRING)
			die("XADD", a);
		printf("%s %lld %lld\n", r->str, (long long)t0, (long long)t1);
		freeReplyObject(r);
	}
	free(line);
	redisFree(a);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("write the output", NULL);
	return 0;
}
