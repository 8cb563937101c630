/*
 * A fake computecore.dll for the tests of runtime-windows's ComputeCore under wine: the
 * functions ComputeCore calls, with the signatures of computecore.h, scripting the Host
 * Compute Service's behaviour.
 *
 * Compute systems live in this process, by id. Scripted ids:
 *   fail-create  HcsCreateComputeSystem's operation fails with 0xC037010E and a JSON result
 *   fail-start   HcsStartComputeSystem's operation fails with 0x80370105 and a text result
 *   fail-call    HcsStartComputeSystem itself returns E_INVALIDARG
 *   hang         HcsStartComputeSystem's operation never completes (until cancelled)
 *   slow         HcsStartComputeSystem's operation completes after 300 ms, on another thread
 * Creating an id twice fails with 0x8037010F, opening an unknown one with 0x8037010E, pausing
 * a system that does not run with 0xC0370105, shutting down a stopped one with 0x80370110.
 * Shut down and terminate report HcsEventSystemExited from another thread. The properties
 * are a Statistics document with the fake's counters: "FakeCancelled" (operations cancelled
 * on this system) and "FakeModified" (successful HcsModifyComputeSystem calls).
 *
 * A process runs the CommandLine of its parameters, "fake" then statements separated by ';':
 *   print TEXT   writes TEXT and a newline to stdout      eprint TEXT  the same to stderr
 *   cat          copies stdin to stdout until end of file sleep MS     waits MS milliseconds
 *   wait         waits until terminated or signalled      exit N       exits with code N
 * "fake missing" fails with 0x80070002 and a result document, "fake hang" never completes.
 * The pipes asked for (CreateStdInPipe, ...) are real ones from CreatePipe. When the command
 * ends, the process's ends of its pipes are closed and HcsEventProcessExited, with a
 * ProcessStatus document, goes to the callbacks of its handles from the process's thread.
 * HcsTerminateProcess ends "wait" and "sleep" with exit code 1, HcsSignalProcess with
 * 0xC000013A.
 *
 * Result documents are allocated with LocalAlloc: the caller frees them with LocalFree.
 * Closing a handle waits for its callbacks in flight, as HCS does.
 */
#include <windows.h>
#include <computecore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __declspec(dllexport)

#define HR(x) ((HRESULT)(x))
#define FAKE_E_CANCELLED HR(0x800704C7)

static CRITICAL_SECTION lock;
static DWORD next_pid = 100;

/* ---- result documents ---- */

static PWSTR local_wide(const char *text) {
    if (!text) return NULL;
    int n = MultiByteToWideChar(CP_UTF8, 0, text, -1, NULL, 0);
    PWSTR w = (PWSTR)LocalAlloc(LMEM_FIXED, n * sizeof(WCHAR));
    if (w) MultiByteToWideChar(CP_UTF8, 0, text, -1, w, n);
    return w;
}

static char *narrow(PCWSTR text) {
    if (!text) return NULL;
    int n = WideCharToMultiByte(CP_UTF8, 0, text, -1, NULL, 0, NULL, NULL);
    char *s = malloc(n);
    WideCharToMultiByte(CP_UTF8, 0, text, -1, s, n, NULL, NULL);
    return s;
}

/* ---- operations ---- */

typedef struct System System;

typedef struct Operation {
    LONG refs;
    HANDLE done; /* manual-reset event, set once completed */
    int completed;
    HRESULT hr;
    PWSTR doc;
    int has_info;
    HCS_PROCESS_INFORMATION info;
    System *system; /* the system it runs on, for the cancel counter */
} Operation;

static void op_release(Operation *op) {
    if (InterlockedDecrement(&op->refs) != 0) return;
    CloseHandle(op->done);
    if (op->doc) LocalFree(op->doc);
    if (op->has_info) {
        if (op->info.StdInput) CloseHandle(op->info.StdInput);
        if (op->info.StdOutput) CloseHandle(op->info.StdOutput);
        if (op->info.StdError) CloseHandle(op->info.StdError);
    }
    free(op);
}

/* Completes `op` (once) with `hr` and the result document `doc` (UTF-8, or NULL). */
static void op_complete(Operation *op, HRESULT hr, const char *doc) {
    EnterCriticalSection(&lock);
    if (!op->completed) {
        op->completed = 1;
        op->hr = hr;
        op->doc = local_wide(doc);
        SetEvent(op->done);
    }
    LeaveCriticalSection(&lock);
}

EXPORT HCS_OPERATION WINAPI HcsCreateOperation(const void *context, HCS_OPERATION_COMPLETION callback) {
    (void)context;
    (void)callback;
    Operation *op = calloc(1, sizeof *op);
    op->refs = 1;
    op->done = CreateEventW(NULL, TRUE, FALSE, NULL);
    return (HCS_OPERATION)op;
}

EXPORT void WINAPI HcsCloseOperation(HCS_OPERATION operation) {
    if (operation) op_release((Operation *)operation);
}

static HRESULT wait_op(Operation *op, DWORD timeoutMs, HCS_PROCESS_INFORMATION *info, PWSTR *resultDocument) {
    if (resultDocument) *resultDocument = NULL;
    if (WaitForSingleObject(op->done, timeoutMs) != WAIT_OBJECT_0) return HR(0x80370118);
    EnterCriticalSection(&lock);
    if (resultDocument) {
        *resultDocument = op->doc;
        op->doc = NULL;
    }
    if (info && op->has_info) {
        *info = op->info;
        op->has_info = 0;
    }
    HRESULT hr = op->hr;
    LeaveCriticalSection(&lock);
    return hr;
}

EXPORT HRESULT WINAPI HcsWaitForOperationResult(HCS_OPERATION operation, DWORD timeoutMs, PWSTR *resultDocument) {
    return wait_op((Operation *)operation, timeoutMs, NULL, resultDocument);
}

EXPORT HRESULT WINAPI HcsWaitForOperationResultAndProcessInfo(HCS_OPERATION operation, DWORD timeoutMs,
                                                              HCS_PROCESS_INFORMATION *processInformation,
                                                              PWSTR *resultDocument) {
    return wait_op((Operation *)operation, timeoutMs, processInformation, resultDocument);
}

/* ---- callbacks ---- */

/* One open handle of a system or a process, with its callback. */
typedef struct Listener {
    HCS_EVENT_CALLBACK callback;
    void *context;
    LONG in_flight;
    int closed;
    void *owner;
    int is_process;
    struct Listener *next;
} Listener;

/* Calls the callback of every open listener of `list` (under `lock`'s protection, not
 * holding it during a call). */
static void deliver(Listener **list, HCS_EVENT_TYPE type, const char *data) {
    PWSTR wdata = local_wide(data);
    EnterCriticalSection(&lock);
    Listener *l = *list;
    while (l) {
        if (l->callback && !l->closed) {
            HCS_EVENT_CALLBACK callback = l->callback;
            void *context = l->context;
            l->in_flight++;
            LeaveCriticalSection(&lock);
            HCS_EVENT event = {type, wdata, NULL};
            callback(&event, context);
            EnterCriticalSection(&lock);
            l->in_flight--;
        }
        l = l->next;
    }
    LeaveCriticalSection(&lock);
    if (wdata) LocalFree(wdata);
}

/* Closes `l`: waits for its callbacks in flight, unlinks it from `list` and frees it. */
static void close_listener(Listener **list, Listener *l) {
    EnterCriticalSection(&lock);
    l->closed = 1;
    while (l->in_flight) {
        LeaveCriticalSection(&lock);
        Sleep(1);
        EnterCriticalSection(&lock);
    }
    for (Listener **p = list; *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            break;
        }
    }
    LeaveCriticalSection(&lock);
    free(l);
}

/* ---- systems and processes ---- */

enum { CREATED, RUNNING, PAUSED, STOPPED };
static const char *state_names[] = {"Created", "Running", "Paused", "Stopped"};

typedef struct Process {
    System *system;
    DWORD pid;
    char *command;
    HANDLE in_read, out_write, err_write;
    HANDLE wake;
    DWORD kill_code;
    int exited;
    DWORD exit_code;
    Listener *handles;
    struct Process *next;
} Process;

struct System {
    char *id;
    int state;
    LONG cancelled;
    LONG modified;
    Listener *handles;
    Process *processes;
    System *next;
};

static System *systems;

static System *find_system(const char *id) {
    for (System *s = systems; s; s = s->next)
        if (strcmp(s->id, id) == 0) return s;
    return NULL;
}

static Listener *new_listener(void *owner, int is_process, Listener **list) {
    Listener *l = calloc(1, sizeof *l);
    l->owner = owner;
    l->is_process = is_process;
    EnterCriticalSection(&lock);
    l->next = *list;
    *list = l;
    LeaveCriticalSection(&lock);
    return l;
}

static System *system_of(HCS_SYSTEM handle) {
    Listener *l = (Listener *)handle;
    return l && !l->is_process ? (System *)l->owner : NULL;
}

static Process *process_of(HCS_PROCESS handle) {
    Listener *l = (Listener *)handle;
    return l && l->is_process ? (Process *)l->owner : NULL;
}

EXPORT HRESULT WINAPI HcsCreateComputeSystem(PCWSTR id, PCWSTR configuration, HCS_OPERATION operation,
                                             const SECURITY_DESCRIPTOR *securityDescriptor,
                                             HCS_SYSTEM *computeSystem) {
    (void)securityDescriptor;
    Operation *op = (Operation *)operation;
    if (!id || !configuration || !op || !computeSystem) return E_INVALIDARG;
    *computeSystem = NULL;
    char *name = narrow(id);
    if (strcmp(name, "fail-create") == 0) {
        free(name);
        op_complete(op, HR(0xC037010E), "{\"Error\":-1070137074,\"ErrorMessage\":\"fake: scripted create failure\"}");
        return S_OK;
    }
    EnterCriticalSection(&lock);
    if (find_system(name)) {
        LeaveCriticalSection(&lock);
        free(name);
        op_complete(op, HR(0x8037010F), "{\"Error\":-2143878897,\"ErrorMessage\":\"A compute system with the given identifier already exists.\"}");
        return S_OK;
    }
    System *s = calloc(1, sizeof *s);
    s->id = name;
    s->state = CREATED;
    s->next = systems;
    systems = s;
    LeaveCriticalSection(&lock);
    *computeSystem = (HCS_SYSTEM)new_listener(s, 0, &s->handles);
    op_complete(op, S_OK, NULL);
    return S_OK;
}

EXPORT HRESULT WINAPI HcsOpenComputeSystem(PCWSTR id, DWORD requestedAccess, HCS_SYSTEM *computeSystem) {
    (void)requestedAccess;
    if (!id || !computeSystem) return E_INVALIDARG;
    char *name = narrow(id);
    EnterCriticalSection(&lock);
    System *s = find_system(name);
    LeaveCriticalSection(&lock);
    free(name);
    if (!s) return HR(0x8037010E);
    *computeSystem = (HCS_SYSTEM)new_listener(s, 0, &s->handles);
    return S_OK;
}

EXPORT HRESULT WINAPI HcsSetComputeSystemCallback(HCS_SYSTEM computeSystem, HCS_EVENT_OPTIONS callbackOptions,
                                                  const void *context, HCS_EVENT_CALLBACK callback) {
    if (!system_of(computeSystem) || callbackOptions != HcsEventOptionNone) return E_INVALIDARG;
    Listener *l = (Listener *)computeSystem;
    EnterCriticalSection(&lock);
    l->callback = callback;
    l->context = (void *)context;
    LeaveCriticalSection(&lock);
    return S_OK;
}

EXPORT void WINAPI HcsCloseComputeSystem(HCS_SYSTEM computeSystem) {
    System *s = system_of(computeSystem);
    if (s) close_listener(&s->handles, (Listener *)computeSystem);
}

static DWORD WINAPI slow_start(void *arg) {
    Operation *op = arg;
    Sleep(300);
    EnterCriticalSection(&lock);
    if (op->system->state == CREATED) op->system->state = RUNNING;
    LeaveCriticalSection(&lock);
    op_complete(op, S_OK, NULL);
    op_release(op);
    return 0;
}

EXPORT HRESULT WINAPI HcsStartComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
    (void)options;
    System *s = system_of(computeSystem);
    Operation *op = (Operation *)operation;
    if (!s || !op) return E_INVALIDARG;
    op->system = s;
    if (strcmp(s->id, "fail-call") == 0) return E_INVALIDARG;
    if (strcmp(s->id, "fail-start") == 0) {
        op_complete(op, HR(0x80370105), "fake: the system cannot start");
        return S_OK;
    }
    if (strcmp(s->id, "hang") == 0) return S_OK;
    if (strcmp(s->id, "slow") == 0) {
        InterlockedIncrement(&op->refs);
        CloseHandle(CreateThread(NULL, 0, slow_start, op, 0, NULL));
        return S_OK;
    }
    EnterCriticalSection(&lock);
    int ok = s->state == CREATED;
    if (ok) s->state = RUNNING;
    LeaveCriticalSection(&lock);
    op_complete(op, ok ? S_OK : HR(0x80370105), ok ? NULL : "{\"ErrorMessage\":\"fake: not in the Created state\"}");
    return S_OK;
}

static void kill_processes(System *s, DWORD code) {
    EnterCriticalSection(&lock);
    for (Process *p = s->processes; p; p = p->next) {
        if (!p->exited && !p->kill_code) {
            p->kill_code = code;
            SetEvent(p->wake);
        }
    }
    LeaveCriticalSection(&lock);
}

typedef struct Exit {
    System *system;
    const char *data;
} Exit;

static DWORD WINAPI report_exit(void *arg) {
    Exit *e = arg;
    deliver(&e->system->handles, HcsEventSystemExited, e->data);
    free(e);
    return 0;
}

static HRESULT stop(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char *how) {
    System *s = system_of(computeSystem);
    Operation *op = (Operation *)operation;
    if (!s || !op) return E_INVALIDARG;
    op->system = s;
    EnterCriticalSection(&lock);
    int was = s->state;
    s->state = STOPPED;
    LeaveCriticalSection(&lock);
    if (was == STOPPED) {
        op_complete(op, HR(0x80370110), "{\"ErrorMessage\":\"The compute system has already stopped.\"}");
        return S_OK;
    }
    kill_processes(s, 1);
    op_complete(op, S_OK, NULL);
    Exit *e = malloc(sizeof *e);
    e->system = s;
    e->data = how;
    CloseHandle(CreateThread(NULL, 0, report_exit, e, 0, NULL));
    return S_OK;
}

EXPORT HRESULT WINAPI HcsShutDownComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
    (void)options;
    return stop(computeSystem, operation, "{\"Status\":0,\"ExitType\":\"GracefulExit\"}");
}

EXPORT HRESULT WINAPI HcsTerminateComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
    (void)options;
    return stop(computeSystem, operation, "{\"Status\":0,\"ExitType\":\"Terminated\"}");
}

static HRESULT change_state(HCS_SYSTEM computeSystem, HCS_OPERATION operation, int from, int to) {
    System *s = system_of(computeSystem);
    Operation *op = (Operation *)operation;
    if (!s || !op) return E_INVALIDARG;
    op->system = s;
    EnterCriticalSection(&lock);
    int ok = s->state == from;
    if (ok) s->state = to;
    LeaveCriticalSection(&lock);
    op_complete(op, ok ? S_OK : HR(0xC0370105),
                ok ? NULL : "{\"Error\":-1070137083,\"ErrorMessage\":\"The requested virtual machine or container operation is not valid in the current state.\"}");
    return S_OK;
}

EXPORT HRESULT WINAPI HcsPauseComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
    (void)options;
    return change_state(computeSystem, operation, RUNNING, PAUSED);
}

EXPORT HRESULT WINAPI HcsResumeComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
    (void)options;
    return change_state(computeSystem, operation, PAUSED, RUNNING);
}

static const char *invalid_json = "{\"Error\":-2143878899,\"ErrorMessage\":\"fake: the document is not JSON\"}";

EXPORT HRESULT WINAPI HcsGetComputeSystemProperties(HCS_SYSTEM computeSystem, HCS_OPERATION operation,
                                                    PCWSTR propertyQuery) {
    System *s = system_of(computeSystem);
    Operation *op = (Operation *)operation;
    if (!s || !op) return E_INVALIDARG;
    op->system = s;
    if (!propertyQuery || propertyQuery[0] != L'{') {
        op_complete(op, HR(0x8037010D), invalid_json);
        return S_OK;
    }
    char doc[1024];
    EnterCriticalSection(&lock);
    snprintf(doc, sizeof doc,
             "{\"Id\":\"%s\",\"State\":\"%s\",\"Statistics\":{\"Timestamp\":\"2024-01-01T00:00:01Z\","
             "\"ContainerStartTime\":\"2024-01-01T00:00:00Z\",\"Uptime100ns\":10000000,"
             "\"Processor\":{\"TotalRuntime100ns\":3000000,\"RuntimeUser100ns\":2000000,\"RuntimeKernel100ns\":1000000},"
             "\"Memory\":{\"MemoryUsageCommitBytes\":1048576,\"MemoryUsageCommitPeakBytes\":2097152,"
             "\"MemoryUsagePrivateWorkingSetBytes\":524288}},\"FakeCancelled\":%ld,\"FakeModified\":%ld}",
             s->id, state_names[s->state], s->cancelled, s->modified);
    LeaveCriticalSection(&lock);
    op_complete(op, S_OK, doc);
    return S_OK;
}

EXPORT HRESULT WINAPI HcsModifyComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR configuration,
                                             HANDLE identity) {
    (void)identity;
    System *s = system_of(computeSystem);
    Operation *op = (Operation *)operation;
    if (!s || !op) return E_INVALIDARG;
    op->system = s;
    if (!configuration || configuration[0] != L'{') {
        op_complete(op, HR(0x8037010D), invalid_json);
        return S_OK;
    }
    InterlockedIncrement(&s->modified);
    op_complete(op, S_OK, NULL);
    return S_OK;
}

/* Left out of the build of a computecore.dll missing a function (-DFAKE_OMIT_CANCEL). */
#ifndef FAKE_OMIT_CANCEL
EXPORT HRESULT WINAPI HcsCancelOperation(HCS_OPERATION operation) {
    Operation *op = (Operation *)operation;
    if (!op) return E_INVALIDARG;
    EnterCriticalSection(&lock);
    int pending = !op->completed;
    if (pending && op->system) op->system->cancelled++;
    LeaveCriticalSection(&lock);
    if (pending) op_complete(op, FAKE_E_CANCELLED, NULL);
    return S_OK;
}
#endif

/* ---- processes ---- */

/* The string value of "key" in the JSON `doc` (simple escapes only), or NULL. */
static char *json_string(const char *doc, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *p = strstr(doc, pattern);
    if (!p) return NULL;
    p += strlen(pattern);
    while (*p == ' ' || *p == ':') p++;
    if (*p != '"') return NULL;
    p++;
    char *out = malloc(strlen(p) + 1), *o = out;
    while (*p && *p != '"') {
        if (*p == '\\' && p[1]) {
            p++;
            *o++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
            p++;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return out;
}

static int json_true(const char *doc, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *p = strstr(doc, pattern);
    if (!p) return 0;
    p += strlen(pattern);
    while (*p == ' ' || *p == ':') p++;
    return strncmp(p, "true", 4) == 0;
}

static void write_all(HANDLE h, const char *data, DWORD len) {
    DWORD done;
    while (h && len > 0 && WriteFile(h, data, len, &done, NULL) && done > 0) {
        data += done;
        len -= done;
    }
}

static DWORD WINAPI run_process(void *arg) {
    Process *p = arg;
    DWORD code = 0;
    char *rest = p->command + 4; /* after "fake" */
    int killed = 0;
    while (rest && !killed) {
        char *end = strchr(rest, ';');
        if (end) *end = 0;
        while (*rest == ' ') rest++;
        if (strncmp(rest, "print ", 6) == 0 || strncmp(rest, "eprint ", 7) == 0) {
            int err = rest[0] == 'e';
            const char *text = rest + (err ? 7 : 6);
            write_all(err ? p->err_write : p->out_write, text, (DWORD)strlen(text));
            write_all(err ? p->err_write : p->out_write, "\n", 1);
        } else if (strcmp(rest, "cat") == 0) {
            char buffer[4096];
            DWORD n;
            while (p->in_read && ReadFile(p->in_read, buffer, sizeof buffer, &n, NULL) && n > 0)
                write_all(p->out_write, buffer, n);
        } else if (strncmp(rest, "sleep ", 6) == 0 || strcmp(rest, "wait") == 0) {
            DWORD ms = rest[0] == 's' ? (DWORD)strtoul(rest + 6, NULL, 10) : INFINITE;
            killed = WaitForSingleObject(p->wake, ms) == WAIT_OBJECT_0;
        } else if (strncmp(rest, "exit ", 5) == 0) {
            code = (DWORD)strtoul(rest + 5, NULL, 10);
            break;
        }
        rest = end ? end + 1 : NULL;
    }
    if (killed) code = p->kill_code;
    EnterCriticalSection(&lock);
    if (p->in_read) CloseHandle(p->in_read);
    if (p->out_write) CloseHandle(p->out_write);
    if (p->err_write) CloseHandle(p->err_write);
    p->in_read = p->out_write = p->err_write = NULL;
    p->exited = 1;
    p->exit_code = code;
    LeaveCriticalSection(&lock);
    char status[128];
    snprintf(status, sizeof status, "{\"ProcessId\":%lu,\"Exited\":true,\"ExitCode\":%lu}", p->pid, code);
    deliver(&p->handles, HcsEventProcessExited, status);
    return 0;
}

EXPORT HRESULT WINAPI HcsCreateProcess(HCS_SYSTEM computeSystem, PCWSTR processParameters, HCS_OPERATION operation,
                                       const SECURITY_DESCRIPTOR *securityDescriptor, HCS_PROCESS *process) {
    (void)securityDescriptor;
    System *s = system_of(computeSystem);
    Operation *op = (Operation *)operation;
    if (!s || !op || !processParameters || !process) return E_INVALIDARG;
    *process = NULL;
    op->system = s;
    char *params = narrow(processParameters);
    char *command = json_string(params, "CommandLine");
    if (!command || strncmp(command, "fake", 4) != 0) {
        op_complete(op, HR(0x80070057), "{\"ErrorMessage\":\"fake: the CommandLine is not a fake one\"}");
        free(params);
        free(command);
        return S_OK;
    }
    EnterCriticalSection(&lock);
    int running = s->state == RUNNING;
    LeaveCriticalSection(&lock);
    if (!running) {
        op_complete(op, HR(0x80370105), "{\"ErrorMessage\":\"fake: the system does not run\"}");
        free(params);
        free(command);
        return S_OK;
    }
    Process *p = calloc(1, sizeof *p);
    p->system = s;
    p->command = command;
    p->wake = CreateEventW(NULL, TRUE, FALSE, NULL);
    *process = (HCS_PROCESS)new_listener(p, 1, &p->handles);
    if (strcmp(command, "fake hang") == 0) {
        free(params);
        return S_OK;
    }
    if (strcmp(command, "fake missing") == 0) {
        p->exited = 1;
        op_complete(op, HR(0x80070002),
                    "{\"Error\":-2147024894,\"ErrorMessage\":\"The system cannot find the file specified.\"}");
        free(params);
        return S_OK;
    }
    HCS_PROCESS_INFORMATION info = {0};
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    if (json_true(params, "CreateStdInPipe")) CreatePipe(&p->in_read, &info.StdInput, &sa, 0);
    if (json_true(params, "CreateStdOutPipe")) CreatePipe(&info.StdOutput, &p->out_write, &sa, 0);
    if (json_true(params, "CreateStdErrPipe")) CreatePipe(&info.StdError, &p->err_write, &sa, 0);
    free(params);
    EnterCriticalSection(&lock);
    p->pid = info.ProcessId = next_pid++;
    p->next = s->processes;
    s->processes = p;
    op->info = info;
    op->has_info = 1;
    LeaveCriticalSection(&lock);
    op_complete(op, S_OK, NULL);
    CloseHandle(CreateThread(NULL, 0, run_process, p, 0, NULL));
    return S_OK;
}

EXPORT HRESULT WINAPI HcsOpenProcess(HCS_SYSTEM computeSystem, DWORD processId, DWORD requestedAccess,
                                     HCS_PROCESS *process) {
    (void)requestedAccess;
    System *s = system_of(computeSystem);
    if (!s || !process) return E_INVALIDARG;
    EnterCriticalSection(&lock);
    Process *p = s->processes;
    while (p && p->pid != processId) p = p->next;
    LeaveCriticalSection(&lock);
    if (!p) return HR(0x80070490);
    *process = (HCS_PROCESS)new_listener(p, 1, &p->handles);
    return S_OK;
}

EXPORT HRESULT WINAPI HcsSetProcessCallback(HCS_PROCESS process, HCS_EVENT_OPTIONS callbackOptions, void *context,
                                            HCS_EVENT_CALLBACK callback) {
    if (!process_of(process) || callbackOptions != HcsEventOptionNone) return E_INVALIDARG;
    Listener *l = (Listener *)process;
    EnterCriticalSection(&lock);
    l->callback = callback;
    l->context = context;
    LeaveCriticalSection(&lock);
    return S_OK;
}

static HRESULT kill_process(HCS_PROCESS process, HCS_OPERATION operation, DWORD code) {
    Process *p = process_of(process);
    Operation *op = (Operation *)operation;
    if (!p || !op) return E_INVALIDARG;
    op->system = p->system;
    EnterCriticalSection(&lock);
    int exited = p->exited;
    if (!exited && !p->kill_code) {
        p->kill_code = code;
        SetEvent(p->wake);
    }
    LeaveCriticalSection(&lock);
    op_complete(op, exited ? HR(0x8037011F) : S_OK,
                exited ? "{\"ErrorMessage\":\"The process has already stopped.\"}" : NULL);
    return S_OK;
}

EXPORT HRESULT WINAPI HcsTerminateProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options) {
    (void)options;
    return kill_process(process, operation, 1);
}

EXPORT HRESULT WINAPI HcsSignalProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options) {
    if (!options || options[0] != L'{') {
        Operation *op = (Operation *)operation;
        if (!op) return E_INVALIDARG;
        op_complete(op, HR(0x8037010D), invalid_json);
        return S_OK;
    }
    return kill_process(process, operation, 0xC000013A);
}

EXPORT HRESULT WINAPI HcsModifyProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR settings) {
    Process *p = process_of(process);
    Operation *op = (Operation *)operation;
    if (!p || !op) return E_INVALIDARG;
    op->system = p->system;
    char *doc = narrow(settings);
    int ok = doc && strstr(doc, "\"Operation\"");
    free(doc);
    op_complete(op, ok ? S_OK : HR(0x8037010D), ok ? NULL : invalid_json);
    return S_OK;
}

EXPORT HRESULT WINAPI HcsGetProcessProperties(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR propertyQuery) {
    (void)propertyQuery;
    Process *p = process_of(process);
    Operation *op = (Operation *)operation;
    if (!p || !op) return E_INVALIDARG;
    op->system = p->system;
    char doc[128];
    EnterCriticalSection(&lock);
    snprintf(doc, sizeof doc, "{\"ProcessId\":%lu,\"Exited\":%s,\"ExitCode\":%lu}", p->pid,
             p->exited ? "true" : "false", p->exit_code);
    LeaveCriticalSection(&lock);
    op_complete(op, S_OK, doc);
    return S_OK;
}

EXPORT void WINAPI HcsCloseProcess(HCS_PROCESS process) {
    Process *p = process_of(process);
    if (p) close_listener(&p->handles, (Listener *)process);
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
    (void)instance;
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) InitializeCriticalSection(&lock);
    return TRUE;
}
