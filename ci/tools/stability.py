"""Verdicts that change by themselves, found the way web-platform-tests' stability check finds them: a selection
run N times against the same engine, every test whose outcome varied listed with its outcomes.

    ci/stability [PYTEST-ARGS...] --repeat=N [--output=FILE]
    ci/stability --configuration=NAME --repeat=N      (a configuration of ci/configurations.toml, its engine up)

PYTEST-ARGS are pytest's (``suites/ -m core --engine-url=... --distro=busybox -n 2``). Prints one line per varying
test (``nodeid: passed x4, failed x1``) and a last line with the counts; writes them as JSON to FILE (default
reports/stability.json). Exits 1 when some test varied, 0 when none did, 2 on bad usage.
"""

from __future__ import annotations

import json
import os
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


def main(argv: list[str]) -> int:
    repeat, output, configuration, rest = 0, ROOT / "reports" / "stability.json", "", []
    for arg in argv:
        if arg.startswith("--repeat="):
            repeat = int(arg.split("=", 1)[1]) if arg.split("=", 1)[1].isdigit() else 0
        elif arg.startswith("--output="):
            output = Path(arg.split("=", 1)[1])
        elif arg.startswith("--configuration="):
            configuration = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if repeat < 2:
        print("ci/stability: --repeat=N with N of 2 or more", file=sys.stderr)
        return 2
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
    found = varied(runs)
    for name, by in found.items():
        print(f"{name}: " + ", ".join(f"{outcome} x{count}" for outcome, count in sorted(by.items())))
    print(f"ci/stability: {len(found)} of {len(set().union(*runs))} tests varied over {repeat} runs")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"repeat": repeat, "varied": found}, indent=1))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
