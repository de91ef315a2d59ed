"""``ci/image build|load|command``: the suite's own OCI image, ``localhost/engine-conformance:VERSION``.

    ci/image build [--output DIR]              the image's rootfs, DIR/engine-conformance-VERSION.tar (dist/)
    ci/image load --engine-url=URL [--tar F]   imports it into that engine, with its entrypoint and settings
    ci/image command docker|podman --socket=PATH [--no-privileged] -- ARGS...
                                               prints the one command that runs the image against the engine
                                               at PATH (the README's), ARGS given to engine-conformance
    ci/image certify docker|podman --socket=PATH --output=DIR [--no-privileged] -- CERTIFY-ARGS...
                                               runs that command's certification into DIR/bundle, then the
                                               image's own verification of it: exit 0 when it verifies

The rootfs is Debian 12 made by ``images/recipes/suite.sh`` (mmdebstrap, Debian's packages) with the
wheel ``ci/package`` builds and its dependencies' wheels, downloaded here through this machine's pip.
The image runs ``engine-conformance`` under tini (``-s``: with ``--pid=host`` it is not PID 1), in
/out, with ``CONFORMANCE_ENGINE_HOST=nsenter://engine``: host-side checks enter the namespaces of the
engine's own process (fixtures/hostns.py says why). Where ``--privileged`` is refused (a host whose bounding set lacks a
capability, as CAP_SYS_RESOURCE here: shared/ENGINE-LAB.md), ``--no-privileged`` gives every
capability the host has and no seccomp or AppArmor confinement instead.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import docker

from ci.tools import package
from ci.tools.results import ROOT, parser
from fixtures import hostns, reproducer
from fixtures.inventory import suite_version

REPOSITORY = "localhost/engine-conformance"
RECIPE = ROOT / "images" / "recipes" / "suite.sh"
CHANGES = (
    'ENTRYPOINT ["/usr/bin/tini", "-s", "--", "engine-conformance"]',
    'CMD ["--help"]',
    "ENV CONFORMANCE_ENGINE_HOST=nsenter://engine",
    "WORKDIR /out",
)


CLIENTS = {"docker": ("docker", "-H"), "podman": ("podman", "--url")}


def reference() -> str:
    return f"{REPOSITORY}:{suite_version()}"


def changes() -> list[str]:
    """The image's settings: ``CHANGES`` and its own reference (reproducers name it: fixtures/reproducer.py)."""
    return [*CHANGES, f"ENV {reproducer.IMAGE}={reference()}"]


def build(output: Path) -> Path:
    """The image's rootfs tar: the wheel and its dependencies (pip download), installed by the recipe."""
    output.mkdir(parents=True, exist_ok=True)
    tar = output / f"engine-conformance-{suite_version()}.tar"
    with tempfile.TemporaryDirectory(prefix="conformance-wheels-") as tmp:
        wheel = package.build(Path(tmp))
        pip = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", tmp,
                              str(wheel)], capture_output=True, text=True, timeout=900)
        if pip.returncode != 0:
            raise SystemExit(f"ci/image: pip download failed: {(pip.stdout + pip.stderr).strip()[-800:]}")
        partial = tar.with_suffix(".partial.tar")
        recipe = subprocess.run(["bash", str(RECIPE), str(partial), tmp], capture_output=True, text=True,
                                timeout=1800)
        if recipe.returncode != 0:
            partial.unlink(missing_ok=True)
            lines = [line for line in (recipe.stdout + recipe.stderr).splitlines() if not line.startswith("WARNING")]
            raise SystemExit(f"ci/image: {RECIPE.name} failed: " + "\n".join(lines[-20:]))
        partial.rename(tar)
    return tar


def load(engine_url: str, tar: Path, timeout: float = 900) -> str:
    """Imports ``tar`` into the engine as ``reference()`` (the repository with its tag: Podman's compat
    import ignores a separate tag), with the image's settings; returns the image id."""
    client = docker.DockerClient(base_url=engine_url, timeout=int(timeout))
    try:
        try:
            before = client.images.get(reference()).id
        except docker.errors.ImageNotFound:
            before = None
        client.api.import_image_from_file(str(tar), repository=reference(), changes=changes())
        loaded = str(client.images.get(reference()).id)
        if before and before != loaded and not client.images.get(before).tags:
            client.images.remove(before)  # the image this one replaces, left with no name
        return loaded
    finally:
        client.close()


def command(kind: str, socket: str, args: list[str], out: Path, privileged: bool = True,
            client_url: str | None = None) -> list[str]:
    """The run of the image against the engine listening on ``socket`` (bound in at the same path), its
    output in ``out`` (/out inside). ``client_url``: where the engine's client reaches it (default: its
    own default engine)."""
    cli, flag = CLIENTS[kind]
    return [*hostns.image_run([cli, *([flag, client_url] if client_url else [])], socket, reference(), privileged,
                              volumes=(f"{out}:/out",)), *args]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = parser("ci/image", __doc__)
    ap.add_argument("action", choices=("build", "load", "command", "certify"))
    ap.add_argument("kind", nargs="?", choices=tuple(CLIENTS), help="command: the engine's kind")
    ap.add_argument("--tar", default=None, help="load: the rootfs tar (default: dist/'s)")
    ap.add_argument("--engine-url", default=None, help="load: the engine to import into")
    ap.add_argument("--socket", default=None, help="command: the engine's socket path on its host")
    ap.add_argument("--out", "--output", dest="out", default=None,
                    help="build: where the tar goes (dist/); command, certify: the output directory (./out)")
    ap.add_argument("--client-url", default=None, help="command: the URL the engine's client is given")
    ap.add_argument("--no-privileged", action="store_true", help="command: every capability instead of --privileged")
    args = ap.parse_args(argv)
    if args.action == "build":
        print(build(Path(args.out or ROOT / "dist")))
    elif args.action == "load":
        if not args.engine_url:
            ap.error("load needs --engine-url")
        tar = Path(args.tar) if args.tar else ROOT / "dist" / f"engine-conformance-{suite_version()}.tar"
        if not tar.is_file():
            ap.error(f"no {tar}: run ci/image build first")
        try:
            print(f"{reference()} {load(args.engine_url, tar)}")
        except docker.errors.DockerException as err:
            print(f"ci/image: loading into {args.engine_url} failed: {err}", file=sys.stderr)
            return 4
    elif not args.kind or not args.socket:
        ap.error(f"{args.action} needs the engine's kind and --socket")
    else:
        out = Path(args.out or Path.cwd() / "out")
        if args.action == "certify":
            return certify(args.kind, args.socket, rest, out, not args.no_privileged, args.client_url)
        print(shlex.join(command(args.kind, args.socket, rest, out, not args.no_privileged, args.client_url)))
    return 0


def certify(kind: str, socket: str, args: list[str], out: Path, privileged: bool, client_url: str | None) -> int:
    """A certification from the image into ``out``/bundle, then its verification by the image: the
    second run's exit code (0: the bundle verifies)."""
    out.mkdir(parents=True, exist_ok=True)
    for step in (["certify", f"--engine-url=unix://{socket}", "--output=/out/bundle", *args],
                 ["verify", "/out/bundle"]):
        argv = command(kind, socket, step, out.resolve(), privileged, client_url)
        print("+ " + shlex.join(argv), flush=True)
        code = subprocess.run(argv, check=False).returncode
    return code


if __name__ == "__main__":
    sys.exit(main())
