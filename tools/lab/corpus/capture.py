#!/usr/bin/env python3
"""Capture the labelled L7 corpus used by KernelProbesTests' accuracy test.

Run as root: `python3 tools/lab/corpus/capture.py` (it re-executes itself inside a fresh
network namespace with only loopback, so no traffic leaves the machine).

Requests are the first payload real clients send (curl, redis-cli, dig,
openssl s_client) to a listener that records it; responses are what real
servers (nginx, redis-server) answer. Protocols without a Debian client here
(MySQL, Kafka, Thrift) and DNS responses are built from their wire formats by
this script and labelled `synthetic` in the source column. Random payloads
(seeded) are labelled `none`.

Output: l7-corpus.tsv beside this script, one sample per line:
    label <TAB> role <TAB> transport <TAB> source <TAB> hex payload
"""
import os, random, socket, struct, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "l7-corpus.tsv")
rows = []


def add(label, role, transport, source, payload):
    if payload:
        rows.append((label, role, transport, source, payload.hex()))


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"port {port} never opened")


class FirstPayload:
    """TCP listener recording the first payload of each connection, answering `reply`."""

    def __init__(self, port, reply=b""):
        self.port, self.reply, self.got = port, reply, []
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", port))
        self.s.listen(64)
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            c.settimeout(3)
            try:
                data = c.recv(4096)
                if data:
                    self.got.append(data)
                    if self.reply:
                        c.sendall(self.reply)
            except OSError:
                pass
            c.close()

    def take(self):
        out, self.got = self.got, []
        return out


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20, **kw)


def capture_http_requests():
    lst = FirstPayload(18080, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    base = "http://127.0.0.1:18080"
    cmds = []
    for path in ["/", "/index.html", "/api/v1/users?id=7", "/health", "/a/b/c/d.json", "/search?q=redline&page=2"]:
        cmds.append(["curl", "-s", base + path])
        cmds.append(["curl", "-s", "-H", "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", base + path])
        cmds.append(["curl", "-s", "-X", "POST", "-d", "a=1&b=2", base + path])
        cmds.append(["curl", "-s", "-X", "PUT", "-d", '{"k":"v"}', "-H", "Content-Type: application/json", base + path])
        cmds.append(["curl", "-s", "-I", base + path])
        cmds.append(["curl", "-s", "-X", "DELETE", base + path])
        cmds.append(["curl", "-s", "-X", "PATCH", "-d", "x", base + path])
    cmds.append(["curl", "-s", "-X", "OPTIONS", base + "/"])
    cmds.append(["curl", "-s", "-A", "wrk/4.1", "--http1.0", base + "/"])
    for c in cmds:
        run(c)
    time.sleep(0.2)
    for p in lst.take():
        add("http1", "request", "tcp", "curl", p)


def capture_nginx_responses():
    d = tempfile.mkdtemp()
    root = os.path.join(d, "www")
    os.makedirs(root)
    open(os.path.join(root, "index.html"), "w").write("<html>redline</html>\n")
    conf = os.path.join(d, "nginx.conf")
    open(conf, "w").write(f"""
daemon off; pid {d}/nginx.pid; error_log {d}/error.log; worker_processes 1;
events {{ worker_connections 64; }}
http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d};
  uwsgi_temp_path {d}; scgi_temp_path {d};
  server {{ listen 127.0.0.1:18081; root {root};
    location /boom {{ return 503; }}
    location /moved {{ return 301 /index.html; }} }} }}
""")
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(18081)
        reqs = [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /moved HTTP/1.1\r\nHost: x\r\n\r\n",
                b"HEAD / HTTP/1.0\r\n\r\n", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx",
                b"GET / HTTP/1.1\r\n\r\n", b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n"]
        for r in reqs * 3:
            s = socket.create_connection(("127.0.0.1", 18081))
            s.sendall(r)
            data = s.recv(4096)
            s.close()
            add("http1", "response", "tcp", "nginx", data)
    finally:
        proc.terminate()
        proc.wait()


def capture_redis():
    lst = FirstPayload(16390, b"+OK\r\n")
    cmds = [["SET", "k", "v"], ["GET", "k"], ["INCR", "n"], ["LPUSH", "l", "a", "b"], ["HSET", "h", "f", "v"],
            ["PING"], ["DEL", "k"], ["EXISTS", "k"], ["SADD", "s", "1", "2", "3"], ["EXPIRE", "k", "10"],
            ["MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"], ["LRANGE", "l", "0", "-1"],
            ["ZADD", "z", "1", "m"], ["KEYS", "*"], ["INFO"], ["TTL", "k"], ["HGETALL", "h"],
            ["RPUSH", "q", "x"], ["MGET", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]]
    for c in cmds:
        run(["redis-cli", "-h", "127.0.0.1", "-p", "16390", "--no-auth-warning"] + c)
    time.sleep(0.2)
    for p in lst.take():
        # redis-cli may open with HELLO/COMMAND DOCS in some versions: still RESP requests.
        add("redis", "request", "tcp", "redis-cli", p)

    d = tempfile.mkdtemp()
    proc = subprocess.Popen(["redis-server", "--port", "16391", "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(16391)
        s = socket.create_connection(("127.0.0.1", 16391))

        def resp(*args):
            out = b"*%d\r\n" % len(args)
            for a in args:
                a = a.encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            time.sleep(0.01)
            return s.recv(65536)

        for c in [("SET", "k", "v"), ("GET", "k"), ("GET", "nope"), ("INCR", "n"), ("INCR", "k"),
                  ("LPUSH", "l", "a", "b"), ("PING",), ("DEL", "k"), ("EXISTS", "k"), ("NOSUCHCMD",),
                  ("HSET", "h", "f", "v"), ("HGET", "h", "f"), ("TTL", "k"), ("SET", "x", "1")]:
            add("redis", "response", "tcp", "redis-server", resp(*c))
        s.close()
    finally:
        proc.terminate()
        proc.wait()


def capture_dns():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 15353))
    got = []

    def serve():
        while True:
            try:
                q, addr = u.recvfrom(4096)
            except OSError:
                return
            got.append(q)
            # Answer so dig exits at once: header copied, QR=1, RCODE cycling
            # 0 (NOERROR), 3 (NXDOMAIN), 2 (SERVFAIL); no answers.
            rcode = [0, 3, 2][len(got) % 3]
            flags = struct.unpack("!H", q[2:4])[0] | 0x8080
            r = q[:2] + struct.pack("!H", (flags & 0xFFF0) | rcode) + q[4:6] + b"\0\0\0\0\0\0" + q[12:]
            r = r[:12] + q[12:]
            u.sendto(r, addr)
            add("dns", "response", "udp", "synthetic", r)

    threading.Thread(target=serve, daemon=True).start()
    for name in ["example.com", "redline.test", "a.b.c.d.example.org", "localhost", "x" * 40 + ".net"]:
        for t in ["A", "AAAA", "MX", "TXT", "NS", "SOA"]:
            run(["dig", "@127.0.0.1", "-p", "15353", "+tries=1", "+timeout=2", name, t])
        run(["dig", "@127.0.0.1", "-p", "15353", "+tries=1", "+timeout=2", "+norecurse", name])
        run(["dig", "@127.0.0.1", "-p", "15353", "+tries=1", "+timeout=2", "+noedns", name])
    time.sleep(0.2)
    for q in got:
        add("dns", "request", "udp", "dig", q)


def capture_tls():
    lst = FirstPayload(18443)
    for extra in [[], ["-tls1_2"], ["-tls1_3"], ["-servername", "api.redline.test"], ["-alpn", "h2,http/1.1"]]:
        run(["openssl", "s_client", "-connect", "127.0.0.1:18443"] + extra, input=b"")
    for url in ["https://127.0.0.1:18443/", "https://localhost:18443/x"]:
        run(["curl", "-sk", "--max-time", "2", url])
    time.sleep(0.3)
    for p in lst.take():
        add("tls", "request", "tcp", "openssl/curl", p)


def synthetic():
    rnd = random.Random(7)
    # MySQL: COM_QUERY / COM_STMT_PREPARE with sequence 0; OK / ERR replies with sequence 1.
    for q in ["SELECT 1", "select * from users where id = 7", "INSERT INTO t VALUES (1,'a')",
              "UPDATE t SET a = 2", "SHOW TABLES", "BEGIN", "COMMIT", "SET NAMES utf8mb4"]:
        body = b"\x03" + q.encode()
        add("mysql", "request", "tcp", "synthetic", struct.pack("<I", len(body))[:3] + b"\x00" + body)
        body = b"\x16" + q.encode()
        add("mysql", "request", "tcp", "synthetic", struct.pack("<I", len(body))[:3] + b"\x00" + body)
    for _ in range(8):
        ok = b"\x00" + bytes([rnd.randrange(5), 0, 2, 0, 0, 0])
        add("mysql", "response", "tcp", "synthetic", struct.pack("<I", len(ok))[:3] + b"\x01" + ok)
        err = b"\xff" + struct.pack("<H", 1064) + b"#42000You have an error"
        add("mysql", "response", "tcp", "synthetic", struct.pack("<I", len(err))[:3] + b"\x01" + err)
    # Kafka request headers v1/v2: api_key, api_version, correlation id, client id.
    for key, ver in [(0, 7), (1, 11), (3, 9), (18, 3), (10, 2), (2, 5), (8, 8), (9, 7), (19, 4), (32, 1)]:
        cid = b"rdkafka" if key % 2 else b"console-producer"
        hdr = struct.pack("!hhih", key, ver, rnd.randrange(1 << 31), len(cid)) + cid + bytes(rnd.randrange(256) for _ in range(20))
        add("kafka", "request", "tcp", "synthetic", struct.pack("!i", len(hdr)) + hdr)
    # Thrift framed binary calls / replies / exceptions, and TTHeader frames.
    for name in [b"getUser", b"ping", b"listOrders", b"Search", b"put"]:
        seq = rnd.randrange(1 << 31)
        for mtype, label_role in [(1, "request"), (2, "response"), (3, "response")]:
            msg = struct.pack("!I", 0x80010000 | mtype) + struct.pack("!i", len(name)) + name + struct.pack("!i", seq) + b"\x00"
            add("thrift", label_role, "tcp", "synthetic", struct.pack("!i", len(msg)) + msg)
        inner = struct.pack("!I", 0x80010001) + struct.pack("!i", len(name)) + name + struct.pack("!i", seq) + b"\x00"
        th = struct.pack("!HHiH", 0x0FFF, 0, seq, 1) + b"\x00\x00" + inner
        add("thrift", "request", "tcp", "synthetic", struct.pack("!i", len(th)) + th)
    # Random payloads: no protocol.
    for _ in range(2000):
        n = rnd.choice([rnd.randrange(1, 17), rnd.randrange(17, 300)])
        add("none", "none", rnd.choice(["tcp", "udp"]), "random", bytes(rnd.randrange(256) for _ in range(n)))


def main():
    if os.environ.get("RL_CORPUS_IN_NETNS") != "1":
        env = dict(os.environ, RL_CORPUS_IN_NETNS="1")
        os.execvpe("unshare", ["unshare", "--net", "--", sys.executable, os.path.abspath(__file__)], env)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    capture_http_requests()
    capture_nginx_responses()
    capture_redis()
    capture_dns()
    capture_tls()
    synthetic()
    tmp = OUT + ".tmp"
    with open(tmp, "w") as f:
        f.write("# label\trole\ttransport\tsource\thex — generated by capture.py; do not edit\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, OUT)
    from collections import Counter
    print(Counter((r[0], r[1], r[3]) for r in rows))


main()
