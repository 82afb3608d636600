#!/usr/bin/env python3
"""hard_soak.py — mixed load with periodic reloads for a while: every request answered without error,
latency percentiles and the daemon's RSS over time. tests/soak.sh MINUTES runs it for minutes; the suite
runs it for 25 s.

    hard_soak.py --cardexd … --cardex-index … --seeds … [--seconds S] [--clients N] [--json OUT]
"""
import json
import multiprocessing as mp
import os
import signal
import socket
import sys
import time
import daemon_lib as L
from daemon_lib import check

MIX = [("search", {"query": "what is an isms"}),
       ("search", {"query": "access control policy", "limit": 20, "explain": True}),
       ("search", {"query": "", "id_prefix": "Q0", "limit": 5}),
       ("search", {"query": "incident respnse plan", "packs": ["ISO27001:2022", "GDPR"]}),
       ("answer", {"query": "how do we report a personal data breach"}),
       ("get", {"id": "Q077"}), ("suggest", {"prefix": "risk tr"}),
       ("related", {"id": "Q081", "limit": 5}), ("stats", None), ("ping", None)]


def client_proc(sock, seconds, depth, seed, out):
    """One connection, `depth` requests pipelined at a time; sends its latencies (ms) and
    failures to the parent at the end."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock)
    lat, failures, served = [], [], 0
    buf = b""
    next_id = seed * 10 ** 9
    end = time.monotonic() + seconds
    i = seed
    while time.monotonic() < end:
        sent = {}
        lines = []
        for _ in range(depth):
            method, params = MIX[i % len(MIX)]
            i += 1
            next_id += 1
            msg = {"jsonrpc": "2.0", "id": next_id, "method": method}
            if params is not None:
                msg["params"] = params
            lines.append(json.dumps(msg))
            sent[next_id] = method
        t0 = time.perf_counter()
        s.sendall(("\n".join(lines) + "\n").encode())
        while sent:
            while b"\n" not in buf:
                chunk = s.recv(1 << 16)
                if not chunk:
                    failures.append("connection closed with %d requests unanswered" % len(sent))
                    out.put((lat, failures, served))
                    return
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            r = json.loads(line)
            method = sent.pop(r.get("id"), None)
            if method is None:
                failures.append("reply for an unknown id: %r" % line[:200])
                continue
            lat.append((time.perf_counter() - t0) * 1000)
            served += 1
            if "result" not in r:
                failures.append("%s: %r" % (method, r.get("error")))
    s.close()
    out.put((lat, failures, served))


def proc_status(pid):
    st = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                st[k] = int(v.split()[0])
    st["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    return st


def pct(v, q):
    return v[min(len(v) - 1, int(q * len(v)))] if v else 0.0


def run():
    a = L.ARGS
    seeds = L.copy_seeds()
    index = os.path.join(L.TMP, "index.db")
    d = L.Daemon(["--seeds", seeds, "--index", index, "--watch", "--log-level", "warn"])
    ctl = L.Client(d.sock, timeout=120)
    out = mp.Queue()
    procs = [mp.Process(target=client_proc, args=(d.sock, a.seconds, 8, k + 1, out))
             for k in range(a.clients)]
    t_start = time.monotonic()
    for p in procs:
        p.start()

    samples = []
    reloads = {"request": 0, "sighup": 0, "watch": 0}
    every = max(2.0, min(30.0, a.seconds / 12))  # a dozen samples, at most 30 s apart
    reload_every = max(2.0, min(10.0, a.seconds / 8))
    next_sample = time.monotonic()
    next_reload = time.monotonic() + reload_every
    k = 0
    card = os.path.join(seeds, "Q990.md")
    results = []
    while len(results) < len(procs):
        # Collect as they come: a child cannot exit before its queue is drained.
        try:
            results.append(out.get(timeout=0.05))
            continue
        except Exception:
            pass
        if not any(p.is_alive() for p in procs) and out.empty():
            L.fail("a client process died without reporting")
        now = time.monotonic()
        if now >= next_sample:
            st = proc_status(d.proc.pid)
            s = ctl.result("stats")
            samples.append({"t_s": round(now - t_start), "rss_mb": round(st["VmRSS"] / 1024, 1),
                            "hwm_mb": round(st["VmHWM"] / 1024, 1), "fds": st["fds"],
                            "threads": st["Threads"], "requests": s["requests"],
                            "generation": s["index"]["generation"]})
            next_sample = now + every
        if now >= next_reload and now - t_start < a.seconds - 1:
            kind = ("request", "sighup", "watch")[k % 3]
            k += 1
            if kind == "request":
                r = ctl.result("reload")
                check(r["reloaded"], "reload: %r" % r)
            elif kind == "sighup":
                d.send_signal(signal.SIGHUP)
            else:  # a card appears or disappears: --watch rebuilds
                if os.path.exists(card):
                    os.unlink(card)
                else:
                    with open(card, "w") as f:
                        f.write("id: Q990\nquery: What does the soak card say?\n---\n"
                                "**Plain-English answer**  \nIt comes and goes.\n")
            reloads[kind] += 1
            next_reload = now + reload_every
        time.sleep(0.1)
    wall = time.monotonic() - t_start
    lat, failures, served = [], [], 0
    for l2, f2, s2 in results:
        lat += l2
        failures += f2
        served += s2
    for p in procs:
        p.join()
    time.sleep(0.5)  # let a last watch rebuild settle
    stats = ctl.result("stats")
    ctl.close()
    final = proc_status(d.proc.pid)
    d.stop()  # exit 0 (under ASan: no leaks)
    lat.sort()
    res = {"seconds": round(wall, 1), "clients": a.clients, "pipeline_depth": 8,
           "requests": served, "errors": len(failures), "throughput_rps": round(served / wall),
           "latency_ms": {"p50": round(pct(lat, .5), 3), "p90": round(pct(lat, .9), 3),
                          "p99": round(pct(lat, .99), 3), "p999": round(pct(lat, .999), 3),
                          "max": round(lat[-1], 3) if lat else 0},
           "reloads_triggered": reloads,
           "daemon_reload": {k2: stats["reload"][k2] for k2 in ("count", "failures", "last_ok")},
           "daemon_generation": stats["index"]["generation"],
           "daemon_latency_us": stats["latency_us"],
           "rss_mb_end": round(final["VmRSS"] / 1024, 1), "samples": samples}
    summary = {k2: v for k2, v in res.items() if k2 != "samples"}
    print(json.dumps(summary))
    print("%6s %8s %8s %5s %8s %11s %4s" % ("t_s", "rss_mb", "hwm_mb", "fds", "threads",
                                            "requests", "gen"))
    for x in samples:
        print("%6d %8.1f %8.1f %5d %8d %11d %4d" % (x["t_s"], x["rss_mb"], x["hwm_mb"], x["fds"],
                                                   x["threads"], x["requests"], x["generation"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    check(not failures, "%d failed requests, first: %r" % (len(failures), failures[:5]))
    check(served > 0, "no request was served")
    check(stats["reload"]["failures"] == 0, "reload failures: %r" % stats["reload"])
    check(stats["index"]["generation"] > 1, "no reload happened")
    # Memory must level off: after the first quarter, RSS grows by at most 50% + 64 MB.
    settled = [x["rss_mb"] for x in samples if x["t_s"] >= wall / 4] or [samples[-1]["rss_mb"]]
    check(res["rss_mb_end"] <= settled[0] * 1.5 + 64,
          "RSS kept growing: %.1f MB after a quarter of the run, %.1f MB at the end"
          % (settled[0], res["rss_mb_end"]))
    check(final["fds"] <= samples[0]["fds"] + 8, "descriptors leak: %d at start, %d at the end"
          % (samples[0]["fds"], final["fds"]))


if __name__ == "__main__":
    def extra(p):
        p.add_argument("--seconds", type=float, default=25)
        p.add_argument("--clients", type=int, default=3)
        p.add_argument("--json")
    L.main(run, extra)
