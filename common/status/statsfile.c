/*
 * statsfile.c -- see statsfile.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "status/statsfile.h"

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

struct st_key *st_key_of(struct st_file *f, const char *key)
{
	for (int i = 0; i < f->nkeys; i++)
		if (!strcmp(f->keys[i].key, key))
			return &f->keys[i];
	if (f->nkeys == ST_MAX_KEYS)
		return NULL;
	struct st_key *k = &f->keys[f->nkeys++];
	memset(k, 0, sizeof *k);
	copy(k->key, sizeof k->key, key);
	return k;
}

int st_parse_stats(struct st_file *f, const char *text, size_t len)
{
	size_t i = 0;
	unsigned lineno = 0;
	f->pid = -1;
	while (i < len) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		lineno++;
		char line[256];
		size_t l = e - i;
		if (l >= sizeof line)
			return error("line %u is longer than %zu bytes", lineno, sizeof line - 1);
		memcpy(line, text + i, l);
		line[l] = '\0';
		i = e + 1;
		if (!l || line[0] == '#')
			continue;
		char key[64], label[32], *end;
		const char *val;
		int n = 0;
		if (sscanf(line, "%63s %n", key, &n) != 1 || !n)
			return error("line %u: want 'name value'", lineno);
		val = line + n;
		char full[128];
		if (!strcmp(key, "commit_bucket_us")) {
			int m = 0;
			if (sscanf(val, "%31s %n", label, &m) != 1 || !m)
				return error("line %u: want 'commit_bucket_us LE COUNT'", lineno);
			snprintf(full, sizeof full, "%s:%s", key, label);
			val += m;
		} else {
			snprintf(full, sizeof full, "%s", key);
		}
		if (!strcmp(key, "prog"))
			continue;
		errno = 0;
		long long v = strtoll(val, &end, 10);
		if (errno || end == val || *end)
			return error("line %u: '%s' is not an integer", lineno, val);
		if (!strcmp(key, "pid")) {
			f->pid = (long)v;
			continue;
		}
		if (!strcmp(key, "updated_ms")) {
			f->updated_ms = v;
			continue;
		}
		struct st_key *k = st_key_of(f, full);
		if (k)
			k->val = v;
	}
	return 0;
}

int64_t st_file_value(const struct st_file *f, const char *key, int *found)
{
	if (found)
		*found = 0;
	if (!f)
		return 0;
	for (int i = 0; i < f->nkeys; i++)
		if (!strcmp(f->keys[i].key, key)) {
			if (found)
				*found = 1;
			return f->keys[i].base + f->keys[i].val;
		}
	return 0;
}
