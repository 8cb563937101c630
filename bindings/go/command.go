package berth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// Command describes one container. It marshals to the JSON wire form of docs/command.md,
// which berth_run and berth_create take.
//
// Zero values mean "berth's default": a field left empty is omitted from the JSON, so berth
// fills it in (hostname = the id, every namespace private but net "none" and user "host",
// Docker's masked and read-only paths, ...). The exceptions, where the zero value is a real
// choice, are documented on the field.
type Command struct {
	// ID is unique per driver: 1 to 128 of [A-Za-z0-9_.-], starting with a letter or digit.
	ID string `json:"id"`
	// Rootfs is the absolute host path of the root filesystem.
	Rootfs string `json:"rootfs"`
	// ReadonlyRootfs mounts the rootfs read-only.
	ReadonlyRootfs bool `json:"readonly_rootfs,omitempty"`
	// Hostname needs a private uts namespace; empty means the id.
	Hostname string `json:"hostname,omitempty"`
	// Process is the container's init process.
	Process Process `json:"process"`
	// Namespaces says which namespaces are new, the host's, or joined; the zero value of a
	// field means its default.
	Namespaces Namespaces `json:"namespaces"`
	// Mounts are applied in order after the standard mounts.
	Mounts []Mount `json:"mounts,omitempty"`
	// Resources are the cgroup limits; a zero field sets no limit.
	Resources Resources `json:"resources"`
	// CgroupParent is the relative cgroup path the container's cgroup goes under; empty
	// means the driver's.
	CgroupParent string `json:"cgroup_parent,omitempty"`
	// CgroupPath is the container's cgroup itself, relative to each hierarchy's root (OCI's
	// linux.cgroupsPath); its last component need not be the id. Not with CgroupParent.
	CgroupPath string `json:"cgroup_path,omitempty"`
	// MaskedPaths are covered inside the container. nil means Docker's list; an empty,
	// non-nil slice masks nothing.
	MaskedPaths []string `json:"masked_paths"`
	// ReadonlyPaths are made read-only. nil means Docker's list; an empty, non-nil slice
	// makes none read-only.
	ReadonlyPaths []string `json:"readonly_paths"`
	// Sysctls are namespaced kernel parameters ("net.ipv4.ip_forward": "1").
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// Init makes berth's own small init the container's pid 1, with the program as its
	// child (as docker run --init): it reaps zombies, forwards signals, exits with the
	// program's status and records it for a driver that takes the container back after its
	// host died. Native driver only.
	Init bool `json:"init,omitempty"`
	// InitSignalGroup, with Init, forwards signals to the program's process group.
	InitSignalGroup bool `json:"init_signal_group,omitempty"`
}

// MarshalJSON gives the wire form: empty fields are omitted so that berth's defaults apply,
// and MaskedPaths and ReadonlyPaths are sent when non-nil, even if empty.
func (c Command) MarshalJSON() ([]byte, error) {
	type plain Command // no methods: no recursion
	out := struct {
		plain
		Namespaces    *Namespaces `json:"namespaces,omitempty"`
		Resources     *Resources  `json:"resources,omitempty"`
		MaskedPaths   *[]string   `json:"masked_paths,omitempty"`
		ReadonlyPaths *[]string   `json:"readonly_paths,omitempty"`
	}{plain: plain(c)}
	if c.Namespaces != (Namespaces{}) {
		out.Namespaces = &c.Namespaces
	}
	if !reflect.DeepEqual(c.Resources, Resources{}) {
		out.Resources = &c.Resources
	}
	if c.MaskedPaths != nil {
		out.MaskedPaths = &c.MaskedPaths
	}
	if c.ReadonlyPaths != nil {
		out.ReadonlyPaths = &c.ReadonlyPaths
	}
	return json.Marshal(out)
}

// Process describes a process: a container's init (Command.Process) or one run by
// Driver.Exec. It marshals to the wire form's "process" object.
type Process struct {
	// Args is the program and its arguments (required); Args[0] without a '/' is looked up
	// in the process's PATH inside the container.
	Args []string `json:"args"`
	// Env is KEY=VALUE pairs; a default PATH is added when none is given.
	Env []string `json:"env,omitempty"`
	// Cwd is absolute and must exist in the container; empty means "/".
	Cwd string `json:"cwd,omitempty"`
	// User is "uid[:gid]" or "name[:group]", looked up in the container; empty means "0:0".
	User string `json:"user,omitempty"`
	// AdditionalGids are extra supplementary groups.
	AdditionalGids []uint32 `json:"additional_gids,omitempty"`
	// Groups, when not nil, are the exact supplementary groups (OCI's additionalGids)
	// instead of berth's computation; a pointer to an empty slice means none. Exclusive
	// with AdditionalGids.
	Groups *[]uint32 `json:"groups,omitempty"`
	// Umask is the process's umask (0 to 0o777); nil means 0o022.
	Umask *uint32 `json:"umask,omitempty"`
	// Terminal allocates a terminal; the master comes to Hooks.OnConsole.
	Terminal bool `json:"tty,omitempty"`
	// ConsoleSize is the terminal's initial size.
	ConsoleSize *ConsoleSize `json:"console_size,omitempty"`
	// Privileged gives every capability and no confinement.
	Privileged bool `json:"privileged,omitempty"`
	// CapAdd and CapDrop adjust the default capabilities.
	CapAdd  []string `json:"cap_add,omitempty"`
	CapDrop []string `json:"cap_drop,omitempty"`
	// Capabilities, when not nil, are OCI's five sets, applied exactly instead of the
	// default set. Exclusive with Privileged, CapAdd and CapDrop.
	Capabilities *CapabilitySets `json:"capabilities,omitempty"`
	// OomScoreAdj is the process's oom_score_adj (-1000 to 1000); nil inherits the host's.
	OomScoreAdj *int32 `json:"oom_score_adj,omitempty"`
	// NoNewPrivileges sets no_new_privs; nil means true (berth's default). Use
	// berth.Bool(false) to turn it off.
	NoNewPrivileges *bool `json:"no_new_privileges,omitempty"`
	// Rlimits are resource limits ("RLIMIT_NOFILE" or "nofile", soft <= hard).
	Rlimits []Rlimit `json:"rlimits,omitempty"`
}

// CapabilitySets are a process's capability sets as OCI gives them, each a list of
// names ("CAP_SYS_ADMIN" or "SYS_ADMIN").
type CapabilitySets struct {
	Bounding    []string `json:"bounding,omitempty"`
	Effective   []string `json:"effective,omitempty"`
	Inheritable []string `json:"inheritable,omitempty"`
	Permitted   []string `json:"permitted,omitempty"`
	Ambient     []string `json:"ambient,omitempty"`
}

// Bool returns a pointer to b, for optional boolean fields such as
// Process.NoNewPrivileges.
func Bool(b bool) *bool { return &b }

// ConsoleSize is a terminal's size.
type ConsoleSize struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// Rlimit is one resource limit of a process.
type Rlimit struct {
	// Type is "RLIMIT_NOFILE" or "nofile" and so on.
	Type string `json:"type"`
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// Mount is one mount inside the container.
type Mount struct {
	// Source is an absolute host path for "bind" (it must exist); a device or label for
	// other types; optional.
	Source string `json:"source,omitempty"`
	// Destination is the absolute path inside the container.
	Destination string `json:"destination"`
	// Type is "bind", "tmpfs", or any filesystem type the kernel knows.
	Type string `json:"type"`
	// Options are flags ("ro", "rbind", "nosuid", ...) and filesystem data ("size=16m").
	Options []string `json:"options,omitempty"`
}

// Resources are cgroup limits. A zero field sets no limit (it is omitted and berth leaves
// the kernel's default); where zero is a meaningful value (MemorySwappiness, CPUIdle, the
// bools), the field is a pointer and nil is the default.
type Resources struct {
	// MemoryLimit is the hard memory limit in bytes.
	MemoryLimit int64 `json:"memory_limit,omitempty"`
	// MemoryReservation is the soft limit in bytes, at most MemoryLimit.
	MemoryReservation int64 `json:"memory_reservation,omitempty"`
	// MemorySwap is memory plus swap in bytes, at least MemoryLimit, or -1 for unlimited.
	MemorySwap int64 `json:"memory_swap,omitempty"`
	// MemorySwappiness is 0 to 100 (cgroup v1 only).
	MemorySwappiness *uint64 `json:"memory_swappiness,omitempty"`
	// MemoryDisableOOMKiller turns the OOM killer off for the container (cgroup v1 only).
	MemoryDisableOOMKiller *bool `json:"memory_disable_oom_killer,omitempty"`
	// MemoryKernel and MemoryKernelTCP are accepted and ignored, as runc does.
	MemoryKernel    int64 `json:"memory_kernel,omitempty"`
	MemoryKernelTCP int64 `json:"memory_kernel_tcp,omitempty"`
	// MemoryUseHierarchy may only be true: every cgroup is hierarchical.
	MemoryUseHierarchy *bool `json:"memory_use_hierarchy,omitempty"`
	// MemoryCheckBeforeUpdate makes Update refuse a memory limit at or below the usage.
	MemoryCheckBeforeUpdate bool `json:"memory_check_before_update,omitempty"`
	// CPUShares is a relative weight, 2 to 262144.
	CPUShares uint64 `json:"cpu_shares,omitempty"`
	// CPUQuota is CPU time in µs per CPUPeriod (at least 1000), or -1 for no limit.
	CPUQuota int64 `json:"cpu_quota,omitempty"`
	// CPUPeriod is the accounting period in µs, 1000 to 1000000.
	CPUPeriod uint64 `json:"cpu_period,omitempty"`
	// CPURealtimeRuntime and CPURealtimePeriod are real-time µs per period (cgroup v1).
	CPURealtimeRuntime int64  `json:"cpu_realtime_runtime,omitempty"`
	CPURealtimePeriod  uint64 `json:"cpu_realtime_period,omitempty"`
	// CPUIdle is 0 or 1: the cgroup's tasks at the scheduler's idle weight.
	CPUIdle *int64 `json:"cpu_idle,omitempty"`
	// CPUBurst is µs banked beyond the quota, at most CPUQuota.
	CPUBurst uint64 `json:"cpu_burst,omitempty"`
	// CpusetCpus and CpusetMems are lists such as "0-2,4".
	CpusetCpus string `json:"cpuset_cpus,omitempty"`
	CpusetMems string `json:"cpuset_mems,omitempty"`
	// PidsLimit is the maximum number of processes, or -1 for no limit.
	PidsLimit int64 `json:"pids_limit,omitempty"`
	// BlkioWeight is a relative block I/O weight, 10 to 1000.
	BlkioWeight uint16 `json:"blkio_weight,omitempty"`
	// BlkioLeafWeight is the weight of the cgroup's own tasks, 10 to 1000 (cgroup v1, CFQ).
	BlkioLeafWeight uint16 `json:"blkio_leaf_weight,omitempty"`
	// BlkioWeightDevice are per-device weights.
	BlkioWeightDevice []WeightDevice `json:"blkio_weight_device,omitempty"`
	// The throttles: bytes or operations per second, per device.
	BlkioThrottleReadBpsDevice   []ThrottleDevice `json:"blkio_throttle_read_bps_device,omitempty"`
	BlkioThrottleWriteBpsDevice  []ThrottleDevice `json:"blkio_throttle_write_bps_device,omitempty"`
	BlkioThrottleReadIOPSDevice  []ThrottleDevice `json:"blkio_throttle_read_iops_device,omitempty"`
	BlkioThrottleWriteIOPSDevice []ThrottleDevice `json:"blkio_throttle_write_iops_device,omitempty"`
	// HugepageLimits limit huge pages per size ("2MB").
	HugepageLimits []HugepageLimit `json:"hugepage_limits,omitempty"`
	// NetworkClassID and NetworkPriorities are net_cls and net_prio (cgroup v1).
	NetworkClassID    uint32            `json:"network_class_id,omitempty"`
	NetworkPriorities []NetworkPriority `json:"network_priorities,omitempty"`
	// Unified maps cgroup v2 interface files of the container's cgroup to their values.
	Unified map[string]string `json:"unified,omitempty"`
}

// WeightDevice is one block device's weights (10 to 1000; zero: not set).
type WeightDevice struct {
	Major      uint32 `json:"major"`
	Minor      uint32 `json:"minor"`
	Weight     uint16 `json:"weight,omitempty"`
	LeafWeight uint16 `json:"leaf_weight,omitempty"`
}

// ThrottleDevice is one block device's rate limit.
type ThrottleDevice struct {
	Major uint32 `json:"major"`
	Minor uint32 `json:"minor"`
	Rate  uint64 `json:"rate"`
}

// HugepageLimit limits the huge pages of one size, in bytes.
type HugepageLimit struct {
	PageSize string `json:"page_size"`
	Limit    uint64 `json:"limit"`
}

// NetworkPriority is the priority of the traffic on one interface.
type NetworkPriority struct {
	Name     string `json:"name"`
	Priority uint32 `json:"priority"`
}

// Namespaces says how each namespace of a container is provided. A zero field is omitted
// and gets berth's default: private, except Net ("none": a new namespace with only lo) and
// User (the host's).
type Namespaces struct {
	Pid    Namespace `json:"pid"`
	IPC    Namespace `json:"ipc"`
	UTS    Namespace `json:"uts"`
	Mount  Namespace `json:"mount"`
	Net    Namespace `json:"net"`
	Cgroup Namespace `json:"cgroup"`
	User   Namespace `json:"user"`
}

// MarshalJSON omits the fields left at their zero value.
func (n Namespaces) MarshalJSON() ([]byte, error) {
	fields := []struct {
		name string
		ns   Namespace
	}{
		{"pid", n.Pid}, {"ipc", n.IPC}, {"uts", n.UTS}, {"mount", n.Mount},
		{"net", n.Net}, {"cgroup", n.Cgroup}, {"user", n.User},
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	for _, f := range fields {
		if f.ns.IsZero() {
			continue
		}
		value, err := f.ns.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("namespaces.%s: %w", f.name, err)
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&buf, "%q:", f.name)
		buf.Write(value)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// Namespace is how one namespace is provided: NamespacePrivate, NamespaceHost,
// NamespaceNone, JoinNamespace(path) or ShareNamespace(containerID). The zero value means
// berth's default for that namespace.
//
// In JSON: "private", "host", "none", {"path": "/proc/N/ns/net"} or {"container": "id"}.
type Namespace struct {
	mode   string // "private", "host", "none", "path", "container"; "" for the default
	target string // the path or the container id
}

// The namespaces that take no argument.
var (
	// NamespacePrivate is a new namespace.
	NamespacePrivate = Namespace{mode: "private"}
	// NamespaceHost is the host's namespace (not allowed for mount).
	NamespaceHost = Namespace{mode: "host"}
	// NamespaceNone is, for net only, a new namespace with just lo, brought up.
	NamespaceNone = Namespace{mode: "none"}
)

// JoinNamespace joins the namespace at path ("/proc/1234/ns/net").
func JoinNamespace(path string) Namespace { return Namespace{mode: "path", target: path} }

// ShareNamespace shares the namespace of another container of the same driver.
func ShareNamespace(containerID string) Namespace {
	return Namespace{mode: "container", target: containerID}
}

// IsZero reports whether n is the zero value (berth's default).
func (n Namespace) IsZero() bool { return n.mode == "" }

// Mode is "private", "host", "none", "path", "container", or "" for the default.
func (n Namespace) Mode() string { return n.mode }

// Target is the path (mode "path") or the container id (mode "container").
func (n Namespace) Target() string { return n.target }

// String gives the JSON form.
func (n Namespace) String() string {
	b, err := n.MarshalJSON()
	if err != nil {
		return "default"
	}
	return string(b)
}

// MarshalJSON gives the wire form. The zero value has none: a Namespaces field left zero is
// omitted.
func (n Namespace) MarshalJSON() ([]byte, error) {
	switch n.mode {
	case "private", "host", "none":
		return json.Marshal(n.mode)
	case "path", "container":
		return json.Marshal(map[string]string{n.mode: n.target})
	case "":
		return nil, fmt.Errorf("berth: the zero Namespace has no JSON form (omit the field)")
	}
	return nil, fmt.Errorf("berth: unknown namespace mode %q", n.mode)
}

// UnmarshalJSON reads the wire form.
func (n *Namespace) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	var mode string
	if err := json.Unmarshal(data, &mode); err == nil {
		switch mode {
		case "private", "host", "none":
			*n = Namespace{mode: mode}
			return nil
		}
		return fmt.Errorf("berth: unknown namespace %q: expected \"private\", \"host\", \"none\", {\"path\": ...} or {\"container\": ...}", mode)
	}
	var object map[string]string
	if err := json.Unmarshal(data, &object); err != nil || len(object) != 1 {
		return fmt.Errorf("berth: a namespace is \"private\", \"host\", \"none\", {\"path\": ...} or {\"container\": ...}, not %s", data)
	}
	for mode, target := range object {
		if mode != "path" && mode != "container" {
			return fmt.Errorf("berth: unknown namespace {%q: ...}: expected \"path\" or \"container\"", mode)
		}
		*n = Namespace{mode: mode, target: target}
	}
	return nil
}
