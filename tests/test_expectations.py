"""Expectation files: matching engines and tests, and refusing malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.engine import EngineFacts
from fixtures.errors import HarnessError
from fixtures.expectations import EXPECTATIONS_DIR, Expectation, ExpectationSet, applies, find, for_engine, parse

FEATURES = {"core", "sysctls", "registries-add-block"}


def facts(kind: str, version: str) -> EngineFacts:
    return EngineFacts(kind, version, "1.41", "", "", "cgroupfs", "1", "overlay2", (), False, kind)


@pytest.mark.parametrize(
    ("version", "spec", "ok"),
    [
        ("20.10.24+dfsg1", ">=20.10,<21", True),
        ("20.10.24+dfsg1", ">=23", False),
        ("4.3.1", "==4.3", True),
        ("4.3.1", "!=4", False),
        ("5.0.0", ">4.3,<=5", True),
        ("4.3.1", "", True),
    ],
)
def test_version_ranges(version: str, spec: str, ok: bool) -> None:
    assert applies({"kind": "podman", "version": spec}, facts("podman", version)) is ok


def test_kind_must_match() -> None:
    assert not applies({"kind": "docker"}, facts("podman", "4.3.1"))


def test_test_pattern_beats_feature_entry() -> None:
    by_feature = Expectation("skip", "whole feature", feature="sysctls")
    by_test = Expectation("fail", "this one", test="suites/test_sysctls.py::test_a*")
    found = ExpectationSet(None, (by_feature, by_test)).lookup("suites/test_sysctls.py::test_ab[busybox]", {"sysctls"})
    assert found is by_test
    assert ExpectationSet(None, (by_feature,)).lookup("suites/test_core.py::x", {"core"}) is None


def test_distro_condition_limits_an_entry_and_wins_over_an_unconditioned_one(tmp_path: Path) -> None:
    path = tmp_path / "e.toml"
    path.write_text("[match]\nkind='docker'\n"
                    "[[expect]]\ntest='suites/test_core.py::test_x[*]'\noutcome='fail'\nreason='everywhere'\n"
                    "[[expect]]\ntest='suites/test_core.py::test_x[*]'\noutcome='skip'\nreason='only here'\n"
                    "distros=['debian11']\nlink='https://example.invalid/1'\n")
    _, entries = parse(path, FEATURES)
    here = entries.lookup("suites/test_core.py::test_x[debian11]", {"core"}, "debian11")
    there = entries.lookup("suites/test_core.py::test_x[debian12]", {"core"}, "debian12")
    assert here is not None and (here.reason, here.link) == ("only here", "https://example.invalid/1")
    assert there is not None and there.reason == "everywhere"


def test_when_condition_keeps_an_entry_only_where_the_engine_is_so_configured(tmp_path: Path) -> None:
    path = tmp_path / "e.toml"
    path.write_text("[match]\nkind='podman'\n"
                    "[[expect]]\ntest='suites/test_j.py::test_follow'\noutcome='fail'\nreason='file events'\n"
                    "when={events_logger='file', debug=false}\n")
    _, entries = parse(path, FEATURES)
    assert entries.entries[0].when == (("debug", "false"), ("events_logger", "file"))
    file_events = facts("podman", "4.3.1")
    file_events = EngineFacts(**{**file_events.__dict__, "libpod_info": {"host": {"eventLogger": "file"}}})
    journald_events = EngineFacts(**{**file_events.__dict__, "libpod_info": {"host": {"eventLogger": "journald"}}})
    assert for_engine(entries, file_events).lookup("suites/test_j.py::test_follow", set()) is not None
    assert for_engine(entries, journald_events).lookup("suites/test_j.py::test_follow", set()) is None
    assert for_engine(entries, facts("podman", "4.3.1")).entries == ()  # not detected: does not hold


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[match]\nkind='docker'\n[[expect]]\nfeature='core'\noutcome='pass'\nreason='r'", "outcome must be"),
        ("[match]\nkind='docker'\n[[expect]]\nfeature='core'\noutcome='fail'", "a reason is required"),
        ("[match]\nkind='docker'\n[[expect]]\noutcome='fail'\nreason='r'", "name a feature or a test"),
        ("[match]\nkind='docker'\n[[expect]]\nfeature='nosuch'\noutcome='fail'\nreason='r'", "unknown feature"),
        ("[match]\nkind='docker'\n[[expect]]\nfeature='core'\noutcome='fail'\nreason='r'\nx=1", "unknown key"),
        ("[[expect]]\nfeature='core'\noutcome='fail'\nreason='r'", "needs \\[match\\]"),
        ("[match\nkind='docker'", "malformed expectations"),
        ("[match]\nkind='docker'\n[[expect]]\nfeature='core'\noutcome='fail'\nreason='r'\ndistros='x'", "distros must"),
        ("[match]\nkind='docker'\n[[expect]]\nfeature='core'\noutcome='fail'\nreason='FIXME: later'", "placeholder"),
        ("[match]\nkind='docker'\n[[expect]]\nfeature='core'\noutcome='fail'\nreason='r'\nwhen='x'", "when must"),
    ],
)
def test_malformed_expectations_are_one_clear_error(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "e.toml"
    path.write_text(body)
    with pytest.raises(HarnessError, match=message):
        parse(path, FEATURES)


def test_bad_version_clause_is_refused() -> None:
    with pytest.raises(HarnessError, match="bad version range"):
        applies({"kind": "docker", "version": "~=20"}, facts("docker", "20.10"))


def shipped_features() -> set[str]:
    from configparser import ConfigParser

    ini = ConfigParser(interpolation=None)
    ini.read(Path(__file__).parent.parent / "pytest.ini")
    return {line.split(":")[0].strip() for line in ini["pytest"]["markers"].strip().splitlines()}


def test_shipped_expectation_files_are_valid_and_found_per_engine() -> None:
    features = shipped_features()
    for path in EXPECTATIONS_DIR.glob("*.toml"):
        parse(path, features)
    assert find(facts("docker", "20.10.24+dfsg1"), features).path == EXPECTATIONS_DIR / "docker.toml"
    assert find(facts("podman", "4.3.1"), features).path == EXPECTATIONS_DIR / "podman.toml"
    assert find(facts("docker", "28.5.2+dfsg4"), features).path == EXPECTATIONS_DIR / "docker.toml"
    assert find(facts("podman", "5.8.6"), features).path == EXPECTATIONS_DIR / "podman.toml"
    assert find(facts("other", "1.0"), features).path is None
    docker, podman = facts("docker", "20.10.24+dfsg1"), facts("podman", "4.3.1")
    for engine, setting, name in ((docker, "rootless", "docker-rootless"), (docker, "userns", "docker-userns"),
                                  (podman, "rootless", "podman-rootless")):
        configured = EngineFacts(**{**engine.__dict__, setting: True})
        assert find(configured, features).paths == (EXPECTATIONS_DIR / f"{name}.toml",
                                                    EXPECTATIONS_DIR / f"{engine.kind}.toml")


def test_a_configurations_file_adds_to_its_engines_only_where_the_engine_is_so_configured(tmp_path: Path) -> None:
    """A file whose [match] has ``when`` (docker-rootless.toml) applies beside the engine's own file, its
    entries holding only on an engine detected in that configuration; its entry beats the engine's."""
    (tmp_path / "docker.toml").write_text(
        "[match]\nkind='docker'\n[[expect]]\ntest='suites/test_a.py::test_a'\noutcome='fail'\nreason='plain'\n"
        "[[expect]]\ntest='suites/test_b.py::test_b'\noutcome='fail'\nreason='every docker'\n")
    (tmp_path / "docker-rootless.toml").write_text(
        "[match]\nkind='docker'\nwhen={rootless=true}\n"
        "[[expect]]\ntest='suites/test_a.py::test_a'\noutcome='skip'\nreason='rootless'\n")
    rootful = facts("docker", "20.10.24")
    rootless = EngineFacts(**{**rootful.__dict__, "rootless": True})
    plain, configured = find(rootful, FEATURES, tmp_path), find(rootless, FEATURES, tmp_path)
    assert plain.paths == (tmp_path / "docker.toml",)  # the configuration's file is not this engine's
    assert configured.paths == (tmp_path / "docker-rootless.toml", tmp_path / "docker.toml")
    assert [e.reason for e in plain.entries] == ["plain", "every docker"]
    assert configured.lookup("suites/test_a.py::test_a", set()).reason == "rootless"  # type: ignore[union-attr]
    assert configured.lookup("suites/test_b.py::test_b", set()).reason == "every docker"  # type: ignore[union-attr]


def test_shipped_configuration_files_hold_only_in_their_configuration() -> None:
    """docker-userns.toml, docker-rootless.toml and podman-rootless.toml: every entry conditioned on the
    configuration its file is named for."""
    configurations = (("docker-userns", "userns"), ("docker-rootless", "rootless"), ("podman-rootless", "rootless"))
    for name, setting in configurations:
        _, entries = parse(EXPECTATIONS_DIR / f"{name}.toml", shipped_features())
        assert entries.entries, name
        assert all((setting, "true") in e.when for e in entries.entries), name


@pytest.mark.parametrize(("version", "ok"), [("20.10.24", True), ("28.5.2+dfsg4", True), ("23.0.1", False),
                                             ("28.6.0", False), ("29.0.0", False)])
def test_version_alternatives_name_each_measured_range(version: str, ok: bool) -> None:
    assert applies({"kind": "docker", "version": ">=20.10,<20.11 || >=28.5,<28.6"}, facts("docker", version)) is ok


def test_an_entry_holds_only_on_the_versions_it_was_measured_on(tmp_path: Path) -> None:
    (tmp_path / "docker.toml").write_text(
        "[match]\nkind='docker'\nversion='>=20.10,<20.11 || >=28.5,<28.6'\n"
        "[[expect]]\ntest='suites/test_a.py::test_a'\noutcome='fail'\nreason='both'\n"
        "[[expect]]\ntest='suites/test_b.py::test_b'\noutcome='fail'\nreason='old'\nversions='<20.11'\n")
    assert [e.reason for e in find(facts("docker", "20.10.24"), FEATURES, tmp_path).entries] == ["both", "old"]
    assert [e.reason for e in find(facts("docker", "28.5.2"), FEATURES, tmp_path).entries] == ["both"]


def test_a_version_nobody_measured_runs_without_expectations_and_says_so() -> None:
    """Docker 29 and Podman 6 (newer than any measured version) get no entry of the shipped files, and the
    set says why (the report's notes and header carry it)."""
    for kind, version in (("docker", "29.0.1"), ("podman", "6.0.0"), ("docker", "24.0.7")):
        found = find(facts(kind, version), shipped_features())
        assert found.entries == () and found.path is None
        assert found.unmeasured.startswith(f"no expectations measured for {kind} {version}"), found.unmeasured


def test_shipped_files_bound_every_range() -> None:
    """Every shipped [match] names an upper bound: an expectation holds only where it was measured."""
    for path in EXPECTATIONS_DIR.glob("*.toml"):
        match, _ = parse(path, shipped_features())
        assert all("<" in alternative for alternative in match["version"].split("||")), path


def test_entry_versions_must_be_a_range(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[match]\nkind='docker'\n[[expect]]\nfeature='core'\noutcome='fail'\nreason='x'\nversions='~28'\n")
    with pytest.raises(HarnessError, match="bad version range clause"):
        parse(path, FEATURES)
