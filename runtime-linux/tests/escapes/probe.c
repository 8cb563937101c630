/*
 * probe.c: one system call per capability that Docker drops, each printed as
 * "CAP_NAME blocked" when it fails with EPERM (or EACCES) and "CAP_NAME ESCAPED ..."
 * otherwise. Run inside a container by tests/escapes.rs; built static there.
 * With "suid" as its argument it prints its effective uid instead (the setuid test).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/klog.h>
#include <unistd.h>

static int report(const char *cap, int rc) {
    if (rc == -1 && (errno == EPERM || errno == EACCES)) {
        printf("%s blocked\n", cap);
        return 0;
    }
    printf("%s ESCAPED (rc %d, errno %d: %s)\n", cap, rc, errno, strerror(errno));
    return 1;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "suid") == 0) {
        printf("%d\n", (int)geteuid());
        return 0;
    }
    int escaped = 0;
    struct timeval now;
    gettimeofday(&now, NULL);
    /* Each call is harmless if it were allowed: same time, a no-op module, and so on. */
    escaped += report("CAP_SYS_TIME", settimeofday(&now, NULL));
    escaped += report("CAP_SYS_ADMIN", mount("none", "/tmp", "tmpfs", 0, NULL));
    escaped += report("CAP_SYS_MODULE", (int)syscall(SYS_init_module, "", 0, ""));
    escaped += report("CAP_SYS_RAWIO", iopl(3));
    /* RB_ENABLE_CAD: only turns Ctrl-Alt-Del on, and a pid namespace refuses it (EINVAL). */
    escaped += report("CAP_SYS_BOOT", reboot(RB_ENABLE_CAD));
    escaped += report("CAP_SYS_PACCT", acct(NULL));
    escaped += report("CAP_SYS_NICE", setpriority(PRIO_PROCESS, 0, -10));
    /* Lower a hard limit, then raise it again: only the raise needs CAP_SYS_RESOURCE. */
    struct rlimit size = {1UL << 40, 1UL << 40};
    setrlimit(RLIMIT_FSIZE, &size);
    size.rlim_cur = size.rlim_max = 1UL << 41;
    escaped += report("CAP_SYS_RESOURCE", setrlimit(RLIMIT_FSIZE, &size));
    escaped += report("CAP_SYSLOG", klogctl(4 /* SYSLOG_ACTION_READ_CLEAR */, NULL, 0));
    escaped += report("CAP_WAKE_ALARM", timerfd_create(CLOCK_REALTIME_ALARM, 0));
    escaped += report("CAP_SYS_TTY_CONFIG", vhangup());
    /* lo's MTU set to what it is: a no-op that still needs CAP_NET_ADMIN. */
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq lo;
    memset(&lo, 0, sizeof lo);
    strcpy(lo.ifr_name, "lo");
    ioctl(sock, SIOCGIFMTU, &lo);
    escaped += report("CAP_NET_ADMIN", ioctl(sock, SIOCSIFMTU, &lo));
    /* On the container's own tmpfs: were it allowed, nothing of the host would change. */
    int fd = open("/dev/shm/probe", O_RDONLY | O_CREAT, 0600);
    int flags = FS_IMMUTABLE_FL;
    errno = 0;
    int rc = ioctl(fd, FS_IOC_SETFLAGS, &flags);
    /* tmpfs (and overlay) may not support the flag at all: that is not an escape either. */
    if (rc == -1 && (errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL))
        printf("CAP_LINUX_IMMUTABLE blocked\n");
    else
        escaped += report("CAP_LINUX_IMMUTABLE", rc);
    struct { unsigned int bytes; int type; unsigned char f[8]; } handle = {8, 1, {0}};
    escaped += report("CAP_DAC_READ_SEARCH",
                      (int)syscall(SYS_open_by_handle_at, fd, &handle, O_RDONLY));
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_MEMLOCK, &none); /* with no allowance, only CAP_IPC_LOCK may lock */
    escaped += report("CAP_IPC_LOCK", mlock(malloc(1 << 16), 1 << 16));
    union { unsigned int map_type; char pad[128]; } attr;
    memset(&attr, 0, sizeof attr);
    escaped += report("CAP_BPF", (int)syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, &attr, sizeof attr));
    return escaped ? 1 : 0;
}
