"""The harness reads an upgraded stream from its first byte (fixtures/upgraded.py): pure logic, a fake
server on a unix socket that writes the ``101 UPGRADED`` headers and the frames in one write, as a
forwarded (ssh://) engine's bytes may arrive."""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

import docker

import fixtures.engine  # noqa: F401  (installs the fix)

HEADERS = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
           b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def serve_once(path: Path, answer: bytes) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)

    def run() -> None:
        conn, _ = server.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        conn.sendall(answer)
        conn.close()
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_frames_sent_with_the_headers_are_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "engine.sock"
    thread = serve_once(path, HEADERS + frame(1, b"conformance-exec\n") + frame(2, b"oops\n"))
    client = docker.APIClient(base_url=f"unix://{path}", version="1.24", timeout=10)
    assert client.exec_start("abc", demux=True) == (b"conformance-exec\n", b"oops\n")
    thread.join(5)


def test_frames_after_the_headers_still_arrive(tmp_path: Path) -> None:
    path = tmp_path / "engine.sock"
    thread = serve_once(path, HEADERS + frame(1, b"a" * 70000) + frame(2, b"b\n"))
    client = docker.APIClient(base_url=f"unix://{path}", version="1.24", timeout=10)
    assert client.exec_start("abc", demux=True) == (b"a" * 70000, b"b\n")
    thread.join(5)
