#!/usr/bin/env python3
"""tools/lab/topology.py — reads and checks a lab topology file (format: tools/lab/README.md,
"Topology files"), for tools/lab/lab.

    topology.py check FILE              exit 0, or print FILE: PATH: reason and exit 1
    topology.py env FILE                bash declarations of the fleet (eval'd by tools/lab/lab)
    topology.py metadata FILE OUTDIR    the metadata snapshot the pipeline enriches from:
                                        OUTDIR/{datacenters.yaml,services.yaml,pods.json}

Standard library only.
"""
import ipaddress
import json
import os
import re
import shlex
import sys
import uuid

LAB_NET = ipaddress.ip_network("198.18.0.0/15")
WAN_NET = ipaddress.ip_network("198.18.0.0/30")
ROUTERS = ("r1", "r2")
# Host names become veth names on the routers and namespace suffixes: short and plain.
HOST_NAME = re.compile(r"^[a-z][a-z0-9]{0,7}$")
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
KINDS = ("http", "nginx", "redis")


class TopologyError(Exception):
    pass


def load(path):
    try:
        with open(path) as f:
            t = json.load(f)
    except OSError as e:
        raise TopologyError("%s: %s" % (path, e.strerror))
    except json.JSONDecodeError as e:
        raise TopologyError("%s: line %d column %d: %s" % (path, e.lineno, e.colno, e.msg))
    check(t, path)
    return t


def check(t, path):
    def fail(where, why):
        raise TopologyError("%s: %s: %s" % (path, where, why))

    def field(obj, key, where, kind, default=None):
        if key not in obj:
            if default is not None:
                return default
            fail(where, "missing '%s'" % key)
        v = obj[key]
        if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
            fail("%s.%s" % (where, key), "must be %s" % getattr(kind, "__name__", kind))
        return v

    def address(obj, where, net=None):
        a = field(obj, "address", where, str)
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            fail(where + ".address", "'%s' is not an IPv4 address" % a)
        if ip not in LAB_NET:
            fail(where + ".address", "%s is outside 198.18.0.0/15 (the lab's only range)" % a)
        if net is not None and ip not in net:
            fail(where + ".address", "%s is outside its datacenter's %s" % (a, net))
        return ip

    def name_of(obj, where, pattern, taken, why):
        name = field(obj, "name", where, str)
        if not pattern.match(name) or name in taken:
            fail(where + ".name", "'%s' must be %s" % (name, why))
        return name

    ids = set()

    def service_id(obj, where):
        sid = field(obj, "id", where, int)
        if not 1 <= sid <= 65535 or sid in ids:
            fail(where + ".id", "must be a unique service id 1..65535")
        ids.add(sid)

    if not isinstance(t, dict) or t.get("version") != 1:
        fail("version", "must be 1")
    field(t, "name", "topology", str)
    dcs = field(t, "datacenters", "topology", list)
    if len(dcs) != 2:
        fail("datacenters", "the lab has exactly two datacenters (routers r1, r2 and the link between them)")
    nets = {}
    for i, dc in enumerate(dcs):
        w = "datacenters[%d]" % i
        name = field(dc, "name", w, str)
        if not HOST_NAME.match(name) or name in nets or name == "wan":
            fail(w + ".name", "'%s' must be unique, 1-8 lower-case letters or digits, not 'wan'" % name)
        try:
            net = ipaddress.ip_network(field(dc, "cidr", w, str))
        except ValueError as e:
            fail(w + ".cidr", str(e))
        if not net.subnet_of(LAB_NET) or net.overlaps(WAN_NET) or net.prefixlen != 24:
            fail(w + ".cidr", "must be a /24 inside 198.18.0.0/15, apart from the link 198.18.0.0/30")
        if any(net.overlaps(n) for n in nets.values()):
            fail(w + ".cidr", "overlaps another datacenter")
        router = ipaddress.ip_address(field(dc, "router_address", w, str))
        if router not in net:
            fail(w + ".router_address", "must be inside %s" % net)
        nets[name] = net
    used = {str(ipaddress.ip_address(dc["router_address"])) for dc in dcs}

    hosts = {}
    for i, h in enumerate(field(t, "hosts", "topology", list)):
        w = "hosts[%d]" % i
        name = name_of(h, w, HOST_NAME, set(hosts) | set(ROUTERS), "unique, 1-8 lower-case letters or digits, not r1/r2")
        dc = field(h, "datacenter", w, str)
        if dc not in nets:
            fail(w + ".datacenter", "unknown datacenter '%s'" % dc)
        ip = str(address(h, w, nets[dc]))
        if ip in used:
            fail(w + ".address", "%s is used twice" % ip)
        used.add(ip)
        hosts[name] = h

    services = {}
    for i, s in enumerate(field(t, "services", "topology", list)):
        w = "services[%d]" % i
        name = name_of(s, w, SERVICE_NAME, services, "unique, 1-16 lower-case letters or digits")
        kind = field(s, "kind", w, str)
        if kind not in KINDS:
            fail(w + ".kind", "must be one of %s" % ", ".join(KINDS))
        host = field(s, "host", w, str)
        if host not in hosts:
            fail(w + ".host", "unknown host '%s'" % host)
        ip = str(address(s, w, nets[hosts[host]["datacenter"]]))
        if ip in used:
            fail(w + ".address", "%s is used twice" % ip)
        used.add(ip)
        port = field(s, "port", w, int)
        if not 1 <= port <= 65535:
            fail(w + ".port", "must be 1..65535")
        service_id(s, w)
        if kind == "http":
            calls = field(s, "calls", w, list, [])
            if field(s, "trace", w, str, "forward") not in ("forward", "drop"):
                fail(w + ".trace", "must be forward or drop")
            if not field(s, "path", w, str, "/").startswith("/"):
                fail(w + ".path", "must start with /")
        elif any(k in s for k in ("calls", "trace", "path")):
            fail(w, "only http services have calls, trace and path")
        services[name] = s
    for name, s in services.items():
        for j, c in enumerate(s.get("calls", [])):
            if c not in services or c == name or s["calls"].count(c) > 1:
                fail("services.%s.calls[%d]" % (name, j), "'%s' must be another service, named once" % c)

    def depth(name, seen):
        if name in seen:
            fail("services.%s.calls" % name, "the calls form a cycle through %s" % " -> ".join(seen + [name]))
        return 1 + max((depth(c, seen + [name]) for c in services[name].get("calls", [])), default=0)

    for name in services:
        depth(name, [])

    clients = {}
    for i, c in enumerate(field(t, "clients", "topology", list)):
        w = "clients[%d]" % i
        name = name_of(c, w, SERVICE_NAME, set(clients) | set(services), "unique among services and clients")
        service_id(c, w)
        clients[name] = c

    targets = set()
    for i, l in enumerate(field(t, "load", "topology", list)):
        w = "load[%d]" % i
        if field(l, "client", w, str) not in clients:
            fail(w + ".client", "unknown client '%s'" % l["client"])
        if field(l, "host", w, str) not in hosts:
            fail(w + ".host", "unknown host '%s'" % l["host"])
        tool = field(l, "tool", w, str)
        target = field(l, "target", w, str)
        if target not in services:
            fail(w + ".target", "unknown service '%s'" % target)
        want = {"wrk": ("http", "nginx"), "redis-benchmark": ("redis",)}.get(tool)
        if want is None:
            fail(w + ".tool", "must be wrk or redis-benchmark")
        if services[target]["kind"] not in want:
            fail(w + ".target", "%s loads %s services, '%s' is %s" % (tool, "/".join(want), target, services[target]["kind"]))
        if (tool, target) in targets:
            fail(w + ".target", "one %s load per target" % tool)
        targets.add((tool, target))
        if not 1 <= field(l, "connections", w, int, 4) <= 256:
            fail(w + ".connections", "must be 1..256")
        if field(l, "rate", w, int, 0) < 0:
            fail(w + ".rate", "must be requests per second (0: as fast as possible)")
        if field(l, "pipeline", w, bool, False) and services[target]["kind"] != "nginx":
            fail(w + ".pipeline", "only a wrk load of an nginx service pipelines (/items and /missing)")
        if not field(l, "path", w, str, "/").startswith("/"):
            fail(w + ".path", "must start with /")

    st = t.get("steady")
    if st is not None:
        for k in ("caller", "callee"):
            if field(st, k, "steady", str) not in services or services[st[k]]["kind"] != "http":
                fail("steady." + k, "must be an http service")
        field(st, "connections", "steady", int, 2)
        field(st, "requests", "steady", int, 100)


def env(t):
    """Bash declarations: arrays in file order, associative arrays by name."""
    q = shlex.quote
    out = []

    def arr(name, items):
        out.append("%s=(%s)" % (name, " ".join(q(str(x)) for x in items)))

    def assoc(name, pairs):
        out.append("declare -gA %s=(%s)" % (name, " ".join("[%s]=%s" % (q(k), q(str(v))) for k, v in pairs)))

    dcs, hosts, svcs, clients, loads = t["datacenters"], t["hosts"], t["services"], t["clients"], t["load"]
    out.append("TOPOLOGY_NAME=%s" % q(t["name"]))
    arr("DCS", [d["name"] for d in dcs])
    assoc("DC_ROUTER", [(d["name"], r) for d, r in zip(dcs, ROUTERS)])
    assoc("DC_CIDR", [(d["name"], d["cidr"]) for d in dcs])
    assoc("DC_GW", [(d["name"], d["router_address"]) for d in dcs])
    arr("HOSTS", [h["name"] for h in hosts])
    assoc("HOST_DC", [(h["name"], h["datacenter"]) for h in hosts])
    assoc("HOST_IP", [(h["name"], h["address"]) for h in hosts])
    arr("SERVICES", [s["name"] for s in svcs])
    arr("HTTP_SERVICES", [s["name"] for s in svcs if s["kind"] == "http"])
    arr("CLIENTS", [c["name"] for c in clients])
    assoc("SVC_KIND", [(s["name"], s["kind"]) for s in svcs])
    assoc("SVC_HOST", [(s["name"], s["host"]) for s in svcs])
    assoc("SVC_IP", [(s["name"], s["address"]) for s in svcs])
    assoc("SVC_PORT", [(s["name"], s["port"]) for s in svcs])
    assoc("SVC_PATH", [(s["name"], s.get("path", "/")) for s in svcs if s["kind"] == "http"])
    assoc("SVC_TRACE", [(s["name"], s.get("trace", "forward")) for s in svcs if s["kind"] == "http"])
    assoc("SVC_CALLS", [(s["name"], " ".join(s.get("calls", []))) for s in svcs if s["kind"] == "http"])
    assoc("SVC_ID", [(s["name"], s["id"]) for s in svcs + clients])
    arr("LOAD_CLIENT", [l["client"] for l in loads])
    arr("LOAD_HOST", [l["host"] for l in loads])
    arr("LOAD_TOOL", [l["tool"] for l in loads])
    arr("LOAD_TARGET", [l["target"] for l in loads])
    arr("LOAD_PATH", [l.get("path", "/") for l in loads])
    arr("LOAD_CONNECTIONS", [l.get("connections", 4) for l in loads])
    arr("LOAD_RATE", [l.get("rate", 0) for l in loads])
    arr("LOAD_PIPELINE", [int(l.get("pipeline", False)) for l in loads])
    st = t.get("steady")
    out.append("STEADY_CALLER=%s STEADY_CALLEE=%s STEADY_CONNECTIONS=%s STEADY_REQUESTS=%s" % (
        q(st["caller"]) if st else "''", q(st["callee"]) if st else "''",
        st.get("connections", 2) if st else 0, st.get("requests", 100) if st else 0))
    return "\n".join(out) + "\n"


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def metadata(t, out):
    os.makedirs(out, exist_ok=True)
    lines = ["version: 1", "networks:"]
    lines += ["  - {cidr: %s, datacenter: %s, zone: %s-a}" % (d["cidr"], d["name"], d["name"]) for d in t["datacenters"]]
    lines.append("  - {cidr: %s, datacenter: wan, zone: wan}" % WAN_NET)
    write_atomically(os.path.join(out, "datacenters.yaml"), "\n".join(lines) + "\n")
    lines = ["version: 1", "services:"]
    for s in t["services"] + t["clients"]:
        lines.append('  - {name: %s, id: %d, namespace: lab, selector: {app: %s}, cgroups: ["/redline-lab-*/*/%s"]}'
                     % (s["name"], s["id"], s["name"], s["name"]))
    write_atomically(os.path.join(out, "services.yaml"), "\n".join(lines) + "\n")
    hosts = {h["name"]: h for h in t["hosts"]}
    pods = []
    for s in sorted(t["services"], key=lambda s: s["name"]):
        uid = str(uuid.uuid5(uuid.NAMESPACE_URL, "redline-lab/" + s["name"]))
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": s["name"] + "-0", "namespace": "lab", "uid": uid, "labels": {"app": s["name"]}},
                     "spec": {"nodeName": s["host"], "containers": [{"name": s["name"]}]},
                     "status": {"phase": "Running", "hostIP": hosts[s["host"]]["address"], "podIP": s["address"],
                                "podIPs": [{"ip": s["address"]}]}})
    write_atomically(os.path.join(out, "pods.json"),
                     json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": pods},
                                indent=2, sort_keys=True))


def main(argv):
    if len(argv) < 2 or argv[0] not in ("check", "env", "metadata") or (argv[0] == "metadata") != (len(argv) == 3):
        sys.exit(__doc__)
    try:
        t = load(argv[1])
    except TopologyError as e:
        sys.exit("topology: %s" % e)
    if argv[0] == "env":
        sys.stdout.write(env(t))
    elif argv[0] == "metadata":
        metadata(t, argv[2])


if __name__ == "__main__":
    main(sys.argv[1:])
