#!/usr/bin/env python3
"""hard_faults.py — faults: a full disk during a build, corrupt and truncated index files at start and at
reload, a watched card directory that disappears and comes back, kill -9 during a daemon's rebuild, an
index of zero cards. The old index always keeps serving and every failure names its file."""
import os
import shutil
import signal
import subprocess
import time
import daemon_lib as L
from daemon_lib import check, expect_error


def stats(sock):
    c = L.Client(sock)
    s = c.result("stats")
    c.close()
    return s


def searchable(sock, query="what is an isms"):
    """A search that must succeed, with at least one hit."""
    c = L.Client(sock)
    r = c.result("search", {"query": query, "limit": 3})
    c.close()
    check(r["hits"], "search %r found nothing" % query)
    return r


def wait_for(what, cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    L.fail("timed out after %ds waiting for %s" % (timeout, what))


def index_ok(path):
    """The index opens and serves a card (through the tool, without a daemon)."""
    return subprocess.run([L.ARGS.cardex_index, "dump", "Q077", "--index", path],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


# ---- full disk --------------------------------------------------------------

class SmallDisk:
    """A directory where writing more than `size` bytes fails: a tmpfs of that size when we may
    mount one (root), else nothing (RLIMIT_FSIZE is applied to the processes instead)."""

    def __init__(self, size):
        self.size = size
        self.path = os.path.join(L.TMP, "small-disk")
        os.makedirs(self.path)
        self.mounted = False
        # CX_TEST_NO_TMPFS=1 takes the unprivileged path even as root.
        if os.geteuid() == 0 and shutil.which("mount") and not os.environ.get("CX_TEST_NO_TMPFS"):
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0700" % size, "tmpfs",
                                self.path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.mounted = r.returncode == 0
            if not self.mounted:
                print("note: cannot mount a tmpfs (%s); using RLIMIT_FSIZE" % r.stderr.strip())

    def preexec(self):
        """For a child process: without a small tmpfs, limit the size of any file it writes
        (SIGXFSZ ignored, so writes fail with EFBIG as on a full disk)."""
        if self.mounted:
            return None
        size = self.size

        def limit():
            import resource
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        return limit

    def close(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.path])
            self.mounted = False


def add_generated_cards(seeds, n):
    gen = L.ARGS.gen_cards
    out = os.path.join(seeds, "generated")
    subprocess.run([gen, str(n), out, "7"], check=True, stdout=subprocess.DEVNULL)
    return out


def test_full_disk():
    if not L.ARGS.gen_cards:
        print("full disk: skipped (no --gen-cards)")
        return
    # seeds/ indexes to about 4 MB; with 700 more cards the index needs more than 12 MB.
    disk = SmallDisk(12 << 20)
    try:
        seeds = L.copy_seeds("seeds-disk")
        index = os.path.join(disk.path, "index.db")
        # The tool: a first build fits, the bigger one fails naming the file, the old one stays.
        r = subprocess.run([L.ARGS.cardex_index, "build", seeds, "-o", index],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=disk.preexec())
        check(r.returncode == 0, "first build on the small disk failed: %s" % r.stderr)
        before = open(index, "rb").read()
        extra = add_generated_cards(seeds, 700)
        r = subprocess.run([L.ARGS.cardex_index, "build", seeds, "-o", index],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=disk.preexec())
        check(r.returncode != 0, "a build larger than the disk succeeded:\n%s" % r.stderr)
        why = "disk is full; free some disk space" if disk.mounted else "File too large"
        check(disk.path in r.stderr and why in r.stderr and "could not be reused" not in r.stderr,
              "the full-disk error should name the file and say %r:\n%s" % (why, r.stderr))
        check(open(index, "rb").read() == before and index_ok(index),
              "a failed build changed the old index")
        left = [f for f in os.listdir(disk.path) if f != "index.db"]
        check(not left, "a failed build left files behind on the full disk: %r" % left)
        print("full disk (tool, %s): %s" % ("tmpfs" if disk.mounted else "RLIMIT_FSIZE",
                                              " | ".join(r.stderr.strip().splitlines()[-3:])))

        # The daemon: its reload fails with -32005, the old index keeps serving, and once
        # the cards are gone again the next reload works (no temp file kept the space).
        shutil.rmtree(extra)
        d = L.Daemon(["--seeds", seeds, "--index", index, "--watch"], preexec=disk.preexec())
        s0 = stats(d.sock)
        watched = s0["reload"]["watched_dirs"]
        add_generated_cards(seeds, 700)
        c = L.Client(d.sock, timeout=120)
        time.sleep(1.0)  # let --watch's own rebuild (which fails too) come and go
        e = expect_error(c.call("reload"), -32005)
        check(disk.path in e["message"] and why in e["message"],
              "reload error should name the file and say %r: %r" % (why, e))
        searchable(d.sock)
        s = stats(d.sock)
        # (--watch may have built a smaller index while the cards were being written.)
        check(s["reload"]["last_ok"] is False and s["reload"]["failures"] >= 1,
              "after a failed reload: %r" % s["reload"])
        check(s["reload"]["watched_dirs"] >= watched,
              "a failed build stopped --watch: %r (was %d)" % (s["reload"], watched))
        left = [f for f in os.listdir(disk.path) if f != "index.db" and ".serving-" not in f]
        check(not left, "a failed reload left files behind on the full disk: %r" % left)
        print("full disk (daemon): %s" % e["message"][:200])
        shutil.rmtree(extra)
        # --watch sees the cards go (it still watches after the failures) and rebuilds.
        def rebuilt():
            st = stats(d.sock)
            return st["reload"]["last_ok"] and not st["reload"]["running"] and \
                st["index"]["cards"] == cards0
        cards0 = s0["index"]["cards"]
        wait_for("--watch to rebuild once the space is free", rebuilt, timeout=60)
        r = c.result("reload")
        check(r["reloaded"] and r["cards"] == cards0, "reload after freeing space: %r" % r)
        c.close()
        d.stop()
    finally:
        disk.close()


# ---- corrupt and truncated index files ---------------------------------------

def corrupt_variants(good):
    data = open(good, "rb").read()
    out = {}
    for name, content in [("random", os.urandom(len(data) // 4)),
                          ("truncated-half", data[:len(data) // 2]),
                          ("truncated-99pct", data[:len(data) * 99 // 100]),
                          ("header-only", data[:100]),
                          ("text", b"this is not an index\n")]:
        p = os.path.join(L.TMP, "bad-%s.db" % name)
        with open(p, "wb") as f:
            f.write(content)
        out[name] = p
    return out


def test_corrupt_index():
    good = L.build_index()
    for name, path in corrupt_variants(good).items():
        d = L.Daemon(["--index", path], wait=False, name="corrupt")
        try:
            rc = d.proc.wait(60)
        except subprocess.TimeoutExpired:
            L.fail("cardexd kept running on a %s index file" % name)
        log = d.log_text()
        d.log.close()
        check(rc != 0, "cardexd exited 0 on a %s index file" % name)
        check(path in log and ("corrupt" in log or "not a cardex index" in log),
              "start-up on a %s index: the message should name the file and say why:\n%s"
              % (name, log))
        check(not os.path.exists(d.sock), "a socket was left behind by a refused start")
    print("corrupt index at start: refused (5 kinds)")

    # At reload: the running index keeps serving; the file is swapped as an admin would
    # (rename over it), then put back.
    index = os.path.join(L.TMP, "served.db")
    shutil.copy(good, index)
    d = L.Daemon(["--index", index])
    c = L.Client(d.sock)
    gen0 = c.result("stats")["index"]["generation"]
    for name, path in corrupt_variants(good).items():
        tmp = index + ".new"
        shutil.copy(path, tmp)
        os.rename(tmp, index)
        e = expect_error(c.call("reload"), -32005)
        check(index in e["message"], "reload of a %s index: error should name the file: %r"
              % (name, e))
        searchable(d.sock)
        r = c.result("get", {"id": "Q077"})
        check(r["id"] == "Q077", "get after a failed reload: %r" % r)
    s = c.result("stats")
    check(s["index"]["generation"] == gen0 and s["reload"]["failures"] == 5,
          "after 5 failed reloads: %r" % s["reload"])
    shutil.copy(good, index + ".new")
    os.rename(index + ".new", index)
    r = c.result("reload")
    check(r["generation"] == gen0 + 1, "reload of the good file again: %r" % r)
    c.close()
    d.stop()
    print("corrupt index at reload: refused, old index kept serving")


def test_in_place_overwrite():
    """`cp new.db index.db` writes into the served inode. Without --mmap the daemon must
    survive it (queries may fail with -32603 until a reload), and reload onto a good file."""
    good = L.build_index()
    index = os.path.join(L.TMP, "in-place.db")
    shutil.copy(good, index)
    d = L.Daemon(["--index", index, "--threads", "2"])
    c = L.Client(d.sock)
    for q in ("what is an isms", "access control", "risk"):
        c.result("search", {"query": q})
    with open(index, "r+b") as f:  # in place: same inode, now shorter and different
        f.truncate(0)
        f.write(b"SQLite format 3\0" + os.urandom(20000))
    for q in ("supplier security", "data breach", "what is an isms", "Q077"):
        for r in (c.call("search", {"query": q}), c.call("get", {"id": "Q081"})):
            check("result" in r or r["error"]["code"] in (-32603, -32001),
                  "after an in-place overwrite: %r" % r)
            if r.get("error", {}).get("code") == -32603:
                check(index in r["error"]["message"] and ".serving-" not in r["error"]["message"]
                      and ".serving-" not in r["error"]["data"]["reason"],
                      "the error should name the index file: %r" % r["error"])
    check(d.proc.poll() is None, "the daemon died after its index was overwritten in place:\n%s"
          % d.log_text()[-2000:])
    L.still_answers(d.sock)
    shutil.copy(good, index + ".new")
    os.rename(index + ".new", index)
    c.result("reload")
    searchable(d.sock)
    c.close()
    d.stop()
    print("index overwritten in place: the daemon survives, reload recovers")


def test_damaged_tables():
    """Valid SQLite, damaged content: the engine's own tables rewritten with garbage. Every
    method answers a result or -32603 and the daemon lives (under ASan/UBSan: no memory error,
    no undefined behaviour in the decoders)."""
    import sqlite3
    good = L.build_index()
    damages = ["UPDATE cx_postings SET data = randomblob(length(data))",
               "UPDATE cx_postings SET data = substr(data, 1, length(data) / 2)",
               "UPDATE cx_postings SET data = x'', df = 1000000, maxq = -5",
               "UPDATE cx_hits SET hit = 'not json'",
               "UPDATE cx_hits SET hit = '{}', plain = NULL, others = '[1,2'",
               "UPDATE cx_hits SET hit = '{\"question\":7,\"title\":[1],\"packs\":{}}'",
               "UPDATE cx_words SET df = -1, stem = ''",
               "DELETE FROM cx_words"]
    for k, sql in enumerate(damages):
        index = os.path.join(L.TMP, "damaged-%d.db" % k)
        shutil.copy(good, index)
        db = sqlite3.connect(index)
        db.execute(sql)
        db.commit()
        db.close()
        d = L.Daemon(["--index", index], name="damaged")
        c = L.Client(d.sock)
        for method, params in [("search", {"query": "what is an isms", "explain": True}),
                               ("search", {"query": "acess controll polcy", "limit": 50}),
                               ("search", {"query": "", "id_prefix": "Q0"}),
                               ("answer", {"query": "how do we build an isms"}),
                               ("suggest", {"prefix": "risk tr"}), ("get", {"id": "Q077"}),
                               ("related", {"id": "Q077"}), ("related", {"id": "Q001"})]:
            r = c.call(method, params)
            check("result" in r or r["error"]["code"] in (-32603, -32001),
                  "%s on an index with %r: %r" % (method, sql, r))
        c.close()
        L.still_answers(d.sock)
        d.stop()
    print("engine tables damaged (%d ways): every method answers, the daemon lives" % len(damages))


# ---- a watched card directory that disappears ----------------------------------

def test_watched_dir_disappears():
    seeds = L.copy_seeds("seeds-watch")
    index = os.path.join(L.TMP, "watch.db")
    d = L.Daemon(["--seeds", seeds, "--index", index, "--watch"])
    gen0 = stats(d.sock)["index"]["generation"]
    away = seeds + ".away"
    os.rename(seeds, away)
    time.sleep(1.0)
    searchable(d.sock)  # still serving
    shutil.rmtree(away)
    # A rebuild may have been tried (and failed) meanwhile; the index must still serve.
    time.sleep(1.0)
    searchable(d.sock)
    wait_for("the daemon to log that the cards directory is gone",
             lambda: "seeds-watch is gone" in d.log_text(), timeout=30)
    # The directory comes back with a new card: the daemon notices and serves it.
    shutil.copytree(L.ARGS.seeds, seeds)
    with open(os.path.join(seeds, "Q990.md"), "w") as f:
        f.write("id: Q990\nquery: Is the zebracorn policy watched again?\n---\n"
                "**Plain-English answer**  \nThe zebracorn policy came back.\n")
    wait_for("the recreated directory to be indexed",
             lambda: stats(d.sock)["index"]["generation"] > gen0 and
             L.Client(d.sock).result("search", {"query": "zebracorn"})["hits"], timeout=30)
    # And it is watched again: a further change is picked up too.
    with open(os.path.join(seeds, "Q991.md"), "w") as f:
        f.write("id: Q991\nquery: Is the quokkafish card seen?\n---\n"
                "**Plain-English answer**  \nYes.\n")
    wait_for("a change in the recreated directory",
             lambda: L.Client(d.sock).result("search", {"query": "quokkafish"})["hits"], timeout=30)
    # A subdirectory replaced in one go (rm -rf and copy back, a branch switch): the new
    # directory is watched, not the deleted one under the same path.
    sub = os.path.join(seeds, "sub")
    os.mkdir(sub)
    with open(os.path.join(sub, "Q992.md"), "w") as f:
        f.write("id: Q992\nquery: Is the wombatfern card here?\n---\n"
                "**Plain-English answer**  \nYes.\n")
    wait_for("a card in a new subdirectory",
             lambda: L.Client(d.sock).result("search", {"query": "wombatfern"})["hits"], timeout=30)
    wait_for("the rebuild of the new subdirectory to end",
             lambda: not stats(d.sock)["reload"]["running"], timeout=30)
    gen = stats(d.sock)["index"]["generation"]
    shutil.rmtree(sub)
    os.mkdir(sub)
    with open(os.path.join(sub, "Q992.md"), "w") as f:
        f.write("id: Q992\nquery: Is the wombatfern card here?\n---\n"
                "**Plain-English answer**  \nYes.\n")
    wait_for("the rebuild after the subdirectory was replaced",
             lambda: stats(d.sock)["index"]["generation"] > gen and
             not stats(d.sock)["reload"]["running"], timeout=30)
    time.sleep(0.5)
    with open(os.path.join(sub, "Q993.md"), "w") as f:
        f.write("id: Q993\nquery: Is the numbatleaf card seen?\n---\n"
                "**Plain-English answer**  \nYes.\n")
    wait_for("a change inside the replaced subdirectory",
             lambda: L.Client(d.sock).result("search", {"query": "numbatleaf"})["hits"], timeout=30)
    d.stop()
    print("watched directory removed and recreated (the root, and a subdirectory replaced at "
          "once): kept serving, recovered")


# ---- kill -9 during a daemon's rebuild ----------------------------------------

def test_kill_during_rebuild():
    if not L.ARGS.gen_cards:
        print("kill during rebuild: skipped (no --gen-cards)")
        return
    seeds = L.copy_seeds("seeds-kill")
    index = os.path.join(L.TMP, "kill.db")
    d = L.Daemon(["--seeds", seeds, "--index", index])
    cards0 = stats(d.sock)["index"]["cards"]
    d.stop()
    add_generated_cards(seeds, 1500)
    for attempt, delay in enumerate([0.05, 0.2, 0.5]):
        before = open(index, "rb").read()
        d = L.Daemon(["--seeds", seeds, "--index", index, "--log-level", "debug"], wait=False,
                     name="kill")
        time.sleep(delay)
        d.proc.kill()
        d.proc.wait()
        d.log.close()
        after = open(index, "rb").read()
        # Either the old index untouched, or (if the build had finished) a complete new one.
        check(after == before or index_ok(index),
              "kill -9 after %.2fs left a broken index" % delay)
        # The old (or new) index serves at once from --index alone.
        d2 = L.Daemon(["--index", index], name="after-kill")
        s = stats(d2.sock)
        check(s["index"]["cards"] in (cards0, cards0 + 1500), "cards after kill: %r" % s["index"])
        searchable(d2.sock)
        d2.stop()
    # Temp files of killed builds do not stop the next build, and what killed daemons left
    # (temp files, .serving- links pinning old indexes) is removed; one stale link is made
    # here for sure, named after a process that has exited.
    gone = subprocess.Popen(["true"])
    gone.wait()
    os.link(index, "%s.serving-%d.1" % (index, gone.pid))
    d = L.Daemon(["--seeds", seeds, "--index", index], wait=False)
    d.wait_ready(timeout=120)
    check(stats(d.sock)["index"]["cards"] == cards0 + 1500, "rebuild after the kills")
    base = os.path.basename(index)
    left = [f for f in os.listdir(L.TMP) if f.startswith(base + ".") and
            not f.startswith("%s.serving-%d." % (base, d.proc.pid))]
    check(not left, "left behind by killed daemons and builds: %r" % left)
    d.stop()
    left = [f for f in os.listdir(L.TMP) if f.startswith(base + ".")]
    check(not left, "left behind by a daemon that exited: %r" % left)
    print("kill -9 during rebuild: old index intact and served (3 kill points)")


# ---- kill -9 of a cardex-index build over the file a daemon serves ----------------

def test_tool_killed_while_serving():
    if not L.ARGS.gen_cards:
        print("tool killed while serving: skipped (no --gen-cards)")
        return
    index = os.path.join(L.TMP, "served-kill.db")
    shutil.copy(L.build_index(), index)
    d = L.Daemon(["--index", index])
    c = L.Client(d.sock, timeout=60)
    big = os.path.join(L.TMP, "big-seeds")
    shutil.copytree(L.ARGS.seeds, big)
    add_generated_cards(big, 1500)
    for delay in (0.1, 0.3, 0.6):
        b = subprocess.Popen([L.ARGS.cardex_index, "build", big, "-o", index, "--full"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t_end = time.time() + delay
        while time.time() < t_end:
            check(c.result("search", {"query": "what is an isms"})["hits"], "search during build")
        b.kill()
        b.wait()
        r = c.call("reload")  # the old file or, if the build got to its rename, the new one
        check("result" in r, "reload after kill -9 of a build at %.1fs: %r" % (delay, r))
        searchable(d.sock)
    c.close()
    d.stop()
    print("kill -9 of cardex-index over a served index: always a good index, never a failed request")


# ---- an index of zero cards (UBSan: qsort of nothing) -------------------------------

def test_empty_index():
    empty = os.path.join(L.TMP, "no-cards")
    os.makedirs(empty)
    d = L.Daemon(["--seeds", empty, "--index", os.path.join(L.TMP, "empty.db")])
    c = L.Client(d.sock)
    for method, params in [("search", {"query": "what is an isms", "explain": True}),
                           ("search", {"query": "isms", "raw": True}),
                           ("search", {"query": "", "id_prefix": "Q"}),
                           ("answer", {"query": "how do we build an isms"}),
                           ("suggest", {"prefix": "is"}), ("stats", None)]:
        c.result(method, params)
    expect_error(c.call("get", {"id": "Q077"}), -32001)
    expect_error(c.call("related", {"id": "Q077"}), -32001)
    c.close()
    d.stop()
    print("index of zero cards: every method answers")


def run():
    test_empty_index()
    test_corrupt_index()
    test_in_place_overwrite()
    test_damaged_tables()
    test_watched_dir_disappears()
    test_full_disk()
    test_kill_during_rebuild()
    test_tool_killed_while_serving()


L.main(run)
