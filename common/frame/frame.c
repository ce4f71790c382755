/*
 * frame.c -- see frame.h.
 */
#include <string.h>

#include "core/die.h"
#include "frame/frame.h"

static const char *const op_names[FR_NOP_COUNT] = {
	[FR_BEGIN] = "begin",
	[FR_EVENT] = "event",
	[FR_PUT] = "put",
	[FR_DEL] = "del",
	[FR_UNDO] = "undo",
	[FR_END] = "end",
	[FR_ACK] = "ack",
	[FR_BLOCK] = "block",
	[FR_CHECKPOINT] = "checkpoint",
	[FR_REJECT] = "reject",
};

int fr_op(const struct js *js)
{
	int t = js_get(js, 0, "op");
	if (t < 0)
		return error("missing field 'op'");
	if (js->t[t].type != JS_STR)
		return error("field 'op' is not a string");
	for (int i = 0; i < FR_NOP_COUNT; i++)
		if (js_str_eq(js, t, op_names[i]))
			return i;
	return error("unknown op");
}

const char *fr_op_name(int op)
{
	return op >= 0 && op < FR_NOP_COUNT ? op_names[op] : "?";
}

const char fr_kind_names[] = "StartBlock, NewBlock, RevertBlock, CatchupVault";

int fr_kind_of(const struct js *js, int tok)
{
	if (tok < 0 || js->t[tok].type != JS_STR)
		return -1;
	if (js_str_eq(js, tok, "StartBlock") || js_str_eq(js, tok, "NewBlock"))
		return FR_KIND_BLOCK;
	if (js_str_eq(js, tok, "RevertBlock"))
		return FR_KIND_REVERT;
	if (js_str_eq(js, tok, "CatchupVault"))
		return FR_KIND_RANGE;
	return -1;
}

const char *fr_kind_name(int kind)
{
	return kind == FR_KIND_BLOCK ? "StartBlock" : kind == FR_KIND_REVERT ? "RevertBlock"
									     : "CatchupVault";
}

void fr_add_begin(struct sb *out, int64_t driver, int64_t seq, int kind, int64_t block, const char *hash)
{
	fr_add_begin_named(out, driver, seq, fr_kind_name(kind), block, hash);
}

void fr_add_begin_named(struct sb *out, int64_t driver, int64_t seq, const char *type, int64_t block,
	const char *hash)
{
	sb_adds(out, "{\"op\":\"begin\",\"driver_id\":");
	sb_add_i64(out, driver);
	sb_adds(out, ",\"seq\":");
	sb_add_i64(out, seq);
	sb_adds(out, ",\"type\":\"");
	sb_adds(out, type);
	sb_adds(out, "\",\"block_number\":");
	sb_add_i64(out, block);
	sb_adds(out, ",\"block_hash\":\"");
	sb_adds(out, hash);
	sb_addc(out, '"');
}

void fr_close_obj(struct sb *out)
{
	sb_adds(out, "}\n");
}

void fr_add_end(struct sb *out, int64_t driver)
{
	sb_adds(out, "{\"op\":\"end\",\"driver_id\":");
	sb_add_i64(out, driver);
	sb_adds(out, "}\n");
}

void fr_add_ack(struct sb *out, int64_t driver, int64_t seq)
{
	sb_adds(out, "{\"op\":\"ack\",\"driver_id\":");
	sb_add_i64(out, driver);
	sb_adds(out, ",\"seq\":");
	sb_add_i64(out, seq);
	sb_adds(out, "}\n");
}

static const char *const reject_names[] = {
	[FR_REJ_SYNTAX] = "syntax",
	[FR_REJ_FRAMING] = "framing",
	[FR_REJ_INVARIANT] = "invariant",
	[FR_REJ_REVERT] = "revert",
	[FR_REJ_MISSING] = "missing",
	[FR_REJ_SCHEMA] = "schema",
	[FR_REJ_STALE] = "stale",
};

const char *fr_reject_kind_name(int kind)
{
	return kind >= 0 && kind <= FR_REJ_STALE ? reject_names[kind] : "?";
}

static void add_opt_int(struct sb *out, const char *name, int64_t v)
{
	sb_addf(out, ",\"%s\":", name);
	if (v < 0)
		sb_adds(out, "null");
	else
		sb_add_i64(out, v);
}

void fr_add_reject(struct sb *out, const char *program, int kind, int64_t driver, int64_t seq, int64_t line,
	const char *reason)
{
	sb_adds(out, "{\"op\":\"reject\",\"program\":");
	sb_add_jstr(out, program, strlen(program));
	sb_adds(out, ",\"kind\":\"");
	sb_adds(out, fr_reject_kind_name(kind));
	sb_addc(out, '"');
	add_opt_int(out, "driver_id", driver);
	add_opt_int(out, "seq", seq);
	add_opt_int(out, "line", line);
	sb_adds(out, ",\"reason\":");
	/* The reason may quote input: keep the line valid UTF-8 whatever it quotes. */
	struct sb r = SB_INIT;
	sb_add_utf8_safe(&r, reason, strlen(reason));
	sb_add_jstr(out, r.buf ? r.buf : "", r.len);
	sb_free(&r);
	sb_adds(out, "}\n");
}
