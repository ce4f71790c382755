/*
 * codec.c -- rows as JSON: the put/del/undo row and key objects of the
 * delta frames and snapshots, written straight into a reserved buffer and
 * parsed back, column by column from the table descriptors.
 */
#include <stddef.h>
#include <string.h>

#include "core/die.h"
#include "delta/delta_int.h"

/*
 * Felts repeat a lot in the output (every row of an entity names its
 * parents), so their hex text is cached in a small direct-mapped table.
 * Output is unaffected.
 */
#define HEXCACHE 8192
static struct hexcache {
	u256 v;
	uint8_t len;
	char s[U256_HEX_MAX];
} hexcache[HEXCACHE];

static size_t felt_hex(const u256 *u, char *o)
{
	if (u256_fits64(u) && u->w[0] < 0x10000)
		return u256_format_hex(u, o); /* small values: formatting is cheaper */
	struct hexcache *c = &hexcache[(u->w[0] ^ (u->w[3] >> 7)) & (HEXCACHE - 1)];
	if (c->len == 0 || !u256_eq(&c->v, u)) {
		c->v = *u;
		c->len = (uint8_t)u256_format_hex(u, c->s);
	}
	memcpy(o, c->s, c->len);
	return c->len;
}

static char *put_quoted(char *o, const char *s, size_t n)
{
	*o++ = '"';
	memcpy(o, s, n);
	o += n;
	*o++ = '"';
	return o;
}

/* Append one column value; the caller has reserved room (sb_grow) for it. */
static void add_col(struct sb *sb, const struct dl_col *c, const void *row)
{
	const unsigned char *p = (const unsigned char *)row + c->off;
	const u256 *u = (const u256 *)(const void *)p;
	char *o = sb->buf + sb->len;
	uint64_t v;
	switch (c->type) {
	case DL_FELT0:
		if (u256_is_zero(u)) {
			memcpy(o, "null", 4);
			o += 4;
			break;
		}
		/* fall through */
	case DL_FELT:
	case DL_H256:
		*o++ = '"';
		o += felt_hex(u, o);
		*o++ = '"';
		break;
	case DL_DEC:
		*o++ = '"';
		o += u256_format_dec(u, o);
		*o++ = '"';
		break;
	case DL_U64: {
		char tmp[24];
		int i = 24;
		memcpy(&v, p, 8);
		do {
			tmp[--i] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		o = put_quoted(o, tmp + i, (size_t)(24 - i));
		break;
	}
	case DL_I128: {
		char buf[U256_DEC_MAX + 1];
		if (felt_format_i128(u, buf) < 0)
			strcpy(buf, "0");
		o = put_quoted(o, buf, strlen(buf));
		break;
	}
	case DL_BOOL:
		memcpy(&v, p, 8);
		memcpy(o, v ? "true" : "false", v ? 4 : 5);
		o += v ? 4 : 5;
		break;
	case DL_ENUM: {
		memcpy(&v, p, 8);
		const char *n = v < c->nnames ? c->names[v] : "";
		o = put_quoted(o, n, strlen(n));
		break;
	}
	}
	*o = '\0';
	sb->len = (size_t)(o - sb->buf);
}

static void add_obj(struct sb *sb, const struct dl_col *cols, int n, const void *row)
{
	for (int i = 0; i < n; i++) {
		/* name, quotes, separators and the widest value (hex felt: 66,
		 * i128: 80, an enum name: at most 64 by convention) */
		sb_grow(sb, (size_t)cols[i].nlen + 96);
		char *o = sb->buf + sb->len;
		*o++ = i ? ',' : '{';
		*o++ = '"';
		memcpy(o, cols[i].name, cols[i].nlen);
		o += cols[i].nlen;
		*o++ = '"';
		*o++ = ':';
		sb->len = (size_t)(o - sb->buf);
		add_col(sb, &cols[i], row);
	}
	sb_addc(sb, n ? '}' : '{');
	if (!n)
		sb_addc(sb, '}');
}

void dl_add_key(struct dl *dl, struct sb *sb, int tab, const void *row)
{
	add_obj(sb, dl->tabs[tab].key, dl->tabs[tab].nkey, row);
}

void dl_add_row(struct dl *dl, struct sb *sb, int tab, const void *row)
{
	if (!row)
		sb_adds(sb, "null");
	else
		add_obj(sb, dl->tabs[tab].cols, dl->tabs[tab].ncols, row);
}

/* Parse one column value from JSON into row; 0 or -1. */
static int parse_col(struct dl *dl, const struct dl_col *c, int tok, void *row)
{
	unsigned char *p = (unsigned char *)row + c->off;
	u256 *u = (u256 *)(void *)p;
	const char *s;
	size_t n;
	struct js *js = &dl->js;
	if (tok < 0)
		return error("missing column '%s'", c->name);
	if (c->type == DL_BOOL) {
		uint64_t v;
		if (js->t[tok].type == JS_TRUE)
			v = 1;
		else if (js->t[tok].type == JS_FALSE)
			v = 0;
		else
			return error("column '%s' is not a boolean", c->name);
		memcpy(p, &v, 8);
		return 0;
	}
	if (c->type == DL_FELT0 && js->t[tok].type == JS_NULL) {
		u256_zero(u);
		return 0;
	}
	if (js_str(js, tok, &dl->tmp2, &s, &n) < 0)
		return error("column '%s' is not a string", c->name);
	switch (c->type) {
	case DL_FELT:
	case DL_FELT0:
		if (felt_parse(u, s, n) < 0)
			return error("column '%s': %s", c->name, err_msg());
		return 0;
	case DL_H256:
		if (u256_parse_hex(u, s, n) < 0)
			return error("column '%s': %s", c->name, err_msg());
		return 0;
	case DL_DEC:
		if (u256_parse_dec(u, s, n) < 0)
			return error("column '%s': %s", c->name, err_msg());
		return 0;
	case DL_U64: {
		u256 t;
		if (u256_parse_dec(&t, s, n) < 0 || !u256_fits64(&t))
			return error("column '%s': '%.*s' is not a 64-bit integer", c->name, (int)(n > 40 ? 40 : n), s);
		memcpy(p, &t.w[0], 8);
		return 0;
	}
	case DL_I128: {
		u256 t;
		int neg = n > 0 && s[0] == '-';
		static const u256 two127 = {{0, 0x8000000000000000ULL, 0, 0}};
		if (u256_parse_dec(&t, s + neg, n - (size_t)neg) < 0)
			return error("column '%s': %s", c->name, err_msg());
		if (u256_cmp(&t, &two127) > 0 || (!neg && u256_eq(&t, &two127)) || (neg && u256_is_zero(&t)))
			return error("column '%s' is not an i128", c->name);
		if (neg)
			u256_sub(&t, &FELT_P, &t);
		*u = t;
		return 0;
	}
	case DL_ENUM:
		for (uint64_t i = 0; i < c->nnames; i++)
			if (n == strlen(c->names[i]) && !memcmp(s, c->names[i], n)) {
				memcpy(p, &i, 8);
				return 0;
			}
		return error("column '%s': unknown value '%.*s'", c->name, (int)(n > 20 ? 20 : n), s);
	}
	return error("internal: bad column type");
}

int dl_parse_obj(struct dl *dl, int obj, const struct dl_col *cols, int n, void *row)
{
	if (obj < 0 || dl->js.t[obj].type != JS_OBJ)
		return error("expected an object");
	for (int i = 0; i < n; i++)
		if (parse_col(dl, &cols[i], js_get(&dl->js, obj, cols[i].name), row) < 0)
			return -1;
	return 0;
}

int dl_table_by_name(struct dl *dl, int tok)
{
	for (int i = 0; i < dl->dom->ntabs; i++)
		if (js_str_eq(&dl->js, tok, dl->tabs[i].name))
			return i;
	return -1;
}

int dl_get_i64(struct dl *dl, int obj, const char *name, int64_t *v, int required)
{
	int t = js_get(&dl->js, obj, name);
	if (t < 0) {
		if (required)
			return error("missing field '%s'", name);
		*v = -1;
		return 0;
	}
	if (js_u63(&dl->js, t, v) < 0)
		return error("field '%s' is not a non-negative integer", name);
	return 0;
}

int dl_field_felt(struct dl *dl, int obj, const char *name, u256 *v)
{
	const char *s;
	size_t n;
	int t = js_get(&dl->js, obj, name);
	if (t < 0)
		return error("missing field '%s'", name);
	if (js_str(&dl->js, t, &dl->tmp2, &s, &n) < 0)
		return error("field '%s' is not a string", name);
	if (felt_parse(v, s, n) < 0)
		return error("field '%s': %s", name, err_msg());
	return 0;
}

int dl_field_h256(struct dl *dl, int obj, const char *name, u256 *v)
{
	const char *s;
	size_t n;
	int t = js_get(&dl->js, obj, name);
	if (t < 0)
		return error("missing field '%s'", name);
	if (js_str(&dl->js, t, &dl->tmp2, &s, &n) < 0)
		return error("field '%s' is not a string", name);
	if (u256_parse_hex(v, s, n) < 0)
		return error("field '%s': %s", name, err_msg());
	return 0;
}

int dl_field_block_hash(struct dl *dl, int obj, const char *name, u256 *v)
{
	return dl->dom->hash256 ? dl_field_h256(dl, obj, name, v) : dl_field_felt(dl, obj, name, v);
}
