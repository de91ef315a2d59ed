#!/bin/sh
# PID 1 of the systemd engine host before systemd: the container runs in a cgroup namespace of its
# own (--cgroupns=private), where the engine mounted the cgroup hierarchies read-only. systemd and
# the engines it runs need them writable, so this mounts the same hierarchies again, writable, in
# the container's own mount namespace: their root is the container's cgroup, so nothing they create
# reaches the host's root cgroups and the host's own cgroup mounts are never touched.
set -eu
hierarchies=$(awk '{
    for (d = 7; $d != "-"; d++) ;
    if ($(d + 1) != "cgroup" || $5 !~ "^/sys/fs/cgroup/") next;
    n = split($(d + 3), o, ","); opts = "";
    for (i = 1; i <= n; i++) if (o[i] != "rw" && o[i] != "ro") opts = opts (opts == "" ? "" : ",") o[i];
    sub("^/sys/fs/cgroup/", "", $5); print $5 "=" opts }' /proc/self/mountinfo)
umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup
mount -t tmpfs -o nosuid,nodev,noexec,mode=755 tmpfs /sys/fs/cgroup
for h in $hierarchies; do
    dir=/sys/fs/cgroup/${h%%=*}
    mkdir -p "$dir"
    mount -t cgroup -o "nosuid,nodev,noexec,${h#*=}" cgroup "$dir"
done
if grep -qw cgroup2 /proc/filesystems; then
    mkdir -p /sys/fs/cgroup/unified
    mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup/unified || rmdir /sys/fs/cgroup/unified
fi
# Docker 26+ disables IPv6 on a container's interface through /proc/sys/net (per network namespace), and every
# start fails where it is read-only, as the engine mounts /proc/sys in this container (shared/ENGINE-LAB.md):
# the host of today's engines gets its own network sysctls writable
if [ "${CONFORMANCE_WRITABLE_NET_SYSCTLS:-}" = 1 ]; then
    mount --bind /proc/sys/net /proc/sys/net
    mount -o remount,bind,rw /proc/sys/net
fi
exec /sbin/init "$@"
