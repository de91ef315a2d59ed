"""``ci/inventory [--write | --check | --diff OLD NEW]``: the suite's versioned inventory.

    ci/inventory              print the inventory of the suite as collected now (JSON)
    ci/inventory --write      write it to inventory/<version>.json (pyproject.toml's version)
    ci/inventory --check      exit 1 unless inventory/<version>.json is what pytest collects now
    ci/inventory --diff OLD NEW   what version NEW adds, drops and changes against OLD
                              (versions with a committed inventory, or inventory files)

Each test of suites/ with its feature, its level (MUST/SHOULD, from its docstring), its sources
(the Engine API fields it observes, the upstream or Red Hat changes it names), its CIS Docker
Benchmark recommendations, and per profile of ci/profiles.toml the tests it holds
(fixtures/inventory.py). Collected with ``pytest suites/ --inventory``: no engine is contacted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ci.tools.results import ROOT, parser
from fixtures import inventory


def collect() -> dict[str, Any]:
    """The inventory of the suite in this checkout, as pytest collects it."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "inventory.json"
        run = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "suites"), f"--inventory={out}", "-q",
                              "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
        if not out.exists():
            lines = (run.stdout + run.stderr).strip().splitlines()
            raise SystemExit(f"ci/inventory: collection failed: {lines[-1] if lines else run.returncode}")
        return inventory.read(out)


def committed(name: str) -> dict[str, Any]:
    """A committed inventory by version, or an inventory file by path."""
    path = Path(name) if name.endswith(".json") else inventory.INVENTORY_DIR / f"{name}.json"
    try:
        return inventory.read(path)
    except (OSError, ValueError) as err:
        known = ", ".join(inventory.releases()) or "none"
        raise SystemExit(f"ci/inventory: no inventory {name} ({err}); committed versions: {known}") from None


def main(argv: list[str] | None = None) -> int:
    ap = parser("ci/inventory", __doc__)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--diff", nargs=2, metavar=("OLD", "NEW"))
    args = ap.parse_args(argv)
    if args.diff:
        changes = inventory.diff(committed(args.diff[0]), committed(args.diff[1]))
        for kind, lines in changes.items():
            print(f"{kind}: {len(lines)}")
            print("".join(f"  {line}\n" for line in lines), end="")
        return 0
    now = collect()
    path = inventory.INVENTORY_DIR / f"{now['suite_version']}.json"
    if args.write:
        inventory.write(path, now)
        print(f"{path}: {len(now['tests'])} tests")
        return 0
    if args.check:
        if not path.exists():
            print(f"ci/inventory: no {path.relative_to(ROOT)} for suite version {now['suite_version']}: "
                  "run ci/inventory --write")
            return 1
        changes = inventory.diff(inventory.read(path), now)
        if now != inventory.read(path):
            print(f"ci/inventory: {path.relative_to(ROOT)} is not what pytest collects "
                  f"({', '.join(f'{len(v)} {k}' for k, v in changes.items())}): run ci/inventory --write")
            return 1
        print(f"{path.relative_to(ROOT)}: {len(now['tests'])} tests, as collected")
        return 0
    print(json.dumps(now, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
