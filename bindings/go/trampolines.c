// The C side of the hooks: libberth calls these with user_data = a runtime/cgo.Handle (an
// integer, never a Go pointer), and they call the exported Go functions of hooks.go.

#include <stdint.h>

#include "berth.h"
#include "_cgo_export.h"

static void tramp_on_start(void *user_data, const char *id, int32_t pid) {
    berthGoOnStart((uintptr_t)user_data, (char *)id, pid);
}

static void tramp_on_oom(void *user_data, const char *id) {
    berthGoOnOOM((uintptr_t)user_data, (char *)id);
}

static void tramp_on_exit(void *user_data, const char *id, const berth_exit_status *status) {
    berthGoOnExit((uintptr_t)user_data, (char *)id, status->exit_code, status->signal,
                  status->oom_killed ? 1 : 0);
}

static void tramp_on_console(void *user_data, const char *id, berth_handle master) {
    berthGoOnConsole((uintptr_t)user_data, (char *)id, master);
}

berth_hooks berth_go_hooks(uintptr_t handle, int start, int oom, int exit, int console) {
    berth_hooks hooks = BERTH_HOOKS_INIT;
    hooks.user_data = (void *)handle;
    hooks.on_start = start ? tramp_on_start : NULL;
    hooks.on_oom = oom ? tramp_on_oom : NULL;
    hooks.on_exit = exit ? tramp_on_exit : NULL;
    hooks.on_console = console ? tramp_on_console : NULL;
    return hooks;
}
