/* sysprobe: makes raw syscalls and prints, one line each in the order asked, "<name> OK",
 * "<name> <ERRNO-NAME>" or "<name> SIG<n>" (killed, e.g. by a seccomp filter that kills).
 * Static, so it runs in any distro image (copied into a derived image by the harness).
 * Used by suites/test_seccomp_ns_syscalls.py to tell seccomp denials from capability denials.
 *
 *   sysprobe SYSCALL...   mount | umount2 | unshare-mnt | unshare-user | reboot-cad-off | name_to_handle_at
 *            | personality | keyctl | add_key   (the last two are denied by default seccomp profiles; no
 *            privilege needed otherwise)
 * Each syscall runs in a child process of its own (one's effect cannot change another's outcome),
 * except reboot-cad-off, which runs in the probe itself: only as PID 1 of its PID namespace.
 * Exit status: the highest of the syscalls' (0 all OK, 1 some refused, 2 usage, 3 reboot not as PID 1).
 * (personality(ADDR_NO_RANDOMIZE): the kernel allows it, default profiles block it; the control case)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/reboot.h>

static const char *errname(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EOVERFLOW: return "EOVERFLOW";
    case ENOENT: return "ENOENT";
    case EBUSY: return "EBUSY";
    case ENOSPC: return "ENOSPC";
    case EUSERS: return "EUSERS";
    default: return "EOTHER";
    }
}

static int report(const char *name, long rc) {
    if (rc == 0 || (rc > 0 && strcmp(name, "name_to_handle_at") != 0)) {
        printf("%s OK\n", name);
        return 0;
    }
    printf("%s %s\n", name, errname(errno));
    return 1;
}

static int probe(const char *what) {
    if (!strcmp(what, "mount"))
        return report(what, syscall(SYS_mount, "none", "/tmp/sysprobe-mnt", "tmpfs", 0UL, NULL));
    if (!strcmp(what, "umount2")) /* never a mount point: EINVAL when permitted, EPERM when not */
        return report(what, syscall(SYS_umount2, "/tmp/sysprobe-umnt", 0));
    if (!strcmp(what, "unshare-mnt"))
        return report(what, syscall(SYS_unshare, CLONE_NEWNS));
    if (!strcmp(what, "unshare-user"))
        return report(what, syscall(SYS_unshare, CLONE_NEWUSER));
    if (!strcmp(what, "reboot-cad-off")) {
        /* Never outside a PID namespace of its own: as PID 1 of the container only. */
        if (getpid() != 1) {
            printf("%s REFUSED-NOT-PID1\n", what);
            return 3;
        }
        return report(what, syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                                    LINUX_REBOOT_CMD_CAD_OFF, NULL));
    }
    if (!strcmp(what, "name_to_handle_at")) {
        struct { struct file_handle fh; unsigned char buf[128]; } h;
        int mount_id;
        h.fh.handle_bytes = 128;
        long rc = syscall(SYS_name_to_handle_at, AT_FDCWD, "/tmp", &h.fh, &mount_id, 0);
        return report(what, rc);
    }
    if (!strcmp(what, "personality")) /* returns the previous persona (>= 0) when allowed */
        return report(what, syscall(SYS_personality, 0x0040000UL) < 0 ? -1 : 0);
    if (!strcmp(what, "keyctl")) /* KEYCTL_GET_KEYRING_ID of the session keyring: no privilege needed */
        return report(what, syscall(SYS_keyctl, 0L, -3L, 0L) < 0 ? -1 : 0);
    if (!strcmp(what, "add_key"))
        return report(what, syscall(SYS_add_key, "user", "conformance", "x", 1L, -3L) < 0 ? -1 : 0);
    fprintf(stderr, "sysprobe: unknown syscall %s\n", what);
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: sysprobe SYSCALL...\n");
        return 2;
    }
    mkdir("/tmp/sysprobe-mnt", 0700);
    mkdir("/tmp/sysprobe-umnt", 0700);
    int worst = 0;
    for (int i = 1; i < argc; i++) {
        int rc, status;
        fflush(stdout);
        if (!strcmp(argv[i], "reboot-cad-off")) {
            rc = probe(argv[i]);
        } else {
            pid_t pid = fork();
            if (pid == 0) {
                rc = probe(argv[i]);
                fflush(stdout);
                _exit(rc);
            }
            if (pid < 0 || waitpid(pid, &status, 0) < 0) {
                printf("%s EFORK\n", argv[i]);
                rc = 1;
            } else if (WIFSIGNALED(status)) {
                printf("%s SIG%d\n", argv[i], WTERMSIG(status));
                rc = 1;
            } else {
                rc = WEXITSTATUS(status);
            }
        }
        if (rc > worst)
            worst = rc;
    }
    fflush(stdout);
    return worst;
}
