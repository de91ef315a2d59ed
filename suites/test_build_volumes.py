"""Feature ``build-volumes`` (Red Hat's "volume support in docker build"): host directories bound
into a build's RUN steps — Podman's ``volume`` parameter of ``POST /build`` (4.4 and later), Red
Hat docker's ``buildbinds`` — MUST be readable in RUN, absent from the resulting image, and a
read-only bind MUST refuse writes. An engine that ignores the parameters fails the test for that
reason: its RUN step reports the bound file missing.

The seed's patch says more, each a test of its own: a bind given ``:rw`` MUST still be mounted
read-only, and the build output MUST warn so (Red Hat docker 1.13.1 prints "[Warning] bind mount
mode is read-write for SRC:DEST:rw, it will be changed to read-only", observed); SELinux suffixes
(``:z``, ``:Z``) MUST be accepted beside the mode (their relabel is not observable without SELinux
on the engine host); and a volume given instead of a host directory (``NAME:/path``, as ``docker run
-v NAME:/path`` would take it) MUST make the build fail, leaving no volume behind.

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


def build(containers: ContainerFactory, base: str, bind: str, tag: str, dockerfile: str = DOCKERFILE) -> str:
    """POST /build with the bind given both ways (Podman's ``volume``, Red Hat's ``buildbinds``);
    the build's output (its stream and error text), or ``HTTP <status>: <body>`` where it was refused."""
    api = containers.client.api
    params: list[tuple[str, str]] = [("t", tag), ("rm", "1"), ("forcerm", "1"), ("volume", bind),
                                     ("buildbinds", json.dumps([bind]))]
    answer = api.post(f"{api.base_url}/v{api.api_version}/build", params=params,
                      data=context(dockerfile.format(base=base)),
                      headers={"Content-Type": "application/x-tar"}, timeout=300)
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}: {answer.text}"
    chunks = [json.loads(line) for line in answer.text.splitlines() if line.strip().startswith("{")]
    return "".join(str(c.get("stream") or "") + (f"ERROR: {c['error']}\n" if c.get("error") else "") for c in chunks)


def failed(output: str) -> bool:
    return output.startswith("HTTP ") or "ERROR: " in output


def require_bind_seen(output: str) -> None:
    if "No such file" in output or failed(output):
        pytest.fail("the RUN step did not see the bound directory (the engine ignored the volume/buildbinds "
                    f"build parameters): {output[-800:]}", pytrace=False)


def run_built(containers: ContainerFactory, tag: str) -> list[str]:
    """What the built image's command prints: the file RUN copied, whether RUN could write, and how
    many entries of the bound directory the image holds."""
    result = containers.run(tag)
    lines = result.stdout.split()
    assert len(lines) == 3, result.output
    return lines


def test_bind_is_readable_in_run_read_only_and_absent_from_the_image(containers: ContainerFactory,
                                                                     tool_image: str, host_dir: str) -> None:
    """With a read-only bind of a host directory, RUN MUST read its file, MUST NOT be able to write
    into it, and the image MUST hold neither the directory's content nor the bind."""
    tag = f"localhost/conformance/build-volumes:{uuid.uuid4().hex[:10]}"
    output = build(containers, tool_image, f"{host_dir}:/mnt/conformance:ro", tag)
    try:
        require_bind_seen(output)
        copied, wrote, entries = run_built(containers, tag)
        assert copied == "from-host"
        assert wrote == "refused", "a write into the read-only bind succeeded"
        assert entries == "0", f"the image holds {entries} entries of the bound directory"
    finally:
        remove_built(containers.client, tag)


def test_read_write_bind_is_mounted_read_only_with_a_warning(containers: ContainerFactory, tool_image: str,
                                                             host_dir: str) -> None:
    """A bind given ``:rw`` MUST be mounted read-only all the same (a build must not change the host), and
    the build's output MUST warn, naming the bind (the seed's buildbinds patch)."""
    tag = f"localhost/conformance/build-volumes:{uuid.uuid4().hex[:10]}"
    bind = f"{host_dir}:/mnt/conformance:rw"
    output = build(containers, tool_image, bind, tag)
    try:
        require_bind_seen(output)
        copied, wrote, _ = run_built(containers, tag)
        assert (copied, wrote) == ("from-host", "refused"), "the :rw bind was writable in RUN"
        warned = [line for line in output.splitlines() if bind in line and "read-only" in line]
        assert warned, f"no warning naming {bind} and read-only in the build output: {output[-800:]}"
    finally:
        remove_built(containers.client, tag)


@pytest.mark.parametrize("suffix", ["ro,z", "ro,Z", "z"])
def test_selinux_suffixes_are_accepted(containers: ContainerFactory, tool_image: str, host_dir: str,
                                       suffix: str) -> None:
    """``:z`` and ``:Z`` (shared and private SELinux relabel) MUST be accepted beside the mode: the build
    runs, RUN reads the file and cannot write (a bare ``:z`` has no ``ro``: still read-only)."""
    tag = f"localhost/conformance/build-volumes:{uuid.uuid4().hex[:10]}"
    output = build(containers, tool_image, f"{host_dir}:/mnt/conformance:{suffix}", tag)
    try:
        require_bind_seen(output)
        assert run_built(containers, tag)[:2] == ["from-host", "refused"]
    finally:
        remove_built(containers.client, tag)


def test_a_volume_instead_of_a_host_directory_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """A named volume where a host directory belongs (``NAME:/path``) MUST make the build fail, and no volume
    of that name MUST be left (the seed's patch: build binds are host directories only)."""
    tag = f"localhost/conformance/build-volumes:{uuid.uuid4().hex[:10]}"
    name = f"conformance-build-volume-{uuid.uuid4().hex[:10]}"
    # RUN needs nothing of the mount: the build can fail only for the volume
    output = build(containers, tool_image, f"{name}:/mnt/conformance", tag, "FROM {base}\nRUN true\n")
    made = [v for v in containers.client.volumes.list() if v.name == name]
    for volume in made:  # the engine made it for this test's build: the suite's to remove
        volume.remove()
    remove_built(containers.client, tag)
    assert failed(output), f"the build with the volume {name} succeeded: {output[-600:]}"
    assert name in output, f"the refusal does not name the volume {name}: {output[-600:]}"
    assert made == [], f"the refused build left the volume {name}"
