/*
 * codec.c -- rows as JSON: the put/del/undo row and key objects of the
 * delta frames and snapshots, written straight into a reserved buffer and
 * parsed back, column by column from the table descriptors.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "delta/delta_int.h"

/*
 * Felts repeat a lot in the output (every row of an entity names its
 * parents), so their hex text is cached in a small direct-mapped table.
 * Output is unaffected.
 */
#define HEXCACHE 4096
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

static char *put_fixed_hex(char *o, const u256 *u, int digits)
{
	static const char hx[] = "0123456789abcdef";
	*o++ = '"';
	*o++ = '0';
	*o++ = 'x';
	for (int i = digits - 1; i >= 0; i--)
		*o++ = hx[(u->w[i / 16] >> (4 * (i % 16))) & 15];
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
	case DL_B32:
		if (u256_is_zero(u)) {
			memcpy(o, "null", 4);
			o += 4;
			break;
		}
		o = put_fixed_hex(o, u, 64);
		break;
	case DL_ADDR:
		o = put_fixed_hex(o, u, 40);
		break;
	case DL_TEXT: {
		const char *t;
		memcpy(&t, p, sizeof t);
		*o = '\0';
		sb->len = (size_t)(o - sb->buf);
		if (!t)
			sb_adds(sb, "null");
		else
			sb_add_jstr(sb, t, strlen(t));
		return;
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

/* Bytes of a column's field (what its text is a function of). */
static size_t col_width(const struct dl_col *c)
{
	switch (c->type) {
	case DL_U64:
	case DL_BOOL:
	case DL_ENUM:
		return 8;
	case DL_TEXT:
		return sizeof(const char *);
	default:
		return sizeof(u256);
	}
}

#define SEG_MAX 64 /* columns whose text add_obj_segs can remember */

/* add_obj, remembering where each column's value text starts and ends in sb. */
static void add_obj_segs(struct sb *sb, const struct dl_col *cols, int n, const void *row, size_t *seg)
{
	for (int i = 0; i < n; i++) {
		sb_grow(sb, (size_t)cols[i].nlen + 96);
		char *o = sb->buf + sb->len;
		*o++ = i ? ',' : '{';
		*o++ = '"';
		memcpy(o, cols[i].name, cols[i].nlen);
		o += cols[i].nlen;
		*o++ = '"';
		*o++ = ':';
		sb->len = (size_t)(o - sb->buf);
		seg[2 * i] = sb->len;
		add_col(sb, &cols[i], row);
		seg[2 * i + 1] = sb->len;
	}
	sb_addc(sb, n ? '}' : '{');
	if (!n)
		sb_addc(sb, '}');
}

/*
 * The object of row, where each column whose field equals that of ref
 * (whose text add_obj_segs wrote into sb at seg) is copied from that text
 * instead of formatted again: the same bytes, since a column's text is a
 * function of its field alone.
 */
static void add_obj_like(struct sb *sb, const struct dl_col *cols, int n, const void *row, const void *ref, const size_t *seg)
{
	for (int i = 0; i < n; i++) {
		size_t w = col_width(&cols[i]);
		size_t vl = seg[2 * i + 1] - seg[2 * i];
		sb_grow(sb, (size_t)cols[i].nlen + 96 + vl);
		char *o = sb->buf + sb->len;
		*o++ = i ? ',' : '{';
		*o++ = '"';
		memcpy(o, cols[i].name, cols[i].nlen);
		o += cols[i].nlen;
		*o++ = '"';
		*o++ = ':';
		sb->len = (size_t)(o - sb->buf);
		if (!memcmp((const unsigned char *)row + cols[i].off, (const unsigned char *)ref + cols[i].off, w)) {
			memcpy(o, sb->buf + seg[2 * i], vl);
			sb->len += vl;
			sb->buf[sb->len] = '\0';
		} else {
			add_col(sb, &cols[i], row);
		}
	}
	sb_addc(sb, n ? '}' : '{');
	if (!n)
		sb_addc(sb, '}');
}

#define SB_LIT(sb, lit) sb_add(sb, lit, sizeof(lit) - 1)

void dl_add_images(struct dl *dl, struct sb *sb, int tab, const void *after, const void *before, int with_before)
{
	const struct dl_table *t = &dl->tabs[tab];
	size_t seg[2 * SEG_MAX];
	if (after) {
		SB_LIT(sb, ",\"row\":");
		if (with_before && before && t->ncols <= SEG_MAX) {
			add_obj_segs(sb, t->cols, t->ncols, after, seg);
			SB_LIT(sb, ",\"before\":");
			add_obj_like(sb, t->cols, t->ncols, before, after, seg);
			return;
		}
		add_obj(sb, t->cols, t->ncols, after);
	}
	if (with_before) {
		SB_LIT(sb, ",\"before\":");
		dl_add_row(dl, sb, tab, before);
	}
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
	if ((c->type == DL_FELT0 || c->type == DL_B32) && js->t[tok].type == JS_NULL) {
		u256_zero(u);
		return 0;
	}
	if (c->type == DL_TEXT && js->t[tok].type == JS_NULL) {
		const char *t = NULL;
		memcpy(p, &t, sizeof t);
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
	case DL_B32:
	case DL_ADDR:
		if (u256_parse_hex(u, s, n) < 0)
			return error("column '%s': %s", c->name, err_msg());
		if (c->type == DL_ADDR && (u->w[3] || u->w[2] >> 32))
			return error("column '%s' is not a 160-bit address", c->name);
		return 0;
	case DL_TEXT: {
		const char *t = dl_text(dl, s, n);
		memcpy(p, &t, sizeof t);
		return 0;
	}
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

/* ---------------------------------------------------------------- texts */

struct dl_textrec {
	uint64_t h; /* key: hash of the text (collisions chain through next) */
	struct dl_textrec *next;
	size_t n;
	char s[];
};

const char *dl_text(struct dl *dl, const char *s, size_t n)
{
	if (!dl->texts_init) {
		hm_init(&dl->texts, sizeof(uint64_t));
		dl->texts_init = 1;
	}
	uint64_t h = hm_hash(s, n);
	struct dl_textrec *head = hm_get(&dl->texts, &h);
	for (struct dl_textrec *r = head; r; r = r->next)
		if (r->n == n && !memcmp(r->s, s, n))
			return r->s;
	struct dl_textrec *r = xmalloc(sizeof *r + n + 1);
	r->h = h;
	r->n = n;
	memcpy(r->s, s, n);
	r->s[n] = '\0';
	if (head) {
		r->next = head->next;
		head->next = r;
	} else {
		r->next = NULL;
		hm_put(&dl->texts, r);
	}
	return r->s;
}

void dl_texts_free(struct dl *dl)
{
	if (!dl->texts_init)
		return;
	size_t pos = 0;
	struct dl_textrec *r;
	while ((r = hm_next(&dl->texts, &pos)))
		while (r) {
			struct dl_textrec *nx = r->next;
			free(r);
			r = nx;
		}
	hm_free(&dl->texts);
	dl->texts_init = 0;
}
