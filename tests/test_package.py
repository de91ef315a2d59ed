"""The suite as a package (issue 19): ci/package's wheel, installed apart from the checkout, gives the
``engine-conformance`` command, which runs the suites, the inventory check and the tools from any
directory, against the real managed engine."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fixtures.inventory import suite_version
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a directory of its own (its dependencies are this interpreter's)."""
    dist, site = tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("site")
    built = subprocess.run([str(ROOT / "ci" / "package"), f"--output={dist}"], capture_output=True, text=True,
                           timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = Path(built.stdout.strip())
    names = zipfile.ZipFile(wheel).namelist()
    assert "engine_conformance/suites/test_sysctls.py" in names and "engine_conformance/pytest.ini" in names
    assert f"engine_conformance/inventory/{suite_version()}.json" in names
    assert not any(n.startswith(("engine_conformance/.venv", "engine_conformance/tests/")) for n in names)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return site


def command(site: Path, cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([str(site / "bin" / "engine-conformance"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_the_installed_command_runs_the_suites_from_any_directory(installed: Path, tmp_path: Path,
                                                                  engine_url: str) -> None:
    assert command(installed, tmp_path, "version").stdout.strip() == suite_version()
    run = command(installed, tmp_path, "run", f"--engine-url={engine_url}", "--distro=busybox", "--profile=core",
                  "-q")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    assert list((tmp_path / "reports").glob("results-*.json")), "results go to reports/ of the current directory"
    checked = command(installed, tmp_path, "inventory", "--check")
    assert checked.returncode == 0 and f"inventory/{suite_version()}.json" in checked.stdout, checked.stdout
    matrix = command(installed, tmp_path, "matrix", "reports", "--output", "matrix")
    assert matrix.returncode == 0 and (tmp_path / "matrix" / "matrix.md").exists(), matrix.stderr


def test_the_installed_command_says_bad_usage_in_one_line(installed: Path, tmp_path: Path) -> None:
    bad = command(installed, tmp_path, "bogus")
    assert bad.returncode == 2 and bad.stderr.strip().startswith("engine-conformance: unknown command bogus")
    unreachable = command(installed, tmp_path, "run", "--engine-url=unix:///nonexistent")
    assert unreachable.returncode == 6
    assert "ERROR: engine unreachable: no socket at /nonexistent" in unreachable.stderr + unreachable.stdout
    assert "Traceback" not in unreachable.stderr + unreachable.stdout
