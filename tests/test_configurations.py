"""One configurations file drives CI and the nightly run (ci/configurations.toml, ci/tools/configurations.py):
it loads, ci/test and ci/nightly read it, and the pipelines' nightly matrices name exactly its nightly
configurations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ci.tools import managed
from ci.tools.configurations import FILE, chosen, load, main

ROOT = Path(__file__).resolve().parent.parent


def nightly() -> list[str]:
    return [c.name for c in load() if c.nightly]


def test_every_configuration_names_an_engine_and_distros() -> None:
    configurations = load()
    assert len({c.name for c in configurations}) == len(configurations)
    assert all(c.engine and c.distros for c in configurations)
    assert all(c.why for c in configurations if not c.gate and not c.nightly), "a configuration nothing runs"


def test_the_gate_runs_every_distro_the_nightly_run_does_on_each_engine_kind(tmp_path: Path) -> None:
    """A configuration's ``gate_distros`` leave out of the gate only a distro another gate configuration of the same
    engine kind runs; ``run --gate`` takes them, a configuration named alone its distros."""
    kinds = {name: entry["kind"] for name, entry in managed.table().items()}
    gate, nightly = chosen(load(), ["--gate"]), chosen(load(), ["--nightly"])
    on = {(kinds[c.engine], d) for c in gate for d in c.distros}
    assert {(kinds[c.engine], d) for c in nightly for d in c.distros} <= on
    assert {c.name: c.distros for c in nightly} == {c.name: c.distros for c in load() if c.nightly}
    docker = next(c for c in load() if c.name == "docker")
    assert docker.gate_distros and next(c for c in gate if c.name == "docker").distros == docker.gate_distros
    assert chosen(load(), ["docker"])[0].distros == docker.distros
    bad = tmp_path / "c.toml"
    bad.write_text('[configuration.a]\nengine = "docker"\ndistros = ["busybox"]\ngate_distros = ["debian12"]\n')
    with pytest.raises(ValueError, match="gate_distros debian12 not among its distros"):
        load(bad)


def test_selections_are_expanded() -> None:
    ssh = next(c for c in load() if c.via == "ssh")
    assert ssh.select and "{" not in ssh.select and "core" in ssh.select


def test_an_unknown_key_or_name_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text('[configuration.x]\nengine = "docker"\ndistro = ["busybox"]\n')
    with pytest.raises(ValueError, match="unknown keys distro"):
        load(bad)
    assert main(["run", "no-such-configuration"]) == 2
    assert "no configuration no-such-configuration" in capsys.readouterr().err
    with pytest.raises(ValueError):
        chosen(load(), ["nope"])


def test_configurations_sharing_an_engine_or_an_engine_host_share_a_lane(tmp_path: Path) -> None:
    """Side by side (``run --lanes``), two runs on one engine would see each other's containers as leftovers and an
    engine host would boot twice: the file is refused, naming both; the project's file keeps to it."""
    lanes = {c.lane for c in load()}
    assert lanes == {1, 2}
    bad = tmp_path / "c.toml"
    bad.write_text('[configuration.a]\nengine = "docker"\n[configuration.b]\nengine = "docker"\nlane = 2\n')
    with pytest.raises(ValueError, match="configurations a and b share engine docker but not a lane"):
        load(bad)
    bad.write_text('[configuration.a]\nengine = "docker"\nengine_host = "bookworm"\n'
                   '[configuration.b]\nengine = "podman"\nengine_host = "unstable"\nlane = 2\n')
    with pytest.raises(ValueError, match="share an engine host"):
        load(bad)


def test_ci_test_and_nightly_run_the_file() -> None:
    assert "ci/configurations run --gate" in (ROOT / "ci" / "test").read_text()
    assert "ci/configurations run" in (ROOT / "ci" / "nightly").read_text()
    assert "--configuration=all" in (ROOT / "plans" / "main.fmf").read_text()


def test_the_github_nightly_matrix_is_the_files_nightly_configurations() -> None:
    text = (ROOT / ".github" / "workflows" / "nightly.yml").read_text()
    found = re.search(r"^\s*configuration: \[([^\]]*)\]", text, re.M)
    assert found, "no configuration matrix"
    assert [n.strip() for n in found.group(1).split(",")] == nightly(), f"{FILE.name} says otherwise"


def test_the_gitlab_nightly_matrix_is_the_files_nightly_configurations() -> None:
    text = (ROOT / ".gitlab-ci.yml").read_text()
    found = re.search(r"CONFIGURATION: \[([^\]]*)\]", text)
    assert found, "no CONFIGURATION matrix"
    assert [n.strip() for n in found.group(1).split(",")] == nightly(), f"{FILE.name} says otherwise"
