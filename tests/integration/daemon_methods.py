#!/usr/bin/env python3
"""daemon_methods.py — every protocol method against the real cardexd, with the shapes of docs/protocol.md."""
import os
import time
import daemon_lib as L
from daemon_lib import check


def hit_fields(h, where):
    for k in ("id", "question", "score", "snippet", "packs", "tags", "clause_ids", "sources",
              "actions"):
        check(k in h, "%s: hit lacks %r: %r" % (where, k, sorted(h)))


def run():
    index = L.build_index()
    d = L.Daemon(["--index", index, "--log-level", "debug"])
    c = L.Client(d.sock)

    r = c.result("ping")
    check(r == {"pong": True, "version": "1.0", "server": r["server"]} and
          r["server"].startswith("cardexd "), "ping: %r" % r)

    r = c.result("search", {"query": "what is an isms", "limit": 2})
    check(isinstance(r["total"], int) and r["total"] >= 2, "search total: %r" % r)
    check(isinstance(r["took_us"], int), "search took_us: %r" % r)
    check(len(r["hits"]) == 2, "search limit 2 gave %d hits" % len(r["hits"]))
    for h in r["hits"]:
        hit_fields(h, "search")
    check(r["hits"][0]["id"] == "Q077", "the ISMS card should rank first: %r" %
          [h["id"] for h in r["hits"]])
    first_two = [h["id"] for h in r["hits"]]
    r2 = c.result("search", {"query": "what is an isms", "limit": 1, "offset": 1})
    check([h["id"] for h in r2["hits"]] == first_two[1:], "offset: %r vs %r" % (r2["hits"], first_two))

    r = c.result("search", {"query": "isms", "highlight": ["<b>", "</b>"], "explain": True,
                            "packs": ["ISO27001:2022"], "limit": 5})
    check(r["hits"], "filtered search found nothing")
    for h in r["hits"]:
        check("ISO27001:2022" in h["packs"], "pack filter let through %r" % h["packs"])
        check("explain" in h, "explain missing")
    check(any("<b>" in h["snippet"] for h in r["hits"]), "custom highlight markers unused")

    r = c.result("answer", {"query": "how do we build an isms"})
    check(isinstance(r["answered"], bool) and "confidence" in r and "alternatives" in r,
          "answer: %r" % r)
    if r["answered"]:
        hit_fields(r["card"], "answer")
        check(isinstance(r["answer"], str) and r["answer"], "answer text: %r" % r)

    r = c.result("get", {"id": "Q077"})
    for k in ("id", "query", "packs", "sources", "ui", "body", "sections", "links"):
        check(k in r, "get lacks %r" % k)
    check(r["id"] == "Q077" and r["sections"] and "markdown" in r["sections"][0] and
          "text" in r["sections"][0], "get sections: %r" % r.get("sections"))
    r = c.result("get", {"id": "q077"})
    check(r["id"] == "Q077", "get is case-insensitive")

    r = c.result("suggest", {"prefix": "isms bu", "limit": 5})
    check(isinstance(r["suggestions"], list) and len(r["suggestions"]) <= 5, "suggest: %r" % r)

    r = c.result("related", {"id": "Q077", "limit": 3})
    check(isinstance(r["hits"], list) and len(r["hits"]) <= 3, "related: %r" % r)
    for h in r["hits"]:
        check(h.get("reason") in ("link", "clause", "terms"), "related reason: %r" % h)
        check(h["id"] != "Q077", "related returned the card itself")

    r = c.result("stats")
    for k in ("version", "server", "uptime_s", "requests", "connections", "latency_us", "index",
              "reload"):
        check(k in r, "stats lacks %r" % k)
    check(r["version"] == "1.0", "stats version")
    check(r["requests"] >= 9, "stats requests: %r" % r["requests"])
    check(set(r["latency_us"]) >= {"p50", "p90", "p99", "p999"}, "latency: %r" % r["latency_us"])
    check(r["index"]["cards"] >= 1 and r["index"]["path"] and r["index"]["built_at"],
          "stats index: %r" % r["index"])
    check(r["connections"]["open"] >= 1, "stats connections: %r" % r["connections"])

    # reload with --index reopens the file: a new generation, same cards
    before = r["index"]["generation"]
    r = c.result("reload")
    check(r["reloaded"] is True and r["cards"] >= 1 and "took_ms" in r, "reload: %r" % r)
    r = c.result("stats")
    check(r["index"]["generation"] == before + 1, "reload did not swap: %r" % r["index"])
    check(r["reload"]["count"] == 1 and r["reload"]["last_ok"] is True, "reload stats: %r" % r["reload"])
    check(r["limits"]["max_buffered"] == 128 << 20, "default --max-buffered: %r" % r["limits"])
    check(isinstance(r["memory"]["buffered_bytes"], int) and r["memory"]["buffered_bytes"] >= 0,
          "stats.memory.buffered_bytes: %r" % r["memory"])

    # a get long after a search on the same worker still finds the card (the
    # per-query deadline must not outlive its query)
    d2 = L.Daemon(["--index", index, "--query-timeout", "200", "--threads", "1",
                   "--cache-limit", "8"])
    c2 = L.Client(d2.sock)
    mem = c2.result("stats")["memory"]
    check(mem["sqlite_limit_bytes"] == 8 << 20, "--cache-limit: %r" % mem)
    c2.result("search", {"query": "isms"})
    time.sleep(0.5)
    for i in range(500):  # SQLite runs the progress handler only every 1000 VM steps
        c2.send("get", {"id": "Q077"})
    for i in range(500):
        r = c2.recv()
        check("result" in r and r["result"]["id"] == "Q077", "get after an old search: %r" % r)
    c2.result("search", {"query": "gdpr"})
    time.sleep(0.5)
    check(c2.result("related", {"id": "Q077"}) is not None, "related after an old search")
    c2.close()
    d2.stop()

    # notifications are executed and never answered: a ping after them is the next line
    c.send("ping", notification=True)
    c.send("search", {"query": "isms"}, notification=True)
    c.send("nonexistent", notification=True)
    c.send("get", {"id": 5}, notification=True)
    r = c.call("ping")
    check("result" in r, "after notifications: %r" % r)

    # pipelined: replies may come in any order but every id once
    ids = [c.send(m, p) for m, p in [("search", {"query": "gdpr"}), ("ping", None),
                                     ("get", {"id": "Q077"}), ("stats", None),
                                     ("suggest", {"prefix": "ri"})]]
    got = sorted(c.recv()["id"] for _ in ids)
    check(got == sorted(ids), "pipelined ids %r vs %r" % (got, ids))

    # string ids and CRLF line endings
    c.send_raw(b'{"jsonrpc":"2.0","id":"abc","method":"ping"}\r\n\n  \n')
    r = c.recv()
    check(r["id"] == "abc" and r["result"]["pong"], "string id/CRLF: %r" % r)

    c.close()
    L.still_answers(d.sock)
    d.stop()


L.main(run)
