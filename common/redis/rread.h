/*
 * rread.h -- redis-read's loop: one consumer of a consumer group on a
 * rindexer stream (or several, merged in id order), writing one event frame per message (docs/formats.md,
 * "Redis sources").  And the offline replay of recorded messages.
 */
#ifndef PL_RREAD_H
#define PL_RREAD_H

#include <signal.h>
#include <stdint.h>

/* the longest consumer name redis-read takes (the lease's value holds it) */
#define RREAD_CONSUMER_MAX 200

struct rread_opts {
	const char *url, *socket, *group, *consumer, *dead_letter, *reject_file;
	const char **streams; /* one or more; their order gives the frames' driver_ids (rdx_driver) */
	int nstreams;
	uint64_t count, block_ms, claim_idle_ms, lease_ms;
	int once;
	volatile sig_atomic_t *stop;
};

/* Exit code: 0 (stopped, or --once drained), 65 (a bad message), 75 (output). */
int rread_run(const struct rread_opts *o);
/* Print "SEQ DRIVER" of the newest message of the streams ("-": none): the supervisor's stall watchdog. */
int rread_newest(const struct rread_opts *o);
/* Every message of the streams (XRANGE, no group), merged, as frames; less those moved past with --skip: pl-verify. */
int rread_history(const struct rread_opts *o);
/* Records {"stream":..,"id":..,"payload":{..}|"..."} on fd -> frames on stdout (streams: as in the pipeline, or none). */
int rread_replay(int fd, const char **streams, int nstreams);

#endif
