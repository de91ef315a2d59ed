"""Shared observations (fixtures/shared.py) and answers asked ahead (fixtures/ahead.py): the logic
that lets many tests read one container, checked without an engine (the section script runs in
this machine's sh, as it would in a container's)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.ahead import Ahead
from fixtures.containers import LABEL_RUN, RunResult
from fixtures.shared import (
    Probe,
    claim_shared_dir,
    merge,
    once,
    reap_shared_dirs,
    script_of,
    sections_of,
    shared_dir,
)

PROBES = {
    "quiet": Probe("true"),
    "both": Probe("echo out-1; echo err-1 >&2; echo out-2; exit 3"),
    "pretend": Probe("echo '<== not the end'; echo '!! not stderr' >&2"),
}


def run_locally(probes: dict[str, Probe]) -> str:
    return subprocess.run(["sh", "-c", script_of(probes)], capture_output=True, text=True, timeout=30).stdout


def test_each_probe_reads_as_if_it_ran_alone() -> None:
    sections = sections_of(run_locally(PROBES), PROBES)
    assert sections["quiet"] == RunResult(0, "", "")
    assert sections["both"] == RunResult(3, "out-1\nout-2\n", "err-1\n")
    assert sections["pretend"] == RunResult(0, "<== not the end\n", "!! not stderr\n")


def test_output_cut_short_gives_no_section_so_each_probe_runs_alone() -> None:
    out = run_locally(PROBES)
    assert sections_of(out[: out.index("==> pretend")], PROBES) == {}
    assert sections_of("", PROBES) == {}


def test_fields_merge_mappings_and_env_and_refuse_two_values() -> None:
    probes = {"a": Probe("true", {"Sysctls": {"a": "1"}, "Memory": 5}, {"Env": ["A=1"]}),
              "b": Probe("true", {"Sysctls": {"b": "2"}, "Memory": 5}, {"Env": ["B=2"]})}
    assert merge(probes, "host_config") == {"Sysctls": {"a": "1", "b": "2"}, "Memory": 5}
    assert merge(probes, "config") == {"Env": ["A=1", "B=2"]}
    with pytest.raises(ValueError, match="Memory"):
        merge({**probes, "c": Probe("true", {"Memory": 6})}, "host_config")
    with pytest.raises(ValueError, match="Sysctls"):
        merge({**probes, "c": Probe("true", {"Sysctls": {"a": "9"}})}, "host_config")


class FakeFactory:
    """Only what once() reads of a container factory: the engine's URL, the run label, the timeout."""

    def __init__(self, run_id: str) -> None:
        self.client: Any = type("Client", (), {"api": type("Api", (), {"base_url": "http+docker://fake"})()})()
        self.labels = {LABEL_RUN: run_id}
        self.wait_timeout = 5.0


@pytest.fixture
def factory() -> Iterator[FakeFactory]:
    run_id = f"test-shared-{uuid.uuid4().hex[:8]}"
    yield FakeFactory(run_id)
    shutil.rmtree(shared_dir(run_id), ignore_errors=True)


def test_once_keeps_an_answer_for_the_run_but_not_a_failure(factory: FakeFactory,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fails(_: Any) -> int:
        calls.append("fails")
        raise AssertionError("the probe failed")

    def answer(value: int) -> Any:
        def run(_: Any) -> int:
            calls.append(f"answer {value}")
            return value
        return run

    for _ in range(2):  # not kept: each test that needs it runs it again (and fails alone)
        with pytest.raises(AssertionError):
            once(factory, "failing", fails)  # type: ignore[arg-type]
    assert once(factory, "kept", answer(42)) == 42  # type: ignore[arg-type]
    assert once(factory, "kept", answer(0)) == 42  # type: ignore[arg-type]
    monkeypatch.setattr("fixtures.shared._kept", {})  # another worker of the same run: reads the run's answer
    assert once(factory, "kept", answer(1)) == 42  # type: ignore[arg-type]
    assert calls == ["fails", "fails", "answer 42"]
    assert sorted(p.suffix for p in shared_dir(factory.labels[LABEL_RUN]).iterdir()) == ["", ".lock", ".lock"]


def slow_answer(containers: Any) -> str:
    time.sleep(0.3)
    return "answered"


def slow_refusal(containers: Any) -> str:
    raise LookupError("refused: conformance-no-such-driver")


class Request:
    """Only what Ahead.start() reads of a fixture request: the session's items and getfixturevalue."""

    def __init__(self, marked: list[Any]) -> None:
        item = type("Item", (), {"iter_markers": lambda self, name: [pytest.mark.ahead.with_args(c).mark
                                                                    for c in marked]})()
        self.session = type("Session", (), {"items": [item]})()

    def getfixturevalue(self, name: str) -> Any:
        raise AssertionError(f"no fixture wanted, asked {name}")


def test_ahead_answers_overlap_and_exceptions_reach_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    removed: list[str] = []

    def cleanup(self: Any) -> list[str]:
        removed.append("x")
        return []

    monkeypatch.setattr("fixtures.ahead.ContainerFactory.cleanup", cleanup)
    client: Any = type("Client", (), {"close": lambda self: None})()
    ahead = Ahead(lambda: client, lambda name: {"label": name}, timeout=5)
    started = time.monotonic()
    ahead.start(Request([slow_answer, slow_refusal]))  # type: ignore[arg-type]
    time.sleep(0.3)  # the tests that run meanwhile
    assert ahead.result(slow_answer) == "answered"
    assert time.monotonic() - started < 0.55, "the call was not asked ahead"
    with pytest.raises(LookupError, match="conformance-no-such-driver"):
        ahead.result(slow_refusal)
    assert ahead.result(slow_answer) == "answered"  # taken already: asked again
    ahead.close()
    assert removed == ["x", "x", "x"]  # every call's factory cleaned up


@pytest.mark.exclusive
def test_the_shared_directory_of_a_killed_run_is_reaped_and_a_live_ones_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run killed with SIGKILL never reaches its end, which removes its directory: the next run's start does,
    by the owner label its controlling process wrote (never a live run's, nor an unlabelled one)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead, live = claim_shared_dir("deadrun", "dead-owner"), claim_shared_dir("liverun", "live-owner")
    unlabelled = shared_dir("oldrun")
    unlabelled.mkdir()
    assert reap_shared_dirs(lambda owner: owner == "live-owner") == [str(dead)]
    assert not dead.exists() and live.is_dir() and unlabelled.is_dir()
