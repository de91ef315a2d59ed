"""Result sets: what a run wrote to reports/results-<engine>.json, read back for the tools that
combine runs (matrix, compare, expectations-update, certify).

Each result is one test on one engine (and distro): passed, failed, error, skipped (not
applicable, with its reason), xfail (an expected failure) or xpass-strict (an expected failure
that passed). A distro-less test (an engine property) counts for every distro of its run.
"""

from __future__ import annotations

import argparse
import configparser
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FAILING = ("failed", "error", "xpass-strict")


class ResultsError(Exception):
    """A results file that cannot be read: one line for the user."""


@dataclass(frozen=True)
class Result:
    test: str
    outcome: str
    reason: str
    feature: str
    engine: str
    distro: str
    cis: str = ""  # the CIS Docker Benchmark recommendations the test names: "5.4 Ensure ...; 5.3 ..."

    @property
    def failing(self) -> bool:
        return self.outcome in FAILING

    @property
    def key(self) -> tuple[str, str]:
        return self.engine, self.test


@dataclass(frozen=True)
class RunResults:
    path: Path
    engine: dict[str, Any]
    distros: tuple[str, ...]
    results: tuple[Result, ...]
    raw: dict[str, Any]

    @property
    def engine_name(self) -> str:
        return str(self.engine.get("name", ""))


def load(path: Path) -> RunResults:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as err:
        raise ResultsError(f"cannot read results {path}: {err.strerror}") from None
    except ValueError as err:
        raise ResultsError(f"malformed results {path}: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list) or "engine" not in data:
        raise ResultsError(f"malformed results {path}: not a results-<engine>.json of the suite")
    engine = data["engine"]
    results = tuple(
        Result(str(r["test"]), str(r["outcome"]), str(r.get("reason", "")), str(r.get("feature", "")),
               str(r.get("engine") or engine.get("name", "")), str(r.get("distro", "")), str(r.get("cis", "")))
        for r in data["results"]
    )
    return RunResults(Path(path), engine, tuple(data.get("distros") or {}), results, data)


def load_all(paths: list[str]) -> list[RunResults]:
    """Results files, or every results-*.json in a directory given."""
    runs = []
    for name in paths:
        path = Path(name)
        files = sorted(path.glob("**/results-*.json")) if path.is_dir() else [path]
        if not files:
            raise ResultsError(f"no results-*.json in {path}")
        runs += [load(f) for f in files]
    return runs


def feature_ids(ini: Path = ROOT / "pytest.ini") -> list[str]:
    """Every feature id the suite knows (pytest.ini's markers: one per FEATURES.md entry, plus core-*)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ini)
    lines = parser.get("pytest", "markers", fallback="").splitlines()
    return [m.group(1) for line in lines if (m := re.match(r"^\s*([a-z0-9-]+):", line))]


def covered_features(suites: Path = ROOT / "suites") -> set[str]:
    """Feature ids some suite module names in its ``feature("...")`` marker."""
    found: set[str] = set()
    for module in suites.glob("test_*.py"):
        found.update(re.findall(r'feature\("([a-z0-9-]+)"\)', module.read_text()))
    return found


def parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """A tool's argument parser: its usage line is the first line of its module docstring."""
    return argparse.ArgumentParser(prog=prog, description=(doc or "").splitlines()[0] if doc else None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter, epilog=doc)
