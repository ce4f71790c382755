/*
 * statsfile.h -- a stage's stats file (RUN/NAME.stats, docs/status.md):
 * "name value" lines, '#' comments, histogram buckets as
 * "commit_bucket_us LE COUNT"; values are decimal integers.  pl-status reads
 * them; pg-write and the apply filters (--stats-file) write them.
 */
#ifndef PL_STATSFILE_H
#define PL_STATSFILE_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_KEYS 48

/* A stats file's counters; *_total keys and histogram lines accumulate over the writer's restarts. */
struct st_key {
	char key[64];
	int64_t val, base;
};
struct st_file {
	char stage[64];
	long pid;
	int64_t updated_ms;
	int nkeys;
	struct st_key keys[ST_MAX_KEYS];
};

/* Parse one stats file's text into f (keys and values; f zeroed by the caller); 0, or -1 with err_msg(). */
int st_parse_stats(struct st_file *f, const char *text, size_t len);
/* The counter called key (base + value); 0 when absent.  found (may be NULL): 1 if present. */
int64_t st_file_value(const struct st_file *f, const char *key, int *found);
/* The entry called key, added when new; NULL when the file has ST_MAX_KEYS already. */
struct st_key *st_key_of(struct st_file *f, const char *key);

#endif
