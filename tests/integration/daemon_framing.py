#!/usr/bin/env python3
"""daemon_framing.py — hostile and sloppy clients: huge lines, garbage, hang-ups, clients that never read."""
import os
import random
import socket
import time
import daemon_lib as L
from daemon_lib import check, expect_error



def run():
    index = L.build_index()
    d = L.Daemon(["--index", index, "--max-write-queue", "256K", "--log-level", "info"])

    # a 10 MB line: -32600 then the connection is closed; memory stays bounded
    for tail in (b"\n", b""):
        c = L.Client(d.sock)
        t = L.send_in_background(c.s, b'{"jsonrpc":"2.0","id":1,"method":"search","params":{"query":"'
                               + b"a" * (10 * 1024 * 1024) + b'"}}' + tail)
        e = expect_error(c.recv(), -32600)
        check(e["data"]["reason"] == "line too long" and e["data"]["limit"] == 1048576,
              "too long data: %r" % e)
        c.expect_eof()
        t.join(10)
        c.close()
    check(L.rss_kb(d.proc.pid) < 200 * 1024, "RSS after 10 MB lines: %d kB" % L.rss_kb(d.proc.pid))
    L.still_answers(d.sock)

    # binary garbage, then a real request on the same connection
    c = L.Client(d.sock)
    rnd = random.Random(7)
    garbage = bytes(rnd.getrandbits(8) for _ in range(64 * 1024))
    c.send_raw(garbage + b'\n{"jsonrpc":"2.0","id":"after","method":"ping"}\n')
    n = 0
    while True:
        r = c.recv()
        check(r is not None, "connection closed after garbage")
        if r.get("id") == "after":
            check(r["result"]["pong"], "ping after garbage: %r" % r)
            break
        check(r["error"]["code"] in (-32700, -32600), "garbage got %r" % r)
        n += 1
    check(n > 0, "garbage produced no parse errors")
    c.close()

    # half a request, then hang up (no reply possible; the daemon must not mind)
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.sock)
        s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"sea')
        s.close()
    # half a request, then end of input: it is the last line, and gets its parse error
    s = socket.socket(socket.AF_UNIX)
    s.connect(d.sock)
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n{"jsonrpc":"2.0","id":2,"method":"sea')
    s.shutdown(socket.SHUT_WR)
    c = L.Client.__new__(L.Client)
    c.s, c.buf = s, b""
    s.settimeout(10)
    check(c.recv()["id"] == 1, "first line before EOF")
    expect_error(c.recv(), -32700)
    c.expect_eof()
    # a complete last line without '\n' is answered
    s = socket.socket(socket.AF_UNIX)
    s.connect(d.sock)
    s.sendall(b'{"jsonrpc":"2.0","id":3,"method":"search","params":{"query":"isms"}}')
    s.shutdown(socket.SHUT_WR)
    c.s, c.buf = s, b""
    r = c.recv()
    check(r["id"] == 3 and "result" in r, "last line without newline: %r" % r)
    c.expect_eof()
    L.still_answers(d.sock)

    # a client that never reads: the daemon stops reading from it, others are served,
    # memory stays bounded
    lazy = socket.socket(socket.AF_UNIX)
    lazy.connect(d.sock)
    lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reqs = b"".join(b'{"jsonrpc":"2.0","id":%d,"method":"get","params":{"id":"Q077"}}\n' % i
                    for i in range(20000))
    t = L.send_in_background(lazy, reqs)
    time.sleep(1.0)
    other = L.Client(d.sock)
    t0 = time.time()
    for i in range(50):
        other.result("search", {"query": "data protection impact assessment"})
    check(time.time() - t0 < 10, "others starve while one client does not read")
    other.close()
    rss = L.rss_kb(d.proc.pid)
    check(rss < 200 * 1024, "RSS with a client that never reads: %d kB" % rss)
    lazy.close()
    t.join(10)
    L.still_answers(d.sock)
    d.stop()

    # a client that stops reading for a while, then reads everything: every reply arrives
    # (reading pauses while the replies pile up and must resume once they are written)
    d3 = L.Daemon(["--index", index, "--max-write-queue", "16K"])
    slow = L.Client(d3.sock, timeout=30)
    slow.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    n = 3000
    t = L.send_in_background(slow.s, b"".join(
        b'{"jsonrpc":"2.0","id":%d,"method":"%s"}\n' % (i, b"stats" if i % 2 else b"ping")
        for i in range(n)))
    time.sleep(1.5)
    ids = set()
    for _ in range(n):
        r = slow.recv()
        check(r is not None and "result" in r, "reply %d after a pause: %r" % (len(ids), r))
        ids.add(r["id"])
    check(ids == set(range(n)), "missing replies after the pause: %d" % (n - len(ids)))
    t.join(10)
    slow.close()
    d3.stop()

    # --max-request and --idle-timeout
    d2 = L.Daemon(["--index", index, "--max-request", "1K", "--idle-timeout", "1"])
    c = L.Client(d2.sock)
    c.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"search","params":{"query":"' + b"x" * 2000 +
               b'"}}\n')
    e = expect_error(c.recv(), -32600)
    check(e["data"]["limit"] == 1024, "max-request data: %r" % e)
    c.expect_eof()
    c = L.Client(d2.sock)
    c.result("ping")
    t0 = time.time()
    c.expect_eof(timeout=10)
    waited = time.time() - t0
    check(0.5 <= waited < 5, "idle timeout after %.1f s" % waited)
    # activity keeps a connection open
    c = L.Client(d2.sock)
    for _ in range(6):
        c.result("ping")
        time.sleep(0.4)
    c.close()
    L.still_answers(d2.sock)
    d2.stop()


L.main(run)
