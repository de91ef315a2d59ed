#!/usr/bin/env bash
# Debian base image from Debian's own packages: a minbase rootfs of the suite named in $2
# (bullseye, bookworm, trixie), as a tar on $1. Minbase is what the official debian:<suite>
# image holds (Essential + Priority required).
set -euo pipefail
out=$1
suite=${2:?usage: debian.sh OUT.tar SUITE}
command -v mmdebstrap >/dev/null || { echo "mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
mmdebstrap --quiet --variant=minbase --aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Retries "3"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    "$suite" "$out"
