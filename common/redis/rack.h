/*
 * rack.h -- redis-ack: XACK what pg-write committed; the explicit skip.
 */
#ifndef PL_RACK_H
#define PL_RACK_H

#include <signal.h>

struct rack_opts {
	const char *url, *socket, *group, *stream, *dead_letter;
	volatile sig_atomic_t *stop;
};

/* Ack lines on fd 0 until EOF: 0, or an exit code. */
int rack_run(const struct rack_opts *o);
/* Move past message id: copy it to the dead-letter stream, XACK it. */
int rack_skip(const struct rack_opts *o, const char *id);

#endif
