/*
 * test_berth.c: the C ABI of libberth against the real driver.
 *
 * Environment:
 *   BERTH_TEST_ROOTFS          absolute path of a busybox rootfs (scripts/build-rootfs.sh)
 *   BERTH_HELPER               absolute path of the berth-init helper
 *   BERTH_TEST_REQUIRE_DRIVER  if set to 1, a driver that cannot be made is a failure rather
 *                              than a reason to skip the tests that need it
 *   BERTH_TEST_ONLY            run only the driver tests whose name contains this text
 *   BERTH_TEST_VALGRIND        set to 1 under valgrind: a SYSTEM error with ENOSYS (a syscall
 *                              valgrind does not know, such as pidfd_open in 3.19) is counted
 *                              as unsupported by the environment, not as a failure
 *
 * The tests that need no driver (versions, NULL handling, driver options) always run. The
 * others run when the driver can be made. An operation the driver reports as
 * BERTH_ERROR_UNSUPPORTED is counted as unsupported (a skip), never as a pass.
 *
 * Output: one line per check ("ok N - ...", "not ok N - ...", "ok N - ... # SKIP ..."), then
 * "N passed, N failed, N skipped". Exits non-zero only on real failures.
 */
#define _POSIX_C_SOURCE 200809L

#include "berth.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- reporting ---- */

static int n_checks, n_passed, n_failed, n_unsupported, n_skipped;

static void pass(const char *name) {
    n_passed++;
    printf("ok %d - %s\n", ++n_checks, name);
}

static void fail(const char *name, const char *fmt, ...) {
    va_list ap;
    n_failed++;
    printf("not ok %d - %s: ", ++n_checks, name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void unsupported(const char *name, const char *message) {
    n_unsupported++;
    printf("ok %d - %s # SKIP unsupported: %s\n", ++n_checks, name, message);
}

static void skip(const char *name, const char *why) {
    n_skipped++;
    printf("ok %d - %s # SKIP %s\n", ++n_checks, name, why);
}

static void check(const char *name, int ok, const char *fmt, ...) {
    va_list ap;
    if (ok) {
        pass(name);
        return;
    }
    n_failed++;
    printf("not ok %d - %s: ", ++n_checks, name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static const char *kind_name(berth_error_kind kind) {
    switch (kind) {
    case BERTH_ERROR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case BERTH_ERROR_NOT_FOUND: return "NOT_FOUND";
    case BERTH_ERROR_ALREADY_EXISTS: return "ALREADY_EXISTS";
    case BERTH_ERROR_INVALID_STATE: return "INVALID_STATE";
    case BERTH_ERROR_UNSUPPORTED: return "UNSUPPORTED";
    case BERTH_ERROR_PERMISSION: return "PERMISSION";
    case BERTH_ERROR_SYSTEM: return "SYSTEM";
    case BERTH_ERROR_INTERNAL: return "INTERNAL";
    }
    return "UNKNOWN";
}

/* Checks that `err` is an error of kind `want` whose message contains `needle` (if not NULL),
 * and frees it. UNSUPPORTED, when not wanted, is counted as unsupported: the operation is
 * missing, so its error path cannot be checked. */
static void expect_err(const char *name, berth_error *err, berth_error_kind want,
                       const char *needle) {
    if (err == NULL) {
        fail(name, "succeeded, expected %s", kind_name(want));
        return;
    }
    berth_error_kind kind = berth_error_kind_of(err);
    const char *message = berth_error_message(err);
    if (kind == BERTH_ERROR_UNSUPPORTED && want != BERTH_ERROR_UNSUPPORTED) {
        /* The operation itself is missing: its error path cannot be checked yet. */
        unsupported(name, message);
    } else if (kind != want) {
        fail(name, "got %s (%s), expected %s", kind_name(kind), message, kind_name(want));
    } else if (needle != NULL && strstr(message, needle) == NULL) {
        fail(name, "message \"%s\" does not contain \"%s\"", message, needle);
    } else {
        pass(name);
    }
    berth_error_free(err);
}

enum outcome { OK, UNSUPPORTED, FAILED };

/* Expects success. An UNSUPPORTED error is reported as unsupported; anything else fails.
 * Frees `err`. Reports a pass only when `report_pass`. */
static enum outcome expect_ok_quiet(const char *name, berth_error *err, int report_pass) {
    if (err == NULL) {
        if (report_pass) pass(name);
        return OK;
    }
    berth_error_kind kind = berth_error_kind_of(err);
    const char *message = berth_error_message(err);
    const char *valgrind = getenv("BERTH_TEST_VALGRIND");
    enum outcome outcome = FAILED;
    if (kind == BERTH_ERROR_UNSUPPORTED) {
        unsupported(name, message);
        outcome = UNSUPPORTED;
    } else if (kind == BERTH_ERROR_SYSTEM && strstr(message, "ENOSYS") != NULL &&
               valgrind != NULL && strcmp(valgrind, "1") == 0) {
        char why[1024];
        snprintf(why, sizeof why, "by valgrind: %s", message);
        unsupported(name, why);
        outcome = UNSUPPORTED;
    } else {
        fail(name, "%s: %s", kind_name(kind), message);
    }
    berth_error_free(err);
    return outcome;
}

static enum outcome expect_ok(const char *name, berth_error *err) {
    return expect_ok_quiet(name, err, 1);
}

/* ---- hooks that record what they see ---- */

#define RECORDER_MAGIC 0x62657274u /* "bert" */

typedef struct recorder {
    uint32_t magic;
    struct recorder *self; /* user_data must come back as exactly this pointer */
    const char *expected_id;
    atomic_int starts, ooms, exits, consoles;
    atomic_int bad_user_data, bad_id;
    atomic_int last_pid, exit_signal, console_fd;
    atomic_llong exit_code;
} recorder;

static void recorder_init(recorder *rec, const char *expected_id) {
    memset(rec, 0, sizeof *rec);
    rec->magic = RECORDER_MAGIC;
    rec->self = rec;
    rec->expected_id = expected_id;
    atomic_store(&rec->console_fd, -1);
}

static recorder *seen(void *user_data, const char *container_id) {
    recorder *rec = user_data;
    if (rec == NULL || rec->magic != RECORDER_MAGIC || rec->self != rec) {
        /* Nowhere safe to record it: shout. */
        fprintf(stderr, "hook got a user_data that is not the one given: %p\n", user_data);
        abort();
    }
    if (container_id == NULL || strcmp(container_id, rec->expected_id) != 0) {
        atomic_fetch_add(&rec->bad_id, 1);
    }
    return rec;
}

static void on_start(void *user_data, const char *container_id, int32_t pid) {
    recorder *rec = seen(user_data, container_id);
    atomic_store(&rec->last_pid, pid);
    atomic_fetch_add(&rec->starts, 1);
}

static void on_oom(void *user_data, const char *container_id) {
    recorder *rec = seen(user_data, container_id);
    atomic_fetch_add(&rec->ooms, 1);
}

static void on_exit_hook(void *user_data, const char *container_id,
                         const berth_exit_status *status) {
    recorder *rec = seen(user_data, container_id);
    atomic_store(&rec->exit_code, status->exit_code);
    atomic_store(&rec->exit_signal, status->signal);
    atomic_fetch_add(&rec->exits, 1);
}

static void on_console(void *user_data, const char *container_id, berth_handle master) {
    recorder *rec = seen(user_data, container_id);
    int previous = atomic_exchange(&rec->console_fd, (int)master);
    if (previous >= 0) close(previous);
    atomic_fetch_add(&rec->consoles, 1);
}

static berth_hooks hooks_for(recorder *rec) {
    berth_hooks hooks = BERTH_HOOKS_INIT;
    hooks.user_data = rec;
    hooks.on_start = on_start;
    hooks.on_oom = on_oom;
    hooks.on_exit = on_exit_hook;
    hooks.on_console = on_console;
    return hooks;
}

static const berth_stdio NULL_STDIO = BERTH_STDIO_INIT;
static const berth_hooks NO_HOOKS = BERTH_HOOKS_INIT;

/* ABI 2: exit codes as wide as Windows' (a u32 as unsigned), handles as wide as a pointer. */
_Static_assert(sizeof(((berth_exit_status *)0)->exit_code) == 8, "exit_code is 64-bit");
_Static_assert(sizeof(berth_handle) == sizeof(void *), "berth_handle is pointer-sized");

/* ---- JSON and ids ---- */

static const char *rootfs;
static char id_prefix[64];

/* Writes `text` as a JSON string (with quotes) into `out`. */
static void json_string(char *out, size_t size, const char *text) {
    size_t n = 0;
    if (size < 3) return;
    out[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)text; *p && n + 8 < size; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            n += (size_t)snprintf(out + n, size - n, "\\u%04x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
}

static const char *make_id(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s-%s", id_prefix, name);
    return buf;
}

/* A command for container `id` running `/bin/sh -c script`, with `extra` JSON members
 * (starting with a comma) appended to the top-level object and `process_extra` to the
 * process. */
static char *command_json(const char *id, const char *script, const char *extra,
                          const char *process_extra) {
    static char buf[8192];
    char root[4096], sh[2048];
    json_string(root, sizeof root, rootfs);
    json_string(sh, sizeof sh, script);
    snprintf(buf, sizeof buf,
             "{\"id\": \"%s\", \"rootfs\": %s, \"cgroup_parent\": \"berth-ctest\","
             " \"process\": {\"args\": [\"/bin/sh\", \"-c\", %s]%s}%s}",
             id, root, sh, process_extra ? process_extra : "", extra ? extra : "");
    return buf;
}

static int contains(const char *haystack, const char *needle) {
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* Waits up to `ms` milliseconds for `*counter` to become non-zero. */
static int wait_for(atomic_int *counter, int ms) {
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (int waited = 0; waited < ms; waited += 10) {
        if (atomic_load(counter) != 0) return 1;
        nanosleep(&tick, NULL);
    }
    return atomic_load(counter) != 0;
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The state JSON of `id`, or NULL (reported) on error. Caller frees with berth_string_free. */
static char *state_of(berth_driver *d, const char *id, const char *name) {
    char *json = NULL;
    if (expect_ok_quiet(name, berth_state(d, id, &json), 0) != OK) return NULL;
    return json;
}

static void check_status(berth_driver *d, const char *id, const char *status,
                         const char *name) {
    char want[64];
    snprintf(want, sizeof want, "\"status\":\"%s\"", status);
    char *json = state_of(d, id, name);
    if (json == NULL) return;
    check(name, contains(json, want), "state %s lacks %s", json, want);
    berth_string_free(json);
}

/* Creates and starts `/bin/sh -c script` as `id`; returns 1 on success (reporting nothing),
 * else reports and returns 0. */
static int start_container(berth_driver *d, const char *id, const char *script,
                           const berth_hooks *hooks, const char *name) {
    int32_t pid = 0;
    if (expect_ok_quiet(name, berth_create(d, command_json(id, script, NULL, NULL), &NULL_STDIO,
                                           hooks ? hooks : &NO_HOOKS, &pid),
                        0) != OK)
        return 0;
    if (expect_ok_quiet(name, berth_start(d, id), 0) != OK) {
        berth_error_free(berth_delete(d, id, true));
        return 0;
    }
    return 1;
}

/* ---- tests that need no driver ---- */

static void test_versions(void) {
    const char *version = berth_version();
    check("berth_version is MAJOR.MINOR.PATCH",
          version != NULL && strchr(version, '.') != NULL && strchr(version, '.') != strrchr(version, '.'),
          "got \"%s\"", version ? version : "(null)");
    check("berth_abi_version is BERTH_ABI_VERSION (2)",
          berth_abi_version() == BERTH_ABI_VERSION && BERTH_ABI_VERSION == 2, "got %u",
          berth_abi_version());
}

static void test_null_is_harmless(void) {
    check("berth_error_kind_of(NULL) is INTERNAL",
          berth_error_kind_of(NULL) == BERTH_ERROR_INTERNAL, "got %d",
          (int)berth_error_kind_of(NULL));
    const char *message = berth_error_message(NULL);
    check("berth_error_message(NULL) is a static string", message != NULL && message[0] != '\0',
          "got NULL or empty");
    check("berth_error_errno(NULL) is 0", berth_error_errno(NULL) == 0, "got %d",
          berth_error_errno(NULL));
    berth_error_free(NULL);
    berth_string_free(NULL);
    berth_driver_free(NULL);
    pass("berth_error_free, berth_string_free, berth_driver_free accept NULL");
}

static void test_driver_options(void) {
    berth_driver *const sentinel = (berth_driver *)(uintptr_t)0x1234;
    berth_driver *out = sentinel;

    expect_err("driver_new: NULL out", berth_driver_new(NULL, NULL),
               BERTH_ERROR_INVALID_ARGUMENT, "out is NULL");
    expect_err("driver_new: invalid JSON", berth_driver_new("{", &out),
               BERTH_ERROR_INVALID_ARGUMENT, "options");
    expect_err("driver_new: not an object", berth_driver_new("[1]", &out),
               BERTH_ERROR_INVALID_ARGUMENT, "options");
    expect_err("driver_new: unknown key named", berth_driver_new("{\"bogus_key\": 1}", &out),
               BERTH_ERROR_INVALID_ARGUMENT, "bogus_key");
    expect_err("driver_new: kind lxc takes the native options",
               berth_driver_new("{\"kind\": \"lxc\", \"bogus_key\": 1}", &out),
               BERTH_ERROR_INVALID_ARGUMENT, "bogus_key");
    expect_err("driver_new: kind windows is unsupported",
               berth_driver_new("{\"kind\": \"windows\"}", &out), BERTH_ERROR_UNSUPPORTED,
               "windows");
    expect_err("driver_new: unknown kind", berth_driver_new("{\"kind\": \"qemu\"}", &out),
               BERTH_ERROR_INVALID_ARGUMENT, "qemu");
    expect_err("driver_new: invalid UTF-8", berth_driver_new("{\"root\": \"\xff\"}", &out),
               BERTH_ERROR_INVALID_ARGUMENT, "options_json is not valid UTF-8");
    check("driver_new: out untouched on error", out == sentinel, "out was overwritten");
}

static void test_null_driver(void) {
    berth_exit_status status = {-42, -42, true};
    int32_t pid = -42;
    char *json = (char *)"untouched";
    char *const json_before = json;
    const char *cmd = "{\"id\": \"x\", \"rootfs\": \"/r\", \"process\": {\"args\": [\"/bin/true\"]}}";

    expect_err("run: NULL driver", berth_run(NULL, cmd, &NULL_STDIO, &NO_HOOKS, &status),
               BERTH_ERROR_INVALID_ARGUMENT, "driver is NULL");
    expect_err("exec: NULL driver",
               berth_exec(NULL, "x", "{\"args\": [\"/bin/true\"]}", &NULL_STDIO, &NO_HOOKS, &status),
               BERTH_ERROR_INVALID_ARGUMENT, "driver is NULL");
    expect_err("kill: NULL driver", berth_kill(NULL, "x", SIGKILL, false),
               BERTH_ERROR_INVALID_ARGUMENT, "driver is NULL");
    expect_err("create: NULL driver", berth_create(NULL, cmd, &NULL_STDIO, &NO_HOOKS, &pid),
               BERTH_ERROR_INVALID_ARGUMENT, "driver is NULL");
    expect_err("start: NULL driver", berth_start(NULL, "x"), BERTH_ERROR_INVALID_ARGUMENT,
               "driver is NULL");
    expect_err("wait: NULL driver", berth_wait(NULL, "x", &status), BERTH_ERROR_INVALID_ARGUMENT,
               "driver is NULL");
    expect_err("delete: NULL driver", berth_delete(NULL, "x", true), BERTH_ERROR_INVALID_ARGUMENT,
               "driver is NULL");
    expect_err("pause: NULL driver", berth_pause(NULL, "x"), BERTH_ERROR_INVALID_ARGUMENT,
               "driver is NULL");
    expect_err("resume: NULL driver", berth_resume(NULL, "x"), BERTH_ERROR_INVALID_ARGUMENT,
               "driver is NULL");
    expect_err("resize: NULL driver", berth_resize(NULL, "x", 24, 80),
               BERTH_ERROR_INVALID_ARGUMENT, "driver is NULL");
    expect_err("state: NULL driver", berth_state(NULL, "x", &json), BERTH_ERROR_INVALID_ARGUMENT,
               "driver is NULL");
    expect_err("list: NULL driver", berth_list(NULL, &json), BERTH_ERROR_INVALID_ARGUMENT,
               "driver is NULL");
    expect_err("stats: NULL driver", berth_stats(NULL, "x", &json), BERTH_ERROR_INVALID_ARGUMENT,
               "driver is NULL");
    expect_err("exec_detached: NULL driver",
               berth_exec_detached(NULL, "x", "{\"args\": [\"/bin/true\"]}", NULL, NULL, &pid),
               BERTH_ERROR_INVALID_ARGUMENT, "driver is NULL");
    expect_err("wait_exec: NULL driver", berth_wait_exec(NULL, "x", 1, &status),
               BERTH_ERROR_INVALID_ARGUMENT, "driver is NULL");
    expect_err("update: NULL driver", berth_update(NULL, "x", "{}"),
               BERTH_ERROR_INVALID_ARGUMENT, "driver is NULL");
    check("out-params untouched on error",
          status.exit_code == -42 && status.signal == -42 && status.oom_killed && pid == -42 &&
              json == json_before,
          "an out-parameter was written");
}

/* ---- tests that need the driver ---- */

static void test_argument_errors(berth_driver *d) {
    char id[128];
    const char *cid = make_id(id, sizeof id, "args");
    /* command_json's buffer is reused by the next call: keep a copy. */
    char *cmd = strdup(command_json(cid, "exit 0", NULL, NULL));
    berth_exit_status status = {-42, -42, true};
    int32_t pid = -42;
    char *json = NULL;

    expect_err("run: NULL command_json", berth_run(d, NULL, &NULL_STDIO, &NO_HOOKS, &status),
               BERTH_ERROR_INVALID_ARGUMENT, "command_json is NULL");
    berth_stdio zeroed_stdio;
    memset(&zeroed_stdio, 0, sizeof zeroed_stdio);
    expect_err("run: a zeroed berth_stdio is refused, not fd 0 three times",
               berth_run(d, cmd, &zeroed_stdio, &NO_HOOKS, &status), BERTH_ERROR_INVALID_ARGUMENT,
               "stdio->size is 0: set it to sizeof(berth_stdio)");
    berth_hooks zeroed_hooks;
    memset(&zeroed_hooks, 0, sizeof zeroed_hooks);
    expect_err("create: a berth_hooks without its size is refused",
               berth_create(d, cmd, NULL, &zeroed_hooks, &pid), BERTH_ERROR_INVALID_ARGUMENT,
               "hooks->size is 0");
    expect_err("exec_detached: NULL pid_out",
               berth_exec_detached(d, cid, "{\"args\": [\"/bin/true\"]}", NULL, NULL, NULL),
               BERTH_ERROR_INVALID_ARGUMENT, "pid_out is NULL");
    expect_err("wait_exec: NULL status_out", berth_wait_exec(d, cid, 1, NULL),
               BERTH_ERROR_INVALID_ARGUMENT, "status_out is NULL");
    expect_err("update: NULL resources_json", berth_update(d, cid, NULL),
               BERTH_ERROR_INVALID_ARGUMENT, "resources_json is NULL");
    expect_err("update: invalid value named by its path",
               berth_update(d, cid, "{\"pids_limit\": 0}"), BERTH_ERROR_INVALID_ARGUMENT,
               "resources.pids_limit");
    expect_err("update: unknown id", berth_update(d, cid, "{\"pids_limit\": 10}"),
               BERTH_ERROR_NOT_FOUND, cid);
    expect_err("wait_exec: unknown id", berth_wait_exec(d, cid, 1, &status),
               BERTH_ERROR_NOT_FOUND, cid);
    expect_err("run: NULL status_out", berth_run(d, cmd, &NULL_STDIO, &NO_HOOKS, NULL),
               BERTH_ERROR_INVALID_ARGUMENT, "status_out is NULL");
    expect_err("create: NULL pid_out", berth_create(d, cmd, &NULL_STDIO, &NO_HOOKS, NULL),
               BERTH_ERROR_INVALID_ARGUMENT, "pid_out is NULL");
    expect_err("exec: NULL container_id",
               berth_exec(d, NULL, "{\"args\": [\"/bin/true\"]}", &NULL_STDIO, &NO_HOOKS, &status),
               BERTH_ERROR_INVALID_ARGUMENT, "container_id is NULL");
    expect_err("exec: NULL process_json",
               berth_exec(d, cid, NULL, &NULL_STDIO, &NO_HOOKS, &status),
               BERTH_ERROR_INVALID_ARGUMENT, "process_json is NULL");
    expect_err("start: NULL container_id", berth_start(d, NULL), BERTH_ERROR_INVALID_ARGUMENT,
               "container_id is NULL");
    expect_err("wait: NULL status_out", berth_wait(d, cid, NULL), BERTH_ERROR_INVALID_ARGUMENT,
               "status_out is NULL");
    expect_err("state: NULL json_out", berth_state(d, cid, NULL), BERTH_ERROR_INVALID_ARGUMENT,
               "json_out is NULL");
    expect_err("list: NULL json_out", berth_list(d, NULL), BERTH_ERROR_INVALID_ARGUMENT,
               "json_out is NULL");
    expect_err("stats: NULL json_out", berth_stats(d, cid, NULL), BERTH_ERROR_INVALID_ARGUMENT,
               "json_out is NULL");

    expect_err("run: invalid JSON", berth_run(d, "{\"id\":", &NULL_STDIO, &NO_HOOKS, &status),
               BERTH_ERROR_INVALID_ARGUMENT, "invalid command");
    expect_err("run: unknown field named by its path",
               berth_run(d, command_json(cid, "exit 0", ", \"bogus_field\": 1", NULL), &NULL_STDIO,
                         &NO_HOOKS, &status),
               BERTH_ERROR_INVALID_ARGUMENT, "bogus_field");
    expect_err("run: unknown process field named",
               berth_run(d, command_json(cid, "exit 0", NULL, ", \"bogus_proc\": true"),
                         &NULL_STDIO, &NO_HOOKS, &status),
               BERTH_ERROR_INVALID_ARGUMENT, "bogus_proc");
    expect_err("create: invalid UTF-8", berth_create(d, "{\"id\": \"\xc3\x28\"}", &NULL_STDIO,
                                                     &NO_HOOKS, &pid),
               BERTH_ERROR_INVALID_ARGUMENT, "command_json is not valid UTF-8");
    expect_err("exec: invalid process JSON",
               berth_exec(d, cid, "{\"args\": []}", &NULL_STDIO, &NO_HOOKS, &status),
               BERTH_ERROR_INVALID_ARGUMENT, "process.args");
    berth_stdio bad = BERTH_STDIO_INIT;
    bad.stdout_handle = -7;
    expect_err("run: bad stdio descriptor", berth_run(d, cmd, &bad, &NO_HOOKS, &status),
               BERTH_ERROR_INVALID_ARGUMENT, "stdout_handle");

    expect_err("kill: signal 0", berth_kill(d, cid, 0, false), BERTH_ERROR_INVALID_ARGUMENT,
               "signal 0");
    expect_err("kill: signal 65", berth_kill(d, cid, 65, false), BERTH_ERROR_INVALID_ARGUMENT,
               "signal 65");
    expect_err("kill: signal -9", berth_kill(d, cid, -9, true), BERTH_ERROR_INVALID_ARGUMENT,
               "signal -9");

    expect_err("start: unknown id", berth_start(d, cid), BERTH_ERROR_NOT_FOUND, cid);
    expect_err("wait: unknown id", berth_wait(d, cid, &status), BERTH_ERROR_NOT_FOUND, cid);
    expect_err("kill: unknown id", berth_kill(d, cid, SIGKILL, false), BERTH_ERROR_NOT_FOUND, cid);
    expect_err("delete: unknown id", berth_delete(d, cid, true), BERTH_ERROR_NOT_FOUND, cid);
    expect_err("state: unknown id", berth_state(d, cid, &json), BERTH_ERROR_NOT_FOUND, cid);

    check("out-params untouched on error",
          status.exit_code == -42 && status.signal == -42 && status.oom_killed && pid == -42 &&
              json == NULL,
          "an out-parameter was written");
    free(cmd);
}

static void test_run(berth_driver *d) {
    char id[128];
    const char *cid = make_id(id, sizeof id, "run");
    recorder rec;
    recorder_init(&rec, cid);
    berth_hooks hooks = hooks_for(&rec);
    int fds[2];
    if (pipe(fds) != 0) {
        fail("run", "pipe: %s", strerror(errno));
        return;
    }
    berth_stdio stdio = BERTH_STDIO_INIT;
    stdio.stdout_handle = fds[1];
    stdio.stderr_handle = fds[1];
    berth_exit_status status = {-1, -1, true};
    berth_error *err = berth_run(
        d, command_json(cid, "echo hello from $(hostname); exit 7", NULL, NULL), &stdio, &hooks,
        &status);
    close(fds[1]);
    if (expect_ok_quiet("run", err, 0) != OK) {
        close(fds[0]);
        return;
    }
    check("run: exit code 7", status.exit_code == 7 && status.signal == 0 && !status.oom_killed,
          "got code %lld signal %d oom %d", (long long)status.exit_code, status.signal, status.oom_killed);
    check("run: on_start called once with a pid", atomic_load(&rec.starts) == 1 &&
                                                      atomic_load(&rec.last_pid) > 0,
          "starts %d pid %d", atomic_load(&rec.starts), atomic_load(&rec.last_pid));
    check("run: on_exit called with the status",
          wait_for(&rec.exits, 2000) && atomic_load(&rec.exit_code) == 7,
          "exits %d code %lld", atomic_load(&rec.exits), atomic_load(&rec.exit_code));
    check("run: hooks got the container id", atomic_load(&rec.bad_id) == 0, "%d wrong ids",
          atomic_load(&rec.bad_id));

    char out[512] = {0};
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    ssize_t n = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    char want[160];
    snprintf(want, sizeof want, "hello from %s", cid);
    check("run: stdout reaches the caller's descriptor", n > 0 && contains(out, want),
          "read %zd bytes: \"%s\"", n, out);

    char *json = NULL;
    expect_err("run: container deleted afterwards", berth_state(d, cid, &json),
               BERTH_ERROR_NOT_FOUND, NULL);
}

static void test_lifecycle(berth_driver *d) {
    char id[128];
    const char *cid = make_id(id, sizeof id, "life");
    recorder rec;
    recorder_init(&rec, cid);
    berth_hooks hooks = hooks_for(&rec);
    int32_t pid = 0;
    if (expect_ok("create", berth_create(d, command_json(cid, "exit 5", NULL, NULL), &NULL_STDIO,
                                         &hooks, &pid)) != OK)
        return;
    check("create: pid_out is the init's pid", pid > 0, "pid %d", pid);
    check_status(d, cid, "created", "state: created");

    char *json = NULL;
    if (expect_ok_quiet("list", berth_list(d, &json), 0) == OK) {
        char want[160];
        snprintf(want, sizeof want, "\"id\":\"%s\"", cid);
        check("list: JSON array with the container", json[0] == '[' && contains(json, want),
              "got %s", json);
        berth_string_free(json);
    }

    expect_err("create: same id again is ALREADY_EXISTS",
               berth_create(d, command_json(cid, "exit 5", NULL, NULL), &NULL_STDIO, &NO_HOOKS,
                            &pid),
               BERTH_ERROR_ALREADY_EXISTS, cid);
    expect_err("delete: a created container without force is INVALID_STATE",
               berth_delete(d, cid, false), BERTH_ERROR_INVALID_STATE, NULL);

    expect_ok("start", berth_start(d, cid));
    berth_exit_status status = {-1, -1, true};
    if (expect_ok("wait", berth_wait(d, cid, &status)) == OK) {
        check("wait: exit code 5", status.exit_code == 5 && status.signal == 0 && !status.oom_killed,
              "code %lld signal %d oom %d", (long long)status.exit_code, status.signal,
              status.oom_killed);
    }
    check("start hook ran", atomic_load(&rec.starts) == 1, "starts %d", atomic_load(&rec.starts));
    check_status(d, cid, "stopped", "state: stopped");
    expect_err("start: a stopped container is INVALID_STATE", berth_start(d, cid),
               BERTH_ERROR_INVALID_STATE, NULL);
    expect_ok("delete", berth_delete(d, cid, false));
    expect_err("state: deleted container is NOT_FOUND", berth_state(d, cid, &json),
               BERTH_ERROR_NOT_FOUND, cid);
}

static void test_kill(berth_driver *d) {
    char id[128];
    const char *cid = make_id(id, sizeof id, "kill");
    if (!start_container(d, cid, "exec sleep 60", NULL, "kill: start a sleeper")) return;
    expect_ok("kill SIGKILL", berth_kill(d, cid, SIGKILL, false));
    berth_exit_status status = {-1, -1, true};
    if (expect_ok("kill: wait", berth_wait(d, cid, &status)) == OK) {
        check("kill: ended by signal 9 (code 137)", status.signal == SIGKILL && status.exit_code == 137,
              "code %lld signal %d", (long long)status.exit_code, status.signal);
    }
    expect_ok("kill: delete", berth_delete(d, cid, false));

    cid = make_id(id, sizeof id, "killall");
    if (!start_container(d, cid, "sleep 60 & sleep 60 & wait", NULL, "kill all: start")) return;
    expect_ok("kill all=true", berth_kill(d, cid, SIGKILL, true));
    if (expect_ok("kill all: wait", berth_wait(d, cid, &status)) == OK) {
        check("kill all: ended by a signal", status.signal == SIGKILL, "code %lld signal %d",
              (long long)status.exit_code, status.signal);
    }
    expect_err("kill: a stopped container is INVALID_STATE", berth_kill(d, cid, SIGKILL, false),
               BERTH_ERROR_INVALID_STATE, NULL);
    expect_ok("kill all: delete", berth_delete(d, cid, false));
}

static void test_exec(berth_driver *d) {
    char id[128];
    const char *cid = make_id(id, sizeof id, "exec");
    if (!start_container(d, cid, "exec sleep 60", NULL, "exec: start a sleeper")) return;
    recorder rec;
    recorder_init(&rec, cid);
    berth_hooks hooks = hooks_for(&rec);
    berth_exit_status status = {-1, -1, true};
    if (expect_ok("exec", berth_exec(d, cid, "{\"args\": [\"/bin/sh\", \"-c\", \"exit 3\"]}",
                                     &NULL_STDIO, &hooks, &status)) == OK) {
        check("exec: exit code 3", status.exit_code == 3 && status.signal == 0, "code %lld signal %d",
              (long long)status.exit_code, status.signal);
        check("exec: on_start with a pid", atomic_load(&rec.starts) == 1 && atomic_load(&rec.last_pid) > 0,
              "starts %d", atomic_load(&rec.starts));
    }
    expect_err("exec: unknown id is NOT_FOUND",
               berth_exec(d, "no-such-container", "{\"args\": [\"/bin/true\"]}", &NULL_STDIO,
                          &NO_HOOKS, &status),
               BERTH_ERROR_NOT_FOUND, NULL);
    expect_ok("exec: delete force", berth_delete(d, cid, true));
}

static void test_pause_resume(berth_driver *d) {
    char id[128];
    const char *cid = make_id(id, sizeof id, "pause");
    if (!start_container(d, cid, "exec sleep 60", NULL, "pause: start a sleeper")) return;
    if (expect_ok("pause", berth_pause(d, cid)) == OK) {
        check_status(d, cid, "paused", "state: paused");
        if (expect_ok("resume", berth_resume(d, cid)) == OK)
            check_status(d, cid, "running", "state: running after resume");
    }
    expect_ok("pause: delete force", berth_delete(d, cid, true));
}

static void test_stats(berth_driver *d) {
    char id[128];
    const char *cid = make_id(id, sizeof id, "stats");
    if (!start_container(d, cid, "exec sleep 60", NULL, "stats: start a sleeper")) return;
    char *json = NULL;
    if (expect_ok("stats", berth_stats(d, cid, &json)) == OK) {
        check("stats: JSON with memory, cpu, pids and io",
              contains(json, "\"memory\"") && contains(json, "\"cpu\"") &&
                  contains(json, "\"pids\"") && contains(json, "\"io\""),
              "got %s", json);
        berth_string_free(json);
    }
    expect_ok("stats: delete force", berth_delete(d, cid, true));
}

static void test_resize(berth_driver *d) {
    char id[128];
    const char *cid = make_id(id, sizeof id, "tty");
    recorder rec;
    recorder_init(&rec, cid);
    berth_hooks hooks = hooks_for(&rec);
    int32_t pid = 0;
    const char *cmd = command_json(cid, "exec sleep 60", NULL,
                                   ", \"tty\": true, \"console_size\": {\"rows\": 25, \"cols\": 80}");
    if (expect_ok("tty: create", berth_create(d, cmd, &NULL_STDIO, &hooks, &pid)) != OK) return;
    if (expect_ok("tty: start", berth_start(d, cid)) == OK) {
        check("tty: on_console got the master", wait_for(&rec.consoles, 2000) &&
                                                    atomic_load(&rec.console_fd) >= 0,
              "consoles %d", atomic_load(&rec.consoles));
        expect_ok("resize", berth_resize(d, cid, 40, 132));
    }
    expect_ok("tty: delete force", berth_delete(d, cid, true));
    int fd = atomic_exchange(&rec.console_fd, -1);
    if (fd >= 0) close(fd);
}

static void test_oom(berth_driver *d) {
    char id[128];
    const char *cid = make_id(id, sizeof id, "oom");
    recorder rec;
    recorder_init(&rec, cid);
    berth_hooks hooks = hooks_for(&rec);
    berth_exit_status status = {-1, -1, false};
    /* dd allocates and fills a 256 MiB buffer in a 32 MiB cgroup without swap. */
    const char *cmd = command_json(
        cid, "dd if=/dev/zero of=/dev/null bs=256M count=1",
        ", \"resources\": {\"memory_limit\": 33554432, \"memory_swap\": 33554432}", NULL);
    if (expect_ok("oom: run", berth_run(d, cmd, &NULL_STDIO, &hooks, &status)) != OK) return;
    check("oom: oom_killed is set", status.oom_killed, "code %lld signal %d oom %d",
          (long long)status.exit_code, status.signal, status.oom_killed);
    check("oom: killed by SIGKILL (137)", status.exit_code == 137, "code %lld signal %d",
          (long long)status.exit_code, status.signal);
    check("oom: on_oom called", wait_for(&rec.ooms, 2000), "on_oom not called");
}

static void test_null_stdio_and_hooks(berth_driver *d) {
    char id[128];
    const char *cid = make_id(id, sizeof id, "nulls");
    berth_exit_status status = {-1, -1, true};
    /* NULL stdio: the program's streams are /dev/null (reading gives EOF at once). */
    if (expect_ok("run: NULL stdio and NULL hooks",
                  berth_run(d, command_json(cid, "read line; echo out; echo err >&2; exit 6",
                                            NULL, NULL),
                            NULL, NULL, &status)) != OK)
        return;
    check("run: NULL stdio and hooks: exit code 6", status.exit_code == 6 && status.signal == 0,
          "code %lld signal %d", (long long)status.exit_code, status.signal);
}

static void test_exec_detached(berth_driver *d) {
    char id[128];
    const char *cid = make_id(id, sizeof id, "detach");
    if (!start_container(d, cid, "exec sleep 60", NULL, "exec_detached: start a sleeper")) return;
    recorder rec;
    recorder_init(&rec, cid);
    berth_hooks hooks = hooks_for(&rec);
    int fds[2];
    if (pipe(fds) != 0) {
        fail("exec_detached", "pipe: %s", strerror(errno));
        berth_error_free(berth_delete(d, cid, true));
        return;
    }
    berth_stdio stdio = BERTH_STDIO_INIT;
    stdio.stdout_handle = fds[1];
    int32_t pid = -1;
    double t0 = now_seconds();
    berth_error *err = berth_exec_detached(
        d, cid, "{\"args\": [\"/bin/sh\", \"-c\", \"sleep 0.3; echo detached; exit 5\"]}", &stdio,
        &hooks, &pid);
    double took = now_seconds() - t0;
    close(fds[1]);
    if (expect_ok("exec_detached", err) == OK) {
        check("exec_detached: returns a pid before the process ends",
              pid > 0 && took < 0.3 && atomic_load(&rec.starts) == 1 &&
                  atomic_load(&rec.last_pid) == pid,
              "pid %d after %.2f s, starts %d", pid, took, atomic_load(&rec.starts));
        berth_exit_status status = {-1, -1, true};
        if (expect_ok("wait_exec", berth_wait_exec(d, cid, pid, &status)) == OK)
            check("wait_exec: exit code 5", status.exit_code == 5 && status.signal == 0,
                  "code %lld signal %d", (long long)status.exit_code, status.signal);
        check("exec_detached: on_exit once with the status",
              wait_for(&rec.exits, 2000) && atomic_load(&rec.exits) == 1 &&
                  atomic_load(&rec.exit_code) == 5,
              "exits %d code %lld", atomic_load(&rec.exits), atomic_load(&rec.exit_code));
        berth_exit_status again = {-1, -1, true};
        if (expect_ok("wait_exec again", berth_wait_exec(d, cid, pid, &again)) == OK)
            check("wait_exec again: the same status", again.exit_code == 5, "code %lld",
                  (long long)again.exit_code);
        char out[128] = {0};
        ssize_t n = read(fds[0], out, sizeof out - 1);
        check("exec_detached: stdout reaches the caller", n > 0 && contains(out, "detached"),
              "read %zd: \"%s\"", n, out);
        expect_err("wait_exec: a pid that is no detached exec",
                   berth_wait_exec(d, cid, pid + 100000, &status), BERTH_ERROR_NOT_FOUND, NULL);
    }
    close(fds[0]);
    expect_ok("exec_detached: delete force", berth_delete(d, cid, true));
}

static void test_update(berth_driver *d) {
    char id[128];
    const char *cid = make_id(id, sizeof id, "update");
    if (!start_container(d, cid, "exec sleep 60", NULL, "update: start a sleeper")) return;
    if (expect_ok("update: pids_limit 42", berth_update(d, cid, "{\"pids_limit\": 42}")) == OK) {
        char *json = NULL;
        if (expect_ok("update: stats", berth_stats(d, cid, &json)) == OK) {
            check("update: stats show the new pids limit", contains(json, "\"limit\":42"),
                  "got %s", json);
            berth_string_free(json);
        }
    }
    expect_ok("update: kill", berth_kill(d, cid, SIGKILL, false));
    berth_exit_status status;
    expect_ok_quiet("update: wait", berth_wait(d, cid, &status), 0);
    expect_err("update: a stopped container is INVALID_STATE",
               berth_update(d, cid, "{\"pids_limit\": 10}"), BERTH_ERROR_INVALID_STATE, "stopped");
    expect_ok("update: delete", berth_delete(d, cid, false));
}

static void test_free_with_running_containers(const char *options) {
    berth_driver *d = NULL;
    if (expect_ok_quiet("free: new driver", berth_driver_new(options, &d), 0) != OK) return;
    char id[128];
    const char *cid = make_id(id, sizeof id, "free");
    int started = start_container(d, cid, "exec sleep 600", NULL, "free: start a sleeper");
    double t0 = now_seconds();
    berth_driver_free(d);
    double took = now_seconds() - t0;
    if (!started) return;
    check("driver_free with a running container returns promptly", took < 10.0, "took %.1f s",
          took);

    /* A new driver on the same root must not see it. */
    if (expect_ok_quiet("free: second driver", berth_driver_new(options, &d), 0) != OK) return;
    char *json = NULL;
    expect_err("driver_free deleted the container", berth_state(d, cid, &json),
               BERTH_ERROR_NOT_FOUND, NULL);
    berth_driver_free(d);
}

/* An OS error keeps its errno: a state root under a regular file is ENOTDIR. */
static void test_errno(const char *helper_json) {
    char options[4096];
    snprintf(options, sizeof options,
             "{\"root\": \"/etc/hostname/berth\", \"helper_path\": %s,"
             " \"cgroup_parent\": \"berth-ctest\"}",
             helper_json);
    berth_driver *d = NULL;
    berth_error *err = berth_driver_new(options, &d);
    if (err == NULL) {
        fail("errno: driver_new under a file", "succeeded");
        berth_driver_free(d);
        return;
    }
    check("errno: SYSTEM error with ENOTDIR",
          berth_error_kind_of(err) == BERTH_ERROR_SYSTEM && berth_error_errno(err) == ENOTDIR,
          "%s: %s, errno %d", kind_name(berth_error_kind_of(err)), berth_error_message(err),
          berth_error_errno(err));
    berth_error_free(err);
}

/* The LXC driver through the same calls: a run's exit code and output (skipped without LXC). */
static void test_lxc(const char *helper_json) {
    if (access("/usr/bin/lxc-execute", X_OK) != 0) {
        skip("lxc: run", "LXC is not installed (/usr/bin/lxc-execute)");
        return;
    }
    char options[4096];
    snprintf(options, sizeof options,
             "{\"kind\": \"lxc\", \"root\": \"/run/berth-ctest-lxc\", \"helper_path\": %s,"
             " \"cgroup_parent\": \"berth-ctest-lxc\"}",
             helper_json);
    berth_driver *d = NULL;
    if (expect_ok_quiet("lxc: driver_new", berth_driver_new(options, &d), 1) != OK) return;
    char id[128];
    const char *cid = make_id(id, sizeof id, "lxc-run");
    int fds[2];
    if (pipe(fds) != 0) {
        fail("lxc: run", "pipe: %s", strerror(errno));
        berth_driver_free(d);
        return;
    }
    berth_stdio stdio = BERTH_STDIO_INIT;
    stdio.stdout_handle = fds[1];
    berth_exit_status status = {-1, -1, true};
    berth_error *err = berth_run(d, command_json(cid, "echo hello from $(hostname); exit 7", NULL, NULL),
                                 &stdio, NULL, &status);
    close(fds[1]);
    char out[256] = "";
    ssize_t n = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    if (n > 0) out[n] = '\0';
    if (expect_ok_quiet("lxc: run", err, 0) == OK) {
        char want[200];
        snprintf(want, sizeof want, "hello from %s", cid);
        check("lxc: run gives the exit code and the output",
              status.exit_code == 7 && status.signal == 0 && contains(out, want),
              "exit %lld signal %d, output %s", (long long)status.exit_code, status.signal, out);
        berth_error_free(berth_delete(d, cid, false));
    }
    berth_driver_free(d);
    rmdir("/run/berth-ctest-lxc");
}

/* With keep_containers, freeing the driver leaves its containers; a new driver on the same
 * root takes them back: a running one keeps running, a created one can still be started. */
static void test_keep_containers(const char *options) {
    char keep_options[4096];
    size_t len = strlen(options);
    if (len < 2 || len + 32 > sizeof keep_options) return;
    snprintf(keep_options, sizeof keep_options, "%.*s, \"keep_containers\": true}", (int)(len - 1),
             options);
    berth_driver *d = NULL;
    if (expect_ok_quiet("keep: new driver", berth_driver_new(keep_options, &d), 0) != OK) return;
    char running[128], created[128];
    make_id(running, sizeof running, "keep-running");
    make_id(created, sizeof created, "keep-created");
    int32_t pid = 0;
    int ok = start_container(d, running, "exec sleep 600", NULL, "keep: start a sleeper") &&
             expect_ok("keep: create one and leave it created",
                       berth_create(d, command_json(created, "exit 4", NULL, NULL), NULL, NULL,
                                    &pid)) == OK;
    berth_driver_free(d);
    if (!ok) return;

    if (expect_ok_quiet("keep: second driver", berth_driver_new(options, &d), 0) != OK) return;
    check_status(d, running, "running", "keep: the running container still runs");
    check_status(d, created, "created", "keep: the created container is still created");
    if (expect_ok("keep: start the created one after its driver was freed",
                  berth_start(d, created)) == OK) {
        berth_exit_status status = {-1, -1, true};
        if (expect_ok("keep: wait for it", berth_wait(d, created, &status)) == OK)
            check("keep: it ran its program (exit 4)", status.exit_code == 4,
                  "code %lld signal %d", (long long)status.exit_code, status.signal);
    }
    expect_ok("keep: kill the running one", berth_kill(d, running, SIGKILL, false));
    berth_exit_status status;
    expect_ok_quiet("keep: wait for the running one", berth_wait(d, running, &status), 0);
    expect_ok("keep: delete both", berth_delete(d, running, false));
    berth_error_free(berth_delete(d, created, true));
    berth_driver_free(d);
}

typedef struct {
    const char *name;
    void (*run)(berth_driver *);
} driver_test;

/* The watchdog: a driver test that hangs fails the run instead of hanging it. */
#define TEST_TIMEOUT_SECONDS 120
static const char *volatile current_test = "start-up";

static void write_str(const char *text) {
    ssize_t ignored = write(STDOUT_FILENO, text, strlen(text));
    (void)ignored;
}

static void on_timeout(int signal) {
    (void)signal;
    write_str("not ok - timed out: ");
    write_str(current_test);
    write_str("\nBail out! a berth call hung\n");
    _exit(1);
}

static const driver_test DRIVER_TESTS[] = {
    {"argument errors with a driver", test_argument_errors},
    {"run with hooks and stdio", test_run},
    {"NULL stdio and hooks", test_null_stdio_and_hooks},
    {"create/start/wait/delete, state and list", test_lifecycle},
    {"kill", test_kill},
    {"exec", test_exec},
    {"detached exec", test_exec_detached},
    {"update", test_update},
    {"pause/resume", test_pause_resume},
    {"stats", test_stats},
    {"tty and resize", test_resize},
    {"OOM", test_oom},
};

int main(void) {
    /* What was printed before a hang or crash must show. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction timeout;
    memset(&timeout, 0, sizeof timeout);
    timeout.sa_handler = on_timeout;
    sigaction(SIGALRM, &timeout, NULL);
    alarm(TEST_TIMEOUT_SECONDS);
    snprintf(id_prefix, sizeof id_prefix, "ctest-%ld", (long)getpid());

    test_versions();
    test_null_is_harmless();
    test_driver_options();
    test_null_driver();

    rootfs = getenv("BERTH_TEST_ROOTFS");
    const char *helper = getenv("BERTH_HELPER");
    const char *require = getenv("BERTH_TEST_REQUIRE_DRIVER");
    int required = require != NULL && strcmp(require, "1") == 0;
    size_t n_driver_tests = sizeof DRIVER_TESTS / sizeof DRIVER_TESTS[0];
    const char *why = NULL;
    char why_buf[1024];
    berth_driver *d = NULL;
    char options[4096] = "";

    if (rootfs == NULL || rootfs[0] != '/' || helper == NULL || helper[0] != '/') {
        why = "BERTH_TEST_ROOTFS and BERTH_HELPER must be absolute paths";
    } else if (access(rootfs, F_OK) != 0) {
        snprintf(why_buf, sizeof why_buf, "rootfs %s: %s", rootfs, strerror(errno));
        why = why_buf;
    } else {
        char helper_json[2048];
        json_string(helper_json, sizeof helper_json, helper);
        snprintf(options, sizeof options,
                 "{\"kind\": \"native\", \"root\": \"/run/berth-ctest\", \"helper_path\": %s,"
                 " \"cgroup_parent\": \"berth-ctest\"}",
                 helper_json);
        test_errno(helper_json);
        test_lxc(helper_json);
        berth_error *err = berth_driver_new(options, &d);
        if (err != NULL) {
            snprintf(why_buf, sizeof why_buf, "no driver: %s: %s",
                     kind_name(berth_error_kind_of(err)), berth_error_message(err));
            why = why_buf;
            if (berth_error_kind_of(err) != BERTH_ERROR_UNSUPPORTED) required = 1;
            berth_error_free(err);
        }
    }

    if (why != NULL) {
        if (required)
            fail("driver_new with the test options", "%s", why);
        for (size_t i = 0; i < n_driver_tests; i++) skip(DRIVER_TESTS[i].name, why);
    } else {
        pass("driver_new with the test options");
        const char *only = getenv("BERTH_TEST_ONLY");
        for (size_t i = 0; i < n_driver_tests; i++) {
            if (only != NULL && strstr(DRIVER_TESTS[i].name, only) == NULL) {
                skip(DRIVER_TESTS[i].name, "not selected by BERTH_TEST_ONLY");
                continue;
            }
            printf("# %s\n", DRIVER_TESTS[i].name);
            current_test = DRIVER_TESTS[i].name;
            alarm(TEST_TIMEOUT_SECONDS);
            DRIVER_TESTS[i].run(d);
        }
        berth_driver_free(d);
        if (only == NULL || strstr("driver_free", only) != NULL) {
            printf("# driver_free with running containers\n");
            current_test = "driver_free with running containers";
            alarm(TEST_TIMEOUT_SECONDS);
            test_free_with_running_containers(options);
        }
        if (only == NULL || strstr("keep_containers", only) != NULL) {
            printf("# keep_containers\n");
            current_test = "keep_containers";
            alarm(TEST_TIMEOUT_SECONDS);
            test_keep_containers(options);
        }
    }

    alarm(0);
    printf("# %d unsupported (by the driver or the environment), %d skipped for other reasons\n",
           n_unsupported, n_skipped);
    printf("%d passed, %d failed, %d skipped\n", n_passed, n_failed, n_unsupported + n_skipped);
    return n_failed == 0 ? 0 : 1;
}
