/*
 * run.c: the README's demo. Runs a busybox container that says hello and exits with 7, with
 * hooks that print its pid and any OOM kill, and shows how it ended.
 *
 *   cc -std=c11 run.c $(pkg-config --cflags --libs berth) -o run
 *   sudo ./run [ROOTFS]          (default: build/rootfs, made absolute)
 *
 * The berth-init helper is found as the driver documents (or set BERTH_HELPER).
 */
#define _XOPEN_SOURCE 700

#include <berth.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_start(void *user_data, const char *container_id, int32_t pid) {
    (void)user_data;
    printf("[hook] %s started: pid %d on the host\n", container_id, (int)pid);
    fflush(stdout);
}

static void on_oom(void *user_data, const char *container_id) {
    (void)user_data;
    printf("[hook] %s: the OOM killer struck\n", container_id);
    fflush(stdout);
}

/* Prints and frees `err`; returns 1 if there was one. */
static int failed(const char *what, berth_error *err) {
    if (err == NULL) return 0;
    fprintf(stderr, "%s: %s (kind %d)\n", what, berth_error_message(err),
            (int)berth_error_kind_of(err));
    berth_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    char rootfs[PATH_MAX];
    const char *given = argc > 1 ? argv[1] : "build/rootfs";
    if (realpath(given, rootfs) == NULL) {
        perror(given);
        return 2;
    }
    if (strchr(rootfs, '"') != NULL || strchr(rootfs, '\\') != NULL) {
        fprintf(stderr, "%s: please use a path without quotes or backslashes\n", rootfs);
        return 2;
    }

    printf("libberth %s (ABI %u)\n", berth_version(), berth_abi_version());

    berth_driver *driver = NULL;
    if (failed("berth_driver_new", berth_driver_new(NULL, &driver))) return 1;

    char command[PATH_MAX + 256];
    snprintf(command, sizeof command,
             "{\"id\": \"demo\", \"rootfs\": \"%s\", \"process\": {\"args\": "
             "[\"/bin/sh\", \"-c\", \"echo hello from $(hostname); exit 7\"]}}",
             rootfs);

    berth_stdio stdio = BERTH_STDIO_INIT; /* no stdin; our stdout and stderr */
    stdio.stdout_handle = 1;
    stdio.stderr_handle = 2;
    berth_hooks hooks = BERTH_HOOKS_INIT;
    hooks.on_start = on_start;
    hooks.on_oom = on_oom;
    berth_exit_status status;
    int rc = 1;
    fflush(stdout);
    if (!failed("berth_run", berth_run(driver, command, &stdio, &hooks, &status))) {
        if (status.signal != 0)
            printf("demo was killed by signal %d (exit code %lld)%s\n", status.signal,
                   (long long)status.exit_code, status.oom_killed ? ", OOM" : "");
        else
            printf("demo exited with code %lld%s\n", (long long)status.exit_code,
                   status.oom_killed ? " (OOM kill seen)" : "");
        rc = 0;
    }
    berth_driver_free(driver);
    return rc;
}
