/*
 * run_loop.c: the C side of bench/python/overhead.py. Times berth_run and berth_state through
 * the C ABI, with nothing around them, for comparison with the same calls from Python.
 *
 *   cc -std=c11 -Wall -Werror -O2 -Iinclude bench/python/run_loop.c -Lbuild/lib -lberth \
 *      -Wl,-rpath,$PWD/build/lib -o build/python/run_loop
 *   ./build/python/run_loop ROOTFS STATE_ROOT CGROUP_PARENT RUNS STATES ID_PREFIX
 *
 * One driver ({"root": STATE_ROOT, "cgroup_parent": CGROUP_PARENT}); RUNS calls of berth_run
 * of /bin/true (ids ID_PREFIX-run-<i>, NULL stdio and hooks); then one created, never started
 * container ID_PREFIX-state (/bin/sh -c "exec sleep 60"), STATES calls of berth_state on it
 * (each string freed), a forced delete and berth_driver_free. After the work it prints one line
 * per timed call, `run <ns>` or `state <ns>`, CLOCK_MONOTONIC read around the call alone.
 * libberth finds berth-init as it documents (set BERTH_HELPER to choose it). Any error is
 * printed with its message on stderr and the exit status is non-zero.
 */
#define _POSIX_C_SOURCE 200809L

#include <berth.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Prints and frees `err`; returns 1 if there was one. */
static int failed(const char *what, const char *id, berth_error *err) {
    if (err == NULL) return 0;
    fprintf(stderr, "run_loop: %s%s%s: %s (kind %d, errno %d)\n", what, id ? " " : "",
            id ? id : "", berth_error_message(err), (int)berth_error_kind_of(err),
            (int)berth_error_errno(err));
    berth_error_free(err);
    return 1;
}

/* `s` as the inside of a JSON string, in `out` (NUL-terminated); 0 if it does not fit. */
static int json_escape(const char *s, char *out, size_t cap) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char piece[8];
        if (*p == '"' || *p == '\\')
            snprintf(piece, sizeof piece, "\\%c", *p);
        else if (*p < 0x20)
            snprintf(piece, sizeof piece, "\\u%04x", *p);
        else
            snprintf(piece, sizeof piece, "%c", *p);
        size_t len = strlen(piece);
        if (n + len + 1 > cap) return 0;
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = '\0';
    return 1;
}

/* A count from the command line, 0 to 10^7; -1 if it is not one. */
static long parse_count(const char *what, const char *s) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 10000000L) {
        fprintf(stderr, "run_loop: %s must be a count (0 to 10000000), not \"%s\"\n", what, s);
        return -1;
    }
    return v;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

enum { TEXT_MAX = 8192 };

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s ROOTFS STATE_ROOT CGROUP_PARENT RUNS STATES ID_PREFIX\n",
                argc > 0 ? argv[0] : "run_loop");
        return 2;
    }
    static char rootfs[TEXT_MAX], root[TEXT_MAX], parent[TEXT_MAX], prefix[TEXT_MAX];
    if (!json_escape(argv[1], rootfs, sizeof rootfs) ||
        !json_escape(argv[2], root, sizeof root) ||
        !json_escape(argv[3], parent, sizeof parent) ||
        !json_escape(argv[6], prefix, sizeof prefix)) {
        fprintf(stderr, "run_loop: an argument is too long\n");
        return 2;
    }
    long runs = parse_count("RUNS", argv[4]);
    long states = parse_count("STATES", argv[5]);
    if (runs < 0 || states < 0) return 2;

    int64_t *run_ns = calloc((size_t)runs + 1, sizeof *run_ns);
    int64_t *state_ns = calloc((size_t)states + 1, sizeof *state_ns);
    if (run_ns == NULL || state_ns == NULL) {
        fprintf(stderr, "run_loop: out of memory\n");
        return 1;
    }

    static char options[3 * TEXT_MAX], command[3 * TEXT_MAX], id[2 * TEXT_MAX];
    snprintf(options, sizeof options, "{\"root\":\"%s\",\"cgroup_parent\":\"%s\"}", root, parent);
    berth_driver *driver = NULL;
    if (failed("berth_driver_new", NULL, berth_driver_new(options, &driver))) return 1;

    int rc = 1;
    for (long i = 0; i < runs; i++) {
        snprintf(id, sizeof id, "%s-run-%ld", argv[6], i);
        snprintf(command, sizeof command,
                 "{\"id\":\"%s-run-%ld\",\"rootfs\":\"%s\",\"process\":{\"args\":[\"/bin/true\"]}}",
                 prefix, i, rootfs);
        berth_exit_status status;
        int64_t t0 = now_ns();
        berth_error *err = berth_run(driver, command, NULL, NULL, &status);
        int64_t t1 = now_ns();
        if (failed("berth_run", id, err)) goto out;
        if (status.exit_code != 0 || status.signal != 0) {
            fprintf(stderr, "run_loop: %s: /bin/true ended with code %" PRId64 ", signal %d\n", id,
                    status.exit_code, (int)status.signal);
            goto out;
        }
        run_ns[i] = t1 - t0;
    }

    snprintf(id, sizeof id, "%s-state", argv[6]);
    snprintf(command, sizeof command,
             "{\"id\":\"%s-state\",\"rootfs\":\"%s\",\"process\":{\"args\":"
             "[\"/bin/sh\",\"-c\",\"exec sleep 60\"]}}",
             prefix, rootfs);
    int32_t pid = 0;
    if (failed("berth_create", id, berth_create(driver, command, NULL, NULL, &pid))) goto out;
    int state_ok = 1;
    for (long i = 0; i < states; i++) {
        char *json = NULL;
        int64_t t0 = now_ns();
        berth_error *err = berth_state(driver, id, &json);
        int64_t t1 = now_ns();
        if (failed("berth_state", id, err)) {
            state_ok = 0;
            break;
        }
        berth_string_free(json);
        state_ns[i] = t1 - t0;
    }
    if (failed("berth_delete", id, berth_delete(driver, id, true)) || !state_ok) goto out;

    for (long i = 0; i < runs; i++) printf("run %" PRId64 "\n", run_ns[i]);
    for (long i = 0; i < states; i++) printf("state %" PRId64 "\n", state_ns[i]);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("run_loop: stdout");
        goto out;
    }
    rc = 0;
out:
    berth_driver_free(driver);
    free(run_ns);
    free(state_ns);
    return rc;
}
