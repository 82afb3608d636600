"""daemon_lib.py — helpers for cardexd's black-box tests: a private daemon, raw and JSON-RPC clients.

Every test script takes the same arguments (tests/daemon.cmake passes them):
    --cardexd PATH --cardex-index PATH --seeds DIR [--gen-cards PATH]
and runs the real binary on a socket in a fresh temporary directory.
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ARGS = None
TMP = None
_daemons = []  # every daemon started, killed at exit if a failed test left it running


def setup(extra=None):
    """Parses the common arguments and makes the temporary directory."""
    global ARGS, TMP
    p = argparse.ArgumentParser()
    p.add_argument("--cardexd", required=True)
    p.add_argument("--cardex-index", required=True)
    p.add_argument("--seeds", required=True)
    p.add_argument("--gen-cards")
    p.add_argument("--valgrind")
    if extra:
        extra(p)
    ARGS = p.parse_args()
    TMP = tempfile.mkdtemp(prefix="cxd-test-")
    # 1,000 connections from one process need descriptors on our side too.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return ARGS


def cleanup():
    if TMP and os.environ.get("CXD_KEEP_TMP") is None:
        shutil.rmtree(TMP, ignore_errors=True)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)  # SystemExit: main()'s finally still kills the daemons


def check(cond, msg):
    if not cond:
        fail(msg)


_index_cache = {}


def build_index(seeds=None, out=None):
    """Builds an index of seeds (default: the repository's seeds/) with cardex-index."""
    seeds = seeds or ARGS.seeds
    _index_cache[len(_index_cache)] = seeds
    out = out or os.path.join(TMP, "index-%d.db" % len(_index_cache))
    r = subprocess.run([ARGS.cardex_index, "build", seeds, "-o", out],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        fail("cardex-index build %s failed (%d): %s" % (seeds, r.returncode, r.stderr))
    return out


def copy_seeds(dest_name="seeds"):
    dest = os.path.join(TMP, dest_name)
    shutil.copytree(ARGS.seeds, dest)
    return dest


class Daemon:
    """A cardexd process on a private socket; stderr goes to a log file."""

    def __init__(self, args, sock=None, env=None, wrapper=None, pass_fds=(), preexec=None,
                 wait=True, name="cardexd"):
        self.sock = sock or os.path.join(TMP, "%s-%d.sock" % (name, time.monotonic_ns() % 100000))
        self.log_path = os.path.join(TMP, "%s-%d.log" % (name, time.monotonic_ns() % 100000))
        cmd = list(wrapper or []) + [ARGS.cardexd] + list(args)
        if "--socket" not in args and sock is not False:
            cmd += ["--socket", self.sock]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, env=full_env, pass_fds=pass_fds,
                                     preexec_fn=preexec)
        _daemons.append(self.proc)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail("cardexd exited with %d before serving:\n%s" % (self.proc.returncode,
                                                                      self.log_text()))
            try:
                c = Client(self.sock, timeout=5)
                r = c.call("ping")
                c.close()
                if r.get("result", {}).get("pong"):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        fail("cardexd did not answer ping on %s within %ds:\n%s" % (self.sock, timeout,
                                                                    self.log_text()))

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=60, expect=0):
        """Signals the daemon and checks its exit status (under ASan this is
        where LeakSanitizer reports, turning the status non-zero)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail("cardexd did not exit within %ds after signal %d:\n%s" % (timeout, sig,
                                                                            self.log_text()))
        self.log.close()
        if expect is not None and rc != expect:
            fail("cardexd exited with %d, expected %d:\n%s" % (rc, expect, self.log_text()))
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Client:
    """A blocking JSON-RPC client over the daemon's socket."""

    def __init__(self, path, timeout=30):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""
        self.next_id = 1

    def close(self):
        self.s.close()

    def send_raw(self, data):
        self.s.sendall(data)

    def send(self, method, params=None, id=None, notification=False):
        msg = {"jsonrpc": "2.0", "method": method}
        if not notification:
            if id is None:
                id = self.next_id
                self.next_id += 1
            msg["id"] = id
        if params is not None:
            msg["params"] = params
        self.send_raw((json.dumps(msg) + "\n").encode())
        return id

    def recv_line(self):
        """One line, or None at end of stream."""
        while b"\n" not in self.buf:
            try:
                chunk = self.s.recv(1 << 16)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                if self.buf:
                    fail("stream ended inside a line: %r" % self.buf[:200])
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def recv(self):
        line = self.recv_line()
        if line is None:
            return None
        try:
            return json.loads(line)
        except ValueError:
            fail("reply is not JSON: %r" % line[:300])

    def call(self, method, params=None):
        id = self.send(method, params)
        r = self.recv()
        if r is None:
            fail("connection closed while waiting for the reply to %s" % method)
        check(r.get("id") == id, "reply id %r for request %r" % (r.get("id"), id))
        check(r.get("jsonrpc") == "2.0", "reply without jsonrpc 2.0: %r" % r)
        return r

    def result(self, method, params=None):
        r = self.call(method, params)
        if "result" not in r:
            fail("%s %r failed: %r" % (method, params, r))
        return r["result"]

    def expect_eof(self, timeout=10):
        self.s.settimeout(timeout)
        line = self.recv_line()
        check(line is None, "expected the daemon to close the connection, got %r" % line)


def expect_error(reply, code, field=None):
    check("error" in reply, "expected error %d, got %r" % (code, reply))
    e = reply["error"]
    check(e.get("code") == code, "expected error %d, got %r" % (code, e))
    check(isinstance(e.get("message"), str) and e["message"], "error without message: %r" % e)
    check(e["message"] == e["message"].strip() and e["message"][0].islower(),
          "error message should be lowercase and trimmed: %r" % e["message"])
    if field is not None:
        check(e.get("data", {}).get("field") == field,
              "expected data.field %r, got %r" % (field, e.get("data")))
    return e


def still_answers(sock, timeout=10):
    """The daemon answers a new connection's ping (retrying while a connection
    limit still counts clients that just hung up)."""
    deadline = time.time() + timeout
    while True:
        c = Client(sock)
        try:
            c.send("ping", id="still")
            r = c.recv()
        except OSError:
            r = None
        c.close()
        if r and "result" in r:
            check(r["id"] == "still" and r["result"].get("pong") is True and
                  r["result"].get("version") == "1.0", "bad ping: %r" % r)
            return
        if time.time() > deadline:
            fail("the daemon no longer answers ping: %r" % r)
        time.sleep(0.05)


def send_in_background(sock, data, timeout=5):
    """Sends data on a thread until done or the peer stops taking it (timeout
    seconds per send); never raises. Returns the started thread."""
    def go():
        try:
            sock.settimeout(timeout)
            sock.sendall(data)
        except OSError:
            pass
    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def rss_kb(pid):
    """The resident set size of process pid, in kB (0 if /proc does not say)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def kill_leftovers():
    for proc in _daemons:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main(fn, extra=None):
    setup(extra)
    try:
        fn()
    finally:
        kill_leftovers()
        cleanup()
    print("ok")
