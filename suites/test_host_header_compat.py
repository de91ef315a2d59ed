"""Feature ``host-header-compat``: old clients' Host header on the unix socket (docker PR 22000).

Docker clients before 1.10 sent ``Host: /var/run/docker.sock`` (the socket path) on the unix
socket. Go 1.6 began refusing such requests with 400 "malformed Host header"; Red Hat's docker
accepted them again (200, ``Connection: close``) so that old clients kept working. The engine
MUST answer old clients' requests; well-formed requests MUST work; a request without Host
(HTTP/1.1) and a path Host in a later header MUST be refused with 400. Raw HTTP on the engine's
unix socket, so no client library rewrites the headers.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fixtures.harness import Harness, feature

pytestmark = feature("host-header-compat")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(socket_path: str, timeout: float, headers: list[str], path: str = "/_ping") -> Answer:
    """GET ``path`` with exactly these header lines (and Connection: close), on the unix socket."""
    request = "\r\n".join([f"GET {path} HTTP/1.1", *headers, "Connection: close", "", ""]).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return Answer(status, fields, body)


Ask = Callable[..., Answer]


@pytest.fixture
def socket_path(harness: Harness) -> str:
    if harness.api_socket is None:
        pytest.skip(f"not applicable: the engine's unix socket cannot be reached from here ({harness.spec.url})")
    return harness.api_socket


@pytest.fixture
def ask(harness: Harness, socket_path: str, record_property: Any) -> Ask:
    """Sends one raw request; the status and body are recorded in the report (what the engine does)."""

    def send(headers: list[str], path: str = "/_ping") -> Answer:
        answer = raw_request(socket_path, harness.spec.timeout, headers, path)
        record_property("answer", f"{answer.status} {answer.body[:100].decode(errors='replace').strip()}")
        return answer

    return send


def test_well_formed_host_is_answered(ask: Ask) -> None:
    """``Host: localhost`` MUST be answered 200 OK on /_ping."""
    answer = ask(["Host: localhost"])
    assert (answer.status, answer.body.strip()) == (200, b"OK")


def test_old_client_socket_path_host_is_accepted(ask: Ask) -> None:
    """``Host: /var/run/docker.sock`` as the first header (pre-1.10 clients) MUST be answered 200."""
    answer = ask(["Host: /var/run/docker.sock", "User-Agent: Docker-Client/1.9.1 (linux)"])
    assert answer.status == 200, f"answered {answer.status}: {answer.body[:200]!r}"
    assert answer.body.strip() == b"OK"


def test_old_client_api_call_with_its_own_socket_path_as_host_is_answered(ask: Ask, socket_path: str) -> None:
    """An old client sent the path it was given (``-H unix://PATH``) as Host, whatever the path: an API call so
    made, ``GET /v1.24/version`` with ``Host: PATH`` of the engine's own socket and the headers such a client
    sent, MUST be answered 200 with the version (a second observation beside
    test_old_client_socket_path_host_is_accepted; PR 22000's override takes any Host starting with / as the
    first header: cmd/dockerd/hack/malformed_host_override.go)."""
    answer = ask([f"Host: {socket_path}", "User-Agent: Docker-Client/1.9.1 (linux)", "Accept-Encoding: gzip"],
                 "/v1.24/version")
    assert answer.status == 200, f"answered {answer.status}: {answer.body[:200]!r}"
    assert b'"Version"' in answer.body, answer.body[:300]


def test_empty_host_is_accepted(ask: Ask) -> None:
    """An empty Host value (HTTP/1.1 allows it for a host-less URI) MUST be answered 200."""
    answer = ask(["Host:"])
    assert answer.status == 200, f"answered {answer.status}: {answer.body[:200]!r}"


def test_missing_host_is_refused(ask: Ask) -> None:
    """An HTTP/1.1 request without Host MUST be refused with 400 (RFC 7230 §5.4)."""
    answer = ask(["User-Agent: conformance"])
    assert answer.status == 400


def test_path_host_in_a_later_header_is_refused(ask: Ask) -> None:
    """A path-valued Host that is not the first header is not what old clients sent: MUST be 400."""
    answer = ask(["User-Agent: conformance", "Host: /var/run/docker.sock"])
    assert answer.status == 400
