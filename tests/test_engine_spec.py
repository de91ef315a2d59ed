"""Engine URLs and options are checked before any connection is tried."""

from __future__ import annotations

import pytest

from fixtures.engine import MANAGED_DOCKER_URL, EngineSpec, TLSOptions
from fixtures.errors import HarnessError
from fixtures.images import mirror_reference


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("foo://x", "malformed engine URL"),
        ("unix://", "needs a socket path"),
        ("tcp://", "no host"),
        ("/var/run/docker.sock", "malformed engine URL"),
    ],
)
def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(HarnessError, match=message):
        EngineSpec.resolve(url, 60, TLSOptions())


def test_default_is_docker_host_then_managed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert EngineSpec.resolve(None, 60, TLSOptions()).url == MANAGED_DOCKER_URL
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
    assert EngineSpec.resolve(None, 60, TLSOptions()).url == "tcp://10.0.0.1:2375"


def test_missing_tls_material_and_bad_timeout_are_refused() -> None:
    with pytest.raises(HarnessError, match=r"TLS ca file /nonexistent/ca\.pem does not exist"):
        EngineSpec.resolve("tcp://h:2376", 60, TLSOptions(ca="/nonexistent/ca.pem"))
    with pytest.raises(HarnessError, match="must be positive"):
        EngineSpec.resolve("tcp://h:2376", 0, TLSOptions())


@pytest.mark.parametrize(
    ("ref", "mirror", "expected"),
    [
        ("registry.access.redhat.com/rhel7:latest", "mirror.lan:5000",
         "mirror.lan:5000/registry.access.redhat.com/rhel7:latest"),
        ("registry.access.redhat.com/rhel7:latest", "registry.access.redhat.com=127.0.0.1:5000/rh",
         "127.0.0.1:5000/rh/rhel7:latest"),
        ("quay.io/centos/centos:stream9", "registry.access.redhat.com=127.0.0.1:5000/rh",
         "quay.io/centos/centos:stream9"),
    ],
)
def test_image_mirror_rewrites(ref: str, mirror: str, expected: str) -> None:
    assert mirror_reference(ref, mirror) == expected
