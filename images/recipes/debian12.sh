#!/usr/bin/env bash
# Debian 12 base image from Debian's own packages: a minbase bookworm rootfs, as a tar on $1.
# Minbase is what the official debian:bookworm image holds (Essential + Priority required).
set -euo pipefail
out=$1
command -v mmdebstrap >/dev/null || { echo "mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
mmdebstrap --quiet --variant=minbase --aptopt='APT::Install-Recommends "false"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm "$out"
