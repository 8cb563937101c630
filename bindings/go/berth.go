package berth

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../build/lib -lberth -Wl,-rpath,${SRCDIR}/../../build/lib
#include <stdlib.h>
#include "berth.h"

// In trampolines.c.
berth_hooks berth_go_hooks(uintptr_t handle, int start, int oom, int exit, int console);
*/
import "C"

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Version is the version of the loaded libberth, "MAJOR.MINOR.PATCH".
func Version() string { return C.GoString(C.berth_version()) }

// ABIVersion is the C ABI version of the loaded libberth.
func ABIVersion() uint32 { return uint32(C.berth_abi_version()) }

// HeaderABIVersion is the C ABI version of the berth.h this package was built against.
const HeaderABIVersion = uint32(C.BERTH_ABI_VERSION)

// Options configure a driver. Empty fields are omitted, so berth's defaults apply.
type Options struct {
	// Kind is the driver: "native" (the default) or "lxc" (the same containers through
	// LXC 5's lxc-execute; see docs/lxc.md). "windows" is ErrUnsupported here: the Windows
	// driver is in a Windows build of libberth (berth.dll; see docs/windows.md), which this
	// binding, passing file descriptors, does not target.
	Kind string `json:"kind,omitempty"`
	// Root is the state directory (default /run/berth).
	Root string `json:"root,omitempty"`
	// HelperPath is the berth-init executable (default: $BERTH_HELPER, then berth-init
	// beside libberth.so and beside the running executable).
	HelperPath string `json:"helper_path,omitempty"`
	// CgroupParent is the cgroup the containers go under (default "berth").
	CgroupParent string `json:"cgroup_parent,omitempty"`
	// KeepContainers makes Close leave the driver's containers as they are (created,
	// running or paused, with their state under Root) instead of killing and deleting them,
	// for a later driver on the same Root, in this process or another, to take back: a
	// running one keeps running, a created one can still be started. A short-lived process
	// such as a command-line tool wants this.
	KeepContainers bool `json:"keep_containers,omitempty"`
	// SeccompCache is a directory where compiled seccomp filters are kept for the next
	// driver (created 0700; used only while it is owned by this process's effective uid and
	// no one else can write it). A process that makes a driver per container wants it.
	SeccompCache string `json:"seccomp_cache,omitempty"`
}

// Stdio gives the standard streams of a container process. A nil file is /dev/null; the zero
// Stdio puts all three there.
//
// berth duplicates the descriptors during the call; the caller keeps its files and may
// close them once the call returns. As with os/exec, a file passed here is put in blocking
// mode (os.File.Fd), which is what the process on the other end expects.
type Stdio struct {
	Stdin, Stdout, Stderr *os.File
}

// Driver runs containers. It is safe for concurrent use by many goroutines: operations on
// different containers never wait for each other. Call Close when done with it.
type Driver struct {
	// mu is read-held by every call in progress and write-held by Close, which sets c to nil.
	mu      sync.RWMutex
	c       *C.berth_driver
	closing atomic.Bool
	keep    bool // Options.KeepContainers

	// The hooks of containers made by Create and of their detached execs, kept until Delete
	// (or Close): libberth may call them until the container is deleted.
	handlesMu sync.Mutex
	handles   map[string][]cgo.Handle
}

// NewDriver makes a driver. It fails with ErrPermission or ErrSystem when the driver cannot
// set itself up (no helper, no cgroups, not root) and ErrUnsupported for a driver kind this
// build lacks.
func NewDriver(opts Options) (*Driver, error) {
	const op = "new driver"
	if ABIVersion() != HeaderABIVersion {
		return nil, newError(op, KindUnsupported,
			"libberth has ABI version %d, this package was built for %d", ABIVersion(), HeaderABIVersion)
	}
	options, err := json.Marshal(opts)
	if err != nil {
		return nil, newError(op, KindInvalidArgument, "options: %v", err)
	}
	coptions := C.CString(string(options))
	defer C.free(unsafe.Pointer(coptions))
	var c *C.berth_driver
	if err := takeError(op, C.berth_driver_new(coptions, &c)); err != nil {
		return nil, err
	}
	return &Driver{c: c, keep: opts.KeepContainers, handles: make(map[string][]cgo.Handle)}, nil
}

// Close releases the driver. Calls made after Close fail with ErrInvalidState; closing
// twice is a no-op. Close must not be called from a hook.
//
// By default Close kills and deletes every container of the driver, and calls in progress
// on other goroutines (a Run, Exec, Wait or WaitExec blocked on a container) return once
// their container is killed.
//
// With Options.KeepContainers, Close kills and deletes nothing: the containers are left as
// they are for a later driver on the same root, and no hook of theirs runs again. Close then
// waits for the calls in progress to return, so end those first: a Wait on a container that
// keeps running blocks Close until the container ends.
func (d *Driver) Close() error {
	if d.closing.Swap(true) {
		return nil
	}
	for !d.mu.TryLock() {
		// Something is in progress: kill every container so that it returns, unless they
		// are to be kept.
		if !d.keep {
			d.killAll()
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer d.mu.Unlock()
	C.berth_driver_free(d.c)
	d.c = nil
	d.handlesMu.Lock()
	for id, hs := range d.handles {
		for _, h := range hs {
			h.Delete()
		}
		delete(d.handles, id)
	}
	d.handlesMu.Unlock()
	return nil
}

// keepHooks keeps the hooks of container id until it is deleted.
func (d *Driver) keepHooks(id string, ch callHooks) {
	if ch.handle == 0 {
		return
	}
	d.handlesMu.Lock()
	d.handles[id] = append(d.handles[id], ch.handle)
	d.handlesMu.Unlock()
}

// releaseHooks releases the hooks of container id, which libberth calls no more.
func (d *Driver) releaseHooks(id string) {
	d.handlesMu.Lock()
	hs := d.handles[id]
	delete(d.handles, id)
	d.handlesMu.Unlock()
	for _, h := range hs {
		h.Delete()
	}
}

// killAll sends SIGKILL to every process of every container, and thaws the paused ones so
// that the signal is delivered.
func (d *Driver) killAll() {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.c == nil {
		return
	}
	var states []State
	if err := d.callJSON("list", d.c, func(out **C.char) *C.berth_error {
		return C.berth_list(d.c, out)
	}, &states); err != nil {
		return
	}
	for _, s := range states {
		if s.Status == StatusStopped {
			continue
		}
		id := C.CString(s.ID)
		C.berth_error_free(C.berth_kill(d.c, id, C.int32_t(syscall.SIGKILL), true))
		if s.Status == StatusPaused {
			C.berth_error_free(C.berth_resume(d.c, id))
		}
		C.free(unsafe.Pointer(id))
	}
}

// enter begins a call: it returns the C driver, read-locked, or an error once closed.
// Every successful enter is paired with a leave.
func (d *Driver) enter(op string) (*C.berth_driver, error) {
	if d.closing.Load() {
		return nil, newError(op, KindInvalidState, "the driver is closed")
	}
	d.mu.RLock()
	if d.c == nil {
		d.mu.RUnlock()
		return nil, newError(op, KindInvalidState, "the driver is closed")
	}
	return d.c, nil
}

func (d *Driver) leave() { d.mu.RUnlock() }

// takeError turns a berth_error into an *Error and frees it; NULL is nil.
func takeError(op string, e *C.berth_error) error {
	if e == nil {
		return nil
	}
	defer C.berth_error_free(e)
	return &Error{
		Op:      op,
		Kind:    ErrorKind(C.berth_error_kind_of(e)),
		Message: C.GoString(C.berth_error_message(e)),
		Errno:   syscall.Errno(C.berth_error_errno(e)),
	}
}

// cString copies s for C, which the caller frees; a NUL byte is an invalid argument.
func cString(op, what, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, newError(op, KindInvalidArgument, "%s contains a NUL byte", what)
	}
	return C.CString(s), nil
}

func freeString(p *C.char) { C.free(unsafe.Pointer(p)) }

func marshal(op, what string, v interface{}) (*C.char, error) {
	text, err := json.Marshal(v)
	if err != nil {
		return nil, newError(op, KindInvalidArgument, "%s: %v", what, err)
	}
	return C.CString(string(text)), nil
}

// cStdio gives the berth_stdio of s, or nil (libberth's "all on the null device") for the
// zero Stdio. A closed file is an error: its Fd would be -1, the null device for berth.
func (s Stdio) cStdio(op string) (*C.berth_stdio, error) {
	if s == (Stdio{}) {
		return nil, nil
	}
	handle := func(name string, f *os.File) (C.berth_handle, error) {
		if f == nil {
			return C.BERTH_NULL_HANDLE, nil
		}
		n := f.Fd()
		if n == ^uintptr(0) {
			return 0, newError(op, KindInvalidArgument, "stdio.%s (%s) is closed", name, f.Name())
		}
		return C.berth_handle(n), nil
	}
	out := &C.berth_stdio{size: C.sizeof_berth_stdio}
	var err error
	if out.stdin_handle, err = handle("Stdin", s.Stdin); err != nil {
		return nil, err
	}
	if out.stdout_handle, err = handle("Stdout", s.Stdout); err != nil {
		return nil, err
	}
	if out.stderr_handle, err = handle("Stderr", s.Stderr); err != nil {
		return nil, err
	}
	return out, nil
}

func goStatus(s C.berth_exit_status) ExitStatus {
	return ExitStatus{Code: int64(s.exit_code), Signal: syscall.Signal(s.signal), OOMKilled: bool(s.oom_killed)}
}

// canceller kills a process once ctx is done and the process has started, until stop.
type canceller struct {
	started   chan struct{}
	startOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
	killed    atomic.Bool
}

// watch starts a canceller that calls kill (reporting whether it sent the signal) when ctx
// is done after markStarted; nil when ctx can never be done.
func watch(ctx context.Context, kill func() bool) *canceller {
	if ctx.Done() == nil {
		return nil
	}
	c := &canceller{started: make(chan struct{}), done: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-c.done:
			return
		case <-ctx.Done():
		}
		select {
		case <-c.done:
			return
		case <-c.started:
		}
		if kill() {
			c.killed.Store(true)
		}
	}()
	return c
}

func (c *canceller) markStarted() {
	if c != nil {
		c.startOnce.Do(func() { close(c.started) })
	}
}

// stop ends the watch and reports whether it killed the process.
func (c *canceller) stop() bool {
	if c == nil {
		return false
	}
	close(c.done)
	c.wg.Wait()
	return c.killed.Load()
}

// Run creates the container, starts it, waits for it to exit, deletes it, and returns how
// it ended. It blocks until then.
//
// Cancelling ctx once the program runs sends SIGKILL to every process of the container;
// Run then returns the real exit status (code 137, signal 9) together with ctx.Err(). If
// ctx is cancelled while the container is being set up, the kill comes as soon as the
// program starts (Run never kills a container it did not start itself). The error is
// ctx.Err() exactly when Run sent that SIGKILL; a container that ended on its own returns a
// nil error even if ctx was cancelled meanwhile. An already cancelled ctx returns ctx.Err()
// without creating anything.
func (d *Driver) Run(ctx context.Context, cmd Command, stdio Stdio, hooks Hooks) (ExitStatus, error) {
	const op = "run"
	if err := ctx.Err(); err != nil {
		return ExitStatus{}, err
	}
	cid, err := cString(op, "id", cmd.ID)
	if err != nil {
		return ExitStatus{}, err
	}
	defer freeString(cid)
	command, err := marshal(op, "command", cmd)
	if err != nil {
		return ExitStatus{}, err
	}
	defer freeString(command)
	cstdio, err := stdio.cStdio(op)
	if err != nil {
		return ExitStatus{}, err
	}
	c, err := d.enter(op)
	if err != nil {
		return ExitStatus{}, err
	}
	defer d.leave()

	cancel := watch(ctx, func() bool {
		if e := C.berth_kill(c, cid, C.int32_t(syscall.SIGKILL), true); e != nil {
			C.berth_error_free(e) // it has stopped already
			return false
		}
		return true
	})
	hs := &hookSet{user: hooks}
	if cancel != nil {
		hs.started = func(int) { cancel.markStarted() }
	}
	chooks := newCallHooks(hs)
	defer chooks.release()

	var status C.berth_exit_status
	e := C.berth_run(c, command, cstdio, chooks.c, &status)
	killed := cancel.stop()
	runtime.KeepAlive(stdio)
	if err := takeError(op, e); err != nil {
		return ExitStatus{}, err
	}
	if killed {
		return goStatus(status), ctx.Err()
	}
	return goStatus(status), nil
}

// Exec runs another process in the running container id, and returns how it ended. It
// blocks until the process exits. The hooks get the container's id.
//
// Cancelling ctx once the process runs sends SIGKILL to that process alone (through a pidfd
// opened when it starts, so never to another process); Exec then returns its real exit
// status (code 137) together with ctx.Err(). Processes it started itself are not killed.
// As for Run, the error is ctx.Err() exactly when Exec killed the process, and an already
// cancelled ctx returns ctx.Err() at once.
func (d *Driver) Exec(ctx context.Context, id string, p Process, stdio Stdio, hooks Hooks) (ExitStatus, error) {
	const op = "exec"
	if err := ctx.Err(); err != nil {
		return ExitStatus{}, err
	}
	cid, err := cString(op, "id", id)
	if err != nil {
		return ExitStatus{}, err
	}
	defer freeString(cid)
	process, err := marshal(op, "process", p)
	if err != nil {
		return ExitStatus{}, err
	}
	defer freeString(process)
	cstdio, err := stdio.cStdio(op)
	if err != nil {
		return ExitStatus{}, err
	}
	c, err := d.enter(op)
	if err != nil {
		return ExitStatus{}, err
	}
	defer d.leave()

	// The process's pidfd, opened in on_start: berth reaps the process on this goroutine's
	// thread only after on_start returns, so the pid is still the process's then.
	pidfd := -1
	cancel := watch(ctx, func() bool { return pidfd >= 0 && pidfdKill(pidfd) == nil })
	hs := &hookSet{user: hooks}
	if cancel != nil {
		hs.started = func(pid int) {
			if fd, err := pidfdOpen(pid); err == nil {
				pidfd = fd // published to the watcher by markStarted's channel close
			}
			cancel.markStarted()
		}
	}
	chooks := newCallHooks(hs)
	defer chooks.release()

	var status C.berth_exit_status
	e := C.berth_exec(c, cid, process, cstdio, chooks.c, &status)
	killed := cancel.stop()
	if pidfd >= 0 {
		syscall.Close(pidfd)
	}
	runtime.KeepAlive(stdio)
	if err := takeError(op, e); err != nil {
		return ExitStatus{}, err
	}
	if killed {
		return goStatus(status), ctx.Err()
	}
	return goStatus(status), nil
}

// Create sets the container up and leaves it waiting just before its program runs (Start
// runs it); it returns the host pid of the container's init. The hooks are kept until
// Delete.
func (d *Driver) Create(cmd Command, stdio Stdio, hooks Hooks) (pid int, err error) {
	const op = "create"
	command, err := marshal(op, "command", cmd)
	if err != nil {
		return 0, err
	}
	defer freeString(command)
	return d.launchKept(op, cmd.ID, stdio, hooks, func(c *C.berth_driver, s *C.berth_stdio, h *C.berth_hooks, pid *C.int32_t) *C.berth_error {
		return C.berth_create(c, command, s, h, pid)
	})
}

// launchKept makes a call that starts something in container id and returns a pid (Create,
// ExecDetached), whose hooks libberth may call until the container is deleted: it keeps
// them until Delete.
func (d *Driver) launchKept(op, id string, stdio Stdio, hooks Hooks,
	call func(c *C.berth_driver, s *C.berth_stdio, h *C.berth_hooks, pid *C.int32_t) *C.berth_error) (int, error) {
	cstdio, err := stdio.cStdio(op)
	if err != nil {
		return 0, err
	}
	c, err := d.enter(op)
	if err != nil {
		return 0, err
	}
	defer d.leave()

	chooks := newCallHooks(&hookSet{user: hooks})
	var cpid C.int32_t
	e := call(c, cstdio, chooks.c, &cpid)
	runtime.KeepAlive(stdio)
	if err := takeError(op, e); err != nil {
		chooks.release()
		return 0, err
	}
	d.keepHooks(id, chooks)
	return int(cpid), nil
}

// ExecDetached starts another process in the running container id and returns its host pid
// at once. How it ends goes to hooks.OnExit (on a thread berth owns) and to WaitExec; berth
// reaps it and keeps its exit until the container is deleted. OnStart runs before
// ExecDetached returns. The hooks get the container's id and, as Create's, are kept until
// Delete: libberth may call them until the container is deleted.
//
// It takes no context, as Create does: it does not wait for the process. The errors are
// Exec's: ErrNotFound for an unknown id, ErrInvalidState when the container is not running.
func (d *Driver) ExecDetached(id string, p Process, stdio Stdio, hooks Hooks) (pid int, err error) {
	const op = "exec detached"
	cid, err := cString(op, "id", id)
	if err != nil {
		return 0, err
	}
	defer freeString(cid)
	process, err := marshal(op, "process", p)
	if err != nil {
		return 0, err
	}
	defer freeString(process)
	return d.launchKept(op, id, stdio, hooks, func(c *C.berth_driver, s *C.berth_stdio, h *C.berth_hooks, pid *C.int32_t) *C.berth_error {
		return C.berth_exec_detached(c, cid, process, s, h, pid)
	})
}

// WaitExec blocks until the process pid, started by ExecDetached in the container id, has
// exited and its OnExit has returned, and returns how it ended; at once if it has exited
// already, with the same status every time until the container is deleted.
//
// Like Wait, it takes no context: to end it early, kill the process (Kill with all reaches
// every process of the container) or delete the container. A Delete meanwhile ends the
// wait, with ErrNotFound if the process had not ended. A pid that is not a detached exec of
// the container is ErrNotFound too.
func (d *Driver) WaitExec(id string, pid int) (ExitStatus, error) {
	const op = "wait exec"
	if pid < math.MinInt32 || pid > math.MaxInt32 {
		return ExitStatus{}, newError(op, KindInvalidArgument, "pid %d is out of range", pid)
	}
	var status C.berth_exit_status
	err := d.withID(op, id, func(c *C.berth_driver, cid *C.char) *C.berth_error {
		return C.berth_wait_exec(c, cid, C.int32_t(pid), &status)
	})
	if err != nil {
		return ExitStatus{}, err
	}
	return goStatus(status), nil
}

// withID runs one call that takes the container id.
func (d *Driver) withID(op, id string, call func(c *C.berth_driver, cid *C.char) *C.berth_error) error {
	cid, err := cString(op, "id", id)
	if err != nil {
		return err
	}
	defer freeString(cid)
	c, err := d.enter(op)
	if err != nil {
		return err
	}
	defer d.leave()
	return takeError(op, call(c, cid))
}

// Start lets a created container run its program.
func (d *Driver) Start(id string) error {
	return d.withID("start", id, func(c *C.berth_driver, cid *C.char) *C.berth_error {
		return C.berth_start(c, cid)
	})
}

// Wait blocks until the container's init exits and returns how it ended; on a stopped
// container it returns at once.
func (d *Driver) Wait(id string) (ExitStatus, error) {
	var status C.berth_exit_status
	err := d.withID("wait", id, func(c *C.berth_driver, cid *C.char) *C.berth_error {
		return C.berth_wait(c, cid, &status)
	})
	if err != nil {
		return ExitStatus{}, err
	}
	return goStatus(status), nil
}

// Kill sends sig to the container's init, or to every process of the container when all.
func (d *Driver) Kill(id string, sig syscall.Signal, all bool) error {
	return d.withID("kill", id, func(c *C.berth_driver, cid *C.char) *C.berth_error {
		return C.berth_kill(c, cid, C.int32_t(sig), C.bool(all))
	})
}

// Delete removes a container and everything berth made for it. A created, running or
// paused one is refused (ErrInvalidState) unless force, which kills it first.
func (d *Driver) Delete(id string, force bool) error {
	err := d.withID("delete", id, func(c *C.berth_driver, cid *C.char) *C.berth_error {
		return C.berth_delete(c, cid, C.bool(force))
	})
	if err == nil || isKind(err, KindNotFound) {
		// Deleted: libberth calls its hooks no more.
		d.releaseHooks(id)
	}
	return err
}

func isKind(err error, kind ErrorKind) bool {
	e, ok := err.(*Error)
	return ok && e.Kind == kind
}

// Pause freezes every process of a running container.
func (d *Driver) Pause(id string) error {
	return d.withID("pause", id, func(c *C.berth_driver, cid *C.char) *C.berth_error {
		return C.berth_pause(c, cid)
	})
}

// Resume thaws a paused container.
func (d *Driver) Resume(id string) error {
	return d.withID("resume", id, func(c *C.berth_driver, cid *C.char) *C.berth_error {
		return C.berth_resume(c, cid)
	})
}

// Resize sets the terminal size of a container whose process has a terminal.
func (d *Driver) Resize(id string, rows, cols uint16) error {
	return d.withID("resize", id, func(c *C.berth_driver, cid *C.char) *C.berth_error {
		return C.berth_resize(c, cid, C.uint16_t(rows), C.uint16_t(cols))
	})
}

// Update changes the resources of a created, running or paused container, as runc update
// does: the fields of r that are set (non-zero, as in Command.Resources) are written, the
// others keep their values. Once the container has stopped it is ErrInvalidState. A value
// out of range is ErrInvalidArgument, named by its path (resources.pids_limit); a resource
// this host's cgroups lack, ErrUnsupported; a value the kernel refuses, ErrSystem with its
// Errno, and the message says which fields were written before it (they stay).
func (d *Driver) Update(id string, r Resources) error {
	const op = "update"
	resources, err := marshal(op, "resources", r)
	if err != nil {
		return err
	}
	defer freeString(resources)
	return d.withID(op, id, func(c *C.berth_driver, cid *C.char) *C.berth_error {
		return C.berth_update(c, cid, resources)
	})
}

// callJSON makes a call that returns a JSON string and decodes it into v.
func (d *Driver) callJSON(op string, c *C.berth_driver, call func(out **C.char) *C.berth_error, v interface{}) error {
	var out *C.char
	if err := takeError(op, call(&out)); err != nil {
		return err
	}
	defer C.berth_string_free(out)
	if err := json.Unmarshal([]byte(C.GoString(out)), v); err != nil {
		return newError(op, KindInternal, "libberth returned JSON this package cannot read: %v", err)
	}
	return nil
}

// withIDJSON makes a call that takes the container id and returns a JSON string, and
// decodes the string into v.
func (d *Driver) withIDJSON(op, id string, call func(c *C.berth_driver, cid *C.char, out **C.char) *C.berth_error, v interface{}) error {
	cid, err := cString(op, "id", id)
	if err != nil {
		return err
	}
	defer freeString(cid)
	c, err := d.enter(op)
	if err != nil {
		return err
	}
	defer d.leave()
	return d.callJSON(op, c, func(out **C.char) *C.berth_error { return call(c, cid, out) }, v)
}

// State returns the state of a container.
func (d *Driver) State(id string) (State, error) {
	var state State
	err := d.withIDJSON("state", id, func(c *C.berth_driver, cid *C.char, out **C.char) *C.berth_error {
		return C.berth_state(c, cid, out)
	}, &state)
	return state, err
}

// Stats returns the resource usage of a container.
func (d *Driver) Stats(id string) (Stats, error) {
	var stats Stats
	err := d.withIDJSON("stats", id, func(c *C.berth_driver, cid *C.char, out **C.char) *C.berth_error {
		return C.berth_stats(c, cid, out)
	}, &stats)
	return stats, err
}

// List returns the states of every container of the driver.
func (d *Driver) List() ([]State, error) {
	const op = "list"
	c, err := d.enter(op)
	if err != nil {
		return nil, err
	}
	defer d.leave()
	var states []State
	if err := d.callJSON(op, c, func(out **C.char) *C.berth_error {
		return C.berth_list(c, out)
	}, &states); err != nil {
		return nil, err
	}
	return states, nil
}
