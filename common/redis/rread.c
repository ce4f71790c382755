/*
 * rread.c -- the consumer loop of redis-read.
 *
 * One consumer at a time reads a stream for a pipeline: the pipeline's
 * checkpoint orders the stream's ids, so two consumers splitting one
 * stream would each skip what the other applied.  The active consumer
 * holds a lease in Redis (<stream>:<group>:lease, renewed every loop); the
 * others wait as standbys.  When a lease is taken the new holder first
 * claims the pending entries of the consumers that are gone (XAUTOCLAIM),
 * then re-reads all its own pending entries in id order (XREADGROUP ... 0),
 * then new ones (XREADGROUP ... >, BLOCK).  What was committed already is
 * at or below the checkpoint and is skipped downstream; redis-ack acks it.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "redis/rconn.h"
#include "redis/rdx.h"
#include "redis/rread.h"

static const char RENEW[] = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
			    "else return redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0 end";

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Take or renew the lease: 1 held, 0 another consumer holds it, -1 connection lost. */
static int lease(struct rconn *rc, const struct rread_opts *o, const char *key)
{
	char ms[32];
	snprintf(ms, sizeof ms, "%llu", (unsigned long long)o->lease_ms);
	const char *av[] = {"EVAL", RENEW, "1", key, o->consumer, ms};
	redisReply *r = rc_cmd(rc, 6, av, NULL, NULL);
	if (!r)
		return -1;
	int held = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
	freeReplyObject(r);
	return held;
}

static void dead_letter(struct rconn *rc, const struct rread_opts *o, const char *id, const char *payload, size_t plen,
	const char *reason)
{
	const char *av[] = {"XADD", o->dead_letter, "*", "stream", o->stream, "id", id, "payload", payload, "reason", reason};
	size_t lens[11];
	for (int i = 0; i < 11; i++)
		lens[i] = strlen(av[i]);
	lens[8] = plen;
	redisReply *r = rc_cmd(rc, 11, av, lens, NULL);
	if (r)
		freeReplyObject(r);
}

static void reject_line(const struct rread_opts *o, int64_t seq, const char *reason)
{
	if (!o->reject_file)
		return;
	struct sb s = SB_INIT;
	sb_adds(&s, "{\"op\":\"reject\",\"program\":\"redis-read\",\"kind\":\"syntax\",\"driver_id\":");
	if (seq >= 0)
		sb_add_i64(&s, seq);
	else
		sb_adds(&s, "null");
	sb_adds(&s, ",\"seq\":");
	if (seq >= 0)
		sb_add_i64(&s, seq);
	else
		sb_adds(&s, "null");
	sb_adds(&s, ",\"line\":null,\"reason\":");
	sb_add_jstr(&s, reason, strlen(reason));
	sb_adds(&s, "}\n");
	FILE *f = fopen(o->reject_file, "a");
	if (f) {
		fwrite(s.buf, 1, s.len, f);
		fclose(f);
	}
	sb_free(&s);
}

/* Frame every entry of an XREADGROUP/XAUTOCLAIM entry array; returns entries seen, or -65 on a bad one. */
static int emit_entries(struct rconn *rc, const struct rread_opts *o, redisReply *arr, struct sb *out)
{
	int n = 0;
	for (size_t i = 0; arr && arr->type == REDIS_REPLY_ARRAY && i < arr->elements; i++) {
		redisReply *e = arr->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		const char *id = e->element[0]->str;
		redisReply *f = e->element[1];
		n++;
		if (f->type != REDIS_REPLY_ARRAY)
			continue; /* deleted meanwhile (XAUTOCLAIM reports nil): nothing to apply */
		const char *payload = NULL;
		size_t plen = 0;
		for (size_t k = 0; k + 1 < f->elements; k += 2)
			if (f->element[k]->type == REDIS_REPLY_STRING && !strcmp(f->element[k]->str, "payload")) {
				payload = f->element[k + 1]->str;
				plen = f->element[k + 1]->len;
			}
		sb_reset(out);
		int64_t seq = -1;
		rdx_id_to_seq(id, strlen(id), &seq);
		if (!payload || memchr(payload, 0, plen) || rdx_frame(o->stream, id, payload, plen, out) < 0) {
			char reason[600];
			snprintf(reason, sizeof reason, "unable to frame message %s of stream %s: %s", id, o->stream,
				payload ? err_msg() : "no payload field");
			dead_letter(rc, o, id, payload ? payload : "", payload ? plen : 0, reason);
			reject_line(o, seq, reason);
			error("%s (copied to %s; skip it with: redis-ack --skip %s ...)", reason, o->dead_letter, id);
			return -65;
		}
		io_out(out->buf, out->len);
	}
	return n;
}

int rread_run(const struct rread_opts *o)
{
	struct rconn rc = {o->url, o->socket, NULL, o->stop};
	struct sb out = SB_INIT;
	char key[512], cnt[32], blk[32], idle[32];
	snprintf(key, sizeof key, "%s:%s:lease", o->stream, o->group);
	snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)o->count);
	snprintf(blk, sizeof blk, "%llu", (unsigned long long)o->block_ms);
	snprintf(idle, sizeof idle, "%llu", (unsigned long long)o->claim_idle_ms);
	int rc_exit = 0;
	while (!*o->stop) {
		if (!rc.c && rc_connect(&rc) < 0)
			break;
		const char *cg[] = {"XGROUP", "CREATE", o->stream, o->group, "0", "MKSTREAM"};
		redisReply *r = rc_cmd(&rc, 6, cg, NULL, "BUSYGROUP");
		if (!r)
			continue;
		freeReplyObject(r);
		int held = 0;
		int waited = 0;
		while (!*o->stop && (held = lease(&rc, o, key)) == 0) {
			if (!waited)
				note("standby: another consumer of group %s holds %s", o->group, key);
			waited = 1;
			nap((long)(o->lease_ms / 3 + 1));
		}
		if (*o->stop || held < 0)
			continue;
		if (waited) {
			/* The downstream state was taken while another consumer was
			 * active: it is stale.  Keep the lease and let the supervisor
			 * start the formation again from a fresh snapshot. */
			rc_close(&rc);
			die_code(75, "took the lease %s from a consumer that is gone: restart from a fresh snapshot", key);
		}
		/* the pending entries of consumers that are gone, then our own */
		const char *ac[] = {"XAUTOCLAIM", o->stream, o->group, o->consumer, idle, "0-0", "COUNT", "10000", "JUSTID"};
		r = rc_cmd(&rc, 9, ac, NULL, NULL);
		if (!r)
			continue;
		freeReplyObject(r);
		char last[64] = "0";
		int lost = 0;
		for (;;) { /* own pending, in id order */
			const char *rp[] = {"XREADGROUP", "GROUP", o->group, o->consumer, "COUNT", cnt, "STREAMS", o->stream, last};
			r = rc_cmd(&rc, 9, rp, NULL, NULL);
			if (!r) {
				lost = 1;
				break;
			}
			redisReply *ents = r->type == REDIS_REPLY_ARRAY && r->elements ? r->element[0]->element[1] : NULL;
			int n = emit_entries(&rc, o, ents, &out);
			if (n == -65) {
				freeReplyObject(r);
				rc_exit = 65;
				goto done;
			}
			if (n > 0)
				snprintf(last, sizeof last, "%s", ents->element[ents->elements - 1]->element[0]->str);
			freeReplyObject(r);
			if (n <= 0)
				break;
		}
		if (lost)
			continue;
		while (!*o->stop) { /* new entries */
			if (lease(&rc, o, key) != 1)
				break; /* lost the connection or the lease: start over */
			const char *rn[] = {"XREADGROUP", "GROUP", o->group, o->consumer, "COUNT", cnt, "BLOCK", blk, "STREAMS",
				o->stream, ">"};
			if (o->once) { /* no BLOCK: an empty answer means drained */
				rn[6] = "STREAMS";
				rn[7] = o->stream;
				rn[8] = ">";
			}
			r = rc_cmd(&rc, o->once ? 9 : 11, rn, NULL, NULL);
			if (!r)
				break;
			if (r->type != REDIS_REPLY_ARRAY || !r->elements) {
				freeReplyObject(r);
				if (o->once)
					goto done;
				continue;
			}
			int n = emit_entries(&rc, o, r->element[0]->element[1], &out);
			freeReplyObject(r);
			if (n == -65) {
				rc_exit = 65;
				goto done;
			}
		}
	}
done:
	if (rc.c && rc_exit == 0) {
		/* give the lease up at once: a standby need not wait for it to expire */
		const char *del[] = {"EVAL", "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
			"1", key, o->consumer};
		redisReply *r = rc_cmd(&rc, 5, del, NULL, NULL);
		if (r)
			freeReplyObject(r);
	}
	rc_close(&rc);
	sb_free(&out);
	return rc_exit;
}

int rread_replay(int fd)
{
	struct lr lr;
	struct js js;
	struct sb out = SB_INIT, tmp = SB_INIT, id = SB_INIT, st = SB_INIT;
	char *line;
	size_t len;
	long lineno = 0;
	int r;
	lr_init(&lr, fd, 16u << 20);
	js_init(&js);
	while ((r = lr_next(&lr, &line, &len)) > 0) {
		lineno++;
		const char *s;
		size_t n;
		if (js_parse(&js, line, len) < 0)
			die_code(65, "unable to read the record at line %ld: %s", lineno, err_msg());
		int ts = js_get(&js, 0, "stream"), ti = js_get(&js, 0, "id"), tp = js_get(&js, 0, "payload");
		if (ts < 0 || ti < 0 || tp < 0 || js_str(&js, ts, &tmp, &s, &n) < 0)
			die_code(65, "unable to read the record at line %ld: it needs stream, id and payload", lineno);
		sb_reset(&st);
		sb_add(&st, s, n);
		sb_addc(&st, 0);
		if (js_str(&js, ti, &tmp, &s, &n) < 0)
			die_code(65, "unable to read the record at line %ld: id is not a string", lineno);
		sb_reset(&id);
		sb_add(&id, s, n);
		sb_addc(&id, 0);
		if (js.t[tp].type == JS_STR)
			js_str(&js, tp, &tmp, &s, &n);
		else {
			s = js.src + js.t[tp].off;
			n = js.t[tp].len;
		}
		sb_reset(&out);
		if (rdx_frame(st.buf, id.buf, s, n, &out) < 0)
			die_code(65, "unable to frame the record at line %ld (message %s of stream %s): %s", lineno, id.buf, st.buf,
				err_msg());
		io_out(out.buf, out.len);
	}
	if (r < 0)
		die_code(65, "unable to read the records after line %ld: %s", lineno, err_msg());
	lr_free(&lr);
	js_free(&js);
	sb_free(&out);
	sb_free(&tmp);
	sb_free(&id);
	sb_free(&st);
	return 0;
}
