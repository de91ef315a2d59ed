"""The registries the suite starts (fixtures/registry.py): they serve, and nothing of them — process,
data directory, certificate, trusted CA — outlives the run; credentials are redacted from records."""

from __future__ import annotations

import ipaddress
import subprocess
import time
import urllib.request
from pathlib import Path

import docker
import pytest

from fixtures import evidence, paths, registry
from fixtures.launcher import LAUNCH_ROOT
from tests.conftest import ROOT, run_pytest


@pytest.mark.exclusive
def test_a_registry_run_leaves_no_process_directory_or_trusted_ca(engine_url: str) -> None:
    assert registry.leftovers() == []
    run = run_pytest("suites/test_core_registry.py", f"--engine-url={engine_url}", "-n", "2", "-q", cwd=ROOT,
                     timeout=300)
    assert run.returncode == 0, run.output[-3000:]
    assert "passed" in run.output
    assert registry.leftovers() == []


@pytest.mark.exclusive
def test_registries_in_an_engine_instances_namespace_leave_nothing() -> None:
    """The registry suites run a configured Podman instance with registries on its own loopback;
    afterwards no registry, instance, directory or trusted CA is left."""
    podman = str(paths.managed_socket("podman"))
    if not Path(podman).exists():
        pytest.skip("no managed Podman (ci/engines up podman)")
    run = run_pytest("suites/test_registries_add_block.py", "suites/test_registry_search.py",
                     f"--engine-url=unix://{podman}", "-q", cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.output[-3000:]
    assert "passed" in run.output
    assert registry.leftovers() == []
    assert list(LAUNCH_ROOT.glob("*")) == [] if LAUNCH_ROOT.exists() else True


def test_registries_answer_and_are_removed_on_close(tmp_path: Path) -> None:
    farm = registry.Registries("none", base=tmp_path / "regs")
    plain, failing = farm.get("plain"), farm.get("failing")
    assert isinstance(plain, registry.DistributionRegistry)
    assert urllib.request.urlopen(f"http://{plain.host}/v2/", timeout=5).status == 200
    assert "GET /v2/" in plain.requests()
    assert failing.host.startswith("127.0.0.1:")
    assert farm.close() == []
    assert not (tmp_path / "regs").exists()  # the shared base too, once empty
    assert plain.process.poll() is not None


def links() -> str:
    return subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=30).stdout


@pytest.mark.exclusive
def test_a_routed_registry_listens_off_loopback_and_its_route_goes_with_it(tmp_path: Path) -> None:
    """``routed``: a registry at an address of 198.18.0.0/15 in a namespace of the suite's own, reached from this
    one through a veth pair; closed, neither its namespace nor the pair is left."""
    farm = registry.Registries("none", base=tmp_path / "regs")
    plain = farm.routed("plain")
    address = ipaddress.ip_address(plain.host.rsplit(":", 1)[0])
    assert address in registry.ROUTED_RANGE and not address.is_loopback
    assert urllib.request.urlopen(f"http://{plain.host}/v2/", timeout=5).status == 200
    assert farm.route is not None and f"{farm.route.link}@" in links()
    link = farm.route.link
    assert farm.close() == []
    assert f"{link}@" not in links()
    assert registry.leftovers() == []


def test_a_route_ends_with_the_process_that_made_it() -> None:
    """A run killed with SIGKILL cannot close its routes: each one's holder ends with its owner, the pair with it."""
    owner = subprocess.Popen(["sleep", "60"])
    route = registry.make_route(None, owner.pid)
    assert f"{route.link}@" in links()
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 15
    while f"{route.link}@" in links() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert f"{route.link}@" not in links()
    assert route.holder.wait(timeout=5) is not None


def test_login_bodies_are_redacted_in_api_evidence() -> None:
    body = b'{"username": "u", "password": "s3cret-pass", "serveraddress": "r", "identitytoken": "tok"}'
    text = evidence._text(body)
    assert "s3cret-pass" not in text and "tok\"" not in text and '"password": "<redacted>"' in text


# nightly: the mirror path is test_images.py's test_image_mirror_supplies_a_distro_the_engine_lacks in the gate, and
# the suites on debian12 are the gate's configurations'; this proves both again, at length (30-60 s)
@pytest.mark.nightly
def test_a_distro_image_from_a_mirror_runs_a_whole_suite(engine_url: str) -> None:
    """The offline-lab path end to end: a distro image (debian12) served by a registry the suite
    starts, found by a fresh engine through --image-mirror (not built by its recipe), and the
    distro-images and core suites run on it."""
    from fixtures.launcher import copy_images
    from tests.engines import private_dockerd

    local = "localhost/conformance-base/debian12:bookworm-minbase"  # catalog: docker.io/library/debian:bookworm
    made = run_pytest("suites/test_distro_images.py", f"--engine-url={engine_url}", "--distro=debian12", "-q",
                      cwd=ROOT, timeout=600)
    assert made.returncode == 0, made.output[-2000:]
    with private_dockerd() as engine:
        farm = registry.Registries("docker", netns_pid=engine.process.pid)
        try:
            mirror = farm.get("plain", 5001)
            assert isinstance(mirror, registry.DistributionRegistry)
            client = engine.client()
            source = docker.DockerClient(base_url=engine_url)
            copy_images(source, client, [local])
            mirrored = f"{mirror.host}/library/debian:bookworm"
            client.images.get(local).tag(mirrored)
            assert "error" not in str(list(client.api.push(mirrored, stream=True, decode=True)))
            client.images.remove(str(client.images.get(local).id), force=True)
            run = run_pytest("suites/", "-m", "distro-images or core", f"--engine-url={engine.url}",
                             "--distro=debian12", f"--image-mirror=docker.io/library={mirror.host}/library",
                             "-n", "2", "-q", cwd=ROOT, timeout=600)
            assert run.returncode == 0, run.output[-3000:]
            assert "failed" not in run.output
            assert any(r.split()[0] in ("GET", "HEAD") and "/v2/library/debian/manifests/" in r
                       for r in mirror.requests()), mirror.requests()
            pulled = client.images.get(mirrored)
            assert not any(t.startswith("localhost/conformance-base/debian12") for t in pulled.tags), \
                "the engine built the image from its recipe instead of pulling it from the mirror"
        finally:
            farm.close()
