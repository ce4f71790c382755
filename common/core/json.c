/*
 * json.c -- see json.h.  An iterative tokenizer with an explicit stack.
 */
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/json.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void js_init(struct js *js)
{
	memset(js, 0, sizeof *js);
}

void js_free(struct js *js)
{
	free(js->t);
	free(js->ks);
	free(js->keys);
	js_init(js);
}

static uint32_t push(struct js *js, uint8_t type, size_t off)
{
	if (js->n == js->cap) {
		js->cap = js->cap ? js->cap * 2 : 64;
		js->t = xrealloc(js->t, js->cap * sizeof *js->t);
	}
	struct js_tok *t = &js->t[js->n];
	t->type = type;
	t->esc = 0;
	t->off = (uint32_t)off;
	t->len = 0;
	t->next = 0;
	t->n = 0;
	return js->n++;
}

static size_t skip_ws(const char *s, size_t i, size_t len)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* Validate one UTF-8 sequence starting at s[i]; return its length or 0. */
static size_t utf8_len(const unsigned char *s, size_t i, size_t len)
{
	unsigned c = s[i];
	size_t n;
	unsigned min;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		n = 2, min = 0x80, c &= 0x1f;
	else if ((c & 0xf0) == 0xe0)
		n = 3, min = 0x800, c &= 0x0f;
	else if ((c & 0xf8) == 0xf0)
		n = 4, min = 0x10000, c &= 0x07;
	else
		return 0;
	if (i + n > len)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[i + k] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i + k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex4(const char *p)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

static int is_u_escape(const char *s, size_t i, size_t len)
{
	return i + 6 <= len && s[i] == '\\' && s[i + 1] == 'u' && is_hex(s[i + 2]) && is_hex(s[i + 3]) &&
	       is_hex(s[i + 4]) && is_hex(s[i + 5]);
}

/* Scan a string starting after its opening quote; return index after the closing quote. */
/* Nonzero if any byte of v is '"', '\\', a control character or >= 0x80. */
static uint64_t special8(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
	return ((q - ones) & ~q & high) | ((b - ones) & ~b & high) | ((v - ones * 0x20) & ~v & high) | (v & high);
}

static int scan_string(struct js *js, uint32_t tok, const char *s, size_t i, size_t len, size_t *end)
{
	size_t start = i;
	while (i < len) {
#if defined(__SSE2__)
		/* Fast path: sixteen characters at a time, stopping on the first
		 * special one ('"', '\\', a control character or a byte >= 0x80:
		 * the signed compare with 0x20 catches both of the last two). */
		while (i + 16 <= len) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
			__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
				_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
			unsigned bits = (unsigned)_mm_movemask_epi8(m);
			if (bits) {
				i += (size_t)__builtin_ctz(bits);
				goto special;
			}
			i += 16;
		}
#endif
		/* Skip eight plain characters at a time. */
		while (i + 8 <= len) {
			uint64_t v;
			memcpy(&v, s + i, 8);
			if (special8(v))
				break;
			i += 8;
		}
		if (i >= len)
			break;
#if defined(__SSE2__)
	special:;
#endif
		unsigned char c = (unsigned char)s[i];
		if (c == '"') {
			js->t[tok].len = (uint32_t)(i - start);
			*end = i + 1;
			return 0;
		}
		if (c < 0x20)
			return error("control character 0x%02x in string at column %zu", c, i + 1);
		if (c == '\\') {
			js->t[tok].esc = 1;
			if (i + 1 >= len)
				break;
			char e = s[i + 1];
			if (e == 'u') {
				/* What the escape stands for must be a Unicode scalar value
				 * other than NUL: a surrogate only as half of a pair. */
				if (!is_u_escape(s, i, len))
					return error("bad \\u escape at column %zu", i + 1);
				unsigned cp = hex4(s + i + 2);
				if (cp == 0)
					return error("NUL character (\\u0000) in string at column %zu", i + 1);
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return error("unpaired surrogate \\u%04x in string at column %zu", cp, i + 1);
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (!is_u_escape(s, i + 6, len) || hex4(s + i + 8) < 0xdc00 || hex4(s + i + 8) > 0xdfff)
						return error("unpaired surrogate \\u%04x in string at column %zu", cp, i + 1);
					i += 6;
				}
				i += 6;
			} else if (strchr("\"\\/bfnrt", e) && e) {
				i += 2;
			} else {
				return error("bad escape at column %zu", i + 1);
			}
			continue;
		}
		if (c >= 0x80) {
			size_t n = utf8_len((const unsigned char *)s, i, len);
			if (!n)
				return error("invalid UTF-8 at column %zu (byte 0x%02x)", i + 1, c);
			i += n;
			continue;
		}
		i++;
	}
	return error("unterminated string");
}

static int scan_number(const char *s, size_t i, size_t len, size_t *end)
{
	size_t st = i;
	if (i < len && s[i] == '-')
		i++;
	if (i >= len)
		return error("bad number at column %zu", st + 1);
	if (s[i] == '0') {
		i++;
	} else if (s[i] >= '1' && s[i] <= '9') {
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	} else {
		return error("bad number at column %zu", st + 1);
	}
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return error("bad number at column %zu", st + 1);
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return error("bad number at column %zu", st + 1);
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	*end = i;
	return 0;
}

/*
 * Duplicate member names.  Two names are the same when their contents are,
 * after unescaping ("a" and "\u0061" are one name): raw UTF-8 is validated
 * and therefore canonical, so comparing the unescaped bytes compares the
 * code points.
 *
 * Objects are small, so each new name is compared with the names before it
 * in its object: by a 64-bit signature (its length and first eight bytes),
 * and only when the signatures match by content.  A 64-bit Bloom filter of
 * the signatures per object says when no earlier name can match, which is
 * nearly always.  The names of the open objects are a stack in js->ks; an
 * object's names are popped when it closes.  From DUP_PAIRWISE names on, an
 * object is checked once when it closes instead, by sorting its names
 * (merge sort: O(n log n) whatever the names).
 */
#define DUP_PAIRWISE 32

/* The unescaped bytes of a string token, one at a time. */
struct kit {
	const char *p;
	uint32_t i, len;
	unsigned char b[4];
	int bi, bn;
};

static void kit_init(struct kit *k, const struct js *js, uint32_t tok)
{
	k->p = js->src + js->t[tok].off;
	k->i = 0;
	k->len = js->t[tok].len;
	k->bi = k->bn = 0;
}

/* The next byte, or -1 at the end.  Escapes were validated by scan_string. */
static int kit_next(struct kit *k)
{
	if (k->bi < k->bn)
		return k->b[k->bi++];
	if (k->i >= k->len)
		return -1;
	unsigned char c = (unsigned char)k->p[k->i];
	if (c != '\\') {
		k->i++;
		return c;
	}
	char e = k->p[k->i + 1];
	k->i += 2;
	switch (e) {
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'u':
		break;
	default:
		return (unsigned char)e;
	}
	unsigned cp = hex4(k->p + k->i);
	k->i += 4;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(k->p + k->i + 2) - 0xdc00);
		k->i += 6;
	}
	if (cp < 0x80)
		return (int)cp;
	if (cp < 0x800) {
		k->b[0] = (unsigned char)(0xc0 | (cp >> 6));
		k->b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		k->bn = 2;
	} else if (cp < 0x10000) {
		k->b[0] = (unsigned char)(0xe0 | (cp >> 12));
		k->b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		k->b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		k->bn = 3;
	} else {
		k->b[0] = (unsigned char)(0xf0 | (cp >> 18));
		k->b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		k->b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		k->b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		k->bn = 4;
	}
	k->bi = 1;
	return k->b[0];
}

/* Compare the contents of two string tokens: <0, 0, >0 (bytewise, unescaped). */
static int key_cmp(const struct js *js, uint32_t a, uint32_t b)
{
	const struct js_tok *ta = &js->t[a], *tb = &js->t[b];
	if (!ta->esc && !tb->esc) {
		uint32_t n = ta->len < tb->len ? ta->len : tb->len;
		int c = memcmp(js->src + ta->off, js->src + tb->off, n);
		return c ? c : (ta->len > tb->len) - (ta->len < tb->len);
	}
	struct kit ka, kb;
	kit_init(&ka, js, a);
	kit_init(&kb, js, b);
	for (;;) {
		int x = kit_next(&ka), y = kit_next(&kb);
		if (x != y || x < 0)
			return x - y;
	}
}

static int key_eq(const struct js *js, uint32_t a, uint32_t b)
{
	const struct js_tok *ta = &js->t[a], *tb = &js->t[b];
	if (!ta->esc && !tb->esc)
		return ta->len == tb->len && !memcmp(js->src + ta->off, js->src + tb->off, ta->len);
	/* An escape stands for at most as many bytes as it has: the unescaped
	 * name is never longer than the raw one. */
	if ((!ta->esc && ta->len > tb->len) || (!tb->esc && tb->len > ta->len))
		return 0;
	return key_cmp(js, a, b) == 0;
}

static int dup_error(const struct js *js, uint32_t key)
{
	const struct js_tok *t = &js->t[key];
	uint32_t n = t->len;
	if (n > 64) {
		n = 64; /* shown truncated, never inside a UTF-8 sequence */
		while (n > 0 && ((unsigned char)js->src[t->off + n] & 0xc0) == 0x80)
			n--;
	}
	return error("duplicate member name \"%.*s%s\" at column %u", (int)n, js->src + t->off,
		n < t->len ? "..." : "", t->off);
}

/* Stable merge sort of the key tokens a[0..n) by contents (tmp: n slots). */
static void key_sort(const struct js *js, uint32_t *a, uint32_t *tmp, uint32_t n)
{
	for (uint32_t w = 1; w < n; w *= 2) {
		for (uint32_t lo = 0; lo < n; lo += 2 * w) {
			uint32_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			uint32_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				tmp[k++] = key_cmp(js, a[j], a[i]) < 0 ? a[j++] : a[i++];
			while (i < mid)
				tmp[k++] = a[i++];
			while (j < hi)
				tmp[k++] = a[j++];
		}
		memcpy(a, tmp, n * sizeof *a);
	}
}

static uint64_t sig_of(uint64_t first8, uint32_t n)
{
	return first8 ^ ((uint64_t)n * 0x9e3779b97f4a7c15ULL);
}

/*
 * The signature of a name: its unescaped length and first eight unescaped
 * bytes, so that equal names have equal signatures however they are
 * escaped.  Without escapes the name's bytes are its contents.
 */
static uint64_t key_sig(const struct js *js, size_t srclen, uint32_t tok)
{
	static const unsigned char ones[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	const struct js_tok *t = &js->t[tok];
	uint32_t n = t->len;
	uint64_t v = 0, m;
	if (t->esc) {
		unsigned char b[8] = {0};
		struct kit k;
		int c;
		kit_init(&k, js, tok);
		for (n = 0; (c = kit_next(&k)) >= 0; n++)
			if (n < 8)
				b[n] = (unsigned char)c;
		memcpy(&v, b, 8);
	} else if ((size_t)t->off + 8 <= srclen) {
		memcpy(&v, js->src + t->off, 8);
		if (n < 8) {
			memcpy(&m, ones + 8 - n, 8); /* the first n bytes, whatever the byte order */
			v &= m;
		}
	} else {
		unsigned char b[8] = {0};
		memcpy(b, js->src + t->off, n < 8 ? n : 8);
		memcpy(&v, b, 8);
	}
	return sig_of(v, n);
}

/*
 * A member name (token tok) of the innermost open object, whose names
 * start at ks[base]; *bloom has one bit per signature seen in it: a name
 * whose bit is clear cannot be a duplicate.
 */
static int add_key(struct js *js, uint32_t base, uint64_t *bloom, uint32_t tok, size_t srclen)
{
	uint64_t sig = key_sig(js, srclen, tok);
	uint64_t bit = (uint64_t)1 << ((sig * 0xff51afd7ed558ccdULL) >> 58);
	if ((*bloom & bit) && js->nks - base < DUP_PAIRWISE) {
		for (uint32_t i = base; i < js->nks; i++)
			if (js->ks[i].sig == sig && key_eq(js, js->ks[i].tok, tok))
				return dup_error(js, tok);
	}
	*bloom |= bit;
	if (js->nks == js->kscap) {
		js->kscap = js->kscap ? js->kscap * 2 : 64;
		js->ks = xrealloc(js->ks, js->kscap * sizeof *js->ks);
	}
	js->ks[js->nks].sig = sig;
	js->ks[js->nks++].tok = tok;
	return 0;
}

/* The innermost object closes: check it if it was too large to check name by name. */
static int close_keys(struct js *js, uint32_t base)
{
	uint32_t n = js->nks - base;
	js->nks = base;
	if (n <= DUP_PAIRWISE)
		return 0;
	if (js->kcap < 2 * n) {
		js->kcap = 2 * n;
		js->keys = xrealloc(js->keys, js->kcap * sizeof *js->keys);
	}
	uint32_t *keys = js->keys;
	for (uint32_t m = 0; m < n; m++)
		keys[m] = js->ks[base + m].tok;
	key_sort(js, keys, keys + n, n);
	for (uint32_t m = 1; m < n; m++)
		if (key_cmp(js, keys[m - 1], keys[m]) == 0)
			return dup_error(js, keys[m]); /* the later of the two (stable sort) */
	return 0;
}

int js_parse(struct js *js, const char *s, size_t len)
{
	uint32_t stack[JS_MAX_DEPTH];
	uint32_t kbase[JS_MAX_DEPTH]; /* objects: where their names start in js->ks */
	uint64_t bloom[JS_MAX_DEPTH]; /* objects: the signatures of their names (add_key) */
	int depth = 0;
	int want_key = 0; /* inside an object, expecting a key (or '}') */
	int after_value = 0;
	size_t i = 0;

	if (len > 0x7fffffff)
		return error("line too long for the JSON parser");
	js->src = s;
	js->n = 0;
	js->nks = 0;

	for (;;) {
		i = skip_ws(s, i, len);
		if (after_value) {
			/* A value just ended: expect ',' or the container's close, or the end. */
			if (depth == 0) {
				if (i != len)
					return error("unexpected text after the JSON value at column %zu", i + 1);
				return 0;
			}
			struct js_tok *c = &js->t[stack[depth - 1]];
			if (i >= len)
				return error("unexpected end of line inside %s", c->type == JS_OBJ ? "an object" : "an array");
			if (s[i] == ',') {
				i++;
				after_value = 0;
				want_key = c->type == JS_OBJ;
				continue;
			}
			if ((c->type == JS_OBJ && s[i] == '}') || (c->type == JS_ARR && s[i] == ']')) {
				i++;
				c->len = (uint32_t)(i - c->off);
				c->next = js->n;
				if (c->type == JS_OBJ && close_keys(js, kbase[depth - 1]) < 0)
					return -1;
				depth--;
				continue; /* after_value stays set */
			}
			return error("expected ',' or '%c' at column %zu", c->type == JS_OBJ ? '}' : ']', i + 1);
		}
		if (i >= len)
			return error(js->n ? "unexpected end of line" : "empty line");
		if (want_key) {
			struct js_tok *c = &js->t[stack[depth - 1]];
			if (s[i] == '}' && c->n == 0) {
				i++;
				c->len = (uint32_t)(i - c->off);
				c->next = js->n;
				depth--;
				want_key = 0;
				after_value = 1;
				continue;
			}
			if (s[i] != '"')
				return error("expected a member name at column %zu", i + 1);
			uint32_t k = push(js, JS_STR, i + 1);
			size_t end;
			if (scan_string(js, k, s, i + 1, len, &end) < 0)
				return -1;
			js->t[k].next = js->n;
			if (add_key(js, kbase[depth - 1], &bloom[depth - 1], k, len) < 0)
				return -1;
			i = skip_ws(s, end, len);
			if (i >= len || s[i] != ':')
				return error("expected ':' at column %zu", i + 1);
			i++;
			js->t[stack[depth - 1]].n++;
			want_key = 0;
			continue;
		}
		/* A value. */
		char c = s[i];
		if (c == '{' || c == '[') {
			if (depth == JS_MAX_DEPTH)
				return error("JSON nested deeper than %d levels", JS_MAX_DEPTH);
			/* ']' right after '[' closes an empty array. */
			uint32_t t = push(js, c == '{' ? JS_OBJ : JS_ARR, i);
			if (depth > 0 && js->t[stack[depth - 1]].type == JS_ARR)
				js->t[stack[depth - 1]].n++;
			kbase[depth] = js->nks;
			bloom[depth] = 0;
			stack[depth++] = t;
			i++;
			if (c == '{') {
				want_key = 1;
			} else {
				i = skip_ws(s, i, len);
				if (i < len && s[i] == ']') {
					i++;
					js->t[t].len = (uint32_t)(i - js->t[t].off);
					js->t[t].next = js->n;
					depth--;
					after_value = 1;
				}
			}
			continue;
		}
		uint32_t t;
		size_t end = 0;
		if (c == '"') {
			t = push(js, JS_STR, i + 1);
			if (scan_string(js, t, s, i + 1, len, &end) < 0)
				return -1;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			t = push(js, JS_NUM, i);
			if (scan_number(s, i, len, &end) < 0)
				return -1;
			js->t[t].len = (uint32_t)(end - i);
		} else if (len - i >= 4 && !memcmp(s + i, "null", 4)) {
			t = push(js, JS_NULL, i), end = i + 4, js->t[t].len = 4;
		} else if (len - i >= 4 && !memcmp(s + i, "true", 4)) {
			t = push(js, JS_TRUE, i), end = i + 4, js->t[t].len = 4;
		} else if (len - i >= 5 && !memcmp(s + i, "false", 5)) {
			t = push(js, JS_FALSE, i), end = i + 5, js->t[t].len = 5;
		} else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f) {
			return error("unexpected byte 0x%02x at column %zu", (unsigned char)c, i + 1);
		} else {
			return error("unexpected character '%c' at column %zu", c, i + 1);
		}
		js->t[t].next = js->n;
		if (depth > 0 && js->t[stack[depth - 1]].type == JS_ARR)
			js->t[stack[depth - 1]].n++;
		i = end;
		after_value = 1;
	}
}

int js_get(const struct js *js, int obj, const char *key)
{
	if (obj < 0 || js->t[obj].type != JS_OBJ)
		return -1;
	size_t kl = strlen(key);
	int k = obj + 1;
	for (uint32_t m = 0; m < js->t[obj].n; m++) {
		const struct js_tok *t = &js->t[k];
		if (!t->esc && t->len == kl && !memcmp(js->src + t->off, key, kl))
			return k + 1;
		if (t->esc && js_str_eq(js, k, key))
			return k + 1;
		k = (int)js->t[k + 1].next;
	}
	return -1;
}

static void add_utf8(struct sb *sb, unsigned cp)
{
	char b[4];
	if (cp < 0x80) {
		sb_addc(sb, (char)cp);
		return;
	}
	if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		sb_add(sb, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		sb_add(sb, b, 3);
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		sb_add(sb, b, 4);
	}
}

int js_str(const struct js *js, int tok, struct sb *tmp, const char **s, size_t *n)
{
	if (tok < 0 || js->t[tok].type != JS_STR)
		return -1;
	const struct js_tok *t = &js->t[tok];
	const char *p = js->src + t->off;
	if (!t->esc) {
		*s = p;
		*n = t->len;
		return 0;
	}
	sb_reset(tmp);
	for (uint32_t i = 0; i < t->len;) {
		if (p[i] != '\\') {
			sb_addc(tmp, p[i++]);
			continue;
		}
		char e = p[i + 1];
		i += 2;
		switch (e) {
		case 'b':
			sb_addc(tmp, '\b');
			break;
		case 'f':
			sb_addc(tmp, '\f');
			break;
		case 'n':
			sb_addc(tmp, '\n');
			break;
		case 'r':
			sb_addc(tmp, '\r');
			break;
		case 't':
			sb_addc(tmp, '\t');
			break;
		case 'u': {
			unsigned cp = hex4(p + i);
			i += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && i + 6 <= t->len && p[i] == '\\' && p[i + 1] == 'u') {
				unsigned lo = hex4(p + i + 2);
				if (lo >= 0xdc00 && lo <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					i += 6;
				}
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd; /* lone surrogate (js_parse refuses them) */
			add_utf8(tmp, cp);
			break;
		}
		default:
			sb_addc(tmp, e);
			break;
		}
	}
	*s = tmp->buf ? tmp->buf : "";
	*n = tmp->len;
	return 0;
}

int js_str_eq(const struct js *js, int tok, const char *s)
{
	if (tok < 0 || js->t[tok].type != JS_STR)
		return 0;
	const struct js_tok *t = &js->t[tok];
	size_t n = strlen(s);
	if (!t->esc)
		return t->len == n && !memcmp(js->src + t->off, s, n);
	struct sb tmp = SB_INIT;
	const char *p;
	size_t pn;
	js_str(js, tok, &tmp, &p, &pn);
	int eq = pn == n && !memcmp(p, s, n);
	sb_free(&tmp);
	return eq;
}

int js_u63(const struct js *js, int tok, int64_t *out)
{
	if (tok < 0 || js->t[tok].type != JS_NUM)
		return -1;
	const char *p = js->src + js->t[tok].off;
	uint32_t n = js->t[tok].len;
	if (n == 0 || n > 18 || p[0] == '-')
		return -1;
	int64_t v = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

void sb_add_jstr(struct sb *sb, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	sb_grow(sb, n + 2);
	sb_addc(sb, '"');
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		sb_add(sb, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			sb_add(sb, "\\\"", 2);
			break;
		case '\\':
			sb_add(sb, "\\\\", 2);
			break;
		case '\n':
			sb_add(sb, "\\n", 2);
			break;
		case '\t':
			sb_add(sb, "\\t", 2);
			break;
		case '\r':
			sb_add(sb, "\\r", 2);
			break;
		default: {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			sb_add(sb, e, 6);
		}
		}
	}
	sb_add(sb, s + run, n - run);
	sb_addc(sb, '"');
}

void sb_add_utf8_safe(struct sb *sb, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0, i = 0;
	sb_grow(sb, n);
	while (i < n) {
		size_t k = u[i] ? utf8_len(u, i, n) : 0;
		if (k) {
			i += k;
			continue;
		}
		sb_add(sb, s + run, i - run);
		char e[4] = {'\\', 'x', hex[u[i] >> 4], hex[u[i] & 15]};
		sb_add(sb, e, 4);
		run = ++i;
	}
	sb_add(sb, s + run, n - run);
}

void sb_add_jraw(struct sb *sb, const struct js *js, int tok)
{
	const struct js_tok *t = &js->t[tok];
	if (t->type == JS_STR) {
		sb_add(sb, js->src + t->off - 1, t->len + 2);
		return;
	}
	/* A container's text may hold line breaks as whitespace between its
	 * tokens (never inside a string: js_parse refuses raw control
	 * characters there); they become spaces, so the copy stays on one
	 * NDJSON line (fuzz-rdx found a pretty-printed event_data element
	 * splitting a frame line). */
	const char *p = js->src + t->off, *end = p + t->len;
	while (p < end) {
		const char *q = p;
		while (q < end && *q != '\n' && *q != '\r')
			q++;
		sb_add(sb, p, (size_t)(q - p));
		if (q < end)
			sb_add(sb, " ", 1);
		p = q + 1;
	}
}
