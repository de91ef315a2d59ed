"""Engines the harness's own tests start for themselves, so they may stop, kill or starve them
without disturbing the managed engines other tests use."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PrivateDockerd:
    """A dockerd on its own socket, data root and exec root, in a network namespace of its own.

    Its own namespace matters: a dockerd with ``--bridge=none`` on the host's network deletes the
    host's docker0, breaking the managed engine; in its own namespace it has a docker0 of its own.
    """

    root: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"unix://{self.root}/docker.sock"

    def signal(self, signum: int) -> None:
        os.kill(self.process.pid, signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.signal(signal.SIGCONT)
                self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        kill_leftovers(self.root, self.cgroup_parent)
        subprocess.run(["umount", "-R", "-l", str(self.root / "data")], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def cgroup_parent(self) -> str:
        return f"conformance-test-{self.root.name}"


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line mentions ``text`` (an engine's containerd and shims name its root)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            with contextlib.suppress(OSError):
                if text.encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
    return pids


def cgroup_dirs(parent: str) -> list[Path]:
    """Every cgroup directory (all hierarchies, deepest first) under the cgroup ``parent``."""
    found = [d for top in Path("/sys/fs/cgroup").glob(f"*/{parent}") for d in [top, *top.rglob("*")] if d.is_dir()]
    found += [d for top in [Path("/sys/fs/cgroup", parent)] if top.is_dir() for d in [top, *top.rglob("*")]
              if d.is_dir()]
    return sorted(found, key=lambda d: len(d.parts), reverse=True)


def kill_leftovers(root: Path, cgroup_parent: str) -> None:
    """What a killed dockerd leaves running: its containerd and shims (they name its root), and its
    containers' processes (in its own cgroup parent); then the empty cgroups."""
    pids = processes_mentioning(str(root))
    for directory in cgroup_dirs(cgroup_parent):
        with contextlib.suppress(OSError):
            pids += [int(p) for p in (directory / "cgroup.procs").read_text().split()]
    for pid in set(pids):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        time.sleep(0.1)
    for directory in cgroup_dirs(cgroup_parent):
        with contextlib.suppress(OSError):
            directory.rmdir()


def ping(socket_path: str, timeout: float = 1.0) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(socket_path)
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@contextlib.contextmanager
def private_dockerd() -> Iterator[PrivateDockerd]:
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        raise RuntimeError("a private dockerd needs root and dockerd (ci/install)")
    root = Path("/var/lib/conformance-test") / uuid.uuid4().hex[:8]
    root.mkdir(parents=True)
    log = (root / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        ["unshare", "--net", "dockerd", "-H", f"unix://{root}/docker.sock", "--data-root", str(root / "data"),
         "--exec-root", str(root / "exec"), "--pidfile", str(root / "docker.pid"),
         f"--cgroup-parent=/conformance-test-{root.name}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    engine = PrivateDockerd(root, proc)
    try:
        deadline = time.monotonic() + 60
        while not ping(str(root / "docker.sock")):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private dockerd did not start: {(root / 'dockerd.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield engine
    finally:
        engine.stop()
        log.close()


@contextlib.contextmanager
def unix_server(handle: Callable[[socket.socket], None], prefix: str) -> Iterator[str]:
    """A unix socket served in the background, one thread per connection; yields its engine URL."""
    path = f"/tmp/conformance-{prefix}-{uuid.uuid4().hex[:8]}.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"unix://{path}"
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
        os.unlink(path)


@contextlib.contextmanager
def fake_engine(answer: Callable[[bytes], bytes]) -> Iterator[str]:
    """A unix socket that answers every request with ``answer(request)`` (a broken engine)."""

    def handle(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(2)
            conn.sendall(answer(conn.recv(65536)))

    with unix_server(handle, "fake") as url:
        yield url
