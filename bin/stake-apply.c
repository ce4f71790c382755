/*
 * stake-apply -- the StakeVault apply filter: rpc-listen's event frames in,
 * delta frames out (the generic engine, common/delta; the rules,
 * common/dom/stakevault).
 */
#include "delta/delta.h"
#include "dom/stakevault/stakevault.h"

int main(int argc, char **argv)
{
	return dl_main(argc, argv, &stakevault_domain, stakevault_about);
}
