/*
 * jobs.h -- the consumers of erc8004.job_queue (sql/041, docs/erc8004.md):
 *
 *   job-relay  committed jobs -> the Redis list of agentauri's workers
 *              (LPUSH action_jobs, the seed's body), at least once and
 *              idempotent by job id (a SET NX key per job, in the same Lua
 *              call as the LPUSH); jobs of reverted blocks are taken back
 *              out of the list (LREM) if still there.
 *   action-run executes "rest" actions itself: claims one job at a time
 *              with FOR UPDATE SKIP LOCKED (several workers share the
 *              queue), POSTs the body with libcurl, records every attempt
 *              in action_results, retries with exponential backoff and
 *              leaves a job "dead" (the dead-letter state) after the last
 *              attempt.  A claim is a lease: a worker killed mid-call is
 *              replaced once its lease expires (at-least-once execution;
 *              the Idempotency-Key header is the job id).
 *
 * Both LISTEN on erc8004_jobs (NOTIFY only wakes) and poll.
 */
#ifndef PL_DOM_ERC8004_JOBS_H
#define PL_DOM_ERC8004_JOBS_H

#include <signal.h>

struct jr_opts {
	const char *conninfo;
	const char *redis_host, *redis_socket;
	int redis_port;
	const char *list;  /* default action_jobs */
	const char *types; /* "{rest,mcp}" or NULL: every action type */
	long seen_ttl;	   /* seconds the per-job idempotency key lives */
	long poll_ms;
	int once;
};
/* Run job-relay until *stop (or, with once, until nothing is left).  Dies on errors. */
int jr_run(const struct jr_opts *o, volatile sig_atomic_t *stop);

struct ar_opts {
	const char *conninfo;
	long max_attempts;
	long backoff_ms, backoff_max_ms;
	long timeout_ms;
	long lease_s;
	long poll_ms;
	int once;
};
/* Run action-run until *stop (or, with once, until no runnable job is left). */
int ar_run(const struct ar_opts *o, volatile sig_atomic_t *stop);

#endif
