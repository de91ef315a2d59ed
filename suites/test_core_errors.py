"""Feature ``core``: errors are typed — the Engine API's status codes for refusals.

Source: the Engine API reference (every endpoint documents 400 for a bad parameter, 404 for a
missing object, 500 for a server error) and moby's ``errdefs`` mapping. Feature suites check
*that* an engine refuses and what the error says; the status code a refusal carries is checked
here, once, so a report says exactly which contract is missing.
"""

from __future__ import annotations

import uuid

import docker.errors
import pytest

from fixtures.containers import ContainerFactory, tar_of
from fixtures.harness import feature

pytestmark = feature("core")


def test_missing_image_is_404(containers: ContainerFactory) -> None:
    """Creating from an image the engine does not have MUST fail with 404 (no implicit success)."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.create("localhost/conformance/no-such-image:never", ["true"])
    assert err.value.status_code == 404


def test_missing_container_is_404(containers: ContainerFactory) -> None:
    """Inspecting a container that does not exist MUST answer 404."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.client.containers.get("conformance-no-such-container-0000")
    assert err.value.status_code == 404


@pytest.mark.parametrize("bad", ["SIGNOPE", "0"])
def test_invalid_stop_signal_is_refused_at_create(containers: ContainerFactory, base_image: str, bad: str) -> None:
    """A container with an invalid StopSignal MUST NOT be created (docker PR 20290's refusal), whatever the
    status (the status apart: test_invalid_stop_signal_is_a_400)."""
    name = f"conformance-bad-stop-signal-{uuid.uuid4().hex[:8]}"
    with pytest.raises(docker.errors.APIError):
        containers.create(base_image, ["true"], stop_signal=bad, name=name)
    assert not containers.client.containers.list(all=True, filters={"name": name}), "a container was made anyway"


@pytest.mark.parametrize("bad", ["SIGNOPE", "0"])
def test_invalid_stop_signal_is_a_400(containers: ContainerFactory, base_image: str, bad: str) -> None:
    """An invalid StopSignal is a bad parameter: create MUST answer 400 (the Engine API's status for one)."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.create(base_image, ["true"], stop_signal=bad)
    assert err.value.status_code == 400, f"{err.value.status_code}: {err.value.explanation}"


def test_archive_put_to_a_missing_path_is_404(containers: ContainerFactory, base_image: str) -> None:
    """PUT /containers/{id}/archive to a directory that does not exist MUST answer 404."""
    container = containers.create(base_image, ["sleep", "300"])
    with pytest.raises(docker.errors.APIError) as err:
        container.put_archive("/no/such/conformance-dir", tar_of("x", b"x\n"))
    assert err.value.status_code == 404, f"{err.value.status_code}: {err.value.explanation}"
