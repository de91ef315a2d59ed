#!/usr/bin/env bash
# Today's engines as Debian ships them: a rootfs of Debian's unstable suite with docker.io (Docker 28,
# containerd 2, runc 1.3) and podman (Podman 5, crun, conmon, netavark, aardvark-dns, passt), as a
# directory tree in a tar on $1. ci/engines starts either from it on this host (docker-28, podman-5):
# in a mount namespace of its own whose root is this tree, with the host's /proc, /sys, /dev, cgroups,
# network and journal, so the engine sees the host's real devices, sysctls and cgroups.
# The mirror's copy of unstable has a Release file past its Valid-Until date (shared/ENGINE-LAB.md).
set -euo pipefail
out=$1
command -v mmdebstrap >/dev/null || { echo "mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
mmdebstrap --quiet --variant=minbase --aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Retries "3"' \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --include=docker.io,docker-cli,podman,crun,conmon,netavark,aardvark-dns,passt,catatonit,containers-storage,golang-github-containers-common,iptables,nftables,iproute2,procps,util-linux,systemd,auditd,ca-certificates,uidmap,fuse-overlayfs,kmod,iputils-ping,rootlesskit,slirp4netns \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    unstable "$out"
