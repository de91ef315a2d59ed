"""Feature ``distro-images``: tests run on each distribution's own images (docker PR 15364).

The image the harness runs for a ``--distro`` name MUST be that distribution: its
``/etc/os-release`` carries the distribution's ID and version (or, for BusyBox, which has none,
``busybox`` itself answers), whichever way it was provided (engine, mirror, local recipe).
"""

from __future__ import annotations

import fnmatch

import pytest

from fixtures.catalog import Distro
from fixtures.containers import ContainerFactory
from fixtures.harness import feature

pytestmark = feature("distro-images")


def parse_os_release(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            fields[key.strip()] = value.strip().strip('"').strip("'")
    return fields


def test_base_image_is_the_named_distribution(containers: ContainerFactory, base_image: str, distro: Distro) -> None:
    """The distro's image MUST identify as that distribution (os-release ID and VERSION_ID)."""
    if distro.identity:
        result = containers.run(base_image, [distro.identity])
        assert result.exit_code == 0 and distro.identity.lower() in result.output.lower()[:200]
        assert containers.run(base_image, ["test", "-e", "/etc/os-release"]).exit_code != 0
        return
    if not distro.os_release:
        pytest.fail(f"catalog entry {distro.name} says neither os_release nor identity")
    result = containers.run(base_image, ["cat", "/etc/os-release"])
    assert result.exit_code == 0, result.stderr
    fields = parse_os_release(result.stdout)
    for key, pattern in distro.os_release:
        assert fnmatch.fnmatchcase(fields.get(key, ""), pattern), f"{key}={fields.get(key)!r}, expected {pattern!r}"


def test_base_image_runs_with_its_catalog_shell(containers: ContainerFactory, base_image: str, distro: Distro) -> None:
    """The catalog's shell MUST exist in the image and run commands (the suites rely on it)."""
    result = containers.run(base_image, [distro.shell, "-c", "echo $((40+2))"])
    assert (result.exit_code, result.stdout) == (0, "42\n")
