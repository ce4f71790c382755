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
 * Append the event frame of one message (its payload field's JSON) to out.
 * 0, or -1 with err_msg() set (the message is bad input).
 */
int rdx_frame(const char *stream, const char *id, const char *payload, size_t n, struct sb *out);

#endif
