/*
 * rdx.c -- rindexer messages -> event frames.
 *
 *   payload {"event_name":"Deposited","event_data":[{...,"transaction_information":{...}},...],...}
 *   =>
 *   {"op":"begin","driver_id":S,"seq":S,"type":"CatchupVault","block_number":B,"block_hash":"0x..",
 *    "stream":"intuition","message_id":"1700000000000-0"}
 *   {"op":"event","block_number":b,"block_hash":"0x..","event_name":"Deposited","data":{...element...}}
 *   {"op":"end","driver_id":S}
 *
 * A __rindexer_reorg message becomes a RevertBlock frame with "fork_block".
 * Block hashes are 256-bit; the frames' block identities are felts (the
 * engine's journal keys), so the frame carries the hash's low 248 bits --
 * the event itself keeps the full hash in its transaction_information.
 */
#include <stdio.h>
#include <string.h>

#include "core/die.h"
#include "core/json.h"
#include "frame/frame.h"
#include "num/u256.h"
#include "redis/rdx.h"

int rdx_id_to_seq(const char *id, size_t n, int64_t *seq)
{
	uint64_t ms = 0, k = 0;
	size_t i = 0;
	for (; i < n && id[i] >= '0' && id[i] <= '9'; i++) {
		if (ms > (1ULL << 43))
			break;
		ms = ms * 10 + (uint64_t)(id[i] - '0');
	}
	if (i == 0 || i >= n || id[i] != '-' || ms >= (1ULL << 43))
		return error("message id '%.*s' is not MS-N with MS below 2^43", (int)(n > 40 ? 40 : n), id);
	size_t j = ++i;
	for (; i < n && id[i] >= '0' && id[i] <= '9' && k < (1ULL << RDX_SEQ_BITS); i++)
		k = k * 10 + (uint64_t)(id[i] - '0');
	if (i == j || i != n || k >= (1ULL << RDX_SEQ_BITS))
		return error("message id '%.*s': the sequence part is not below 2^%d", (int)(n > 40 ? 40 : n), id,
			RDX_SEQ_BITS);
	*seq = (int64_t)((ms << RDX_SEQ_BITS) | k);
	return 0;
}

void rdx_seq_to_id(int64_t seq, char out[32])
{
	uint64_t s = (uint64_t)seq;
	snprintf(out, 32, "%llu-%llu", (unsigned long long)(s >> RDX_SEQ_BITS),
		(unsigned long long)(s & ((1ULL << RDX_SEQ_BITS) - 1)));
}

int64_t rdx_driver(int64_t seq, int idx, int nstreams)
{
	return nstreams <= 1 ? seq : (int64_t)idx << RDX_STREAM_SHIFT;
}

int rdx_stream_of(int64_t driver, int nstreams)
{
	if (nstreams <= 1)
		return 0;
	int64_t j = driver >> RDX_STREAM_SHIFT;
	return j < nstreams ? (int)j : -1;
}

static int u63_of(struct js *js, int obj, const char *name, int64_t *v)
{
	int t = js_get(js, obj, name);
	if (t < 0 || js_u63(js, t, v) < 0)
		return error("field '%s' is missing or not a non-negative integer", name);
	return 0;
}

static int hash_of(struct js *js, int obj, struct sb *tmp, char out[U256_HEX_MAX])
{
	const char *s;
	size_t n;
	u256 h;
	int t = js_get(js, obj, "block_hash");
	if (t < 0 || js_str(js, t, tmp, &s, &n) < 0 || u256_parse_hex(&h, s, n) < 0)
		return error("field 'block_hash' is missing or not a 0x-hex hash");
	h.w[3] &= 0x00ffffffffffffffULL;
	u256_format_hex(&h, out);
	return 0;
}

int rdx_scan(const char *payload, size_t n, int64_t *max_block)
{
	struct js js;
	int rc = -1;
	*max_block = -1;
	js_init(&js);
	if (js_parse(&js, payload, n) < 0 || js.t[0].type != JS_OBJ)
		goto done;
	int name = js_get(&js, 0, "event_name"), data = js_get(&js, 0, "event_data");
	if (name < 0 || js.t[name].type != JS_STR || data < 0 || js.t[data].type != JS_ARR)
		goto done;
	if (js_str_eq(&js, name, "__rindexer_reorg")) {
		rc = 1;
		goto done;
	}
	int e = js_first(&js, data);
	for (uint32_t i = 0; i < js.t[data].n; i++, e = js_sibling(&js, e)) {
		int ti = js.t[e].type == JS_OBJ ? js_get(&js, e, "transaction_information") : -1;
		int64_t b;
		if (ti < 0 || js.t[ti].type != JS_OBJ || js_u63(&js, js_get(&js, ti, "block_number"), &b) < 0)
			goto done;
		if (b > *max_block)
			*max_block = b;
	}
	rc = 0;
done:
	js_free(&js);
	return rc;
}

int rdx_frame(const char *stream, const char *id, int64_t driver, int64_t head, const char *payload, size_t n,
	struct sb *out)
{
	struct js js;
	struct sb tmp = SB_INIT;
	int64_t seq;
	int rc = -1;
	js_init(&js);
	if (rdx_id_to_seq(id, strlen(id), &seq) < 0)
		goto done;
	if (driver < 0)
		driver = seq;
	if (js_parse(&js, payload, n) < 0) {
		error("payload: %s", err_msg());
		goto done;
	}
	int name = js_get(&js, 0, "event_name"), data = js_get(&js, 0, "event_data");
	if (js.t[0].type != JS_OBJ || name < 0 || js.t[name].type != JS_STR || data < 0 || js.t[data].type != JS_ARR) {
		error("payload is not an object with event_name (a string) and event_data (an array)");
		goto done;
	}
	size_t mark = out->len;
	if (js_str_eq(&js, name, "__rindexer_reorg")) {
		int e = js_first(&js, data);
		int64_t fork;
		if (js.t[data].n != 1 || js.t[e].type != JS_OBJ || u63_of(&js, e, "fork_block", &fork) < 0) {
			error("a __rindexer_reorg message must hold one object with fork_block");
			goto done;
		}
		fr_add_begin(out, driver, seq, FR_KIND_REVERT, fork, "0x0");
		sb_adds(out, ",\"fork_block\":");
		sb_add_i64(out, fork);
	} else {
		int64_t first = 0;
		char h[U256_HEX_MAX] = "0x0";
		if (js.t[data].n) {
			int e = js_first(&js, data), ti = js.t[e].type == JS_OBJ ? js_get(&js, e, "transaction_information") : -1;
			if (ti < 0 || js.t[ti].type != JS_OBJ || u63_of(&js, ti, "block_number", &first) < 0 ||
				hash_of(&js, ti, &tmp, h) < 0) {
				error("event_data[0]: %s", ti < 0 ? "no transaction_information object" : err_msg());
				goto done;
			}
		}
		fr_add_begin(out, driver, seq, FR_KIND_RANGE, first, h);
		if (head >= 0) {
			sb_adds(out, ",\"head\":");
			sb_add_i64(out, head);
		}
	}
	sb_adds(out, ",\"stream\":");
	sb_add_jstr(out, stream, strlen(stream));
	sb_adds(out, ",\"message_id\":");
	sb_add_jstr(out, id, strlen(id));
	fr_close_obj(out);
	if (!js_str_eq(&js, name, "__rindexer_reorg")) {
		int e = js_first(&js, data);
		for (uint32_t i = 0; i < js.t[data].n; i++, e = js_sibling(&js, e)) {
			int ti = js.t[e].type == JS_OBJ ? js_get(&js, e, "transaction_information") : -1;
			int64_t b;
			char h[U256_HEX_MAX];
			if (ti < 0 || js.t[ti].type != JS_OBJ || u63_of(&js, ti, "block_number", &b) < 0 ||
				hash_of(&js, ti, &tmp, h) < 0) {
				error("event_data[%u]: %s", i, ti < 0 ? "no transaction_information object" : err_msg());
				out->len = mark;
				goto done;
			}
			sb_adds(out, "{\"op\":\"event\",\"block_number\":");
			sb_add_i64(out, b);
			sb_adds(out, ",\"block_hash\":\"");
			sb_adds(out, h);
			sb_adds(out, "\",\"event_name\":");
			sb_add_jraw(out, &js, name);
			sb_adds(out, ",\"data\":");
			sb_add_jraw(out, &js, e);
			sb_adds(out, "}\n");
		}
	}
	fr_add_end(out, driver);
	rc = 0;
done:
	js_free(&js);
	sb_free(&tmp);
	return rc;
}
