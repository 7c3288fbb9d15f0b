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

Neighbours: first messages, both directions where the server speaks (a greeting
or its first reply), of protocols Redline has no rules for, from Debian's real
clients and servers, recorded by a relay between them on loopback. Each must
come out unknown (the accuracy test asserts it). The source column names the
package and version that produced each payload. Re-capturing needs these
Debian packages (they are not needed to run the tests, which read the TSV):
    postgresql-15 postgresql-client-15 memcached libmemcached-tools mosquitto
    mosquitto-clients openssh-server openssh-client exim4-daemon-light swaks
    dovecot-imapd dovecot-pop3d slapd ldap-utils vsftpd gstreamer1.0-tools
    gstreamer1.0-plugins-good sipsak chrony nats-server ngircd sic
    inetutils-telnetd telnet busybox (plus curl, dig, redis-server, as above)
RTSP requests are answered by a stub that replies to each (so gstreamer goes on
from OPTIONS to DESCRIBE); NATS client lines are typed into busybox nc (no
Debian NATS client), the server greeting is nats-server's; Redis inline
commands go through busybox nc to a real redis-server, whose RESP replies are
labelled `redis`. A neighbour whose server will not start is reported and
skipped; `--only NAME[,NAME]` runs just those neighbours and prints them.

Output: l7-corpus.tsv beside this script, one sample per line:
    label <TAB> role <TAB> transport <TAB> source <TAB> hex payload
"""
import os, random, socket, struct, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "l7-corpus.tsv")
rows = []


MAX_PAYLOAD = 1024  # rules read at most 271 + 16 bytes; a test frame must fit BPF_PROG_TEST_RUN


def add(label, role, transport, source, payload):
    if payload:
        rows.append((label, role, transport, source, payload[:MAX_PAYLOAD].hex()))


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


def version(pkg):
    """`<package> <Debian version>` of an installed package, for the source column."""
    v = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True).stdout
    return f"{pkg} {v or '?'}"


class Relay:
    """TCP relay 127.0.0.1:`port` -> 127.0.0.1:`target` recording, per connection,
    the first payload each side sends (a server greeting, or its first reply)."""

    def __init__(self, port, target):
        self.port, self.target = port, target
        self.client_first, self.server_first = [], []
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
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
        except OSError:
            c.close()
            return
        threading.Thread(target=self.pump, args=(c, u, self.client_first), daemon=True).start()
        self.pump(u, c, self.server_first)

    @staticmethod
    def pump(src, dst, firsts):
        first = True
        src.settimeout(10)
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if first:
                    firsts.append(data)
                    first = False
                dst.sendall(data)
        except OSError:
            pass
        # Half-close: the other side may still be answering (a reply to a
        # client that has finished sending is a first message too).
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def take(self, label, client_source, server_source):
        time.sleep(0.3)  # let the pumps of the last connection record
        for p in self.client_first:
            add(label, "request", "tcp", client_source, p)
        for p in self.server_first:
            add(label, "response", "tcp", server_source, p)
        self.client_first, self.server_first = [], []


class Daemon:
    """A real server in the foreground, stopped (by its own PID) on exit."""

    def __init__(self, cmd, port=None, udp=False, user=None):
        if user:
            cmd = ["runuser", "-u", user, "--"] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if port and not udp:
            wait_port(port)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def attempt(name, fn):
    """Runs one neighbour capture; a server that will not start is reported and the
    others still run. Returns how many samples it added."""
    before = len(rows)
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - reported: one protocol must not hide the others' errors
        print(f"capture.py: {name}: {e}", file=sys.stderr)
    print(f"capture.py: {name}: {len(rows) - before} samples", file=sys.stderr)
    return len(rows) - before


def capture_postgresql():
    d = tempfile.mkdtemp()
    os.chown(d, pwd_uid("postgres"), -1)
    bind = "/usr/lib/postgresql/15/bin/"
    subprocess.run(["runuser", "-u", "postgres", "--", bind + "initdb", "-D", d + "/data", "-A", "trust", "-U", "postgres"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=120)
    with Daemon([bind + "postgres", "-D", d + "/data", "-p", "15432", "-k", d, "-c", "listen_addresses=127.0.0.1"],
                15432, user="postgres"):
        r = Relay(15433, 15432)
        for mode in ["disable", "prefer"]:
            for user, db in [("postgres", "postgres"), ("postgres", "template1"), ("alice", "shop"), ("replicator", "postgres")]:
                run(["psql", f"host=127.0.0.1 port=15433 user={user} dbname={db} sslmode={mode} application_name=redline",
                     "-c", "select 1"])
        r.take("postgresql", version("postgresql-client-15"), version("postgresql-15"))


def capture_memcached():
    with Daemon(["memcached", "-u", "memcache", "-l", "127.0.0.1", "-p", "11311", "-U", "0"], 11311):
        r = Relay(11312, 11311)
        keys = tempfile.mkdtemp()  # memccp stores a file under its name
        for k in ["session-42", "k"]:
            open(os.path.join(keys, k), "wb").write(b"value")
        for binary in [[], ["--binary"]]:
            srv = ["--servers=127.0.0.1:11312"] + binary
            for k in ["session-42", "k"]:
                run(["memccp"] + srv + [os.path.join(keys, k)])
                run(["memccat"] + srv + [k])
            run(["memcstat"] + srv)
            run(["memcping"] + srv)
            run(["memcexist"] + srv + ["session-42"])
            run(["memcrm"] + srv + ["session-42"])
            run(["memctouch"] + srv + ["--expire=10", "nokey"])
        r.take("memcached", version("libmemcached-tools"), version("memcached"))


def capture_mqtt():
    d = tempfile.mkdtemp()
    conf = os.path.join(d, "mosquitto.conf")
    open(conf, "w").write("listener 11883 127.0.0.1\nallow_anonymous true\npersistence false\n")
    with Daemon(["mosquitto", "-c", conf], 11883):
        r = Relay(11884, 11883)
        for v in ["mqttv31", "mqttv311", "mqttv5"]:
            run(["mosquitto_pub", "-h", "127.0.0.1", "-p", "11884", "-V", v, "-t", "redline/t", "-m", "hi", "-q", "1"])
            run(["mosquitto_sub", "-h", "127.0.0.1", "-p", "11884", "-V", v, "-t", "redline/#", "-C", "1", "-W", "1"])
            run(["mosquitto_pub", "-h", "127.0.0.1", "-p", "11884", "-V", v, "-i", "sensor-7", "-u", "user",
                 "-P", "pw", "-t", "a/b", "-m", "1"])
        r.take("mqtt", version("mosquitto-clients"), version("mosquitto"))


def capture_ssh():
    d = tempfile.mkdtemp()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-f", d + "/hostkey", "-N", ""], check=True)
    os.makedirs("/run/sshd", exist_ok=True)
    with Daemon(["/usr/sbin/sshd", "-D", "-e", "-f", "/dev/null", "-h", d + "/hostkey", "-p", "12222",
                 "-o", "ListenAddress=127.0.0.1", "-o", "PidFile=" + d + "/pid"], 12222):
        r = Relay(12223, 12222)
        for user in ["root", "deploy", "git"]:
            run(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                 "-o", "ConnectTimeout=3", "-p", "12223", f"{user}@127.0.0.1", "true"])
        r.take("ssh", version("openssh-client"), version("openssh-server"))


def capture_smtp():
    d = tempfile.mkdtemp()
    # -bdf: the daemon stays in the foreground, so it is stopped with the others (-bd forks away).
    with Daemon(["exim4", "-bdf", "-oX", "10025", "-oP", d + "/exim.pid"], 10025):
        r = Relay(10026, 10025)
        for helo in ["client.redline.test", "mx.example"]:
            run(["swaks", "--server", "127.0.0.1:10026", "--helo", helo, "--to", "root@localhost",
                 "--quit-after", "RCPT", "--timeout", "5"])
        r.take("smtp", version("swaks"), version("exim4-daemon-light"))
        run(["curl", "-s", "--max-time", "5", "smtp://127.0.0.1:10026/", "--mail-from", "a@redline.test",
             "--mail-rcpt", "root@localhost", "-T", "/dev/null"])
        r.take("smtp", version("curl"), version("exim4-daemon-light"))


def capture_imap_pop3():
    d = tempfile.mkdtemp()
    os.makedirs(d + "/home", exist_ok=True)
    os.chmod(d, 0o755)
    os.chmod(d + "/home", 0o777)
    conf = os.path.join(d, "dovecot.conf")
    open(conf, "w").write(f"""
base_dir = {d}/run
log_path = {d}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/home/%u
passdb {{
  driver = static
  args = password=secret
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = 10143
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 10110
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
""")
    with Daemon(["dovecot", "-F", "-c", conf], 10143):
        wait_port(10110)
        imap, pop3 = Relay(10144, 10143), Relay(10111, 10110)
        for user in ["alice", "bob"]:
            run(["curl", "-s", "--max-time", "5", "imap://127.0.0.1:10144/", "-u", f"{user}:secret"])
            run(["curl", "-s", "--max-time", "5", "imap://127.0.0.1:10144/INBOX", "-u", f"{user}:secret", "-X", "EXAMINE INBOX"])
            run(["curl", "-s", "--max-time", "5", "pop3://127.0.0.1:10111/", "-u", f"{user}:secret"])
            run(["curl", "-s", "--max-time", "5", "pop3://127.0.0.1:10111/", "-u", f"{user}:wrong"])
        imap.take("imap", version("curl"), version("dovecot-imapd"))
        pop3.take("pop3", version("curl"), version("dovecot-pop3d"))


def capture_ldap():
    with Daemon(["slapd", "-d", "0", "-h", "ldap://127.0.0.1:10389/", "-u", "openldap", "-g", "openldap"], 10389):
        r = Relay(10390, 10389)
        u = "ldap://127.0.0.1:10390"
        run(["ldapsearch", "-x", "-H", u, "-b", "", "-s", "base", "namingContexts"])
        run(["ldapsearch", "-x", "-H", u, "-b", "dc=nodomain", "(objectClass=*)"])
        run(["ldapwhoami", "-x", "-H", u])
        run(["ldapsearch", "-x", "-H", u, "-D", "cn=admin,dc=nodomain", "-w", "wrong", "-b", "dc=nodomain"])
        r.take("ldap", version("ldap-utils"), version("slapd"))
        run(["curl", "-s", "--max-time", "5", u + "/dc=nodomain?cn?sub?(objectClass=*)"])
        r.take("ldap", version("curl"), version("slapd"))


def capture_ftp():
    d = tempfile.mkdtemp()
    os.makedirs("/var/run/vsftpd/empty", exist_ok=True)
    conf = os.path.join(d, "vsftpd.conf")
    open(conf, "w").write(f"listen=YES\nlisten_address=127.0.0.1\nlisten_port=10021\nanonymous_enable=YES\n"
                          f"anon_root={d}\nbackground=NO\nsecure_chroot_dir=/var/run/vsftpd/empty\n"
                          f"pasv_min_port=10030\npasv_max_port=10040\nseccomp_sandbox=NO\n")
    os.chmod(d, 0o555)
    with Daemon(["vsftpd", conf], 10021):
        r = Relay(10022, 10021)
        for url in ["ftp://127.0.0.1:10022/", "ftp://127.0.0.1:10022/missing.txt"]:
            run(["curl", "-s", "--max-time", "5", url])
        run(["curl", "-s", "--max-time", "5", "-u", "bob:pw", "ftp://127.0.0.1:10022/"])
        r.take("ftp", version("curl"), version("vsftpd"))


class RTSPServerStub:
    """Records every RTSP request on each connection and answers it (echoing CSeq:
    200 to OPTIONS, 404 to the rest), so a client goes on to its second request."""

    def __init__(self, port):
        self.got = []
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", port))
        self.s.listen(16)
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        c.settimeout(5)
        try:
            while True:
                req = c.recv(65536)
                if not req:
                    break
                self.got.append(req)
                cseq = b"1"
                for line in req.split(b"\r\n"):
                    if line.lower().startswith(b"cseq:"):
                        cseq = line.split(b":", 1)[1].strip()
                status = b"200 OK\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN" if req.startswith(b"OPTIONS") \
                    else b"404 Not Found"
                c.sendall(b"RTSP/1.0 " + status + b"\r\nCSeq: " + cseq + b"\r\n\r\n")
        except OSError:
            pass
        c.close()


def capture_rtsp():
    srv = RTSPServerStub(10554)
    for path in ["/", "/live/stream1", "/cam/realmonitor?channel=1&subtype=0"]:
        run(["curl", "-s", "--max-time", "3", "rtsp://127.0.0.1:10554" + path])  # curl's RTSP client sends OPTIONS
    time.sleep(0.2)
    for p in srv.got:
        add("rtsp", "request", "tcp", version("curl"), p)
    srv.got = []
    for path in ["/live/stream1", "/cam/realmonitor?channel=1&subtype=0", "/vod/movie.mp4"]:
        for proto in ["tcp", "udp"]:
            run(["timeout", "5", "gst-launch-1.0", "-q", "rtspsrc", f"location=rtsp://127.0.0.1:10554{path}",
                 f"protocols={proto}", "timeout=2000000", "!", "fakesink"])
    time.sleep(0.2)
    for p in srv.got:
        add("rtsp", "request", "tcp", version("gstreamer1.0-plugins-good"), p)


def capture_dns_tcp():
    # DNS over TCP (a 2-byte length, then the message): Redline's DNS rules are UDP only.
    lst = FirstPayload(15354)
    for name, t in [("example.com", "A"), ("redline.test", "AAAA"), ("a.b.c.example.org", "TXT"), ("localhost", "MX")]:
        run(["dig", "@127.0.0.1", "-p", "15354", "+tcp", "+tries=1", "+timeout=1", name, t])
    time.sleep(0.2)
    for p in lst.take():
        add("dns-tcp", "request", "tcp", version("bind9-dnsutils"), p)


def capture_http2():
    lst = FirstPayload(18082)
    for path in ["/", "/api/v1/users"]:
        run(["curl", "-s", "--max-time", "2", "--http2-prior-knowledge", "http://127.0.0.1:18082" + path])
    time.sleep(0.2)
    for p in lst.take():
        add("http2", "request", "tcp", version("curl"), p)


class UDPFirst:
    """UDP listener recording each datagram, answering `reply(datagram)` when given."""

    def __init__(self, port, reply=None):
        self.got, self.reply = [], reply
        self.u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.u.bind(("127.0.0.1", port))
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                q, addr = self.u.recvfrom(65536)
            except OSError:
                return
            self.got.append(q)
            if self.reply:
                self.u.sendto(self.reply(q), addr)


def capture_sip():
    lst = UDPFirst(15060)
    for uri in ["sip:bob@127.0.0.1:15060", "sip:alice@127.0.0.1:15060", "sip:127.0.0.1:15060"]:
        run(["timeout", "3", "sipsak", "-s", uri])
    time.sleep(0.2)
    for p in lst.got:
        add("sip", "request", "udp", version("sipsak"), p)


def capture_ntp():
    d = tempfile.mkdtemp()
    server = os.path.join(d, "server.conf")
    open(server, "w").write(f"port 11123\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 8\n"
                            f"cmdport 0\npidfile {d}/server.pid\ndriftfile {d}/drift\n")
    client = os.path.join(d, "client.conf")
    # The client's requests go through a recording UDP relay to the server.
    open(client, "w").write(f"server 127.0.0.1 port 11124 iburst minpoll 0 maxpoll 0\ncmdport 0\npidfile {d}/client.pid\n")
    answers = []
    fwd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fwd.settimeout(2)

    def relay(q):
        fwd.sendto(q, ("127.0.0.1", 11123))
        a = fwd.recv(65536)
        answers.append(a)
        return a

    lst = UDPFirst(11124, relay)
    with Daemon(["chronyd", "-d", "-x", "-f", server], udp=True):
        time.sleep(0.5)  # chronyd has no readiness signal on UDP; the client retries anyway
        run(["timeout", "15", "chronyd", "-Q", "-f", client, "-t", "10"])
        run(["timeout", "8", "chronyd", "-Q", "-f", client, "-t", "5"])
    for p in lst.got:
        add("ntp", "request", "udp", version("chrony"), p)
    for p in answers:
        add("ntp", "response", "udp", version("chrony"), p)


def capture_nats():
    with Daemon(["nats-server", "-a", "127.0.0.1", "-p", "14222"], 14222):
        r = Relay(14223, 14222)
        for line in [b"CONNECT {\"verbose\":false}\r\nPING\r\n", b"CONNECT {}\r\nSUB a 1\r\nPING\r\n"]:
            run(["busybox", "nc", "-w", "1", "127.0.0.1", "14223"], input=line)
        r.take("nats", "client lines typed into busybox nc", version("nats-server"))


def capture_irc():
    d = tempfile.mkdtemp()
    conf = os.path.join(d, "ngircd.conf")
    open(conf, "w").write(f"[Global]\nName = irc.redline.test\nInfo = redline corpus\nListen = 127.0.0.1\n"
                          f"Ports = 16667\nPidFile = {d}/pid\nMotdPhrase = hi\n"
                          f"[Options]\nIdent = no\nPAM = no\nDNS = no\n")
    with Daemon(["ngircd", "-n", "-f", conf], 16667):
        r = Relay(16668, 16667)
        for nick in ["redline", "alice"]:
            run(["timeout", "3", "sic", "-h", "127.0.0.1", "-p", "16668", "-n", nick], input=b"")
        r.take("irc", version("sic"), version("ngircd"))


def capture_telnet():
    # inetutils telnetd runs per connection under an inetd: busybox nc plays that part.
    with Daemon(["busybox", "nc", "-ll", "-p", "10023", "-e", "/usr/sbin/telnetd", "-E", "/bin/true"], 10023):
        r = Relay(10024, 10023)
        for _ in range(2):
            run(["timeout", "3", "telnet", "127.0.0.1", "10024"], input=b"")
        r.take("telnet", version("telnet"), version("inetutils-telnetd"))
        for _ in range(2):
            run(["timeout", "3", "curl", "-s", "telnet://127.0.0.1:10024"], input=b"")
        r.take("telnet", version("curl"), version("inetutils-telnetd"))


def capture_redis_inline():
    d = tempfile.mkdtemp()
    with Daemon(["redis-server", "--port", "16392", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", d], 16392):
        r = Relay(16393, 16392)
        for cmd in [b"GET /k\r\n", b"SET /k v\r\n", b"GET /index.html\r\n", b"PING\r\n", b"INFO\r\n",
                    b"GET k\r\n", b"DEL /k\r\n", b"EXISTS /a/b\r\n"]:
            run(["busybox", "nc", "-w", "1", "127.0.0.1", "16393"], input=cmd)
        # The requests are inline commands (no rule: unknown); redis-server
        # answers them in RESP, which is Redis.
        time.sleep(0.3)
        for p in r.client_first:
            add("redis-inline", "request", "tcp", "busybox nc " + version("busybox").split()[1], p)
        for p in r.server_first:
            add("redis", "response", "tcp", version("redis-server"), p)


def capture_neighbours(only=None):
    """First messages of protocols Redline has no rules for; each must come out unknown.
    `only`: names to run (for trying one capture with `--only NAME`). Returns the
    names of the captures that produced nothing."""
    empty = []
    for name, fn in [("postgresql", capture_postgresql), ("memcached", capture_memcached), ("mqtt", capture_mqtt),
                     ("ssh", capture_ssh), ("smtp", capture_smtp), ("imap/pop3", capture_imap_pop3),
                     ("ldap", capture_ldap), ("ftp", capture_ftp), ("rtsp", capture_rtsp), ("http2", capture_http2), ("dns-tcp", capture_dns_tcp),
                     ("sip", capture_sip), ("ntp", capture_ntp), ("nats", capture_nats), ("irc", capture_irc),
                     ("telnet", capture_telnet), ("redis-inline", capture_redis_inline)]:
        if (only is None or name in only) and attempt(name, fn) == 0:
            empty.append(name)
    return empty


def pwd_uid(user):
    import pwd
    return pwd.getpwnam(user).pw_uid


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
        os.execvpe("unshare", ["unshare", "--net", "--", sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    if len(sys.argv) > 2 and sys.argv[1] == "--only":
        capture_neighbours(sys.argv[2].split(","))
        for r in rows:
            print("\t".join(r[:4]), bytes.fromhex(r[4])[:60])
        return
    capture_http_requests()
    capture_nginx_responses()
    capture_redis()
    capture_dns()
    capture_tls()
    empty = capture_neighbours()
    if empty:
        # Never a smaller corpus by accident: the old file stays as it was.
        sys.exit(f"capture.py: no samples from {', '.join(empty)} (see the packages in this script's header); "
                 f"{OUT} left unchanged")
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
