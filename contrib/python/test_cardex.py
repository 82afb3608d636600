#!/usr/bin/env python3
"""test_cardex.py — the Python client and the example bot against a real cardexd."""
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

from cardex_client import (CardexClient, CardexConnectionError, CardexTimeout,  # noqa: E402
                           InvalidParams, NotFound, default_socket_path)
import cardex_bot  # noqa: E402
from cxdaemon import Daemon  # noqa: E402


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cardex-py-")
        cls.d = Daemon(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def client(self, **kw):
        return CardexClient(self.d.sock, **kw)

    def test_methods(self):
        with self.client() as cx:
            self.assertEqual(cx.ping()["version"], "1.0")
            res = cx.search("information security management system", limit=3)
            self.assertLessEqual(len(res["hits"]), 3)
            self.assertIn("Q077", [h["id"] for h in res["hits"]])
            card = cx.get("Q077")
            self.assertEqual(card["id"], "Q077")
            self.assertIn("sections", card)
            self.assertIn("suggestions", cx.suggest("isms"))
            self.assertIn("hits", cx.related("Q077"))
            self.assertGreaterEqual(cx.stats()["index"]["cards"], 1)

    def test_errors_are_exceptions(self):
        with self.client() as cx:
            with self.assertRaises(NotFound):
                cx.get("Q999")
            with self.assertRaises(InvalidParams) as e:
                cx.search("isms", limit=-1)
            self.assertEqual(e.exception.field, "limit")
            # The connection survives errors.
            self.assertTrue(cx.ping()["pong"])

    def test_connection_reuse(self):
        with self.client() as cx:
            before = cx.stats()["connections"]["total"]
            for _ in range(20):
                cx.search("risk assessment")
            self.assertEqual(cx.stats()["connections"]["total"], before)

    def test_pipelining(self):
        with self.client() as cx:
            queries = ["isms", "risk treatment", "internal audit", "statement of applicability"] * 25
            results = cx.call_many([("search", {"query": q, "limit": 1}) for q in queries])
            self.assertEqual(len(results), 100)
            single = [cx.search(q, limit=1) for q in queries[:4]]
            for a, b in zip(results[:4], single):
                self.assertEqual([h["id"] for h in a["hits"]], [h["id"] for h in b["hits"]])

    def test_concurrent_threads(self):
        cx = self.client()
        errors, counts = [], []

        def worker(n):
            try:
                for i in range(50):
                    r = cx.search("security %d" % (i % 7), limit=2)
                    assert "hits" in r
                counts.append(n)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        cx.close()
        self.assertEqual(errors, [])
        self.assertEqual(sorted(counts), list(range(8)))

    def test_bot_answer(self):
        with self.client() as cx:
            r = cardex_bot.reply(cx, "What is an Information Security Management System and how "
                                     "do we build one?")
        self.assertEqual(r["kind"], "answer", r)
        self.assertEqual(r["card_id"], "Q077")
        self.assertIn("structured framework", r["text"])
        self.assertIn({"label": "Launch ISMS Builder", "action": "start_workflow",
                       "target": "build_isms"}, r["buttons"])
        self.assertTrue(r["sources"])

    def test_bot_fallback(self):
        with self.client() as cx:
            r = cardex_bot.reply(cx, "zzqxjv wkpqzz blorf")
        self.assertEqual(r["kind"], "suggestions")
        self.assertEqual(r["buttons"], [])
        self.assertTrue(r["text"])


class FailureTest(unittest.TestCase):
    def test_unreachable(self):
        cx = CardexClient("/nonexistent/cardex.sock", timeout=1)
        with self.assertRaises(CardexConnectionError) as e:
            cx.ping()
        self.assertIn("/nonexistent/cardex.sock", str(e.exception))
        r = cardex_bot.reply(cx, "what is an isms")
        self.assertEqual(r["kind"], "error")

    def test_timeout(self):
        tmp = tempfile.mkdtemp(prefix="cardex-py-")
        path = os.path.join(tmp, "hung.sock")
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        srv.listen(1)
        cx = CardexClient(path, timeout=0.3)
        t = time.time()
        with self.assertRaises(CardexTimeout):
            cx.ping()
        self.assertLess(time.time() - t, 3)
        cx.close()
        srv.close()
        shutil.rmtree(tmp)

    def test_default_socket_path(self):
        old = dict(os.environ)
        try:
            os.environ.pop("CARDEX_SOCKET", None)
            os.environ["XDG_RUNTIME_DIR"] = "/run/user/1000"
            self.assertEqual(default_socket_path(), "/run/user/1000/cardex/cardex.sock")
            os.environ["CARDEX_SOCKET"] = "/x.sock"
            self.assertEqual(default_socket_path(), "/x.sock")
        finally:
            os.environ.clear()
            os.environ.update(old)


if __name__ == "__main__":
    unittest.main(verbosity=2)
