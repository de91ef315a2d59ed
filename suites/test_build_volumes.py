"""Feature ``build-volumes`` (Red Hat's "volume support in docker build"): host directories bound
into a build's RUN steps — Podman's ``volume`` parameter of ``POST /build`` (4.4 and later), Red
Hat docker's ``buildbinds`` — MUST be readable in RUN, absent from the resulting image, and a
read-only bind MUST refuse writes. An engine that ignores the parameters fails the test for that
reason: its RUN step reports the bound file missing.

The bound directory is made on the engine host (``host_dir``) and removed after; the build
runs on the busybox tool image; the built image is removed after the test.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid

import pytest

from fixtures.containers import ContainerFactory, remove_built
from fixtures.harness import feature

pytestmark = feature("build-volumes")

DOCKERFILE = """FROM {base}
RUN cat /mnt/conformance/file > /copied && (touch /mnt/conformance/new 2>/dev/null && echo wrote || echo refused) > /rw
CMD ["sh", "-c", "cat /copied /rw; ls -A /mnt/conformance 2>/dev/null | wc -l"]
"""


def context(dockerfile: str) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        body = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    return data.getvalue()


def build(containers: ContainerFactory, base: str, bind: str, tag: str) -> str:
    """POST /build with the bind given both ways (Podman's ``volume``, Red Hat's ``buildbinds``);
    the build's output."""
    api = containers.client.api
    params: list[tuple[str, str]] = [("t", tag), ("rm", "1"), ("forcerm", "1"), ("volume", bind),
                                     ("buildbinds", json.dumps([bind]))]
    answer = api.post(f"{api.base_url}/v{api.api_version}/build", params=params,
                      data=context(DOCKERFILE.format(base=base)),
                      headers={"Content-Type": "application/x-tar"}, timeout=300)
    return answer.text if answer.status_code == 200 else f"HTTP {answer.status_code}: {answer.text}"


def test_bind_is_readable_in_run_read_only_and_absent_from_the_image(containers: ContainerFactory,
                                                                     tool_image: str, host_dir: str) -> None:
    """With a read-only bind of a host directory, RUN MUST read its file, MUST NOT be able to write
    into it, and the image MUST hold neither the directory's content nor the bind."""
    tag = f"localhost/conformance/build-volumes:{uuid.uuid4().hex[:10]}"
    output = build(containers, tool_image, f"{host_dir}:/mnt/conformance:ro", tag)
    try:
        if "No such file" in output or "HTTP " in output or '"error"' in output:
            pytest.fail("the RUN step did not see the bound directory (the engine ignored the volume/buildbinds "
                        f"build parameters): {output[-800:]}", pytrace=False)
        result = containers.run(tag)
        lines = result.stdout.split()
        assert lines[0] == "from-host", result.output
        assert lines[1] == "refused", "a write into the read-only bind succeeded"
        assert lines[2] == "0", f"the image holds {lines[2]} entries of the bound directory"
    finally:
        remove_built(containers.client, tag)
