"""``ci/package [--output DIR]``: the suite's wheel, ``engine_conformance-VERSION-py3-none-any.whl``.

The wheel holds one package, ``engine_conformance``, whose directory is the suite as it runs: the
``engine-conformance`` command (engine_conformance/cli.py) and, as package data, the suites,
fixtures, distro catalog and image recipes, the ci/ tools with their expectations and profiles,
the inventories, pytest.ini and conftest.py: every file git tracks there. Runtime dependencies
are requirements.txt's, less the project's own checks (ruff, mypy, type stubs, pyyaml).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ci.tools.certify import git_revision
from ci.tools.results import ROOT, parser
from fixtures.inventory import suite_version

SHIPPED = ("fixtures", "suites", "images", "inventory", "ci/__init__.py", "ci/tools", "ci/expectations",
           "ci/engine-config", "ci/profiles.toml", "pytest.ini", "conftest.py", "pyproject.toml")
CHECKS_ONLY = ("ruff", "mypy", "types-", "pyyaml")  # requirements.txt entries the suite does not run with


def dependencies() -> list[str]:
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    return [line for line in lines if line and not line.lower().startswith(CHECKS_ONLY)]


def tracked(paths: tuple[str, ...]) -> list[str]:
    out = subprocess.run(["git", "ls-files", "--", *paths], cwd=ROOT, capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if (ROOT / line).is_file()]


def stage(directory: Path) -> Path:
    """The project to build: pyproject.toml and the package directory holding the suite."""
    package = directory / "engine_conformance"
    for name in tracked(SHIPPED):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, package / name)
    for name in ("__init__.py", "cli.py"):
        shutil.copy2(ROOT / "engine_conformance" / name, package / name)
    (package / "REVISION").write_text(json.dumps(git_revision()))  # the suite.json of its bundles
    deps = ", ".join(f'"{d}"' for d in dependencies())
    (directory / "pyproject.toml").write_text(f'''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "engine-conformance"
version = "{suite_version()}"
description = "Conformance and integration suite for container engines serving the Docker Engine API"
requires-python = ">=3.11"
dependencies = [{deps}]

[project.scripts]
engine-conformance = "engine_conformance.cli:main"

[tool.setuptools]
packages = ["engine_conformance"]

[tool.setuptools.package-data]
engine_conformance = ["**/*"]
''')
    return directory


def build(output: Path) -> Path:
    """The wheel, built from a staged copy of the tracked files (nothing of the checkout's .venv or reports)."""
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        project = stage(Path(tmp))
        run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(output),
                              str(project)], capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            raise SystemExit(f"ci/package: pip wheel failed: {(run.stdout + run.stderr).strip()[-800:]}")
    wheel = output / f"engine_conformance-{suite_version()}-py3-none-any.whl"
    if not wheel.exists():
        raise SystemExit(f"ci/package: no {wheel.name} in {output}")
    return wheel


def main(argv: list[str] | None = None) -> int:
    ap = parser("ci/package", __doc__)
    ap.add_argument("--output", default=str(ROOT / "dist"), help="where the wheel goes (dist/)")
    args = ap.parse_args(argv)
    print(build(Path(args.output)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
