"""Adds up JUnit XML files into one closing line: ``total: N passed, N failed, N skipped``.

Before it, a line per report (a configuration, or a step of the harness's tests): its name, its counts and its wall
time (the JUnit testsuite's). Each failure follows it, one line each (``failed: REPORT CLASS::NAME: the message,
its lines joined by " | "``, at most 500 characters), so the last lines of a CI log say which tests failed and how,
even where only its tail is kept.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def tally(paths: list[str]) -> tuple[int, int, int, list[str], list[str]]:
    """The counts over ``paths``, each failure, and a line per report."""
    passed = failed = skipped = 0
    failures: list[str] = []
    lines: list[str] = []
    for path in paths:
        report = Path(path).stem.removeprefix("junit-")
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as e:
            failed += 1  # a run that wrote no report counts against the total
            failures.append(f"{report}: no report ({e})")
            lines.append(f"{report:32} no report")
            continue
        counts = [0, 0, 0]
        for case in root.iter("testcase"):
            bad = [child for child in case if child.tag in ("failure", "error")]
            if bad:
                counts[1] += 1
                message = " | ".join(line.strip() for line in
                                     (bad[0].get("message") or bad[0].text or "").strip().splitlines() if line.strip())
                failures.append(f"{report} {case.get('classname')}::{case.get('name')} ({bad[0].tag}): {message[:500]}")
            else:
                counts[2 if any(child.tag == "skipped" for child in case) else 0] += 1
        seconds = int(sum(float(suite.get("time") or 0) for suite in root.iter("testsuite")))
        lines.append(f"{report:32} {counts[0]:5} passed {counts[1]:4} failed {counts[2]:5} skipped "
                     f"{seconds // 60:4}:{seconds % 60:02d}")
        passed, failed, skipped = passed + counts[0], failed + counts[1], skipped + counts[2]
    return passed, failed, skipped, failures, lines


if __name__ == "__main__":
    p, f, s, failures, per_report = tally(sys.argv[1:])
    print("\n".join(per_report))
    print(f"total: {p} passed, {f} failed, {s} skipped")
    for line in failures:
        print(f"failed: {line}")
