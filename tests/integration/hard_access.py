#!/usr/bin/env python3
"""hard_access.py — nothing of the daemon is reachable over the network: no TCP/UDP/raw socket (IPv4 or
IPv6) and no abstract Unix socket at any point (start-up, serving, reload, --watch), only its socket file,
mode 0600. (Socket modes, the default directory's 0700 and --allow-uid are in daemon_socket.py.)"""
import os
import socket
import stat
import daemon_lib as L
from daemon_lib import check

NET_TABLES = ["tcp", "tcp6", "udp", "udp6", "udplite", "udplite6", "raw", "raw6"]


def socket_inodes(pid):
    """Inodes of every socket the process holds."""
    out = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            out.add(int(target[8:-1]))
    return out


def table_inodes(pid, name):
    """{inode: local address} of /proc/PID/net/NAME (the process's network namespace)."""
    path = "/proc/%d/net/%s" % (pid, name)
    if not os.path.exists(path):
        return {}
    out = {}
    with open(path) as f:
        header = f.readline().split()
        for line in f:
            cols = line.split()
            if name == "unix":
                # Num RefCount Protocol Flags Type St Inode [Path]
                out[int(cols[6])] = cols[7] if len(cols) > 7 else ""
            else:
                out[int(cols[9])] = cols[1]
    return out


def check_no_network(pid, when):
    mine = socket_inodes(pid)
    check(mine, "%s: the daemon holds no socket at all?" % when)
    for name in NET_TABLES:
        hits = {i: a for i, a in table_inodes(pid, name).items() if i in mine}
        check(not hits, "%s: the daemon has %s sockets %r" % (when, name, hits))
    unix = {i: p for i, p in table_inodes(pid, "unix").items() if i in mine}
    abstract = {i: p for i, p in unix.items() if p.startswith("@")}
    check(not abstract, "%s: abstract unix sockets (reachable whatever the file modes): %r"
          % (when, abstract))
    # Every socket is accounted for: unix ones, or socketpair/netlink ones without a table row
    # in the tables above (libuv's signal pipe and inotify are not sockets).
    return len(unix)


def detection_works():
    """The same inspection finds a TCP listener in this very process: the check can fail."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    mine = socket_inodes(os.getpid())
    found = [i for i in table_inodes(os.getpid(), "tcp") if i in mine]
    s.close()
    check(found, "cannot see our own TCP listener in /proc/self/net/tcp: the check is blind")


def run():
    detection_works()
    seeds = L.copy_seeds()
    index = os.path.join(L.TMP, "index.db")
    d = L.Daemon(["--seeds", seeds, "--index", index, "--watch"])
    pid = d.proc.pid
    mode = stat.S_IMODE(os.stat(d.sock).st_mode)
    check(mode == 0o600, "socket mode %o, expected 600" % mode)
    n = check_no_network(pid, "serving")
    check(n >= 1, "the listening socket is not in /proc/net/unix")
    clients = [L.Client(d.sock) for _ in range(5)]
    for c in clients:
        c.result("search", {"query": "what is an isms"})
    check_no_network(pid, "with clients")
    clients[0].result("reload")
    with open(os.path.join(seeds, "Q077.md"), "a") as f:
        f.write("\n")
    check_no_network(pid, "after a reload")
    for c in clients:
        c.close()
    L.still_answers(d.sock)
    check_no_network(pid, "after clients left")
    d.stop()
    print("no TCP/UDP/raw/abstract sockets at any point; socket file mode 0600")


L.main(run)
