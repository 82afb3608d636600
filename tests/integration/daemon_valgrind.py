#!/usr/bin/env python3
"""daemon_valgrind.py — the daemon under valgrind --leak-check=full: every method, a reload, bad input, SIGTERM; no leaks, no errors."""
import os
import shutil
import signal
import sys
import daemon_lib as L
from daemon_lib import check


def run():
    vg = L.ARGS.valgrind or shutil.which("valgrind")
    if not vg:
        print("skipping: valgrind is not installed")
        return
    seeds = L.copy_seeds()
    index = os.path.join(L.TMP, "index.db")
    d = L.Daemon(["--seeds", seeds, "--index", index, "--watch"],
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
    rc = d.stop(signal.SIGTERM, timeout=300, expect=None)
    log = d.log_text()
    check(rc == 0, "valgrind/cardexd exited with %d (99: valgrind found errors or leaks):\n%s"
          % (rc, log[-6000:]))
    check("definitely lost: 0" in log or "no leaks are possible" in log,
          "valgrind leak summary:\n" + log[-4000:])


L.main(run)
