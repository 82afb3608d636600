#!/usr/bin/env python3
"""daemon_budget.py — --max-buffered: the daemon's buffered requests and replies are bounded over all
connections together; over the bound it reads from no connection, and resumes once half is written."""
import json
import socket
import subprocess
import threading
import time
import daemon_lib as L
from daemon_lib import check

QUERY = b'{"jsonrpc":"2.0","id":%d,"method":"search","params":{"query":"how do we run a risk assessment","limit":20}}\n'


def wait_log(d, text, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in d.log_text():
            return True
        time.sleep(0.05)
    return False


def run():
    # the option: a bound below 64K is refused, 0 means none
    r = subprocess.run([L.ARGS.cardexd, "--max-buffered", "1K", "--index", "/nonexistent"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(r.returncode == 2 and "--max-buffered" in r.stderr and "64K" in r.stderr,
          "--max-buffered 1K: %d %s" % (r.returncode, r.stderr))
    r = subprocess.run([L.ARGS.cardexd, "--help"], stdout=subprocess.PIPE, text=True)
    check("--max-buffered" in r.stdout, "--help does not describe --max-buffered")

    index = L.build_index()
    d = L.Daemon(["--index", index, "--max-buffered", "256K", "--log-level", "info"])
    c = L.Client(d.sock)
    st = c.result("stats")
    check(st["limits"]["max_buffered"] == 256 << 10, "stats.limits: %r" % st["limits"])
    c.close()

    # Four clients pipeline searches (20 hits: ~20 KB replies) and read nothing for now:
    # far more than 256K of replies over all of them, each under --max-write-queue (4M).
    n = 400
    hogs = []
    for h in range(4):
        s = socket.socket(socket.AF_UNIX)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(d.sock)
        data = b"".join(QUERY % i for i in range(n))
        t = threading.Thread(target=lambda s=s, data=data: s.sendall(data), daemon=True)
        t.start()
        hogs.append((s, t))
    check(wait_log(d, "exceed --max-buffered 262144"),
          "the daemon never paused reading:\n" + d.log_text())
    rss = L.rss_kb(d.proc.pid)

    # While over the bound no connection is read, a new one included: its ping waits.
    probe = L.Client(d.sock, timeout=30)
    probe.s.settimeout(1.0)
    probe.send("ping", id=1)
    try:
        early = probe.s.recv(1)
    except socket.timeout:
        early = None
    check(early is None, "a ping was answered while the daemon was over --max-buffered")
    probe.s.settimeout(60)
    # ... and nothing is read: a partial line of 900K (under --max-request) stays mostly in
    # the client's socket instead of growing the daemon's buffers.
    slow = socket.socket(socket.AF_UNIX)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    slow.connect(d.sock)
    slow.setblocking(False)
    part = b'{"jsonrpc":"2.0","id":1,"method":"search","params":{"query":"' + b"x" * 900000
    sent, deadline = 0, time.time() + 1.5
    while sent < len(part) and time.time() < deadline:
        try:
            sent += slow.send(part[sent:sent + 65536])
        except BlockingIOError:
            time.sleep(0.01)
    check(sent < len(part) // 2, "the daemon read %d bytes of a new connection while over "
          "--max-buffered" % sent)

    # The clients read their replies: reading resumes, every request is answered (replies
    # come in any order, matched by id).
    def drain(s, out):
        f = s.makefile("rb")
        ids = []
        for _ in range(n):
            line = f.readline()
            if not line:
                break
            r = json.loads(line)
            if "result" not in r:
                out.append("error reply %r" % r)
                break
            ids.append(r["id"])
        out.append(ids)
    results = []
    readers = [threading.Thread(target=drain, args=(s, results)) for s, _ in hogs]
    for t in readers:
        t.start()
    for t in readers:
        t.join(120)
    check(len(results) == 4 and all(sorted(r) == list(range(n)) for r in results),
          "replies after the pause: %r" % [r if isinstance(r, str) else len(r) for r in results])
    r = probe.recv()
    check(r is not None and r.get("id") == 1 and "result" in r,
          "the ping sent during the pause: %r" % r)
    check("reading again" in d.log_text(), "no resume logged:\n" + d.log_text())
    # The unfinished line grows past the bound while the daemon reads again: then it alone
    # keeps the daemon over the bound, nothing can finish it, and its connection is closed.
    rest = part[sent:]

    sender = L.send_in_background(slow, rest, timeout=30)
    check(wait_log(d, "unfinished request"), "the unfinished line was kept:\n" + d.log_text())
    sender.join(30)
    try:
        check(slow.recv(4096) == b"", "the unfinished line's connection is still open")
    except ConnectionResetError:
        pass
    check(rss < 150 * 1024, "RSS while paused: %d kB" % rss)
    for s, t in hogs:
        t.join(10)
        s.close()
    probe.close()
    slow.close()
    L.still_answers(d.sock)
    d.stop()

    # The default bound (128M) leaves this load alone: the same clients, no pause.
    d2 = L.Daemon(["--index", index, "--log-level", "info"])
    c = L.Client(d2.sock)
    c.send_raw(b"".join(QUERY % i for i in range(200)))
    for i in range(200):
        r = c.recv()
        check(r is not None and "result" in r, "reply %d: %r" % (i, r))
    c.close()
    check("--max-buffered" not in d2.log_text(), "paused under the default bound:\n" + d2.log_text())
    d2.stop()


if __name__ == "__main__":
    L.main(run)
