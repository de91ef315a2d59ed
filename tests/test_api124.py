"""The harness's own calls at API 1.24 (docker 1.12, Red Hat's RHEL 7.3 build): volume and network
label filters came with 1.25, as did forced volume removal, so below it the harness lists and checks
labels itself and removes volumes unforced. Answers shaped as the API 1.24 reference documents them
(``GET /volumes`` → ``{"Volumes": [{"Name", "Driver", "Mountpoint", "Labels"}], "Warnings"}``;
``GET /networks`` → a list of ``{"Name", "Id", "Driver", "Labels", ...}``); an engine at 1.24 answers a
label filter 500 "Invalid filter 'label'"."""

from __future__ import annotations

from typing import Any

import docker
import docker.errors
from docker.models.networks import Network
from docker.models.volumes import Volume

from fixtures.containers import LABEL_OWNER, LABEL_RUN, remove_volume
from fixtures.hostside import parse_holders
from fixtures.lifecycle import _objects, label_matches

RUN = "4f442c083b58"
VOLUMES_124 = {"Volumes": [
    {"Name": "ours", "Driver": "local", "Mountpoint": "/var/lib/docker/volumes/ours/_data",
     "Labels": {LABEL_RUN: RUN, LABEL_OWNER: "vm:1:1"}},
    {"Name": "another-run", "Driver": "local", "Mountpoint": "/x",
     "Labels": {LABEL_RUN: "other", LABEL_OWNER: "vm:2:2"}},
    {"Name": "the-users", "Driver": "local", "Mountpoint": "/y", "Labels": None},
], "Warnings": None}
VOLUME_LIST: list[dict[str, Any]] = VOLUMES_124["Volumes"]  # type: ignore[assignment]
NETWORKS_124 = [
    {"Name": "bridge", "Id": "b" * 64, "Scope": "local", "Driver": "bridge", "Labels": {}},
    {"Name": "conformance-net", "Id": "c" * 64, "Scope": "local", "Driver": "bridge", "Labels": {LABEL_RUN: RUN}},
]


class Api124:
    """The answers of an engine at API 1.24 to the calls the harness makes."""

    api_version = "1.24"

    def __init__(self) -> None:
        self.removed: list[tuple[str, bool]] = []

    def refuse_label(self, filters: dict[str, Any] | None) -> None:
        if filters and "label" in filters:
            raise docker.errors.APIError("500 Server Error: Invalid filter 'label'")


class Listing:
    """``client.volumes`` / ``client.networks``: the 1.24 answer as docker-py models, a label filter refused."""

    def __init__(self, client: Client, model: type[Any], answer: list[dict[str, Any]]) -> None:
        self.client, self.model, self.answer = client, model, answer

    def list(self, filters: dict[str, Any] | None = None) -> list[Any]:
        self.client.api.refuse_label(filters)
        return [self.model(attrs=a, client=self.client) for a in self.answer]


class Client:
    def __init__(self) -> None:
        self.api = Api124()
        self.volumes = Listing(self, Volume, VOLUME_LIST)
        self.networks = Listing(self, Network, NETWORKS_124)
        self.containers = self.Containers()

    class Containers:
        def list(self, **kwargs: Any) -> list[Any]:
            return []  # container label filters exist since API 1.18: the engine filters


def test_label_filters_match_as_the_engine_does() -> None:
    labels = {LABEL_RUN: RUN, LABEL_OWNER: "vm:1:1"}
    assert label_matches(labels, [LABEL_OWNER]) and label_matches(labels, [f"{LABEL_RUN}={RUN}"])
    assert not label_matches(labels, [f"{LABEL_RUN}=other"]) and not label_matches(None, [LABEL_OWNER])
    assert not label_matches(labels, [LABEL_OWNER, "io.conformance.missing"])


def test_objects_below_api_125_are_selected_by_label_here() -> None:
    found = _objects(Client(), {"label": f"{LABEL_RUN}={RUN}"})  # type: ignore[arg-type]
    assert [v.name for v in found["volumes"]] == ["ours"]
    assert [n.name for n in found["networks"]] == ["conformance-net"]
    owned = _objects(Client(), {"label": LABEL_OWNER})  # type: ignore[arg-type]
    assert [v.name for v in owned["volumes"]] == ["ours", "another-run"]


def test_volume_removal_below_api_125_is_not_forced() -> None:
    removed: list[dict[str, Any]] = []

    class VolumeApi:
        def __init__(self, version: str) -> None:
            self.api_version = version

        def remove_volume(self, name: str, force: bool = False) -> None:
            if force and self.api_version == "1.24":
                raise docker.errors.InvalidVersion("force removal was introduced in API 1.25")
            removed.append({"name": name, "force": force})

    for version in ("1.24", "1.41"):
        client = type("C", (), {"api": VolumeApi(version)})()
        remove_volume(Volume(attrs={"Name": f"v-{version}"}, client=client))
    assert removed == [{"name": "v-1.24", "force": False}, {"name": "v-1.41", "force": True}]


def test_every_holder_of_the_socket_is_found() -> None:
    ss = ('u_str LISTEN 0 4096 /run/docker.sock 31337 * 0 users:(("systemd",pid=1,fd=51),("dockerd",pid=812,fd=3))\n'
          'u_str LISTEN 0 4096 /run/other.sock 31338 * 0 users:(("podman",pid=900,fd=3))\n')
    assert parse_holders(ss, "/run/docker.sock") == [("systemd", "1"), ("dockerd", "812")]
    assert parse_holders(ss, "/run/none.sock") == []
