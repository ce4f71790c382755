/*
 * rack.h -- redis-ack: XACK what pg-write committed; the explicit skip.
 */
#ifndef PL_RACK_H
#define PL_RACK_H

#include <signal.h>

struct rack_opts {
	const char *url, *socket, *group;
	const char **streams; /* the pipeline's streams, in redis-read's order */
	int nstreams;
	const char *dead_letter; /* NULL: STREAM:dead for each stream */
	const char *reject_file; /* at the end of input: dead-letter copies of the messages refused */
	volatile sig_atomic_t *stop;
};

/* Ack lines on fd 0 until EOF: 0, or an exit code. */
int rack_run(const struct rack_opts *o);
/* Move past message id of streams[0]: copy it to the dead-letter stream, XACK it. */
int rack_skip(const struct rack_opts *o, const char *id);

#endif
