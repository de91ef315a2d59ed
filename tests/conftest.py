"""Fixtures for the harness's own tests: a real engine for end-to-end checks, and a runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures import paths

ROOT = Path(__file__).resolve().parent.parent
MANAGED = f"unix://{paths.managed_socket('docker')}"


@pytest.fixture(autouse=True)
def keeps_docker0() -> Iterator[None]:
    """No harness test may take the host's docker0 away (the managed dockerd's bridge: an extra daemon in this
    network namespace once did, and every later test that ran a container failed)."""
    bridge = Path("/sys/class/net/docker0")
    had = bridge.exists()
    yield
    assert bridge.exists() or not had, "the host's docker0 is gone after this test"


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    for name in [k for k in full_env if k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT"))]:
        full_env.pop(name)
    return full_env


def default_sigint() -> None:
    """The child's SIGINT back to its default: a parent started with ``nohup ... &`` ignores it, and an
    ignored disposition is inherited across exec, so Ctrl-C would never reach the child."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


REPORTS: list[Path] = []  # the session's directory for its child runs' results


@pytest.fixture(scope="session", autouse=True)
def child_reports(tmp_path_factory: pytest.TempPathFactory) -> None:
    REPORTS.append(tmp_path_factory.mktemp("child-reports"))


def own_reports(args: tuple[str, ...]) -> tuple[str, ...]:
    """A child run's results-<engine>.json go where the test says, else to the session's own directory: never to
    the checkout's reports/, which CI's matrix reads (a harness run's engines once showed there as columns of their
    own: docker-1.13.1, docker-20.10.24+dfsg1-api1.26)."""
    given = any(a.startswith("--report-dir") for a in args) or not REPORTS
    return args if given else (*args, f"--report-dir={REPORTS[0]}")


def spawn_pytest(*args: str, cwd: Path = ROOT) -> subprocess.Popen[str]:
    """Starts pytest in a child process, to be signalled or watched while it runs."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *own_reports(args)], cwd=cwd, env=child_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=default_sigint,
    )


def run_pytest(*args: str, cwd: Path = ROOT, timeout: float = 600, env: dict[str, str] | None = None,
               prefix: tuple[str, ...] = ()) -> Run:
    """Runs pytest in a child process (as a user would; ``prefix``: the command it runs under) and returns what it
    printed."""
    full_env = child_env(env)
    start = time.monotonic()
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *own_reports(args)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


# ci/test runs the harness's tests side by side, a worker per module (--dist loadfile) in collection order: the
# longest module first, so that the other worker takes the rest meanwhile (test_image builds and runs the suite's
# image: about 4 of the 10 minutes of work, measured in clean-clone CI run 19)
LONGEST_FIRST = ("test_image.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in LONGEST_FIRST)  # stable: the rest keep their order


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "nightly: proves again, at length, a path a gate test proves (ci/nightly runs "
                                       "it, ci/test does not)")
    config.addinivalue_line("markers", "exclusive: reads or changes what the whole host shares (its mounts, links, "
                                       "the launch root, the managed engines' objects, /dev/net/tun): ci/test runs "
                                       "these alone, after the others ran side by side")


@pytest.fixture(scope="session")
def engine_url() -> str:
    """The engine end-to-end harness tests run against (CONFORMANCE_TEST_ENGINE or the managed dockerd)."""
    url = os.environ.get("CONFORMANCE_TEST_ENGINE", MANAGED)
    path = url.removeprefix("unix://")
    if url.startswith("unix://") and not os.path.exists(path):
        pytest.fail(f"no engine at {url}: start it with `ci/engines up docker` (or set CONFORMANCE_TEST_ENGINE)")
    return url


SUITE_INI = """[pytest]
addopts = --strict-markers -p fixtures.plugin -p no:cacheprovider
conformance_suites = suites
markers =
    core: core behaviors
"""


@pytest.fixture
def mini_project(tmp_path: Path) -> Path:
    """A throw-away project with its own suites/ dir, loading the real harness plugin."""
    (tmp_path / "pytest.ini").write_text(SUITE_INI)
    (tmp_path / "suites").mkdir()
    return tmp_path
