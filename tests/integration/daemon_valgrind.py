#!/usr/bin/env python3
"""daemon_valgrind.py — the daemon under valgrind --leak-check=full: every method, reloads (good, failed,
SIGHUP, the watched directory moved away and back), bad input, pipelining on several connections, a
too-long line, a client that never reads, the connection limit, SIGTERM; no leaks, no errors."""
import os
import shutil
import signal
import sys
import time
import daemon_lib as L
from daemon_lib import check


def traffic(d, seeds):
    """The integration traffic that exercises other paths: pipelining on several connections,
    a too-long line, a client that never reads, the connection limit, a failed and a good
    reload, SIGHUP, and the watched directory removed and put back."""
    conns = [L.Client(d.sock, timeout=120) for _ in range(3)]
    mix = [("search", {"query": "access control", "limit": 20}), ("get", {"id": "Q081"}),
           ("suggest", {"prefix": "ri"}), ("related", {"id": "Q081"}), ("stats", None),
           ("answer", {"query": "data breach"}), ("ping", None)]
    for k, c in enumerate(conns):
        ids = [c.send(*mix[(k + i) % len(mix)]) for i in range(14)]
        got = sorted(c.recv()["id"] for _ in ids)
        check(got == sorted(ids), "pipelined replies: %r" % got)
    over = L.Client(d.sock, timeout=120)
    over.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"search","params":{"query":"'
                  + b"a" * (100 << 10) + b'"}}\n')
    r = over.recv()
    check(r["error"]["code"] == -32600, "too-long line: %r" % r)
    over.close()
    mute = L.Client(d.sock, timeout=120)  # never reads: backpressure, then hangs up
    for i in range(60):
        mute.send("search", {"query": "security policy %d" % i, "limit": 50})
    extra = [L.Client(d.sock, timeout=120) for _ in range(6)]  # over --max-connections 8
    r = extra[-1].recv()
    check(r and r["error"]["code"] == -32002, "connection limit: %r" % r)
    for c in extra + [mute]:
        c.close()
    bad = os.path.join(seeds, "Q999.md")
    with open(bad, "w") as f:
        f.write("query: no id here\n---\nbody\n")
    r = conns[0].call("reload")
    check(r.get("error", {}).get("code") == -32005, "reload with a bad card: %r" % r)
    os.unlink(bad)
    conns[0].result("reload")
    d.send_signal(signal.SIGHUP)
    away = seeds + ".away"
    os.rename(seeds, away)
    time.sleep(3)  # the 1 s poll of the seeds directory sees it gone
    gen = conns[1].result("stats")["index"]["generation"]
    os.rename(away, seeds)
    deadline = time.time() + 120
    while conns[1].result("stats")["index"]["generation"] <= gen:
        check(time.time() < deadline, "the seeds directory came back but was not rebuilt")
        time.sleep(0.5)
    conns[1].result("search", {"query": "what is an isms"})
    for c in conns:
        c.close()
    L.still_answers(d.sock)


def run():
    vg = L.ARGS.valgrind or shutil.which("valgrind")
    if not vg:
        print("skipping: valgrind is not installed")
        return
    seeds = L.copy_seeds()
    index = os.path.join(L.TMP, "index.db")
    d = L.Daemon(["--seeds", seeds, "--index", index, "--watch", "--max-request", "64k",
                  "--max-write-queue", "64k", "--max-connections", "8"],
                 wrapper=[vg, "--error-exitcode=99", "--leak-check=full",
                          "--show-leak-kinds=definite,indirect,possible",
                          "--errors-for-leak-kinds=definite,indirect,possible",
                          "--num-callers=30"], wait=False)
    d.wait_ready(timeout=300)
    c = L.Client(d.sock, timeout=120)
    c.result("search", {"query": "what is an isms", "explain": True, "limit": 5})
    c.result("answer", {"query": "how do we build an isms"})
    c.result("get", {"id": "Q077"})
    c.result("suggest", {"prefix": "acc"})
    c.result("related", {"id": "Q077"})
    c.result("stats")
    c.result("reload")
    c.result("search", {"query": "access control"})
    c.call("get", {"id": "Q999"})
    c.call("search", {"query": "x", "limit": 1000})
    c.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"search","params":{"query":"\xff"}}\n[1,2]\n{"x"\n')
    for _ in range(3):
        c.recv()
    c.send("ping", notification=True)
    # requests in flight when the client goes away
    for i in range(20):
        c.send("search", {"query": "risk %d" % i})
    c.close()
    L.still_answers(d.sock)
    traffic(d, seeds)
    rc = d.stop(signal.SIGTERM, timeout=300, expect=None)
    log = d.log_text()
    check(rc == 0, "valgrind/cardexd exited with %d (99: valgrind found errors or leaks):\n%s"
          % (rc, log[-6000:]))
    check("definitely lost: 0" in log or "no leaks are possible" in log,
          "valgrind leak summary:\n" + log[-4000:])


L.main(run)
