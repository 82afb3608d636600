#!/usr/bin/env python3
"""daemon_load.py — 1,000 simultaneous connections and 10,000 pipelined requests on one connection."""
import json
import resource
import selectors
import socket
import threading
import daemon_lib as L
from daemon_lib import check


def run():
    index = L.build_index()
    d = L.Daemon(["--index", index, "--max-connections", "2000"])

    # 1,000 connections at once, each with a ping and a search in flight (fewer, said
    # loudly, where the hard descriptor limit cannot hold both ends)
    n = 1000
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 2 * n + 100:
        n = max(100, hard // 2 - 100)
        print("note: hard open-file limit %d: testing %d connections instead of 1,000" % (hard, n))
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.sock)
        socks.append(s)
    for i, s in enumerate(socks):
        s.sendall(b'{"jsonrpc":"2.0","id":%d,"method":"ping"}\n'
                  b'{"jsonrpc":"2.0","id":"s%d","method":"search","params":{"query":"risk %d","limit":3}}\n'
                  % (i, i, i))
    c = L.Client(d.sock)
    st = c.result("stats")
    check(st["connections"]["open"] >= n + 1, "open connections: %r" % st["connections"])
    c.close()
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    done = 0
    replies = 0
    while done < n:
        events = sel.select(timeout=30)
        check(events, "no replies for 30 s with %d connections left" % (n - done))
        for key, _ in events:
            s = key.fileobj
            data = s.recv(65536)
            check(data, "a connection closed before its replies")
            bufs[s] += data
            if bufs[s].count(b"\n") == 2:
                for line in bufs[s].split(b"\n")[:2]:
                    r = json.loads(line)
                    check("result" in r, "reply with error under 1,000 connections: %r" % r)
                    replies += 1
                sel.unregister(s)
                s.close()
                done += 1
    check(replies == 2 * n, "replies: %d" % replies)
    L.still_answers(d.sock)

    # 10,000 pipelined requests on one connection, written while replies are read
    c = L.Client(d.sock, timeout=60)
    methods = [("ping", None), ("search", {"query": "access control policy"}),
               ("get", {"id": "Q077"}), ("suggest", {"prefix": "enc"}),
               ("related", {"id": "Q077", "limit": 3}), ("answer", {"query": "what is a dpia"})]
    lines = []
    for i in range(10000):
        m, p = methods[i % len(methods)]
        msg = {"jsonrpc": "2.0", "id": i, "method": m}
        if p:
            msg["params"] = p
        lines.append(json.dumps(msg))
    payload = ("\n".join(lines) + "\n").encode()
    t = threading.Thread(target=lambda: c.s.sendall(payload), daemon=True)
    t.start()
    seen = set()
    for _ in range(10000):
        r = c.recv()
        check(r is not None, "closed after %d replies" % len(seen))
        check("result" in r, "pipelined request %r failed: %r" % (r.get("id"), r.get("error")))
        check(r["id"] not in seen, "duplicate reply %r" % r["id"])
        seen.add(r["id"])
    t.join(10)
    check(seen == set(range(10000)), "missing replies: %d" % (10000 - len(seen)))
    st = c.result("stats")
    check(st["requests"] >= 12000, "stats requests %r" % st["requests"])
    check(st["latency_us"]["p50"] > 0, "latency: %r" % st["latency_us"])
    c.close()
    L.still_answers(d.sock)
    d.stop()


L.main(run)
