/*
 * stakevault.h -- the StakeVault domain (0xElite's developer stakes): the
 * logs of the vault (Staked, Unstaked, RequiredStakeUpdated) as rpc-listen
 * frames them, into per-developer stakes, the vault's required stake and
 * the pipeline's block cursor.  Tables: sql/050-stakevault.sql; the rules:
 * docs/stakevault.md.
 */
#ifndef PL_STAKEVAULT_H
#define PL_STAKEVAULT_H

#include "delta/delta.h"

extern const struct dl_domain stakevault_domain;
extern const char stakevault_about[];

#endif
