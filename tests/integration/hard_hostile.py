#!/usr/bin/env python3
"""hard_hostile.py — a well-behaved client's latency with and without hostile clients hitting the daemon at
the same time: slowloris (a byte a second), clients that never read, thousands of idle connections,
oversized lines, 100k-deep nested JSON, invalid UTF-8, huge limits and huge queries. Fails on errors
for the good client, on wrong answers to the hostile ones, or on a gross latency regression
(p99 above max(20 x baseline p99, 100 ms)). Prints the numbers (docs/reliability.md quotes them).

    hard_hostile.py --cardexd … --cardex-index … --seeds … [--json OUT] [--seconds S]
"""
import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
import daemon_lib as L
from daemon_lib import check

GOOD_QUERIES = [("search", {"query": "what is an isms"}), ("search", {"query": "access control"}),
                ("answer", {"query": "how do we report a data breach"}), ("get", {"id": "Q077"}),
                ("suggest", {"prefix": "risk tr"}), ("search", {"query": "Q081"}),
                ("related", {"id": "Q077", "limit": 5}),
                ("search", {"query": "supplier security", "packs": ["ISO27001:2022"]})]


def percentile(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def good_client(sock, seconds, min_requests=200):
    """Sequential requests on one connection; returns latencies in ms (fails on any error)."""
    c = L.Client(sock, timeout=30)
    lat = []
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end or len(lat) < min_requests:
        method, params = GOOD_QUERIES[i % len(GOOD_QUERIES)]
        t0 = time.perf_counter()
        r = c.call(method, params)
        lat.append((time.perf_counter() - t0) * 1000)
        if "result" not in r:
            L.fail("the good client got an error under hostile load: %r" % r)
        i += 1
        time.sleep(0.002)  # a person's editor, not a benchmark
    c.close()
    return lat


# ---- the hostile side (run in its own process, so it does not share our GIL) ---

class Hostile:
    def __init__(self, sock, nconns):
        self.sock = sock
        self.nconns = nconns
        self.stop = threading.Event()
        self.counts = {}
        self.problems = []
        self.lock = threading.Lock()

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def problem(self, msg):
        with self.lock:
            self.problems.append(msg)

    def expect(self, c, what, code):
        """Reads one reply on blocking client c and checks its error code."""
        r = c.recv()
        if r is None or r.get("error", {}).get("code") != code:
            self.problem("%s: expected error %d, got %r" % (what, code, r and str(r)[:200]))
        else:
            self.count(what)

    def loop(self, what, fn):
        while not self.stop.is_set():
            try:
                fn()
            except (OSError, SystemExit) as e:
                self.problem("%s: %r" % (what, e))
                time.sleep(0.2)

    def oversized(self):
        c = L.Client(self.sock, timeout=30)
        try:
            c.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"search","params":{"query":"'
                       + b"a" * (2 << 20) + b'"}}\n')
        except OSError:
            pass  # the daemon may close before we finish writing: that is the point
        r = c.recv()
        if r is None or r.get("error", {}).get("code") != -32600:
            self.problem("oversized: expected -32600, got %r" % (r and str(r)[:200]))
        else:
            self.count("oversized line (2 MiB): -32600 + close")
        c.close()

    def nested(self):
        c = L.Client(self.sock, timeout=30)
        deep = b"[" * 100000 + b"]" * 100000
        obj = (b'{"jsonrpc":"2.0","id":2,"method":"search","params":{"query":"x","packs":'
               + b"[" * 50000 + b"]" * 50000 + b"}}")
        for _ in range(5):
            c.send_raw(deep + b"\n")
            self.expect(c, "100k nested arrays: -32700", -32700)
            c.send_raw(obj + b"\n")
            self.expect(c, "50k nested params: -32700", -32700)
        c.close()

    def bad_utf8(self):
        c = L.Client(self.sock, timeout=30)
        for _ in range(20):
            c.send_raw(b'{"jsonrpc":"2.0","id":3,"method":"search","params":{"query":"\xff\xfe\xc3("}}\n')
            self.expect(c, "invalid UTF-8: -32700", -32700)
        c.close()

    def huge_limits(self):
        c = L.Client(self.sock, timeout=30)
        # Beyond int64 the number is not JSON jansson reads: a parse error, not a param error.
        c.send_raw(b'{"jsonrpc":"2.0","id":4,"method":"search","params":{"query":"isms",'
                   b'"limit":99999999999999999999999}}\n')
        self.expect(c, "limit beyond int64: -32700", -32700)
        for params in [{"query": "isms", "limit": 10 ** 9}, {"query": "isms", "offset": 2 ** 31},
                       {"query": "isms", "limit": 2 ** 62}, {"query": "isms", "limit": 1.5e300}]:
            r = c.call("search", params)
            if r.get("error", {}).get("code") != -32602:
                self.problem("huge limit %r: %r" % (params, str(r)[:200]))
            else:
                self.count("huge limit/offset: -32602")
        r = c.call("suggest", {"prefix": "a", "limit": 10 ** 6})
        if r.get("error", {}).get("code") != -32602:
            self.problem("huge suggest limit: %r" % str(r)[:200])
        # The largest allowed work: limit 100 with explain, and a 500 KB query of words.
        r = c.call("search", {"query": "security " * 10, "limit": 100, "explain": True})
        if "result" not in r:
            self.problem("limit 100: %r" % str(r)[:200])
        words = " ".join("w%dx" % i for i in range(60000))
        r = c.call("search", {"query": words})
        code = r.get("error", {}).get("code")
        if "result" not in r and code != -32003:
            self.problem("500 KB query: %r" % str(r)[:300])
        self.count("500 KB query: %s" % ("answered" if "result" in r else "timeout -32003"))
        c.close()

    def non_reader(self):
        """Writes searches as fast as the daemon takes them and never reads a reply."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        s.settimeout(0.5)
        line = (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "search",
                            "params": {"query": "information security policy", "limit": 100}})
                + "\n").encode() * 64
        sent = 0
        while not self.stop.is_set():
            try:
                sent += s.send(line)
            except socket.timeout:
                pass  # the daemon stopped reading from us: backpressure works
        self.count("non-reading client: bytes written before backpressure", sent)
        s.close()

    def slowloris_and_idle(self):
        """Thousands of idle connections, and some that send a request a byte a second."""
        sel = selectors.DefaultSelector()
        idle = []
        for _ in range(self.nconns):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.sock)
            except OSError as e:
                self.problem("connect #%d: %r" % (len(idle), e))
                break
            idle.append(s)
        self.count("idle connections held", len(idle))
        slow = idle[:20]
        req = b'{"jsonrpc":"2.0","id":"slow","method":"ping"}\n'
        pos = 0
        while not self.stop.is_set() and pos < len(req) - 1:
            for s in slow:
                s.send(req[pos:pos + 1])
            pos += 1
            self.stop.wait(1.0)
        self.count("slowloris bytes sent (each of 20)", pos)
        # The slow ones finish their line: each must still get its answer.
        for s in slow:
            s.settimeout(10)
            s.sendall(req[pos:])
        for s in slow:
            buf = b""
            try:
                while b"\n" not in buf:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
            except OSError as e:
                self.problem("slowloris reply: %r" % e)
            if b'"pong":true' in buf and b'"slow"' in buf:
                self.count("slowloris requests answered")
            else:
                self.problem("slowloris: no pong after the last byte: %r" % buf[:200])
        for s in idle:
            s.close()

    def run(self, seconds):
        jobs = [("slowloris+idle", self.slowloris_and_idle)]
        jobs += [("non-reader", self.non_reader) for _ in range(4)]
        jobs += [(name, (lambda fn=fn, name=name: self.loop(name, fn)))
                 for name, fn in [("oversized", self.oversized), ("nested", self.nested),
                                  ("bad utf-8", self.bad_utf8), ("huge limits", self.huge_limits)]]
        threads = [threading.Thread(target=fn, daemon=True) for _, fn in jobs]
        for t in threads:
            t.start()
        print("hostile: started", flush=True)
        time.sleep(seconds)
        self.stop.set()
        for t in threads:
            t.join(60)
        print(json.dumps({"counts": self.counts, "problems": self.problems[:20]}), flush=True)


def hostile_main():
    sock, seconds, nconns = sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, nconns + 1000), hard))
    Hostile(sock, nconns).run(seconds)


# ---- the test ----------------------------------------------------------------

def run():
    seconds = L.ARGS.seconds
    nconns = 2000
    index = L.build_index()
    d = L.Daemon(["--index", index, "--max-connections", str(nconns + 200),
                  "--log-level", "warn"])
    good_client(d.sock, 1)  # warm-up: every worker opens the index
    base = good_client(d.sock, seconds)
    rss0 = L.rss_kb(d.proc.pid)

    h = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--hostile", d.sock,
                          str(seconds + 8), str(nconns)], stdout=subprocess.PIPE, text=True)
    check(h.stdout.readline().strip() == "hostile: started", "the hostile load did not start")
    time.sleep(3)  # connections opened, non-readers blocked, slowloris under way
    loaded = good_client(d.sock, seconds)
    rss1 = L.rss_kb(d.proc.pid)
    out, _ = h.communicate(timeout=180)
    check(h.returncode == 0, "the hostile process failed (%d)" % h.returncode)
    report = json.loads(out.strip().splitlines()[-1])
    L.still_answers(d.sock)
    stats = L.Client(d.sock).result("stats")
    d.stop()

    res = {
        "baseline": {"n": len(base), "p50_ms": round(percentile(base, .5), 3),
                     "p99_ms": round(percentile(base, .99), 3), "max_ms": round(max(base), 3)},
        "hostile": {"n": len(loaded), "p50_ms": round(percentile(loaded, .5), 3),
                    "p99_ms": round(percentile(loaded, .99), 3), "max_ms": round(max(loaded), 3)},
        "hostile_clients": report["counts"],
        "daemon": {"rss_mb_before": rss0 // 1024, "rss_mb_under_load": rss1 // 1024,
                   "requests": stats["requests"], "errors": stats["errors"],
                   "connections_total": stats["connections"]["total"]},
    }
    print(json.dumps(res, indent=1))
    if L.ARGS.json:
        with open(L.ARGS.json, "w") as f:
            json.dump(res, f, indent=1)
    check(not report["problems"], "hostile clients were not answered as the protocol says: %r"
          % report["problems"])
    for what in ["idle connections held", "slowloris requests answered",
                 "oversized line (2 MiB): -32600 + close", "100k nested arrays: -32700",
                 "invalid UTF-8: -32700", "huge limit/offset: -32602"]:
        check(report["counts"].get(what), "no %r happened: %r" % (what, report["counts"]))
    check(report["counts"]["idle connections held"] >= nconns, "fewer connections than asked")
    check(report["counts"]["slowloris requests answered"] == 20, "slowloris: %r" % report["counts"])
    limit = max(20 * res["baseline"]["p99_ms"], 100.0)
    check(res["hostile"]["p99_ms"] <= limit,
          "the good client's p99 under hostile load is %.1f ms, over %.1f ms (20x the baseline "
          "%.2f ms, or 100 ms)" % (res["hostile"]["p99_ms"], limit, res["baseline"]["p99_ms"]))
    check(rss1 < 1024 * 1024, "daemon RSS under hostile load: %d MB" % (rss1 // 1024))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--hostile":
        hostile_main()
    else:
        def extra(p):
            p.add_argument("--json")
            p.add_argument("--seconds", type=float, default=8)
        L.main(run, extra)
