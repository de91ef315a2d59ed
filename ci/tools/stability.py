"""Verdicts that change by themselves, found the way web-platform-tests' stability check finds them: a selection
run N times against the same engine, every test whose outcome varied listed with its outcomes.

    ci/stability [PYTEST-ARGS...] --repeat=N [--output=FILE]
    ci/stability --configuration=NAME --repeat=N      (a configuration of ci/configurations.toml, its engine up)
    ci/stability --gate --repeat=N [--reports=DIR]    (every configuration of the gate, as ci/configurations run
                                                       --gate starts and stops them; each run's reports kept in
                                                       DIR/run-K, default reports/stability)
    ci/stability --compare DIR DIR...                 (runs already made: each DIR a --reports directory of
                                                       ci/configurations run, e.g. a CI run's reports/)

PYTEST-ARGS are pytest's (``suites/ -m core --engine-url=... --distro=busybox -n 2``). Prints one line per varying
test (``nodeid: passed x4, failed x1``; over configurations ``NAME nodeid: ...``, a configuration compared over the
runs that have its JUnit) and a last line with the counts; writes them as JSON to FILE (default
reports/stability.json). Exits 1 when some test varied, 0 when none did, 2 on bad usage.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from ci.tools.configurations import ROOT, load, pytest_argv


def outcomes(junit: Path) -> dict[str, str]:
    """Each test case's outcome in a JUnit file: passed, failed, error, skipped or xfailed."""
    found: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        tags = {child.tag: child for child in case}
        if "error" in tags:
            found[name] = "error"
        elif "failure" in tags:
            found[name] = "failed"
        elif "skipped" in tags:
            kind = tags["skipped"].get("type", "")
            found[name] = "xfailed" if "xfail" in kind else "skipped"
        else:
            found[name] = "passed"
    return found


def varied(runs: list[dict[str, str]]) -> dict[str, dict[str, int]]:
    """Per test whose outcome differs between runs (or that is missing from some), its outcomes counted."""
    counted: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for run in runs:
        for name, outcome in run.items():
            counted[name][outcome] += 1
    for by in counted.values():
        missing = len(runs) - sum(by.values())
        if missing:
            by["absent"] += missing
    return {name: dict(by) for name, by in sorted(counted.items()) if len(by) > 1}


def varied_by_configuration(dirs: list[Path]) -> tuple[dict[str, dict[str, int]], int, dict[str, int]]:
    """Over ``ci/configurations run`` report directories: each varying test as ``NAME nodeid``, the number of
    tests compared, and per configuration the number of runs that have its JUnit (a configuration a run skipped,
    e.g. an optional bundle absent, is compared over the others)."""
    found: dict[str, dict[str, int]] = {}
    tests, runs_of = 0, {}
    names = sorted({p.name for d in dirs for p in d.glob("junit-*.xml")
                    if not p.name.startswith("junit-harness")})
    for junit in names:
        runs = [outcomes(d / junit) for d in dirs if (d / junit).is_file()]
        name = junit.removeprefix("junit-").removesuffix(".xml")
        runs_of[name] = len(runs)
        tests += len(set().union(*runs))
        found.update({f"{name} {test}": by for test, by in varied(runs).items()})
    return found, tests, runs_of


def report(found: dict[str, dict[str, int]], tests: int, repeat: int, output: Path) -> int:
    for name, by in found.items():
        print(f"{name}: " + ", ".join(f"{outcome} x{count}" for outcome, count in sorted(by.items())))
    print(f"ci/stability: {len(found)} of {tests} tests varied over {repeat} runs")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"repeat": repeat, "varied": found}, indent=1))
    return 1 if found else 0


def over_configurations(dirs: list[Path], output: Path) -> int:
    found, tests, runs_of = varied_by_configuration(dirs)
    for name, count in runs_of.items():
        print(f"ci/stability: {name}: {count} runs")
    return report(found, tests, len(dirs), output)


def gate(repeat: int, reports: Path, output: Path) -> int:
    """Every gate configuration ``repeat`` times, one whole gate run after another."""
    dirs = []
    for n in range(repeat):
        dirs.append(reports / f"run-{n + 1}")
        shutil.rmtree(dirs[-1], ignore_errors=True)
        subprocess.run([str(ROOT / "ci" / "configurations"), "run", "--gate", f"--reports={dirs[-1]}"], cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        print(f"ci/stability: gate run {n + 1} of {repeat} done", flush=True)
    return over_configurations(dirs, output)


def main(argv: list[str]) -> int:
    repeat, output, configuration, rest = 0, ROOT / "reports" / "stability.json", "", []
    if argv[:1] == ["--compare"]:
        output = next((Path(a.split("=", 1)[1]) for a in argv if a.startswith("--output=")), output)
        dirs = [Path(a) for a in argv[1:] if not a.startswith("--output=")]
        if len(dirs) < 2 or not all(d.is_dir() for d in dirs):
            print("ci/stability: --compare DIR DIR... (two or more report directories)", file=sys.stderr)
            return 2
        return over_configurations(dirs, output)
    reports, whole_gate = ROOT / "reports" / "stability", "--gate" in argv
    for arg in [a for a in argv if a != "--gate"]:
        if arg.startswith("--repeat="):
            repeat = int(arg.split("=", 1)[1]) if arg.split("=", 1)[1].isdigit() else 0
        elif arg.startswith("--output="):
            output = Path(arg.split("=", 1)[1])
        elif arg.startswith("--reports="):
            reports = Path(arg.split("=", 1)[1]).resolve()
        elif arg.startswith("--configuration="):
            configuration = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if repeat < 2:
        print("ci/stability: --repeat=N with N of 2 or more", file=sys.stderr)
        return 2
    if whole_gate:
        return gate(repeat, reports, output)
    chosen = [c for c in load() if c.name == configuration] if configuration else []
    if configuration and not chosen:
        print(f"ci/stability: no configuration {configuration}", file=sys.stderr)
        return 2
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(repeat):
            reports = Path(tmp) / f"run-{n}"  # the configuration's JUnit lands there, as in ci/configurations
            if chosen:
                cmd, env = pytest_argv(chosen[0], reports, rest)
                junit = reports / chosen[0].junit
            else:
                junit = reports / "junit.xml"
                cmd, env = [str(ROOT / ".venv" / "bin" / "pytest"), *rest, f"--junitxml={junit}", "-q"], {}
            subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
            runs.append(outcomes(junit) if junit.is_file() else {})
            print(f"ci/stability: run {n + 1} of {repeat}: {len(runs[-1])} tests", flush=True)
    return report(varied(runs), len(set().union(*runs)), repeat, output)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
