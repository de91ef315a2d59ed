"""``engine-conformance COMMAND [ARGS...]``: the suite from any directory.

    engine-conformance run [PYTEST-ARGS...]      the suites (``pytest suites/ ...``): --engine-url, --distro, ...
    engine-conformance certify [ARGS...]         a certification bundle (ci/certify's arguments)
    engine-conformance verify BUNDLE [--public-key=PUB.pem] [--max-age-days=N]
    engine-conformance matrix|compare|report|inventory [ARGS...]   the ci/<tool> of that name
    engine-conformance version                   the suite's version

Installed (``pip install`` of the wheel ``ci/package`` builds), the suites, fixtures, distro catalog,
recipes, expectations, profiles and inventories are package data; in a checkout the command runs
the checkout's. Exit codes are pytest's and the tools': 0 passed (a bundle verifies), 1 failures (a
bundle does not verify), 2 interrupted or bad tool usage, 4 bad usage (one line, no traceback), 5 no
test selected, 6 the engine is unreachable (one line).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

TOOLS = {"certify": "ci.tools.certify", "matrix": "ci.tools.matrix", "compare": "ci.tools.compare",
         "report": "ci.tools.report", "inventory": "ci.tools.inventory"}


def tree() -> Path:
    """Where the suites are: this package's own directory in a wheel, the checkout around it otherwise."""
    here = Path(__file__).resolve().parent
    return here if (here / "suites").is_dir() else here.parent


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    root = tree()
    sys.path.insert(0, str(root))
    if command == "run":
        import pytest

        # a test's node id (a reproducer's, ``suites/test_x.py::test[busybox]``) names the suite's own file
        nodes = [arg if Path(arg.split("::")[0]).exists() else str(root / arg) for arg in rest
                 if arg.startswith("suites/")]
        rest = [arg for arg in rest if not arg.startswith("suites/")]
        return int(pytest.main([*(nodes or [str(root / "suites")]), "--rootdir", str(root), "-c",
                                str(root / "pytest.ini"), "-p", "no:cacheprovider", *rest]))
    if command == "version":
        from fixtures.inventory import suite_version

        print(suite_version(root))
        return 0
    if command == "verify":
        if not rest or rest[0].startswith("-"):
            print("engine-conformance verify: give the bundle's directory", file=sys.stderr)
            return 2
        command, rest = "certify", ["--verify", *rest]
    if command not in TOOLS:
        print(f"engine-conformance: unknown command {command}; commands: run, certify, verify, "
              f"{', '.join(c for c in TOOLS if c != 'certify')}, version", file=sys.stderr)
        return 2
    return int(importlib.import_module(TOOLS[command]).main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
