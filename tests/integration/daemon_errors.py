#!/usr/bin/env python3
"""daemon_errors.py — every JSON-RPC error code the daemon sends, each with its data."""
import os
import shutil
import socket
import time
import daemon_lib as L
from daemon_lib import check, expect_error


def run():
    index = L.build_index()
    d = L.Daemon(["--index", index])
    c = L.Client(d.sock)

    # -32700: not JSON, binary, not UTF-8
    c.send_raw(b'{"jsonrpc":"2.0", "id":\n')
    e = expect_error(c.recv(), -32700)
    check(e["data"]["line"] == 1 and e["data"]["column"] > 0, "parse position: %r" % e)
    c.send_raw(b'\x00\xff\xfe garbage \x01\x02\n')
    r = c.recv()
    expect_error(r, -32700)
    check(r["id"] is None, "parse error id must be null")
    c.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"search","params":{"query":"\xff\xfe"}}\n')
    expect_error(c.recv(), -32700)

    # -32600: not a request
    for raw, why in [(b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', "batch"),
                     (b'42', "number"), (b'"ping"', "string"),
                     (b'{"id":1,"method":"ping"}', "no jsonrpc"),
                     (b'{"jsonrpc":"1.0","id":1,"method":"ping"}', "jsonrpc 1.0"),
                     (b'{"jsonrpc":"2.0","id":1}', "no method"),
                     (b'{"jsonrpc":"2.0","id":1,"method":7}', "method not string"),
                     (b'{"jsonrpc":"2.0","id":[1],"method":"ping"}', "id array"),
                     (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', "id null")]:
        c.send_raw(raw + b"\n")
        r = c.recv()
        e = expect_error(r, -32600)
        check("reason" in e.get("data", {}), "%s: no data.reason: %r" % (why, e))
    c.send_raw(b'{"jsonrpc":"2.0","id":9,"method":7}\n')
    check(c.recv()["id"] == 9, "invalid request keeps a valid id")

    # -32601
    r = c.call("serch")
    e = expect_error(r, -32601)
    check(e["data"] == {"method": "serch"}, "method data: %r" % e)

    # -32602, naming the field
    for method, params, field in [
            ("search", {"query": "isms", "limit": -1}, "limit"),
            ("search", {"query": "isms", "limit": 101}, "limit"),
            ("search", {"query": "isms", "offset": -3}, "offset"),
            ("search", {"query": 5}, "query"),
            ("search", {"limit": 3}, "query"),
            ("search", None, "query"),
            ("search", {"query": "isms", "bogus": 1}, "bogus"),
            ("search", {"query": "isms", "packs": "ISO"}, "packs"),
            ("search", {"query": "isms", "highlight": ["<b>"]}, "highlight"),
            ("answer", {"query": "isms", "limit": 3}, "limit"),
            ("answer", {}, "query"),
            ("get", {}, "id"), ("get", {"id": 77}, "id"), ("get", {"id": ""}, "id"),
            ("get", {"id": "Q077", "x": 1}, "x"),
            ("suggest", {"prefix": "is", "limit": 0}, "limit"), ("suggest", {}, "prefix"),
            ("related", {"id": "Q077", "limit": 51}, "limit"),
            ("ping", {"x": 1}, "x"), ("stats", {"verbose": True}, "verbose"),
            ("reload", {"now": 1}, "now")]:
        r = c.call(method, params)
        expect_error(r, -32602, field)
    c.send_raw(b'{"jsonrpc":"2.0","id":3,"method":"ping","params":[1]}\n')
    expect_error(c.recv(), -32602, "params")
    r = c.call("search", {"query": "isms", "limit": -1})
    check("limit" in r["error"]["message"] and "-1" in r["error"]["message"],
          "the message should say what is wrong: %r" % r["error"]["message"])

    # -32001
    e = expect_error(c.call("get", {"id": "Q999"}), -32001)
    check(e["data"] == {"id": "Q999"}, "not found data: %r" % e)
    expect_error(c.call("related", {"id": "Q999"}), -32001)

    # -32004: raw syntax
    e = expect_error(c.call("search", {"query": '"unbalanced AND (', "raw": True}), -32004)
    check(e["data"]["field"] == "query", "syntax data: %r" % e)
    # natural language never is a syntax error
    check("result" in c.call("search", {"query": '"unbalanced AND ( NOT -'}), "plain text errs")
    c.close()
    L.still_answers(d.sock)

    # -32603: the index vanishes under a fresh worker (workers open it lazily). The daemon
    # pins the validated file with a hard link (<index>.serving-<pid>.<n>) so that replacing
    # the path does not reach workers; removing the link too is what makes it unreadable.
    index2 = L.build_index()
    d2 = L.Daemon(["--index", index2, "--threads", "1"])
    os.unlink(index2)
    for name in os.listdir(os.path.dirname(index2)):
        if name.startswith(os.path.basename(index2) + ".serving-"):
            link = os.path.join(os.path.dirname(index2), name)
            os.unlink(link)
            with open(link, "wb") as f:
                f.write(b"this is not an sqlite database" * 100)
    with open(index2, "wb") as f:
        f.write(b"this is not an sqlite database" * 100)
    c2 = L.Client(d2.sock)
    e = expect_error(c2.call("search", {"query": "isms"}), -32603)
    check("reason" in e["data"], "internal error data: %r" % e)
    # and a reload of a corrupt --index fails with -32005, the old one keeps its place
    e = expect_error(c2.call("reload"), -32005)
    check("diagnostics" in e["data"], "reload failed data: %r" % e)
    st = c2.result("stats")
    check(st["reload"]["last_ok"] is False and st["reload"]["last_error"], "stats.reload: %r" % st["reload"])
    c2.close()
    L.still_answers(d2.sock)
    d2.stop()

    # -32003: a query time bound of 1 µs
    d3 = L.Daemon(["--index", index, "--query-timeout", "0.001"])
    c3 = L.Client(d3.sock)
    e = expect_error(c3.call("search", {"query": "information security management system controls"}),
                     -32003)
    check("limit_ms" in e["data"], "timeout data: %r" % e)
    c3.close()
    L.still_answers(d3.sock)
    d3.stop()

    # -32002: in-flight bound (1 query) with many pipelined on two connections
    d4 = L.Daemon(["--index", index, "--max-inflight", "1"])
    a, b = L.Client(d4.sock), L.Client(d4.sock)
    n = 200
    for i in range(n):
        a.send("search", {"query": "risk assessment %d" % i})
        b.send("search", {"query": "access control %d" % i})
    codes = {}
    for cl in (a, b):
        for _ in range(n):
            r = cl.recv()
            k = r["error"]["code"] if "error" in r else 0
            codes[k] = codes.get(k, 0) + 1
            if k == -32002:
                check(r["error"]["data"] == {"limit": 1}, "overload data: %r" % r["error"])
    check(codes.get(-32002, 0) > 0 and codes.get(0, 0) > 0, "overload codes: %r" % codes)
    check(set(codes) <= {0, -32002}, "unexpected codes: %r" % codes)
    a.close()
    b.close()
    L.still_answers(d4.sock)
    d4.stop()

    # -32002: connection bound
    d5 = L.Daemon(["--index", index, "--max-connections", "2"])
    # the readiness probe's connection may not be closed on the daemon's side yet
    keep = []
    for _ in range(100):
        k = L.Client(d5.sock)
        try:
            k.send("ping")
            r = k.recv()
        except OSError:
            r = None
        if r and "result" in r:
            keep.append(k)
        else:
            k.close()
            time.sleep(0.05)
        if len(keep) == 2:
            break
    check(len(keep) == 2, "could not open 2 connections under --max-connections 2")
    extra = L.Client(d5.sock)
    e = expect_error(extra.recv(), -32002)
    check(e["data"] == {"limit": 2}, "connection limit data: %r" % e)
    extra.expect_eof()
    for k in keep:
        k.close()
    L.still_answers(d5.sock)
    d5.stop()
    d.stop()


L.main(run)
