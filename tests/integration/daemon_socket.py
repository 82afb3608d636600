#!/usr/bin/env python3
"""daemon_socket.py — socket handling: stale file, second daemon, modes, default paths, activation, peer uids."""
import os
import shutil
import socket
import stat
import subprocess
import time
import daemon_lib as L
from daemon_lib import check


def refused(args, expect_in, env=None):
    r = subprocess.run([L.ARGS.cardexd] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60, env=dict(os.environ, **(env or {})))
    check(r.returncode != 0, "cardexd %r should have been refused" % args)
    check(expect_in in r.stderr, "expected %r in the message, got:\n%s" % (expect_in, r.stderr))
    return r.stderr


def connect_as(uid, path):
    """Connects as another uid (needs root); returns the first reply line or b''."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        out = b"error"
        try:
            os.setgid(uid)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            s.connect(path)
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
            out = s.recv(4096)
        except Exception as e:
            out = b"exception " + repr(e).encode()
        os.write(wfd, out)
        os._exit(0)
    os.close(wfd)
    data = b""
    while True:
        chunk = os.read(rfd, 4096)
        if not chunk:
            break
        data += chunk
    os.close(rfd)
    os.waitpid(pid, 0)
    return data


def run():
    index = L.build_index()

    # a stale socket file (its server died) is replaced
    path = os.path.join(L.TMP, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()
    check(stat.S_ISSOCK(os.lstat(path).st_mode), "setup: no stale socket")
    d = L.Daemon(["--index", index], sock=path)
    check("removed stale socket" in d.log_text(), "stale socket not reported")
    check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, "socket mode %o" % os.stat(path).st_mode)

    # a second daemon on the same socket is refused, the first keeps serving
    msg = refused(["--index", index, "--socket", path], "already serving")
    check(str(d.proc.pid) in msg, "the refusal should name the running pid: %s" % msg)
    L.still_answers(path)
    d.stop()
    check(not os.path.exists(path), "socket not removed at exit")

    # a socket someone else listens on is refused; so is a file that is not a socket
    other = socket.socket(socket.AF_UNIX)
    other_path = os.path.join(L.TMP, "other.sock")
    other.bind(other_path)
    other.listen(1)
    refused(["--index", index, "--socket", other_path], "is in use")
    other.close()
    plain = os.path.join(L.TMP, "plain")
    open(plain, "w").close()
    refused(["--index", index, "--socket", plain], "not a socket")
    refused(["--index", index, "--socket", os.path.join(L.TMP, "x" * 120)], "too long")
    refused(["--index", os.path.join(L.TMP, "missing.db"), "--socket",
             os.path.join(L.TMP, "m.sock")], "missing.db")
    refused(["--bogus"], "unknown option")
    refused([], "--index")
    refused(["--index", index, "--socket-mode", "0644x"], "octal")

    # --socket-mode widens to a group
    gpath = os.path.join(L.TMP, "group.sock")
    d = L.Daemon(["--index", index, "--socket-mode", "0660"], sock=gpath)
    check(stat.S_IMODE(os.stat(gpath).st_mode) == 0o660, "socket-mode 0660 gave %o" %
          stat.S_IMODE(os.stat(gpath).st_mode))
    d.stop()

    # default paths: $XDG_RUNTIME_DIR/cardex/cardex.sock, and CARDEX_SOCKET overrides it
    xdg = os.path.join(L.TMP, "xdg")
    os.mkdir(xdg, 0o700)
    d = L.Daemon(["--index", index], sock=False, env={"XDG_RUNTIME_DIR": xdg}, wait=False)
    d.sock = os.path.join(xdg, "cardex", "cardex.sock")
    d.wait_ready()
    check(stat.S_IMODE(os.stat(os.path.dirname(d.sock)).st_mode) == 0o700, "socket dir mode")
    d.stop()
    env_sock = os.path.join(L.TMP, "env.sock")
    d = L.Daemon(["--index", index], sock=False, wait=False,
                 env={"XDG_RUNTIME_DIR": xdg, "CARDEX_SOCKET": env_sock})
    d.sock = env_sock
    d.wait_ready()
    d.stop()

    # --seeds without --index keeps the index in $XDG_CACHE_HOME/cardex/index.db
    seeds = L.copy_seeds()
    cache = os.path.join(L.TMP, "cache")
    d = L.Daemon(["--seeds", seeds], env={"XDG_CACHE_HOME": cache})
    c = L.Client(d.sock)
    st = c.result("stats")
    c.close()
    want = os.path.join(cache, "cardex", "index.db")
    check(st["index"]["path"] == want and os.path.exists(want), "default index: %r" % st["index"])
    check(st["index"]["cards"] >= 1, "no cards built")
    d.stop()
    # ... and a card that does not parse stops the first load with its diagnostic
    with open(os.path.join(seeds, "Q999.md"), "w") as f:
        f.write("query: no id here\n---\nbody\n")
    refused(["--seeds", seeds, "--index", os.path.join(L.TMP, "bad.db"), "--socket",
             os.path.join(L.TMP, "bad.sock")], "Q999.md")

    # systemd socket activation: the listening socket arrives as fd 3
    apath = os.path.join(L.TMP, "activated.sock")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(apath)
    ls.listen(16)
    fd = ls.fileno()
    move = "" if fd == 3 else "exec 3<&%d %d<&-; " % (fd, fd)
    script = move + 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'
    d = L.Daemon(["--index", index, "--socket", os.path.join(L.TMP, "unused.sock")],
                 sock=apath, wrapper=["sh", "-c", script], pass_fds=(fd,), wait=False)
    ls.close()
    d.sock = apath
    d.wait_ready()
    check("socket activation" in d.log_text(), "activation not logged:\n" + d.log_text())
    check(not os.path.exists(os.path.join(L.TMP, "unused.sock")), "bound --socket despite activation")
    d.stop()
    check(os.path.exists(apath), "the activated socket belongs to systemd: it must stay")

    # the same through systemd's own tool, when installed
    sa = shutil.which("systemd-socket-activate")
    if sa:
        spath = os.path.join(L.TMP, "sd.sock")
        d = L.Daemon(["--index", index], sock=False, wrapper=[sa, "-l", spath], wait=False)
        d.sock = spath
        d.wait_ready()
        check("socket activation" in d.log_text(), "systemd-socket-activate: not activated")
        d.stop()

    # --allow-uid (needs root to connect as someone else)
    if os.geteuid() == 0:
        os.chmod(L.TMP, 0o755)
        upath = os.path.join(L.TMP, "uid.sock")
        d = L.Daemon(["--index", index, "--socket-mode", "0666", "--allow-uid", "4242"], sock=upath)
        check(b'"pong":true' in connect_as(4242, upath), "an allowed uid was refused")
        got = connect_as(4343, upath)
        # closed without a reply: EOF, or a reset because the ping was left unread
        check(got == b"" or b"ConnectionResetError" in got or b"BrokenPipeError" in got,
              "a uid not in --allow-uid got %r" % got)
        check("not in --allow-uid" in d.log_text(), "refusal not logged")
        L.still_answers(upath)  # the daemon's own uid is always allowed
        d.stop()
    else:
        print("skipping --allow-uid checks: not root")


L.main(run)
