/*
 * intuition.h -- the Intuition MultiVault domain (docs/intuition.md): the
 * event tables, the base tables atom, triple, position, vault and term,
 * and the analytics tables triple_vault, triple_term, predicate_object and
 * subject_predicate, all maintained incrementally in the frame of the
 * event that changes them.
 */
#ifndef PL_IX_INTUITION_H
#define PL_IX_INTUITION_H

#include "delta/delta.h"

extern const struct dl_domain ix_domain;

/* The name of the reorg message rindexer writes (redis-read turns it into a RevertBlock frame). */
#define IX_REORG_EVENT "__rindexer_reorg"

#endif
