"""``ci/expectations-update RESULTS [--file FILE]``: rewrite an engine's expectations from a run.

RESULTS is the results-<engine>.json of a run (made with or without expectations); FILE is the
expectations file to rewrite (default: the one the run used). Entries are kept, with their
reasons, links and distro conditions, while a test they match still fails (or was not run);
entries whose tests all passed are removed; each test that failed without an entry gets a new
entry whose reason is a placeholder: the file then fails to load (and the project's lint) until
someone writes the reason. What changed is printed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ci.tools.results import Result, ResultsError, load, parser
from fixtures.errors import HarnessError, load_toml
from fixtures.expectations import PLACEHOLDER, wildcard

KEYS = ("feature", "test", "outcome", "reason", "link", "distros")


def matches(entry: dict[str, Any], r: Result) -> bool:
    if "feature" in entry and entry["feature"] not in r.feature.split(","):
        return False
    if "test" in entry and wildcard(entry["test"]).fullmatch(r.test) is None:
        return False
    return not entry.get("distros") or r.distro in entry["distros"]


def update(entries: list[dict[str, Any]], results: list[Result]) -> tuple[list[dict[str, Any]], list[str]]:
    """The new entries and what changed."""
    kept, changes = [], []
    for entry in entries:
        mine = [r for r in results if matches(entry, r)]
        if entry.get("outcome") != "intermittent" and mine and all(r.outcome in ("passed", "xpass-strict")
                                                                   for r in mine):
            changes.append(f"removed (passes now): {entry.get('test') or entry.get('feature')}")
            continue
        kept.append(entry)
    for r in results:
        if r.outcome in ("failed", "error") and not any(matches(e, r) for e in kept):
            kept.append({"test": r.test, "outcome": "fail", "reason": PLACEHOLDER})
            changes.append(f"added (write its reason): {r.test}")
    return kept, changes


def _value(value: Any) -> str:
    return json.dumps(value)  # a TOML basic string or array of strings


def render(header: list[str], match: dict[str, Any], entries: list[dict[str, Any]]) -> str:
    lines = [*header, "[match]", *(f"{k} = {_value(v)}" for k, v in match.items())]
    for entry in entries:
        lines += ["", "[[expect]]", *(f"{k} = {_value(entry[k])}" for k in KEYS if k in entry)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = parser("ci/expectations-update", __doc__)
    ap.add_argument("results", help="a run's results-<engine>.json")
    ap.add_argument("--file", help="the expectations file to rewrite (default: the one the run used)")
    args = ap.parse_args(argv)
    try:
        run = load(Path(args.results))
        name = args.file or run.raw.get("expectations")
        if not name:
            raise ResultsError(f"{args.results}: the run used no expectations file; name one with --file")
        path = Path(name)
        data = load_toml(path, "expectations")
    except (ResultsError, HarnessError) as err:
        print(f"ci/expectations-update: {err}", file=sys.stderr)
        return 2
    text = path.read_text().splitlines()
    header = []
    for line in text:
        if line.strip().startswith("[") and not line.strip().startswith("#"):
            break
        header.append(line)
    entries, changes = update(list(data.get("expect", [])), list(run.results))
    path.write_text(render(header, dict(data.get("match", {})), entries))
    print("\n".join(changes) if changes else "no change")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
