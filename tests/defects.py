"""A defect-injecting proxy: a unix socket in front of a real engine that rewrites container
create requests (drops a field, flips a flag), to check that the suite catches each defect.

Client→engine traffic is parsed request by request (Content-Length bodies); after a protocol
upgrade (attach/exec hijack) or a chunked request it is piped as is. Engine→client is piped.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from tests.engines import unix_server

Mutation = Callable[[dict[str, Any]], None]


def _read_head(conn: socket.socket, buf: bytearray) -> bytes | None:
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    buf[:] = rest
    return head


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := src.recv(65536):
            dst.sendall(chunk)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


class Knobs:
    """What the proxy does now; tests may change it while a run goes on."""

    def __init__(self, mutate: Mutation, version_extra: dict[str, Any] | None = None) -> None:
        self.mutate = mutate
        self.delay = 0.0  # seconds to hold every request before it reaches the engine
        self.version_extra = version_extra or {}  # fields added to the engine's /version answer


def _version_answer(engine_socket: str, head: bytes, extra: dict[str, Any]) -> bytes:
    """The engine's own /version answer (asked on a connection of its own) with ``extra`` merged in."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(engine_socket)
        conn.sendall(head.split(b"\r\n")[0] + b"\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    body = json.dumps({**json.loads(answer.partition(b"\r\n\r\n")[2]), **extra}).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def _client_to_engine(client: socket.socket, engine: socket.socket, knobs: Knobs, engine_socket: str) -> None:
    buf = bytearray()
    with contextlib.suppress(OSError):
        while True:
            head = _read_head(client, buf)
            if head is None:
                break
            lines = head.split(b"\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(b":") for h in lines[1:])}
            if b"chunked" in headers.get(b"transfer-encoding", b"") or b"upgrade" in headers:
                engine.sendall(head + b"\r\n\r\n" + bytes(buf))
                _pipe(client, engine)
                return
            length = int(headers.get(b"content-length", b"0"))
            while len(buf) < length:
                chunk = client.recv(65536)
                if not chunk:
                    break
                buf += chunk
            body, buf[:] = bytes(buf[:length]), buf[length:]
            method, path = lines[0].split(b" ")[:2]
            if knobs.version_extra and method == b"GET" and path.split(b"?")[0].endswith(b"/version"):
                client.sendall(_version_answer(engine_socket, head, knobs.version_extra))
                continue
            if method == b"POST" and b"/containers/create" in path and body:
                spec = json.loads(body)
                knobs.mutate(spec)
                body = json.dumps(spec).encode()
                lines = [line for line in lines if not line.lower().startswith(b"content-length:")]
                lines.append(b"Content-Length: %d" % len(body))
            if knobs.delay:
                time.sleep(knobs.delay)
            engine.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    with contextlib.suppress(OSError):
        engine.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def defect_proxy(engine_socket: str, mutate: Mutation) -> Iterator[str]:
    with proxy(engine_socket, Knobs(mutate)) as url:
        yield url


@contextlib.contextmanager
def proxy(engine_socket: str, knobs: Knobs) -> Iterator[str]:
    """A unix socket in front of the engine at ``engine_socket``, doing what ``knobs`` say."""

    def handle(client: socket.socket) -> None:
        with client, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as engine:
            engine.connect(engine_socket)
            back = threading.Thread(target=_pipe, args=(engine, client), daemon=True)
            back.start()
            _client_to_engine(client, engine, knobs, engine_socket)
            back.join()

    with unix_server(handle, "proxy") as url:
        yield url
