#!/bin/bash
# The podman lane: podman 4.3 with conmon, with its own storage (vfs), run root, tmp dir,
# containers.conf and storage.conf under $WORK, cgroupfs under a cgroup parent named with the
# lane's prefix, the file events backend, no network, and RUNTIME as its OCI runtime, by path
# and by its containers.conf name. The runtime keeps its default root: podman 4.3 leaves
# `--runtime-flag root=` out of `delete`, so a root of the lane's own would keep every
# container's state (the ids are unique). The busybox image is made with `podman import`.
# Checks exit codes, a terminal, env, workdir, user, a read-only rootfs, a bind mount both
# ways, what podman's config has that runc's spec has not (a noexec /dev, the cgroup mount, a
# device, --privileged), an OOM kill in `podman inspect`, exec (and exec -t), stop, kill,
# pause/unpause, logs, and that `podman rm -f` leaves nothing: no container, cgroup, runtime
# state or conmon.
#
#   scripts/engines/podman.sh runc|berth   (BERTH, ROOTFS and WORK set; see lib.sh)
source "$(dirname "$0")/lib.sh"

# conmon writes files into its working directory (podman's): never into the checkout.
cd "$WORK"
mkdir -p "$WORK/storage" "$WORK/run" "$WORK/tmp" "$WORK/share"
IMAGE="localhost/$PREFIX:latest"
CGROUP_PARENT="/$PREFIX"

# Lowering limits needs no privilege; podman's defaults as root (nofile and nproc at 1048576
# and more) would need CAP_SYS_RESOURCE, which a CI container may not have.
cat >"$WORK/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$WORK/events.log"
# The runtimes that take --log-format json: podman then passes --log-format=json --log FILE
# and reads the runtime's errors from FILE.
runtime_supports_json = ["$RUNTIME"]
# The registration (README): the runtime by its name, podman --runtime NAME.
[engine.runtimes]
$RUNTIME = ["$RUNTIME_BIN"]
EOF
cat >"$WORK/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
EOF
export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$WORK/registries.conf"
: >"$WORK/registries.conf"

P=(podman --root "$WORK/storage" --runroot "$WORK/run" --tmpdir "$WORK/tmp"
  --storage-driver vfs --cgroup-manager cgroupfs --events-backend file
  --runtime "$RUNTIME_BIN")
# The runtime's own state root, where it keeps each container as <root>/<id>.
case "$RUNTIME" in runc) RUNTIME_ROOT=/run/runc ;; berth) RUNTIME_ROOT=/run/berth-oci ;; esac
# Options of every container of the lane.
C=(--network none --cgroup-parent "$CGROUP_PARENT")
pod() { "${P[@]}" "$@"; }
inspect() { pod inspect -f "$2" "$1"; }

# Processes of this lane (conmon, the containers' inits): any whose command line names $WORK.
lane_processes() {
  local pid
  for pid in $(pgrep -f -- "$WORK" || true); do
    [ "$pid" != $$ ] && [ "$pid" != "$BASHPID" ] && echo "$pid"
  done
}

# podman leaves the cgroup parent and conmon's cgroup in it (cgroupfs); they are the lane's.
cleanup_cgroups() {
  local dir
  for dir in $(leftover_cgroups); do find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null; done
  return 0
}
cleanup() {
  local status=$?
  set +e
  pod rm -a -f -t 0 >/dev/null 2>&1
  pod rmi -a -f >/dev/null 2>&1
  cleanup_cgroups
  grep -o " $WORK[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
  exit "$status"
}
trap cleanup EXIT

# The image, from the busybox rootfs.
pod import -q "$(rootfs_tarball)" "$IMAGE" >/dev/null || fail "podman import"
check_match "import: the image is there" "$PREFIX" "$(pod images --format '{{.Repository}}')"

# An exit code, and stdout.
out=$(pod run --rm "${C[@]}" "$IMAGE" sh -c 'echo hello; exit 3') && status=0 || status=$?
check_eq "run: exit code" 3 "$status"
check_eq "run: stdout" hello "$out"

# The runtime by its registered name, from containers.conf.
out=$(podman --root "$WORK/storage" --runroot "$WORK/run" --tmpdir "$WORK/tmp" --runtime "$RUNTIME" \
  run --name "$PREFIX-named" "${C[@]}" "$IMAGE" echo by-name)
check_eq "run --runtime $RUNTIME (containers.conf's engine.runtimes)" by-name "$out"
check_eq "the container's OCIRuntime" "$RUNTIME" "$(inspect "$PREFIX-named" '{{.OCIRuntime}}')"
pod rm "$PREFIX-named" >/dev/null

# The runtime's errors as podman maps them: a missing program 127, one not executable 126.
pod run --rm "${C[@]}" "$IMAGE" /nonexistent 2>"$WORK/err" && status=0 || status=$?
check_eq "run: a missing program (127)" 127 "$status"
check_match "run: the runtime's error, through its --log" '/nonexistent' "$(cat "$WORK/err")"
pod run --rm "${C[@]}" "$IMAGE" /etc/passwd 2>/dev/null && status=0 || status=$?
check_eq "run: a program that is not executable (126)" 126 "$status"

# A terminal (conmon's console socket on create).
out=$(pod run --rm -t "${C[@]}" "$IMAGE" sh -c 'tty; stty size' | tr -d '\r')
check_match "run -t: a terminal" '^/dev/pts/[0-9]+' "$out"

# env, workdir, user, in one container.
out=$(pod run --rm "${C[@]}" -e LANE=podman -w /tmp -u 1000 "$IMAGE" \
  sh -c 'echo "$LANE $(pwd) $(id -u)"')
check_eq "run: env, workdir (-w) and user (-u 1000)" "podman /tmp 1000" "$out"

# A read-only rootfs: a write fails, and the container says so.
out=$(pod run --rm "${C[@]}" --read-only "$IMAGE" \
  sh -c 'if touch /etc/lane 2>/dev/null; then echo wrote; else echo refused; fi')
check_eq "run --read-only: a write to the rootfs fails" refused "$out"

# A bind mount, read and written both ways.
echo from-host >"$WORK/share/in"
out=$(pod run --rm "${C[@]}" -v "$WORK/share:/share" "$IMAGE" \
  sh -c 'cat /share/in; echo from-container >/share/out')
check_eq "run -v: the container reads the host's file" from-host "$out"
check_eq "run -v: the host reads the container's file" from-container "$(cat "$WORK/share/out")"

# What podman's config.json has that runc's spec has not: a noexec /dev (and the container's
# own cgroups at /sys/fs/cgroup, its limit there), a device with its type bits in fileMode,
# and, privileged, a read-write /sys and the host's devices. Nothing is written to /sys.
out=$(pod run --rm "${C[@]}" -m 32m "$IMAGE" sh -c \
  'awk "\$5 == \"/dev\" {print \$6}" /proc/self/mountinfo;
   cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max')
check_match "run: /dev is noexec" '(^|,)noexec(,|$)' "$(echo "$out" | head -1)"
check_eq "run -m: the container's own limit in /sys/fs/cgroup" 33554432 "$(echo "$out" | tail -1)"
out=$(pod run --rm "${C[@]}" --device /dev/null:/dev/lane-null "$IMAGE" stat -c '%F %t:%T' /dev/lane-null)
check_eq "run --device" "character special file 1:3" "$out"
out=$(pod run --rm "${C[@]}" --privileged "$IMAGE" sh -c \
  'awk "\$5 == \"/sys\" {print \$6}" /proc/self/mountinfo | cut -d, -f1; readlink /dev/ptmx')
check_eq "run --privileged: /sys read-write, /dev/ptmx the pts link" "rw pts/ptmx" "$(echo $out)"

# A memory limit that the container exceeds: the kernel kills it, and podman says OOMKilled.
# conmon 2.1 notes an OOM kill in a file `oom` in its working directory, and podman 4.3 looks
# for it in the bundle but starts conmon where podman itself runs: so `podman start` runs in the
# bundle (the container's static dir), as it would in a podman that sets conmon's directory.
pod create "${C[@]}" --name "$PREFIX-oom" -m 16m --memory-swap 16m "$IMAGE" \
  sh -c 'tail /dev/zero' >/dev/null
(cd "$(inspect "$PREFIX-oom" '{{.StaticDir}}')" && pod start -a "$PREFIX-oom") >/dev/null 2>&1 &&
  status=0 || status=$?
check_eq "run -m: killed (137)" 137 "$status"
check_eq "run -m: State.OOMKilled" true "$(inspect "$PREFIX-oom" '{{.State.OOMKilled}}')"
pod rm "$PREFIX-oom" >/dev/null

# A long-running container for exec, pause, logs and stop. Its init ends on SIGTERM with 7.
pod run -d "${C[@]}" --name "$PREFIX-long" "$IMAGE" \
  sh -c 'trap "echo got-term; exit 7" TERM; echo started; while :; do sleep 0.1; done' >/dev/null
check_eq "run -d: State.Status" running "$(inspect "$PREFIX-long" '{{.State.Status}}')"
out=$(pod exec "$PREFIX-long" sh -c 'echo exec-$((40 + 2)); exit 0')
check_eq "exec: stdout" exec-42 "$out"
pod exec "$PREFIX-long" sh -c 'exit 5' && status=0 || status=$?
check_eq "exec: exit code" 5 "$status"
pod exec "$PREFIX-long" /nonexistent 2>/dev/null && status=0 || status=$?
check_eq "exec: a missing program (127)" 127 "$status"
out=$(pod exec -t "$PREFIX-long" sh -c 'tty; test -t 0 && echo stdin-tty')
check_match "exec -t: a terminal" '^/dev/pts/[0-9]+' "$out"
pod pause "$PREFIX-long" >/dev/null
check_eq "pause: State.Status" paused "$(inspect "$PREFIX-long" '{{.State.Status}}')"
pod unpause "$PREFIX-long" >/dev/null
check_eq "unpause: State.Status" running "$(inspect "$PREFIX-long" '{{.State.Status}}')"
check_eq "logs" started "$(pod logs "$PREFIX-long")"
pod stop -t 10 "$PREFIX-long" >/dev/null
check_eq "stop: the exit code (the init's trap)" 7 "$(inspect "$PREFIX-long" '{{.State.ExitCode}}')"
check_eq "stop: logs" "started got-term" "$(pod logs "$PREFIX-long" | tr '\n' ' ' | sed 's/ $//')"
pod rm "$PREFIX-long" >/dev/null

# kill: SIGKILL, and the exit code podman reports.
pod run -d "${C[@]}" --name "$PREFIX-kill" "$IMAGE" sleep 1000 >/dev/null
pod kill -s KILL "$PREFIX-kill" >/dev/null
pod wait "$PREFIX-kill" >/dev/null
check_eq "kill -s KILL: exit code" 137 "$(inspect "$PREFIX-kill" '{{.State.ExitCode}}')"
pod rm "$PREFIX-kill" >/dev/null

# Removal of a running container, with an exec still running in it: nothing is left of what
# was there before (its cgroups, its state under the runtime's root, its conmon).
id=$(pod run -d "${C[@]}" --name "$PREFIX-rm" "$IMAGE" sleep 1000)
pod exec -d "$PREFIX-rm" sleep 1000 >/dev/null
own_cgroups() { find /sys/fs/cgroup -mindepth 2 -maxdepth 5 -type d -name "libpod-$id"; }
[ -n "$(own_cgroups)" ] || fail "run -d: no cgroup libpod-$id"
[ -e "$RUNTIME_ROOT/$id" ] || fail "run -d: no state at $RUNTIME_ROOT/$id"
[ -n "$(lane_processes)" ] || fail "run -d: no conmon"
pod rm -f -t 0 "$PREFIX-rm" >/dev/null
check_eq "rm -f: no container" "" "$(pod ps -a -q)"
check_eq "rm -f: no cgroup of its own" "" "$(own_cgroups)"
check_eq "rm -f: no state under the runtime's root" "" "$(ls -d "$RUNTIME_ROOT/$id" 2>/dev/null)"
# conmon ends once it has written the exit: a moment after rm returns.
no_lane_processes() { [ -z "$(lane_processes)" ]; }
wait_for "rm -f: conmon ends" 10 no_lane_processes
check_eq "rm -f: no conmon" "" "$(lane_processes)"
# Every container the lane made, by the events podman logged: none left in the runtime's root.
ids=$(grep -o '"ID":"[0-9a-f]\{64\}"' "$WORK/events.log" | cut -d'"' -f4 | sort -u)
[ -n "$ids" ] || fail "events: no container ids in $WORK/events.log"
left=$(for i in $ids; do [ ! -e "$RUNTIME_ROOT/$i" ] || echo "$RUNTIME_ROOT/$i"; done)
check_eq "rm: no state under the runtime's root ($(echo "$ids" | wc -l) containers)" "" "$left"

cleanup_cgroups
check_eq "after: no cgroup with the lane's prefix" "" "$(leftover_cgroups)"
lane_done
