/*
 * ep.h -- the Pitchlake state machine behind ep-apply.
 *
 * Reads event frames (docs/formats.md, design.md §3.2) one line at a time and
 * produces delta frames (§3.3): pure and deterministic, no clock, no I/O of
 * its own.  State lives in memory, grows with live entities only, and can be
 * loaded from and dumped to a snapshot (§3.4).
 */
#ifndef PL_EP_H
#define PL_EP_H

#include <stdint.h>

#include "io.h"

struct ep;

struct ep_stats {
	uint64_t frames, skipped_frames, events, ignored_events, reverted_blocks, archived_rounds;
};

/* A new, empty state.  finality: blocks kept in the undo journal. */
struct ep *ep_new(uint64_t finality);
void ep_free(struct ep *ep);

/*
 * Feed one input line (without its '\n').  When the line completes a frame,
 * the whole delta frame is appended to out (nothing is appended for a frame
 * that is skipped as already applied).  Returns 0, or -1 with err_msg() set:
 * bad input or a broken contract invariant; the state is then unusable.
 */
int ep_feed(struct ep *ep, const char *line, size_t len, struct sb *out);
/* End of input: discards (and rolls back) a partial frame.  1 if there was one. */
int ep_finish(struct ep *ep);

/* Load one snapshot line (into an empty state, in file order); 0 or -1. */
int ep_load_line(struct ep *ep, const char *line, size_t len);
/* Check the loaded snapshot is complete and consistent; 0 or -1. */
int ep_load_done(struct ep *ep);
/* Write the whole snapshot to out (canonical order). */
void ep_dump(struct ep *ep, struct sb *out);

const struct ep_stats *ep_stats(const struct ep *ep);
/* One line describing the state's size: rows per table and the undo journal. */
void ep_describe(const struct ep *ep, struct sb *out);
/* The driver_id of the frame being read, or -1 between frames (for messages). */
long long ep_current_driver(const struct ep *ep);

#endif
