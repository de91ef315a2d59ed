"""An instance starts as the dockerd under test runs (fixtures/dockerd_args.py): pure logic on command lines
as ci/engines and Red Hat's unit start them."""

from __future__ import annotations

import json

from fixtures.engines.dockerd_args import inherit, merged_json, options

RHDOCKER = ("-H unix:///run/conformance/rhdocker.sock --graph /var/lib/conformance/rhdocker --exec-root /run/x "
            "--pidfile /run/p --config-file /run/conformance/rhdocker/daemon.json --storage-driver overlay2 "
            "--bridge=rhbr0 --iptables=false --ip-masq=false --debug --add-runtime docker-runc=/usr/libexec/docker/"
            "docker-runc-current --default-runtime=docker-runc --userland-proxy-path=/usr/libexec/docker/docker-proxy-"
            "current --oom-score-adjust 0").split()


def test_the_engines_own_options_are_kept_and_its_roots_sockets_and_bridge_are_not() -> None:
    got = inherit(RHDOCKER)
    assert got.options == ("--storage-driver", "overlay2", "--iptables=false", "--ip-masq=false", "--add-runtime",
                           "docker-runc=/usr/libexec/docker/docker-runc-current", "--default-runtime=docker-runc",
                           "--userland-proxy-path=/usr/libexec/docker/docker-proxy-current",
                           "--oom-score-adjust", "0")
    assert got.config_file == "/run/conformance/rhdocker/daemon.json"


def test_what_the_configuration_sets_is_not_inherited() -> None:
    assert "overlay2" not in inherit(RHDOCKER, {"storage-driver"}).options
    assert inherit(["-s", "vfs", "-D", "--log-driver=journald"], {"log-driver"}).options == ("--storage-driver", "vfs")


def test_boolean_flags_take_no_value() -> None:
    assert options(["--debug", "--live-restore", "--selinux-enabled", "-H", "unix:///s"]) == [
        ["--debug"], ["--live-restore"], ["--selinux-enabled"], ["--host", "unix:///s"]]


def test_the_engines_daemon_json_is_the_base_without_keys_given_as_flags_or_owned() -> None:
    base = json.dumps({"storage-driver": "overlay2", "features": {"containerd-snapshotter": True},
                       "bridge": "d28br0", "data-root": "/x", "insecure-registries": ["a"]})
    got = json.loads(merged_json(base, '{"log-driver": "journald"}', ["--storage-driver=btrfs",
                                                                       "--insecure-registry=b"]))
    assert got == {"features": {"containerd-snapshotter": True}, "log-driver": "journald"}


def test_an_unreadable_daemon_json_is_no_base() -> None:
    assert json.loads(merged_json("not json", "", [])) == {}
