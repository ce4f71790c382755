#!/usr/bin/env python3
# tests/erc8004/model.py -- an independent model of the erc8004 pipeline
# (docs/erc8004.md), written from the documented rules and not from
# common/dom/erc8004: reads erc8004-produce's operations and predicts every
# job (with its rule version and whether a reorg reverted it), the compiled
# status of every trigger, trigger_state and the per-chain checkpoints.
#
#   model.py OUTDIR < ops.ndjson
# writes OUTDIR/jobs, OUTDIR/rules, OUTDIR/state, OUTDIR/checkpoints as
# '|'-separated lines, sorted bytewise (the tests compare them with psql).
import json
import os
import sys

S = 10 ** 18
REGISTRIES = ("identity", "reputation", "validation")
OPS = {"<": "<", ">": ">", "=": "=", "==": "=", "<=": "<=", ">=": ">=", "!=": "!=", "<>": "!="}
TYPES = ("agent_id_equals", "score_threshold", "tag_equals", "event_type_equals", "ema_threshold", "rate_limit")


def is_dec(v):
    return isinstance(v, str) and v.isdigit() and v.isascii()


def short(v):
    return isinstance(v, str) and len(v.encode()) <= 31


def window(v):
    if not isinstance(v, str) or not v:
        return None
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if v[-1] in unit:
        num, mul = v[:-1], unit[v[-1]]
    else:
        num, mul = v, 1
    if not num.isdigit() or not num.isascii() or int(num) * mul == 0:
        return None
    return int(num) * mul


def check_condition(c, seen):
    """None if well-formed, else the documented reason."""
    t, f, op, v, cfg = c.get("condition_type"), c.get("field"), c.get("operator"), c.get("value"), c.get("config")
    if t not in TYPES:
        return "unknown_condition_type"
    if op is not None and op not in OPS:
        return "bad_operator"
    if f is not None and f not in ("score", "tag1", "tag2"):
        return "bad_field"
    op = OPS.get(op)
    if t == "agent_id_equals":
        if f is not None:
            return "bad_field"
        if op not in (None, "="):
            return "bad_operator"
        return None if is_dec(v) else "bad_value"
    if t in ("score_threshold", "ema_threshold"):
        if f not in (None, "score"):
            return "bad_field"
        if op is None:
            return "bad_operator"
        if not is_dec(v):
            return "bad_value"
        if t == "ema_threshold":
            w = cfg.get("window_size") if isinstance(cfg, dict) else None
            if isinstance(w, str) and is_dec(w):
                w = int(w)
            if not isinstance(w, int) or isinstance(w, bool) or not 1 <= w <= 1000000:
                return "bad_config"
            if "ema" in seen:
                return "duplicate_stateful"
            seen.add("ema")
        return None
    if t == "tag_equals":
        if f not in ("tag1", "tag2"):
            return "bad_field"
        if op not in (None, "="):
            return "bad_operator"
        return None if v is not None and short(v) else "bad_value"
    if t == "event_type_equals":
        if f is not None:
            return "bad_field"
        if op not in (None, "="):
            return "bad_operator"
        return None if v is not None and short(v) else "bad_value"
    # rate_limit
    if f is not None:
        return "bad_field"
    if op not in (None, "<="):
        return "bad_operator"
    if not is_dec(v) or int(v) == 0 or int(v) >= 2 ** 64:
        return "bad_value"
    if not isinstance(cfg, dict) or window(cfg.get("time_window")) is None:
        return "bad_config"
    if "rate" in seen:
        return "duplicate_stateful"
    seen.add("rate")
    return None


def compile_rules(o, version):
    t = o["trigger"]
    r = {"id": o["id"], "version": version, "chain": t["chain_id"], "registry": t["registry"],
         "status": "active", "reason": "", "bad": 0, "conds": o["conditions"], "acts": o["actions"]}
    if t["registry"] not in REGISTRIES:
        r["status"], r["reason"] = "malformed", "bad_registry"
        return r
    seen = set()
    for c in o["conditions"]:
        why = check_condition(c, seen)
        if why:
            r["status"], r["reason"], r["bad"] = "malformed", why, c["id"]
            return r
    for a in o["actions"]:
        if a["action_type"] not in ("telegram", "rest", "mcp") or a["priority"] < 0:
            r["status"], r["reason"] = "malformed", "bad_action"
            return r
    if not t["enabled"]:
        r["status"] = "disabled"
    return r


def cmp(op, a, b):
    return {"<": a < b, ">": a > b, "=": a == b, "<=": a <= b, ">=": a >= b, "!=": a != b}[op]


class Model:
    def __init__(self):
        self.seq = 0
        self.rules = {}
        self.state = {}
        self.jobs = {}
        self.applied = {}  # chain -> [(hash, checkpoint, touched states before, job ids)]

    def matches(self, r, e, touched):
        for c in r["conds"]:
            t = c["condition_type"]
            if t == "agent_id_equals" and not (e.get("agent_id") is not None and int(e["agent_id"]) == int(c["value"])):
                return False
            if t == "score_threshold" and not (e.get("score") is not None and cmp(OPS[c["operator"]], e["score"], int(c["value"]))):
                return False
            if t == "tag_equals":
                tag = e.get(c["field"])
                if tag is None or not short(tag) or tag != c["value"]:
                    return False
            if t == "event_type_equals" and not (short(e["event_type"]) and e["event_type"] == c["value"]):
                return False
        ema = [c for c in r["conds"] if c["condition_type"] == "ema_threshold"]
        rate = [c for c in r["conds"] if c["condition_type"] == "rate_limit"]
        tid = r["id"]

        def st():
            if tid not in touched:
                touched[tid] = dict(self.state[tid]) if tid in self.state else None
            return self.state.setdefault(tid, {"ema": 0, "n": 0, "ws": 0, "wc": 0, "lu": 0})

        if ema:
            c = ema[0]
            if e.get("score") is None:
                return False
            s = st()
            n = int(c["config"]["window_size"])
            x = e["score"] * S
            s["ema"] = x if s["n"] == 0 else (2 * x + (n - 1) * s["ema"]) // (n + 1)
            s["n"] += 1
            s["lu"] = e["timestamp"]
            if not cmp(OPS[c["operator"]], s["ema"], int(c["value"]) * S):
                return False
        if rate:
            c = rate[0]
            s = st()
            w = window(c["config"]["time_window"])
            start = e["timestamp"] - e["timestamp"] % w
            if s["wc"] == 0 or start > s["ws"]:
                s["ws"], s["wc"] = start, 0
            if s["wc"] >= int(c["value"]):
                return False
            s["wc"] += 1
            s["lu"] = e["timestamp"]
        return True

    def block(self, o):
        self.seq += 1
        item = self.seq
        chain = o["chain"]
        hist = self.applied.setdefault(chain, [])
        before_ck = hist[-1][1] if hist else None
        touched, made = {}, []
        ck = before_ck
        for e in o["events"]:
            ck = (o["number"], o["hash"], e["timestamp"])
            m = []
            for r in sorted(self.rules.values(), key=lambda r: r["id"]):
                if r["status"] != "active" or r["chain"] != chain or r["registry"] != e["registry"]:
                    continue
                if self.matches(r, e, touched):
                    m += [(-a["priority"], r["id"], a["id"], r, a) for a in r["acts"]]
            for rank, (_, _, _, r, a) in enumerate(sorted(m, key=lambda x: x[:3])):
                jid = "%s:%d" % (e["id"], a["id"])
                self.jobs[jid] = {"trigger": r["id"], "version": r["version"], "priority": a["priority"],
                                  "type": a["action_type"], "reverted": False, "item": item, "log": e["log_index"],
                                  "rank": rank}
                made.append(jid)
        hist.append((o["hash"], ck, touched, made))

    def reorg(self, o):
        hist = self.applied[o["chain"]]
        for h in o["hashes"]:
            self.seq += 1
            bh, _, touched, made = hist.pop()
            assert bh == h, "reorg not newest first"
            for tid, before in touched.items():
                if before is None:
                    del self.state[tid]
                else:
                    self.state[tid] = before
            for j in made:
                self.jobs[j]["reverted"] = True

    def trigger(self, o):
        self.seq += 1
        self.rules[o["id"]] = compile_rules(o, self.seq)

    def delete(self, o):
        self.seq += 1
        del self.rules[o["id"]]

    def write(self, d):
        os.makedirs(d, exist_ok=True)

        def out(name, lines):
            with open(os.path.join(d, name), "w") as f:
                for line in sorted(lines, key=lambda s: s.encode()):
                    f.write(line + "\n")

        out("jobs", ["%s|%d|%d|%d|%s|%s" % (j, v["trigger"], v["version"], v["priority"], v["type"],
                                             "reverted" if v["reverted"] else "live") for j, v in self.jobs.items()])
        out("rules", ["%d|%s|%s|%d|%d" % (r["id"], r["status"], r["reason"], r["bad"], r["version"])
                      for r in self.rules.values()])
        out("state", ["%d|%d|%d|%d|%d|%d" % (t, s["ema"], s["n"], s["ws"], s["wc"], s["lu"])
                      for t, s in self.state.items()])
        out("checkpoints", ["%d|%d|%s|%d" % ((c,) + h[-1][1]) for c, h in self.applied.items() if h])
        # the order in which the queue hands out the live jobs
        with open(os.path.join(d, "order"), "w") as f:
            for j, v in sorted(self.jobs.items(), key=lambda kv: (kv[1]["item"], kv[1]["log"], kv[1]["rank"])):
                if not v["reverted"]:
                    f.write(j + "\n")


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        sys.stdout.write("usage: model.py OUTDIR < ops.ndjson\n")
        sys.exit(0 if len(sys.argv) == 2 else 64)
    m = Model()
    for line in sys.stdin:
        o = json.loads(line)
        {"block": m.block, "reorg": m.reorg, "trigger": m.trigger, "delete_trigger": m.delete}[o["op"]](o)
    m.write(sys.argv[1])


if __name__ == "__main__":
    main()
