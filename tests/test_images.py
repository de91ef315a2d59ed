"""Derived images: built once per engine and content, also when several processes ask at once."""

from __future__ import annotations

import contextlib
import multiprocessing
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from fixtures.images import DerivedBuildError, ImageProvider
from tests.conftest import run_pytest

BUSYBOX = "localhost/conformance-base/busybox:static"


def build_in_child(url: str, cache: str, marker: str) -> tuple[str, list[str]]:
    client = docker.DockerClient(base_url=url, timeout=120)
    provider = ImageProvider(client, url, Path(cache))
    ref = provider.derived("concurrency", f"FROM {{base}}\nRUN echo {marker} > /marker\n", BUSYBOX)
    return ref, provider.log


def test_concurrent_requests_build_the_image_once(engine_url: str, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        answers = pool.starmap(build_in_child, [(engine_url, str(tmp_path), marker)] * 3)
    refs = {ref for ref, _ in answers}
    builds = [line for _, log in answers for line in log if line.startswith("built ")]
    client = docker.DockerClient(base_url=engine_url, timeout=60)
    try:
        assert len(refs) == 1 and len(builds) == 1, (refs, builds)
        assert next(iter(refs)).startswith("localhost/conformance/concurrency:")
        again = build_in_child(engine_url, str(tmp_path), marker)
        assert again == (next(iter(refs)), [])  # the next run reuses it: no build
    finally:
        client.images.remove(next(iter(refs)), force=True)


@pytest.fixture
def local_registry(tmp_path: Path) -> Iterator[str]:
    """A distribution registry on loopback (Debian's docker-registry), as a lab mirror would be."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n")
    proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_image_mirror_supplies_a_distro_the_engine_lacks(engine_url: str, local_registry: str,
                                                         tmp_path: Path) -> None:
    """Provisioning pulls a distro's reference through --image-mirror when the engine lacks it."""
    client = docker.DockerClient(base_url=engine_url, timeout=120)
    reference = f"docker.io/library/busybox:conformance-{uuid.uuid4().hex[:8]}"
    mirrored = f"{local_registry}/{reference}"
    client.images.get(BUSYBOX).tag(mirrored)
    for line in client.images.push(mirrored, stream=True, decode=True):
        assert "error" not in line, line
    client.images.remove(mirrored)
    catalog = tmp_path / "distros.toml"
    catalog.write_text(f'[distros.busybox]\ntitle = "BusyBox"\nreferences = ["{reference}"]\n'
                       f'package_manager = "none"\nidentity = "busybox"\noffline = "a mirror"\n')
    try:
        run = run_pytest("suites/test_distro_images.py", f"--engine-url={engine_url}", f"--catalog={catalog}",
                         f"--image-mirror={local_registry}", "--distro=busybox")
        assert run.returncode == 0, run.output[-2000:]
        assert f"busybox={mirrored}" in run.output  # the header names the image the run used
        without = run_pytest("suites/test_distro_images.py", f"--engine-url={engine_url}",
                             f"--catalog={catalog}", "--no-pull", "--distro=busybox")
        assert without.returncode == 4 and "pulling disabled" in without.output
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(mirrored)


def test_a_derived_image_that_cannot_be_built_names_distro_engine_step_and_log(engine_url: str,
                                                                             tmp_path: Path) -> None:
    """A failing derived-image build is one error: the distro, the engine, the failing step and the
    build's last log lines (what an old engine's seccomp does to apt in a new distro, say)."""
    client = docker.DockerClient(base_url=engine_url, timeout=60)
    provider = ImageProvider(client, engine_url, tmp_path, engine_label=f"docker at {engine_url}")
    dockerfile = "FROM {base}\nRUN echo " + uuid.uuid4().hex + " && echo apt-would-say-this >&2 && exit 100\n"
    try:
        with pytest.raises(DerivedBuildError) as err:
            provider.derived("doomed", dockerfile, BUSYBOX, distro="busybox")
    finally:
        client.close()
    message = str(err.value)
    assert message.startswith(f"derived image 'doomed' of distro busybox ({BUSYBOX}) could not be built on "
                              f"engine docker at {engine_url}: the build failed at Step 2/")
    assert ": RUN echo" in message.splitlines()[0] and "non-zero code: 100" in message.splitlines()[0]
    assert "apt-would-say-this" in message.split("last log lines:\n", 1)[1].splitlines()
