"""Feature ``stop-signal``: an image's STOPSIGNAL is what stop sends (docker PR 20290).

A container created without a stop signal MUST inherit the image's ``STOPSIGNAL`` and receive
it on stop; an explicit ``StopSignal`` MUST win; with none anywhere the signal is SIGTERM; an
invalid signal MUST be refused at create with an error naming it (that the error is a 400 is
core's business: test_core_errors.py).
The process traps each signal and exits with a code of its own, so the test observes which
signal really arrived, not only what inspect says.
"""

from __future__ import annotations

import signal
from typing import Any

import docker.errors
import pytest

from fixtures.containers import ContainerFactory
from fixtures.harness import feature
from fixtures.images import ImageProvider

pytestmark = [feature("stop-signal"), pytest.mark.observes("ContainerConfig.StopSignal")]

TRAPPER = b"""#!/bin/sh
trap 'echo got-USR1; exit 41' USR1
trap 'echo got-USR2; exit 42' USR2
trap 'echo got-TERM; exit 43' TERM
trap 'echo got-HUP; exit 44' HUP
echo ready
while :; do sleep 1 & wait $!; done
"""
EXIT_FOR = {"USR1": 41, "USR2": 42, "TERM": 43, "HUP": 44}


def trapper_image(images: ImageProvider, base: str, stopsignal: str | None) -> str:
    line = f"STOPSIGNAL {stopsignal}\n" if stopsignal else ""
    dockerfile = f'FROM {{base}}\nCOPY trapper /trapper\n{line}CMD ["/trapper"]\n'
    return images.derived(f"stopsignal-{stopsignal or 'none'}", dockerfile, base, {"trapper": TRAPPER})


def signal_number(value: str | int | None) -> int | None:
    """Inspect shows "SIGUSR1", "USR1" or "10" depending on the engine: normalize to a number."""
    if value in (None, ""):
        return None
    text = str(value).upper()
    if text.isdigit():
        return int(text)
    return int(getattr(signal, text if text.startswith("SIG") else f"SIG{text}"))


def stop_and_observe(containers: ContainerFactory, image: str, **kwargs: Any) -> tuple[int, str, Any]:
    container = containers.start(image, **kwargs)
    assert containers.wait_for_log(container, "ready"), "trapper did not start"
    container.stop(timeout=20)
    result = containers.wait(container)
    container.reload()
    return result.exit_code, result.stdout, container.attrs["Config"].get("StopSignal")


@pytest.mark.parametrize("stopsignal", ["SIGUSR1", "SIGHUP"])
def test_image_stopsignal_is_delivered_on_stop(
    containers: ContainerFactory, images: ImageProvider, base_image: str, stopsignal: str
) -> None:
    """With no StopSignal on the container, stop MUST send the image's STOPSIGNAL."""
    name = stopsignal.removeprefix("SIG")
    code, out, shown = stop_and_observe(containers, trapper_image(images, base_image, stopsignal))
    assert f"got-{name}" in out, (f"no got-{name}: exit {code}, output {out!r} (137: stop's SIGKILL after its "
                                  "timeout, the signal never acted)")
    assert code == EXIT_FOR[name]
    assert signal_number(shown) == signal_number(stopsignal)


def test_numeric_image_stopsignal_is_delivered(
    containers: ContainerFactory, images: ImageProvider, base_image: str
) -> None:
    """STOPSIGNAL given as a number (12 = SIGUSR2) MUST be honoured like a name."""
    code, out, shown = stop_and_observe(containers, trapper_image(images, base_image, "12"))
    assert "got-USR2" in out and code == EXIT_FOR["USR2"]
    assert signal_number(shown) == signal.SIGUSR2


def test_image_stopsignal_is_in_image_config(images: ImageProvider, base_image: str) -> None:
    """The built image MUST carry STOPSIGNAL in its config (what containers inherit from)."""
    ref = trapper_image(images, base_image, "SIGUSR1")
    config = images.client.images.get(ref).attrs["Config"]
    assert signal_number(config.get("StopSignal")) == signal.SIGUSR1


def test_explicit_stop_signal_overrides_the_image(
    containers: ContainerFactory, images: ImageProvider, base_image: str
) -> None:
    """An explicit StopSignal on the container MUST win over the image's STOPSIGNAL."""
    code, out, shown = stop_and_observe(containers, trapper_image(images, base_image, "SIGUSR1"),
                                        stop_signal="SIGUSR2")
    assert "got-USR2" in out and "got-USR1" not in out
    assert code == EXIT_FOR["USR2"]
    assert signal_number(shown) == signal.SIGUSR2


def test_default_stop_signal_is_sigterm(containers: ContainerFactory, images: ImageProvider, base_image: str) -> None:
    """With no STOPSIGNAL in the image and none on the container, stop MUST send SIGTERM."""
    code, out, shown = stop_and_observe(containers, trapper_image(images, base_image, None))
    assert "got-TERM" in out
    assert code == EXIT_FOR["TERM"]
    assert signal_number(shown) in (None, int(signal.SIGTERM))


@pytest.mark.parametrize("bad", ["SIGNOPE", "NOTASIGNAL", "0"])
def test_invalid_stop_signal_is_refused_at_create(
    containers: ContainerFactory, base_image: str, bad: str
) -> None:
    """An invalid StopSignal MUST be refused at create, the error saying "invalid signal" and naming it;
    no container is made."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.create(base_image, ["true"], stop_signal=bad)
    message = str(err.value.explanation)
    assert "invalid signal" in message.lower() and bad in message, message
    assert containers.created == []
