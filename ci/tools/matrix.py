"""``ci/matrix RESULTS... [--output DIR]``: the conformance matrix feature x engine x distro.

From one or several runs' results (files, or directories holding results-*.json) it writes
matrix.json, matrix.md and matrix.html (standalone: no network needed to open it) to DIR
(default reports/). Every feature id of the suite has a row, also those no suite covers yet
("no test"). A cell is the worst of its tests: fail, expected-fail, pass, not applicable (with
the detected reasons: a footnote in Markdown, on hover in HTML), not run.
"""

from __future__ import annotations

import html
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci.tools.results import ROOT, ResultsError, RunResults, covered_features, feature_ids, load_all, parser

STATUSES = ("fail", "expected-fail", "pass", "not applicable", "not run", "no test")
SYMBOL = {"fail": "FAIL", "expected-fail": "xfail", "pass": "pass", "not applicable": "n/a", "not run": "-",
          "no test": "no test"}
COLOUR = {"fail": "#f4b4b4", "expected-fail": "#f8dca0", "pass": "#b8e6b8", "not applicable": "#dde3ea",
          "not run": "#ffffff", "no test": "#eeeeee"}


@dataclass
class Cell:
    status: str
    counts: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def status_of(outcomes: Counter[str], covered: bool) -> str:
    if outcomes["failed"] or outcomes["error"] or outcomes["xpass-strict"]:
        return "fail"
    if outcomes["xfail"]:
        return "expected-fail"
    if outcomes["passed"]:
        return "pass"
    if outcomes["skipped"]:
        return "not applicable"
    return "not run" if covered else "no test"


def build(runs: list[RunResults], features: list[str] | None = None) -> dict[str, Any]:
    features = features or feature_ids()
    covered = covered_features()
    columns: list[tuple[str, str]] = []
    for run in runs:
        for distro in run.distros or ("-",):
            if (run.engine_name, distro) not in columns:
                columns.append((run.engine_name, distro))
    outcomes: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    cis: dict[str, set[str]] = defaultdict(set)  # feature -> the CIS recommendations its tests name
    reasons: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for run in runs:
        for r in run.results:
            for distro in [r.distro] if r.distro else (run.distros or ("-",)):
                for feat in r.feature.split(","):
                    outcomes[(feat, r.engine, distro)][r.outcome] += 1
                    cis[feat].update(c.strip() for c in r.cis.split(";") if c.strip())
                    if r.outcome == "skipped" and r.reason:
                        reasons[(feat, r.engine, distro)].add(r.reason.removeprefix("Skipped: "))
    cells = {
        feat: {f"{engine}/{distro}": Cell(status_of(outcomes[(feat, engine, distro)], feat in covered),
                                          dict(outcomes[(feat, engine, distro)]),
                                          sorted(reasons[(feat, engine, distro)])).__dict__
               for engine, distro in columns}
        for feat in features
    }
    return {"features": features, "columns": [{"engine": e, "distro": d} for e, d in columns], "cells": cells,
            "cis": {feat: sorted(cis[feat], key=cis_key) for feat in features if cis[feat]},
            "runs": [str(run.path) for run in runs]}


def cis_key(recommendation: str) -> tuple[int, ...]:
    return tuple(int(n) for n in recommendation.split()[0].split("."))


def feature_label(matrix: dict[str, Any], feat: str) -> str:
    """The feature's name, with the CIS Docker Benchmark recommendations its tests name (CIS 5.3, 5.25)."""
    ids = [c.split()[0] for c in matrix.get("cis", {}).get(feat, [])]
    return f"{feat} (CIS {', '.join(ids)})" if ids else feat


def markdown(matrix: dict[str, Any]) -> str:
    columns = [f"{c['engine']}/{c['distro']}" for c in matrix["columns"]]
    cells: dict[str, dict[str, dict[str, Any]]] = matrix["cells"]
    notes: list[str] = []
    lines = ["| feature | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for feat in matrix["features"]:
        row = []
        for col in columns:
            cell = cells[feat][col]
            text = SYMBOL[str(cell["status"])]
            if cell["reasons"]:
                note = "; ".join(cell["reasons"])
                if note not in notes:
                    notes.append(note)
                text += f" [{notes.index(note) + 1}]"
            row.append(text)
        lines.append(f"| {feature_label(matrix, feat)} | " + " | ".join(row) + " |")
    lines += ["", *(f"[{i}] {note}" for i, note in enumerate(notes, 1))]
    return "\n".join(lines) + "\n"


def html_page(matrix: dict[str, Any]) -> str:
    columns = [f"{c['engine']}/{c['distro']}" for c in matrix["columns"]]
    cells: dict[str, dict[str, dict[str, Any]]] = matrix["cells"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = []
    for feat in matrix["features"]:
        tds = []
        for col in columns:
            cell = cells[feat][col]
            status = str(cell["status"])
            counts = ", ".join(f"{n} {o}" for o, n in sorted(cell["counts"].items()))
            title = "; ".join([counts, *cell["reasons"]]) if cell["reasons"] else counts
            tds.append(f'<td class="{status.replace(" ", "-")}" style="background:{COLOUR[status]}" '
                       f'title="{html.escape(title)}">{SYMBOL[status]}</td>')
        cis = "; ".join(matrix.get("cis", {}).get(feat, []))
        rows.append(f'<tr><th title="{html.escape(cis)}">{html.escape(feature_label(matrix, feat))}</th>'
                    f"{''.join(tds)}</tr>")
    legend = " ".join(f'<span style="background:{COLOUR[s]};padding:0 .4em">{SYMBOL[s]} = {s}</span>'
                      for s in STATUSES)
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Conformance matrix</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;"
            "padding:.2em .5em;text-align:center}tbody th{text-align:left}</style></head><body>"
            f"<h1>Conformance matrix</h1><p>{legend}</p><table><thead><tr><th>feature</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table><p>Hover a cell for its counts and not-applicable reasons."
            "</p></body></html>\n")


def write(matrix: dict[str, Any], output: Path) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    files = {"matrix.json": json.dumps(matrix, indent=1), "matrix.md": markdown(matrix),
             "matrix.html": html_page(matrix)}
    for name, text in files.items():
        (output / name).write_text(text)
    return [output / name for name in files]


def main(argv: list[str] | None = None) -> int:
    ap = parser("ci/matrix", __doc__)
    ap.add_argument("results", nargs="+", help="results-<engine>.json files or directories holding them")
    ap.add_argument("--output", default=str(ROOT / "reports"), help="where matrix.{json,md,html} go")
    args = ap.parse_args(argv)
    try:
        runs = load_all(args.results)
    except ResultsError as err:
        print(f"ci/matrix: {err}", file=sys.stderr)
        return 2
    for path in write(build(runs), Path(args.output)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
