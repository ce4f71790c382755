/*
 * ix-apply -- the Intuition state machine: event frames (redis-read's
 * framing of rindexer messages) in, delta frames out (docs/intuition.md).
 */
#include "delta/delta.h"
#include "dom/intuition/intuition.h"

static const char about[] =
	"The Intuition MultiVault state machine: reads event frames (redis-read's framing of rindexer's\n"
	"stream messages) on stdin and writes delta frames for pg-write on stdout: the event tables, atom,\n"
	"triple, position, vault, term and the analytics tables triple_vault, triple_term,\n"
	"predicate_object and subject_predicate, all changed in the frame of the event.\n";

int main(int argc, char **argv)
{
	return dl_main(argc, argv, &ix_domain, about);
}
