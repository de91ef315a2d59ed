#!/usr/bin/env bash
# The systemd engine host: a Debian rootfs that boots systemd as PID 1 with Docker and Podman installed, their
# services set to the systemd cgroup driver and listening on sockets under /srv/conformance (the directory the
# suite bind-mounts from the host), as a tar on $1. $2 is the suite: bookworm (Docker 20.10, Podman 4.3; the
# default) or unstable (Docker 28, Podman 5: today's engines). Unstable's systemd refuses this host's cgroup v1
# hierarchy ("Detected unsupported legacy cgroup hierarchy, refusing execution"), so there systemd alone comes
# from trixie, pinned, and boots in legacy mode (shared/ENGINE-LAB.md); the mirror's unstable Release file is
# past its Valid-Until date.
set -euo pipefail
out=$1
suite=${2:-bookworm}
command -v mmdebstrap >/dev/null || { echo "mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
packages=systemd,systemd-sysv,dbus,procps,iproute2,iptables,ca-certificates,docker.io,podman,uidmap,slirp4netns,fuse-overlayfs,auditd,btrfs-progs,kmod
extra=()
if [ "$suite" = unstable ]; then
    packages+=,docker-cli,crun,netavark,aardvark-dns,passt,catatonit,nftables
    extra=(--aptopt='Acquire::Check-Valid-Until "false"'
           --setup-hook='mkdir -p "$1"/etc/apt/preferences.d && printf "Package: systemd systemd-sysv libsystemd-shared libsystemd0 libudev1 libpam-systemd libnss-systemd systemd-timesyncd\nPin: release n=trixie\nPin-Priority: 1001\n" >"$1"/etc/apt/preferences.d/systemd-trixie'
           unstable "$out" "deb http://deb.debian.org/debian unstable main" "deb http://deb.debian.org/debian trixie main")
else
    extra=(bookworm "$out")
fi
mmdebstrap --quiet --variant=minbase --aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Retries "3"' \
    --include="$packages" \
    --customize-hook='mkdir -p "$1"/etc/systemd/system/docker.service.d "$1"/etc/systemd/system/podman.socket.d "$1"/etc/systemd/system/podman.service.d "$1"/etc/containers "$1"/etc/docker' \
    --customize-hook='printf "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// -H unix:///srv/conformance/docker.sock --containerd=/run/containerd/containerd.sock --debug\n" >"$1"/etc/systemd/system/docker.service.d/conformance.conf' \
    --customize-hook='printf "{\"exec-opts\": [\"native.cgroupdriver=systemd\"], \"storage-driver\": \"overlay2\"}\n" >"$1"/etc/docker/daemon.json' \
    --customize-hook='printf "[Socket]\nListenStream=\nListenStream=/srv/conformance/podman.sock\n" >"$1"/etc/systemd/system/podman.socket.d/conformance.conf' \
    --customize-hook='printf "[Service]\nEnvironment=LOGGING=--log-level=info\n" >"$1"/etc/systemd/system/podman.service.d/conformance.conf' \
    --customize-hook='printf "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=20000:20000\"]\n[engine]\ncgroup_manager = \"systemd\"\nevents_logger = \"journald\"\n" >"$1"/etc/containers/containers.conf' \
    --customize-hook='chroot "$1" systemctl enable docker.service podman.socket >/dev/null 2>&1 || true' \
    --customize-hook='chroot "$1" systemctl mask systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket getty@tty1.service systemd-logind.service >/dev/null 2>&1 || true' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    "${extra[@]}"
