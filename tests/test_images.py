"""Derived images: built once per engine and content, also when several processes ask at once."""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path

import docker

from fixtures.images import ImageProvider

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
