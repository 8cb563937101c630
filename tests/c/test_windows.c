/*
 * test_windows.c: the C ABI of berth.dll on Windows, with the Windows driver, through the
 * production loader (computecore.dll from System32 only).
 *
 * Built with mingw-w64 against include/berth.h and linked with berth.dll's import library;
 * run under wine by scripts/windows-tests.sh, with the fake computecore.dll and vmcompute.dll
 * of runtime-windows/tests/windows copied into the prefix's System32. A process's
 * CommandLine is the fake's script ("fake print hello; exit 3": see fake_computecore.c).
 *
 * Usage:
 *   test_windows.exe          the driver over computecore.dll in System32 (it must be there)
 *   test_windows.exe missing  computecore.dll is not in System32: making the driver must
 *                             give BERTH_ERROR_UNSUPPORTED naming computecore.dll
 *
 * Output: one line per check ("ok N - ..." or "not ok N - ..."), then "N passed, N failed".
 * Exits non-zero on any failure. A watchdog ends the process (exit 2) after 120 s, so that
 * a call that never returns fails the lane instead of hanging it.
 */
#include <windows.h>

#include "berth.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reporting ---- */

static int n_checks, n_passed, n_failed;

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
    return "unknown kind";
}

/* A call that must succeed: true if it did; otherwise a failure with the error, freed. */
static int ok(const char *name, berth_error *err) {
    if (!err) return 1;
    fail(name, "%s: %s", kind_name(berth_error_kind_of(err)), berth_error_message(err));
    berth_error_free(err);
    return 0;
}

/* A call that must fail with `kind` and a message containing `needle` (if not NULL). */
static void expect_error(const char *name, berth_error *err, berth_error_kind kind,
                         const char *needle) {
    if (!err) {
        fail(name, "succeeded; expected %s", kind_name(kind));
        return;
    }
    berth_error_kind got = berth_error_kind_of(err);
    const char *message = berth_error_message(err);
    if (got != kind) {
        fail(name, "%s (%s); expected %s", kind_name(got), message, kind_name(kind));
    } else if (needle && !strstr(message, needle)) {
        fail(name, "%s, but the message does not name %s: %s", kind_name(got), needle, message);
    } else {
        printf("#   %s: %s\n", kind_name(got), message);
        pass(name);
    }
    berth_error_free(err);
}

static void expect_status(const char *name, const berth_exit_status *status, int64_t code,
                          int32_t signal) {
    if (status->exit_code == code && status->signal == signal && !status->oom_killed) {
        pass(name);
    } else {
        fail(name, "exit code %" PRId64 ", signal %d, oom_killed %d; expected code %" PRId64
             ", signal %d", status->exit_code, status->signal, (int)status->oom_killed, code,
             signal);
    }
}

/* ---- helpers ---- */

/* The command JSON of a container `id` of the fake running `script` (words split on
 * spaces, as args, so they need no quoting). `extra` is more fields (",\"x\":...") or "". */
static char *command_json(const char *id, const char *script, const char *extra) {
    static char buf[2048];
    char args[1024] = "\"fake\"";
    char words[512];
    snprintf(words, sizeof words, "%s", script);
    for (char *word = strtok(words, " "); word; word = strtok(NULL, " ")) {
        size_t n = strlen(args);
        snprintf(args + n, sizeof args - n, ",\"%s\"", word);
    }
    snprintf(buf, sizeof buf,
             "{\"id\":\"%s\",\"rootfs\":\"C:\\\\fake\\\\volume\","
             "\"process\":{\"args\":[%s]},"
             "\"windows\":{\"layer_folders\":[\"C:\\\\layers\\\\base\","
             "\"C:\\\\layers\\\\%s-scratch\"]}%s}",
             id, args, id, extra);
    return buf;
}

/* Reads `pipe` to its end into `out` (NUL-terminated). */
static void read_all(HANDLE pipe, char *out, size_t size) {
    size_t len = 0;
    DWORD n;
    while (len + 1 < size && ReadFile(pipe, out + len, (DWORD)(size - 1 - len), &n, NULL) && n)
        len += n;
    out[len] = '\0';
}

/* The number after "\"pid\":" in a state JSON, or -1. */
static long json_pid(const char *json) {
    const char *p = strstr(json, "\"pid\":");
    return p ? strtol(p + 6, NULL, 10) : -1;
}

static DWORD WINAPI watchdog(LPVOID arg) {
    (void)arg;
    Sleep(120000);
    printf("not ok - watchdog: the tests took more than 120 s\n");
    fflush(stdout);
    ExitProcess(2);
    return 0;
}

/* ---- the tests ---- */

static void test_versions(void) {
    const char *version = berth_version();
    if (version && *version) {
        printf("#   berth %s, ABI %u\n", version, berth_abi_version());
        pass("berth_version");
    } else {
        fail("berth_version", "empty");
    }
    if (berth_abi_version() == BERTH_ABI_VERSION) pass("berth_abi_version is BERTH_ABI_VERSION");
    else fail("berth_abi_version", "%u, header %d", berth_abi_version(), BERTH_ABI_VERSION);
}

/* berth_run on `driver` of "print hello; exit 3" as container `id`, stdout to a pipe. (The
 * fake keeps a compute system's id taken for the life of the process, even once closed, so
 * each driver runs it under an id of its own.) */
static void test_run(berth_driver *driver, const char *label, const char *id) {
    char name[128];
    HANDLE read_end, write_end;
    if (!CreatePipe(&read_end, &write_end, NULL, 0)) {
        fail("CreatePipe", "error %lu", GetLastError());
        return;
    }
    berth_stdio io = BERTH_STDIO_INIT;
    io.stdout_handle = (berth_handle)write_end;
    berth_exit_status status;
    snprintf(name, sizeof name, "%s: berth_run exits with the process's code", label);
    berth_error *err = berth_run(driver, command_json(id, "print hello; exit 3", ""), &io,
                                 NULL, &status);
    CloseHandle(write_end); /* berth duplicated it: only its copy may still be open */
    if (ok(name, err)) {
        expect_status(name, &status, 3, 0);
        char out[256];
        read_all(read_end, out, sizeof out);
        snprintf(name, sizeof name, "%s: its stdout reaches the CreatePipe handle", label);
        if (strcmp(out, "hello\n") == 0) pass(name);
        else fail(name, "read \"%s\"", out);
    }
    CloseHandle(read_end);
}

static void test_big_exit_code(berth_driver *driver) {
    const char *name = "a 32-bit exit code (0xC000013A) comes back unsigned";
    berth_exit_status status;
    if (ok(name, berth_run(driver, command_json("c-big", "exit 3221225786", ""), NULL, NULL,
                           &status)))
        expect_status(name, &status, INT64_C(3221225786), 0);
}

static void test_stdin(berth_driver *driver) {
    const char *name = "stdin and stdout through pipes (create, start, wait)";
    HANDLE in_read, in_write, out_read, out_write;
    if (!CreatePipe(&in_read, &in_write, NULL, 0) || !CreatePipe(&out_read, &out_write, NULL, 0)) {
        fail(name, "CreatePipe: error %lu", GetLastError());
        return;
    }
    berth_stdio io = BERTH_STDIO_INIT;
    io.stdin_handle = (berth_handle)in_read;
    io.stdout_handle = (berth_handle)out_write;
    int32_t pid = -1;
    berth_error *err = berth_create(driver, command_json("c-cat", "cat", ""), &io, NULL, &pid);
    CloseHandle(in_read);
    CloseHandle(out_write);
    if (ok(name, err) && ok(name, berth_start(driver, "c-cat"))) {
        const char text[] = "through the pipe\n";
        DWORD n;
        WriteFile(in_write, text, sizeof text - 1, &n, NULL);
        CloseHandle(in_write);
        in_write = NULL;
        berth_exit_status status;
        if (ok(name, berth_wait(driver, "c-cat", &status))) {
            char out[256];
            read_all(out_read, out, sizeof out);
            if (status.exit_code == 0 && status.signal == 0 && strcmp(out, text) == 0)
                pass(name);
            else
                fail(name, "code %" PRId64 ", signal %d, read \"%s\"", status.exit_code,
                     status.signal, out);
        }
        ok("berth_delete of a stopped container", berth_delete(driver, "c-cat", false));
    }
    if (in_write) CloseHandle(in_write);
    CloseHandle(out_read);
}

static void test_kill(berth_driver *driver) {
    const char *id = "c-kill";
    int32_t pid = -1;
    if (!ok("berth_create", berth_create(driver, command_json(id, "wait", ""), NULL, NULL, &pid)))
        return;
    pass("berth_create");
    if (!ok("berth_start", berth_start(driver, id))) {
        berth_delete(driver, id, true);
        return;
    }
    pass("berth_start");

    char *json = NULL;
    if (ok("berth_state after start", berth_state(driver, id, &json))) {
        long state_pid = json_pid(json);
        if (state_pid > 0 && strstr(json, "\"status\":\"running\""))
            pass("berth_state after start: running, with the pid");
        else
            fail("berth_state after start", "no pid or not running: %s", json);
        berth_string_free(json);
    }

    /* An exec beside the init. */
    berth_exit_status status;
    if (ok("berth_exec", berth_exec(driver, id, "{\"args\":[\"fake\",\"exit\",\"7\"]}", NULL,
                                    NULL, &status)))
        expect_status("berth_exec exits with the process's code", &status, 7, 0);

    if (ok("berth_kill SIGKILL", berth_kill(driver, id, 9, false))) {
        pass("berth_kill SIGKILL");
        if (ok("berth_wait after SIGKILL", berth_wait(driver, id, &status)))
            expect_status("berth_wait after SIGKILL: code 1, signal 9", &status, 1, 9);
    }
    if (ok("berth_delete", berth_delete(driver, id, true))) pass("berth_delete");
    expect_error("the deleted container is gone", berth_state(driver, id, &json),
                 BERTH_ERROR_NOT_FOUND, NULL);
}

static void test_errors(berth_driver *driver) {
    char *json = NULL;
    berth_exit_status status;
    expect_error("berth_state of an unknown id", berth_state(driver, "no-such-container", &json),
                 BERTH_ERROR_NOT_FOUND, NULL);
    expect_error("berth_kill of an unknown id", berth_kill(driver, "no-such-container", 9, false),
                 BERTH_ERROR_NOT_FOUND, NULL);
    expect_error("bad JSON", berth_run(driver, "{\"id\":", NULL, NULL, &status),
                 BERTH_ERROR_INVALID_ARGUMENT, NULL);
    expect_error("an unknown field", berth_run(driver, command_json("c-bad", "exit 0",
                 ",\"no_such_field\":1"), NULL, NULL, &status), BERTH_ERROR_INVALID_ARGUMENT,
                 "no_such_field");
    expect_error("a Linux-only field (sysctls)",
                 berth_run(driver, command_json("c-sysctl", "exit 0",
                           ",\"sysctls\":{\"net.ipv4.ip_forward\":\"1\"}"), NULL, NULL, &status),
                 BERTH_ERROR_UNSUPPORTED, "sysctls");
    berth_stdio zeroed;
    memset(&zeroed, 0, sizeof zeroed);
    expect_error("a berth_stdio without its size",
                 berth_run(driver, command_json("c-size", "exit 0", ""), &zeroed, NULL, &status),
                 BERTH_ERROR_INVALID_ARGUMENT, NULL);
    expect_error("NULL command_json", berth_run(driver, NULL, NULL, NULL, &status),
                 BERTH_ERROR_INVALID_ARGUMENT, "command_json");
    if (ok("berth_list", berth_list(driver, &json))) {
        if (strcmp(json, "[]") == 0) pass("berth_list: nothing left behind");
        else fail("berth_list: nothing left behind", "%s", json);
        berth_string_free(json);
    }
}

static void test_driver_options(void) {
    berth_driver *driver = NULL;
    expect_error("{\"kind\":\"native\"} is unsupported on Windows",
                 berth_driver_new("{\"kind\":\"native\"}", &driver), BERTH_ERROR_UNSUPPORTED,
                 "native");
    expect_error("{\"kind\":\"lxc\"} is unsupported on Windows",
                 berth_driver_new("{\"kind\":\"lxc\"}", &driver), BERTH_ERROR_UNSUPPORTED, "lxc");
    expect_error("an unknown option", berth_driver_new("{\"kind\":\"windows\",\"helper\":1}",
                 &driver), BERTH_ERROR_INVALID_ARGUMENT, "helper");
    expect_error("options that are not JSON", berth_driver_new("{", &driver),
                 BERTH_ERROR_INVALID_ARGUMENT, NULL);
}

static int with_computecore(void) {
    berth_driver *driver = NULL;
    /* The defaults: the Windows driver, root %ProgramData%\berth. */
    if (ok("berth_driver_new(NULL)", berth_driver_new(NULL, &driver))) {
        pass("berth_driver_new(NULL) makes a driver over System32's computecore.dll");
        test_run(driver, "default driver", "c-run-default");
        berth_driver_free(driver);
    }

    driver = NULL;
    const char *options = "{\"kind\":\"windows\",\"root\":\"C:\\\\berth-ctest\","
                          "\"timeouts\":{\"operation_ms\":10000,\"shutdown_ms\":2000,"
                          "\"exit_grace_ms\":2000}}";
    if (!ok("berth_driver_new({\"kind\":\"windows\",\"root\":...})",
            berth_driver_new(options, &driver)))
        return 1;
    pass("berth_driver_new({\"kind\":\"windows\",\"root\":\"C:\\\\berth-ctest\",...})");
    test_run(driver, "windows driver", "c-run");
    test_big_exit_code(driver);
    test_stdin(driver);
    test_kill(driver);
    test_errors(driver);
    berth_driver_free(driver);
    test_driver_options();
    return 0;
}

static void without_computecore(void) {
    berth_driver *driver = NULL;
    expect_error("berth_driver_new(NULL) without computecore.dll in System32",
                 berth_driver_new(NULL, &driver), BERTH_ERROR_UNSUPPORTED, "computecore.dll");
    berth_driver_free(driver); /* one made by mistake (NULL otherwise) */
    driver = NULL;
    expect_error("{\"kind\":\"windows\"} without computecore.dll in System32",
                 berth_driver_new("{\"kind\":\"windows\"}", &driver), BERTH_ERROR_UNSUPPORTED,
                 "computecore.dll");
    berth_driver_free(driver);
    driver = NULL;
    expect_error("{\"kind\":\"native\"} is still unsupported",
                 berth_driver_new("{\"kind\":\"native\"}", &driver), BERTH_ERROR_UNSUPPORTED,
                 "native");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    CloseHandle(CreateThread(NULL, 0, watchdog, NULL, 0, NULL));
    int missing = argc > 1 && strcmp(argv[1], "missing") == 0;
    if (argc > 1 && !missing) {
        fprintf(stderr, "usage: %s [missing]\n", argv[0]);
        return 2;
    }
    test_versions();
    if (missing) without_computecore();
    else with_computecore();
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
