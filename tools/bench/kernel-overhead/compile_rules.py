#!/usr/bin/env python3
"""Print the hex bytes of `struct rl_ruleset` for a rules YAML file, for
`bpftool map update` in the overhead benchmark (which runs without Swift).
The Swift compiler (KernelProbes.RuleSet.compile) is the reference; this
mirrors its layout: redline_maps.h, rl_ruleset / rl_rule_group / rl_rule /
rl_clause (schemas/rules-v2.md)."""
import struct, sys, yaml

PROTO = {"http1": 1, "redis": 2, "dns": 3, "mysql": 4, "kafka": 5, "thrift": 6, "tls": 7}
CLASS = {"unknown": 0, "ok": 1, "client_error": 2, "server_error": 3}
KIND = {"none": 0, "ascii3": 1, "byte": 2, "be16": 3}


def pattern(r):
    if "text" in r:
        v = r["text"].encode()
        m = b"\xff" * len(v)
    else:
        v, m = b"", b""
        h = r["hex"].replace(" ", "")
        for i in range(0, len(h), 2):
            p = h[i:i + 2]
            v += b"\0" if p == "??" else bytes([int(p, 16)])
            m += b"\0" if p == "??" else b"\xff"
    if "mask" in r:
        mm = bytes.fromhex(r["mask"].replace(" ", ""))
        m = bytes(a & b for a, b in zip(m, mm))
    return v, m


rules = yaml.safe_load(open(sys.argv[1]))["rules"]
groups = []
for slot, r in enumerate(rules):
    key = (r.get("transport", "tcp"), r.get("offset", 0))
    for g in groups:
        if g[0] == key:
            g[1].append(slot)
            break
    else:
        groups.append((key, [slot]))
out = struct.pack("<II", len(groups), len(rules))
for i in range(16):
    if i < len(groups):
        (t, off), slots = groups[i]
        out += struct.pack("<HBB", off, 6 if t == "tcp" else 17, len(slots)) + bytes(slots).ljust(32, b"\0") + b"\0" * 4
    else:
        out += b"\0" * 40
clauses = []
for i in range(64):
    if i >= len(rules):
        out += b"\0" * 56
        continue
    r = rules[i]
    v, m = pattern(r)
    st = r.get("status", {"kind": "none"})
    flags = (1 if r.get("pair_any_response") else 0) | (2 if r.get("label_only") else 0)
    out += m.ljust(16, b"\0") + v.ljust(16, b"\0")
    out += struct.pack("<HHBBBBBBBBHH", r["id"], r.get("offset", 0), len(v), PROTO[r["protocol"]],
                       1 if r["role"] == "request" else 2, KIND[st.get("kind", "none")], st.get("offset", 0),
                       st.get("mask", 0xff) if st.get("kind") == "byte" else 0,
                       CLASS[r.get("fixed_class", "unknown")], CLASS[r.get("error_class", "server_error")],
                       r.get("capture", 0), flags)
    out += struct.pack("<BB", len(clauses), len(r.get("and", []))) + b"\0" * 6
    clauses += r.get("and", [])
for i in range(64):
    if i >= len(clauses):
        out += b"\0" * 40
        continue
    c = clauses[i]
    v, m = pattern(c)
    window = c.get("within", 1)
    kind = (3 if window > 1 else 1) + (1 if c.get("absent") else 0)
    out += m.ljust(16, b"\0") + v.ljust(16, b"\0") + struct.pack("<HHBB", c.get("offset", 0), window, kind, len(v)) + b"\0" * 2
assert len(out) == 8 + 40 * 16 + 56 * 64 + 40 * 64
print(" ".join("%02x" % b for b in out))
