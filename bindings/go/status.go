package berth

import (
	"fmt"
	"syscall"
	"time"
)

// ExitStatus is how a process ended. Its JSON form is berth's:
// {"code": 137, "signal": 9, "oom_killed": false}, with "signal" omitted (null) when the
// process exited.
type ExitStatus struct {
	// Code is the exit code. On Linux it is 0 to 255, or 128 + Signal when a signal ended
	// the process; on Windows the process's 32-bit exit code as an unsigned number
	// (0xC000013A is 3221225786); -1 when berth could not observe the exit (a container
	// taken back from a driver in another process).
	Code int64 `json:"code"`
	// Signal is the signal that ended the process, 0 when it exited.
	Signal syscall.Signal `json:"signal,omitempty"`
	// OOMKilled reports whether the OOM killer killed a process of the container during its
	// life.
	OOMKilled bool `json:"oom_killed"`
}

// Success reports whether the process exited with code 0.
func (s ExitStatus) Success() bool { return s.Code == 0 && s.Signal == 0 }

// String gives "exit code 7", "killed by signal 9 (killed), code 137" and the like.
func (s ExitStatus) String() string {
	text := fmt.Sprintf("exit code %d", s.Code)
	if s.Signal != 0 {
		text = fmt.Sprintf("killed by signal %d (%v), code %d", int(s.Signal), s.Signal, s.Code)
	}
	if s.OOMKilled {
		text += ", OOM killed"
	}
	return text
}

// Status is the state a container is in.
type Status string

// The statuses of a container.
const (
	// StatusCreating: Create is setting the container up (pid 0, no cgroup yet).
	StatusCreating Status = "creating"
	StatusCreated  Status = "created"
	StatusRunning  Status = "running"
	StatusPaused   Status = "paused"
	StatusStopped  Status = "stopped"
)

// State is what Driver.State and Driver.List report about a container.
type State struct {
	ID string `json:"id"`
	// Pid is the host pid of the container's init, 0 once it has been reaped.
	Pid    int    `json:"pid"`
	Status Status `json:"status"`
	// Created is when the container was created.
	Created    time.Time `json:"created"`
	CgroupPath string    `json:"cgroup_path"`
	Rootfs     string    `json:"rootfs"`
	// ExitStatus is set once the container has stopped.
	ExitStatus *ExitStatus `json:"exit_status"`
}

// Stats is the resource usage of a container. A value the kernel does not give is nil.
type Stats struct {
	Memory MemoryStats `json:"memory"`
	CPU    CPUStats    `json:"cpu"`
	Pids   PidsStats   `json:"pids"`
	IO     IOStats     `json:"io"`
}

// MemoryStats are in bytes.
type MemoryStats struct {
	Usage    *uint64 `json:"usage"`
	MaxUsage *uint64 `json:"max_usage"`
	Limit    *uint64 `json:"limit"`
	Cache    *uint64 `json:"cache"`
	RSS      *uint64 `json:"rss"`
}

// CPUStats are in nanoseconds, but ThrottledPeriods, a count.
type CPUStats struct {
	TotalNs          *uint64 `json:"total_ns"`
	UserNs           *uint64 `json:"user_ns"`
	SystemNs         *uint64 `json:"system_ns"`
	ThrottledPeriods *uint64 `json:"throttled_periods"`
	ThrottledNs      *uint64 `json:"throttled_ns"`
}

// PidsStats count processes.
type PidsStats struct {
	Current *uint64 `json:"current"`
	Limit   *uint64 `json:"limit"`
}

// IOStats are in bytes.
type IOStats struct {
	ReadBytes  *uint64 `json:"read_bytes"`
	WriteBytes *uint64 `json:"write_bytes"`
}
