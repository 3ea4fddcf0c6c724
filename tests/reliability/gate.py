"""A TCP gate in front of a fake provider: open, refusing connections, or accepting and hanging.

The fakes answer HTTP errors on request; a provider that is unreachable (connection refused) or
that accepts and never answers (a timeout) needs something below HTTP. The gate listens on a fixed
loopback port for the whole session, so the stack keeps one base URL while the test changes modes.
"""
from __future__ import annotations

import socket
import threading
from typing import Optional

OPEN, REFUSE, HANG = "open", "refuse", "hang"


class Gate:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = OPEN
        self._lock = threading.Lock()
        self._listener: Optional[socket.socket] = None
        self._connections: set[socket.socket] = set()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- modes ------------------------------------------------------------------------------------
    def set(self, mode: str) -> None:
        """Switches mode; connections open now are cut, so clients reconnect under the new mode."""
        with self._lock:
            self.mode = mode
            connections, self._connections = self._connections, set()
        for connection in connections:
            _close(connection)
        if mode == REFUSE:
            self._unlisten()
        elif self._listener is None:
            self._listen()

    def close(self) -> None:
        self.set(REFUSE)

    # -- plumbing ---------------------------------------------------------------------------------
    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _unlisten(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: refusing
            with self._lock:
                self._connections.add(client)
                mode = self.mode
            if mode == HANG:
                continue  # accepted, never answered: the client's read times out
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._connections.add(upstream)
            threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
