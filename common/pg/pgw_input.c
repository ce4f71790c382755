/*
 * pgw_input.c -- the input side of the writer: frame buffering, and each
 * input line parsed and checked into the frame being assembled (framing,
 * ids, block fields, the shape of body lines) before any statement is
 * built, so that a malformed line stops the program with the complete
 * frames before it still applied.  Lines are kept verbatim: pgw_stmt.c
 * parses the body lines again when it queues them.  Nothing here calls
 * libpq.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "frame/frame.h"
#include "pg/pgw_int.h"

/* ----------------------------------------------------------------- frames */

static void frame_reset(struct frame *f)
{
	if (f->text.cap > (1u << 20))
		sb_free(&f->text);
	sb_reset(&f->text);
	sb_reset(&f->hash);
	f->nl = 0;
	f->has_fin = f->has_block = f->has_undo = f->skipped = f->final = 0;
	f->has_after = f->after_none = 0;
	f->after_driver = f->after_seq = 0;
	f->finalized = f->block_number = 0;
}

static void frame_add_line(struct frame *f, const char *line, size_t len)
{
	if (f->nl == f->al) {
		f->al = f->al ? f->al * 2 : 16;
		f->loff = xrealloc(f->loff, f->al * sizeof *f->loff);
	}
	f->loff[f->nl++] = f->text.len;
	sb_add(&f->text, line, len);
	sb_addc(&f->text, '\n');
}

const char *pgw_frame_line(const struct frame *f, size_t i, size_t *len)
{
	size_t end = i + 1 < f->nl ? f->loff[i + 1] : f->text.len;
	*len = end - f->loff[i] - 1;
	return f->text.buf + f->loff[i];
}

/* The tables the input names, registered as they are first seen (looked up
 * later, by pgw_stmt.c): here, so that the parsing half of the writer needs
 * no server library (fuzz/fuzz-pgw-input.c links it alone). */
struct cat_table *pgw_get_table(struct pgw *w, const char *name, size_t n, int create)
{
	for (int i = 0; i < w->ntabs; i++)
		if (w->tabs[i]->namelen == n && !memcmp(w->tabs[i]->name, name, n))
			return w->tabs[i];
	if (!create)
		return NULL;
	if (w->ntabs == w->atabs) {
		w->atabs = w->atabs ? w->atabs * 2 : 16;
		w->tabs = xrealloc(w->tabs, (size_t)w->atabs * sizeof *w->tabs);
	}
	struct cat_table *t = xcalloc(1, sizeof *t);
	t->name = xstrndup(name, n);
	t->namelen = n;
	t->id = w->ntabs;
	w->tabs[w->ntabs++] = t;
	return t;
}

/* ----------------------------------------------------------- input side */

static int parse_err(struct pgw *w, const char *fmt, const char *arg)
{
	w->reject_kind = FR_REJ_SYNTAX;
	sb_reset(&w->reason);
	sb_addf(&w->reason, fmt, arg);
	return -1;
}

/* An optional framing integer: absent or null -> 0, a valid one -> 1, else -1. */
static int opt_u63(const struct js *js, int obj, const char *key, int64_t *v)
{
	int t = js_get(js, obj, key);
	if (t < 0 || js->t[t].type == JS_NULL)
		return 0;
	return js_u63(js, t, v) < 0 ? -1 : 1;
}

/*
 * Take one input line into the frame being assembled (slot w->nfr).
 * Returns 1 when it completed a frame, 0 when more lines are needed,
 * -1 on malformed input (w->reason says why).
 */
int pgw_take_line(struct pgw *w, const char *line, size_t len)
{
	struct js *js = &w->js;
	struct frame *f = &w->fr[w->nfr];
	if (js_parse(js, line, len) < 0)
		return parse_err(w, "%s", err_msg());
	if (js->t[0].type != JS_OBJ)
		return parse_err(w, "%s", "not a JSON object");
	int op = fr_op(js);
	if (op < 0)
		return parse_err(w, "%s (begin, put, del, undo, end)", err_msg());
	if (op != FR_BEGIN && op != FR_END && op != FR_PUT && op != FR_DEL && op != FR_UNDO)
		return parse_err(w, "op '%s' has no place in a delta frame (begin, put, del, undo, end)", fr_op_name(op));
	if (op == FR_BEGIN) {
		if (w->in_frame)
			return parse_err(w, "%s", "begin line inside a frame (the previous frame has no end line)");
		frame_reset(f);
		f->line0 = w->lr.lineno;
		int tt;
		if (js_u63(js, js_get(js, 0, "driver_id"), &f->driver_id) < 0)
			return parse_err(w, "%s", "begin line without a valid \"driver_id\"");
		if (js_u63(js, js_get(js, 0, "seq"), &f->seq) < 0)
			return parse_err(w, "%s", "begin line without a valid \"seq\"");
		if ((f->type = fr_kind_of(js, js_get(js, 0, "type"))) < 0)
			return parse_err(w, "begin line without a known \"type\" (%s)", fr_kind_names);
		int bn = opt_u63(js, 0, "block_number", &f->block_number);
		int bh = js_get(js, 0, "block_hash");
		const char *s;
		size_t n;
		if (bn < 0)
			return parse_err(w, "%s", "invalid \"block_number\"");
		if (bh >= 0 && js->t[bh].type != JS_NULL) {
			if (js_str(js, bh, &w->tmp, &s, &n) < 0 || n == 0 || memchr(s, '\0', n))
				return parse_err(w, "%s", "invalid \"block_hash\"");
			sb_add(&f->hash, s, n);
		}
		f->has_block = bn == 1 && f->hash.len > 0;
		if ((bn == 1) != (f->hash.len > 0))
			return parse_err(w, "%s", "begin line has only one of \"block_number\" and \"block_hash\"");
		if (!f->has_block && f->type != FR_KIND_RANGE)
			return parse_err(w, "%s", "begin line without \"block_number\" and \"block_hash\"");
		if ((tt = opt_u63(js, 0, "finalized", &f->finalized)) < 0)
			return parse_err(w, "%s", "invalid \"finalized\"");
		f->has_fin = tt;
		int fl = js_get(js, 0, "final");
		if (fl >= 0 && js->t[fl].type != JS_TRUE && js->t[fl].type != JS_FALSE)
			return parse_err(w, "%s", "invalid \"final\" (true or false)");
		f->final = fl >= 0 && js->t[fl].type == JS_TRUE;
		int at = js_get(js, 0, "after");
		if (at >= 0) {
			f->has_after = 1;
			if (js->t[at].type == JS_NULL)
				f->after_none = 1;
			else if (js->t[at].type != JS_OBJ || js_u63(js, js_get(js, at, "driver_id"), &f->after_driver) < 0 ||
				 js_u63(js, js_get(js, at, "seq"), &f->after_seq) < 0)
				return parse_err(w, "%s", "invalid \"after\" (null, or an object with driver_id and seq)");
		}
		frame_add_line(f, line, len);
		w->in_frame = 1;
		return 0;
	}
	if (op == FR_END) {
		int64_t id;
		if (!w->in_frame)
			return parse_err(w, "%s", "end line outside a frame");
		if (js_u63(js, js_get(js, 0, "driver_id"), &id) < 0)
			return parse_err(w, "%s", "end line without a valid \"driver_id\"");
		if (id != f->driver_id)
			return parse_err(w, "%s", "end line's driver_id differs from its begin line's");
		frame_add_line(f, line, len);
		w->in_frame = 0;
		return 1;
	}
	int is_put = op == FR_PUT, is_undo = op == FR_UNDO;
	if (!w->in_frame)
		return parse_err(w, "%s", "body line outside a frame");
	int tab = js_get(js, 0, "table");
	int key = js_get(js, 0, "key");
	int before = js_get(js, 0, "before");
	const char *s;
	size_t n;
	if (js_str(js, tab, &w->tmp, &s, &n) < 0 || n == 0 || memchr(s, '\0', n))
		return parse_err(w, "%s", "no valid \"table\"");
	if (key < 0 || js->t[key].type != JS_OBJ)
		return parse_err(w, "%s", "no \"key\" object");
	/* A final frame's put/del lines may leave "before" out (nothing journals it). */
	if (before < 0 && f->final && !is_undo) {
	} else if (before < 0 || (js->t[before].type != JS_OBJ && js->t[before].type != JS_NULL))
		return parse_err(w, "%s", "no \"before\" (an object or null)");
	if (is_put) {
		int row = js_get(js, 0, "row");
		if (row < 0 || js->t[row].type != JS_OBJ)
			return parse_err(w, "%s", "put line without a \"row\" object");
	}
	if (is_undo) {
		int64_t bn;
		int h = js_get(js, 0, "block_hash");
		const char *hs;
		size_t hn;
		if (js_u63(js, js_get(js, 0, "block_number"), &bn) < 0)
			return parse_err(w, "%s", "undo line without a valid \"block_number\"");
		if (js_str(js, h, &w->tmp2, &hs, &hn) < 0 || hn == 0 || memchr(hs, '\0', hn))
			return parse_err(w, "%s", "undo line without a valid \"block_hash\"");
		f->has_undo = 1;
	} else {
		pgw_get_table(w, s, n, 1);
	}
	frame_add_line(f, line, len);
	return 0;
}

/* Wait for input: 1 readable, 0 timed out, 2 asked to stop. */
int pgw_wait_input(int fd, int stop_fd, volatile sig_atomic_t *stop, int timeout_ms)
{
	struct pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
	for (;;) {
		if (*stop)
			return 2;
		int r = poll(p, stop_fd >= 0 ? 2 : 1, timeout_ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die_errno(EXIT_SOFTWARE, "unable to poll input");
		}
		if (*stop || (stop_fd >= 0 && p[1].revents))
			return 2;
		if (r == 0)
			return 0;
		if (p[0].revents)
			return 1;
	}
}
