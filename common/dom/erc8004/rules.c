/*
 * rules.c -- see erc8004.h; the semantics are in docs/erc8004.md.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "dom/erc8004/erc8004.h"
#include "frame/frame.h"

/* ---------------------------------------------------------------- tables */

enum { REG_IDENTITY,
	REG_REPUTATION,
	REG_VALIDATION };
static const char *const registries[] = {"identity", "reputation", "validation"};
enum { ST_ACTIVE,
	ST_DISABLED,
	ST_MALFORMED };
static const char *const statuses[] = {"active", "disabled", "malformed"};
enum { RS_NONE,
	RS_CONDITION_TYPE,
	RS_OPERATOR,
	RS_VALUE,
	RS_FIELD,
	RS_CONFIG,
	RS_DUPLICATE,
	RS_REGISTRY,
	RS_ACTION,
	RS_TRIGGER };
static const char *const reasons[] = {"", "unknown_condition_type", "bad_operator", "bad_value", "bad_field",
	"bad_config", "duplicate_stateful", "bad_registry", "bad_action", "bad_trigger"};
enum { CT_AGENT,
	CT_SCORE,
	CT_TAG,
	CT_EVTYPE,
	CT_EMA,
	CT_RATE };
static const char *const ctypes[] = {"agent_id_equals", "score_threshold", "tag_equals", "event_type_equals",
	"ema_threshold", "rate_limit"};
enum { F_NONE,
	F_SCORE,
	F_TAG1,
	F_TAG2 };
static const char *const fields[] = {"", "score", "tag1", "tag2"};
enum { OP_NONE,
	OP_LT,
	OP_GT,
	OP_EQ,
	OP_LE,
	OP_GE,
	OP_NE };
static const char *const ops[] = {"", "<", ">", "=", "<=", ">=", "!="};
enum { A_TELEGRAM,
	A_REST,
	A_MCP };
static const char *const atypes[] = {"telegram", "rest", "mcp"};

struct ckpt {
	uint64_t chain_id;
	uint64_t block_number;
	u256 block_hash;
	uint64_t updated_at;
};
struct job {
	uint64_t event_seq, action_id;
	uint64_t trigger_id, rule_version, priority, action_type, chain_id, block_number, item_seq, rank;
};
struct ract {
	uint64_t trigger_id, action_id;
	uint64_t action_type, priority;
};
struct rcond {
	uint64_t trigger_id, condition_id;
	uint64_t ctype, field, op;
	u256 num, str;
	uint64_t param;
};
struct rtrig {
	uint64_t trigger_id;
	uint64_t chain_id, registry, version, status, reason, bad_condition;
};
struct tstate {
	uint64_t trigger_id;
	u256 ema;
	uint64_t ema_count, window_start, window_count, last_updated;
};

/* why an event row was unreadable (skipped_events, --skip-bad-events) */
enum { BE_NONE,
	BE_FIELDS,
	BE_HASH,
	BE_REGISTRY,
	BE_TYPE,
	BE_AGENT,
	BE_SCORE,
	BE_TAG1,
	BE_TAG2,
	BE_OBJECT };
static const char *const bad_reasons[] = {"", "fields", "block_hash", "registry", "event_type", "agent_id", "score",
	"tag1", "tag2", "not_an_object"};
struct skipped {
	uint64_t item_seq, ordinal;
	uint64_t reason;
};

enum { T_CKPT,
	T_JOBS,
	T_ACTS,
	T_CONDS,
	T_TRIGS,
	T_SKIP,
	T_STATE,
	T_COUNT };

static const struct dl_col ck_cols[] = {DL_COL("chain_id", DL_U64, ckpt, chain_id),
	DL_COL("block_number", DL_U64, ckpt, block_number), DL_COL("block_hash", DL_H256, ckpt, block_hash),
	DL_COL("updated_at", DL_U64, ckpt, updated_at)};
static const struct dl_col job_cols[] = {DL_COL("event_seq", DL_U64, job, event_seq),
	DL_COL("action_id", DL_U64, job, action_id), DL_COL("trigger_id", DL_U64, job, trigger_id),
	DL_COL("rule_version", DL_U64, job, rule_version), DL_COL("priority", DL_U64, job, priority),
	DL_ENUM_COL("action_type", job, action_type, atypes), DL_COL("chain_id", DL_U64, job, chain_id),
	DL_COL("block_number", DL_U64, job, block_number), DL_COL("item_seq", DL_U64, job, item_seq),
	DL_COL("rank", DL_U64, job, rank)};
static const struct dl_col act_cols[] = {DL_COL("trigger_id", DL_U64, ract, trigger_id),
	DL_COL("action_id", DL_U64, ract, action_id), DL_ENUM_COL("action_type", ract, action_type, atypes),
	DL_COL("priority", DL_U64, ract, priority)};
static const struct dl_col cond_cols[] = {DL_COL("trigger_id", DL_U64, rcond, trigger_id),
	DL_COL("condition_id", DL_U64, rcond, condition_id), DL_ENUM_COL("condition_type", rcond, ctype, ctypes),
	DL_ENUM_COL("field", rcond, field, fields), DL_ENUM_COL("operator", rcond, op, ops),
	DL_COL("num", DL_DEC, rcond, num), DL_COL("str", DL_H256, rcond, str), DL_COL("param", DL_U64, rcond, param)};
static const struct dl_col trig_cols[] = {DL_COL("trigger_id", DL_U64, rtrig, trigger_id),
	DL_COL("chain_id", DL_U64, rtrig, chain_id), DL_ENUM_COL("registry", rtrig, registry, registries),
	DL_COL("version", DL_U64, rtrig, version), DL_ENUM_COL("status", rtrig, status, statuses),
	DL_ENUM_COL("reason", rtrig, reason, reasons), DL_COL("bad_condition", DL_U64, rtrig, bad_condition)};
static const struct dl_col st_cols[] = {DL_COL("trigger_id", DL_U64, tstate, trigger_id),
	DL_COL("ema", DL_DEC, tstate, ema), DL_COL("ema_count", DL_U64, tstate, ema_count),
	DL_COL("window_start", DL_U64, tstate, window_start), DL_COL("window_count", DL_U64, tstate, window_count),
	DL_COL("last_updated", DL_U64, tstate, last_updated)};

static const struct dl_col skip_cols[] = {DL_COL("item_seq", DL_U64, skipped, item_seq),
	DL_COL("ordinal", DL_U64, skipped, ordinal), DL_ENUM_COL("reason", skipped, reason, bad_reasons)};

#define TAB(n, s, k, c)                                                                                         \
	{                                                                                                       \
		n, sizeof(struct s), (uint16_t)(8 * (k)), c, k, c, (int)(sizeof c / sizeof *c), -1, 0, -1, NULL \
	}
static const struct dl_table tabs[T_COUNT] = {
	[T_CKPT] = TAB("checkpoints", ckpt, 1, ck_cols),
	[T_JOBS] = TAB("jobs", job, 2, job_cols),
	[T_ACTS] = TAB("rule_actions", ract, 2, act_cols),
	[T_CONDS] = TAB("rule_conditions", rcond, 2, cond_cols),
	[T_TRIGS] = TAB("rule_triggers", rtrig, 1, trig_cols),
	[T_SKIP] = TAB("skipped_events", skipped, 2, skip_cols),
	[T_STATE] = TAB("trigger_state", tstate, 1, st_cols),
};

/* ---------------------------------------------------------------- compiled rules */

/* A trigger as evaluated: copies of its rows, conditions by id, actions by
 * (priority descending, id). */
struct ctrig {
	struct rtrig t;
	struct rcond *c;
	size_t nc;
	struct ract *a;
	size_t na;
};

struct erc {
	int dirty;
	struct ctrig *v; /* active triggers by (chain, registry, id) */
	size_t n;
	uint64_t jobs, matches, skipped;
	uint64_t item, ordinal; /* events of the current frame so far */
};

static void drop_index(struct erc *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].c);
		free(e->v[i].a);
	}
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

static int cmp_ctrig(const void *a, const void *b)
{
	const struct rtrig *x = &((const struct ctrig *)a)->t, *y = &((const struct ctrig *)b)->t;
	if (x->chain_id != y->chain_id)
		return x->chain_id < y->chain_id ? -1 : 1;
	if (x->registry != y->registry)
		return x->registry < y->registry ? -1 : 1;
	return x->trigger_id < y->trigger_id ? -1 : x->trigger_id > y->trigger_id;
}
static int cmp_cond(const void *a, const void *b)
{
	const struct rcond *x = a, *y = b;
	return x->condition_id < y->condition_id ? -1 : x->condition_id > y->condition_id;
}
static int cmp_act(const void *a, const void *b)
{
	const struct ract *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return x->action_id < y->action_id ? -1 : x->action_id > y->action_id;
}
static int cmp_trig_id(const void *a, const void *b)
{
	const struct ctrig *x = a, *y = b;
	return x->t.trigger_id < y->t.trigger_id ? -1 : x->t.trigger_id > y->t.trigger_id;
}

/* Rebuild the index from the rule tables (after any change to them). */
static void rebuild(struct dl *dl, struct erc *e)
{
	drop_index(e);
	size_t pos = 0, cap = 0;
	struct rtrig *t;
	while ((t = dl_next_row(dl, T_TRIGS, &pos)))
		if (t->status == ST_ACTIVE) {
			if (e->n == cap) {
				cap = cap ? 2 * cap : 16;
				e->v = xrealloc(e->v, cap * sizeof *e->v);
			}
			memset(&e->v[e->n], 0, sizeof e->v[e->n]);
			e->v[e->n++].t = *t;
		}
	/* conditions and actions: attach to their trigger (found by id) */
	if (e->n) /* (qsort and bsearch want a non-null base even for 0 elements) */
		qsort(e->v, e->n, sizeof *e->v, cmp_trig_id);
	struct rcond *c;
	pos = 0;
	while ((c = dl_next_row(dl, T_CONDS, &pos))) {
		struct ctrig key = {.t = {.trigger_id = c->trigger_id}};
		struct ctrig *ct = e->n ? bsearch(&key, e->v, e->n, sizeof *e->v, cmp_trig_id) : NULL;
		if (!ct)
			continue;
		ct->c = xrealloc(ct->c, (ct->nc + 1) * sizeof *ct->c);
		ct->c[ct->nc++] = *c;
	}
	struct ract *a;
	pos = 0;
	while ((a = dl_next_row(dl, T_ACTS, &pos))) {
		struct ctrig key = {.t = {.trigger_id = a->trigger_id}};
		struct ctrig *ct = e->n ? bsearch(&key, e->v, e->n, sizeof *e->v, cmp_trig_id) : NULL;
		if (!ct)
			continue;
		ct->a = xrealloc(ct->a, (ct->na + 1) * sizeof *ct->a);
		ct->a[ct->na++] = *a;
	}
	for (size_t i = 0; i < e->n; i++) {
		if (e->v[i].nc)
			qsort(e->v[i].c, e->v[i].nc, sizeof *e->v[i].c, cmp_cond);
		if (e->v[i].na)
			qsort(e->v[i].a, e->v[i].na, sizeof *e->v[i].a, cmp_act);
	}
	if (e->n)
		qsort(e->v, e->n, sizeof *e->v, cmp_ctrig);
	e->dirty = 0;
}

/* ---------------------------------------------------------------- helpers */

/*
 * A short string as a number: its bytes (at most 31) big-endian, then its
 * length in the lowest byte.  Injective, so equality of strings is
 * equality of these numbers.  -1 if longer than 31 bytes.
 */
static int pack_str(const char *s, size_t n, u256 *out)
{
	unsigned char b[32] = {0};
	if (n > 31)
		return -1;
	memcpy(b, s, n);
	b[31] = (unsigned char)n;
	u256_zero(out);
	for (int w = 0; w < 4; w++) {
		uint64_t v = 0;
		for (int k = 0; k < 8; k++)
			v = v << 8 | b[(3 - w) * 8 + k];
		out->w[w] = v;
	}
	return 0;
}

static int find_name(const char *const *names, int nnames, const char *s, size_t n)
{
	for (int i = 0; i < nnames; i++)
		if (strlen(names[i]) == n && !memcmp(names[i], s, n))
			return i;
	return -1;
}

/* A string member (or null: *s = NULL). -1 if present and not a string/null. */
static int get_str(struct dl *dl, int obj, const char *name, const char **s, size_t *n, struct sb *tmp)
{
	struct js *js = dl_js(dl);
	int t = js_get(js, obj, name);
	*s = NULL;
	*n = 0;
	if (t < 0 || js->t[t].type == JS_NULL)
		return 0;
	return js_str(js, t, tmp, s, n);
}

/* A non-negative integer member (JSON number, or a decimal string when str_ok). */
static int get_u64(struct dl *dl, int obj, const char *name, uint64_t *v, int str_ok)
{
	struct js *js = dl_js(dl);
	int t = js_get(js, obj, name);
	int64_t x;
	if (t < 0)
		return -1;
	if (js->t[t].type == JS_NUM) {
		if (js_u63(js, t, &x) < 0)
			return -1;
		*v = (uint64_t)x;
		return 0;
	}
	if (str_ok && js->t[t].type == JS_STR) {
		const char *s;
		size_t n;
		u256 u;
		if (js_str(js, t, dl_scratch(dl), &s, &n) < 0 || u256_parse_dec(&u, s, n) < 0 || !u256_fits64(&u))
			return -1;
		*v = u.w[0];
		return 0;
	}
	return -1;
}

/* A non-negative integer of any size (a JSON number or decimal string), or null (*isnull). */
static int get_u256_num(struct dl *dl, int obj, const char *name, u256 *v, int *isnull)
{
	struct js *js = dl_js(dl);
	int t = js_get(js, obj, name);
	*isnull = 0;
	if (t < 0)
		return -1;
	if (js->t[t].type == JS_NULL) {
		*isnull = 1;
		return 0;
	}
	if (js->t[t].type == JS_STR) {
		const char *s;
		size_t n;
		if (js_str(js, t, dl_scratch(dl), &s, &n) < 0)
			return -1;
		return u256_parse_dec(v, s, n);
	}
	if (js->t[t].type != JS_NUM)
		return -1;
	return u256_parse_dec(v, js->src + js->t[t].off, js->t[t].len);
}

static const u256 *ema_scale(void)
{
	static u256 s;
	static int init;
	if (!init) {
		u256_parse_dec(&s, "1000000000000000000", 19);
		init = 1;
	}
	return &s;
}

static int compare(uint64_t op, const u256 *a, const u256 *b)
{
	int c = u256_cmp(a, b);
	switch (op) {
	case OP_LT:
		return c < 0;
	case OP_GT:
		return c > 0;
	case OP_EQ:
		return c == 0;
	case OP_LE:
		return c <= 0;
	case OP_GE:
		return c >= 0;
	case OP_NE:
		return c != 0;
	}
	return 0;
}

/* ---------------------------------------------------------------- Rules items */

/* Parse a duration "90s", "30m", "1h", "7d" (or plain seconds) into seconds. */
static int parse_window(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0, mul = 1;
	size_t i = 0;
	if (!n)
		return -1;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > 1000000000ULL)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0)
		return -1;
	if (i + 1 == n) {
		switch (s[i]) {
		case 's':
			break;
		case 'm':
			mul = 60;
			break;
		case 'h':
			mul = 3600;
			break;
		case 'd':
			mul = 86400;
			break;
		default:
			return -1;
		}
	} else if (i != n) {
		return -1;
	}
	*out = v * mul;
	return *out ? 0 : -1;
}

/* Compile condition token ct of trigger tid into *c; a reason (RS_*) or 0. */
static int compile_cond(struct dl *dl, int ct, uint64_t tid, struct rcond *c, int *have_ema, int *have_rate)
{
	struct js *js = dl_js(dl);
	struct sb t1 = SB_INIT, t2 = SB_INIT, t3 = SB_INIT;
	const char *type, *field, *op, *val;
	size_t ntype, nfield, nop, nval;
	int r = 0;
	memset(c, 0, sizeof *c);
	c->trigger_id = tid;
	if (get_u64(dl, ct, "id", &c->condition_id, 0) < 0) {
		r = RS_TRIGGER;
		goto out;
	}
	if (get_str(dl, ct, "condition_type", &type, &ntype, &t1) < 0 || !type ||
		get_str(dl, ct, "field", &field, &nfield, &t2) < 0 || get_str(dl, ct, "operator", &op, &nop, &t3) < 0) {
		r = RS_CONDITION_TYPE;
		goto out;
	}
	int k = find_name(ctypes, (int)(sizeof ctypes / sizeof *ctypes), type, ntype);
	if (k < 0) {
		r = RS_CONDITION_TYPE;
		goto out;
	}
	c->ctype = (uint64_t)k;
	/* the operator: the six of section B, with == for = and <> for != */
	if (op) {
		if (nop == 2 && !memcmp(op, "==", 2))
			c->op = OP_EQ;
		else if (nop == 2 && !memcmp(op, "<>", 2))
			c->op = OP_NE;
		else if ((k = find_name(ops, (int)(sizeof ops / sizeof *ops), op, nop)) > 0)
			c->op = (uint64_t)k;
		else {
			r = RS_OPERATOR;
			goto out;
		}
	}
	/* the field */
	if (field) {
		k = find_name(fields, (int)(sizeof fields / sizeof *fields), field, nfield);
		if (k <= 0) {
			r = RS_FIELD;
			goto out;
		}
		c->field = (uint64_t)k;
	}
	struct sb tv = SB_INIT;
	if (get_str(dl, ct, "value", &val, &nval, &tv) < 0) {
		sb_free(&tv);
		r = RS_VALUE;
		goto out;
	}
	int cfg = js_get(js, ct, "config");
	switch (c->ctype) {
	case CT_AGENT:
		if (c->field != F_NONE)
			r = RS_FIELD;
		else if (c->op != OP_NONE && c->op != OP_EQ)
			r = RS_OPERATOR;
		else if (!val || u256_parse_dec(&c->num, val, nval) < 0)
			r = RS_VALUE;
		break;
	case CT_SCORE:
	case CT_EMA:
		if (c->field != F_NONE && c->field != F_SCORE)
			r = RS_FIELD;
		else if (c->op == OP_NONE)
			r = RS_OPERATOR;
		else if (!val || u256_parse_dec(&c->num, val, nval) < 0)
			r = RS_VALUE;
		c->field = F_SCORE;
		if (!r && c->ctype == CT_EMA) {
			uint64_t w;
			if (cfg < 0 || js->t[cfg].type != JS_OBJ || get_u64(dl, cfg, "window_size", &w, 1) < 0 || w < 1 ||
				w > 1000000)
				r = RS_CONFIG;
			else if ((*have_ema)++)
				r = RS_DUPLICATE;
			c->param = w;
		}
		break;
	case CT_TAG:
		if (c->field != F_TAG1 && c->field != F_TAG2)
			r = RS_FIELD;
		else if (c->op != OP_NONE && c->op != OP_EQ)
			r = RS_OPERATOR;
		else if (!val || pack_str(val, nval, &c->str) < 0)
			r = RS_VALUE;
		break;
	case CT_EVTYPE:
		if (c->field != F_NONE)
			r = RS_FIELD;
		else if (c->op != OP_NONE && c->op != OP_EQ)
			r = RS_OPERATOR;
		else if (!val || pack_str(val, nval, &c->str) < 0)
			r = RS_VALUE;
		break;
	case CT_RATE: {
		const char *w;
		size_t nw;
		struct sb tw = SB_INIT;
		if (c->field != F_NONE)
			r = RS_FIELD;
		else if (c->op != OP_NONE && c->op != OP_LE)
			r = RS_OPERATOR;
		else if (!val || u256_parse_dec(&c->num, val, nval) < 0 || !u256_fits64(&c->num) || u256_is_zero(&c->num))
			r = RS_VALUE;
		else if (cfg < 0 || js->t[cfg].type != JS_OBJ || get_str(dl, cfg, "time_window", &w, &nw, &tw) < 0 || !w ||
			 parse_window(w, nw, &c->param) < 0)
			r = RS_CONFIG;
		else if ((*have_rate)++)
			r = RS_DUPLICATE;
		sb_free(&tw);
		break;
	}
	}
	sb_free(&tv);
out:
	sb_free(&t1);
	sb_free(&t2);
	sb_free(&t3);
	return r;
}

/* Delete every row of table tab whose first key column is tid. */
static void delete_of(struct dl *dl, int tab, uint64_t tid)
{
	size_t pos = 0, n = 0, cap = 0;
	uint64_t(*keys)[2] = NULL;
	const uint64_t *row;
	while ((row = dl_next_row(dl, tab, &pos)))
		if (row[0] == tid) {
			if (n == cap) {
				cap = cap ? 2 * cap : 8;
				keys = xrealloc(keys, cap * sizeof *keys);
			}
			keys[n][0] = row[0];
			keys[n][1] = row[1];
			n++;
		}
	for (size_t i = 0; i < n; i++) {
		void *r = dl_get(dl, tab, keys[i]);
		if (r)
			dl_del_row(dl, tab, r);
	}
	free(keys);
}

static int on_rules(struct dl *dl, struct erc *e)
{
	struct js *js = dl_js(dl);
	uint64_t tid;
	if (get_u64(dl, 0, "trigger_id", &tid, 0) < 0)
		return error("Rules: field 'trigger_id' is not a non-negative integer");
	int rules = js_get(js, 0, "rules");
	if (rules < 0 || js->t[rules].type != JS_OBJ)
		return error("Rules: field 'rules' is not an object");
	int trig = js_get(js, rules, "trigger");
	int conds = js_get(js, rules, "conditions"), acts = js_get(js, rules, "actions");
	if (trig < 0 || (js->t[trig].type != JS_NULL && js->t[trig].type != JS_OBJ) || conds < 0 ||
		js->t[conds].type != JS_ARR || acts < 0 || js->t[acts].type != JS_ARR)
		return error("Rules: 'rules' wants trigger (object or null), conditions and actions (arrays)");
	e->dirty = 1;
	delete_of(dl, T_CONDS, tid);
	delete_of(dl, T_ACTS, tid);
	struct rtrig *old = dl_get(dl, T_TRIGS, &tid);
	if (js->t[trig].type == JS_NULL) {
		if (old)
			dl_del_row(dl, T_TRIGS, old);
		return DL_APPLIED;
	}
	struct rtrig t = {.trigger_id = tid, .version = dl_block(dl), .status = ST_ACTIVE};
	const char *reg;
	size_t nreg;
	struct sb tmp = SB_INIT;
	int enabled = js_get(js, trig, "enabled");
	int k;
	if (get_u64(dl, trig, "chain_id", &t.chain_id, 0) < 0)
		t.reason = RS_TRIGGER;
	else if (get_str(dl, trig, "registry", &reg, &nreg, &tmp) < 0 || !reg ||
		 (k = find_name(registries, 3, reg, nreg)) < 0)
		t.reason = RS_REGISTRY;
	else
		t.registry = (uint64_t)k;
	sb_free(&tmp);
	/* conditions */
	size_t nc = js->t[conds].n, na = js->t[acts].n;
	struct rcond *cv = xcalloc(nc + 1, sizeof *cv);
	struct ract *av = xcalloc(na + 1, sizeof *av);
	int have_ema = 0, have_rate = 0;
	int c = js_first(js, conds);
	for (size_t i = 0; i < nc && !t.reason; i++, c = js_sibling(js, c)) {
		if (js->t[c].type != JS_OBJ) {
			t.reason = RS_TRIGGER;
			break;
		}
		int r = compile_cond(dl, c, tid, &cv[i], &have_ema, &have_rate);
		if (r) {
			t.reason = (uint64_t)r;
			t.bad_condition = cv[i].condition_id;
		}
	}
	int a = js_first(js, acts);
	for (size_t i = 0; i < na && !t.reason; i++, a = js_sibling(js, a)) {
		const char *at;
		size_t nat;
		struct sb ta = SB_INIT;
		int64_t prio = -1;
		av[i].trigger_id = tid;
		int pt = js->t[a].type == JS_OBJ ? js_get(js, a, "priority") : -1;
		if (js->t[a].type != JS_OBJ || get_u64(dl, a, "id", &av[i].action_id, 0) < 0 ||
			get_str(dl, a, "action_type", &at, &nat, &ta) < 0 || !at ||
			(k = find_name(atypes, 3, at, nat)) < 0 || pt < 0 || js_u63(js, pt, &prio) < 0)
			t.reason = RS_ACTION;
		else {
			av[i].action_type = (uint64_t)k;
			av[i].priority = (uint64_t)prio;
		}
		sb_free(&ta);
	}
	if (t.reason)
		t.status = ST_MALFORMED;
	else if (enabled < 0 || js->t[enabled].type == JS_FALSE)
		t.status = ST_DISABLED;
	else if (js->t[enabled].type != JS_TRUE) {
		t.status = ST_MALFORMED;
		t.reason = RS_TRIGGER;
	}
	struct rtrig *row = old ? dl_mut(dl, T_TRIGS, old) : dl_new_row(dl, T_TRIGS, &tid);
	*row = t;
	if (t.status != ST_MALFORMED) {
		for (size_t i = 0; i < nc; i++) {
			if (dl_get(dl, T_CONDS, &cv[i])) {
				int rc = error("Rules: trigger %llu names condition %llu twice", (unsigned long long)tid,
					(unsigned long long)cv[i].condition_id);
				free(cv);
				free(av);
				return rc;
			}
			dl_insert_row(dl, T_CONDS, &cv[i]);
		}
		for (size_t i = 0; i < na; i++) {
			if (dl_get(dl, T_ACTS, &av[i])) {
				int rc = error("Rules: trigger %llu names action %llu twice", (unsigned long long)tid,
					(unsigned long long)av[i].action_id);
				free(cv);
				free(av);
				return rc;
			}
			dl_insert_row(dl, T_ACTS, &av[i]);
		}
	}
	free(cv);
	free(av);
	return DL_APPLIED;
}

/* ---------------------------------------------------------------- events */

struct ev {
	uint64_t chain_id, block_number, log_index, timestamp, event_seq;
	int registry;
	u256 block_hash, agent_id, score, type, tag1, tag2;
	int has_agent, has_score, tag1_ok, tag2_ok;
};

static int skip_bad;

void erc8004_skip_bad_events(int on)
{
	skip_bad = on;
}

/* An unreadable event row: error() set; returns the reason (BE_*). */
static int bad_event(struct dl *dl, int reason, const char *what)
{
	dl_set_error_kind(dl, FR_REJ_SYNTAX);
	error("event row: %s", what);
	return reason;
}

/* Read the event row (token e): 0, or the reason (BE_*) with error() set. */
static int read_event(struct dl *dl, int e, struct ev *v)
{
	struct js *js = dl_js(dl);
	struct sb tmp = SB_INIT;
	const char *s;
	size_t n;
	int isnull, r = 0;
	memset(v, 0, sizeof *v);
	if (get_u64(dl, e, "event_seq", &v->event_seq, 0) < 0 || get_u64(dl, e, "chain_id", &v->chain_id, 0) < 0 ||
		get_u64(dl, e, "block_number", &v->block_number, 0) < 0 || get_u64(dl, e, "log_index", &v->log_index, 0) < 0 ||
		get_u64(dl, e, "timestamp", &v->timestamp, 0) < 0)
		return bad_event(dl, BE_FIELDS, "event_seq, chain_id, block_number, log_index and timestamp must be non-negative integers");
	if (get_str(dl, e, "block_hash", &s, &n, &tmp) < 0 || !s || u256_parse_hex(&v->block_hash, s, n) < 0)
		r = bad_event(dl, BE_HASH, "block_hash is not a 0x-hex hash");
	else if (get_str(dl, e, "registry", &s, &n, &tmp) < 0 || !s || (v->registry = find_name(registries, 3, s, n)) < 0)
		r = bad_event(dl, BE_REGISTRY, "unknown registry");
	else if (get_str(dl, e, "event_type", &s, &n, &tmp) < 0 || !s || !n)
		r = bad_event(dl, BE_TYPE, "event_type is not a string");
	else if (get_u256_num(dl, e, "agent_id", &v->agent_id, &isnull) < 0)
		r = bad_event(dl, BE_AGENT, "agent_id is not a non-negative integer or null");
	else {
		v->has_agent = !isnull;
		/* an event type longer than any condition can name matches none */
		if (pack_str(s, n, &v->type) < 0)
			u256_zero(&v->type);
		if (get_u256_num(dl, e, "score", &v->score, &isnull) < 0)
			r = bad_event(dl, BE_SCORE, "score is not a non-negative integer or null");
		v->has_score = !isnull;
		if (!r && (get_str(dl, e, "tag1", &s, &n, &tmp) < 0))
			r = bad_event(dl, BE_TAG1, "tag1 is not a string or null");
		else if (!r)
			v->tag1_ok = s && pack_str(s, n, &v->tag1) == 0;
		if (!r && (get_str(dl, e, "tag2", &s, &n, &tmp) < 0))
			r = bad_event(dl, BE_TAG2, "tag2 is not a string or null");
		else if (!r)
			v->tag2_ok = s && pack_str(s, n, &v->tag2) == 0;
	}
	sb_free(&tmp);
	(void)js;
	return r;
}

/* Stateless conditions of trigger t: all true? */
static int stateless_match(const struct ctrig *t, const struct ev *v)
{
	for (size_t i = 0; i < t->nc; i++) {
		const struct rcond *c = &t->c[i];
		switch (c->ctype) {
		case CT_AGENT:
			if (!v->has_agent || !u256_eq(&v->agent_id, &c->num))
				return 0;
			break;
		case CT_SCORE:
			if (!v->has_score || !compare(c->op, &v->score, &c->num))
				return 0;
			break;
		case CT_TAG: {
			int ok = c->field == F_TAG1 ? v->tag1_ok : v->tag2_ok;
			if (!ok || !u256_eq(c->field == F_TAG1 ? &v->tag1 : &v->tag2, &c->str))
				return 0;
			break;
		}
		case CT_EVTYPE:
			if (!u256_eq(&v->type, &c->str))
				return 0;
			break;
		}
	}
	return 1;
}

/* The trigger's state row, created (zero) on first use. */
static struct tstate *state_of(struct dl *dl, uint64_t tid)
{
	struct tstate *s = dl_get(dl, T_STATE, &tid);
	if (!s)
		s = dl_new_row(dl, T_STATE, &tid);
	return dl_mut(dl, T_STATE, s);
}

/*
 * The stateful conditions, in the order of docs/erc8004.md: the EMA sees
 * every event that passes the stateless ones (and has a score); the rate
 * limit counts only events that pass everything else.  1 matched, 0 not,
 * -1 error.
 */
static int stateful_match(struct dl *dl, const struct ctrig *t, const struct ev *v)
{
	const struct rcond *ema = NULL, *rate = NULL;
	for (size_t i = 0; i < t->nc; i++) {
		if (t->c[i].ctype == CT_EMA)
			ema = &t->c[i];
		if (t->c[i].ctype == CT_RATE)
			rate = &t->c[i];
	}
	if (ema) {
		if (!v->has_score)
			return 0;
		struct tstate *s = state_of(dl, t->t.trigger_id);
		u256 x, y, n1, w1;
		/* ema' = floor((2 * score * S + (n - 1) * ema) / (n + 1)); the first score: score * S */
		if (u256_mul(&x, &v->score, ema_scale()) < 0)
			return error("EMA: score too large");
		if (s->ema_count == 0) {
			s->ema = x;
		} else {
			u256_set_u64(&n1, ema->param - 1);
			u256_set_u64(&w1, ema->param + 1);
			if (u256_add(&x, &x, &x) < 0 || u256_mul(&y, &s->ema, &n1) < 0 || u256_add(&x, &x, &y) < 0)
				return error("EMA of trigger %llu overflows", (unsigned long long)t->t.trigger_id);
			u256_div(&s->ema, &x, &w1);
		}
		s->ema_count++;
		s->last_updated = v->timestamp;
		if (u256_mul(&x, &ema->num, ema_scale()) < 0)
			return error("EMA threshold too large");
		if (!compare(ema->op, &s->ema, &x))
			return 0;
	}
	if (rate) {
		struct tstate *s = state_of(dl, t->t.trigger_id);
		uint64_t start = v->timestamp - v->timestamp % rate->param;
		if (s->window_count == 0 || start > s->window_start) {
			s->window_start = start;
			s->window_count = 0;
		}
		if (s->window_count >= rate->num.w[0])
			return 0;
		s->window_count++;
		s->last_updated = v->timestamp;
	}
	return 1;
}

struct match {
	const struct ctrig *t;
	const struct ract *a;
};
static int cmp_match(const void *x, const void *y)
{
	const struct match *a = x, *b = y;
	if (a->a->priority != b->a->priority)
		return a->a->priority > b->a->priority ? -1 : 1;
	if (a->t->t.trigger_id != b->t->t.trigger_id)
		return a->t->t.trigger_id < b->t->t.trigger_id ? -1 : 1;
	return a->a->action_id < b->a->action_id ? -1 : a->a->action_id > b->a->action_id;
}

static int on_block_event(struct dl *dl, struct erc *e, int ev)
{
	struct ev v;
	int bad = ev < 0 ? bad_event(dl, BE_OBJECT, "field 'event' is not an object") : read_event(dl, ev, &v);
	if (e->item != dl_block(dl)) {
		e->item = dl_block(dl);
		e->ordinal = 0;
	}
	e->ordinal++;
	if (bad && !skip_bad)
		return -1;
	if (bad) {
		/* recorded (in the frame's transaction) and skipped */
		uint64_t key[2] = {dl_block(dl), e->ordinal};
		struct skipped *k = dl_get(dl, T_SKIP, key) ? NULL : dl_new_row(dl, T_SKIP, key);
		if (k)
			k->reason = (uint64_t)bad;
		e->skipped++;
		return DL_UNTRACKED;
	}
	if (e->dirty)
		rebuild(dl, e);
	/* the per-chain checkpoint: this block */
	struct ckpt *ck = dl_get(dl, T_CKPT, &v.chain_id);
	if (!ck)
		ck = dl_new_row(dl, T_CKPT, &v.chain_id);
	ck = dl_mut(dl, T_CKPT, ck);
	ck->block_number = v.block_number;
	ck->block_hash = v.block_hash;
	ck->updated_at = v.timestamp;
	/* the triggers of (chain, registry): a range of the sorted index */
	size_t lo = 0, hi = e->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct rtrig *t = &e->v[mid].t;
		if (t->chain_id < v.chain_id || (t->chain_id == v.chain_id && t->registry < (uint64_t)v.registry))
			lo = mid + 1;
		else
			hi = mid;
	}
	struct match *m = NULL;
	size_t nm = 0, cap = 0;
	for (size_t i = lo; i < e->n && e->v[i].t.chain_id == v.chain_id && e->v[i].t.registry == (uint64_t)v.registry;
		i++) {
		const struct ctrig *t = &e->v[i];
		if (!stateless_match(t, &v))
			continue;
		int r = stateful_match(dl, t, &v);
		if (r < 0) {
			free(m);
			return -1;
		}
		if (!r)
			continue;
		e->matches++;
		for (size_t k = 0; k < t->na; k++) {
			if (nm == cap) {
				cap = cap ? 2 * cap : 8;
				m = xrealloc(m, cap * sizeof *m);
			}
			m[nm].t = t;
			m[nm++].a = &t->a[k];
		}
	}
	if (nm > 1)
		qsort(m, nm, sizeof *m, cmp_match);
	for (size_t k = 0; k < nm; k++) {
		uint64_t key[2] = {v.event_seq, m[k].a->action_id};
		if (dl_get(dl, T_JOBS, key)) {
			int rc = error("event %llu has a job for action %llu already", (unsigned long long)v.event_seq,
				(unsigned long long)m[k].a->action_id);
			free(m);
			return rc;
		}
		struct job *j = dl_new_row(dl, T_JOBS, key);
		j->trigger_id = m[k].t->t.trigger_id;
		j->rule_version = m[k].t->t.version;
		j->priority = m[k].a->priority;
		j->action_type = m[k].a->action_type;
		j->chain_id = v.chain_id;
		j->block_number = v.block_number;
		j->item_seq = dl_block(dl);
		j->rank = k;
		e->jobs++;
	}
	free(m);
	return DL_APPLIED;
}

static int on_event(struct dl *dl)
{
	struct erc *e = dl_dom(dl);
	struct js *js = dl_js(dl);
	int kind = js_get(js, 0, "kind");
	if (kind >= 0 && js_str_eq(js, kind, "rules"))
		return on_rules(dl, e);
	if (kind < 0 || !js_str_eq(js, kind, "event")) {
		dl_set_error_kind(dl, FR_REJ_SYNTAX);
		return error("field 'kind' is not \"event\" or \"rules\"");
	}
	int ev = js_get(js, 0, "event");
	return on_block_event(dl, e, ev >= 0 && js->t[ev].type == JS_OBJ ? ev : -1);
}

/* ---------------------------------------------------------------- hooks */

static void *init(struct dl *dl)
{
	(void)dl;
	struct erc *e = xcalloc(1, sizeof *e);
	e->dirty = 1;
	return e;
}

static void fini(struct dl *dl, void *dom)
{
	(void)dl;
	drop_index(dom);
	free(dom);
}

static void on_change(struct dl *dl, int tab, void *row)
{
	(void)row;
	if (tab == T_TRIGS || tab == T_CONDS || tab == T_ACTS)
		((struct erc *)dl_dom(dl))->dirty = 1;
}

/* A job whose insertion is final leaves memory (sql/041: jobs_live). */
static void on_final(struct dl *dl, int tab, const void *key)
{
	if (tab != T_JOBS || dl_journal_mentions(dl, T_JOBS, key))
		return;
	void *r = dl_get(dl, T_JOBS, key);
	if (r)
		dl_forget_row(dl, T_JOBS, r);
}

static void stats(struct dl *dl, struct sb *out)
{
	struct erc *e = dl_dom(dl);
	sb_addf(out, ", matches %llu, jobs %llu, skipped bad events %llu", (unsigned long long)e->matches,
		(unsigned long long)e->jobs, (unsigned long long)e->skipped);
}

const struct dl_domain erc8004_domain = {
	.name = "erc8004",
	.tabs = tabs,
	.ntabs = T_COUNT,
	.init = init,
	.fini = fini,
	.on_insert = on_change,
	.on_delete = on_change,
	.event = on_event,
	.on_final = on_final,
	.stats = stats,
	.revert_independent = 1,
};
