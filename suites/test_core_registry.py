"""Feature ``core-registry``: push and pull through the Engine API against real registries
(Debian's docker-registry, the distribution registry 2.8) the suite starts on this machine's
loopback (fixtures/registry.py).

An image pushed and pulled back MUST be the same image: the digest pulled is the digest the push
reported, the image id (its config) and layers are unchanged. A registry behind basic auth MUST
be refused without credentials and with wrong ones, and accept the right ones — which never
appear in the suite's records. A missing tag or repository MUST be a clear error naming it. TLS
MUST be verified against the CA the engine is given; plain HTTP MUST be refused unless the
registry is configured insecure, and used where it is. An engine that takes every loopback registry as
insecure (Docker: 127.0.0.0/8 in RegistryConfig.InsecureRegistryCIDRs) has its TLS and plain-HTTP checks
made against registries at an address that is not loopback, in a network namespace of the suite's own
joined to the engine's by a veth pair (fixtures/registry.py: issue 29). Source: the Engine API
(/images/{name}/push, /images/create, X-Registry-Auth) and the distribution spec; moby's integration-cli
registry tests. Once per engine, with the busybox tool image.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import uuid
from typing import Any

import docker.errors
import pytest

from fixtures.containers import ContainerFactory
from fixtures.engine import EngineFacts
from fixtures.harness import feature
from fixtures.registry import DistributionRegistry, Registries, RegistryError

pytestmark = feature("core-registry")


def stream_error(items: Any) -> tuple[str, list[dict[str, Any]]]:
    """The error a push/pull progress stream ended with (or ""), and its items."""
    seen = list(items)
    errors = [str(i.get("error") or (i.get("errorDetail") or {}).get("message")) for i in seen
              if i.get("error") or i.get("errorDetail")]
    return (errors[-1] if errors else ""), seen


def push(containers: ContainerFactory, image: str, registry: DistributionRegistry, repo: str,
         auth: dict[str, str] | None = None) -> tuple[str, str, str]:
    """Tags ``image`` as registry/repo:<random> and pushes it: (reference, the digest the push's aux message
    reported, error)."""
    ref, items, error = push_stream(containers, image, registry, repo, auth)
    digests = [i["aux"]["Digest"] for i in items if isinstance(i.get("aux"), dict) and i["aux"].get("Digest")]
    return ref, (digests[-1] if digests else ""), error


def push_stream(containers: ContainerFactory, image: str, registry: DistributionRegistry, repo: str,
                auth: dict[str, str] | None = None) -> tuple[str, list[dict[str, Any]], str]:
    """Tags ``image`` as registry/repo:<random> and pushes it: (reference, the progress stream's items, error)."""
    tag = uuid.uuid4().hex[:10]
    ref = containers.tag(image, f"{registry.host}/{repo}", tag)
    try:
        error, items = stream_error(containers.client.api.push(f"{registry.host}/{repo}", tag=tag, stream=True,
                                                                decode=True, auth_config=auth))
    except docker.errors.APIError as err:
        return ref, [], str(err)
    return ref, items, error


def pull(containers: ContainerFactory, ref: str, auth: dict[str, str] | None = None) -> str:
    """Pulls ``ref`` (removed again after the test); the error, or ""."""
    repo, _, tag = ref.rpartition("@") if "@" in ref else ref.rpartition(":")
    try:
        error, _ = stream_error(containers.client.api.pull(repo, tag=tag, stream=True, decode=True,
                                                           auth_config=auth))
    except docker.errors.APIError as err:
        return str(err)
    if not error:
        containers.tags.append(ref)
    return error


def auth_of(registry: DistributionRegistry, password: str | None = None) -> dict[str, str]:
    return {"username": registry.user, "password": registry.password if password is None else password,
            "serveraddress": registry.host}


def insecure_range(facts: EngineFacts, host: str) -> str:
    """The range of ``RegistryConfig.InsecureRegistryCIDRs`` that holds ``host``'s address, where the engine takes
    every registry as insecure (Docker: 127.0.0.0/8 by default, moby registry/config.go), else ""."""
    cidrs = ((facts.raw_info.get("RegistryConfig") or {}).get("InsecureRegistryCIDRs")) or []
    address = ipaddress.ip_address(host.rsplit(":", 1)[0])
    return next((str(c) for c in cidrs if address in ipaddress.ip_network(str(c), strict=False)), "")


def verifying(registries: Registries, name: str, facts: EngineFacts) -> DistributionRegistry:
    """The registry ``name`` where the engine verifies its transport: on loopback, or where the engine takes
    loopback registries as insecure (Docker), at an address that is not loopback (fixtures/registry.py's route:
    issue 29). Not applicable where that address too is in an insecure range, naming it."""
    registry = registries.get(name)
    assert isinstance(registry, DistributionRegistry)
    if not insecure_range(facts, registry.host):
        return registry
    try:
        registry = registries.routed(name)
    except RegistryError as err:
        pytest.skip(f"not applicable: the engine treats {insecure_range(facts, registry.host)} as insecure and no "
                    f"address that is not loopback could be made: {err}")
    if insecure_range(facts, registry.host):
        pytest.skip(f"not applicable: the engine treats {insecure_range(facts, registry.host)} as insecure "
                    f"(RegistryConfig.InsecureRegistryCIDRs), which holds loopback and {registry.host}")
    return registry


def test_push_reports_the_digest_the_registry_holds(containers: ContainerFactory, tool_image: str,
                                                    registries: Registries) -> None:
    """Push MUST report the digest the registry holds for the tag: in its result message (``aux.Digest``) or
    its last status (``TAG: digest: sha256:... size: N``, what the docker CLI prints; Moby's containerd image
    store writes only this, daemon/containerd/image_push.go)."""
    registry = registries.get("tls")
    assert isinstance(registry, DistributionRegistry)
    ref, items, error = push_stream(containers, tool_image, registry, "conformance/digest")
    assert error == "", error
    tag = ref.rsplit(":", 1)[1]
    reported = {i["aux"]["Digest"] for i in items if isinstance(i.get("aux"), dict) and i["aux"].get("Digest")}
    reported |= {m.group(1) for i in items
                 if (m := re.fullmatch(rf"{re.escape(tag)}: digest: (sha256:[0-9a-f]{{64}}) size: \d+",
                                       str(i.get("status", ""))))}
    assert registry.digest("conformance/digest", tag) in reported, f"push reported {sorted(reported) or 'no digest'}"


def test_push_ends_with_the_result_message(containers: ContainerFactory, tool_image: str,
                                           registries: Registries) -> None:
    """Push MUST end its progress stream with the result message ``aux`` {Tag, Digest, Size} (Moby's
    distribution push, types.PushResult), the digest being the registry's for the tag."""
    registry = registries.get("tls")
    assert isinstance(registry, DistributionRegistry)
    ref, digest, error = push(containers, tool_image, registry, "conformance/digest")
    assert error == "", error
    assert digest == registry.digest("conformance/digest", ref.rsplit(":", 1)[1]), \
        f"push's aux message reported {digest or 'no digest'}"


def test_pushed_image_pulls_back_by_tag_and_digest_unchanged(containers: ContainerFactory, tool_image: str,
                                                             registries: Registries) -> None:
    """An image pushed and pulled back by tag and by digest (the registry's) MUST be the same image
    (id = config digest, same layers), and the pull by digest MUST record that digest."""
    registry = registries.get("tls")
    assert isinstance(registry, DistributionRegistry)
    original = containers.client.images.get(tool_image)
    ref, _, error = push(containers, tool_image, registry, "conformance/roundtrip")
    assert error == "", f"push: {error}"
    digest = registry.digest("conformance/roundtrip", ref.rsplit(":", 1)[1])
    containers.client.images.remove(ref, noprune=True)
    containers.tags.remove(ref)
    assert pull(containers, ref) == ""
    by_digest = f"{registry.host}/conformance/roundtrip@{digest}"
    assert pull(containers, by_digest) == ""
    for name in (ref, by_digest):
        pulled = containers.client.images.get(name)
        assert pulled.id == original.id, f"{name}: image id {pulled.id} != pushed {original.id}"
        assert pulled.attrs["RootFS"]["Layers"] == original.attrs["RootFS"]["Layers"]
    assert by_digest in containers.client.images.get(by_digest).attrs.get("RepoDigests", [])
    assert any(r.startswith("PUT /v2/conformance/roundtrip/manifests/") for r in registry.requests())


@pytest.mark.parametrize("missing", ["tag", "repository"])
def test_pull_of_a_missing_tag_or_repository_is_a_clear_error(containers: ContainerFactory, tool_image: str,
                                                              registries: Registries, missing: str) -> None:
    """Pulling a tag or repository the registry does not have MUST fail with an error naming it
    (manifest unknown / not found), not succeed or hang."""
    registry = registries.get("tls")
    assert isinstance(registry, DistributionRegistry)
    _, _, error = push(containers, tool_image, registry, "conformance/present")
    assert error == "", error
    wanted = (f"{registry.host}/conformance/present:conformance-no-such-tag" if missing == "tag"
              else f"{registry.host}/conformance/no-such-repository:latest")
    error = pull(containers, wanted)
    assert error, f"pulling {wanted} succeeded"
    name = wanted.rsplit(":", 1)[1] if missing == "tag" else "no-such-repository"
    assert name in error or "not found" in error.lower() or "unknown" in error.lower(), error


def test_auth_registry_refuses_without_and_with_wrong_credentials(containers: ContainerFactory, tool_image: str,
                                                                  registries: Registries) -> None:
    """A registry behind basic auth MUST refuse a push without credentials and with a wrong password
    (unauthorized), accept the right ones, and a pull back with them MUST work."""
    registry = registries.get("auth")
    assert isinstance(registry, DistributionRegistry)
    _, _, anonymous = push(containers, tool_image, registry, "conformance/private")
    _, _, wrong = push(containers, tool_image, registry, "conformance/private", auth_of(registry, "wrong-password"))
    ref, _, right = push(containers, tool_image, registry, "conformance/private", auth_of(registry))
    assert anonymous and ("auth" in anonymous.lower() or "denied" in anonymous.lower()), anonymous
    # the registry's UNAUTHORIZED error says "authentication required" (distribution's errcode), which Podman 5.8
    # passes on as it is for a wrong password (observed); Docker and Podman 4.3 say "unauthorized" or "denied"
    assert wrong and any(word in wrong.lower() for word in ("unauthorized", "denied", "authentication required")), wrong
    assert right == "", right
    assert registry.digest("conformance/private", ref.rsplit(":", 1)[1]).startswith("sha256:")
    containers.client.images.remove(ref, noprune=True)
    containers.tags.remove(ref)
    assert pull(containers, ref, auth_of(registry)) == ""


def test_credentials_never_reach_the_suites_records(containers: ContainerFactory, tool_image: str,
                                                    registries: Registries, request: pytest.FixtureRequest) -> None:
    """The password given for a push MUST NOT appear in what the suite records of the test (the API
    exchange evidence, its properties and output): a login's body is redacted."""
    from fixtures import evidence

    registry = registries.get("auth")
    assert isinstance(registry, DistributionRegistry)
    body = json.dumps(auth_of(registry)).encode()
    assert registry.password not in evidence._text(body)
    login = containers.client.login(registry.user, registry.password, registry=registry.host, reauth=True)
    assert "Succeeded" in str(login.get("Status", "")), login
    header = base64.urlsafe_b64encode(json.dumps(auth_of(registry)).encode()).decode()
    recorded = " ".join(str(v) for _, v in request.node.user_properties)
    assert registry.password not in recorded and header not in recorded


def test_tls_is_verified_against_the_ca_the_engine_is_given(containers: ContainerFactory, tool_image: str,
                                                           registries: Registries, engine_facts: EngineFacts) -> None:
    """A push to a TLS registry whose CA the engine was given (certs.d) MUST work; to one whose CA it
    was not given MUST be refused for the certificate (x509). Where the engine takes loopback registries as
    insecure (Docker's 127.0.0.0/8), both are served at an address that is not loopback."""
    trusted = verifying(registries, "tls", engine_facts)
    untrusted = verifying(registries, "tls-untrusted", engine_facts)
    _, _, ok = push(containers, tool_image, trusted, "conformance/tls")
    assert ok == "", ok
    _, _, refused = push(containers, tool_image, untrusted, "conformance/tls")
    assert "x509" in refused or "certificate" in refused.lower(), refused or "push to an untrusted CA succeeded"
    assert not any("PUT" in r for r in untrusted.requests()), untrusted.requests()


def test_plain_http_registry_is_refused_unless_configured_insecure(containers: ContainerFactory, tool_image: str,
                                                                   registries: Registries,
                                                                   engine_facts: EngineFacts) -> None:
    """A push to a plain-HTTP registry MUST be refused (HTTPS expected) unless it is configured
    insecure. Where the engine takes loopback registries as insecure (Docker's 127.0.0.0/8), the plain
    registry is served at an address that is not loopback, which nothing configures insecure."""
    plain = verifying(registries, "plain", engine_facts)
    _, _, refused = push(containers, tool_image, plain, "conformance/plain")
    assert "http" in refused.lower(), refused or "a push over plain HTTP succeeded"
    assert not any("PUT" in r for r in plain.requests()), plain.requests()


def test_plain_http_registry_in_an_insecure_range_is_used(containers: ContainerFactory, tool_image: str,
                                                          registries: Registries, engine_facts: EngineFacts) -> None:
    """A registry in a range the engine reports insecure (``RegistryConfig.InsecureRegistryCIDRs``: Docker's
    127.0.0.0/8, moby registry/config.go) MUST be pushed to over plain HTTP. Not applicable where no
    insecure range holds loopback (Podman lists insecure registries by name in registries.conf)."""
    plain = registries.get("plain")
    assert isinstance(plain, DistributionRegistry)
    if not insecure_range(engine_facts, plain.host):
        pytest.skip("not applicable: the engine reports no insecure range holding loopback "
                    "(RegistryConfig.InsecureRegistryCIDRs)")
    _, _, ok = push(containers, tool_image, plain, "conformance/plain")
    assert ok == "", f"{insecure_range(engine_facts, plain.host)} is insecure, yet the plain push failed: {ok}"
    assert any("PUT" in r for r in plain.requests()), plain.requests()


def test_failing_registry_fails_the_pull_with_its_error(containers: ContainerFactory, registries: Registries) -> None:
    """A registry answering 500 MUST make the pull fail (not hang, not succeed) with an error."""
    failing = registries.get("failing")
    error = pull(containers, f"{failing.host}/conformance/anything:latest")
    assert error, "a pull from a registry answering 500 succeeded"
    assert failing.requests(), "the engine never asked the failing registry"
