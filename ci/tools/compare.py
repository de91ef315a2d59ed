"""``ci/compare OLD NEW``: what changed between two result sets (a nightly's regression gate).

OLD and NEW are results files or directories of them. Lists new failures, fixed tests, newly
not applicable tests (with the reason), tests added and tests gone, per engine. Exits 1 when
there is a new failure (a test failing in NEW that was not failing in OLD, including a new test
that fails), 0 otherwise, 2 on unreadable input.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ci.tools.results import Result, ResultsError, load_all, parser


@dataclass(frozen=True)
class Changes:
    new_failures: list[Result]
    fixed: list[Result]
    newly_not_applicable: list[Result]
    added: list[Result]
    gone: list[Result]


def compare(old: list[Result], new: list[Result]) -> Changes:
    before = {r.key: r for r in old}
    after = {r.key: r for r in new}
    return Changes(
        new_failures=[r for k, r in sorted(after.items()) if r.failing and not (k in before and before[k].failing)],
        fixed=[r for k, r in sorted(after.items()) if k in before and before[k].failing and not r.failing],
        newly_not_applicable=[r for k, r in sorted(after.items())
                              if r.outcome == "skipped" and k in before and before[k].outcome != "skipped"],
        added=[r for k, r in sorted(after.items()) if k not in before],
        gone=[r for k, r in sorted(before.items()) if k not in after],
    )


def report(changes: Changes) -> str:
    sections = [("new failures", changes.new_failures), ("fixed", changes.fixed),
                ("newly not applicable", changes.newly_not_applicable), ("tests added", changes.added),
                ("tests gone", changes.gone)]
    lines = []
    for title, items in sections:
        lines.append(f"{title}: {len(items)}")
        for r in items:
            detail = f" ({r.reason})" if title == "newly not applicable" and r.reason else f" [{r.outcome}]"
            lines.append(f"  {r.engine}: {r.test}{detail}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = parser("ci/compare", __doc__)
    ap.add_argument("old", help="the last good results (file or directory)")
    ap.add_argument("new", help="this run's results (file or directory)")
    args = ap.parse_args(argv)
    try:
        old = [r for run in load_all([args.old]) for r in run.results]
        new = [r for run in load_all([args.new]) for r in run.results]
    except ResultsError as err:
        print(f"ci/compare: {err}", file=sys.stderr)
        return 2
    changes = compare(old, new)
    print(report(changes))
    return 1 if changes.new_failures else 0


if __name__ == "__main__":
    sys.exit(main())
