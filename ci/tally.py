"""Adds up JUnit XML files into one closing line: ``total: N passed, N failed, N skipped``.

Each failure follows it, one line each (``failed: REPORT CLASS::NAME: the message, its lines joined by " | "``,
at most 500 characters), so the last lines of a CI log say which tests failed and how, even where only its tail
is kept.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def tally(paths: list[str]) -> tuple[int, int, int, list[str]]:
    passed = failed = skipped = 0
    failures: list[str] = []
    for path in paths:
        report = Path(path).stem.removeprefix("junit-")
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as e:
            failed += 1  # a run that wrote no report counts against the total
            failures.append(f"{report}: no report ({e})")
            continue
        for case in root.iter("testcase"):
            bad = [child for child in case if child.tag in ("failure", "error")]
            if bad:
                failed += 1
                message = " | ".join(line.strip() for line in
                                     (bad[0].get("message") or bad[0].text or "").strip().splitlines() if line.strip())
                failures.append(f"{report} {case.get('classname')}::{case.get('name')} ({bad[0].tag}): {message[:500]}")
            elif any(child.tag == "skipped" for child in case):
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped, failures


if __name__ == "__main__":
    p, f, s, failures = tally(sys.argv[1:])
    print(f"total: {p} passed, {f} failed, {s} skipped")
    for line in failures:
        print(f"failed: {line}")
