/*
 * rread.h -- redis-read's loop: one consumer of a consumer group on a
 * rindexer stream, writing one event frame per message (docs/formats.md,
 * "Redis sources").  And the offline replay of recorded messages.
 */
#ifndef PL_RREAD_H
#define PL_RREAD_H

#include <signal.h>
#include <stdint.h>

struct rread_opts {
	const char *url, *socket, *group, *consumer, *stream, *dead_letter, *reject_file;
	uint64_t count, block_ms, claim_idle_ms, lease_ms;
	int once;
	volatile sig_atomic_t *stop;
};

/* Exit code: 0 (stopped, or --once drained), 65 (a bad message), 75 (output). */
int rread_run(const struct rread_opts *o);
/* Records {"stream":..,"id":..,"payload":{..}|"..."} on fd -> frames on stdout. */
int rread_replay(int fd);

#endif
