/*
 * rdx.h -- rindexer stream messages as event frames (pure: no I/O), and the
 * mapping between Redis message ids and the frames' work-item identity
 * (docs/formats.md, "Redis sources").
 */
#ifndef PL_RDX_H
#define PL_RDX_H

#include <stddef.h>
#include <stdint.h>

#include "core/io.h"

/* Message id "MS-N" <-> the frame's seq (and driver_id): MS * 2^16 + N. */
#define RDX_SEQ_BITS 16
int rdx_id_to_seq(const char *id, size_t n, int64_t *seq);
void rdx_seq_to_id(int64_t seq, char out[32]);

/*
 * Several streams in one pipeline (docs/formats.md, "Redis sources"): the
 * frames' order is (seq, driver_id) as pg-write's checkpoint orders them;
 * with one stream driver_id = seq (as before), with several driver_id =
 * idx * 2^RDX_STREAM_SHIFT (idx: the stream's place among the arguments), so
 * that equal ids of two streams are ordered by the stream, and a reorg's
 * revert frames (driver_id, driver_id+1, ...) stay below the next stream's.
 */
#define RDX_STREAM_SHIFT 40
#define RDX_MAX_STREAMS 64
int64_t rdx_driver(int64_t seq, int idx, int nstreams);
/* The stream (index) of a frame's driver_id. */
int rdx_stream_of(int64_t driver, int nstreams);

/*
 * Append the event frame of one message (its payload field's JSON) to out;
 * driver is its driver_id (rdx_driver), or -1 for its seq; head, when not
 * -1, goes on the begin line of an event frame as "head" (docs/formats.md:
 * the frame is final when all its blocks are at least the finality below).
 * 0, or -1 with err_msg() set (the message is bad input).
 */
int rdx_frame(const char *stream, const char *id, int64_t driver, int64_t head, const char *payload, size_t n,
	struct sb *out);
/* A message's highest block number (-1: none): 1 for a reorg message, 0 another, -1 bad input. */
int rdx_scan(const char *payload, size_t n, int64_t *max_block);

#endif
