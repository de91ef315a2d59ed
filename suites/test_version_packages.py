"""Feature ``version-packages``: package versions in ``/version`` (docker PR 14591, Red Hat only).

Support needs to know which *packages* an engine runs on. ``/version`` MUST describe its
components (``Components[]`` of {Name, Version, Details}) with the top-level Version equal to the
engine component's; the engine SHOULD report the package of its runtime pieces
(``Details.Package``, as Podman does for conmon and the OCI runtime), and every package it reports
MUST be the one installed in the engine host's package database (dpkg or rpm).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from fixtures.engine import EngineFacts
from fixtures.harness import feature

pytestmark = feature("version-packages")

ENGINE_COMPONENTS = ("Engine", "Podman Engine")


def components(facts: EngineFacts) -> list[dict[str, Any]]:
    return list(facts.raw_version.get("Components") or [])


def test_version_lists_components_with_name_version_details(engine_facts: EngineFacts) -> None:
    """``Components`` MUST be a non-empty list; each has a Name, a Version and a Details object."""
    comps = components(engine_facts)
    assert comps, "no Components in /version"
    for comp in comps:
        assert isinstance(comp.get("Name"), str) and comp["Name"]
        assert isinstance(comp.get("Version"), str) and comp["Version"]
        assert isinstance(comp.get("Details", {}), dict)


def test_top_level_version_is_the_engine_components(engine_facts: EngineFacts) -> None:
    """The top-level Version and ApiVersion MUST be the engine component's."""
    engine = [c for c in components(engine_facts) if c.get("Name") in ENGINE_COMPONENTS]
    assert len(engine) == 1, f"expected one engine component among {[c.get('Name') for c in components(engine_facts)]}"
    assert engine_facts.raw_version["Version"] == engine[0]["Version"]
    details = engine[0].get("Details", {})
    api = details.get("ApiVersion") or details.get("APIVersion")
    assert api is not None
    assert engine_facts.raw_version["ApiVersion"] in (api, engine_facts.api_version)


def reported_packages(facts: EngineFacts) -> dict[str, str]:
    return {c["Name"]: c["Details"]["Package"] for c in components(facts)
            if isinstance(c.get("Details"), dict) and c["Details"].get("Package")}


def test_engine_reports_package_versions(engine_facts: EngineFacts) -> None:
    """The engine SHOULD name the package of its runtime components (``Details.Package``)."""
    assert reported_packages(engine_facts), (
        f"no component reports Details.Package: {[c.get('Name') for c in components(engine_facts)]}"
    )


PACKAGE_FORMS = [
    # dpkg: name_version_arch (conmon_2.1.6+ds1-1_amd64)
    (re.compile(r"^(?P<name>[a-z0-9][a-z0-9.+-]+)_(?P<version>[^_]+)_(?P<arch>[a-z0-9]+)$"), "dpkg"),
    # rpm: name-version-release.arch (conmon-2.1.7-2.fc38.x86_64)
    (re.compile(r"^(?P<name>.+)-(?P<version>[^-]+-[^-]+)\.(?P<arch>[a-z0-9_]+)$"), "rpm"),
]


def host_package(engine_host: Any, reported: str) -> tuple[str, str]:
    """What the host's package database says for the package named in ``reported``."""
    for pattern, db in PACKAGE_FORMS:
        m = pattern.match(reported)
        if m is None:
            continue
        name = m["name"]
        if db == "dpkg" and engine_host.exists("dpkg-query"):
            out = engine_host.run("dpkg-query -W -f '${Package}_${Version}_${Architecture}' %s", name)
            return db, out.stdout.strip() if out.rc == 0 else f"not installed ({out.stderr.strip()})"
        if db == "rpm" and engine_host.exists("rpm"):
            out = engine_host.run("rpm -q %s", name)
            return db, out.stdout.strip() if out.rc == 0 else f"not installed ({out.stdout.strip()})"
    return "none", ""


def test_reported_packages_match_the_host_package_database(
    engine_facts: EngineFacts, engine_host: Any, record_property: Any
) -> None:
    """Every package the engine reports MUST be what the engine host's dpkg/rpm has installed."""
    packages = reported_packages(engine_facts)
    record_property("packages", ", ".join(f"{c}={p}" for c, p in packages.items()))
    if not packages:
        pytest.skip("not applicable: the engine reports no Details.Package to compare")
    for component, reported in packages.items():
        db, installed = host_package(engine_host, reported)
        if db == "none":
            pytest.fail(f"{component}: {reported!r} is neither name_version_arch (dpkg) nor "
                        "name-version-release.arch (rpm), or the host lacks that database")
        assert installed == reported, f"{component}: engine says {reported}, host {db} says {installed}"
