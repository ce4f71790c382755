/*
 * rpc_parse.c -- the JSON-RPC responses rpc-listen reads: finding a
 * response by id (batches come back in any order), result or error, and
 * the two objects we use (a block header, a log), with every quantity and
 * hash parsed exactly from its hex text.  No allocation beyond the
 * caller's scratch buffer; fuzzed by fuzz/fuzz-rpc.c.
 */
#include <string.h>

#include "core/die.h"
#include "rpc/rpc.h"

static int is_obj(const struct js *js, int tok)
{
	return tok >= 0 && js->t[tok].type == JS_OBJ;
}

/* The numeric id of response object obj, or -1. */
static int64_t resp_id(const struct js *js, int obj)
{
	int64_t id;
	int t = js_get(js, obj, "id");
	if (t < 0 || js_u63(js, t, &id) < 0)
		return -1;
	return id;
}

int rpcp_find(const struct js *js, uint64_t id)
{
	if (js->n == 0)
		return error("empty response");
	if (js->t[0].type == JS_OBJ) {
		int64_t got = resp_id(js, 0);
		/* a single error response may carry "id":null (a parse error at the server) */
		if (got >= 0 && (uint64_t)got != id)
			return error("response has id %lld, expected %llu", (long long)got, (unsigned long long)id);
		if (got < 0 && js_get(js, 0, "error") < 0)
			return error("response has no numeric id");
		return 0;
	}
	if (js->t[0].type != JS_ARR)
		return error("response is neither an object nor an array");
	int t = js_first(js, 0);
	for (uint32_t i = 0; i < js->t[0].n; i++, t = js_sibling(js, t)) {
		if (!is_obj(js, t))
			return error("batch response member %u is not an object", i);
		if (resp_id(js, t) == (int64_t)id)
			return t;
	}
	return error("batch response has no member with id %llu", (unsigned long long)id);
}

int rpcp_outcome(const struct js *js, int obj, int *result, int64_t *code)
{
	if (!is_obj(js, obj))
		return error("response is not an object");
	int r = js_get(js, obj, "result"), e = js_get(js, obj, "error");
	if (r >= 0 && e >= 0)
		return error("response has both result and error");
	if (r >= 0) {
		*result = r;
		return RPC_RESULT;
	}
	if (e < 0)
		return error("response has neither result nor error");
	if (!is_obj(js, e))
		return error("response error is not an object");
	int c = js_get(js, e, "code");
	if (c < 0 || js->t[c].type != JS_NUM)
		return error("response error has no numeric code");
	/* JSON-RPC codes are small integers, often negative */
	const char *s = js->src + js->t[c].off;
	size_t n = js->t[c].len, i = 0;
	int neg = 0;
	int64_t v = 0;
	if (n > 0 && s[0] == '-')
		neg = 1, i = 1;
	if (i == n || n - i > 12)
		return error("response error code is not a small integer");
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return error("response error code is not an integer");
		v = v * 10 + (s[i] - '0');
	}
	*code = neg ? -v : v;
	return RPC_ERROR;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int rpcp_quantity(const struct js *js, int tok, struct sb *tmp, uint64_t *v)
{
	const char *s;
	size_t n;
	if (tok < 0 || js_str(js, tok, tmp, &s, &n) < 0)
		return error("quantity is not a string");
	if (n < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return error("quantity '%.*s' is not 0x-prefixed hex", (int)(n > 40 ? 40 : n), s);
	size_t i = 2;
	while (i + 1 < n && s[i] == '0')
		i++;
	if (n - i > 16)
		return error("quantity '%.*s' does not fit in 64 bits", (int)(n > 40 ? 40 : n), s);
	uint64_t x = 0;
	for (; i < n; i++) {
		int h = hexval(s[i]);
		if (h < 0)
			return error("quantity '%.*s' is not hex", (int)(n > 40 ? 40 : n), s);
		x = (x << 4) | (uint64_t)h;
	}
	*v = x;
	return 0;
}

int rpcp_u256(const struct js *js, int tok, struct sb *tmp, u256 *v)
{
	const char *s;
	size_t n;
	if (tok < 0 || js_str(js, tok, tmp, &s, &n) < 0)
		return error("value is not a string");
	return u256_parse_hex(v, s, n);
}

int rpcp_get_quantity(const struct js *js, int obj, const char *name, struct sb *tmp, uint64_t *v)
{
	int t = js_get(js, obj, name);
	if (t < 0)
		return error("missing field '%s'", name);
	if (rpcp_quantity(js, t, tmp, v) < 0)
		return error("field '%s': %s", name, err_msg());
	return 0;
}

int rpcp_get_u256(const struct js *js, int obj, const char *name, struct sb *tmp, u256 *v)
{
	int t = js_get(js, obj, name);
	if (t < 0)
		return error("missing field '%s'", name);
	if (rpcp_u256(js, t, tmp, v) < 0)
		return error("field '%s': %s", name, err_msg());
	return 0;
}

int rpcp_header(const struct js *js, int tok, struct sb *tmp, struct rpc_header *h)
{
	if (tok >= 0 && js->t[tok].type == JS_NULL)
		return 1;
	if (!is_obj(js, tok))
		return error("block is not an object");
	if (rpcp_get_quantity(js, tok, "number", tmp, &h->number) < 0 ||
		rpcp_get_quantity(js, tok, "timestamp", tmp, &h->timestamp) < 0 ||
		rpcp_get_u256(js, tok, "hash", tmp, &h->hash) < 0 || rpcp_get_u256(js, tok, "parentHash", tmp, &h->parent) < 0)
		return error("block: %s", err_msg());
	return 0;
}

static int check_data(const struct js *js, int tok, struct sb *tmp)
{
	const char *s;
	size_t n;
	if (tok < 0 || js_str(js, tok, tmp, &s, &n) < 0)
		return error("data is not a string");
	if (n < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || n % 2)
		return error("data is not 0x and an even number of hex digits");
	for (size_t i = 2; i < n; i++)
		if (hexval(s[i]) < 0)
			return error("data is not hex");
	return 0;
}

int rpcp_log(const struct js *js, int tok, struct sb *tmp, struct rpc_log *l)
{
	if (!is_obj(js, tok))
		return error("log is not an object");
	if (rpcp_get_u256(js, tok, "address", tmp, &l->address) < 0 ||
		rpcp_get_u256(js, tok, "blockHash", tmp, &l->block_hash) < 0 ||
		rpcp_get_u256(js, tok, "transactionHash", tmp, &l->tx_hash) < 0 ||
		rpcp_get_quantity(js, tok, "blockNumber", tmp, &l->block_number) < 0 ||
		rpcp_get_quantity(js, tok, "transactionIndex", tmp, &l->tx_index) < 0 ||
		rpcp_get_quantity(js, tok, "logIndex", tmp, &l->log_index) < 0)
		return error("log: %s", err_msg());
	/* 160-bit addresses */
	if (l->address.w[3] || l->address.w[2] >> 32)
		return error("log: address is longer than 20 bytes");
	int ts = js_get(js, tok, "blockTimestamp");
	l->has_timestamp = 0;
	if (ts >= 0 && js->t[ts].type != JS_NULL) {
		if (rpcp_quantity(js, ts, tmp, &l->timestamp) < 0)
			return error("log: field 'blockTimestamp': %s", err_msg());
		l->has_timestamp = 1;
	}
	int tp = js_get(js, tok, "topics");
	if (tp < 0 || js->t[tp].type != JS_ARR)
		return error("log: field 'topics' is not an array");
	if (js->t[tp].n > RPC_MAX_TOPICS)
		return error("log: more than %d topics", RPC_MAX_TOPICS);
	l->ntopics = (int)js->t[tp].n;
	int t = js_first(js, tp);
	for (int i = 0; i < l->ntopics; i++, t = js_sibling(js, t))
		if (rpcp_u256(js, t, tmp, &l->topics[i]) < 0)
			return error("log: topics[%d]: %s", i, err_msg());
	l->data = js_get(js, tok, "data");
	if (check_data(js, l->data, tmp) < 0)
		return error("log: field 'data': %s", err_msg());
	int rm = js_get(js, tok, "removed");
	if (rm >= 0 && js->t[rm].type == JS_TRUE)
		return error("log: removed is true (a node that reports reorgs itself; we never ask for those)");
	return 0;
}

void rpcp_add_data(struct sb *out, const struct js *js, const struct rpc_log *l, struct sb *tmp)
{
	const char *s;
	size_t n;
	js_str(js, l->data, tmp, &s, &n); /* checked by rpcp_log */
	sb_grow(out, n + 2);
	out->buf[out->len++] = '"';
	out->buf[out->len++] = '0';
	out->buf[out->len++] = 'x';
	for (size_t i = 2; i < n; i++) {
		char c = s[i];
		out->buf[out->len++] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
	}
	out->buf[out->len++] = '"';
}
