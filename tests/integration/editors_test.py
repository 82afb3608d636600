#!/usr/bin/env python3
"""editors_test.py nvim|emacs|python — run an integration's own tests against a real cardexd."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cxdaemon import SRC, Daemon  # noqa: E402


def main(which):
    tool = {"nvim": "nvim", "emacs": "emacs", "python": sys.executable}[which]
    if shutil.which(tool) is None:
        print("skipped: %s is not installed (scripts/bootstrap.sh test installs it)" % tool)
        return 77
    tmp = tempfile.mkdtemp(prefix="cardex-%s-" % which)
    d = Daemon(tmp)
    env = dict(os.environ, CARDEX_SOCKET=d.sock, HOME=tmp)
    try:
        if which == "nvim":
            cmd = ["nvim", "--headless", "-u", "NONE", "-i", "NONE", "--cmd",
                   "set rtp^=" + os.path.join(SRC, "contrib", "nvim"),
                   "-c", "runtime plugin/cardex.lua",
                   "-c", "luafile " + os.path.join(HERE, "nvim_test.lua")]
        else:
            cmd = ["emacs", "--batch", "-Q", "-L", os.path.join(SRC, "contrib", "emacs"),
                   "-l", os.path.join(HERE, "emacs_test.el"), "-f", "ert-run-tests-batch-and-exit"]
        r = subprocess.run(cmd, env=env, timeout=120, stdin=subprocess.DEVNULL)
        return r.returncode
    finally:
        rc = d.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if rc not in (0, None):
            print("cardexd exited with %s" % rc)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
