/*
 * run.c -- action-run (see jobs.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/die.h"
#include "core/io.h"
#include "dom/erc8004/jobs.h"
#include "pg/pgconn.h"

/*
 * The claim: the first runnable rest job in queue order -- pending, or
 * waiting for a retry whose time has come, or running under an expired
 * lease (its worker died) -- locked with SKIP LOCKED so that workers never
 * wait for each other, and leased for $1 seconds.
 */
static const struct pgc_stmt stmts[] = {
	{"ar_claim", "UPDATE erc8004.job_queue q SET status = 'running', attempts = q.attempts + 1,"
		     " next_attempt_at = now() + make_interval(secs => $1::int), updated_at = now()"
		     " WHERE q.id = (SELECT id FROM erc8004.job_queue WHERE action_type = 'rest'"
		     " AND status IN ('pending', 'retry', 'running') AND next_attempt_at <= now()"
		     " ORDER BY item_seq, log_index, rank LIMIT 1 FOR UPDATE SKIP LOCKED)"
		     " RETURNING q.id, q.trigger_id, q.event_id, q.config->>'url', q.body, q.attempts"},
	/* $2: 'done' | 'retry' | 'dead'; a job cancelled meanwhile keeps its status */
	{"ar_finish", "UPDATE erc8004.job_queue SET status = CASE WHEN status = 'running' THEN $2 ELSE status END,"
		      " next_attempt_at = now() + make_interval(secs => $3::double precision / 1000), updated_at = now()"
		      " WHERE id = $1 RETURNING status"},
	{"ar_result", "INSERT INTO erc8004.action_results (job_id, trigger_id, event_id, action_type, status,"
		      " duration_ms, error_message, response_data, retry_count)"
		      " VALUES ($1, $2, $3, 'rest', $4, $5, $6, $7::jsonb, $8)"},
	{NULL, NULL},
};

static PGresult *q(PGconn *c, const char *stmt, int n, const char *const *vals, ExecStatusType want, const char *what)
{
	PGresult *r = PQexecPrepared(c, stmt, n, vals, NULL, NULL, 0);
	if (PQresultStatus(r) != want)
		pgc_die(c, r, EXIT_TEMPFAIL, what);
	return r;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	struct sb *b = arg;
	if (b->len < 4096)
		sb_add(b, p, size * n < 4096 - b->len ? size * n : 4096 - b->len);
	return size * n;
}

/* POST body to url; the HTTP status (0: no answer), *err the reason of a failure. */
static long post(const char *url, const char *body, const char *id, long timeout_ms, struct sb *err)
{
	CURL *h = curl_easy_init();
	if (!h)
		die_code(EXIT_SOFTWARE, "unable to start libcurl");
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	struct sb idh = SB_INIT, resp = SB_INIT;
	sb_adds(&idh, "Idempotency-Key: ");
	sb_adds(&idh, id);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, idh.buf);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	long code = 0;
	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		sb_addf(err, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
	else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		if (code < 200 || code > 299)
			sb_addf(err, "HTTP status %ld", code);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	sb_free(&idh);
	sb_free(&resp);
	return code;
}

static void wait_wake(PGconn *c, long ms)
{
	struct pollfd p = {PQsocket(c), POLLIN, 0};
	if (poll(&p, 1, (int)ms) < 0 && errno != EINTR)
		die_errno(EXIT_SOFTWARE, "unable to poll the database socket");
	if (!PQconsumeInput(c))
		die_code(EXIT_TEMPFAIL, "unable to wait for jobs: %s", PQerrorMessage(c));
	PGnotify *nf;
	while ((nf = PQnotifies(c)))
		PQfreemem(nf);
}

/* Run one claimed job; records the attempt. */
static void run_one(PGconn *c, const struct ar_opts *o, PGresult *job, unsigned long *ok, unsigned long *failed)
{
	const char *id = PQgetvalue(job, 0, 0), *trig = PQgetvalue(job, 0, 1), *ev = PQgetvalue(job, 0, 2);
	long attempts = strtol(PQgetvalue(job, 0, 5), NULL, 10);
	struct sb err = SB_INIT;
	long t0 = now_ms(), code = 0;
	if (PQgetisnull(job, 0, 3) || !*PQgetvalue(job, 0, 3))
		sb_adds(&err, "the action's config has no url");
	else
		code = post(PQgetvalue(job, 0, 3), PQgetvalue(job, 0, 4), id, o->timeout_ms, &err);
	long dur = now_ms() - t0;
	int success = err.len == 0;
	/* no url: retrying cannot help */
	int last = !success && (attempts >= o->max_attempts || PQgetisnull(job, 0, 3) || !*PQgetvalue(job, 0, 3));
	/* backoff: base * 2^(attempts-1), capped */
	long delay = o->backoff_ms;
	for (long i = 1; i < attempts && delay < o->backoff_max_ms; i++)
		delay *= 2;
	if (delay > o->backoff_max_ms)
		delay = o->backoff_max_ms;
	char sdelay[24], sdur[24], sretry[24], resp[64];
	snprintf(sdelay, sizeof sdelay, "%ld", success || last ? 0 : delay);
	snprintf(sdur, sizeof sdur, "%ld", dur);
	snprintf(sretry, sizeof sretry, "%ld", attempts - 1);
	snprintf(resp, sizeof resp, "{\"http_status\":%ld}", code);
	pgc_exec_or_die(c, "BEGIN", PGRES_COMMAND_OK, "begin");
	const char *fv[3] = {id, success ? "done" : last ? "dead"
							 : "retry",
		sdelay};
	PGresult *r = q(c, "ar_finish", 3, fv, PGRES_TUPLES_OK, "record the job's state");
	const char *now = PQntuples(r) ? PQgetvalue(r, 0, 0) : "cancelled";
	/* an attempt of a job whose block was reverted meanwhile is invalid */
	int reverted = !strcmp(now, "cancelled") || !strcmp(now, "invalidated");
	const char *st = reverted ? "invalidated" : success ? "success"
					    : last	    ? "dead"
							    : "failed";
	const char *rv[8] = {id, trig, ev, st, sdur, success ? NULL : err.buf, resp, sretry};
	PQclear(q(c, "ar_result", 8, rv, PGRES_COMMAND_OK, "record the action's result"));
	PQclear(r);
	pgc_exec_or_die(c, "COMMIT", PGRES_COMMAND_OK, "commit");
	if (success)
		(*ok)++;
	else {
		(*failed)++;
		note("job %s: attempt %ld failed: %s%s", id, attempts, err.buf, last ? " (dead)" : "");
	}
	sb_free(&err);
}

int ar_run(const struct ar_opts *o, volatile sig_atomic_t *stop)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		die_code(EXIT_SOFTWARE, "unable to initialise libcurl");
	PGconn *c = pgc_connect_or_die(o->conninfo, "action-run", 30);
	pgc_exec_or_die(c, "LISTEN erc8004_jobs", PGRES_COMMAND_OK, "listen on erc8004_jobs");
	pgc_prepare_all(c, stmts, "the job queue's statements");
	char lease[24];
	snprintf(lease, sizeof lease, "%ld", o->lease_s);
	unsigned long ok = 0, failed = 0;
	while (!*stop) {
		const char *v[1] = {lease};
		PGresult *job = q(c, "ar_claim", 1, v, PGRES_TUPLES_OK, "claim a job");
		if (PQntuples(job) == 1) {
			run_one(c, o, job, &ok, &failed);
			PQclear(job);
			continue;
		}
		PQclear(job);
		if (o->once) {
			/* nothing runnable now; jobs waiting for a retry keep us */
			PGresult *r = PQexec(c, "SELECT 1 FROM erc8004.job_queue WHERE action_type = 'rest'"
						" AND status IN ('pending', 'retry', 'running') LIMIT 1");
			int more = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
			PQclear(r);
			if (!more)
				break;
		}
		wait_wake(c, o->poll_ms);
	}
	note("actions: %lu succeeded, %lu attempts failed", ok, failed);
	PQfinish(c);
	curl_global_cleanup();
	return 0;
}
