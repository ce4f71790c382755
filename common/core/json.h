/*
 * json.h -- a strict, allocation-light JSON parser for NDJSON lines, and
 * the escaping helpers used to write them.
 *
 * The lines between our programs are small flat objects parsed millions of
 * times a second, so the parser tokenises a whole line into one reusable
 * token array (jsmn-style) without copying: strings and numbers are slices
 * of the line.  It is strict RFC 8259 (and I-JSON, RFC 7493): no trailing
 * commas, no comments, no leading zeros, control characters and invalid
 * escapes rejected; strings must be valid UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequences), a \u escape
 * must not stand for NUL or for half a surrogate pair; no object may name a
 * member twice (names compared after unescaping); nesting at most
 * JS_MAX_DEPTH, and nothing but whitespace after the value.
 */
#ifndef PL_JSON_H
#define PL_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/io.h"

enum js_type { JS_NULL,
	JS_FALSE,
	JS_TRUE,
	JS_NUM,
	JS_STR,
	JS_ARR,
	JS_OBJ };
#define JS_MAX_DEPTH 32

struct js_tok {
	uint8_t type;
	uint8_t esc;   /* string contains backslash escapes */
	uint32_t off;  /* offset of the value's text (for strings: after the quote) */
	uint32_t len;  /* length of the text (for strings: without quotes) */
	uint32_t next; /* index of the first token after this value's subtree */
	uint32_t n;    /* arrays: elements; objects: members */
};

/* A member name of an open object (duplicate detection). */
struct js_key {
	uint64_t sig;
	uint32_t tok;
};

struct js {
	const char *src;
	struct js_tok *t;
	uint32_t n, cap;
	struct js_key *ks; /* scratch: the names of the open objects */
	uint32_t nks, kscap;
	uint32_t *keys, kcap; /* scratch: sorting the names of a large object */
};

void js_init(struct js *js);
void js_free(struct js *js);
/* Tokenise s[0..len).  0 on success, -1 with err_msg() set. Token 0 is the root. */
int js_parse(struct js *js, const char *s, size_t len);

/* Member lookup in the object at token obj: value token index, or -1. */
int js_get(const struct js *js, int obj, const char *key);
/* Elements / members: first child of a container, and the next sibling. */
static inline int js_first(const struct js *js, int tok)
{
	(void)js;
	return tok + 1;
}
static inline int js_sibling(const struct js *js, int tok)
{
	return (int)js->t[tok].next;
}
/* For object iteration: the value after a key token. */
static inline int js_value_of_key(const struct js *js, int key)
{
	(void)js;
	return key + 1;
}

/*
 * The contents of a string token: *s and *n point into the source when it has no
 * escapes, else into tmp (unescaped UTF-8).  Returns -1 if tok is not a string.
 */
int js_str(const struct js *js, int tok, struct sb *tmp, const char **s, size_t *n);
/* Compare a string token to a C string (exact, after unescaping). */
int js_str_eq(const struct js *js, int tok, const char *s);
/* A non-negative JSON integer that fits in int64 (no fraction, no exponent). */
int js_u63(const struct js *js, int tok, int64_t *out);

/* Append s as a JSON string literal (with quotes), escaping as needed. */
void sb_add_jstr(struct sb *sb, const char *s, size_t n);
/*
 * Append s[0..n) as valid UTF-8 without NUL, for text that must be stored
 * whatever its bytes (PostgreSQL refuses invalid UTF-8 and NUL in text):
 * each byte that is not part of a well-formed UTF-8 sequence (strict, as
 * js_parse checks strings), and each NUL byte, becomes the four characters
 * \xNN (lowercase hex); everything else is copied unchanged, so valid text
 * is kept byte for byte.
 */
void sb_add_utf8_safe(struct sb *sb, const char *s, size_t n);
/* Append the raw text of a token (containers verbatim, but line breaks between
 * their tokens become spaces: the copy is one line). */
void sb_add_jraw(struct sb *sb, const struct js *js, int tok);

#endif
