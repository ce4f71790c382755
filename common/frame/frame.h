/*
 * frame.h -- the line vocabulary shared by every stage (docs/formats.md):
 * the "op" of a line, the work-item types, and writers for the framing
 * lines (begin, end, ack, reject).  Body lines (event, put, del, undo) are
 * written by their producers, which know their columns.
 */
#ifndef PL_FRAME_H
#define PL_FRAME_H

#include <stdint.h>

#include "core/io.h"
#include "core/json.h"

/*
 * The longest line of every format between the stages, without its '\n'
 * (docs/formats.md: 16 MiB).  The default limit of every reader (ep-apply
 * --max-line, block-fetch, pg-write, pg-produce), and so the limit a
 * stage must keep the lines it writes (or makes a later stage write)
 * within: pg-produce refuses an event whose line, as block-fetch will
 * write it, would be longer.
 */
#define FR_MAX_LINE ((size_t)16 << 20)

enum fr_op {
	FR_BEGIN,
	FR_EVENT,
	FR_PUT,
	FR_DEL,
	FR_UNDO,
	FR_END,
	FR_ACK,
	FR_BLOCK,      /* snapshot: a journal block */
	FR_CHECKPOINT, /* snapshot: the checkpoint */
	FR_REJECT,     /* a stage's record of input it refused */
	FR_NOP_COUNT
};

/*
 * The op of the parsed line in js (token 0 must be an object): an enum
 * fr_op, or -1 with error() set when "op" is missing, not a string or not
 * one of the ops.
 */
int fr_op(const struct js *js);
const char *fr_op_name(int op);

/*
 * Work-item types.  Producers write StartBlock, RevertBlock and
 * CatchupVault (NewBlock is an alias of StartBlock): the names of the
 * original work table, kept as the format's names.
 */
enum fr_kind {
	FR_KIND_BLOCK,	/* StartBlock: the events of one block */
	FR_KIND_REVERT, /* RevertBlock: undo one block */
	FR_KIND_RANGE,	/* CatchupVault: events of many blocks */
};
/* The kind named by string token tok, or -1. */
int fr_kind_of(const struct js *js, int tok);
const char *fr_kind_name(int kind);
/* The accepted names, for messages ("StartBlock, NewBlock, ..."). */
extern const char fr_kind_names[];

/* {"op":"begin","driver_id":D,"seq":S,"type":"T","block_number":N,"block_hash":"H" -- open: the
 * caller may add fields, then calls fr_close_obj. */
void fr_add_begin(struct sb *out, int64_t driver, int64_t seq, int kind, int64_t block, const char *hash);
/* The same with the type's name as the input gave it (NewBlock stays NewBlock). */
void fr_add_begin_named(struct sb *out, int64_t driver, int64_t seq, const char *type, int64_t block,
	const char *hash);
/* "}\n" */
void fr_close_obj(struct sb *out);
/* {"op":"end","driver_id":D}\n */
void fr_add_end(struct sb *out, int64_t driver);
/* {"op":"ack","driver_id":D,"seq":S}\n */
void fr_add_ack(struct sb *out, int64_t driver, int64_t seq);

/*
 * Reject kinds: why a stage refused its input.  A reject line
 * {"op":"reject","program":P,"kind":K,"driver_id":D|null,"seq":S|null,
 *  "line":N|null,"reason":R} is what a supervisor records (quarantine)
 * without reading the human message.
 */
enum fr_reject_kind {
	FR_REJ_SYNTAX,	  /* not a well-formed line of the format */
	FR_REJ_FRAMING,	  /* lines out of frame order */
	FR_REJ_INVARIANT, /* a domain rule or invariant is broken */
	FR_REJ_REVERT,	  /* a revert the journal cannot serve */
	FR_REJ_MISSING,	  /* the item names data that does not exist */
	FR_REJ_SCHEMA,	  /* the item names tables or columns the database lacks */
	FR_REJ_STALE,	  /* not a refusal: the stage's state is older than its input (restart) */
};
const char *fr_reject_kind_name(int kind);
/* driver, seq, line < 0: unknown (null). */
void fr_add_reject(struct sb *out, const char *program, int kind, int64_t driver, int64_t seq, int64_t line,
	const char *reason);

#endif
