"""Engine identity and API versions, from recorded /version and /info answers of each engine
generation (tests/data/engines/*.json: Docker 1.13 upstream and Red Hat, 17.03, 20.10, 28.0 with the
containerd image store, 28.5 as Debian unstable ships it; Podman 4.3, 5.2 rootless and 5.8; an engine
that is neither). Pure logic: no engine is contacted."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fixtures import api
from fixtures.engine import EngineFacts, EngineSpec, TLSOptions, detect, negotiate
from fixtures.errors import HarnessError
from fixtures.expectations import find

DATA = Path(__file__).parent / "data" / "engines"
GENERATIONS = sorted(DATA.glob("*.json"))
FEATURES = {line.split(":", 1)[0].strip() for line in
            (Path(__file__).parent.parent / "pytest.ini").read_text().split("markers =", 1)[1].splitlines()
            if re.match(r"^\s+[a-z0-9-]+:", line)}
EXPECTATIONS = {"docker-1.13.1-rhel7": ("docker-rhel.toml",), "docker-1.13.1-upstream": (), "docker-17.03": (),
                "docker-20.10-debian12": ("docker.toml",),
                "docker-28": (),  # 28.0.1: no version nobody measured has expectations
                "docker-28.5-debian-unstable": ("docker.toml",),
                "podman-4.3-debian12": ("podman.toml",),
                "podman-5": (),  # 5.2.2 (rootless): not measured
                "podman-5.8-debian-unstable": ("podman.toml",),
                "other-flat": ()}


class FakeAPI:
    def __init__(self, version: dict[str, Any], info: dict[str, Any], spoken: str | None = None) -> None:
        self.answers = version, info
        self._version = spoken or version["ApiVersion"]  # docker-py keeps the spoken version here

    def version(self, api_version: bool = True) -> dict[str, Any]:
        return self.answers[0]

    def info(self) -> dict[str, Any]:
        return self.answers[1]


class FakeClient:
    def __init__(self, version: dict[str, Any], info: dict[str, Any], spoken: str | None = None) -> None:
        self.api = FakeAPI(version, info, spoken)


def recorded(path: Path, spoken: str | None = None) -> tuple[EngineFacts, dict[str, Any]]:
    data = json.loads(path.read_text())
    return detect(FakeClient(data["version"], data["info"], spoken)), data  # type: ignore[arg-type]


@pytest.mark.parametrize("path", GENERATIONS, ids=[p.stem for p in GENERATIONS])
def test_each_generation_is_identified(path: Path) -> None:
    facts, data = recorded(path)
    want = data["expect"]
    assert (facts.kind, facts.version, facts.name, facts.package, facts.api_version) == (
        want["kind"], want["version"], want["name"], want["package"], want["api"])
    assert not facts.api_pinned


@pytest.mark.parametrize("path", GENERATIONS, ids=[p.stem for p in GENERATIONS])
def test_each_generation_gets_its_expectations_file(path: Path) -> None:
    facts, _ = recorded(path)
    found = find(facts, FEATURES)
    assert tuple(p.name for p in found.paths) == EXPECTATIONS[path.stem]


def test_info_facts_are_read_from_each_shape() -> None:
    podman5, _ = recorded(DATA / "podman-5.json")
    assert (podman5.cgroup_driver, podman5.cgroup_version, podman5.storage_driver, podman5.rootless) == (
        "systemd", "2", "overlay", True)
    rhel7, _ = recorded(DATA / "docker-1.13.1-rhel7.json")  # no CgroupVersion before 20.10: v1
    assert (rhel7.cgroup_driver, rhel7.cgroup_version, rhel7.has_security("selinux")) == ("systemd", "1", True)


def test_every_recorded_generation_has_an_expected_expectations_file() -> None:
    assert {p.stem for p in GENERATIONS} == set(EXPECTATIONS)


def test_pinned_api_version_is_in_the_name_and_the_facts() -> None:
    facts, _ = recorded(DATA / "docker-20.10-debian12.json", spoken="1.26")
    assert (facts.api_version, facts.engine_api_version, facts.api_pinned) == ("1.26", "1.41", True)
    assert facts.name == "docker-20.10.24+dfsg1-api1.26"
    assert api.spoken(facts) == "1.26 (pinned by --api-version; the engine serves up to 1.41)"


SPEC = EngineSpec("unix:///x.sock", 60, TLSOptions())


@pytest.mark.parametrize(
    ("engine_api", "lowest", "pinned", "spoken"),
    [("1.41", "1.12", None, "1.41"), ("1.41", "1.12", "1.26", "1.26"), ("1.26", "1.12", "1.26", "1.26"),
     ("1.48", "1.24", "1.24", "1.24")],
)
def test_negotiation_speaks_the_highest_or_the_pinned_version(
    engine_api: str, lowest: str, pinned: str | None, spoken: str
) -> None:
    spec = EngineSpec("unix:///x.sock", 60, TLSOptions(), pinned)
    assert negotiate(spec, {"ApiVersion": engine_api, "MinAPIVersion": lowest}) == spoken


@pytest.mark.parametrize(
    ("engine_api", "lowest", "pinned", "message"),
    [
        ("1.26", "1.12", "1.41", r"--api-version=1.41: engine at unix:///x.sock serves API 1.12 to 1.26"),
        ("1.48", "1.24", "1.23", r"--api-version=1.23: engine at unix:///x.sock serves API 1.24 to 1.48"),
        ("1.41", "1.12", "1.20", r"--api-version=1.20: the suite needs API 1.24 or newer"),
        ("1.20", "1.12", None, r"speaks API 1.20; the suite needs 1.24 or newer"),
    ],
)
def test_negotiation_refuses_versions_the_engine_or_suite_cannot_speak(
    engine_api: str, lowest: str, pinned: str | None, message: str
) -> None:
    spec = EngineSpec("unix:///x.sock", 60, TLSOptions(), pinned)
    with pytest.raises(HarnessError, match=message):
        negotiate(spec, {"ApiVersion": engine_api, "MinAPIVersion": lowest})


def test_malformed_api_version_option_is_refused() -> None:
    with pytest.raises(HarnessError, match=r"--api-version must look like 1.26, not 'v1'"):
        EngineSpec.resolve("unix:///x.sock", 60, TLSOptions(), "v1")


def below(version: str) -> str:
    major, minor = version.split(".")
    return f"{major}.{int(minor) - 1}"


@pytest.mark.parametrize("parameter", sorted(api.parameters()))
def test_each_gated_parameter_is_not_applicable_below_its_version(parameter: str) -> None:
    since = api.parameters()[parameter]
    newest = DATA / "docker-28.5-debian-unstable.json"  # API 1.51: every parameter of the table is at or below it
    facts, _ = recorded(newest, spoken=below(since))
    reason = (rf"not applicable: {re.escape(parameter)} needs API {re.escape(since)}; "
              rf"the harness speaks API {re.escape(below(since))} \(pinned")
    with pytest.raises(pytest.skip.Exception, match=reason):
        api.requires_api(facts, parameter)
    at, _ = recorded(newest, spoken=since)
    api.requires_api(at, parameter)  # no skip at the version that introduced it


def test_unknown_parameter_is_a_programming_error() -> None:
    facts, _ = recorded(DATA / "docker-28.json")
    with pytest.raises(KeyError, match="unknown API parameter"):
        api.requires_api(facts, "HostConfig.Teleport")


def test_every_requires_api_in_the_suites_names_a_known_parameter() -> None:
    suites = Path(__file__).parent.parent / "suites"
    used = {name for path in suites.glob("*.py")
            for call in re.findall(r"requires_api\(([^)]*)\)", path.read_text())
            for name in re.findall(r'"([^"]+)"', call)}
    assert used, "no suite declares an API-gated parameter"
    assert used <= set(api.parameters()), used - set(api.parameters())


def test_the_same_engine_rootless_rootful_and_remapped_is_told_apart_in_reports() -> None:
    """One engine build answers the same /version in every configuration: only /info's SecurityOptions (and
    Podman's libpod /info) say rootless or userns, and the names reports use say so too."""
    data = json.loads((DATA / "docker-20.10-debian12.json").read_text())
    names = {}
    for config, extra in (("rootful", []), ("rootless", ["name=rootless"]), ("userns", ["name=userns"])):
        info = {**data["info"], "SecurityOptions": [*data["info"].get("SecurityOptions", []), *extra]}
        facts = detect(FakeClient(data["version"], info))  # type: ignore[arg-type]
        names[config] = (facts.name, facts.rootless, facts.userns, facts.settings()["rootless"])
    assert names == {"rootful": ("docker-20.10.24+dfsg1", False, False, "false"),
                     "rootless": ("docker-20.10.24+dfsg1-rootless", True, False, "true"),
                     "userns": ("docker-20.10.24+dfsg1-userns", False, True, "false")}
