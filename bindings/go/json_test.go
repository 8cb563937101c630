package berth_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	berth "berth.dev/bindings/go"
)

func marshal(t *testing.T, v interface{}) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %+v: %v", v, err)
	}
	return string(b)
}

func TestCommandJSONOmitsDefaults(t *testing.T) {
	cmd := berth.Command{ID: "a", Rootfs: "/r", Process: berth.Process{Args: []string{"/bin/true"}}}
	want := `{"id":"a","rootfs":"/r","process":{"args":["/bin/true"]}}`
	if got := marshal(t, cmd); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := marshal(t, &cmd); got != want {
		t.Errorf("through a pointer: got %s", got)
	}
}

func TestCommandJSONFull(t *testing.T) {
	cmd := berth.Command{
		ID: "a", Rootfs: "/r", ReadonlyRootfs: true, Hostname: "h",
		Process: berth.Process{
			Args: []string{"sh"}, Env: []string{"A=b"}, Cwd: "/tmp", User: "app:wheel",
			AdditionalGids: []uint32{10}, Terminal: true, ConsoleSize: &berth.ConsoleSize{Rows: 25, Cols: 80},
			Privileged: true, CapAdd: []string{"CAP_NET_ADMIN"}, CapDrop: []string{"CAP_CHOWN"},
			NoNewPrivileges: berth.Bool(false),
			Rlimits:         []berth.Rlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}},
		},
		Namespaces: berth.Namespaces{
			Pid: berth.NamespaceHost, IPC: berth.ShareNamespace("other"), UTS: berth.NamespacePrivate,
			Net: berth.JoinNamespace("/proc/1/ns/net"), User: berth.NamespaceHost,
		},
		Mounts: []berth.Mount{
			{Source: "/src", Destination: "/data", Type: "bind", Options: []string{"rbind", "ro"}},
			{Destination: "/scratch", Type: "tmpfs"},
		},
		Resources: berth.Resources{
			MemoryLimit: 1, MemoryReservation: 2, MemorySwap: -1, CPUShares: 3, CPUQuota: -1,
			CPUPeriod: 4, CpusetCpus: "0-1", CpusetMems: "0", PidsLimit: -1, BlkioWeight: 5,
		},
		CgroupParent:  "p",
		MaskedPaths:   []string{},
		ReadonlyPaths: []string{"/proc/sys"},
		Sysctls:       map[string]string{"net.ipv4.ip_forward": "1"},
		Init:          true, InitSignalGroup: true,
	}
	want := `{"id":"a","rootfs":"/r","readonly_rootfs":true,"hostname":"h",` +
		`"process":{"args":["sh"],"env":["A=b"],"cwd":"/tmp","user":"app:wheel","additional_gids":[10],` +
		`"tty":true,"console_size":{"rows":25,"cols":80},"privileged":true,"cap_add":["CAP_NET_ADMIN"],` +
		`"cap_drop":["CAP_CHOWN"],"no_new_privileges":false,"rlimits":[{"type":"RLIMIT_NOFILE","soft":1,"hard":2}]},` +
		`"mounts":[{"source":"/src","destination":"/data","type":"bind","options":["rbind","ro"]},` +
		`{"destination":"/scratch","type":"tmpfs"}],"cgroup_parent":"p",` +
		`"sysctls":{"net.ipv4.ip_forward":"1"},"init":true,"init_signal_group":true,` +
		`"namespaces":{"pid":"host","ipc":{"container":"other"},"uts":"private","net":{"path":"/proc/1/ns/net"},"user":"host"},` +
		`"resources":{"memory_limit":1,"memory_reservation":2,"memory_swap":-1,"cpu_shares":3,"cpu_quota":-1,` +
		`"cpu_period":4,"cpuset_cpus":"0-1","cpuset_mems":"0","pids_limit":-1,"blkio_weight":5},` +
		`"masked_paths":[],"readonly_paths":["/proc/sys"]}`
	got := marshal(t, cmd)
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	// And back.
	var back berth.Command
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, cmd) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, cmd)
	}
}

func TestNamespaceJSON(t *testing.T) {
	for _, tc := range []struct {
		ns   berth.Namespace
		json string
	}{
		{berth.NamespacePrivate, `"private"`},
		{berth.NamespaceHost, `"host"`},
		{berth.NamespaceNone, `"none"`},
		{berth.JoinNamespace("/proc/7/ns/pid"), `{"path":"/proc/7/ns/pid"}`},
		{berth.ShareNamespace("db"), `{"container":"db"}`},
	} {
		if got := marshal(t, tc.ns); got != tc.json {
			t.Errorf("%v: got %s, want %s", tc.ns, got, tc.json)
		}
		var back berth.Namespace
		if err := json.Unmarshal([]byte(tc.json), &back); err != nil || back != tc.ns {
			t.Errorf("unmarshal %s: %v, %v", tc.json, back, err)
		}
	}
	for _, bad := range []string{`"bogus"`, `{"file":"/x"}`, `{"path":"/a","container":"b"}`, `7`} {
		var ns berth.Namespace
		if err := json.Unmarshal([]byte(bad), &ns); err == nil {
			t.Errorf("unmarshal %s: no error", bad)
		}
	}
	if _, err := json.Marshal(berth.Namespace{}); err == nil {
		t.Error("the zero Namespace marshalled alone")
	}
	if got := marshal(t, berth.Namespaces{}); got != `{}` {
		t.Errorf("zero Namespaces: %s", got)
	}
}

func TestStateJSON(t *testing.T) {
	text := `[{"id":"a","pid":42,"status":"running","created":"2024-05-06T07:08:09.123456789Z",` +
		`"cgroup_path":"berth/a","rootfs":"/r","exit_status":null},` +
		`{"id":"b","pid":0,"status":"stopped","created":"2024-05-06T07:08:09.000000000Z",` +
		`"cgroup_path":"berth/b","rootfs":"/r","exit_status":{"code":137,"signal":9,"oom_killed":true}}]`
	var states []berth.State
	if err := json.Unmarshal([]byte(text), &states); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	want := []berth.State{
		{ID: "a", Pid: 42, Status: berth.StatusRunning, Created: created, CgroupPath: "berth/a", Rootfs: "/r"},
		{ID: "b", Status: berth.StatusStopped, Created: created.Truncate(time.Second), CgroupPath: "berth/b", Rootfs: "/r",
			ExitStatus: &berth.ExitStatus{Code: 137, Signal: syscall.SIGKILL, OOMKilled: true}},
	}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("got %+v\nwant %+v", states, want)
	}
	if got := marshal(t, berth.ExitStatus{Code: 3}); got != `{"code":3,"oom_killed":false}` {
		t.Errorf("ExitStatus JSON: %s", got)
	}

	// Exit codes are as wide as Windows' (unsigned 32-bit), and -1 means unknown.
	for _, code := range []int64{3221225786, 4294967295, -1} {
		text := fmt.Sprintf(`{"id":"w","pid":0,"status":"stopped","created":"2024-05-06T07:08:09Z",`+
			`"cgroup_path":"","rootfs":"/r","exit_status":{"code":%d,"signal":null,"oom_killed":false}}`, code)
		var state berth.State
		if err := json.Unmarshal([]byte(text), &state); err != nil || state.ExitStatus == nil || *state.ExitStatus != (berth.ExitStatus{Code: code}) {
			t.Errorf("exit code %d in state JSON: %+v, %v", code, state.ExitStatus, err)
		}
		if got, want := marshal(t, berth.ExitStatus{Code: code}), fmt.Sprintf(`{"code":%d,"oom_killed":false}`, code); got != want {
			t.Errorf("ExitStatus JSON: %s, want %s", got, want)
		}
	}
	if s := (berth.ExitStatus{Code: 137, Signal: 9, OOMKilled: true}).String(); s != "killed by signal 9 (killed), code 137, OOM killed" {
		t.Errorf("ExitStatus.String: %s", s)
	}
}

func TestErrorKinds(t *testing.T) {
	sentinels := map[berth.ErrorKind]error{
		berth.KindInvalidArgument: berth.ErrInvalidArgument,
		berth.KindNotFound:        berth.ErrNotFound,
		berth.KindAlreadyExists:   berth.ErrAlreadyExists,
		berth.KindInvalidState:    berth.ErrInvalidState,
		berth.KindUnsupported:     berth.ErrUnsupported,
		berth.KindPermission:      berth.ErrPermission,
		berth.KindSystem:          berth.ErrSystem,
		berth.KindInternal:        berth.ErrInternal,
	}
	if len(sentinels) != 8 {
		t.Fatalf("%d kinds", len(sentinels))
	}
	for kind := berth.ErrorKind(1); kind <= 8; kind++ {
		err := fmt.Errorf("wrapped: %w", &berth.Error{Op: "run", Kind: kind, Message: "m"})
		for other, sentinel := range sentinels {
			if errors.Is(err, sentinel) != (other == kind) {
				t.Errorf("errors.Is(%v error, %v) = %v", kind, sentinel, !(other == kind))
			}
		}
		if strings.HasPrefix(kind.String(), "error kind") {
			t.Errorf("kind %d has no name", int(kind))
		}
	}
	if got := (&berth.Error{Op: "kill", Kind: berth.KindNotFound, Message: "no container x"}).Error(); got != "berth kill: no container x" {
		t.Errorf("Error(): %s", got)
	}
	if got := berth.ErrNotFound.Error(); got != "berth: not found" {
		t.Errorf("sentinel Error(): %s", got)
	}
	if berth.ErrorKind(99).String() != "error kind 99" {
		t.Errorf("unknown kind: %s", berth.ErrorKind(99))
	}
}

func TestErrorErrno(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &berth.Error{Op: "update", Kind: berth.KindSystem, Message: "m", Errno: syscall.ENOSPC})
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, berth.ErrSystem) || errors.Is(err, syscall.EPERM) {
		t.Errorf("an error with errno ENOSPC: Is(ENOSPC) %v, Is(ErrSystem) %v, Is(EPERM) %v",
			errors.Is(err, syscall.ENOSPC), errors.Is(err, berth.ErrSystem), errors.Is(err, syscall.EPERM))
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != syscall.ENOSPC {
		t.Errorf("errors.As to syscall.Errno: %v", errno)
	}
	if !errors.Is(&berth.Error{Kind: berth.KindSystem, Errno: syscall.ENOENT}, fs.ErrNotExist) {
		t.Error("ENOENT should be fs.ErrNotExist")
	}
	plain := &berth.Error{Op: "kill", Kind: berth.KindNotFound, Message: "no container x"}
	if plain.Unwrap() != nil || errors.Is(plain, syscall.Errno(0)) {
		t.Errorf("an error without errno unwraps to %v", plain.Unwrap())
	}
	// A target with an Errno is not a sentinel.
	if errors.Is(err, &berth.Error{Kind: berth.KindSystem, Errno: syscall.EPERM}) {
		t.Error("an *Error target with an Errno matched as a sentinel")
	}
}

func TestProcessJSONOCIFields(t *testing.T) {
	groups := []uint32{}
	umask := uint32(0o077)
	adj := int32(-500)
	p := berth.Process{
		Args: []string{"sh"}, User: "1000:1000", Groups: &groups, Umask: &umask,
		Capabilities: &berth.CapabilitySets{
			Bounding: []string{"CAP_KILL", "CAP_CHOWN"}, Permitted: []string{"CAP_KILL"},
			Effective: []string{"CAP_KILL"}, Inheritable: []string{"CAP_CHOWN"}, Ambient: []string{"CAP_CHOWN"},
		},
		OomScoreAdj: &adj,
	}
	want := `{"args":["sh"],"user":"1000:1000","groups":[],"umask":63,` +
		`"capabilities":{"bounding":["CAP_KILL","CAP_CHOWN"],"effective":["CAP_KILL"],` +
		`"inheritable":["CAP_CHOWN"],"permitted":["CAP_KILL"],"ambient":["CAP_CHOWN"]},"oom_score_adj":-500}`
	if got := marshal(t, p); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Not given: absent, so that berth's defaults hold.
	if got := marshal(t, berth.Process{Args: []string{"sh"}}); got != `{"args":["sh"]}` {
		t.Errorf("got %s", got)
	}
}

func TestOCIResourcesJSON(t *testing.T) {
	zero := uint64(0)
	idle := int64(1)
	no := false
	r := berth.Resources{
		MemorySwappiness:       &zero,
		MemoryDisableOOMKiller: &no,
		CPUIdle:                &idle,
		CPUBurst:               20000,
		BlkioWeightDevice:      []berth.WeightDevice{{Major: 8, Minor: 0, Weight: 300}},
		BlkioThrottleReadBpsDevice: []berth.ThrottleDevice{
			{Major: 8, Minor: 0, Rate: 1 << 20},
		},
		HugepageLimits: []berth.HugepageLimit{{PageSize: "2MB", Limit: 0}},
		Unified:        map[string]string{"memory.high": "1000000"},
	}
	cmd := berth.Command{ID: "a", Rootfs: "/r", Process: berth.Process{Args: []string{"sh"}},
		Resources: r, CgroupPath: "pod/a"}
	want := `{"id":"a","rootfs":"/r","process":{"args":["sh"]},"cgroup_path":"pod/a",` +
		`"resources":{"memory_swappiness":0,"memory_disable_oom_killer":false,"cpu_idle":1,` +
		`"cpu_burst":20000,"blkio_weight_device":[{"major":8,"minor":0,"weight":300}],` +
		`"blkio_throttle_read_bps_device":[{"major":8,"minor":0,"rate":1048576}],` +
		`"hugepage_limits":[{"page_size":"2MB","limit":0}],"unified":{"memory.high":"1000000"}}}`
	if got := marshal(t, cmd); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var back berth.Command
	if err := json.Unmarshal([]byte(want), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, cmd) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, cmd)
	}
}
