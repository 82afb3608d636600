#!/usr/bin/env python3
"""daemon_reload.py — reload (request, SIGHUP, --watch) under load with zero failed requests; a failed rebuild keeps the old index."""
import os
import signal
import threading
import time
import daemon_lib as L
from daemon_lib import check, expect_error


class Load:
    """Clients searching continuously, each with a few requests in flight."""

    def __init__(self, sock, nclients=4, depth=4):
        self.stop = False
        self.ok = 0
        self.failures = []
        self.threads = [threading.Thread(target=self.client, args=(sock, depth), daemon=True)
                        for _ in range(nclients)]
        for t in self.threads:
            t.start()

    def client(self, sock, depth):
        try:
            c = L.Client(sock)
            queries = ["what is an isms", "access control", "Q077", "data breach notification",
                       "risk treatment plan", "annex a 5.15"]
            i = 0
            while not self.stop:
                ids = [c.send("search", {"query": queries[(i + k) % len(queries)]})
                       for k in range(depth)]
                for _ in ids:
                    r = c.recv()
                    if r is None or "result" not in r:
                        self.failures.append(r)
                    else:
                        self.ok += 1
                i += 1
            c.close()
        except Exception as e:  # a closed connection is a failure too
            self.failures.append(repr(e))

    def finish(self):
        self.stop = True
        for t in self.threads:
            t.join(30)
        return self.ok, self.failures


def wait_for(pred, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.1)
    L.fail("timed out waiting for " + what)


def run():
    seeds = L.copy_seeds()
    index = os.path.join(L.TMP, "cache", "index.db")
    os.makedirs(os.path.dirname(index))
    d = L.Daemon(["--seeds", seeds, "--index", index, "--watch", "--log-level", "debug"])
    c = L.Client(d.sock)
    st = c.result("stats")
    cards = st["index"]["cards"]
    check(cards >= 1 and st["reload"]["source"] == "seeds" and st["reload"]["watching"],
          "stats at start: %r" % st)

    load = Load(d.sock)
    time.sleep(0.5)
    # reload requests and SIGHUP while queries run
    for i in range(3):
        r = c.result("reload")
        check(r["reloaded"] is True and r["cards"] == cards, "reload %d: %r" % (i, r))
    gen = c.result("stats")["index"]["generation"]
    d.send_signal(signal.SIGHUP)
    d.send_signal(signal.SIGHUP)
    wait_for(lambda: c.result("stats")["index"]["generation"] > gen, "SIGHUP reload")

    # --watch: a card edited on disk is searchable after the debounce and rebuild
    path = os.path.join(seeds, "Q077.md")
    with open(path) as f:
        text = f.read()
    with open(path + ".tmp", "w") as f:
        f.write(text.replace("What is an Information Security Management System",
                             "What is an Information Security Management System zyzzyvaword", 1))
    os.rename(path + ".tmp", path)

    def found():
        hits = c.result("search", {"query": "zyzzyvaword"})["hits"]
        return any(h["id"] == "Q077" for h in hits)
    wait_for(found, "the edited card to be searchable")

    # a new card appears
    with open(os.path.join(seeds, "Q900.md"), "w") as f:
        f.write("id: Q900\nquery: How do we quarantine a flibbertigibbet?\npacks: [\"SOC2\"]\n---\n"
                "### 900) How do we quarantine a flibbertigibbet?\n\n**Plain-English answer**  \n"
                "Put the flibbertigibbet in a box.\n")
    wait_for(lambda: c.result("stats")["index"]["cards"] == cards + 1, "the new card")

    # a directory moved in (as a checkout does) is indexed, then watched: a card
    # added inside it later is picked up too. (Not an empty directory: index/walk.c
    # passes NULL to qsort for one, which UBSan stops; reported to the builder.)
    staging = os.path.join(L.TMP, "extra")
    os.mkdir(staging)
    def card(n, word):
        return ("id: Q%d\nquery: Where do %s nest?\npacks: [\"SOC2\"]\n---\n"
                "### %d) Where do %s nest?\n\n**Plain-English answer**  \nIn trees.\n"
                % (n, word, n, word))
    with open(os.path.join(staging, "Q902.md"), "w") as f:
        f.write(card(902, "snollygosters"))
    sub = os.path.join(seeds, "extra")
    os.rename(staging, sub)
    wait_for(lambda: c.result("search", {"query": "snollygosters"})["hits"], "a moved-in directory")
    time.sleep(0.5)
    with open(os.path.join(sub, "Q903.md"), "w") as f:
        f.write(card(903, "bandersnatches"))
    wait_for(lambda: c.result("search", {"query": "bandersnatches"})["hits"],
             "a card added inside the new directory")
    cards = c.result("stats")["index"]["cards"] - 1  # the rest of the test counts from here

    # a burst of SIGHUPs coalesces: one build running, at most one more queued
    count = c.result("stats")["reload"]["count"]
    for _ in range(20):
        d.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    wait_for(lambda: not c.result("stats")["reload"]["running"], "the SIGHUP burst to settle")
    time.sleep(0.5)
    wait_for(lambda: not c.result("stats")["reload"]["running"], "the SIGHUP burst to settle")
    done = c.result("stats")["reload"]["count"] - count
    check(1 <= done <= 4, "20 SIGHUPs ran %d builds" % done)

    # a bad card: the rebuild fails, the old index keeps serving, stats and reload say why
    before = c.result("stats")
    with open(os.path.join(seeds, "Q901.md"), "w") as f:
        f.write("query: a card without an id\n  bad: [indent\n---\nbody\n")
    wait_for(lambda: c.result("stats")["reload"]["last_ok"] is False, "the failed rebuild")
    st = c.result("stats")
    check(st["reload"]["last_error"] and st["reload"]["failures"] >= 1, "stats.reload: %r" % st["reload"])
    check(st["index"]["generation"] == before["index"]["generation"], "a failed build swapped")
    e = expect_error(c.call("reload"), -32005)
    check(any("Q901.md" in x for x in e["data"]["diagnostics"]), "diagnostics: %r" % e["data"])
    check(c.result("search", {"query": "flibbertigibbet"})["hits"], "old index no longer serves")
    os.unlink(os.path.join(seeds, "Q901.md"))
    wait_for(lambda: c.result("stats")["reload"]["last_ok"] is True, "recovery after the fix")

    ok, failures = load.finish()
    check(not failures, "%d requests failed during reloads: %r" % (len(failures), failures[:3]))
    check(ok > 100, "too little load during the test: %d" % ok)
    print("reload under load: %d searches, 0 failed" % ok)

    # A released generation's file is closed by every worker at once, not at each
    # worker's next query: a reload on a nearly full disk needs that space. Both
    # workers search the current generation, a new card makes --watch replace it,
    # and nothing but stats (answered on the loop) is asked until the old file is
    # closed everywhere.
    for _ in range(50):
        c.result("search", {"query": "risk treatment plan"})
    with open(os.path.join(seeds, "Q904.md"), "w") as f:
        f.write(card(904, "jabberwocks"))
    wait_for(lambda: c.result("stats")["index"]["cards"] == cards + 2, "the card Q904")

    def deleted_open():
        fds = "/proc/%d/fd" % d.proc.pid
        out = []
        for fd in os.listdir(fds):
            try:
                target = os.readlink(os.path.join(fds, fd))
            except OSError:
                continue
            if target.startswith(L.TMP) and target.endswith("(deleted)"):
                out.append(target)
        return out
    deadline = time.time() + 20
    while deleted_open() and time.time() < deadline:
        time.sleep(0.1)
    check(not deleted_open(), "replaced index files still open: %r" % deleted_open())
    check(c.result("search", {"query": "jabberwocks"})["hits"], "Q904 not searchable")
    c.close()
    L.still_answers(d.sock)
    log = d.log_text()
    check("reload failed" in log or "failed:" in log, "the failed rebuild is not logged")
    d.stop()


L.main(run)
