"""cardex_client — a dependency-free Python client for the cardexd socket protocol.

Standard library only. One connection is reused for every call; calls may come from many
threads at once and are pipelined on that connection (responses are matched by id, so they
may arrive in any order). Errors arrive as exceptions.

    from cardex_client import CardexClient
    with CardexClient() as cx:                       # default socket, as cardexd computes it
        for hit in cx.search("what is an isms", limit=3)["hits"]:
            print(hit["id"], hit["question"])
        print(cx.answer("how do we build an isms")["answer"])

See docs/protocol.md for every method and result shape.
"""
import itertools
import json
import os
import socket
import threading

__all__ = ["CardexClient", "CardexError", "CardexConnectionError", "CardexTimeout",
           "NotFound", "InvalidParams", "Overloaded", "default_socket_path"]

PROTOCOL_VERSION = "1.0"


def default_socket_path():
    """$CARDEX_SOCKET, else $XDG_RUNTIME_DIR/cardex/cardex.sock, else /tmp/cardex-$UID/cardex.sock."""
    env = os.environ.get("CARDEX_SOCKET")
    if env:
        return env
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and xdg.startswith("/"):  # a relative one is invalid (XDG spec), as cardexd says
        return os.path.join(xdg, "cardex", "cardex.sock")
    return "/tmp/cardex-%d/cardex.sock" % os.getuid()


class CardexError(Exception):
    """The daemon answered with a JSON-RPC error."""

    def __init__(self, code, message, data=None):
        super().__init__("%s (code %d)" % (message, code))
        self.code, self.message, self.data = code, message, data


class NotFound(CardexError):
    """-32001: no card has that id."""


class InvalidParams(CardexError):
    """-32602: a parameter is wrong; .field names it."""

    @property
    def field(self):
        return (self.data or {}).get("field")


class Overloaded(CardexError):
    """-32002: the daemon is overloaded; retry later."""


class CardexConnectionError(ConnectionError):
    """The daemon cannot be reached or hung up."""


class CardexTimeout(TimeoutError):
    """No reply within the timeout."""


_ERRORS = {-32001: NotFound, -32602: InvalidParams, -32002: Overloaded}


class _Pending:
    __slots__ = ("event", "reply")

    def __init__(self):
        self.event = threading.Event()
        self.reply = None


class CardexClient:
    """A reusable, thread-safe connection to cardexd.

    socket_path: the daemon's socket (default: default_socket_path()).
    timeout: seconds to wait for each reply (and for connecting).
    """

    def __init__(self, socket_path=None, timeout=5.0):
        self.socket_path = socket_path or default_socket_path()
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._lock = threading.Lock()       # guards _sock, _pending, _reader
        self._write_lock = threading.Lock()  # one request line at a time
        self._sock = None
        self._reader = None
        self._pending = {}

    # -- connection ---------------------------------------------------------------

    def _connect_locked(self):
        if self._sock is not None:
            return self._sock
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.socket_path)
        except OSError as e:
            s.close()
            raise CardexConnectionError(
                "cannot reach the cardex daemon at %s: %s; start it with: cardexd --seeds DIR"
                % (self.socket_path, e.strerror or e)) from None
        s.settimeout(None)
        self._sock = s
        self._reader = threading.Thread(target=self._read_loop, args=(s,), daemon=True,
                                        name="cardex-reader")
        self._reader.start()
        return s

    def _read_loop(self, sock):
        buf = b""
        error = "the daemon closed the connection"
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    try:
                        reply = json.loads(line)
                    except ValueError:
                        error = "the daemon sent a line that is not JSON"
                        raise OSError(error)
                    with self._lock:
                        p = self._pending.pop(reply.get("id"), None)
                    if p is not None:
                        p.reply = reply
                        p.event.set()
        except OSError as e:
            error = str(e) or error
        finally:
            with self._lock:
                if self._sock is sock:
                    self._sock = None
                pending, self._pending = self._pending, {}
            try:
                sock.close()
            except OSError:
                pass
            for p in pending.values():
                p.reply = {"_connection_error": error}
                p.event.set()

    def close(self):
        """Closes the connection; the next call reconnects."""
        with self._lock:
            s, self._sock = self._sock, None
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- calls --------------------------------------------------------------------

    def _send(self, requests):
        """Sends (method, params) pairs on one connection; returns their _Pending."""
        pendings, lines = [], []
        with self._lock:
            sock = self._connect_locked()
            for method, params in requests:
                rid = next(self._ids)
                p = _Pending()
                self._pending[rid] = p
                pendings.append((rid, p))
                msg = {"jsonrpc": "2.0", "id": rid, "method": method}
                if params is not None:
                    msg["params"] = params
                lines.append(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
        try:
            with self._write_lock:
                sock.sendall(b"".join(lines))
        except OSError as e:
            with self._lock:
                for rid, _ in pendings:
                    self._pending.pop(rid, None)
            self.close()
            raise CardexConnectionError("writing to the daemon at %s: %s"
                                        % (self.socket_path, e)) from None
        return pendings

    def _wait(self, rid, p, timeout):
        if not p.event.wait(self.timeout if timeout is None else timeout):
            with self._lock:
                self._pending.pop(rid, None)
            raise CardexTimeout("no reply from the daemon at %s within %.1f s"
                                % (self.socket_path, self.timeout if timeout is None else timeout))
        reply = p.reply
        if "_connection_error" in reply:
            raise CardexConnectionError("%s (%s)" % (reply["_connection_error"], self.socket_path))
        if "error" in reply:
            err = reply["error"]
            cls = _ERRORS.get(err.get("code"), CardexError)
            raise cls(err.get("code", 0), err.get("message", "error"), err.get("data"))
        return reply.get("result")

    def call(self, method, params=None, timeout=None):
        """One request; returns its result or raises."""
        (rid, p), = self._send([(method, params)])
        return self._wait(rid, p, timeout)

    def call_many(self, requests, timeout=None):
        """Pipelines [(method, params), ...] in one write; returns results in order.
        An error in one raises after all replies arrived (the first error)."""
        pendings = self._send(requests)
        results, first_error = [], None
        for rid, p in pendings:
            try:
                results.append(self._wait(rid, p, timeout))
            except (CardexError, CardexTimeout) as e:
                results.append(e)
                first_error = first_error or e
        if first_error is not None:
            raise first_error
        return results

    def notify(self, method, params=None):
        """A notification: executed by the daemon, no reply."""
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        with self._lock:
            sock = self._connect_locked()
        with self._write_lock:
            sock.sendall(json.dumps(msg).encode() + b"\n")

    # -- methods ------------------------------------------------------------------

    def search(self, query, limit=None, offset=None, packs=None, tags=None, highlight=None,
               explain=None, **extra):
        params = {"query": query}
        for k, v in (("limit", limit), ("offset", offset), ("packs", packs), ("tags", tags),
                     ("highlight", highlight), ("explain", explain)):
            if v is not None:
                params[k] = v
        params.update(extra)
        return self.call("search", params)

    def answer(self, query, packs=None, tags=None):
        params = {"query": query}
        if packs:
            params["packs"] = packs
        if tags:
            params["tags"] = tags
        return self.call("answer", params)

    def get(self, card_id):
        return self.call("get", {"id": card_id})

    def suggest(self, prefix, limit=None):
        params = {"prefix": prefix}
        if limit is not None:
            params["limit"] = limit
        return self.call("suggest", params)

    def related(self, card_id, limit=None):
        params = {"id": card_id}
        if limit is not None:
            params["limit"] = limit
        return self.call("related", params)

    def stats(self):
        return self.call("stats")

    def ping(self):
        return self.call("ping")

    def reload(self, timeout=120):
        return self.call("reload", timeout=timeout)
