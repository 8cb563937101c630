package berth

/*
#include <stdint.h>
#include "berth.h"

// In trampolines.c: the berth_hooks whose callbacks call the exported functions below.
berth_hooks berth_go_hooks(uintptr_t handle, int start, int oom, int exit, int console);
*/
import "C"

import (
	"fmt"
	"os"
	"runtime/cgo"
	"runtime/debug"
	"syscall"
)

// Hooks are callbacks on the events of one container (or one exec). Any of them may be nil.
//
// OnStart runs on the goroutine of the call that starts the program (Run, Exec,
// ExecDetached, Start) before that call returns; a container's OnOOM and OnExit run on a
// thread berth owns, and so does the OnExit of an ExecDetached, while the hooks given to Exec
// all run on Exec's goroutine (OnExit before Exec returns). The hooks of one container run
// one at a time and in order; those of different containers may run at the same time, so
// hooks must be safe for concurrent use. A hook should return quickly. It may call the
// driver, even Wait (from OnExit it returns the exit at once) and Delete for its own
// container, but not Close.
//
// A hook that panics crashes the program, as an unrecovered panic in any goroutine does: the
// panic never unwinds through libberth.
type Hooks struct {
	// OnStart: the program runs; pid is its pid on the host.
	OnStart func(id string, pid int)
	// OnOOM: the kernel's OOM killer killed a process of the container.
	OnOOM func(id string)
	// OnExit: the process has exited and been reaped.
	OnExit func(id string, status ExitStatus)
	// OnConsole: the terminal master of a process with Process.Terminal. The hook owns the
	// file and must close it. Without an OnConsole, berth closes the master.
	OnConsole func(id string, master *os.File)
}

// hookSet is what a cgo.Handle passed to C as user_data refers to: the caller's hooks, and
// this package's own interest in the start (for context cancellation).
type hookSet struct {
	user    Hooks
	started func(pid int)
}

// callHooks is the berth_hooks of one call and the handle that is its user_data; both are
// zero when no callback is wanted, and libberth gets NULL.
type callHooks struct {
	c      *C.berth_hooks
	handle cgo.Handle
}

// newCallHooks returns the berth_hooks for hs, with only the callbacks someone wants set,
// and a handle to hs that the caller releases once libberth calls them no more. When hs
// wants no callback at all, it makes no handle and the call gets NULL.
func newCallHooks(hs *hookSet) callHooks {
	start := hs.user.OnStart != nil || hs.started != nil
	oom, exit, console := hs.user.OnOOM != nil, hs.user.OnExit != nil, hs.user.OnConsole != nil
	if !start && !oom && !exit && !console {
		return callHooks{}
	}
	flag := func(b bool) C.int {
		if b {
			return 1
		}
		return 0
	}
	h := cgo.NewHandle(hs)
	c := C.berth_go_hooks(C.uintptr_t(h), flag(start), flag(oom), flag(exit), flag(console))
	return callHooks{c: &c, handle: h}
}

// release deletes the handle, once libberth calls the hooks no more.
func (ch callHooks) release() {
	if ch.handle != 0 {
		ch.handle.Delete()
	}
}

func hooksOf(h C.uintptr_t) *hookSet {
	return cgo.Handle(h).Value().(*hookSet)
}

// crashOnPanic ends the program on a panic in a hook, with the panic and its stack, as the
// Go runtime does for an unrecovered panic (exit status 2), but without unwinding through
// libberth's frames. Deferred by every callback.
func crashOnPanic() {
	if r := recover(); r != nil {
		fmt.Fprintf(os.Stderr, "panic in a berth hook: %v\n\n%s", r, debug.Stack())
		os.Exit(2)
	}
}

//export berthGoOnStart
func berthGoOnStart(h C.uintptr_t, id *C.char, pid C.int32_t) {
	defer crashOnPanic()
	hs := hooksOf(h)
	if hs.started != nil {
		hs.started(int(pid))
	}
	if hs.user.OnStart != nil {
		hs.user.OnStart(C.GoString(id), int(pid))
	}
}

//export berthGoOnOOM
func berthGoOnOOM(h C.uintptr_t, id *C.char) {
	defer crashOnPanic()
	if f := hooksOf(h).user.OnOOM; f != nil {
		f(C.GoString(id))
	}
}

//export berthGoOnExit
func berthGoOnExit(h C.uintptr_t, id *C.char, code C.int64_t, signal C.int32_t, oom C.int) {
	defer crashOnPanic()
	if f := hooksOf(h).user.OnExit; f != nil {
		f(C.GoString(id), ExitStatus{Code: int64(code), Signal: syscall.Signal(signal), OOMKilled: oom != 0})
	}
}

//export berthGoOnConsole
func berthGoOnConsole(h C.uintptr_t, id *C.char, masterFd C.intptr_t) {
	defer crashOnPanic()
	master := os.NewFile(uintptr(masterFd), "berth-console")
	if f := hooksOf(h).user.OnConsole; f != nil {
		f(C.GoString(id), master)
	} else {
		master.Close()
	}
}
