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


def test_shipped_expectation_files_are_valid_and_found_per_engine() -> None:
    from configparser import ConfigParser

    ini = ConfigParser(interpolation=None)
    ini.read(Path(__file__).parent.parent / "pytest.ini")
    features = {line.split(":")[0].strip() for line in ini["pytest"]["markers"].strip().splitlines()}
    for path in EXPECTATIONS_DIR.glob("*.toml"):
        parse(path, features)
    assert find(facts("docker", "20.10.24+dfsg1"), features).path == EXPECTATIONS_DIR / "docker.toml"
    assert find(facts("podman", "4.3.1"), features).path == EXPECTATIONS_DIR / "podman.toml"
    assert find(facts("other", "1.0"), features).path is None
