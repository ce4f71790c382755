/*
 * rack.c -- redis-ack.  pg-write prints {"op":"ack","driver_id":D,"seq":S}
 * after each COMMIT (also for frames it skipped as already applied).  A
 * frame's seq is its message id (rdx.h), and the pipeline's checkpoint
 * orders the stream, so an ack of S means every message up to S is
 * applied: redis-ack XACKs every pending entry of the group up to it
 * (XPENDING - S), which also retires entries that were re-delivered after
 * a crash and skipped downstream.  Acks are batched: all lines available
 * are read, then the highest one is acked, then the lines are passed on to
 * stdout (run-pipeline's --acks).
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "redis/rack.h"
#include "redis/rconn.h"
#include "redis/rdx.h"

/* XACK every pending entry up to id; 0, or -1 when the connection was lost. */
static int ack_upto(struct rconn *rc, const struct rack_opts *o, const char *id)
{
	for (;;) {
		const char *xp[] = {"XPENDING", o->stream, o->group, "-", id, "1000"};
		redisReply *r = rc_cmd(rc, 6, xp, NULL, NULL);
		if (!r)
			return -1;
		size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
		if (n) {
			const char **av = xmalloc((n + 3) * sizeof *av);
			av[0] = "XACK";
			av[1] = o->stream;
			av[2] = o->group;
			for (size_t i = 0; i < n; i++)
				av[3 + i] = r->element[i]->element[0]->str;
			redisReply *a = rc_cmd(rc, (int)n + 3, av, NULL, NULL);
			free(av);
			if (!a) {
				freeReplyObject(r);
				return -1;
			}
			freeReplyObject(a);
		}
		freeReplyObject(r);
		if (n < 1000)
			return 0;
	}
}

int rack_run(const struct rack_opts *o)
{
	struct rconn rc = {o->url, o->socket, NULL, o->stop};
	struct lr lr;
	struct js js;
	lr_init(&lr, 0, 1u << 20);
	js_init(&js);
	int64_t best = -1, done_upto = -1;
	struct sb pass = SB_INIT; /* the ack lines of the batch, passed on once XACKed */
	int exit_code = 0;
	for (;;) {
		char *line;
		size_t len;
		int g;
		while ((g = lr_getline(&lr, &line, &len)) == LR_LINE) {
			int64_t seq;
			if (js_parse(&js, line, len) < 0 || js_get(&js, 0, "op") < 0 || !js_str_eq(&js, js_get(&js, 0, "op"), "ack") ||
				js_u63(&js, js_get(&js, 0, "seq"), &seq) < 0)
				die_code(65, "unable to read the ack at line %llu: not {\"op\":\"ack\",...,\"seq\":N}",
					(unsigned long long)lr.lineno);
			if (seq > best)
				best = seq;
			sb_add(&pass, line, len);
			sb_addc(&pass, '\n');
		}
		if (g == LR_ETOOLONG)
			die_code(65, "unable to read the ack at line %llu: %s", (unsigned long long)lr.lineno + 1, err_msg());
		if (best > done_upto) {
			char id[32];
			rdx_seq_to_id(best, id);
			while (!*o->stop && ((!rc.c && rc_connect(&rc) < 0) || ack_upto(&rc, o, id) < 0))
				;
			if (*o->stop)
				break;
			done_upto = best;
		}
		if (pass.len) {
			io_out(pass.buf, pass.len);
			sb_reset(&pass);
		}
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
	if (rdx_id_to_seq(id, strlen(id), &seq) < 0)
		die_code(64, "%s", err_msg());
	if (rc_connect(&rc) < 0)
		return 0;
	const char *xr[] = {"XRANGE", o->stream, id, id};
	redisReply *r = rc_cmd(&rc, 4, xr, NULL, NULL);
	if (!r)
		die_code(69, "lost the connection to Redis");
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1)
		die_code(65, "message %s is not in stream %s", id, o->stream);
	redisReply *f = r->element[0]->element[1];
	const char *payload = "";
	size_t plen = 0;
	for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
		if (!strcmp(f->element[k]->str, "payload")) {
			payload = f->element[k + 1]->str;
			plen = f->element[k + 1]->len;
		}
	const char *av[] = {"XADD", o->dead_letter, "*", "stream", o->stream, "id", id, "payload", payload, "reason", "skipped by redis-ack --skip"};
	size_t lens[11];
	for (int i = 0; i < 11; i++)
		lens[i] = strlen(av[i]);
	lens[8] = plen;
	redisReply *a = rc_cmd(&rc, 11, av, lens, NULL);
	if (!a)
		die_code(69, "lost the connection to Redis");
	freeReplyObject(a);
	const char *xa[] = {"XACK", o->stream, o->group, id};
	a = rc_cmd(&rc, 4, xa, NULL, NULL);
	if (!a)
		die_code(69, "lost the connection to Redis");
	note("skipped message %s of stream %s (XACKed, copied to %s)", id, o->stream, o->dead_letter);
	freeReplyObject(a);
	freeReplyObject(r);
	rc_close(&rc);
	return 0;
}
