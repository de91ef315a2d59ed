"""Feature ``version-packages``: package versions in ``/version`` (docker PR 14591, Red Hat only).

Support needs to know which *packages* an engine runs on. ``/version`` MUST describe the engine
in one of its two shapes: flat (before Docker 17.06: Version, ApiVersion, GitCommit, GoVersion,
Os, Arch) or with ``Components[]`` of {Name, Version, Details}, the top-level Version then equal
to the engine component's. The engine SHOULD report its package: Red Hat's builds as a top-level
``PkgVersion`` (``docker version``'s "Package version"), Podman as ``Details.Package`` of conmon
and the OCI runtime. Every package it reports MUST be the one installed in the engine host's
package database (dpkg or rpm): ``PkgVersion`` that of the package owning the engine's binary,
``Details.Package`` that of the package it names.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from fixtures.engine import EngineFacts
from fixtures.engine_host import EngineHost
from fixtures.harness import Harness, feature

pytestmark = feature("version-packages")

ENGINE_COMPONENTS = ("Engine", "Podman Engine")
FLAT_FIELDS = ("Version", "ApiVersion", "GitCommit", "GoVersion", "Os", "Arch")
ENGINE_PACKAGE = "PkgVersion"  # the key reported_packages() uses for Red Hat's top-level field


def components(facts: EngineFacts) -> list[dict[str, Any]]:
    return list(facts.raw_version.get("Components") or [])


def test_version_describes_the_engine_in_one_of_its_shapes(engine_facts: EngineFacts) -> None:
    """``/version`` MUST carry the flat fields, and where it has ``Components`` each MUST have a Name,
    a Version and a Details object."""
    version = engine_facts.raw_version
    assert {f: type(version.get(f)).__name__ for f in FLAT_FIELDS} == {f: "str" for f in FLAT_FIELDS}
    assert version["Version"] and version["ApiVersion"]
    for comp in components(engine_facts):
        assert isinstance(comp.get("Name"), str) and comp["Name"]
        assert isinstance(comp.get("Version"), str) and comp["Version"]
        assert isinstance(comp.get("Details", {}), dict)


def test_top_level_version_is_the_engine_components(engine_facts: EngineFacts) -> None:
    """Where ``Components`` exist, the top-level Version and ApiVersion MUST be the engine component's."""
    if "Components" not in engine_facts.raw_version:
        pytest.skip("not applicable: /version has no Components (the flat shape of engines before Docker 17.06)")
    engine = [c for c in components(engine_facts) if c.get("Name") in ENGINE_COMPONENTS]
    assert len(engine) == 1, f"expected one engine component among {[c.get('Name') for c in components(engine_facts)]}"
    assert engine_facts.raw_version["Version"] == engine[0]["Version"]
    details = engine[0].get("Details", {})
    api = details.get("ApiVersion") or details.get("APIVersion")
    assert api is not None
    assert engine_facts.raw_version["ApiVersion"] in (api, engine_facts.engine_api_version)


def reported_packages(facts: EngineFacts) -> dict[str, str]:
    """Every package the engine reports: its own (``PkgVersion``) and its components' (``Details.Package``)."""
    packages = {ENGINE_PACKAGE: facts.package} if facts.package and facts.package != "<unknown>" else {}
    packages.update({c["Name"]: c["Details"]["Package"] for c in components(facts)
                     if isinstance(c.get("Details"), dict) and c["Details"].get("Package")})
    return packages


def test_engine_reports_package_versions(engine_facts: EngineFacts, record_property: Any) -> None:
    """The engine SHOULD report its package: top-level ``PkgVersion`` or ``Components[].Details.Package``."""
    packages = reported_packages(engine_facts)
    record_property("packages", ", ".join(f"{c}={p}" for c, p in packages.items()))
    assert packages, (f"neither a top-level PkgVersion ({engine_facts.package or 'absent'}) nor a Details.Package "
                      f"in Components {[c.get('Name') for c in components(engine_facts)]}")


PACKAGE_FORMS = [
    # dpkg: name_version_arch (conmon_2.1.6+ds1-1_amd64)
    (re.compile(r"^(?P<name>[a-z0-9][a-z0-9.+-]+)_(?P<version>[^_]+)_(?P<arch>[a-z0-9]+)$"), "dpkg"),
    # rpm: name-version-release.arch (conmon-2.1.7-2.fc38.x86_64)
    (re.compile(r"^(?P<name>.+)-(?P<version>[^-]+-[^-]+)\.(?P<arch>[a-z0-9_]+)$"), "rpm"),
]
DPKG_FORMAT = "'${Package}_${Version}_${Architecture}'"


def installed(engine_host: EngineHost, db: str, name: str) -> str:
    """What the host's package database says of package ``name``, in the form engines report it."""
    if db == "dpkg":
        out = engine_host.run(f"dpkg-query -W -f {DPKG_FORMAT} %s", name)
    else:
        out = engine_host.run("rpm -q %s", name)
    return out.stdout.strip() if out.rc == 0 else f"not installed ({(out.stderr or out.stdout).strip()})"


def package_named(engine_host: EngineHost, reported: str) -> tuple[str, str]:
    """The host database and its record of the package ``reported`` names."""
    for pattern, db in PACKAGE_FORMS:
        m = pattern.match(reported)
        if m is not None and engine_host.exists("dpkg-query" if db == "dpkg" else "rpm"):
            return db, installed(engine_host, db, m["name"])
    return "none", f"{reported!r} is neither name_version_arch (dpkg) nor name-version-release.arch (rpm)"


def package_owning(engine_host: EngineHost, path: str) -> tuple[str, str]:
    """The host database and its record of the package that owns ``path`` (dpkg -S / rpm -qf)."""
    if engine_host.exists("rpm") and (owner := engine_host.run("rpm -qf %s", path)).rc == 0:
        return "rpm", owner.stdout.strip()
    if engine_host.exists("dpkg-query") and (owner := engine_host.run("dpkg -S %s", path)).rc == 0:
        return "dpkg", installed(engine_host, "dpkg", owner.stdout.split(":", 1)[0].strip())
    return "none", f"no package owns {path}"


def test_reported_packages_match_the_host_package_database(
    engine_facts: EngineFacts, harness: Harness, engine_host: EngineHost, record_property: Any
) -> None:
    """Every package the engine reports MUST be what the engine host's dpkg/rpm has installed: ``PkgVersion``
    the package owning the engine binary, ``Details.Package`` the package it names."""
    packages = reported_packages(engine_facts)
    if not packages:
        pytest.skip("not applicable: the engine reports no PkgVersion or Details.Package to compare")
    found = {}
    unowned = ""
    for component, reported in packages.items():
        if component == ENGINE_PACKAGE:
            binary = harness.engine_process(engine_host).exe
            db, on_host = package_owning(engine_host, binary)
            if db == "none":  # a locally built engine: no package to compare its PkgVersion with (issue 29 item 4)
                unowned = on_host
                continue
            component = f"{ENGINE_PACKAGE} (binary {binary})"
        else:
            db, on_host = package_named(engine_host, reported)
        found[component] = (reported, db, on_host)
    if not found:
        pytest.skip(f"not applicable: {unowned} on the engine host (a locally built engine): its PkgVersion has no "
                    "package to be compared with")
    record_property("host_packages", ", ".join(f"{c}: {db} {h}" for c, (_, db, h) in found.items()))
    assert {c: r for c, (r, _, _) in found.items()} == {c: h for c, (_, _, h) in found.items()}
