#!/usr/bin/env bash
# The suite's own image, as a rootfs tar on $1: Debian 12 from Debian's packages (mmdebstrap, as the
# distro recipes), with the engine-conformance wheel and its dependencies' wheels from the directory
# $2 installed in /opt/engine-conformance (no index is asked: the wheels were downloaded on the build
# machine, through its own pip configuration), and the Debian tools the suite runs inside it:
# - mmdebstrap and busybox-static for the suite's own base images (images/recipes/debian.sh, busybox.sh),
#   gcc and libc6-dev for the static probes (images/probes);
# - the engine clients for core-tty: docker (docker.io) and podman (`podman --remote`);
# - docker-registry, openssl and curl for the registries the suite serves in its own network;
# - util-linux's nsenter, iproute2 and procps for host-side checks in PID 1's namespaces;
# - perl's prove for TAP, openssh-client for ssh:// engines, tini as PID 1.
# The daemons those packages bring (dockerd, containerd, runc, ...), docs and man pages are left out
# (dpkg path-exclude): the image is a client of the engine under test, it runs none.
set -euo pipefail
out=${1:?usage: suite.sh OUT.tar WHEELHOUSE}
wheels=$(cd "${2:?usage: suite.sh OUT.tar WHEELHOUSE}" && pwd)
command -v mmdebstrap >/dev/null || { echo "mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
packages=python3,python3-venv,ca-certificates,mmdebstrap,busybox-static,gcc,libc6-dev,docker.io,podman,tini
packages+=,docker-registry,openssl,curl,iproute2,procps,mount,perl,openssh-client,debian-archive-keyring
excluded=('/usr/sbin/dockerd' '/usr/bin/containerd*' '/usr/bin/ctr' '/usr/sbin/runc' '/usr/bin/dnet' '/usr/sbin/ovrouter'
          '/usr/bin/docker-proxy' '/usr/bin/*-lto-dump-*' '/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*')
mmdebstrap --quiet --variant=apt --aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Retries "3"' --include="$packages" \
    "${excluded[@]/#/--dpkgopt=path-exclude=}" \
    --customize-hook='mkdir -p "$1"/tmp/wheels' \
    --customize-hook="sync-in $wheels /tmp/wheels" \
    --customize-hook='chroot "$1" env -i PATH=/usr/bin:/bin python3 -m venv /opt/engine-conformance' \
    --customize-hook='chroot "$1" env -i PATH=/usr/bin:/bin /opt/engine-conformance/bin/pip install --quiet \
        --no-index --disable-pip-version-check --no-cache-dir --find-links=/tmp/wheels engine-conformance' \
    --customize-hook='ln -s /opt/engine-conformance/bin/engine-conformance "$1"/usr/local/bin/engine-conformance' \
    --customize-hook='mkdir -p "$1"/out' \
    --customize-hook='rm -rf "$1"/tmp/wheels "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/root/.cache' \
    bookworm "$out"
