"""A TCP proxy a test controls: forward, cut, black-hole, restore.

It sits between a client (the monitor) and a server (PostgreSQL) on
127.0.0.1, so a test can take the network away and give it back without
touching the server::

    with TcpProxy("127.0.0.1", 5432) as proxy:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/db"
        ...                 # the monitor talks to PostgreSQL through the proxy
        proxy.cut()         # every open connection is closed, new ones are refused
        ...                 # "connection refused" for anyone who tries
        proxy.restore()     # the same port forwards again
        proxy.blackhole()   # connections are accepted and never answered (a silent network)

Modes
-----
* ``forward`` (the start): each accepted connection is paired with a new
  connection to the target and bytes are pumped both ways by two threads.
* ``cut``: the listening socket is closed (a new connection gets ECONNREFUSED,
  like a stopped server) and every open connection is shut down on both
  sides (the client sees its connection drop mid-query).
* ``blackhole``: open connections are dropped, new ones are accepted but
  nothing is forwarded or answered (the client waits for its own timeout,
  like a network that loses packets).

Threads only (no asyncio loop to share with the test); every socket and
thread is closed by :meth:`close` (or leaving the ``with`` block).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

FORWARD, CUT, BLACKHOLE = "forward", "cut", "blackhole"


class TcpProxy:
    """Forward ``listen_host:port`` to ``target_host:target_port`` until told otherwise."""

    def __init__(self, target_host: str, target_port: int, *, listen_host: str = "127.0.0.1",
                 listen_port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = listen_port
        self.mode = FORWARD
        self.accepted = 0
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._closed = False
        self._listen()

    # -- public ---------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        return self.listen_host, self.port

    def cut(self) -> None:
        """Drop every connection and refuse new ones (the listening socket is closed)."""
        with self._lock:
            self.mode = CUT
        self._stop_listening()
        self._drop_all()
        log.info("proxy :%d cut", self.port)

    def blackhole(self) -> None:
        """Drop every connection; accept new ones but never answer them."""
        with self._lock:
            self.mode = BLACKHOLE
        self._drop_all()
        if self._listener is None:
            self._listen()
        log.info("proxy :%d black-holed", self.port)

    def restore(self) -> None:
        """Forward again, on the same port."""
        with self._lock:
            self.mode = FORWARD
        self._drop_all()  # black-holed connections are useless: let their clients reconnect
        if self._listener is None:
            self._listen()
        log.info("proxy :%d forwarding to %s:%d", self.port, *self.target)

    def open_connections(self) -> int:
        """Client and target sockets currently open (two per forwarded connection)."""
        with self._lock:
            return len(self._sockets)

    def close(self) -> None:
        """Stop everything (idempotent)."""
        self._closed = True
        self._stop_listening()
        self._drop_all()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------
    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.listen_host, self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True,
                                          name=f"proxy-accept-{self.port}")
        self._acceptor.start()

    def _stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _shut(listener)
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None and acceptor is not threading.current_thread():
            acceptor.join(5)

    def _drop_all(self) -> None:
        with self._lock:
            doomed = list(self._sockets)
            self._sockets.clear()
        for sock in doomed:
            _shut(sock)

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._sockets.add(sock)
            return True

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: cut() or close()
            self.accepted += 1
            if not self._track(client):
                _shut(client)
                return
            with self._lock:
                mode = self.mode
            if mode == BLACKHOLE:
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            if mode != FORWARD:
                self._untrack(client)
                _shut(client)
                continue
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
            upstream.settimeout(None)
        except OSError as exc:
            log.info("proxy :%d cannot reach %s:%d: %s", self.port, *self.target, exc)
            self._untrack(client)
            _shut(client)
            return
        if not self._track(upstream):
            _shut(upstream)
            return
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                self._untrack(sock)
                _shut(sock)

    def _swallow(self, client: socket.socket) -> None:
        try:
            while client.recv(65536):
                pass
        except OSError:
            pass
        finally:
            self._untrack(client)
            _shut(client)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


@contextmanager
def proxy_to(host: str, port: int) -> Iterator[TcpProxy]:
    """A :class:`TcpProxy` to ``host:port`` on a free local port, closed at the end."""
    proxy = TcpProxy(host, port)
    try:
        yield proxy
    finally:
        proxy.close()
