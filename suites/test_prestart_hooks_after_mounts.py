"""Feature ``prestart-hooks-after-mounts``: prestart hooks run after the container's mounts are in
place (runc PR 568).

With a prestart hook installed in the engine's hooks directory (fixtures/operator.py; upstream
Moby has none, and these tests fail with what was probed), the hook MUST find, through the
container's own mount namespace (``/proc/PID/root`` + the bundle's root path): the root filesystem
mounted, and the container's volumes mounted in it (a bind's file readable under ``/data``, the
mount listed in the container's mountinfo).
"""

from __future__ import annotations

from fixtures.harness import feature
from fixtures.operator import SELECTOR, Operator, record, run_selected, wait_for

pytestmark = feature("prestart-hooks-after-mounts")


def test_prestart_hook_sees_the_volume_mounted(operator: Operator, tool_image: str, host_dir: str) -> None:
    """At prestart the container's volumes MUST be mounted (runc PR 568): through the container's mount
    namespace the hook reads the bind's file under the rootfs, and its mountinfo lists the mount."""
    hook = operator.hook(["prestart"], SELECTOR)
    container = run_selected(operator, tool_image, volumes=[f"{host_dir}:/data"])
    assert operator.containers.wait(container).exit_code == 0
    seen = wait_for(operator, hook, container.id, "prestart.data-file")
    assert seen is not None, f"the prestart hook did not run for {container.id[:12]}"
    assert seen == "from-host", f"at prestart /data/file read {seen!r}: the volume was not mounted yet"
    rootfs = record(operator.host, hook, container.id, "prestart.rootfs") or "?"
    points = [line.split()[4] for line in (record(operator.host, hook, container.id, "prestart.mountinfo") or "")
              .splitlines() if len(line.split()) > 4]
    assert any(p.endswith("/data") for p in points), f"no /data mount below {rootfs} at prestart: {points}"


def test_prestart_hook_sees_the_root_filesystem(operator: Operator, tool_image: str) -> None:
    """At prestart the container's root filesystem MUST be mounted: the hook finds /bin/sh under the bundle's
    root path through the container's mount namespace."""
    hook = operator.hook(["prestart"], SELECTOR)
    container = run_selected(operator, tool_image)
    assert operator.containers.wait(container).exit_code == 0
    assert wait_for(operator, hook, container.id, "prestart.state") is not None, "the prestart hook did not run"
    assert record(operator.host, hook, container.id, "prestart.rootfs-has-sh") == "yes", (
        f"no bin/sh under {record(operator.host, hook, container.id, 'prestart.rootfs')} at prestart")
