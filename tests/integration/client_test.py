#!/usr/bin/env python3
"""client_test.py — black-box tests of the `cardex` client against a real cardexd.

Environment: CARDEX (client binary), CARDEXD (daemon binary), CARDEX_INDEX_TOOL
(cardex-index), CX_SOURCE_DIR (repository root).
"""
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cxdaemon import SRC, Daemon  # noqa: E402

CARDEX = os.environ.get("CARDEX", "build/client/cardex")


def run(args, sock, env=None, timeout=20):
    e = dict(os.environ)
    e.pop("CARDEX_SOCKET", None)
    e.pop("NO_COLOR", None)
    if env:
        e.update(env)
    return subprocess.run([CARDEX, "--socket", sock] + args, capture_output=True, text=True,
                          env=e, timeout=timeout)


class MisbehavingServer(threading.Thread):
    """A socket that accepts and then hangs, or sends half a reply and dies."""

    def __init__(self, path, mode):
        super().__init__(daemon=True)
        self.path, self.mode = path, mode
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(path)
        self.srv.listen(4)

    def run(self):
        try:
            conn, _ = self.srv.accept()
            conn.recv(65536)
            if self.mode == "half":
                conn.sendall(b'{"jsonrpc":"2.0","id":1,"result":{"total":3,"hits":[{"id":"Q0')
                conn.close()
            else:
                time.sleep(10)
                conn.close()
        except OSError:
            pass


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cardex-client-")
        cls.d = Daemon(cls.tmp)
        cls.sock = cls.d.sock

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_search_plain(self):
        r = run(["information", "security", "management", "system"], self.sock)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Q077", r.stdout)
        self.assertNotIn("\033[", r.stdout)  # piped: no colour
        self.assertNotIn("\x02", r.stdout)  # highlight markers are never printed raw
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("Q"), lines)

    def test_search_is_default_command(self):
        a = run(["search", "risk", "assessment"], self.sock)
        b = run(["risk", "assessment"], self.sock)
        self.assertEqual(a.returncode, 0)
        self.assertEqual(a.stdout, b.stdout)

    def test_search_json(self):
        r = run(["--json", "--limit", "3", "isms"], self.sock)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1)
        res = json.loads(lines[0])
        self.assertIn("total", res)
        self.assertLessEqual(len(res["hits"]), 3)
        for h in res["hits"]:
            for k in ("id", "question", "score", "snippet", "packs", "tags", "sources", "actions"):
                self.assertIn(k, h)

    def test_limit_offset(self):
        a = json.loads(run(["--json", "--limit", "4", "security"], self.sock).stdout)
        b = json.loads(run(["--json", "--limit", "2", "--offset", "2", "security"], self.sock).stdout)
        self.assertEqual([h["id"] for h in a["hits"][2:4]], [h["id"] for h in b["hits"]])

    def test_pack_filter(self):
        r = run(["--json", "--pack", "ISO27001:2022", "security"], self.sock)
        res = json.loads(r.stdout)
        for h in res["hits"]:
            self.assertIn("ISO27001:2022", h["packs"])

    def test_score_and_explain(self):
        r = run(["--score", "--explain", "isms"], self.sock)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("score", r.stdout)
        self.assertIn("why:", r.stdout)

    def test_no_hits_exit_1(self):
        r = run(["zzqxjv", "wkpqzz"], self.sock)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("no cards match", r.stderr)

    def test_answer(self):
        r = run(["answer", "What", "is", "an", "Information", "Security", "Management", "System",
                 "and", "how", "do", "we", "build", "one?"], self.sock)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Q077", r.stdout)
        self.assertIn("structured framework", r.stdout)
        self.assertIn("Sources", r.stdout)
        self.assertIn("Launch ISMS Builder", r.stdout)

    def test_answer_none(self):
        r = run(["answer", "zzqxjv", "wkpqzz", "blorf"], self.sock)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("No answer", r.stdout)

    def test_show_every_section(self):
        r = run(["show", "Q077"], self.sock, env={"COLUMNS": "72"})
        self.assertEqual(r.returncode, 0, r.stderr)
        for section in ("Standard terms", "Plain-English answer", "Applies to", "Why it matters",
                        "Do next in our platform", "How our platform will help",
                        "Likely follow-ups", "Sources"):
            self.assertIn(section, r.stdout)
        self.assertNotIn("**", r.stdout)  # Markdown is rendered, not printed
        for line in r.stdout.splitlines():
            self.assertLessEqual(len(line), 72 + 8, line)  # wrapped (allowing one long word)
        self.assertIn("ISO27001:2022", r.stdout)

    def test_show_markdown_html(self):
        md = run(["show", "--markdown", "Q077"], self.sock)
        self.assertIn("**Plain-English answer**", md.stdout)
        html = run(["show", "--html", "Q077"], self.sock)
        self.assertIn("<strong>Plain-English answer</strong>", html.stdout)

    def test_show_missing(self):
        r = run(["show", "Q999"], self.sock)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Q999", r.stderr)

    def test_suggest_related_stats_ping(self):
        r = run(["suggest", "isms"], self.sock)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        r = run(["related", "Q077"], self.sock)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        r = run(["stats"], self.sock)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("cards", r.stdout)
        r = run(["--json", "stats"], self.sock)
        self.assertEqual(json.loads(r.stdout)["version"], "1.0")
        r = run(["ping"], self.sock)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("pong", r.stdout)

    def test_usage_errors(self):
        for args in (["--limit", "0", "x"], ["--limit", "abc", "x"], ["--bogus"], ["show"],
                     ["show", "--limit", "3", "Q077"], []):
            r = run(args, self.sock)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertTrue(r.stderr.strip(), args)

    def test_help_and_version(self):
        for args in (["--help"], ["search", "--help"], ["show", "--help"], ["help", "answer"],
                     ["--version"]):
            r = run(args, self.sock)
            self.assertEqual(r.returncode, 0, args)
            self.assertTrue(r.stdout.strip())

    def test_bash_completion(self):
        if shutil.which("bash") is None:
            self.skipTest("no bash")
        script = os.path.join(SRC, "contrib", "completion", "cardex.bash")
        bindir = os.path.dirname(os.path.abspath(CARDEX))
        prog = ("source %s; " % script +
                "COMP_WORDS=(cardex --socket %s show Q08); COMP_CWORD=4; _cardex; "
                "echo ids ${COMPREPLY[*]}; "
                "COMP_WORDS=(cardex --socket %s --pack ''); COMP_CWORD=4; _cardex; "
                "echo packs ${COMPREPLY[*]}; "
                "COMP_WORDS=(cardex sh); COMP_CWORD=1; _cardex; echo cmds ${COMPREPLY[*]}")
        prog = prog % (self.sock, self.sock)
        # The completion calls `cardex`, which must be the binary under test.
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
        link = os.path.join(self.tmp, "bin")
        os.makedirs(link, exist_ok=True)
        if not os.path.exists(os.path.join(link, "cardex")):
            os.symlink(os.path.abspath(CARDEX), os.path.join(link, "cardex"))
        env["PATH"] = link + os.pathsep + env["PATH"]
        r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, env=env, timeout=30)
        out = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
        self.assertIn("Q081", out.get("ids", "").split(), r.stdout + r.stderr)
        self.assertIn("ISO27001:2022", out.get("packs", "").split(), r.stdout + r.stderr)
        self.assertEqual(out.get("cmds"), "show")

    def test_terminal_colour_and_no_color(self):
        def on_pty(env):
            pid, fd = pty.fork()
            if pid == 0:
                e = dict(os.environ)
                e.update(env)
                os.execve(CARDEX, [CARDEX, "--socket", self.sock, "isms"], e)
            out = b""
            while True:
                r, _, _ = select.select([fd], [], [], 10)
                if not r:
                    break
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            _, status = os.waitpid(pid, 0)
            return out.decode("utf-8", "replace"), os.waitstatus_to_exitcode(status)

        out, code = on_pty({"TERM": "xterm", "NO_COLOR": ""})
        self.assertEqual(code, 0, out)
        self.assertIn("\033[", out)
        self.assertIn("cards", out)  # the footer shown on a terminal
        out, code = on_pty({"TERM": "xterm", "NO_COLOR": "1"})
        self.assertEqual(code, 0, out)
        self.assertNotIn("\033[", out)


class DaemonMissingTest(unittest.TestCase):
    def test_unreachable(self):
        tmp = tempfile.mkdtemp(prefix="cardex-client-")
        sock = os.path.join(tmp, "none.sock")
        r = run(["isms"], sock)
        self.assertEqual(r.returncode, 3)
        self.assertIn(sock, r.stderr)
        self.assertIn("cardexd --socket " + sock, r.stderr)
        # The default socket path is reported too when nothing is configured.
        e = dict(os.environ, XDG_RUNTIME_DIR=tmp)
        e.pop("CARDEX_SOCKET", None)
        r = subprocess.run([CARDEX, "ping"], capture_output=True, text=True, env=e)
        self.assertEqual(r.returncode, 3)
        self.assertIn(os.path.join(tmp, "cardex", "cardex.sock"), r.stderr)
        self.assertIn("cardexd --seeds", r.stderr)
        shutil.rmtree(tmp)

    def test_env_socket(self):
        tmp = tempfile.mkdtemp(prefix="cardex-client-")
        sock = os.path.join(tmp, "env.sock")
        e = dict(os.environ, CARDEX_SOCKET=sock)
        r = subprocess.run([CARDEX, "ping"], capture_output=True, text=True, env=e)
        self.assertEqual(r.returncode, 3)
        self.assertIn(sock, r.stderr)
        shutil.rmtree(tmp)

    def test_hung_daemon_times_out(self):
        tmp = tempfile.mkdtemp(prefix="cardex-client-")
        sock = os.path.join(tmp, "hung.sock")
        srv = MisbehavingServer(sock, "hang")
        srv.start()
        t = time.time()
        r = run(["--timeout", "300", "isms"], sock)
        self.assertLess(time.time() - t, 5)
        self.assertEqual(r.returncode, 3)
        self.assertIn("within 300 ms", r.stderr)
        self.assertEqual(r.stdout, "")
        shutil.rmtree(tmp)

    def test_daemon_dies_mid_reply(self):
        tmp = tempfile.mkdtemp(prefix="cardex-client-")
        sock = os.path.join(tmp, "half.sock")
        srv = MisbehavingServer(sock, "half")
        srv.start()
        r = run(["isms"], sock)
        self.assertEqual(r.returncode, 3)
        self.assertIn("in the middle of its reply", r.stderr)
        self.assertEqual(r.stdout, "")  # never a half-printed line
        shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main(verbosity=2)
