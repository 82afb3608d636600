"""cxdaemon.py — start a real cardexd on a private socket for black-box tests.

Environment: CARDEXD (daemon binary), CARDEX_INDEX_TOOL (cardex-index), CX_SOURCE_DIR (repo root).
"""
import os
import signal
import socket
import subprocess
import time

CARDEXD = os.environ.get("CARDEXD", "build/daemon/cardexd")
INDEX_TOOL = os.environ.get("CARDEX_INDEX_TOOL", "build/index/cardex-index")
SRC = os.environ.get("CX_SOURCE_DIR", os.getcwd())


def wait_for_socket(path, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return True
        except OSError:
            time.sleep(0.05)
        finally:
            s.close()
    return False


class Daemon:
    """cardexd serving an index built from seeds/ in tmp (or from `seeds` given)."""

    def __init__(self, tmp, seeds=None, extra_args=()):
        self.sock = os.path.join(tmp, "cardex.sock")
        self.index = os.path.join(tmp, "index.db")
        subprocess.run([INDEX_TOOL, "build", seeds or os.path.join(SRC, "seeds"), "-o", self.index],
                       check=True, capture_output=True)
        self.proc = subprocess.Popen([CARDEXD, "--index", self.index, "--socket", self.sock,
                                      "--log-level", "warn", *extra_args])
        if not wait_for_socket(self.sock):
            self.proc.kill()
            raise RuntimeError("cardexd did not start on " + self.sock)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
