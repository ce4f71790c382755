/*
 * fuzz-rpc.c -- libFuzzer target for rpc-listen's JSON-RPC response parser
 * (common/rpc/rpc_parse.c): the input is one response body, as a node
 * would send it.  It is parsed, the response with id 1 looked up (an object
 * or a member of a batch), and its result read as every shape we use: a
 * quantity, a block header, an array of logs (each log's data written out).
 * Whatever the bytes, nothing may crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <string.h>

#include "core/io.h"
#include "core/json.h"
#include "rpc/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct js js;
	struct sb tmp = SB_INIT, out = SB_INIT;
	js_init(&js);
	if (js_parse(&js, (const char *)data, size) == 0) {
		int o = rpcp_find(&js, 1), res;
		int64_t code;
		if (o >= 0 && rpcp_outcome(&js, o, &res, &code) == RPC_RESULT) {
			uint64_t q;
			u256 v;
			struct rpc_header h;
			rpcp_quantity(&js, res, &tmp, &q);
			rpcp_u256(&js, res, &tmp, &v);
			rpcp_header(&js, res, &tmp, &h);
			if (js.t[res].type == JS_ARR) {
				int t = js_first(&js, res);
				for (uint32_t i = 0; i < js.t[res].n; i++, t = js_sibling(&js, t)) {
					struct rpc_log l;
					if (rpcp_log(&js, t, &tmp, &l) == 0)
						rpcp_add_data(&out, &js, &l, &tmp);
				}
			}
		}
		rpcp_find(&js, 7);
	}
	sb_free(&tmp);
	sb_free(&out);
	js_free(&js);
	return 0;
}
