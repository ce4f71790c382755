/*
 * rack.c -- redis-ack.  pg-write prints {"op":"ack","driver_id":D,"seq":S}
 * after each COMMIT (also for frames it skipped as already applied).  A
 * frame's seq is its message id (rdx.h), and the pipeline's checkpoint
 * orders the stream, so an ack of S means every message up to S is
 * applied: redis-ack XACKs every pending entry of the group up to it
 * (XPENDING - S), which also retires entries that were re-delivered after
 * a crash and skipped downstream, in one round trip (a script: XPENDING
 * and XACK per stream).  Acks are batched: all lines available
 * are read, then the highest one is acked, then the lines are passed on to
 * stdout (run-pipeline's --acks).  Several streams: the ack's driver_id
 * names the stream (rdx_stream_of); the streams up to it are acked up to
 * the id, the later ones below it.  At the end of input, the messages the
 * apply filter refused (--reject-file) get their dead-letter copies.
 */
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "redis/rack.h"
#include "redis/rconn.h"
#include "redis/rdx.h"

static const char *dead_name(const struct rack_opts *o, int j, char *buf, size_t n)
{
	if (o->dead_letter)
		return o->dead_letter;
	snprintf(buf, n, "%s:dead", o->streams[j]);
	return buf;
}

/*
 * One round trip per ack (live: the only Redis call between COMMIT and the
 * ack line): a script that, for each stream, XPENDINGs the group's entries
 * up to the id (exclusive for the streams after the ack's own) and XACKs
 * them.  At most 1000 entries a stream per call; returns 1 when a stream
 * had more (the caller calls again), else 0.
 */
static const char ACK_SCRIPT[] =
	"local more = 0 "
	"for i, k in ipairs(KEYS) do "
	"local e = ARGV[2] "
	"if i > tonumber(ARGV[3]) then e = '(' .. ARGV[2] end "
	"local p = redis.call('XPENDING', k, ARGV[1], '-', e, 1000) "
	"if #p > 0 then "
	"local ids = {} "
	"for x = 1, #p do ids[x] = p[x][1] end "
	"redis.call('XACK', k, ARGV[1], unpack(ids)) "
	"if #p == 1000 then more = 1 end "
	"end "
	"end "
	"return more";

/*
 * An ack of (seq S, driver D) means every frame up to it in (seq, driver)
 * order committed: of D's stream j and the streams before it every message
 * up to id(S), of the streams after it every message below id(S).  0, or
 * -1 when the connection was lost.
 */
static int ack_all(struct rconn *rc, const struct rack_opts *o, int64_t seq, int64_t driver)
{
	char id[32], nk[16], jj[16];
	rdx_seq_to_id(seq, id);
	int j = rdx_stream_of(driver, o->nstreams);
	if (j < 0)
		die_code(65, "unable to use the ack of driver_id %lld: not a frame of one of the %d streams",
			(long long)driver, o->nstreams);
	snprintf(nk, sizeof nk, "%d", o->nstreams);
	snprintf(jj, sizeof jj, "%d", j + 1);
	const char *av[3 + RDX_MAX_STREAMS + 3];
	int ac = 0;
	av[ac++] = "EVAL";
	av[ac++] = ACK_SCRIPT;
	av[ac++] = nk;
	for (int k = 0; k < o->nstreams; k++)
		av[ac++] = o->streams[k];
	av[ac++] = o->group;
	av[ac++] = id;
	av[ac++] = jj;
	for (;;) {
		redisReply *r = rc_cmd(rc, ac, av, NULL, NULL);
		if (!r)
			return -1;
		int more = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
		freeReplyObject(r);
		if (!more)
			return 0;
	}
}

/* Copy message id of stream j to the dead-letter stream with reason; 0, 1 not in the stream, -1 connection lost. */
static int copy_dead(struct rconn *rc, const struct rack_opts *o, int j, const char *id, const char *reason)
{
	char dbuf[300];
	const char *xr[] = {"XRANGE", o->streams[j], id, id};
	redisReply *r = rc_cmd(rc, 4, xr, NULL, NULL);
	if (!r)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1) {
		freeReplyObject(r);
		return 1;
	}
	redisReply *f = r->element[0]->element[1];
	const char *payload = "";
	size_t plen = 0;
	for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
		if (f->element[k]->type == REDIS_REPLY_STRING && !strcmp(f->element[k]->str, "payload")) {
			payload = f->element[k + 1]->str;
			plen = f->element[k + 1]->len;
		}
	const char *av[] = {"XADD", dead_name(o, j, dbuf, sizeof dbuf), "*", "stream", o->streams[j], "id", id, "payload", payload,
		"reason", reason};
	size_t lens[11];
	for (int i = 0; i < 11; i++)
		lens[i] = strlen(av[i]);
	lens[8] = plen;
	redisReply *a = rc_cmd(rc, 11, av, lens, NULL);
	freeReplyObject(r);
	if (!a)
		return -1;
	freeReplyObject(a);
	return 0;
}

/*
 * The pipeline stopped: the reject lines of the apply filter (redis-read
 * copies what it cannot frame itself) name the messages it refused by
 * driver_id and seq; each gets its dead-letter copy, reason and all.
 */
static void dead_letter_rejects(struct rconn *rc, const struct rack_opts *o)
{
	int fd = open(o->reject_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* nothing refused */
	struct lr lr;
	struct js js;
	struct sb tmp = SB_INIT, reason = SB_INIT;
	char *line;
	size_t len;
	lr_init(&lr, fd, 1u << 20);
	js_init(&js);
	while (lr_next(&lr, &line, &len) > 0) {
		int64_t seq, driver;
		const char *s;
		size_t n;
		if (js_parse(&js, line, len) < 0 || js_u63(&js, js_get(&js, 0, "seq"), &seq) < 0 ||
			js_u63(&js, js_get(&js, 0, "driver_id"), &driver) < 0)
			continue; /* no frame named: nothing to copy */
		int tp = js_get(&js, 0, "program");
		if (tp >= 0 && js_str_eq(&js, tp, "redis-read"))
			continue; /* copied already */
		int j = rdx_stream_of(driver, o->nstreams);
		if (j < 0)
			continue;
		char id[32];
		rdx_seq_to_id(seq, id);
		sb_reset(&reason);
		sb_addf(&reason, "message %s of stream %s stopped the pipeline: ", id, o->streams[j]);
		int tr = js_get(&js, 0, "reason");
		if (tr >= 0 && js_str(&js, tr, &tmp, &s, &n) == 0)
			sb_add(&reason, s, n);
		sb_addc(&reason, 0);
		char dbuf[300];
		while (!*o->stop) {
			int r = (!rc->c && rc_connect(rc) < 0) ? -1 : copy_dead(rc, o, j, id, reason.buf);
			if (r == 0)
				note("copied message %s of stream %s to %s (skip it with: redis-ack --skip %s %s)", id, o->streams[j],
					dead_name(o, j, dbuf, sizeof dbuf), id, o->streams[j]);
			if (r >= 0)
				break;
		}
	}
	lr_free(&lr);
	js_free(&js);
	sb_free(&tmp);
	sb_free(&reason);
	close(fd);
}

int rack_run(const struct rack_opts *o)
{
	struct rconn rc = {o->url, o->socket, NULL, o->stop};
	struct lr lr;
	struct js js;
	lr_init(&lr, 0, 1u << 20);
	js_init(&js);
	int64_t best = -1, best_d = -1, done_upto = -1, done_d = -1;
	struct sb pass = SB_INIT; /* the ack lines of the batch, passed on once XACKed */
	int exit_code = 0;
	for (;;) {
		char *line;
		size_t len;
		int g;
		while ((g = lr_getline(&lr, &line, &len)) == LR_LINE) {
			int64_t seq, d;
			if (js_parse(&js, line, len) < 0 || js_get(&js, 0, "op") < 0 || !js_str_eq(&js, js_get(&js, 0, "op"), "ack") ||
				js_u63(&js, js_get(&js, 0, "seq"), &seq) < 0 || js_u63(&js, js_get(&js, 0, "driver_id"), &d) < 0)
				die_code(65, "unable to read the ack at line %llu: not {\"op\":\"ack\",\"driver_id\":D,\"seq\":S}",
					(unsigned long long)lr.lineno);
			if (seq > best || (seq == best && d > best_d)) {
				best = seq;
				best_d = d;
			}
			sb_add(&pass, line, len);
			sb_addc(&pass, '\n');
		}
		if (g == LR_ETOOLONG)
			die_code(65, "unable to read the ack at line %llu: %s", (unsigned long long)lr.lineno + 1, err_msg());
		if (best > done_upto || (best == done_upto && best_d > done_d)) {
			while (!*o->stop && ((!rc.c && rc_connect(&rc) < 0) || ack_all(&rc, o, best, best_d) < 0))
				;
			if (*o->stop)
				break;
			done_upto = best;
			done_d = best_d;
		}
		if (pass.len) {
			io_out(pass.buf, pass.len);
			sb_reset(&pass);
		}
		if (lr.eof && !*o->stop && o->reject_file)
			dead_letter_rejects(&rc, o);
		if (lr.eof || *o->stop)
			break;
		struct pollfd p = {0, POLLIN, 0};
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			die_errno(70, "unable to poll stdin");
		if (p.revents && lr_fill(&lr) < 0 && errno != EINTR && errno != EAGAIN)
			die_errno(75, "unable to read the acks");
	}
	lr_free(&lr);
	js_free(&js);
	sb_free(&pass);
	rc_close(&rc);
	return exit_code;
}

int rack_skip(const struct rack_opts *o, const char *id)
{
	struct rconn rc = {o->url, o->socket, NULL, o->stop};
	int64_t seq;
	char dbuf[300];
	if (rdx_id_to_seq(id, strlen(id), &seq) < 0)
		die_code(64, "%s", err_msg());
	if (rc_connect(&rc) < 0)
		return 0;
	int r = copy_dead(&rc, o, 0, id, "skipped by redis-ack --skip");
	if (r < 0)
		die_code(69, "lost the connection to Redis");
	if (r > 0)
		die_code(65, "message %s is not in stream %s", id, o->streams[0]);
	const char *xa[] = {"XACK", o->streams[0], o->group, id};
	redisReply *a = rc_cmd(&rc, 4, xa, NULL, NULL);
	if (!a)
		die_code(69, "lost the connection to Redis");
	note("skipped message %s of stream %s (XACKed, copied to %s)", id, o->streams[0], dead_name(o, 0, dbuf, sizeof dbuf));
	freeReplyObject(a);
	rc_close(&rc);
	return 0;
}
