package berth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	berth "berth.dev/bindings/go"
)

// The tests run containers through a real driver, as root. Environment:
//
//	BERTH_TEST_ROOTFS  the busybox rootfs (default: build/rootfs of the repository)
//	BERTH_HELPER       the berth-init helper (default: target/release/berth-init, or
//	                   $CARGO_TARGET_DIR/release/berth-init)
//
// The driver's state goes under /run/berth-gotest-<pid> and its cgroups under berth-gotest;
// both are removed at the end.

const cgroupParent = "berth-gotest"

var (
	driver   *berth.Driver
	setupErr error
	rootfs   string
	helper   string
	stateDir = fmt.Sprintf("/run/berth-gotest-%d", os.Getpid())
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	repo, _ := filepath.Abs("../..")
	rootfs = os.Getenv("BERTH_TEST_ROOTFS")
	if rootfs == "" {
		rootfs = filepath.Join(repo, "build", "rootfs")
	}
	helper = os.Getenv("BERTH_HELPER")
	if helper == "" {
		target := os.Getenv("CARGO_TARGET_DIR")
		if target == "" {
			target = filepath.Join(repo, "target")
		}
		helper = filepath.Join(target, "release", "berth-init")
	}
	switch {
	case os.Geteuid() != 0:
		setupErr = errors.New("the driver tests need root")
	case !isDir(rootfs):
		setupErr = fmt.Errorf("no rootfs at %s: run scripts/build-rootfs.sh or set BERTH_TEST_ROOTFS", rootfs)
	default:
		driver, setupErr = berth.NewDriver(berth.Options{Root: stateDir, HelperPath: helper, CgroupParent: cgroupParent})
	}
	code := m.Run()
	if driver != nil {
		// Every test cleans up after itself: anything left is a leak.
		if states, err := driver.List(); err != nil || len(states) != 0 {
			fmt.Fprintf(os.Stderr, "FAIL: containers left behind: %v %v\n", states, err)
			code = 1
		}
		driver.Close()
	}
	os.RemoveAll(stateDir)
	removeCgroupParent()
	return code
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// removeCgroupParent removes the (empty) berth-gotest cgroups of every hierarchy; one still
// in use by another run stays.
func removeCgroupParent() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupParent)
	dirs = append(dirs, "/sys/fs/cgroup/"+cgroupParent)
	for _, dir := range dirs {
		os.Remove(dir)
	}
}

func needDriver(t *testing.T) *berth.Driver {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("no driver: %v", setupErr)
	}
	return driver
}

func id(name string) string { return fmt.Sprintf("gotest-%d-%s", os.Getpid(), name) }

func shell(id, script string) berth.Command {
	return berth.Command{
		ID:      id,
		Rootfs:  rootfs,
		Process: berth.Process{Args: []string{"/bin/sh", "-c", script}},
	}
}

// startSleeper creates and starts a container running `sleep 60`; it is deleted (force) when
// the test ends.
func startSleeper(t *testing.T, d *berth.Driver, cid string) {
	t.Helper()
	startCommand(t, d, shell(cid, "exec sleep 60"))
}

// startCommand creates and starts cmd's container; it is deleted (force) when the test ends.
func startCommand(t *testing.T, d *berth.Driver, cmd berth.Command) {
	t.Helper()
	if _, err := d.Create(cmd, berth.Stdio{}, berth.Hooks{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Delete(cmd.ID, true); err != nil && !errors.Is(err, berth.ErrNotFound) {
			t.Errorf("delete %s: %v", cmd.ID, err)
		}
	})
	if err := d.Start(cmd.ID); err != nil {
		t.Fatalf("start: %v", err)
	}
}

// capture runs f with a pipe as stdout and stderr and returns what was written to it.
func capture(t *testing.T, f func(stdio berth.Stdio)) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := make(chan []byte)
	go func() {
		out, _ := io.ReadAll(r)
		done <- out
	}()
	f(berth.Stdio{Stdout: w, Stderr: w})
	w.Close()
	return string(<-done)
}

func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Errorf("%s: not within 5 s", what)
	}
}

// recorder records the OnStart and OnExit calls of the container id.
type recorder struct {
	id                      string
	starts, startPid, exits int32
	exited                  chan berth.ExitStatus
}

func newRecorder(id string) *recorder {
	return &recorder{id: id, exited: make(chan berth.ExitStatus, 1)}
}

func (r *recorder) hooks() berth.Hooks {
	return berth.Hooks{
		OnStart: func(hid string, pid int) {
			if hid == r.id {
				atomic.AddInt32(&r.starts, 1)
				atomic.StoreInt32(&r.startPid, int32(pid))
			}
		},
		OnExit: func(hid string, s berth.ExitStatus) {
			if hid == r.id && atomic.AddInt32(&r.exits, 1) == 1 {
				r.exited <- s
			}
		},
	}
}

// started gives the number of OnStart calls and the pid of the last.
func (r *recorder) started() (calls int32, pid int) {
	return atomic.LoadInt32(&r.starts), int(atomic.LoadInt32(&r.startPid))
}

func (r *recorder) exitCalls() int32 { return atomic.LoadInt32(&r.exits) }

// exit checks the status of the first OnExit, which must come within 5 s.
func (r *recorder) exit(t *testing.T, want berth.ExitStatus) {
	t.Helper()
	select {
	case s := <-r.exited:
		if s != want {
			t.Errorf("OnExit status %+v, want %+v", s, want)
		}
	case <-time.After(5 * time.Second):
		t.Error("OnExit not called")
	}
}

func TestVersion(t *testing.T) {
	if v := berth.Version(); strings.Count(v, ".") != 2 {
		t.Errorf("Version() = %q, want MAJOR.MINOR.PATCH", v)
	}
	if berth.ABIVersion() != berth.HeaderABIVersion || berth.ABIVersion() != 2 {
		t.Errorf("ABIVersion() = %d, header %d, want 2", berth.ABIVersion(), berth.HeaderABIVersion)
	}
}

func TestRun(t *testing.T) {
	d := needDriver(t)
	cid := id("run")
	rec := newRecorder(cid)
	var status berth.ExitStatus
	var err error
	out := capture(t, func(stdio berth.Stdio) {
		status, err = d.Run(context.Background(), shell(cid, "echo hello from $(hostname); echo oops >&2; exit 7"), stdio, rec.hooks())
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if status != (berth.ExitStatus{Code: 7}) || status.Success() {
		t.Errorf("status = %+v, want code 7", status)
	}
	if want := "hello from " + cid + "\noops\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if starts, pid := rec.started(); starts != 1 || pid <= 0 {
		t.Errorf("OnStart: %d calls, pid %d", starts, pid)
	}
	rec.exit(t, berth.ExitStatus{Code: 7})
	if _, err := d.State(cid); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("after Run the container should be deleted; State: %v", err)
	}
}

func TestRunStdin(t *testing.T) {
	d := needDriver(t)
	in, err := os.CreateTemp("", "berth-stdin")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(in.Name())
	defer in.Close()
	in.WriteString("line one\nline two\n")
	in.Seek(0, io.SeekStart)
	out := capture(t, func(stdio berth.Stdio) {
		stdio.Stdin = in
		if _, err := d.Run(context.Background(), shell(id("stdin"), "wc -l"), stdio, berth.Hooks{}); err != nil {
			t.Errorf("run: %v", err)
		}
	})
	if strings.TrimSpace(out) != "2" {
		t.Errorf("wc -l of stdin gave %q, want 2", out)
	}
}

// TestRunWithoutStdioOrHooks: the zero Stdio and Hooks reach libberth as NULL (checked in
// export_test.go), which puts the three streams on the null device and calls no hook.
func TestRunWithoutStdioOrHooks(t *testing.T) {
	d := needDriver(t)
	if !berth.NullStdio(berth.Stdio{}) || berth.NullStdio(berth.Stdio{Stderr: os.Stderr}) {
		t.Error("the zero Stdio should be NULL, and only it")
	}
	if !berth.NullHooks(berth.Hooks{}) || berth.NullHooks(berth.Hooks{OnOOM: func(string) {}}) {
		t.Error("the zero Hooks should be NULL, and only them")
	}
	// Exit 6 when every stream is a character device (the null device) and stdin is empty.
	script := `for n in 0 1 2; do [ -c /proc/self/fd/$n ] || exit 1; done; read -r line && exit 2; exit 6`
	status, err := d.Run(context.Background(), shell(id("no-stdio"), script), berth.Stdio{}, berth.Hooks{})
	if err != nil || status != (berth.ExitStatus{Code: 6}) {
		t.Errorf("run with no stdio and no hooks: %+v, %v; want code 6", status, err)
	}
}

// TestWireForm runs a container that uses most fields of Command and Process: berth
// rejects unknown fields, so this proves the Go names marshal to the wire form.
func TestWireForm(t *testing.T) {
	d := needDriver(t)
	cid := id("wire")
	cmd := berth.Command{
		ID:             cid,
		Rootfs:         rootfs,
		ReadonlyRootfs: true,
		Hostname:       "wired",
		Process: berth.Process{
			Args:            []string{"sh", "-c", `echo "$(hostname) $(pwd) $(id -u):$(id -g) $(id -G) $FOO $(ulimit -n)"; grep -c ' /scratch tmpfs ' /proc/mounts; cat /proc/sys/kernel/shmmni; touch /x 2>/dev/null || echo ro`},
			Env:             []string{"FOO=bar", "PATH=/bin:/usr/bin"},
			Cwd:             "/tmp",
			User:            "1000",
			AdditionalGids:  []uint32{29},
			NoNewPrivileges: berth.Bool(true),
			Rlimits:         []berth.Rlimit{{Type: "nofile", Soft: 123, Hard: 456}},
		},
		Namespaces: berth.Namespaces{
			Pid: berth.NamespacePrivate, Net: berth.NamespaceNone, User: berth.NamespaceHost,
		},
		Mounts: []berth.Mount{
			{Destination: "/scratch", Type: "tmpfs", Options: []string{"size=16m", "nosuid"}},
		},
		Resources: berth.Resources{
			MemoryLimit: 64 << 20, MemoryReservation: 32 << 20, PidsLimit: 64, CPUShares: 512,
			CPUQuota: 50000, CPUPeriod: 100000,
		},
		CgroupParent:  cgroupParent,
		MaskedPaths:   []string{},
		ReadonlyPaths: nil,
		Sysctls:       map[string]string{"kernel.shmmni": "2048"},
	}
	var status berth.ExitStatus
	var err error
	out := capture(t, func(stdio berth.Stdio) {
		status, err = d.Run(context.Background(), cmd, stdio, berth.Hooks{})
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	want := "wired /tmp 1000:1000 1000 10 29 bar 123\n1\n2048\nro\n"
	if status.Code != 0 || out != want {
		t.Errorf("status %v, output %q, want %q", status, out, want)
	}
}

func TestLifecycle(t *testing.T) {
	d := needDriver(t)
	cid := id("life")
	started := make(chan struct{})
	pid, err := d.Create(shell(cid, "exit 5"), berth.Stdio{}, berth.Hooks{
		OnStart: func(string, int) { close(started) },
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	defer d.Delete(cid, true)
	if pid <= 0 {
		t.Errorf("Create returned pid %d", pid)
	}
	state, err := d.State(cid)
	if err != nil || state.ID != cid || state.Status != berth.StatusCreated || state.Pid != pid ||
		state.Rootfs != rootfs || state.CgroupPath == "" || state.ExitStatus != nil ||
		time.Since(state.Created) > time.Minute || time.Since(state.Created) < 0 {
		t.Errorf("state after create: %+v, %v", state, err)
	}
	states, err := d.List()
	found := false
	for _, s := range states {
		found = found || s.ID == cid
	}
	if err != nil || !found {
		t.Errorf("List: %+v, %v: %s missing", states, err, cid)
	}
	if err := d.Delete(cid, false); !errors.Is(err, berth.ErrInvalidState) {
		t.Errorf("Delete of a created container without force: %v, want ErrInvalidState", err)
	}
	if err := d.Start(cid); err != nil {
		t.Fatalf("start: %v", err)
	}
	within(t, started, "OnStart")
	status, err := d.Wait(cid)
	if err != nil || status != (berth.ExitStatus{Code: 5}) {
		t.Errorf("wait: %+v, %v", status, err)
	}
	state, err = d.State(cid)
	if err != nil || state.Status != berth.StatusStopped || state.ExitStatus == nil || state.ExitStatus.Code != 5 {
		t.Errorf("state after wait: %+v, %v", state, err)
	}
	if err := d.Start(cid); !errors.Is(err, berth.ErrInvalidState) {
		t.Errorf("Start of a stopped container: %v, want ErrInvalidState", err)
	}
	if err := d.Delete(cid, false); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, err := d.State(cid); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("State after delete: %v, want ErrNotFound", err)
	}
}

func TestPauseResumeStats(t *testing.T) {
	d := needDriver(t)
	cid := id("pause")
	startSleeper(t, d, cid)
	if err := d.Pause(cid); err != nil {
		t.Fatalf("pause: %v", err)
	}
	if s, err := d.State(cid); err != nil || s.Status != berth.StatusPaused {
		t.Errorf("state after pause: %+v, %v", s, err)
	}
	if err := d.Resume(cid); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if s, err := d.State(cid); err != nil || s.Status != berth.StatusRunning {
		t.Errorf("state after resume: %+v, %v", s, err)
	}
	stats, err := d.Stats(cid)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if stats.Memory.Usage == nil || *stats.Memory.Usage == 0 || stats.Pids.Current == nil || *stats.Pids.Current != 1 {
		t.Errorf("stats: memory usage %v, pids %v", stats.Memory.Usage, stats.Pids.Current)
	}
}

func TestUpdate(t *testing.T) {
	d := needDriver(t)
	cid := id("update")
	cmd := shell(cid, "exec sleep 60")
	cmd.Resources = berth.Resources{MemoryLimit: 64 << 20}
	startCommand(t, d, cmd)
	limits := func(what string, pids uint64) {
		t.Helper()
		stats, err := d.Stats(cid)
		if err != nil {
			t.Fatalf("stats %s: %v", what, err)
		}
		if stats.Pids.Limit == nil || *stats.Pids.Limit != pids {
			t.Errorf("pids limit %s: %v, want %d", what, stats.Pids.Limit, pids)
		}
		if stats.Memory.Limit == nil || *stats.Memory.Limit != 64<<20 {
			t.Errorf("memory limit %s: %v, want the one of create, %d", what, stats.Memory.Limit, 64<<20)
		}
	}
	if err := d.Update(cid, berth.Resources{PidsLimit: 42}); err != nil {
		t.Fatalf("update: %v", err)
	}
	limits("after an update", 42)

	if err := d.Pause(cid); err != nil {
		t.Fatal(err)
	}
	if err := d.Update(cid, berth.Resources{PidsLimit: 43}); err != nil {
		t.Errorf("update of a paused container: %v", err)
	}
	limits("after an update while paused", 43)
	if err := d.Resume(cid); err != nil {
		t.Fatal(err)
	}

	err := d.Update(cid, berth.Resources{CPUShares: 1})
	if !errors.Is(err, berth.ErrInvalidArgument) || !strings.Contains(err.Error(), "resources.cpu_shares") {
		t.Errorf("update with cpu_shares 1: %v, want ErrInvalidArgument naming resources.cpu_shares", err)
	}
	limits("after a refused update", 43)
	if err := d.Update("no-such-container", berth.Resources{PidsLimit: 10}); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("update of an unknown id: %v, want ErrNotFound", err)
	}

	if err := d.Kill(cid, syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Wait(cid); err != nil {
		t.Fatal(err)
	}
	if err := d.Update(cid, berth.Resources{PidsLimit: 10}); !errors.Is(err, berth.ErrInvalidState) {
		t.Errorf("update of a stopped container: %v, want ErrInvalidState", err)
	}
}

func TestKill(t *testing.T) {
	d := needDriver(t)
	cid := id("kill")
	startSleeper(t, d, cid)
	if err := d.Kill(cid, syscall.SIGKILL, false); err != nil {
		t.Fatalf("kill: %v", err)
	}
	status, err := d.Wait(cid)
	if err != nil || status != (berth.ExitStatus{Code: 137, Signal: syscall.SIGKILL}) {
		t.Errorf("wait after SIGKILL: %+v, %v", status, err)
	}
	if err := d.Kill(cid, syscall.SIGKILL, false); !errors.Is(err, berth.ErrInvalidState) {
		t.Errorf("Kill of a stopped container: %v, want ErrInvalidState", err)
	}

	cid = id("killall")
	if _, err := d.Create(shell(cid, "trap '' TERM; sleep 60 & sleep 60 & wait"), berth.Stdio{}, berth.Hooks{}); err != nil {
		t.Fatal(err)
	}
	defer d.Delete(cid, true)
	if err := d.Start(cid); err != nil {
		t.Fatal(err)
	}
	if err := d.Kill(cid, syscall.SIGKILL, true); err != nil {
		t.Fatalf("kill all: %v", err)
	}
	if status, err := d.Wait(cid); err != nil || status.Signal != syscall.SIGKILL {
		t.Errorf("wait after kill all: %+v, %v", status, err)
	}
}

func TestInit(t *testing.T) {
	d := needDriver(t)
	// Under berth's init the program is pid 2, and SIGTERM to pid 1 reaches it.
	cmd := shell(id("init"), "[ $$ = 2 ] || exit 9; kill -TERM 1; sleep 5")
	cmd.Init = true
	status, err := d.Run(context.Background(), cmd, berth.Stdio{}, berth.Hooks{})
	if err != nil || status != (berth.ExitStatus{Code: 143, Signal: syscall.SIGTERM}) {
		t.Errorf("run under berth's init: %+v, %v", status, err)
	}
	cmd = shell(id("initgroup"), "true")
	cmd.InitSignalGroup = true
	if _, err := d.Run(context.Background(), cmd, berth.Stdio{}, berth.Hooks{}); !errors.Is(err, berth.ErrInvalidArgument) {
		t.Errorf("InitSignalGroup without Init: %v, want ErrInvalidArgument", err)
	}
}

func TestExec(t *testing.T) {
	d := needDriver(t)
	cid := id("exec")
	startSleeper(t, d, cid)
	rec := newRecorder(cid)
	var status berth.ExitStatus
	var err error
	out := capture(t, func(stdio berth.Stdio) {
		status, err = d.Exec(context.Background(), cid, berth.Process{
			Args: []string{"/bin/sh", "-c", "echo exec in $(hostname) as $(id -u); exit 3"},
			User: "1000",
		}, stdio, rec.hooks())
	})
	if errors.Is(err, berth.ErrUnsupported) {
		t.Skipf("the driver has no exec yet: %v", err)
	}
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	if status != (berth.ExitStatus{Code: 3}) {
		t.Errorf("exec status %+v, want code 3", status)
	}
	if want := "exec in " + cid + " as 1000\n"; out != want {
		t.Errorf("exec output %q, want %q", out, want)
	}
	if starts, pid := rec.started(); starts != 1 || pid <= 0 {
		t.Errorf("OnStart: %d calls, pid %d", starts, pid)
	}
	rec.exit(t, berth.ExitStatus{Code: 3})

	_, err = d.Exec(context.Background(), "no-such-container", berth.Process{Args: []string{"true"}}, berth.Stdio{}, berth.Hooks{})
	if !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("exec into an unknown container: %v, want ErrNotFound", err)
	}

	// Cancelling the context kills the exec'd process, not the container.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	status, err = d.Exec(ctx, cid, berth.Process{Args: []string{"sleep", "60"}}, berth.Stdio{}, berth.Hooks{})
	if !errors.Is(err, context.DeadlineExceeded) || status.Signal != syscall.SIGKILL || status.Code != 137 {
		t.Errorf("exec with a deadline: %+v, %v; want 137 and context.DeadlineExceeded", status, err)
	}
	if took := time.Since(t0); took > 10*time.Second {
		t.Errorf("exec with a 300 ms deadline took %v", took)
	}
	if s, err := d.State(cid); err != nil || s.Status != berth.StatusRunning {
		t.Errorf("the container should still run after a cancelled exec: %+v, %v", s, err)
	}
}

// waitExec is WaitExec, failing the test instead of hanging it when the wait does not end.
func waitExec(t *testing.T, d *berth.Driver, cid string, pid int) (berth.ExitStatus, error) {
	t.Helper()
	type result struct {
		status berth.ExitStatus
		err    error
	}
	done := make(chan result, 1)
	go func() {
		status, err := d.WaitExec(cid, pid)
		done <- result{status, err}
	}()
	select {
	case r := <-done:
		return r.status, r.err
	case <-time.After(20 * time.Second):
		t.Fatalf("WaitExec(%s, %d) did not return within 20 s", cid, pid)
		return berth.ExitStatus{}, nil
	}
}

func TestExecDetached(t *testing.T) {
	d := needDriver(t)
	cid := id("detached")
	startSleeper(t, d, cid)
	rec := newRecorder(cid)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pid, err := d.ExecDetached(cid, berth.Process{
		Args: []string{"/bin/sh", "-c", "sleep 1; echo detached; exit 5"},
	}, berth.Stdio{Stdout: w}, rec.hooks())
	w.Close()
	if err != nil {
		t.Fatalf("exec detached: %v", err)
	}
	if starts, startPid := rec.started(); pid <= 0 || starts != 1 || startPid != pid {
		t.Errorf("ExecDetached: pid %d; OnStart %d calls, pid %d", pid, starts, startPid)
	}
	if n := rec.exitCalls(); n != 0 {
		t.Errorf("ExecDetached returned after the process ended (%d OnExit calls)", n)
	}
	if n := berth.HookHandles(d, cid); n != 1 {
		t.Errorf("the exec's hooks should be kept until Delete: %d handles", n)
	}

	status, err := waitExec(t, d, cid, pid)
	if err != nil || status != (berth.ExitStatus{Code: 5}) {
		t.Errorf("WaitExec: %+v, %v; want code 5", status, err)
	}
	if n := rec.exitCalls(); n != 1 {
		t.Errorf("WaitExec returned with %d OnExit calls, want 1 (it waits for OnExit)", n)
	}
	rec.exit(t, berth.ExitStatus{Code: 5})
	again, err := waitExec(t, d, cid, pid)
	if err != nil || again != status {
		t.Errorf("WaitExec again: %+v, %v; want %+v as the first time", again, err, status)
	}
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	if out, err := io.ReadAll(r); err != nil || string(out) != "detached\n" {
		t.Errorf("the exec's stdout: %q, %v; want \"detached\\n\" and end of file", out, err)
	}
	if n := rec.exitCalls(); n != 1 {
		t.Errorf("OnExit called %d times, want once", n)
	}

	if _, err := d.WaitExec(cid, pid+100000); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("WaitExec of a pid that is no detached exec: %v, want ErrNotFound", err)
	}
	if _, err := d.WaitExec("no-such-container", pid); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("WaitExec in an unknown container: %v, want ErrNotFound", err)
	}
	if _, err := d.ExecDetached("no-such-container", berth.Process{Args: []string{"true"}}, berth.Stdio{}, berth.Hooks{}); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("ExecDetached in an unknown container: %v, want ErrNotFound", err)
	}

	// A Delete ends a WaitExec still waiting: ErrNotFound, or the SIGKILL of the forced
	// delete if the process was reaped first.
	pid, err = d.ExecDetached(cid, berth.Process{Args: []string{"sleep", "60"}}, berth.Stdio{}, berth.Hooks{})
	if err != nil {
		t.Fatalf("exec detached: %v", err)
	}
	waited := make(chan error, 1)
	go func() {
		status, err := d.WaitExec(cid, pid)
		if err == nil && status.Signal != syscall.SIGKILL {
			err = fmt.Errorf("status %+v", status)
		}
		waited <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := d.Delete(cid, true); err != nil {
		t.Fatalf("delete: %v", err)
	}
	select {
	case err := <-waited:
		if err != nil && !errors.Is(err, berth.ErrNotFound) {
			t.Errorf("WaitExec ended by Delete: %v, want ErrNotFound or SIGKILL", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Delete did not end WaitExec")
	}
	if n := berth.HookHandles(d, cid); n != 0 {
		t.Errorf("Delete left %d hook handles", n)
	}
}

// TestHookCallsDriver: a hook may call the driver for its own container, Wait and Delete
// included.
func TestHookCallsDriver(t *testing.T) {
	d := needDriver(t)
	cid := id("hook-calls")
	type result struct {
		status berth.ExitStatus
		state  berth.State
		err    error
	}
	done := make(chan result, 1)
	_, err := d.Create(shell(cid, "exit 9"), berth.Stdio{}, berth.Hooks{
		OnExit: func(hid string, _ berth.ExitStatus) {
			var r result
			if r.state, r.err = d.State(hid); r.err == nil {
				if r.status, r.err = d.Wait(hid); r.err == nil {
					r.err = d.Delete(hid, false)
				}
			}
			done <- r
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Delete(cid, true)
	if err := d.Start(cid); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.status != (berth.ExitStatus{Code: 9}) || r.state.ID != cid {
			t.Errorf("from OnExit: State %+v, Wait %+v, then Delete: %v", r.state, r.status, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnExit did not return: calling the driver from a hook hangs")
	}
	if _, err := d.State(cid); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("State after the hook deleted the container: %v, want ErrNotFound", err)
	}
	if n := berth.HookHandles(d, cid); n != 0 {
		t.Errorf("the hook's Delete left %d hook handles", n)
	}
}

func TestExecStoppedContainer(t *testing.T) {
	d := needDriver(t)
	cid := id("exec-stopped")
	if _, err := d.Create(shell(cid, "exit 0"), berth.Stdio{}, berth.Hooks{}); err != nil {
		t.Fatal(err)
	}
	defer d.Delete(cid, true)
	_, err := d.Exec(context.Background(), cid, berth.Process{Args: []string{"true"}}, berth.Stdio{}, berth.Hooks{})
	if errors.Is(err, berth.ErrUnsupported) {
		t.Skipf("the driver has no exec yet: %v", err)
	}
	if !errors.Is(err, berth.ErrInvalidState) {
		t.Errorf("exec into a created container: %v, want ErrInvalidState", err)
	}
	_, err = d.ExecDetached(cid, berth.Process{Args: []string{"true"}}, berth.Stdio{}, berth.Hooks{})
	if !errors.Is(err, berth.ErrInvalidState) {
		t.Errorf("detached exec into a created container: %v, want ErrInvalidState", err)
	}
}

func TestOOMHook(t *testing.T) {
	d := needDriver(t)
	cid := id("oom")
	var ooms int32
	oom := make(chan struct{}, 1)
	exited := make(chan berth.ExitStatus, 1)
	started := make(chan struct{}, 1)
	hooks := berth.Hooks{
		OnStart: func(string, int) { started <- struct{}{} },
		OnOOM: func(hid string) {
			if hid == cid && atomic.AddInt32(&ooms, 1) == 1 {
				oom <- struct{}{}
			}
		},
		OnExit: func(_ string, s berth.ExitStatus) { exited <- s },
	}
	cmd := shell(cid, `a=$(head -c 200000000 /dev/zero | tr '\0' x); echo survived`)
	cmd.Resources = berth.Resources{MemoryLimit: 32 << 20, MemorySwap: 32 << 20}
	status, err := d.Run(context.Background(), cmd, berth.Stdio{}, hooks)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !status.OOMKilled {
		t.Errorf("status %+v: OOMKilled not set", status)
	}
	if status.Code != 137 || status.Signal != syscall.SIGKILL {
		t.Errorf("status %+v: want SIGKILL (137); the OOM killer kills the shell", status)
	}
	within(t, started, "OnStart")
	within(t, oom, "OnOOM")
	select {
	case s := <-exited:
		if !s.OOMKilled {
			t.Errorf("OnExit status %+v: OOMKilled not set", s)
		}
	case <-time.After(5 * time.Second):
		t.Error("OnExit not called")
	}
}

func TestContextCancel(t *testing.T) {
	d := needDriver(t)

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		t0 := time.Now()
		status, err := d.Run(ctx, shell(id("deadline"), "sleep 60 & sleep 60; wait"), berth.Stdio{}, berth.Hooks{})
		if !errors.Is(err, context.DeadlineExceeded) || status.Code != 137 || status.Signal != syscall.SIGKILL {
			t.Errorf("Run: %+v, %v; want 137 and context.DeadlineExceeded", status, err)
		}
		if took := time.Since(t0); took > 10*time.Second {
			t.Errorf("Run with a 300 ms deadline took %v", took)
		}
		if _, err := d.State(id("deadline")); !errors.Is(err, berth.ErrNotFound) {
			t.Errorf("container left behind: %v", err)
		}
	})

	t.Run("cancel during setup", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(time.Millisecond)
			cancel()
		}()
		status, err := d.Run(ctx, shell(id("cancel-early"), "exec sleep 60"), berth.Stdio{}, berth.Hooks{})
		if !errors.Is(err, context.Canceled) || status.Signal != syscall.SIGKILL {
			t.Errorf("Run: %+v, %v; want SIGKILL and context.Canceled", status, err)
		}
	})

	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var starts int32
		status, err := d.Run(ctx, shell(id("precancelled"), "exit 0"), berth.Stdio{}, berth.Hooks{
			OnStart: func(string, int) { atomic.AddInt32(&starts, 1) },
		})
		if err != context.Canceled || status != (berth.ExitStatus{}) || starts != 0 {
			t.Errorf("Run with a cancelled context: %+v, %v, %d starts; want context.Canceled and nothing run", status, err, starts)
		}
	})

	t.Run("finished before the deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		status, err := d.Run(ctx, shell(id("in-time"), "exit 4"), berth.Stdio{}, berth.Hooks{})
		if err != nil || status.Code != 4 {
			t.Errorf("Run: %+v, %v; want code 4", status, err)
		}
	})
}

func TestErrors(t *testing.T) {
	d := needDriver(t)
	kindOf := func(err error) berth.ErrorKind {
		var e *berth.Error
		if errors.As(err, &e) {
			return e.Kind
		}
		return 0
	}

	_, err := d.State("no-such-container")
	if !errors.Is(err, berth.ErrNotFound) || errors.Is(err, berth.ErrInvalidArgument) ||
		kindOf(err) != berth.KindNotFound || !strings.Contains(err.Error(), "no-such-container") ||
		!strings.HasPrefix(err.Error(), "berth state: ") {
		t.Errorf("State of an unknown id: %v (kind %v)", err, kindOf(err))
	}
	for name, f := range map[string]func() error{
		"start":  func() error { return d.Start("no-such-container") },
		"kill":   func() error { return d.Kill("no-such-container", syscall.SIGTERM, false) },
		"delete": func() error { return d.Delete("no-such-container", true) },
		"pause":  func() error { return d.Pause("no-such-container") },
		"stats":  func() error { _, err := d.Stats("no-such-container"); return err },
		"wait":   func() error { _, err := d.Wait("no-such-container"); return err },
	} {
		if err := f(); !errors.Is(err, berth.ErrNotFound) {
			t.Errorf("%s of an unknown id: %v, want ErrNotFound", name, err)
		}
	}

	invalid := []struct {
		field  string
		modify func(*berth.Command)
	}{
		{"process.cwd", func(c *berth.Command) { c.Process.Cwd = "tmp" }},
		{"process.args", func(c *berth.Command) { c.Process.Args = nil }},
		{"resources.cpu_shares", func(c *berth.Command) { c.Resources.CPUShares = 1 }},
		{"namespaces.mount", func(c *berth.Command) { c.Namespaces.Mount = berth.NamespaceHost }},
		{"id", func(c *berth.Command) { c.ID = "-bad id" }},
		{"rootfs", func(c *berth.Command) { c.Rootfs = "relative/rootfs" }},
	}
	for _, tc := range invalid {
		cmd := shell(id("invalid"), "exit 0")
		tc.modify(&cmd)
		_, err := d.Run(context.Background(), cmd, berth.Stdio{}, berth.Hooks{})
		if !errors.Is(err, berth.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("Run with a bad %s: %v; want ErrInvalidArgument naming %s", tc.field, err, tc.field)
		}
	}
	cid := id("errors")
	startSleeper(t, d, cid)
	for _, sig := range []syscall.Signal{0, 65} {
		if err := d.Kill(cid, sig, false); !errors.Is(err, berth.ErrInvalidArgument) || !strings.Contains(err.Error(), "signal") {
			t.Errorf("Kill with signal %d: %v, want ErrInvalidArgument", sig, err)
		}
	}
	if err := d.Resume(cid); !errors.Is(err, berth.ErrInvalidState) {
		t.Errorf("Resume of a running container: %v, want ErrInvalidState", err)
	}

	// The same id again.
	if _, err := d.Create(shell(cid, "exit 0"), berth.Stdio{}, berth.Hooks{}); !errors.Is(err, berth.ErrAlreadyExists) {
		t.Errorf("Create of an existing id: %v, want ErrAlreadyExists", err)
	}
	if _, err := d.Run(context.Background(), shell(cid, "exit 0"), berth.Stdio{}, berth.Hooks{}); !errors.Is(err, berth.ErrAlreadyExists) {
		t.Errorf("Run of an existing id: %v, want ErrAlreadyExists", err)
	}
	if s, err := d.State(cid); err != nil || s.Status != berth.StatusRunning {
		t.Errorf("the first container should be untouched: %+v, %v", s, err)
	}

	// Checked in Go before libberth is called.
	if err := d.Kill("bad\x00id", syscall.SIGKILL, false); !errors.Is(err, berth.ErrInvalidArgument) {
		t.Errorf("an id with a NUL: %v, want ErrInvalidArgument", err)
	}
	closed, _ := os.Open(os.DevNull)
	closed.Close()
	_, err = d.Run(context.Background(), shell(id("closed-stdio"), "exit 0"), berth.Stdio{Stdout: closed}, berth.Hooks{})
	if !errors.Is(err, berth.ErrInvalidArgument) || !strings.Contains(err.Error(), "Stdout") {
		t.Errorf("a closed stdout: %v, want ErrInvalidArgument", err)
	}
}

func TestDriverOptions(t *testing.T) {
	_, err := berth.NewDriver(berth.Options{Kind: "windows"})
	if !errors.Is(err, berth.ErrUnsupported) {
		t.Errorf("kind windows: %v, want ErrUnsupported", err)
	}
	_, err = berth.NewDriver(berth.Options{Kind: "qemu"})
	if !errors.Is(err, berth.ErrInvalidArgument) || !strings.Contains(err.Error(), "qemu") {
		t.Errorf("kind qemu: %v, want ErrInvalidArgument", err)
	}
}

// TestErrno: an error from the OS carries its errno. A state root under a regular file is
// ENOTDIR.
func TestErrno(t *testing.T) {
	needDriver(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := berth.NewDriver(berth.Options{Root: filepath.Join(file, "root"), HelperPath: helper, CgroupParent: cgroupParent})
	if err == nil {
		d.Close()
		t.Fatal("NewDriver with its root under a regular file succeeded")
	}
	var berr *berth.Error
	if !errors.As(err, &berr) || berr.Kind != berth.KindSystem || berr.Errno != syscall.ENOTDIR ||
		!errors.Is(err, syscall.ENOTDIR) || !errors.Is(err, berth.ErrSystem) {
		t.Errorf("NewDriver under a file: %v (%#v); want ErrSystem with Errno ENOTDIR", err, berr)
	}
	if _, err := driver.State("no-such-container"); !errors.Is(err, berth.ErrNotFound) || err.(*berth.Error).Errno != 0 {
		t.Errorf("NOT_FOUND should carry no errno: %#v", err)
	}
}

func TestClose(t *testing.T) {
	needDriver(t)
	root := stateDir + "-close"
	defer os.RemoveAll(root)
	d, err := berth.NewDriver(berth.Options{Root: root, HelperPath: helper, CgroupParent: cgroupParent})
	if err != nil {
		t.Fatal(err)
	}
	cid := id("close")
	started := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		_, err := d.Run(context.Background(), shell(cid, "exec sleep 600"), berth.Stdio{}, berth.Hooks{
			OnStart: func(string, int) { close(started) },
		})
		result <- err
	}()
	within(t, started, "OnStart")
	if _, err := d.Create(shell(id("close-created"), "exit 0"), berth.Stdio{}, berth.Hooks{OnExit: func(string, berth.ExitStatus) {}}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	d.Close() // kills the Run's container so that Run returns
	if took := time.Since(t0); took > 10*time.Second {
		t.Errorf("Close took %v", took)
	}
	select {
	case err := <-result:
		if err != nil {
			t.Errorf("Run during Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	if _, err := d.State(cid); !errors.Is(err, berth.ErrInvalidState) {
		t.Errorf("State after Close: %v, want ErrInvalidState", err)
	}
	d.Close() // twice is fine
}

// TestKeepContainers: with KeepContainers, Close leaves a running and a created container,
// and waits for a Wait in progress instead of killing its container; a new driver on the
// same root takes them back.
func TestKeepContainers(t *testing.T) {
	needDriver(t)
	root := stateDir + "-keep"
	defer os.RemoveAll(root)
	opts := berth.Options{Root: root, HelperPath: helper, CgroupParent: cgroupParent}
	// Last, whatever happened: a driver that does not keep them ends what is left.
	defer func() {
		if last, err := berth.NewDriver(opts); err == nil {
			last.Close()
		}
	}()
	keep := opts
	keep.KeepContainers = true
	d, err := berth.NewDriver(keep)
	if err != nil {
		t.Fatal(err)
	}
	running, created, waited := id("keep-running"), id("keep-created"), id("keep-waited")
	var lateHooks int32
	late := berth.Hooks{
		OnStart: func(string, int) { atomic.AddInt32(&lateHooks, 1) },
		OnExit:  func(string, berth.ExitStatus) { atomic.AddInt32(&lateHooks, 1) },
	}
	if _, err := d.Create(shell(running, "exec sleep 600"), berth.Stdio{}, late); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(running); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Create(shell(created, "exit 4"), berth.Stdio{}, late); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Create(shell(waited, "sleep 1; exit 3"), berth.Stdio{}, berth.Hooks{}); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(waited); err != nil {
		t.Fatal(err)
	}
	atomic.StoreInt32(&lateHooks, 0) // the running one's OnStart
	type result struct {
		status berth.ExitStatus
		err    error
	}
	entered, waitDone := make(chan struct{}), make(chan result, 1)
	go func() {
		close(entered)
		status, err := d.Wait(waited)
		waitDone <- result{status, err}
	}()
	<-entered
	time.Sleep(200 * time.Millisecond) // into libberth's wait
	d.Close()
	select {
	case r := <-waitDone:
		if r.err != nil || r.status != (berth.ExitStatus{Code: 3}) {
			t.Errorf("a Wait in progress during Close: %+v, %v; want code 3 (Close must not kill it)", r.status, r.err)
		}
	default:
		t.Error("Close returned before the Wait in progress")
	}

	d2, err := berth.NewDriver(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if s, err := d2.State(running); err != nil || s.Status != berth.StatusRunning {
		t.Errorf("the running container after its driver closed: %+v, %v; want running", s, err)
	}
	if s, err := d2.State(created); err != nil || s.Status != berth.StatusCreated {
		t.Errorf("the created container after its driver closed: %+v, %v; want created", s, err)
	}
	if err := d2.Start(created); err != nil {
		t.Errorf("start the created container with the next driver: %v", err)
	} else if status, err := d2.Wait(created); err != nil || status != (berth.ExitStatus{Code: 4}) {
		t.Errorf("wait for it: %+v, %v; want code 4", status, err)
	}
	if err := d2.Kill(running, syscall.SIGKILL, false); err != nil {
		t.Errorf("kill the running one: %v", err)
	} else if status, err := d2.Wait(running); err != nil || status.Signal != syscall.SIGKILL {
		t.Errorf("wait for it: %+v, %v; want SIGKILL", status, err)
	}
	if n := atomic.LoadInt32(&lateHooks); n != 0 {
		t.Errorf("%d hooks of the closed driver ran", n)
	}
	for _, cid := range []string{running, created} {
		if err := d2.Delete(cid, false); err != nil {
			t.Errorf("delete %s: %v", cid, err)
		}
	}
	if err := d2.Delete(waited, true); err != nil && !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("delete %s: %v", waited, err)
	}
}

func TestConcurrentRuns(t *testing.T) {
	d := needDriver(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cid := id(fmt.Sprintf("many-%d", i))
			var mine, foreign int32
			exited := make(chan int64, 1)
			hooks := berth.Hooks{
				OnStart: func(hid string, _ int) {
					if hid == cid {
						atomic.AddInt32(&mine, 1)
					} else {
						atomic.AddInt32(&foreign, 1)
					}
				},
				OnExit: func(hid string, s berth.ExitStatus) {
					if hid != cid {
						atomic.AddInt32(&foreign, 1)
					}
					exited <- s.Code
				},
			}
			status, err := d.Run(context.Background(), shell(cid, fmt.Sprintf("exit %d", i)), berth.Stdio{}, hooks)
			switch {
			case err != nil:
				errs <- fmt.Errorf("run %d: %v", i, err)
			case status.Code != int64(i) || status.Signal != 0:
				errs <- fmt.Errorf("run %d: status %+v", i, status)
			case atomic.LoadInt32(&mine) != 1 || atomic.LoadInt32(&foreign) != 0:
				errs <- fmt.Errorf("run %d: hooks of %d starts, %d foreign calls", i, mine, foreign)
			default:
				select {
				case code := <-exited:
					if code != int64(i) {
						errs <- fmt.Errorf("run %d: OnExit got code %d", i, code)
					}
				case <-time.After(5 * time.Second):
					errs <- fmt.Errorf("run %d: OnExit not called", i)
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestHookPanic: a panic in a hook ends the program with the panic's message and exit status
// 2, like an unrecovered panic, instead of unwinding through libberth. Run in a child process.
func TestHookPanic(t *testing.T) {
	if os.Getenv("BERTH_GOTEST_PANIC_CHILD") == "1" {
		d := needDriver(t)
		d.Run(context.Background(), shell(id("panic"), "exit 0"), berth.Stdio{}, berth.Hooks{
			OnStart: func(string, int) { panic("deliberate panic in OnStart") },
		})
		t.Fatal("Run returned after a panicking hook")
	}
	needDriver(t)
	child := exec.Command(os.Args[0], "-test.run=^TestHookPanic$", "-test.count=1")
	child.Env = append(os.Environ(), "BERTH_GOTEST_PANIC_CHILD=1")
	out, err := child.CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 ||
		!strings.Contains(string(out), "panic in a berth hook: deliberate panic in OnStart") {
		t.Errorf("child: %v, output:\n%s", err, out)
	}
	// berth's containers outlive a host that crashes: remove what the child's container
	// left (its program exits at once) and the child's state directory.
	pid := child.Process.Pid
	os.RemoveAll(fmt.Sprintf("/run/berth-gotest-%d", pid))
	pattern := fmt.Sprintf("%s/gotest-%d-*", cgroupParent, pid)
	leftovers, _ := filepath.Glob("/sys/fs/cgroup/*/" + pattern)
	more, _ := filepath.Glob("/sys/fs/cgroup/" + pattern)
	for _, dir := range append(leftovers, more...) {
		for i := 0; i < 100 && os.Remove(dir) != nil; i++ {
			time.Sleep(50 * time.Millisecond)
		}
	}
}
