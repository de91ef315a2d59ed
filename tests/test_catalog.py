"""The distro catalog: real references for every distro, selection and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.catalog import load_catalog, select
from fixtures.errors import HarnessError

REQUIRED = {"rhel7", "rhel8", "rhel9", "ubi9", "fedora", "centos-stream9", "debian11", "debian12", "debian13",
            "busybox"}
OWN_REGISTRIES = {
    "rhel7": "registry.access.redhat.com/",
    "rhel8": "registry.",
    "rhel9": "registry.redhat.io/",
    "ubi9": "registry.access.redhat.com/",
    "fedora": "registry.fedoraproject.org/",
    "centos-stream9": "quay.io/centos/",
    "debian11": "docker.io/library/debian:bullseye",
    "debian12": "docker.io/library/debian:bookworm",
    "debian13": "docker.io/library/debian:trixie",
    "busybox": "docker.io/library/busybox:",
}


def test_catalog_lists_every_supported_distro_with_its_own_registry() -> None:
    catalog = load_catalog()
    assert REQUIRED <= set(catalog)
    for name, prefix in OWN_REGISTRIES.items():
        assert catalog[name].references[0].startswith(prefix), name
        assert catalog[name].offline


def test_only_locally_buildable_distros_have_recipes_and_local_tags() -> None:
    catalog = load_catalog()
    with_recipe = {name for name, d in catalog.items() if d.recipe}
    assert with_recipe == {"debian11", "debian12", "debian13", "busybox"}
    for name in with_recipe:
        tag = catalog[name].local_tag
        assert tag and tag.startswith("localhost/"), "a local build must never carry the distro's public name"
        assert (Path(__file__).parent.parent / "images" / "recipes" / str(catalog[name].recipe)).is_file()


def test_select_accepts_commas_and_repeats_in_order_without_duplicates() -> None:
    catalog = load_catalog()
    assert [d.name for d in select(catalog, ["debian12,busybox", "busybox", " fedora "])] == [
        "debian12", "busybox", "fedora",
    ]


def test_unknown_distro_error_lists_the_valid_ones() -> None:
    with pytest.raises(HarnessError, match=r"unknown distro nosuch; valid distros: busybox, .*rhel7"):
        select(load_catalog(), ["nosuch"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[distros", "malformed distro catalog"),
        ("x = 1", "no \\[distros.<name>\\] tables"),
        ("[distros.a]\ntitle='A'\npackage_manager='x'\noffline='y'", "lacks the key 'references'"),
        ("[distros.a]\ntitle='A'\nreferences=[]\npackage_manager='x'\noffline='y'", "non-empty list"),
    ],
)
def test_malformed_catalog_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "distros.toml"
    path.write_text(text)
    with pytest.raises(HarnessError, match=message):
        load_catalog(path)
