"""The managed engines start through the engine classes that start configured instances (issue 27 item 2):
ci/engines.toml says what each runs, ci/tools/managed.py makes its command with fixtures/engines/, ci/engines only
runs it; the paths are fixtures/paths.py's for both."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from ci.tools import managed
from fixtures import paths
from fixtures.engine_config import EngineConfig
from fixtures.engines import LAUNCHERS, moby
from fixtures.engines.base import Command, Places
from tests.conftest import ROOT

# dockerd's options and Podman's configuration syntax: the engine classes' business, never ci/engines'
ENGINE_SYNTAX = ("--data-root", "--graph", "--exec-root", "--pidfile", "--config-file", "--debug", "--log-level",
                 "--bridge", "--userns-remap", "--iptables", "--storage-driver", "--add-runtime", "system service",
                 "graphroot", "runroot", "events_logger", "[storage]", "[engine]", "CONTAINERS_", "daemon.json",
                 "containers.conf", "storage.conf", "registries.conf")


def code_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]


def test_ci_engines_holds_no_daemon_option_or_podman_configuration_syntax() -> None:
    found = [(word, line.strip()) for line in code_lines(ROOT / "ci" / "engines") for word in ENGINE_SYNTAX
             if word in line]
    assert found == [], "ci/engines.toml and fixtures/engines/ say that"


def test_the_state_paths_are_said_once() -> None:
    """Only fixtures/paths.py names the state, data, cache and launch directories: the scripts evaluate it."""
    defaults = ("/run/conformance\"", "/var/lib/conformance\"", "/var/cache/conformance\"", "conformance-launch\"")
    for script in ("engines", "engine-host", "journald", "sshd", "auditd"):
        text = "\n".join(code_lines(ROOT / "ci" / script))
        assert not any(d in text for d in defaults) and "CONFORMANCE_STATE" not in text, script
    harness = [p for p in (ROOT / "fixtures").glob("*.py") if p.name != "paths.py"]
    assert not [p.name for p in harness if re.search(r"\"/run/conformance\"|\"/var/lib/conformance-launch\"",
                                                    p.read_text())]


def without_places(command: Command, places: Places) -> list[str]:
    """The command's argv less what says where the engine keeps its own (and the option naming it)."""
    own = [str(p) for p in (places.socket, places.config_dir, places.data, places.exec_root, places.pidfile,
                            places.run, places.tmp, places.volumes) if p]
    own += [places.cgroup_parent] if places.cgroup_parent else []
    kept: list[str] = []
    for word in command.argv[1:]:
        if not any(o in word for o in own):
            kept.append(word)
        elif not word.startswith("-") and kept and kept[-1].startswith("-") and "=" not in kept[-1]:
            kept.pop()  # "--data-root /x": its option too
    return kept


@pytest.fixture
def offline_help(monkeypatch: pytest.MonkeyPatch) -> None:
    """dockerd's --help as each generation answers it (Red Hat's 1.13 has --graph), without running a binary."""
    monkeypatch.setattr(moby, "help_text", lambda binary, enter=(): "--graph" if "current" in binary else "--data-root")


@pytest.mark.parametrize("name", list(managed.table()))
def test_a_managed_engine_and_an_instance_of_its_configuration_start_with_the_same_options(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline_help: None) -> None:
    monkeypatch.setattr(paths, "STATE", tmp_path / "state")
    monkeypatch.setattr(paths, "DATA", tmp_path / "data")
    engine = managed.load(name, {"BRIDGE": "br-test", "PATH": "/usr/bin"})
    instance = Places.instance(tmp_path / "instance", f"{engine.config.kind}.sock")
    as_managed, as_instance = engine.command(), engine.launcher.command(engine.config, instance)
    assert without_places(as_managed, engine.places) == without_places(as_instance, instance)
    assert as_managed.env.keys() == as_instance.env.keys()
    assert str(engine.places.socket) in " ".join(as_managed.argv)
    assert as_managed.argv[0] in ("dockerd", "dockerd-rootless.sh", "podman", "/usr/bin/dockerd-current")


def test_an_unknown_engine_or_a_missing_variable_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert managed.main(["command", "nope"]) == 2
    assert managed.main(["command", "rhdocker"]) == 2  # its bridge is ci/engines' to say
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and "no managed engine 'nope'" in errors[0] and "needs BRIDGE" in errors[1]


@pytest.mark.parametrize("name", ["docker", "podman"])
def test_the_running_managed_engine_runs_the_command_the_engine_classes_make(name: str) -> None:
    """The managed engine ci/engines started (ci/test starts docker and podman) runs exactly that command."""
    pidfile = paths.STATE / f"{name}.pid"
    if not pidfile.is_file():
        pytest.fail(f"no managed {name}: ci/engines up {name}")
    running = (Path("/proc") / pidfile.read_text().strip() / "cmdline").read_bytes().decode().split("\0")[:-1]
    assert running == managed.load(name, {}).command().argv


def test_each_engine_class_expresses_a_subnet_pool(tmp_path: Path, offline_help: None) -> None:
    """An EngineConfig field is one edit per engine class: ``subnet_pools`` (Podman 5's networks clear of Podman
    4.3's) as dockerd's --default-address-pool and Podman's containers.conf [network] default_subnet_pools."""
    config = {kind: EngineConfig(kind, subnet_pools=(("10.91.0.0/16", 24),)) for kind in LAUNCHERS}
    docker = LAUNCHERS["docker"](binary="dockerd").command(config["docker"], Places.instance(tmp_path / "d",
                                                                                               "docker.sock"))
    assert "--default-address-pool=base=10.91.0.0/16,size=24" in docker.argv
    assert "Docker 18.06" in LAUNCHERS["docker"](binary="dockerd-current").unsupported(config["docker"])["subnet_pools"]
    podman = LAUNCHERS["podman"](binary="podman").command(config["podman"], Places.instance(tmp_path / "p",
                                                                                              "podman.sock"))
    conf = tomllib.loads(Path(podman.env["CONTAINERS_CONF"]).read_text())
    assert conf["network"]["default_subnet_pools"] == [{"base": "10.91.0.0/16", "size": 24}]
