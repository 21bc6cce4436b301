/* Tries, inside a container, what Docker's default confinement forbids, and prints one line per attempt:
 * its name and "ok" or the errno's name. Every attempt is harmless if it succeeds: the clock is set to the
 * time it reads, sysctls get back the value they hold, the module offered is not an ELF file, the device
 * opened is never read, namespaces made are left at once. Built static by the test, run in hoist and in
 * the Docker Engine, and the two outputs compared. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *name_of(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case ENOEXEC: return "ENOEXEC";
    case EBUSY: return "EBUSY";
    case ENOTDIR: return "ENOTDIR";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    default: return "other";
    }
}

static void report(const char *what, int rc) {
    if (rc == 0) printf("%s: ok\n", what);
    else printf("%s: %s\n", what, name_of(errno));
}

/* Writes back the value a /proc/sys file holds. */
static int rewrite(const char *path) {
    char value[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, value, sizeof value);
    close(fd);
    if (n <= 0) { errno = EINVAL; return -1; }
    fd = open(path, O_WRONLY);
    if (fd < 0) return -1;
    ssize_t w = write(fd, value, (size_t)n);
    int saved = errno;
    close(fd);
    errno = saved;
    return w == n ? 0 : -1;
}

/* Reads one byte: "ok" only when something came back (a masked file reads empty). */
static int read_one(const char *path) {
    char byte;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, &byte, 1);
    int saved = errno;
    close(fd);
    if (n == 1) return 0;
    errno = n == 0 ? ENODEV : saved;
    return -1;
}

static void status_line(const char *key) {
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0) fputs(line, stdout);
    fclose(f);
}

int main(void) {
    struct timeval now;
    gettimeofday(&now, NULL);
    report("settimeofday", settimeofday(&now, NULL));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    report("clock_settime", clock_settime(CLOCK_REALTIME, &ts));

    static char not_elf[64];
    report("init_module", (int)syscall(SYS_init_module, not_elf, sizeof not_elf, ""));
    int null = open("/dev/null", O_RDONLY);
    report("finit_module", (int)syscall(SYS_finit_module, null, "", 0));
    close(null);
    report("delete_module", (int)syscall(SYS_delete_module, "hoist_probe_no_such_module", O_NONBLOCK));

    unlink("/tmp/probe-disk");
    int made = mknod("/tmp/probe-disk", S_IFBLK | 0600, makedev(8, 0));
    report("mknod_block", made);
    if (made == 0) {
        int fd = open("/tmp/probe-disk", O_RDONLY);
        report("open_block", fd < 0 ? -1 : 0);
        if (fd >= 0) close(fd);
        unlink("/tmp/probe-disk");
    }

    mkdir("/tmp/probe-mnt", 0755);
    int mounted = mount("none", "/tmp/probe-mnt", "tmpfs", 0, "");
    report("mount", mounted);
    if (mounted == 0) umount("/tmp/probe-mnt");

    report("write_proc_sys", rewrite("/proc/sys/kernel/domainname"));
    int sysrq = open("/proc/sysrq-trigger", O_WRONLY);
    report("open_sysrq_trigger", sysrq < 0 ? -1 : 0);
    if (sysrq >= 0) close(sysrq);
    report("read_kcore", read_one("/proc/kcore"));
    report("read_keys", read_one("/proc/keys"));
    report("read_timer_list", read_one("/proc/timer_list"));

    report("unshare_user", unshare(CLONE_NEWUSER));
    report("unshare_mount", unshare(CLONE_NEWNS));
    char host[64];
    gethostname(host, sizeof host);
    report("sethostname", sethostname(host, strlen(host)));
    report("swapon", swapon("/tmp/no-such-swap", 0));
#if defined(__x86_64__)
    report("iopl", iopl(3));
#endif
    report("add_key", (int)syscall(SYS_add_key, "user", "hoist-probe", "x", 1, -2 /* process keyring */));
    report("chroot", chroot("/"));

    status_line("CapEff");
    status_line("CapBnd");
    status_line("NoNewPrivs");
    status_line("Seccomp:");
    return 0;
}
