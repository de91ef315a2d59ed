"""Engines the harness's own tests start for themselves, so they may stop, kill or starve them
without disturbing the managed engines other tests use."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Callable, Iterator

from fixtures.engines.moby import DockerdLauncher
from fixtures.launcher import EngineConfig, Instance, start


@contextlib.contextmanager
def private_dockerd() -> Iterator[Instance]:
    """A dockerd of the harness's launcher (fixtures/launcher.py): its own socket, roots, cgroup parent and
    network namespace (a dockerd with ``--bridge=none`` on the host's network would delete docker0)."""
    path = shutil.which("dockerd")
    if os.geteuid() != 0 or path is None:
        raise RuntimeError("a private dockerd needs root and dockerd (ci/install)")
    engine = start(DockerdLauncher(path), EngineConfig("docker", name="private dockerd"))
    try:
        yield engine
    finally:
        engine.stop()


@contextlib.contextmanager
def unix_server(handle: Callable[[socket.socket], None], prefix: str) -> Iterator[str]:
    """A unix socket served in the background, one thread per connection; yields its engine URL."""
    path = f"/tmp/conformance-{prefix}-{uuid.uuid4().hex[:8]}.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"unix://{path}"
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
        os.unlink(path)


@contextlib.contextmanager
def fake_engine(answer: Callable[[bytes], bytes]) -> Iterator[str]:
    """A unix socket that answers every request with ``answer(request)`` (a broken engine)."""

    def handle(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(2)
            conn.sendall(answer(conn.recv(65536)))

    with unix_server(handle, "fake") as url:
        yield url
