"""``ci/report ALLURE_RESULTS [--output DIR]``: the static Allure HTML report of a run.

ALLURE_RESULTS is what ``pytest --alluredir=DIR`` wrote (the suite adds the engine's identity as
environment.properties and, for failing tests, attachments: container inspect and logs, the
engine's log and the journal for the test's time window, the last API exchanges). The report is
one self-contained HTML file (Allure's single-file mode) in DIR (default reports/allure-html),
made with the Allure command line that ``ci/install`` pins (npm allure-commandline, on Java).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ci.tools.results import ROOT, parser

ALLURE = ROOT / ".tools" / "node_modules" / ".bin" / "allure"


def generate(results: Path, output: Path) -> Path:
    if not ALLURE.exists():
        raise RuntimeError(f"no Allure command line at {ALLURE}: run ci/install")
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise RuntimeError(f"{results} holds no Allure results (run pytest with --alluredir={results})")
    if output.exists():
        shutil.rmtree(output)
    proc = subprocess.run([str(ALLURE), "generate", "--single-file", "--clean", "-o", str(output), str(results)],
                          capture_output=True, text=True, timeout=600)
    page = output / "index.html"
    if proc.returncode != 0 or not page.exists():
        raise RuntimeError(f"allure generate failed (exit {proc.returncode}): {(proc.stderr or proc.stdout)[-500:]}")
    return page


def main(argv: list[str] | None = None) -> int:
    ap = parser("ci/report", __doc__)
    ap.add_argument("results", help="the --alluredir of a run")
    ap.add_argument("--output", default=str(ROOT / "reports" / "allure-html"))
    args = ap.parse_args(argv)
    try:
        print(generate(Path(args.results), Path(args.output)))
    except RuntimeError as err:
        print(f"ci/report: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
