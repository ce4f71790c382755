/*
 * tables.c -- the Intuition tables as delta descriptors.  Names and columns
 * are the original's (postgres-writer/migrations), minus its wall-clock
 * created_at/updated_at columns; sql/030-intuition.sql creates them.
 */
#include <stddef.h>

#include "dom/intuition/ix_int.h"

static const char *const vt_names[] = {"Atom", "Triple", "CounterTriple"};
static const char *const term_types[] = {"Atom", "Triple", "CounterTriple"};

#define EV_KEY(s)                                                                              \
	{                                                                                      \
		DL_COL("transaction_hash", DL_B32, s, tx), DL_COL("log_index", DL_U64, s, log) \
	}
#define EV_COLS(s)                                                                                           \
	DL_COL("transaction_hash", DL_B32, s, tx), DL_COL("log_index", DL_U64, s, log),                      \
		DL_COL("address", DL_ADDR, s, b.address), DL_COL("block_hash", DL_B32, s, b.block_hash),     \
		DL_COL("block_number", DL_U64, s, b.block_number), DL_COL("network", DL_TEXT, s, b.network), \
		DL_COL("transaction_index", DL_U64, s, b.tx_index), DL_COL("block_timestamp", DL_U64, s, b.block_ts)

static const struct dl_col ace_key[] = EV_KEY(ev_atom);
static const struct dl_col ace_cols[] = {EV_COLS(ev_atom), DL_COL("atom_data", DL_TEXT, ev_atom, atom_data),
	DL_COL("raw_data", DL_TEXT, ev_atom, raw_data), DL_COL("atom_wallet", DL_ADDR, ev_atom, atom_wallet),
	DL_COL("creator", DL_ADDR, ev_atom, creator), DL_COL("term_id", DL_B32, ev_atom, term_id)};

static const struct dl_col tce_key[] = EV_KEY(ev_triple);
static const struct dl_col tce_cols[] = {EV_COLS(ev_triple), DL_COL("creator", DL_ADDR, ev_triple, creator),
	DL_COL("object_id", DL_B32, ev_triple, object_id), DL_COL("predicate_id", DL_B32, ev_triple, predicate_id),
	DL_COL("subject_id", DL_B32, ev_triple, subject_id), DL_COL("term_id", DL_B32, ev_triple, term_id),
	DL_COL("counter_term_id", DL_B32, ev_triple, counter_term_id)};

static const struct dl_col dep_key[] = EV_KEY(ev_dep);
static const struct dl_col dep_cols[] = {EV_COLS(ev_dep), DL_COL("assets", DL_DEC, ev_dep, assets),
	DL_COL("assets_after_fees", DL_DEC, ev_dep, assets_after_fees), DL_COL("curve_id", DL_U64, ev_dep, curve_id),
	DL_COL("receiver", DL_ADDR, ev_dep, receiver), DL_COL("sender", DL_ADDR, ev_dep, sender),
	DL_COL("shares", DL_DEC, ev_dep, shares), DL_COL("term_id", DL_B32, ev_dep, term_id),
	DL_COL("total_shares", DL_DEC, ev_dep, total_shares), DL_ENUM_COL("vault_type", ev_dep, vault_type, vt_names)};

static const struct dl_col red_key[] = EV_KEY(ev_red);
static const struct dl_col red_cols[] = {EV_COLS(ev_red), DL_COL("assets", DL_DEC, ev_red, assets),
	DL_COL("curve_id", DL_U64, ev_red, curve_id), DL_COL("fees", DL_DEC, ev_red, fees),
	DL_COL("receiver", DL_ADDR, ev_red, receiver), DL_COL("sender", DL_ADDR, ev_red, sender),
	DL_COL("shares", DL_DEC, ev_red, shares), DL_COL("term_id", DL_B32, ev_red, term_id),
	DL_COL("total_shares", DL_DEC, ev_red, total_shares), DL_ENUM_COL("vault_type", ev_red, vault_type, vt_names)};

static const struct dl_col spc_key[] = EV_KEY(ev_price);
static const struct dl_col spc_cols[] = {EV_COLS(ev_price), DL_COL("term_id", DL_B32, ev_price, term_id),
	DL_COL("curve_id", DL_U64, ev_price, curve_id), DL_COL("share_price", DL_DEC, ev_price, share_price),
	DL_COL("total_assets", DL_DEC, ev_price, total_assets), DL_COL("total_shares", DL_DEC, ev_price, total_shares),
	DL_ENUM_COL("vault_type", ev_price, vault_type, vt_names)};

static const struct dl_col gen_key[] = EV_KEY(ev_generic);
static const struct dl_col gen_cols[] = {EV_COLS(ev_generic), DL_COL("event_name", DL_TEXT, ev_generic, event_name),
	DL_COL("event_data", DL_TEXT, ev_generic, event_data)};

static const struct dl_col atom_key[] = {DL_COL("term_id", DL_B32, atom, term_id)};
static const struct dl_col atom_cols[] = {DL_COL("term_id", DL_B32, atom, term_id),
	DL_COL("wallet_id", DL_ADDR, atom, wallet_id), DL_COL("creator_id", DL_ADDR, atom, creator_id),
	DL_COL("data", DL_TEXT, atom, data), DL_COL("raw_data", DL_TEXT, atom, raw_data),
	DL_COL("type", DL_TEXT, atom, type), DL_COL("emoji", DL_TEXT, atom, emoji), DL_COL("label", DL_TEXT, atom, label),
	DL_COL("image", DL_TEXT, atom, image), DL_COL("value_id", DL_B32, atom, value_id),
	DL_COL("resolving_status", DL_TEXT, atom, resolving_status), DL_COL("block_number", DL_U64, atom, block_number),
	DL_COL("transaction_hash", DL_B32, atom, tx), DL_COL("last_event_block", DL_U64, atom, last_block),
	DL_COL("last_event_log_index", DL_U64, atom, last_log)};

static const struct dl_col triple_key[] = {DL_COL("term_id", DL_B32, triple, term_id)};
static const struct dl_col triple_cols[] = {DL_COL("term_id", DL_B32, triple, term_id),
	DL_COL("creator_id", DL_ADDR, triple, creator_id), DL_COL("subject_id", DL_B32, triple, subject_id),
	DL_COL("predicate_id", DL_B32, triple, predicate_id), DL_COL("object_id", DL_B32, triple, object_id),
	DL_COL("counter_term_id", DL_B32, triple, counter_term_id), DL_COL("block_number", DL_U64, triple, block_number),
	DL_COL("transaction_hash", DL_B32, triple, tx), DL_COL("last_event_block", DL_U64, triple, last_block),
	DL_COL("last_event_log_index", DL_U64, triple, last_log)};

static const struct dl_col pos_key[] = {DL_COL("account_id", DL_ADDR, position, account_id),
	DL_COL("term_id", DL_B32, position, term_id), DL_COL("curve_id", DL_U64, position, curve_id)};
static const struct dl_col pos_cols[] = {DL_COL("account_id", DL_ADDR, position, account_id),
	DL_COL("term_id", DL_B32, position, term_id), DL_COL("curve_id", DL_U64, position, curve_id),
	DL_COL("shares", DL_DEC, position, shares),
	DL_COL("total_deposit_assets_after_total_fees", DL_DEC, position, total_deposit),
	DL_COL("total_redeem_assets_for_receiver", DL_DEC, position, total_redeem),
	DL_COL("last_shares_event_block", DL_U64, position, last_shares_block),
	DL_COL("last_shares_event_log_index", DL_U64, position, last_shares_log),
	DL_COL("last_deposit_block", DL_U64, position, last_deposit_block),
	DL_COL("last_deposit_log_index", DL_U64, position, last_deposit_log),
	DL_COL("last_redeem_block", DL_U64, position, last_redeem_block),
	DL_COL("last_redeem_log_index", DL_U64, position, last_redeem_log)};

static const struct dl_col vault_key[] = {DL_COL("term_id", DL_B32, vault, term_id), DL_COL("curve_id", DL_U64, vault, curve_id)};
static const struct dl_col vault_cols[] = {DL_COL("term_id", DL_B32, vault, term_id), DL_COL("curve_id", DL_U64, vault, curve_id),
	DL_COL("total_shares", DL_DEC, vault, total_shares), DL_COL("current_share_price", DL_DEC, vault, share_price),
	DL_COL("total_assets", DL_DEC, vault, total_assets), DL_COL("market_cap", DL_DEC, vault, market_cap),
	DL_COL("position_count", DL_U64, vault, position_count), DL_ENUM_COL("vault_type", vault, vault_type, vt_names),
	DL_COL("last_price_event_block", DL_U64, vault, last_price_block),
	DL_COL("last_price_event_log_index", DL_U64, vault, last_price_log)};

static const struct dl_col term_key[] = {DL_COL("id", DL_B32, term, id)};
static const struct dl_col term_cols[] = {DL_COL("id", DL_B32, term, id), DL_ENUM_COL("type", term, type, term_types),
	DL_COL("atom_id", DL_B32, term, atom_id), DL_COL("triple_id", DL_B32, term, triple_id),
	DL_COL("total_assets", DL_DEC, term, total_assets), DL_COL("total_market_cap", DL_DEC, term, total_market_cap)};

static const struct dl_col tv_key[] = {DL_COL("term_id", DL_B32, triple_vault, term_id),
	DL_COL("counter_term_id", DL_B32, triple_vault, counter_term_id), DL_COL("curve_id", DL_U64, triple_vault, curve_id)};
static const struct dl_col tv_cols[] = {DL_COL("term_id", DL_B32, triple_vault, term_id),
	DL_COL("counter_term_id", DL_B32, triple_vault, counter_term_id), DL_COL("curve_id", DL_U64, triple_vault, curve_id),
	DL_COL("total_shares", DL_DEC, triple_vault, total_shares), DL_COL("total_assets", DL_DEC, triple_vault, total_assets),
	DL_COL("position_count", DL_U64, triple_vault, position_count), DL_COL("market_cap", DL_DEC, triple_vault, market_cap)};

static const struct dl_col tt_key[] = {DL_COL("term_id", DL_B32, triple_term, term_id),
	DL_COL("counter_term_id", DL_B32, triple_term, counter_term_id)};
static const struct dl_col tt_cols[] = {DL_COL("term_id", DL_B32, triple_term, term_id),
	DL_COL("counter_term_id", DL_B32, triple_term, counter_term_id), DL_COL("total_assets", DL_DEC, triple_term, total_assets),
	DL_COL("total_market_cap", DL_DEC, triple_term, total_market_cap),
	DL_COL("total_position_count", DL_U64, triple_term, total_position_count)};

static const struct dl_col po_key[] = {DL_COL("predicate_id", DL_B32, pair, a), DL_COL("object_id", DL_B32, pair, b)};
static const struct dl_col po_cols[] = {DL_COL("predicate_id", DL_B32, pair, a), DL_COL("object_id", DL_B32, pair, b),
	DL_COL("triple_count", DL_U64, pair, triple_count), DL_COL("total_position_count", DL_U64, pair, total_position_count),
	DL_COL("total_market_cap", DL_DEC, pair, total_market_cap)};
static const struct dl_col sp_key[] = {DL_COL("subject_id", DL_B32, pair, a), DL_COL("predicate_id", DL_B32, pair, b)};
static const struct dl_col sp_cols[] = {DL_COL("subject_id", DL_B32, pair, a), DL_COL("predicate_id", DL_B32, pair, b),
	DL_COL("triple_count", DL_U64, pair, triple_count), DL_COL("total_position_count", DL_U64, pair, total_position_count),
	DL_COL("total_market_cap", DL_DEC, pair, total_market_cap)};

#define TAB(n, s, kl, k, c)                                                                                        \
	{                                                                                                          \
		n, sizeof(struct s), kl, k, sizeof(k) / sizeof(k)[0], c, sizeof(c) / sizeof(c)[0], -1, 0, -1, NULL \
	}

const struct dl_table ix_tabs[IX_NTABS] = {
	[T_ATOM] = TAB("atom", atom, 32, atom_key, atom_cols),
	[T_ACE] = TAB("atom_created_events", ev_atom, 40, ace_key, ace_cols),
	[T_DEP] = TAB("deposited_events", ev_dep, 40, dep_key, dep_cols),
	[T_GEN] = TAB("generic_events", ev_generic, 40, gen_key, gen_cols),
	[T_POS] = TAB("position", position, 72, pos_key, pos_cols),
	[T_PO] = TAB("predicate_object", pair, 64, po_key, po_cols),
	[T_RED] = TAB("redeemed_events", ev_red, 40, red_key, red_cols),
	[T_SPC] = TAB("share_price_changed_events", ev_price, 40, spc_key, spc_cols),
	[T_SP] = TAB("subject_predicate", pair, 64, sp_key, sp_cols),
	[T_TERM] = TAB("term", term, 32, term_key, term_cols),
	[T_TRIPLE] = TAB("triple", triple, 32, triple_key, triple_cols),
	[T_TCE] = TAB("triple_created_events", ev_triple, 40, tce_key, tce_cols),
	[T_TT] = TAB("triple_term", triple_term, 64, tt_key, tt_cols),
	[T_TV] = TAB("triple_vault", triple_vault, 72, tv_key, tv_cols),
	[T_VAULT] = TAB("vault", vault, 40, vault_key, vault_cols),
};
