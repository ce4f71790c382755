/*
 * rpc_http.c -- JSON-RPC over HTTP with libcurl: one connection reused
 * (keep-alive), a primary endpoint and backups.  A request the current
 * endpoint does not answer makes the next one current (failover); after
 * primary_retry_ms on a backup the primary is tried again.  Failures are
 * classified by kind (curl code, HTTP status, JSON-RPC error code), never
 * by message text.  Retrying and backoff are the caller's (rpc_follow.c).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/die.h"
#include "rpc/rpc.h"

struct rpc {
	char **urls;
	int n, cur;
	CURL *c;
	struct curl_slist *hdr;
	long timeout_ms;
	uint64_t primary_retry_ms, left_primary_at;
	size_t max_body;
	struct sb body;
	int too_big;
	int64_t last_code;
	struct rpc_stats st;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct rpc *r = ud;
	size_t n = size * nmemb;
	if (r->body.len + n > r->max_body) {
		r->too_big = 1;
		return 0; /* aborts the transfer */
	}
	sb_add(&r->body, p, n);
	return n;
}

struct rpc *rpc_new(char **urls, int nurls, long timeout_ms, uint64_t primary_retry_ms, size_t max_body)
{
	static int inited;
	if (!inited) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			die_code(EXIT_SOFTWARE, "unable to initialise libcurl");
		inited = 1;
	}
	struct rpc *r = xcalloc(1, sizeof(*r));
	r->urls = urls;
	r->n = nurls;
	r->timeout_ms = timeout_ms;
	r->primary_retry_ms = primary_retry_ms;
	r->max_body = max_body;
	r->c = curl_easy_init();
	if (!r->c)
		die_code(EXIT_SOFTWARE, "unable to create a libcurl handle");
	r->hdr = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(r->c, CURLOPT_HTTPHEADER, r->hdr);
	curl_easy_setopt(r->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(r->c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
	curl_easy_setopt(r->c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(r->c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(r->c, CURLOPT_PROTOCOLS_STR, "http,https");
	return r;
}

void rpc_free(struct rpc *r)
{
	if (!r)
		return;
	curl_slist_free_all(r->hdr);
	curl_easy_cleanup(r->c);
	sb_free(&r->body);
	free(r);
}

void rpc_take_body(struct rpc *r, struct sb *into)
{
	struct sb t = *into;
	*into = r->body;
	r->body = t;
}

const char *rpc_endpoint(const struct rpc *r)
{
	return r->urls[r->cur];
}
int rpc_endpoint_index(const struct rpc *r)
{
	return r->cur;
}
int rpc_nendpoints(const struct rpc *r)
{
	return r->n;
}
const struct rpc_stats *rpc_stats(const struct rpc *r)
{
	return &r->st;
}
int64_t rpc_last_code(const struct rpc *r)
{
	return r->last_code;
}

/* The current endpoint failed: the next one serves the next request. */
static void failover(struct rpc *r, const char *why)
{
	r->st.errors++;
	if (r->n == 1) {
		warn("endpoint %s: %s", r->urls[r->cur], why);
		return;
	}
	int next = (r->cur + 1) % r->n;
	warn("endpoint %s: %s; failing over to %s", r->urls[r->cur], why, r->urls[next]);
	if (r->cur == 0)
		r->left_primary_at = now_ms();
	r->cur = next;
	r->st.failovers++;
}

/* JSON-RPC error codes that mean "asked too much or too often". */
static int limit_code(int64_t code)
{
	return code == -32005 /* limit exceeded (EIP-1474) */ || code == 429;
}

int rpc_post(struct rpc *r, const char *body, size_t len, struct js *js)
{
	if (r->cur != 0 && now_ms() - r->left_primary_at >= r->primary_retry_ms) {
		note("trying the primary endpoint %s again", r->urls[0]);
		r->cur = 0;
		r->st.returns++;
	}
	sb_reset(&r->body);
	r->too_big = 0;
	r->st.requests++;
	curl_easy_setopt(r->c, CURLOPT_URL, r->urls[r->cur]);
	curl_easy_setopt(r->c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(r->c, CURLOPT_POSTFIELDSIZE, (long)len);
	CURLcode cc = curl_easy_perform(r->c);
	long http = 0;
	curl_easy_getinfo(r->c, CURLINFO_RESPONSE_CODE, &http);
	if (r->too_big) {
		r->st.limited++;
		warn("endpoint %s: response larger than %zu bytes", r->urls[r->cur], r->max_body);
		return RPC_LIMIT;
	}
	if (cc != CURLE_OK) {
		failover(r, curl_easy_strerror(cc));
		return RPC_DOWN;
	}
	if (http == 429) {
		r->st.limited++;
		return RPC_LIMIT;
	}
	if (http != 200) {
		char why[64];
		snprintf(why, sizeof why, "HTTP status %ld", http);
		failover(r, why);
		return RPC_DOWN;
	}
	if (js_parse(js, r->body.buf ? r->body.buf : "", r->body.len) < 0) {
		char why[300];
		snprintf(why, sizeof why, "unparsable response: %s", err_msg());
		failover(r, why);
		return RPC_BAD;
	}
	/* A single error response: classify it here (batches: per member). */
	if (js->t[0].type == JS_OBJ) {
		int res;
		int64_t code;
		int o = rpcp_outcome(js, 0, &res, &code);
		if (o == RPC_ERROR) {
			r->last_code = code;
			if (limit_code(code)) {
				r->st.limited++;
				return RPC_LIMIT;
			}
			r->st.errors++;
			return RPC_FAULT;
		}
	}
	return RPC_OK;
}
