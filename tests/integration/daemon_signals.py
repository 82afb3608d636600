#!/usr/bin/env python3
"""daemon_signals.py — SIGTERM and SIGINT under load: in-flight requests finish, connections close, exit 0."""
import json
import os
import signal
import socket
import subprocess
import threading
import time
import daemon_lib as L
from daemon_lib import check


def loaded_client(sock, results, i):
    """Pipelines searches until the daemon closes the connection; every line
    received must be a complete, successful reply."""
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.settimeout(30)
        sent = got = 0
        buf = b""
        closed = False
        while not closed:
            batch = b"".join(b'{"jsonrpc":"2.0","id":%d,"method":"search","params":{"query":"risk %d"}}\n'
                             % (sent + k, k) for k in range(8))
            try:
                s.sendall(batch)
                sent += 8
            except OSError:
                pass
            while buf.count(b"\n") < 8 and not closed:
                try:
                    data = s.recv(65536)
                except ConnectionResetError:
                    # the daemon closed with requests of ours unread: after every
                    # complete reply, a reset is how a Unix socket says so
                    data = b""
                if not data:
                    closed = True
                buf += data
            lines = buf.split(b"\n")
            buf = lines.pop()
            for line in lines:
                r = json.loads(line)
                if "result" not in r:
                    results.append(("error", r))
                got += 1
        check(buf == b"", "a partial reply at close: %r" % buf[:100])
        results.append(("ok", got))
    except Exception as e:
        results.append(("exception", repr(e)))


def run():
    index = L.build_index()
    for sig in (signal.SIGTERM, signal.SIGINT):
        d = L.Daemon(["--index", index])
        results = []
        threads = [threading.Thread(target=loaded_client, args=(d.sock, results, i), daemon=True)
                   for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        L.still_answers(d.sock)
        t0 = time.time()
        d.stop(sig)  # exit status 0 checked here (and LeakSanitizer's, under ASan)
        check(time.time() - t0 < 10, "drain took %.1f s" % (time.time() - t0))
        for t in threads:
            t.join(30)
        bad = [r for r in results if r[0] != "ok"]
        check(not bad, "clients saw failures at %s: %r" % (signal.Signals(sig).name, bad[:3]))
        total = sum(r[1] for r in results)
        check(len(results) == 8 and total > 0, "results: %r" % results)
        check(not os.path.exists(d.sock), "socket file left behind after %s" % sig)
        check("shutting down" in d.log_text(), "shutdown not logged")
        print("%s under load: %d replies, all complete" % (signal.Signals(sig).name, total))


def sigterm_during_first_build():
    """SIGTERM while --seeds is still building: the build finishes (it cannot be
    interrupted), nothing is served, the daemon exits 0 and leaves no socket."""
    if not L.ARGS.gen_cards:
        print("skipping SIGTERM during the first build: no --gen-cards")
        return
    cards = os.path.join(L.TMP, "gen")
    subprocess.run([L.ARGS.gen_cards, "3000", cards, "7"], check=True,
                   stdout=subprocess.DEVNULL)
    d = L.Daemon(["--seeds", cards, "--index", os.path.join(L.TMP, "gen.db")], wait=False)
    deadline = time.time() + 30
    while "building" not in d.log_text() and time.time() < deadline:
        time.sleep(0.02)
    d.stop(signal.SIGTERM, timeout=120)
    check(not os.path.exists(d.sock), "socket left behind")
    log = d.log_text()
    check("shutting down (SIGTERM)" in log, "shutdown not logged:\n" + log)


def all_tests():
    run()
    sigterm_during_first_build()


L.main(all_tests)
