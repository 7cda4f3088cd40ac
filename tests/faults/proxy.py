"""A TCP proxy in front of PostgreSQL that a test can switch off: the database "goes away" for the server behind it
while the real PostgreSQL keeps running for everyone else.

``take_away()`` closes every connection it carries (the server's driver sees the connection closed under it, as when
PostgreSQL restarts or the network drops; PostgreSQL sees its client gone and rolls back whatever was open) and, until
``bring_back()``, closes each new connection as soon as it is made.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class DatabaseProxy:
    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.refused = 0  # connections closed at once while the database was away
        self._available = threading.Event()
        self._available.set()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._thread = threading.Thread(target=self._accept, name="database-proxy", daemon=True)

    def __enter__(self) -> DatabaseProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self.listener.close()
        self._close_all()

    def take_away(self) -> None:
        self._available.clear()
        self._close_all()

    def bring_back(self) -> None:
        self._available.set()

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._available.is_set():
                self.refused += 1
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            pair = (client, server)
            with self._lock:
                self._pairs.add(pair)
            for source, target in (pair, pair[::-1]):
                threading.Thread(target=self._pump, args=(source, target, pair), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, pair) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        self._close(pair)

    def _close(self, pair) -> None:
        with self._lock:
            if pair not in self._pairs:
                return
            self._pairs.discard(pair)
        for sock in pair:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _close_all(self) -> None:
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._close(pair)
