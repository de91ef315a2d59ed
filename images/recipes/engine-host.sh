#!/usr/bin/env bash
# The systemd engine host: a Debian 12 rootfs that boots systemd as PID 1 with Docker and Podman
# installed, their services set to the systemd cgroup driver and listening on sockets under
# /srv/conformance (the directory the suite bind-mounts from the host), as a tar on $1.
set -euo pipefail
out=$1
command -v mmdebstrap >/dev/null || { echo "mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
mmdebstrap --quiet --variant=minbase --aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Retries "3"' \
    --include=systemd,systemd-sysv,dbus,procps,iproute2,iptables,ca-certificates,docker.io,podman,uidmap,slirp4netns,fuse-overlayfs,auditd,btrfs-progs,kmod \
    --customize-hook='mkdir -p "$1"/etc/systemd/system/docker.service.d "$1"/etc/systemd/system/podman.socket.d "$1"/etc/systemd/system/podman.service.d "$1"/etc/containers "$1"/etc/docker' \
    --customize-hook='printf "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// -H unix:///srv/conformance/docker.sock --containerd=/run/containerd/containerd.sock --debug\n" >"$1"/etc/systemd/system/docker.service.d/conformance.conf' \
    --customize-hook='printf "{\"exec-opts\": [\"native.cgroupdriver=systemd\"], \"storage-driver\": \"overlay2\"}\n" >"$1"/etc/docker/daemon.json' \
    --customize-hook='printf "[Socket]\nListenStream=\nListenStream=/srv/conformance/podman.sock\n" >"$1"/etc/systemd/system/podman.socket.d/conformance.conf' \
    --customize-hook='printf "[Service]\nEnvironment=LOGGING=--log-level=info\n" >"$1"/etc/systemd/system/podman.service.d/conformance.conf' \
    --customize-hook='printf "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=20000:20000\"]\n[engine]\ncgroup_manager = \"systemd\"\nevents_logger = \"journald\"\n" >"$1"/etc/containers/containers.conf' \
    --customize-hook='chroot "$1" systemctl enable docker.service podman.socket >/dev/null 2>&1 || true' \
    --customize-hook='chroot "$1" systemctl mask systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket getty@tty1.service systemd-logind.service >/dev/null 2>&1 || true' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm "$out"
