"""Feature ``secrets-mounts``: host secrets mounted into every container (docker PR 6075, "RHEL super
secrets"; Podman/Buildah ``mounts.conf``).

An operator offers host files to every container: a ``SRC:/run/secrets`` line in mounts.conf
(Podman), or files in /usr/share/rhel/secrets (Red Hat docker); fixtures/operator.py installs them
through the engine's own mechanism (upstream Moby has none: these tests fail with what was
probed). Then, with nothing asked at create:

- every container MUST see each file at ``/run/secrets/<name>`` with its content;
- each file SHOULD keep its source's mode (Podman binds the source; Red Hat docker copies every
  secret with mode 0700 whatever the source's, container/secrets.go — the patch states no mode);
- a secret directory MUST be there with its files (RHEL's own secrets are directories: rhsm/);
- a write inside (changing a secret, adding a file) MUST NOT reach the host's files, nor a deletion, nor a
  change inside a secret directory;
- a build's RUN steps MUST see them too, and the built image MUST keep nothing of them (no layer
  holds a ``run/secrets`` entry of theirs).
"""

from __future__ import annotations

import io
import tarfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from fixtures.containers import remove_built, tar_of
from fixtures.harness import feature
from fixtures.operator import Operator

pytestmark = feature("secrets-mounts")

TOKEN = ("0600", "token-from-the-host\n")
NOTE = ("0644", "note-from-the-host\n")


@pytest.fixture
def secrets(operator: Operator) -> Iterator[str]:
    """The destination of two secrets installed for this test: ``conformance-token`` (0600) and
    ``conformance-note`` (0644)."""
    yield operator.secrets({"conformance-token": TOKEN, "conformance-note": NOTE})


def read_secrets(operator: Operator, secrets: str, image: str, show: str) -> list[str]:
    """``show`` (a shell command on ``$f``) for each secret, from a container that asked for nothing."""
    script = f"for f in {secrets}/conformance-token {secrets}/conformance-note; do {show}; done"
    result = operator.containers.run(image, ["sh", "-c", script])
    assert result.exit_code == 0, result.stderr
    return result.stdout.splitlines()


def test_every_container_sees_the_secrets(operator: Operator, secrets: str, base_image: str) -> None:
    """Each secret MUST be at /run/secrets/<name> in a container that asked for nothing, with its content
    (docker PR 6075)."""
    assert read_secrets(operator, secrets, base_image, 'cat "$f"') == [TOKEN[1].strip(), NOTE[1].strip()]


def test_secrets_keep_their_modes(operator: Operator, secrets: str, tool_image: str) -> None:
    """Each secret SHOULD have its source's file mode inside (0600 stays 0600: a copy readable by more
    than the source was is a weaker secret); Red Hat docker writes every copy 0700."""
    assert read_secrets(operator, secrets, tool_image, "stat -c '%n %a' \"$f\"") == [
        f"{secrets}/conformance-token {TOKEN[0][1:]}", f"{secrets}/conformance-note {NOTE[0][1:]}"]


def test_writes_inside_do_not_reach_the_host(operator: Operator, secrets: str, tool_image: str) -> None:
    """A container's write to a secret, or a new file beside them, MUST NOT change the host's files (the
    container gets a copy or a read-only view)."""
    script = (f"echo changed > {secrets}/conformance-token 2>/dev/null; "
              f"echo added > {secrets}/conformance-added 2>/dev/null; exit 0")
    assert operator.containers.run(tool_image, ["sh", "-c", script]).exit_code == 0
    host_token = operator.host.file(operator.source("conformance-token"))
    assert host_token.content_string == TOKEN[1], "the container's write reached the host's secret"
    assert not operator.host.file(operator.source("conformance-added")).exists, (
        "a file the container wrote beside the secrets appeared on the host")


@pytest.fixture
def secret_dir(operator: Operator) -> Iterator[str]:
    """The destination of a secret directory ``conformance-dir`` holding ``inner`` (0644) and ``other`` (0600),
    installed for this test beside the token."""
    yield operator.secrets({"conformance-token": TOKEN, "conformance-dir/inner": NOTE, "conformance-dir/other": TOKEN})


def test_a_secret_directory_is_there_with_its_files(operator: Operator, secret_dir: str, base_image: str) -> None:
    """A directory among the secrets MUST be at /run/secrets/<name> with each of its files and their content."""
    script = f"cat {secret_dir}/conformance-dir/inner {secret_dir}/conformance-dir/other"
    result = operator.containers.run(base_image, ["sh", "-c", script])
    assert (result.exit_code, result.stdout) == (0, NOTE[1] + TOKEN[1]), result.stderr


def test_deletions_and_directory_changes_inside_do_not_reach_the_host(operator: Operator, secret_dir: str,
                                                                      tool_image: str) -> None:
    """Deleting a secret, writing to a file of a secret directory, deleting another there and creating a new
    one there MUST leave the host's files as they were (a second observation beside
    test_writes_inside_do_not_reach_the_host, through deletions and a directory)."""
    script = (f"rm -f {secret_dir}/conformance-token; echo changed > {secret_dir}/conformance-dir/inner; "
              f"rm -f {secret_dir}/conformance-dir/other; echo added > {secret_dir}/conformance-dir/added; exit 0")
    assert operator.containers.run(tool_image, ["sh", "-c", script]).exit_code == 0
    host = operator.host
    assert host.file(operator.source("conformance-token")).content_string == TOKEN[1], "a deletion reached the host"
    assert host.file(operator.source("conformance-dir/inner")).content_string == NOTE[1], \
        "a write in a secret directory reached the host"
    assert host.file(operator.source("conformance-dir/other")).content_string == TOKEN[1], \
        "a deletion in a secret directory reached the host"
    assert not host.file(operator.source("conformance-dir/added")).exists, \
        "a file created in a secret directory appeared on the host"


@pytest.fixture
def built(operator: Operator, secrets: str, tool_image: str) -> Iterator[tuple[str, str]]:
    """An image built FROM the tool image with a RUN step that checks the token (and copies nothing); its
    tag and the build's output. Removed after the test."""
    tag = f"localhost/conformance/secrets-build:{uuid.uuid4().hex[:12]}"
    dockerfile = (f"FROM {tool_image}\n"
                  f'RUN test "$(cat {secrets}/conformance-token)" = "{TOKEN[1].strip()}" '
                  f'&& echo secret-seen-in-$((6 * 7))\n'
                  "RUN echo built > /built\n")
    client = operator.site.client
    log = [str(chunk.get("stream") or chunk.get("error") or "") for chunk in client.api.build(
        fileobj=io.BytesIO(tar_of("Dockerfile", dockerfile.encode())), custom_context=True, tag=tag, rm=True,
        forcerm=True, decode=True)]
    yield tag, "".join(log)
    remove_built(client, tag)


def test_build_run_steps_see_the_secrets(built: tuple[str, str]) -> None:
    """A build's RUN step MUST see the secrets as containers do (the step fails if the token is not there
    with its content)."""
    assert "secret-seen-in-42" in built[1], built[1][-1500:]


def layer_entries(client: Any, tag: str) -> list[str]:
    """Every path in every layer of the saved image."""
    saved = io.BytesIO(b"".join(client.api.get_image(tag)))
    paths: list[str] = []
    with tarfile.open(fileobj=saved) as outer:
        for member in outer.getmembers():
            if member.isfile() and (member.name.endswith(".tar") or "/blobs/" in member.name):
                data = outer.extractfile(member)
                try:
                    with tarfile.open(fileobj=io.BytesIO(data.read() if data else b"")) as layer:
                        paths += layer.getnames()
                except tarfile.ReadError:
                    continue  # a config or manifest blob
    return paths


def test_built_image_keeps_nothing_of_the_secrets(operator: Operator, built: tuple[str, str]) -> None:
    """The image built with the secrets mounted MUST NOT carry them: no layer holds an entry with a secret's
    name (docker PR 6075 mounts them, it does not copy them in)."""
    tag, log = built
    if "secret-seen-in-42" not in log:
        pytest.fail(f"the build failed, so there is no image to read: {log[-800:]}", pytrace=False)
    paths = layer_entries(operator.site.client, tag)
    assert any(p.lstrip("./") == "built" for p in paths), f"the saved image's layers were not read: {paths[:20]}"
    leaked = [p for p in paths if "conformance-token" in p or "conformance-note" in p]
    assert leaked == [], f"the built image keeps the secrets: {leaked}"
