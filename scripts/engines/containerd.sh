#!/bin/bash
# The containerd lane: containerd 1.6 and its runc shim (io.containerd.runc.v2), driven by ctr,
# with RUNTIME (runc or berth) as the shim's OCI runtime (`ctr run --runc-binary`).
#
#   WORK=... ROOTFS=... BERTH=... scripts/engines/containerd.sh runc|berth
#
# Starts its own containerd (root, state and sockets under $WORK, only the plugins ctr's tasks
# need) and checks: an exit code, stdout, env, a terminal, exec, kill and the exit status
# containerd reports, pause/resume, an OOM kill and its /tasks/oom event, metrics, and that
# deleting leaves no task, container, snapshot, cgroup or runtime state behind.
. "$(dirname "$0")/lib.sh"

SOCK=$WORK/containerd.sock
NS=$PREFIX
# The shim's runtime root: containerd-shim-runc-v2 passes `--root /run/containerd/runc/<ns>`.
SHIM_ROOT=/run/containerd/runc/$NS
CONTAINERD_PID=
EVENTS_PID=

cleanup() {
  set +e
  [ -n "$EVENTS_PID" ] && kill "$EVENTS_PID" 2>/dev/null && wait "$EVENTS_PID" 2>/dev/null
  if [ -n "$CONTAINERD_PID" ]; then
    for t in $(ctr -a "$SOCK" -n "$NS" task ls -q 2>/dev/null); do
      ctr -a "$SOCK" -n "$NS" task kill -s KILL "$t" >/dev/null 2>&1
      ctr -a "$SOCK" -n "$NS" task delete -f "$t" >/dev/null 2>&1
    done
    for c in $(ctr -a "$SOCK" -n "$NS" containers ls -q 2>/dev/null); do
      ctr -a "$SOCK" -n "$NS" containers delete "$c" >/dev/null 2>&1
    done
    kill "$CONTAINERD_PID" 2>/dev/null
    wait "$CONTAINERD_PID" 2>/dev/null
  fi
  # A shim outlives containerd only if a task did; end those of this lane's namespace.
  for p in $(pgrep -f -- "containerd-shim-runc-v2 -namespace $NS " 2>/dev/null); do kill -9 "$p"; done
  rm -rf "$SHIM_ROOT"
  # The namespace's cgroup (the parent of every container's) in each hierarchy, deepest first.
  leftover_cgroups | sort -r | while read -r d; do rmdir "$d" 2>/dev/null; done
  umount -R "$WORK/state" 2>/dev/null
  umount -R "$WORK/root" 2>/dev/null
}
trap cleanup EXIT

cat >"$WORK/config.toml" <<EOF
version = 2
root = "$WORK/root"
state = "$WORK/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$WORK/containerd.ttrpc.sock"
[debug]
  address = "$WORK/containerd.debug.sock"
[metrics]
  address = ""
EOF
containerd --config "$WORK/config.toml" >"$WORK/containerd.log" 2>&1 &
CONTAINERD_PID=$!
wait_for "containerd answers" 30 ctr -a "$SOCK" version

ctr_() { ctr -a "$SOCK" -n "$NS" "$@"; }
# A private copy of the rootfs for container $1 (containers write to theirs).
rootfs_for() {
  local dir="$WORK/rootfs-$1"
  [ -d "$dir" ] || cp -a "$ROOTFS" "$dir"
  echo "$dir"
}
# run_args ID [CTR-RUN-FLAGS...] -- COMMAND...: the ctr command line in RUN; run_ runs it.
run_args() {
  local id=$1 flags=()
  shift
  while [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  # No image, so no image config: the spec has no env, and no PATH unless given.
  RUN=(ctr -a "$SOCK" -n "$NS" run --runc-binary "$RUNTIME_BIN" --env PATH=/bin:/sbin:/usr/bin:/usr/sbin
    "${flags[@]}" --rootfs "$(rootfs_for "$id")" "$id" "$@")
}
run_() {
  run_args "$@"
  "${RUN[@]}"
}
task_status() { ctr_ task ls | awk -v id="$1" '$1 == id { print $3 }'; }
task_is() { [ "$(task_status "$1")" = "$2" ]; }

ctr_ events >"$WORK/events" 2>&1 &
EVENTS_PID=$!

# Exit code and stdout of a foreground run.
status=0
out=$(run_ exit --rm -- sh -c 'echo hello; exit 7') || status=$?
check_eq "exit code" 7 "$status"
check_eq "stdout" hello "$out"

out=$(run_ env --rm --env GREETING=hi -- sh -c 'echo "$GREETING"')
check_eq "env" hi "$out"

# A terminal: stdout is a tty and lines end in CRLF.
run_args tty --rm -t -- sh -c 'test -t 0 && test -t 1 && echo is-a-tty'
out=$(in_pty "${RUN[@]}")
# (script(1) passes its stdin's end on as a NUL, which the terminal echoes as ^@.)
check_match "tty" '(^|@)is-a-tty$' "$(printf '%s' "$out" | tr -d '\r')"
check_match "tty's CRLF" $'\r' "$out"

# A privileged container: a read-write /sys, the host's device nodes, ctr's capabilities.
out=$(run_ priv --rm --privileged -- sh -c \
  "grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; test -c /dev/kmsg && echo kmsg;
   grep CapEff /proc/self/status | cut -f2")
check_eq "privileged" "rw kmsg $(grep CapEff /proc/self/status | cut -f2)" "$(echo $out)"

# A detached task: exec, kill, the exit status containerd reports.
run_ long -d -- sh -c 'trap "exit 3" TERM; while true; do sleep 0.1; done' >/dev/null
wait_for "task running" 20 task_is long RUNNING
out=$(ctr_ task exec --exec-id e1 long sh -c 'echo exec; exit 4') && status=0 || status=$?
check_eq "exec stdout" exec "$out"
check_eq "exec exit code" 4 "$status"
out=$(in_pty ctr -a "$SOCK" -n "$NS" task exec --exec-id e2 -t long tty | tr -d '\r')
check_match "exec tty" '(^|@)/dev/pts/[0-9]+$' "$out"
init=$(ctr_ task ls | awk '$1 == "long" { print $2 }')
check_match "task ps lists the init ($init)" "^$init\$" "$(ctr_ task ps long | awk 'NR > 1 { print $1 }')"

ctr_ task pause long
wait_for "paused" 10 task_is long PAUSED
check_eq "pause" PAUSED "$(task_status long)"
ctr_ task resume long
wait_for "resumed" 10 task_is long RUNNING
check_eq "resume" RUNNING "$(task_status long)"

# Metrics: a memory figure > 0 (cgroup v1 here: memory.usage_in_bytes; v2: memory.usage).
metrics=$(ctr_ task metrics long)
usage=$(printf '%s\n' "$metrics" | awk '$1 == "memory.usage_in_bytes" || $1 == "memory.usage" { print $2; exit }')
[ "${usage:-0}" -gt 0 ] || fail "metrics: no memory usage > 0 in: $metrics"
pass "metrics: memory usage $usage"

ctr_ task kill -s TERM long
wait_for "task stopped" 20 task_is long STOPPED
# ctr prints a task's non-zero exit status as it deletes it.
out=$(ctr_ task delete long 2>&1)
check_match "exit status after TERM" 'task long exit with non-zero exit code 3"?$' "$out"

run_ killed -d -- sleep 1000 >/dev/null
wait_for "task running" 20 task_is killed RUNNING
# --all: every process of the container, an exec'd one too.
ctr_ task exec -d --exec-id e3 killed sleep 1000
ctr_ task kill -a -s KILL killed
wait_for "task stopped" 20 task_is killed STOPPED
out=$(ctr_ task delete killed 2>&1)
check_match "exit status after KILL" 'task killed exit with non-zero exit code 137"?$' "$out"

# A program that is not there: the runtime's error, as the shim reads it from the runtime's
# log, reaches ctr, and the failed create leaves nothing behind.
status=0
err=$(run_ missing --rm -- /no/such/program 2>&1) || status=$?
check_eq "a missing program fails" 1 "$status"
check_match "the runtime's error names it" 'OCI runtime create failed: .*/no/such/program' "$err"
check_eq "nothing left of it" "" "$(ctr_ containers ls -q | grep -x missing; ls -A "$SHIM_ROOT/missing" 2>/dev/null;
  leftover_cgroups | while read -r d; do ls -d "$d/missing" 2>/dev/null; done)"

# A memory limit that OOMs: exit 137 and containerd's /tasks/oom event.
status=0
run_ oom --rm --memory-limit 33554432 -- dd if=/dev/zero of=/dev/null bs=128M count=1 \
  >/dev/null 2>&1 || status=$?
check_eq "OOM exit code" 137 "$status"
wait_for "/tasks/oom event" 10 grep -q '/tasks/oom' "$WORK/events"
check_match "OOM event names the container" '/tasks/oom \{"container_id":"oom"' "$(grep /tasks/oom "$WORK/events")"

# Deleting everything leaves nothing: no task, container, snapshot, cgroup, runtime state.
for c in long killed; do ctr_ containers delete "$c"; done
check_eq "no task left" "" "$(ctr_ task ls -q)"
check_eq "no container left" "" "$(ctr_ containers ls -q)"
check_eq "no snapshot left" "" "$(ctr_ snapshots ls | awk 'NR > 1')"
left=$(leftover_cgroups | while read -r d; do find "$d" -mindepth 1 -type d; done)
check_eq "no container cgroup left" "" "$left"
check_eq "no runtime state left" "" "$(ls -A "$SHIM_ROOT" 2>/dev/null || true)"
lane_done
