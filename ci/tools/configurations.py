"""The configurations the conformance suites run on (ci/configurations.toml), listed and run.

    ci/configurations list [--gate|--nightly]           their names, in order
    ci/configurations junit [--gate|--nightly]          their JUnit paths (reports/junit-NAME.xml), less the
                                                        ones the last run skipped
    ci/configurations run [--gate|--nightly] [NAME...] [--lanes] [--reports=DIR] [-- PYTEST-OPTIONS]

NAME... runs those (of the gate or the nightly ones where that is given too). The gate runs a configuration on its
``gate_distros`` where the file gives them, the nightly run on all its ``distros``.

``run`` starts what each needs (its managed engine, the systemd engine host of its Debian suite, the sshd),
runs the suites with its options and stops what it started after it (an engine with ``stop_after`` right
after, an engine host when the next configuration needs no other), then prints each configuration's
outcome and wall time and writes them to DIR/configurations.json. It exits 1 when any failed or ran no test.
With ``--lanes`` the configurations' lanes (their ``lane``) run side by side, each lane's configurations one
after another in a process of its own whose output goes to DIR/lane-N.log and is printed when the lane ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "ci" / "configurations.toml"
ABSENT = 3  # ci/engines: the engine's bundle is not there


@dataclass(frozen=True)
class Configuration:
    name: str
    engine: str
    distros: tuple[str, ...]
    gate_distros: tuple[str, ...] = ()
    select: str = ""
    options: tuple[str, ...] = ()
    engine_name: str = ""
    engine_host: str = ""
    own_root: bool = False
    via: str = ""
    stop_after: bool = False
    optional: bool = False
    gate: bool = False
    nightly: bool = False
    why: str = ""
    jobs: int = 2
    lane: int = 1

    @property
    def junit(self) -> str:
        return f"junit-{self.name}.xml"


KNOWN = {"engine", "distros", "gate_distros", "select", "options", "name", "engine_host", "own_root", "via",
         "stop_after", "optional", "gate", "nightly", "why", "lane"}


def load(path: Path = FILE) -> list[Configuration]:
    data = tomllib.loads(path.read_text())
    defaults, selections = data.get("defaults", {}), data.get("selections", {})
    found = []
    for name, c in data.get("configuration", {}).items():
        unknown = set(c) - KNOWN
        if unknown or "engine" not in c:
            raise ValueError(f"{path.name}: configuration {name}: " +
                             (f"unknown keys {', '.join(sorted(unknown))}" if unknown else "no engine"))
        found.append(Configuration(
            name, c["engine"], tuple(c.get("distros", defaults.get("distros", ["busybox"]))),
            tuple(c.get("gate_distros", ())), c.get("select", "").format(**selections), tuple(c.get("options", ())),
            c.get("name", ""),
            c.get("engine_host", ""), c.get("own_root", False), c.get("via", ""), c.get("stop_after", False),
            c.get("optional", False), c.get("gate", False), c.get("nightly", False), c.get("why", ""),
            int(os.environ.get("CONFORMANCE_JOBS", defaults.get("jobs", 2))), int(c.get("lane", 1))))
    for c in found:
        if set(c.gate_distros) - set(c.distros):
            raise ValueError(f"{path.name}: configuration {c.name}: gate_distros "
                             f"{', '.join(sorted(set(c.gate_distros) - set(c.distros)))} not among its distros")
    check_lanes(found, path)
    return found


def check_lanes(configurations: list[Configuration], path: Path = FILE) -> None:
    """Configurations that share an engine, or an engine host (one runs at a time), share a lane: side by side,
    one run's leftover check would see the other's containers, and an engine host would be booted twice."""
    lane_of: dict[str, tuple[int, str]] = {}
    for c in configurations:
        for shared in (f"engine {c.engine}", *((("an engine host"),) if c.engine_host else ())):
            lane, first = lane_of.setdefault(shared, (c.lane, c.name))
            if lane != c.lane:
                raise ValueError(f"{path.name}: configurations {first} and {c.name} share {shared} but not a lane "
                                 f"({lane} and {c.lane})")


def chosen(configurations: list[Configuration], args: list[str]) -> list[Configuration]:
    """The configurations ``args`` name (none: the gate's), in the file's order; the gate's on their gate distros."""
    gate, nightly = "--gate" in args or not args, "--nightly" in args
    names = [a for a in args if a not in ("--gate", "--nightly")]
    missing = [a for a in names if a not in {c.name for c in configurations}]
    if missing:
        raise ValueError(f"no configuration {', '.join(missing)} in {FILE.name} (ci/configurations list)")
    pool = [c for c in configurations if (c.gate if gate else c.nightly if nightly else True)]
    outside = [a for a in names if a not in {c.name for c in pool}]
    if outside:
        raise ValueError(f"{', '.join(outside)}: not in the {'gate' if gate else 'nightly run'} ({FILE.name})")
    found = [c for c in pool if not names or c.name in names]
    return [replace(c, distros=c.gate_distros) if gate and c.gate_distros else c for c in found]


def out(*argv: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}).stdout.strip()


def host_env(c: Configuration) -> dict[str, str]:
    return {"CONFORMANCE_ENGINE_HOST_SUITE": c.engine_host} if c.engine_host else {}


def pytest_argv(c: Configuration, reports: Path, extra: list[str]) -> tuple[list[str], dict[str, str]]:
    """The pytest command of configuration ``c`` (its engines up) and the environment it needs."""
    env: dict[str, str] = {}
    if c.engine_host:
        argv = [f"--engine-url={out('ci/engine-host', 'url', c.engine, env=host_env(c))}",
                f"--engine-host={out('ci/engine-host', 'host', env=host_env(c))}",
                f"--engine-log=journal:{c.engine}.service"]
        env["DOCKER_HOST"] = out("ci/engines", "url", "docker")  # testinfra's docker:// reaches the host container
    elif c.via == "ssh":
        argv = [f"--engine-url=ssh://root@127.0.0.1:{os.environ.get('CONFORMANCE_SSH_PORT', '2222')}",
                f"--ssh-config={out('ci/sshd', 'home')}/.ssh/config"]
    else:
        argv = [f"--engine-url={out('ci/engines', 'url', c.engine)}"]
    if c.own_root:
        argv += [f"--engine-host={out('ci/engines', 'host', c.engine)}",
                 f"--engine-cli={out('ci/engines', 'cli', c.engine)}"]
    name = c.engine_name or (f"{c.engine}-{'' if c.engine_host == 'bookworm' else c.engine_host + '-'}engine-host"
                             if c.engine_host else "")
    argv += [f"--engine-name={name}"] if name else []
    argv += ["-m", c.select] if c.select else []
    # a --distro among ``extra`` (ci/nightly --distro) replaces the configuration's: pytest adds up repeated ones
    distros = [] if any(a.startswith("--distro") for a in extra) else [f"--distro={','.join(c.distros)}"]
    argv += [*c.options, *distros, "-n", str(c.jobs), f"--junitxml={reports / c.junit}", "-q", *extra]
    return [str(ROOT / ".venv" / "bin" / "pytest"), "suites/", *argv], env


def status(engine: str) -> bool:
    return f"{engine}: up" in subprocess.run(["ci/engines", "status"], capture_output=True, text=True,
                                             cwd=ROOT).stdout


@dataclass
class Outcome:
    name: str
    result: str  # passed, failed, skipped (optional engine absent), setup (its engine did not start)
    seconds: float
    exit: int = 0


def run(configurations: list[Configuration], reports: Path, extra: list[str]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    absent: set[str] = set()
    booted = ""
    for i, c in enumerate(configurations):
        print(f"=== suites-{c.name}", flush=True)
        began = time.monotonic()
        was_up = status(c.engine)
        if c.engine in absent:
            outcomes.append(Outcome(c.name, "skipped", 0.0))
            continue
        up = subprocess.run(["ci/engines", "up", c.engine], stdout=subprocess.DEVNULL, cwd=ROOT).returncode
        if up == ABSENT and c.optional:
            print(f"ci/configurations: {c.name}: {c.engine}'s bundle is not here; skipped")
            absent.add(c.engine)
            outcomes.append(Outcome(c.name, "skipped", 0.0))
            continue
        ready = up == 0
        if ready and c.engine_host and booted != c.engine_host:
            booting = subprocess.run(["ci/engine-host", "up"], env={**os.environ, **host_env(c)}, cwd=ROOT)
            ready = booting.returncode == 0
            booted = c.engine_host if ready else ""
        if ready and c.via == "ssh":
            ready = subprocess.run(["ci/sshd", "up"], stdout=subprocess.DEVNULL, cwd=ROOT).returncode == 0
        if not ready:
            print(f"!!! {c.name}: its engine, engine host or sshd did not start")
            outcomes.append(Outcome(c.name, "setup", time.monotonic() - began, 1))
        else:
            argv, env = pytest_argv(c, reports, extra)
            code = subprocess.run(argv, cwd=ROOT, env={**os.environ, **env}).returncode
            if code == 5:
                print(f"!!! suites-{c.name} ran no test")
            if code != 0:
                print(f"!!! suites-{c.name} failed (exit {code})")
            outcomes.append(Outcome(c.name, "passed" if code == 0 else "failed", time.monotonic() - began, code))
        following = configurations[i + 1] if i + 1 < len(configurations) else None
        if booted and (following is None or following.engine_host != booted):
            subprocess.run(["ci/engine-host", "down"], env={**os.environ, **host_env(c)}, cwd=ROOT, check=False)
            booted = ""
        if c.stop_after and not was_up:
            subprocess.run(["ci/engines", "down", c.engine], stdout=subprocess.DEVNULL, cwd=ROOT, check=False)
    return outcomes


def run_lanes(configurations: list[Configuration], reports: Path, extra: list[str],
              scope: tuple[str, ...] = ()) -> list[Outcome]:
    """Each lane's configurations in a ``run`` of their own, the lanes side by side; their outcomes in order."""
    lanes: dict[int, list[Configuration]] = {}
    for c in configurations:
        lanes.setdefault(c.lane, []).append(c)
    running = []
    for lane, members in sorted(lanes.items()):
        log, done = reports / f"lane-{lane}.log", reports / f"lane-{lane}.json"
        print(f"ci/configurations: lane {lane}: {', '.join(c.name for c in members)} (its output: {log})")
        with log.open("wb") as sink:
            running.append((lane, log, done, subprocess.Popen(
                [sys.executable, "-m", "ci.tools.configurations", "run", *scope, *(c.name for c in members),
                 f"--reports={reports}", f"--outcomes={done}", "--", *extra], stdout=sink, stderr=subprocess.STDOUT,
                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})))
    by_name: dict[str, Outcome] = {}
    for lane, log, done, process in running:
        process.wait()
        print(f"=== lane {lane} (exit {process.returncode})\n{log.read_text(errors='replace')}", end="")
        found = [Outcome(**o) for o in json.loads(done.read_text())] if done.is_file() else []
        by_name.update({o.name: o for o in found})
        done.unlink(missing_ok=True)
    return [by_name.get(c.name, Outcome(c.name, "setup", 0.0, 1)) for c in configurations]


def summary(outcomes: list[Outcome], wall: float | None = None) -> str:
    lines = [f"{'configuration':32} {'outcome':8} {'wall':>8}"]
    lines += [f"{o.name:32} {o.result:8} {int(o.seconds) // 60:>5}:{int(o.seconds) % 60:02d}" for o in outcomes]
    total = sum(o.seconds for o in outcomes)
    lines.append(f"{'all configurations':32} {'':8} {int(total) // 60:>5}:{int(total) % 60:02d}")
    if wall is not None:
        lines.append(f"{'lanes side by side (wall)':32} {'':8} {int(wall) // 60:>5}:{int(wall) % 60:02d}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # its lines before pytest's
    if not argv or argv[0] not in ("list", "junit", "run"):
        print(__doc__.strip().splitlines()[2] if __doc__ else "", file=sys.stderr)
        print("ci/configurations: expected list, junit or run", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    extra: list[str] = []
    if "--" in rest:
        extra = rest[rest.index("--") + 1:]
        rest = rest[:rest.index("--")]
    reports = ROOT / "reports"
    for arg in [a for a in rest if a.startswith("--reports=")]:
        reports = Path(arg.split("=", 1)[1]).resolve()
        rest.remove(arg)
    outcomes_file = reports / "configurations.json"
    for arg in [a for a in rest if a.startswith("--outcomes=")]:  # a lane's, for run_lanes
        outcomes_file = Path(arg.split("=", 1)[1]).resolve()
        rest.remove(arg)
    lanes = "--lanes" in rest
    rest = [a for a in rest if a != "--lanes"]
    try:
        selected = chosen(load(), rest)
    except (ValueError, OSError, tomllib.TOMLDecodeError) as err:
        print(f"ci/configurations: {err}", file=sys.stderr)
        return 2
    if command == "list":
        print("\n".join(c.name for c in selected))
        return 0
    if command == "junit":  # less those the last run skipped (an optional engine's bundle absent)
        done = reports / "configurations.json"
        skipped = {o["name"] for o in json.loads(done.read_text()) if o["result"] == "skipped"} \
            if done.is_file() else set()
        print("\n".join(str(reports / c.junit) for c in selected if c.name not in skipped))
        return 0
    reports.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    scope = tuple(a for a in rest if a in ("--gate", "--nightly")) or ("--gate",) * (not rest)
    outcomes = run_lanes(selected, reports, extra, scope) if lanes else run(selected, reports, extra)
    print(summary(outcomes, time.monotonic() - began if lanes else None))
    outcomes_file.write_text(json.dumps([o.__dict__ for o in outcomes], indent=1))
    return 1 if any(o.result in ("failed", "setup") for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

