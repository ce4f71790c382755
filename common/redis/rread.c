/*
 * rread.c -- the consumer loop of redis-read.
 *
 * One consumer at a time reads a stream for a pipeline: the pipeline's
 * checkpoint orders the stream's ids, so two consumers splitting one
 * stream would each skip what the other applied.  The active consumer
 * holds a lease in Redis (<first stream>:<group>:lease, renewed at least
 * every third of its time to live); the others wait as standbys.  When a
 * lease is taken the new holder first claims the pending entries of the
 * consumers that are gone (XAUTOCLAIM), then re-reads all its own pending
 * entries in id order (XREADGROUP ... 0), then new ones (XREADGROUP ... >,
 * BLOCK).  What was committed already is at or below the checkpoint and is
 * skipped downstream; redis-ack acks it.
 *
 * Several streams are merged (merge_loop) in (id, place) order, the order
 * of the frames' (seq, driver_id): each stream's answers are buffered (at
 * most --count entries a stream), and the smallest head is written once
 * every stream with nothing buffered has a watermark above its
 * milliseconds -- the server's TIME before that stream's last empty read:
 * Redis gives a later message an id of at least that.
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

/*
 * The lease's value is "INSTANCE CONSUMER": INSTANCE names this process
 * (redis-read-HOST-PID-RANDOM), and is also its connection's CLIENT SETNAME,
 * so that a process that finds the lease held under its own consumer name
 * by another instance can ask Redis whether that instance's connection is
 * still open: if it is, two processes were started with one consumer name
 * (they would both read and ack the same pending entries), and the second
 * waits as a standby; if it is not, the holder is gone (killed, crashed) and
 * its successor takes the lease at once, as a restart of the same consumer.
 * The script returns 1 (held by us, renewed or taken) or the holder's value.
 */
static const char RENEW[] = "local v = redis.call('get', KEYS[1]) "
			    "if v == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end "
			    "if not v then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end "
			    "return v";
/* take the lease from a gone instance of the same consumer (if it still holds it) */
static const char TAKEOVER[] = "if redis.call('get', KEYS[1]) == ARGV[1] then "
			       "redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* this process's instance name and lease value (rread_run fills them in) */
static char instance[160], lease_val[160 + RREAD_CONSUMER_MAX + 2];

static void make_instance(const char *consumer)
{
	char host[64] = "host";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = 0;
	for (char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			*p = '_';
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned long long r = ((unsigned long long)ts.tv_sec * 1000000007ULL) ^ (unsigned long long)ts.tv_nsec ^
			       ((unsigned long long)getpid() << 32);
	snprintf(instance, sizeof instance, "redis-read-%s-%ld-%08llx", host, (long)getpid(), r & 0xffffffffULL);
	snprintf(lease_val, sizeof lease_val, "%s %s", instance, consumer);
}

/* Name this connection after the instance (CLIENT SETNAME); 0, or -1 when the connection was lost. */
static int name_connection(struct rconn *rc)
{
	const char *av[] = {"CLIENT", "SETNAME", instance};
	redisReply *r = rc_cmd(rc, 3, av, NULL, NULL);
	if (!r)
		return -1;
	freeReplyObject(r);
	return 0;
}

/* Is a connection named name open on the server?  1 yes, 0 no, -1 connection lost. */
static int instance_alive(struct rconn *rc, const char *name)
{
	const char *av[] = {"CLIENT", "LIST", "TYPE", "normal"};
	redisReply *r = rc_cmd(rc, 4, av, NULL, NULL);
	if (!r)
		return -1;
	int alive = 0;
	if (r->type == REDIS_REPLY_STRING) {
		char pat[200];
		snprintf(pat, sizeof pat, " name=%s ", name);
		alive = strstr(r->str, pat) != NULL;
	}
	freeReplyObject(r);
	return alive;
}

/*
 * Take or renew the lease: 1 held, 0 another consumer holds it, 2 another
 * process with our consumer name holds it and is still connected, -1
 * connection lost.
 */
static int lease(struct rconn *rc, const struct rread_opts *o, const char *key)
{
	char ms[32];
	snprintf(ms, sizeof ms, "%llu", (unsigned long long)o->lease_ms);
	const char *av[] = {"EVAL", RENEW, "1", key, lease_val, ms};
	redisReply *r = rc_cmd(rc, 6, av, NULL, NULL);
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER) {
		int held = r->integer == 1;
		freeReplyObject(r);
		return held;
	}
	/* the holder: "INSTANCE CONSUMER" (the instance has no space) */
	char holder[sizeof lease_val] = "", *sp = NULL;
	if (r->type == REDIS_REPLY_STRING && r->len < sizeof holder) {
		memcpy(holder, r->str, r->len);
		holder[r->len] = 0;
		sp = strchr(holder, ' ');
	}
	freeReplyObject(r);
	if (!sp || strcmp(sp + 1, o->consumer))
		return 0; /* another consumer's lease */
	*sp = 0;
	int alive = instance_alive(rc, holder);
	/* A process killed a moment ago may still be listed until the server
	 * has seen its socket close: give it a second before calling it a
	 * second process of our name (a restart then goes on at once). */
	static int graced;
	for (int i = 0; alive == 1 && !graced && i < 20 && !*o->stop; i++) {
		nap(50);
		alive = instance_alive(rc, holder);
	}
	graced = 1;
	if (alive)
		return alive < 0 ? -1 : 2;
	/* our consumer name, its process gone: take over at once */
	*sp = ' ';
	const char *tv[] = {"EVAL", TAKEOVER, "1", key, holder, lease_val, ms};
	r = rc_cmd(rc, 7, tv, NULL, NULL);
	if (!r)
		return -1;
	int held = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
	freeReplyObject(r);
	if (held) {
		*sp = 0;
		note("took the lease %s from %s (gone)", key, holder);
	}
	return held;
}

static void dead_letter(struct rconn *rc, const struct rread_opts *o, const char *stream, char *dead, size_t dn,
	const char *id, const char *payload, size_t plen, const char *reason)
{
	if (o->dead_letter)
		snprintf(dead, dn, "%s", o->dead_letter);
	else
		snprintf(dead, dn, "%s:dead", stream);
	const char *av[] = {"XADD", dead, "*", "stream", stream, "id", id, "payload", payload, "reason", reason};
	size_t lens[11];
	for (int i = 0; i < 11; i++)
		lens[i] = strlen(av[i]);
	lens[8] = plen;
	redisReply *r = rc_cmd(rc, 11, av, lens, NULL);
	if (r)
		freeReplyObject(r);
}

static void reject_line(const struct rread_opts *o, int64_t driver, int64_t seq, const char *reason)
{
	if (!o->reject_file)
		return;
	struct sb s = SB_INIT;
	sb_adds(&s, "{\"op\":\"reject\",\"program\":\"redis-read\",\"kind\":\"syntax\",\"driver_id\":");
	if (driver >= 0)
		sb_add_i64(&s, driver);
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

/* One stream of the pipeline: the entries read and not yet written, and what may still come. */
struct rstream {
	const char *name;
	int idx;
	char cursor[64];   /* own pending entries after this id; ">" once they are all read */
	redisReply *reply; /* the entries of the last read of this stream (owned by top) */
	redisReply *top;
	size_t pos;
	int64_t head;  /* seq of reply->element[pos] */
	int64_t *la;   /* per entry: one stream: the highest block of the entries after it (up to a
			* reorg), or -1; several: the entry's own highest block, -1 none, -2 a reorg */
	int64_t *eseq; /* several streams: per entry, its seq */
	size_t la_cap;
	uint64_t wm; /* a message still to come has milliseconds >= wm (valid while no entry is buffered) */
};

static size_t nbuf(const struct rstream *s)
{
	return s->reply ? s->reply->elements - s->pos : 0;
}

static void drop(struct rstream *s)
{
	if (s->top)
		freeReplyObject(s->top);
	s->top = s->reply = NULL;
	s->pos = 0;
}

static const char *payload_of(redisReply *e, size_t *plen)
{
	redisReply *f = e->type == REDIS_REPLY_ARRAY && e->elements >= 2 ? e->element[1] : NULL;
	for (size_t k = 0; f && f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
		if (f->element[k]->type == REDIS_REPLY_STRING && !strcmp(f->element[k]->str, "payload") &&
			f->element[k + 1]->type == REDIS_REPLY_STRING) {
			*plen = f->element[k + 1]->len;
			return f->element[k + 1]->str;
		}
	return NULL;
}

/*
 * The look-ahead of one stream's answer (a pipeline of one stream): for
 * each entry, the highest block of the entries after it, up to the next
 * reorg message.  It is the "head" of the entry's frame: once those
 * entries are applied, a block at least the finality below it could only
 * be reverted by a reorg deeper than the journal, which is refused anyway
 * -- so the frame needs no undo journal (catch-up: about half the deltas).
 */
static void look_ahead(struct rstream *s, int multi)
{
	size_t n = s->reply->elements;
	if (n > s->la_cap) {
		s->la = xrealloc(s->la, n * sizeof *s->la);
		s->eseq = xrealloc(s->eseq, n * sizeof *s->eseq);
		s->la_cap = n;
	}
	int64_t after = -1;
	for (size_t i = n; i-- > 0;) {
		size_t plen = 0;
		redisReply *e = s->reply->element[i];
		const char *p = payload_of(e, &plen);
		int64_t mb;
		int r = p ? rdx_scan(p, plen, &mb) : -1;
		if (multi) {
			s->la[i] = r != 0 ? -2 : mb < 0 ? -1
							: mb;
			if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING ||
				rdx_id_to_seq(e->element[0]->str, e->element[0]->len, &s->eseq[i]) < 0) {
				s->eseq[i] = -1;
				s->la[i] = -2; /* unreadable: a barrier, as a reorg */
			}
			continue;
		}
		s->la[i] = after;
		if (r != 0)
			after = -1; /* a reorg (or bad) message: nothing before it is final by what follows */
		else if (mb > after)
			after = mb;
	}
}

/* (seq, place) order of the merged streams */
static int key_lt(int64_t sa, int ia, int64_t sb, int ib)
{
	return sa < sb || (sa == sb && ia < ib);
}

/* at most this many entries a stream are looked at for one frame's head (a lower head only journals more) */
#define LA_SCAN 4096

/*
 * The look-ahead "head" of the merged streams for the head entry of s (the
 * smallest of every buffer): the highest block of the entries that are
 * certain to be written after it and before anything not yet read, up to
 * the first reorg (or unreadable) message among them.  Not yet read: of a
 * stream with entries buffered, what comes after its last one; of a stream
 * with none, what has an id of at least its watermark (merge_loop writes
 * the head only once every such watermark is past it).  -1 when nothing
 * qualifies.
 */
static int64_t merged_head(const struct rread_opts *o, const struct rstream *st, const struct rstream *s)
{
	int ns = o->nstreams;
	int64_t cseq = INT64_MAX, cur = s->eseq[s->pos];
	int cidx = 0;
	if (cur < 0)
		return -1;
	/* the cut (exclusive): the first key that could be unread, or a reorg */
	for (int y = 0; y < ns; y++) {
		const struct rstream *t = &st[y];
		if (!nbuf(t)) {
			int64_t w = (int64_t)(t->wm << RDX_SEQ_BITS);
			if (key_lt(w, 0, cseq, cidx))
				cseq = w, cidx = 0;
			continue;
		}
		if (t->la_cap < t->reply->elements)
			return -1;
		size_t last = t->reply->elements - 1;
		if (key_lt(t->eseq[last], y + 1, cseq, cidx))
			cseq = t->eseq[last], cidx = y + 1;
		size_t from = t == s ? t->pos + 1 : t->pos, scan = 0;
		for (size_t i = from; i < t->reply->elements && scan < LA_SCAN; i++, scan++)
			if (t->la[i] == -2) {
				if (key_lt(t->eseq[i], y, cseq, cidx))
					cseq = t->eseq[i], cidx = y;
				break;
			}
	}
	int64_t head = -1;
	for (int y = 0; y < ns; y++) {
		const struct rstream *t = &st[y];
		if (!nbuf(t))
			continue;
		size_t from = t == s ? t->pos + 1 : t->pos, scan = 0;
		for (size_t i = from; i < t->reply->elements && scan < LA_SCAN; i++, scan++) {
			if (!key_lt(t->eseq[i], y, cseq, cidx) || !key_lt(cur, s->idx, t->eseq[i], y))
				break;
			if (t->la[i] > head)
				head = t->la[i];
		}
	}
	return head;
}

/* The head's seq (an unreadable id: -1, refused when written). */
static void set_head(struct rstream *s)
{
	while (s->reply && s->pos < s->reply->elements) {
		redisReply *e = s->reply->element[s->pos];
		if (e->type == REDIS_REPLY_ARRAY && e->elements >= 2 && e->element[0]->type == REDIS_REPLY_STRING) {
			if (rdx_id_to_seq(e->element[0]->str, e->element[0]->len, &s->head) < 0)
				s->head = -1;
			return;
		}
		s->pos++;
	}
	drop(s);
}

/* Take the entries of a stream's answer (one element of an XREADGROUP reply, or the whole reply). */
static void take(struct rstream *s, redisReply *top, redisReply *ents, int ahead)
{
	drop(s);
	if (!ents || ents->type != REDIS_REPLY_ARRAY || !ents->elements) {
		freeReplyObject(top);
		return;
	}
	s->top = top;
	s->reply = ents;
	s->pos = 0;
	if (ahead)
		look_ahead(s, ahead > 1);
	set_head(s);
}

/* Write the head entry of s as a frame; 0, or -65 for a bad message. */
static int emit_head(struct rconn *rc, const struct rread_opts *o, const struct rstream *st, struct rstream *s,
	struct sb *out)
{
	redisReply *e = s->reply->element[s->pos];
	const char *id = e->element[0]->str;
	redisReply *f = e->element[1];
	int rc_exit = 0;
	if (f->type == REDIS_REPLY_ARRAY) { /* else deleted meanwhile (XAUTOCLAIM reports nil): nothing to apply */
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
		int64_t driver = seq < 0 ? -1 : rdx_driver(seq, s->idx, o->nstreams);
		int64_t head = s->la_cap < s->reply->elements ? -1
			       : o->nstreams == 1	      ? s->la[s->pos]
							      : merged_head(o, st, s);
		if (!payload || memchr(payload, 0, plen) || rdx_frame(s->name, id, driver, head, payload, plen, out) < 0) {
			char reason[600], dead[300];
			snprintf(reason, sizeof reason, "unable to frame message %s of stream %s: %s", id, s->name,
				payload ? err_msg() : "no payload field");
			dead_letter(rc, o, s->name, dead, sizeof dead, id, payload ? payload : "", payload ? plen : 0, reason);
			reject_line(o, driver, seq, reason);
			error("%s (copied to %s; skip it with: redis-ack --skip %s %s)", reason, dead, id, s->name);
			rc_exit = -65;
		} else
			io_out(out->buf, out->len);
	}
	s->pos++;
	set_head(s);
	return rc_exit;
}

/* The server's clock in milliseconds (TIME); 0 when the connection was lost. */
static uint64_t server_ms(struct rconn *rc)
{
	const char *av[] = {"TIME"};
	redisReply *r = rc_cmd(rc, 1, av, NULL, NULL);
	if (!r)
		return 0;
	uint64_t ms = 0;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING)
		ms = strtoull(r->element[0]->str, NULL, 10) * 1000 + strtoull(r->element[1]->str, NULL, 10) / 1000;
	freeReplyObject(r);
	return ms;
}

/*
 * XREADGROUP for the streams in want[] (those with nothing buffered): own
 * pending entries after the cursor, or new ones (">"); block: BLOCK ms (0:
 * none).  Each stream's answer is buffered; a stream whose pending entries
 * are all read moves on to new ones; a stream asked for new entries that
 * got none learns its watermark (the server's clock before the read: what
 * comes later has an id at least that).  0, or -1 when the connection was lost.
 */
static int read_streams(struct rconn *rc, const struct rread_opts *o, struct rstream *st, const int *want, int nwant,
	const char *cnt, uint64_t block)
{
	const char *av[8 + 2 * RDX_MAX_STREAMS];
	char blk[32];
	int ac = 0, any_new = 0;
	av[ac++] = "XREADGROUP";
	av[ac++] = "GROUP";
	av[ac++] = o->group;
	av[ac++] = o->consumer;
	av[ac++] = "COUNT";
	av[ac++] = cnt;
	for (int i = 0; i < nwant; i++)
		any_new |= st[want[i]].cursor[0] == '>';
	if (block && any_new) {
		snprintf(blk, sizeof blk, "%llu", (unsigned long long)block);
		av[ac++] = "BLOCK";
		av[ac++] = blk;
	}
	av[ac++] = "STREAMS";
	for (int i = 0; i < nwant; i++)
		av[ac++] = st[want[i]].name;
	for (int i = 0; i < nwant; i++)
		av[ac++] = st[want[i]].cursor;
	uint64_t t0 = 0;
	if (o->nstreams > 1 && any_new && !(t0 = server_ms(rc)))
		return -1;
	redisReply *r = rc_cmd(rc, ac, av, NULL, NULL);
	if (!r)
		return -1;
	int got[RDX_MAX_STREAMS] = {0};
	/* the answer: [[name, entries], ...] for the streams that have entries (pending reads: all asked) */
	for (size_t k = 0; r->type == REDIS_REPLY_ARRAY && k < r->elements; k++) {
		redisReply *se = r->element[k];
		if (se->type != REDIS_REPLY_ARRAY || se->elements < 2 || se->element[0]->type != REDIS_REPLY_STRING)
			continue;
		for (int i = 0; i < nwant; i++) {
			struct rstream *s = &st[want[i]];
			if (strcmp(s->name, se->element[0]->str) || got[want[i]])
				continue;
			got[want[i]] = 1;
			redisReply *ents = se->element[1];
			if (ents->type == REDIS_REPLY_ARRAY && ents->elements) {
				/* keep the whole reply alive once per stream: copy the element out of it */
				se->element[1] = NULL;
				redisReply *holder = ents;
				take(s, holder, holder, o->nstreams == 1 ? 1 : 2);
				if (s->cursor[0] != '>')
					snprintf(s->cursor, sizeof s->cursor, "%s", ents->element[ents->elements - 1]->element[0]->str);
			} else
				got[want[i]] = 2;
		}
	}
	freeReplyObject(r);
	for (int i = 0; i < nwant; i++) {
		struct rstream *s = &st[want[i]];
		if (got[want[i]] == 1)
			continue;
		if (s->cursor[0] != '>')
			strcpy(s->cursor, ">"); /* own pending all read: new entries from now on */
		else
			s->wm = t0;
	}
	return 0;
}

/*
 * The streams merged into one order, (seq, stream index), as the frames'
 * (seq, driver_id) are ordered: the smallest buffered head is written once
 * no stream with nothing buffered can still receive a smaller id (its
 * watermark is past the head's milliseconds).  With one stream nothing
 * waits.  Returns 0 (stopped / drained with --once), -1 to start over
 * (connection or lease lost), -65 a bad message.
 */
static int merge_loop(struct rconn *rc, const struct rread_opts *o, struct rstream *st, const char *key, const char *cnt,
	struct sb *out)
{
	uint64_t renewed = 0;
	int ns = o->nstreams;
	while (!*o->stop) {
		int want[RDX_MAX_STREAMS], nw = 0;
		/* the lease, renewed a third of its time to live at the latest */
		uint64_t now = mono_ms();
		if (!renewed || now - renewed >= o->lease_ms / 3) {
			if (lease(rc, o, key) != 1)
				return -1; /* lost the connection or the lease: start over */
			renewed = now ? now : 1;
		}
		/* own pending entries first, stream by stream, until each is read */
		for (int i = 0; i < ns; i++)
			if (!nbuf(&st[i]) && st[i].cursor[0] != '>')
				want[nw++] = i;
		if (nw) {
			if (read_streams(rc, o, st, want, nw, cnt, 0) < 0)
				return -1;
			continue;
		}
		struct rstream *best = NULL;
		for (int i = 0; i < ns; i++)
			if (nbuf(&st[i]) && (!best || st[i].head < best->head))
				best = &st[i];
		if (best) {
			uint64_t ms = best->head < 0 ? 0 : (uint64_t)best->head >> RDX_SEQ_BITS;
			nw = 0;
			for (int i = 0; i < ns; i++)
				if (!nbuf(&st[i]) && st[i].wm <= ms)
					want[nw++] = i;
			if (!nw) {
				if (emit_head(rc, o, st, best, out) < 0)
					return -65;
				continue;
			}
			/* a stream could still get an id below the head: look again (the
			 * server's clock moves on; at most a millisecond) */
			uint64_t wm[RDX_MAX_STREAMS];
			for (int i = 0; i < nw; i++)
				wm[i] = st[want[i]].wm;
			if (read_streams(rc, o, st, want, nw, cnt, 0) < 0)
				return -1;
			int moved = 0;
			for (int i = 0; i < nw; i++)
				moved |= nbuf(&st[want[i]]) || st[want[i]].wm > wm[i];
			if (!moved)
				nap(1);
			continue;
		}
		/* nothing buffered: wait for new entries (BLOCK) */
		for (int i = 0; i < ns; i++)
			want[i] = i;
		if (read_streams(rc, o, st, want, ns, cnt, o->once ? 0 : o->block_ms) < 0)
			return -1;
		if (o->once) {
			int any = 0;
			for (int i = 0; i < ns; i++)
				any |= nbuf(&st[i]) > 0;
			if (!any)
				return 0;
		}
	}
	return 0;
}

int rread_run(const struct rread_opts *o)
{
	struct rconn rc = {o->url, o->socket, NULL, o->stop};
	struct sb out = SB_INIT;
	struct rstream st[RDX_MAX_STREAMS];
	char key[512], cnt[32], idle[32];
	snprintf(key, sizeof key, "%s:%s:lease", o->streams[0], o->group);
	snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)o->count);
	snprintf(idle, sizeof idle, "%llu", (unsigned long long)o->claim_idle_ms);
	memset(st, 0, sizeof st);
	make_instance(o->consumer);
	int rc_exit = 0;
	while (!*o->stop) {
		for (int i = 0; i < o->nstreams; i++) {
			drop(&st[i]);
			st[i].name = o->streams[i];
			st[i].idx = i;
			strcpy(st[i].cursor, "0");
			st[i].wm = 0;
		}
		if (!rc.c && rc_connect(&rc) < 0)
			break;
		if (name_connection(&rc) < 0)
			continue;
		int lost = 0;
		for (int i = 0; i < o->nstreams && !lost; i++) {
			const char *cg[] = {"XGROUP", "CREATE", o->streams[i], o->group, "0", "MKSTREAM"};
			redisReply *r = rc_cmd(&rc, 6, cg, NULL, "BUSYGROUP");
			if (!r)
				lost = 1;
			else
				freeReplyObject(r);
		}
		if (lost)
			continue;
		int held = 0;
		int waited = 0;
		while (!*o->stop && ((held = lease(&rc, o, key)) == 0 || held == 2)) {
			if (waited != held + 1)
				note(held == 2 ? "standby: consumer %s of group %s is already running (another process holds %s "
						 "under that name and is connected): give each process its own consumer name"
					       : "standby: another consumer%.0s of group %s holds %s",
					o->consumer, o->group, key);
			waited = held + 1;
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
		/* the pending entries of consumers that are gone (then our own, in merge_loop) */
		for (int i = 0; i < o->nstreams && !lost; i++) {
			const char *ac[] = {"XAUTOCLAIM", o->streams[i], o->group, o->consumer, idle, "0-0", "COUNT", "10000", "JUSTID"};
			redisReply *r = rc_cmd(&rc, 9, ac, NULL, NULL);
			if (!r)
				lost = 1;
			else
				freeReplyObject(r);
		}
		if (lost)
			continue;
		int m = merge_loop(&rc, o, st, key, cnt, &out);
		if (m == -65) {
			rc_exit = 65;
			break;
		}
		if (m == 0)
			break;
	}
	for (int i = 0; i < o->nstreams; i++) {
		drop(&st[i]);
		free(st[i].la);
		free(st[i].eseq);
	}
	if (rc.c && rc_exit == 0) {
		/* give the lease up at once: a standby need not wait for it to expire */
		const char *del[] = {"EVAL", "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
			"1", key, lease_val};
		redisReply *r = rc_cmd(&rc, 5, del, NULL, NULL);
		if (r)
			freeReplyObject(r);
	}
	rc_close(&rc);
	sb_free(&out);
	return rc_exit;
}

int rread_replay(int fd, const char **streams, int nstreams)
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
		int64_t driver = -1, seq;
		if (nstreams) {
			int j = 0;
			while (j < nstreams && strcmp(streams[j], st.buf))
				j++;
			if (j == nstreams)
				die_code(65, "unable to frame the record at line %ld: stream %s is not one of the streams given", lineno,
					st.buf);
			if (rdx_id_to_seq(id.buf, strlen(id.buf), &seq) == 0)
				driver = rdx_driver(seq, j, nstreams);
		}
		sb_reset(&out);
		if (rdx_frame(st.buf, id.buf, driver, -1, s, n, &out) < 0)
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

/* --- One-shot reads for the supervisor's tools (no group, nothing changed in Redis). */

int rread_newest(const struct rread_opts *o)
{
	struct rconn rc = {o->url, o->socket, NULL, o->stop};
	if (rc_connect(&rc) < 0)
		die_code(69, "unable to reach Redis");
	int64_t best = -1, best_d = -1;
	for (int i = 0; i < o->nstreams; i++) {
		const char *av[] = {"XREVRANGE", o->streams[i], "+", "-", "COUNT", "1"};
		redisReply *r = rc_cmd(&rc, 6, av, NULL, NULL);
		if (!r)
			die_code(69, "lost the connection to Redis");
		int64_t seq;
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
			r->element[0]->elements >= 1 && r->element[0]->element[0]->type == REDIS_REPLY_STRING &&
			rdx_id_to_seq(r->element[0]->element[0]->str, r->element[0]->element[0]->len, &seq) == 0) {
			int64_t d = rdx_driver(seq, i, o->nstreams);
			if (seq > best || (seq == best && d > best_d)) {
				best = seq;
				best_d = d;
			}
		}
		freeReplyObject(r);
	}
	rc_close(&rc);
	char line[64];
	int n = best < 0 ? snprintf(line, sizeof line, "-\n")
			 : snprintf(line, sizeof line, "%lld %lld\n", (long long)best, (long long)best_d);
	io_out(line, (size_t)n);
	return 0;
}

/* The messages moved past with redis-ack --skip: "STREAM\tID" lines of the dead-letter streams. */
static void skipped_ids(struct rconn *rc, const struct rread_opts *o, struct sb *out)
{
	char dead[300];
	for (int i = 0; i < o->nstreams; i++) {
		if (o->dead_letter) {
			if (i)
				break; /* one dead-letter stream for all */
			snprintf(dead, sizeof dead, "%s", o->dead_letter);
		} else
			snprintf(dead, sizeof dead, "%s:dead", o->streams[i]);
		char from[64] = "-";
		for (;;) {
			const char *av[] = {"XRANGE", dead, from, "+", "COUNT", "1000"};
			redisReply *r = rc_cmd(rc, 6, av, NULL, NULL);
			if (!r)
				die_code(69, "lost the connection to Redis");
			size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
			for (size_t k = 0; k < n; k++) {
				redisReply *e = r->element[k], *f = e->element[1];
				const char *st = NULL, *id = NULL, *why = NULL;
				for (size_t j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements; j += 2) {
					const char *name = f->element[j]->str;
					if (!strcmp(name, "stream"))
						st = f->element[j + 1]->str;
					else if (!strcmp(name, "id"))
						id = f->element[j + 1]->str;
					else if (!strcmp(name, "reason"))
						why = f->element[j + 1]->str;
				}
				if (st && id && why && !strncmp(why, "skipped", 7))
					sb_addf(out, "%s\t%s\n", st, id);
				snprintf(from, sizeof from, "(%s", e->element[0]->str);
			}
			freeReplyObject(r);
			if (n < 1000)
				break;
		}
	}
}

static int was_skipped(const struct sb *skipped, const char *stream, const char *id)
{
	char key[400];
	int n = snprintf(key, sizeof key, "%s\t%s\n", stream, id);
	if (!skipped->len || n <= 0 || (size_t)n >= sizeof key)
		return 0;
	for (const char *p = skipped->buf; p && p < skipped->buf + skipped->len;) {
		if (!strncmp(p, key, (size_t)n))
			return 1;
		p = memchr(p, '\n', (size_t)(skipped->buf + skipped->len - p));
		if (p)
			p++;
	}
	return 0;
}

int rread_history(const struct rread_opts *o)
{
	struct rconn rc = {o->url, o->socket, NULL, o->stop};
	struct rstream st[RDX_MAX_STREAMS];
	struct sb out = SB_INIT, skipped = SB_INIT;
	char cnt[32];
	snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)o->count);
	memset(st, 0, sizeof st);
	if (rc_connect(&rc) < 0)
		die_code(69, "unable to reach Redis");
	skipped_ids(&rc, o, &skipped);
	int done[RDX_MAX_STREAMS] = {0};
	for (int i = 0; i < o->nstreams; i++) {
		st[i].name = o->streams[i];
		st[i].idx = i;
		strcpy(st[i].cursor, "-");
	}
	while (!*o->stop) {
		for (int i = 0; i < o->nstreams; i++) {
			if (nbuf(&st[i]) || done[i])
				continue;
			const char *av[] = {"XRANGE", st[i].name, st[i].cursor, "+", "COUNT", cnt};
			redisReply *r = rc_cmd(&rc, 6, av, NULL, NULL);
			if (!r)
				die_code(69, "lost the connection to Redis");
			if (r->type != REDIS_REPLY_ARRAY || !r->elements) {
				done[i] = 1;
				freeReplyObject(r);
				continue;
			}
			snprintf(st[i].cursor, sizeof st[i].cursor, "(%s", r->element[r->elements - 1]->element[0]->str);
			take(&st[i], r, r, 0);
		}
		struct rstream *best = NULL;
		for (int i = 0; i < o->nstreams; i++)
			if (nbuf(&st[i]) && (!best || st[i].head < best->head))
				best = &st[i];
		if (!best)
			break;
		redisReply *e = best->reply->element[best->pos];
		const char *id = e->element[0]->str;
		redisReply *f = e->element[1];
		const char *payload = NULL;
		size_t plen = 0;
		for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
			if (f->element[k]->type == REDIS_REPLY_STRING && !strcmp(f->element[k]->str, "payload")) {
				payload = f->element[k + 1]->str;
				plen = f->element[k + 1]->len;
			}
		int64_t seq;
		if (!was_skipped(&skipped, best->name, id) && rdx_id_to_seq(id, strlen(id), &seq) == 0) {
			sb_reset(&out);
			if (payload && !memchr(payload, 0, plen) &&
				rdx_frame(best->name, id, rdx_driver(seq, best->idx, o->nstreams), -1, payload, plen, &out) == 0)
				io_out(out.buf, out.len);
			else /* never applied: the pipeline stopped on it */
				warn("left out message %s of stream %s: it cannot be framed", id, best->name);
		}
		best->pos++;
		set_head(best);
	}
	for (int i = 0; i < o->nstreams; i++)
		drop(&st[i]);
	rc_close(&rc);
	sb_free(&out);
	sb_free(&skipped);
	return 0;
}
