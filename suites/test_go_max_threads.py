"""Feature ``go-max-threads``: the daemon caps Go's threads below the kernel's limit (docker PR 18362).

A Go daemon that runs into ``kernel.threads-max`` crashes the whole engine; the patch makes the
daemon set Go's thread limit to 90% of ``/proc/sys/kernel/threads-max`` at start
(``debug.SetMaxThreads``) and say so in its debug log: "Golang's threads limit set to N".
Observed on the engine host: the log line of the running engine, N against threads-max (Moby
computes ``threads-max / 100 * 90`` in integers). The log is the engine's (``--engine-log``, a
file or ``journal:UNIT``; the managed engines' own logs by default). The limit is logged at debug level: where the
engine runs without debug logging (``/info`` Debug) or its log is not known, the log read is that of an instance
of the engine started as it is started with its debug log on (``launch``; Moby's ``--debug``, Podman's
``--log-level=debug``), where the daemon's start-up is the same.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from fixtures.engine import EngineFacts
from fixtures.engine_config import EngineConfig
from fixtures.engine_fixtures import Launch
from fixtures.engine_host import EngineHost
from fixtures.harness import Harness, feature
from fixtures.hostside import read_engine_log

pytestmark = feature("go-max-threads")

LINE = re.compile(r"Golang's threads limit set to (\d+)")


@pytest.fixture
def engine_log(harness: Harness, engine_facts: EngineFacts, engine_host: EngineHost, launch: Launch) -> str:
    """The engine's debug log: its own, else an instance's started at debug level."""
    if harness.engine_log and engine_facts.raw_info.get("Debug"):
        text = read_engine_log(engine_host, harness.engine_log)
        if text is None:
            pytest.fail(f"the engine's log {harness.engine_log} cannot be read on its host")
        return text
    instance = launch(EngineConfig(engine_facts.kind, debug=True, name=f"{engine_facts.kind} at debug level"))
    return instance.log.read_text(errors="replace")


def test_daemon_caps_go_threads_at_90_percent_of_threads_max(
    engine_log: str, engine_host: EngineHost, record_property: Any
) -> None:
    """The daemon MUST set Go's thread limit to 90% of kernel.threads-max and log it at debug level."""
    threads_max = int(engine_host.file("/proc/sys/kernel/threads-max").content_string)
    limits = [int(n) for n in LINE.findall(engine_log)]
    record_property("threads_limit", f"{limits[-1] if limits else 'not logged'} of threads-max {threads_max}")
    assert limits, "no \"Golang's threads limit set to N\" line in the engine's debug log"
    assert limits[-1] in (threads_max // 100 * 90, threads_max * 9 // 10), (limits[-1], threads_max)


def test_the_limit_is_below_the_kernels(engine_log: str, engine_host: EngineHost) -> None:
    """Whatever the engine logs as its limit MUST stay below kernel.threads-max (a limit above it would not
    protect the daemon)."""
    threads_max = int(engine_host.file("/proc/sys/kernel/threads-max").content_string)
    limits = [int(n) for n in LINE.findall(engine_log)]
    assert limits, "no \"Golang's threads limit set to N\" line in the engine's debug log"
    assert all(0 < n < threads_max for n in limits), (limits, threads_max)
