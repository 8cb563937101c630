#!/bin/bash
# The Docker lane: dockerd 20.10 (with the containerd it manages and containerd's runc shim)
# running containers with RUNTIME: `runc` is Docker's default runtime, `berth` is registered
# with `--add-runtime berth=$BERTH` and chosen with `docker run --runtime berth`.
#
#   WORK=... ROOTFS=... BERTH=... scripts/engines/docker.sh runc|berth
#
# Starts its own dockerd (data root, exec root, pid file, socket, config and cgroup parent its
# own; no bridge, no iptables, the vfs storage driver), imports the busybox rootfs as an image
# and checks: an exit code, env, workdir, user, a read-only rootfs, a bind mount both ways, an
# OOM kill Docker sees, exec, stop, kill, pause/unpause, logs, and `docker rm -f` leaving
# nothing behind.
. "$(dirname "$0")/lib.sh"

SOCK=$WORK/docker.sock
EXEC_ROOT=$WORK/exec
DOCKERD_PID=
# Debian's client, of the daemon's version (another docker may come first in PATH).
DOCKER_CLI=/usr/bin/docker
[ -x "$DOCKER_CLI" ] || DOCKER_CLI=$(command -v docker)
IMAGE=berth-lane-busybox:latest
# dockerd gives each runtime the root `<exec-root>/runtime-<name>`, the shim a directory of
# its namespace (moby) in it.
RUNTIME_ROOT=$EXEC_ROOT/runtime-$RUNTIME/moby

d() { "$DOCKER_CLI" -H "unix://$SOCK" "$@"; }

cleanup() {
  set +e
  if [ -n "$DOCKERD_PID" ]; then
    ids=$(d ps -aq 2>/dev/null)
    [ -n "$ids" ] && d rm -f $ids >/dev/null 2>&1
    kill "$DOCKERD_PID" 2>/dev/null
    # dockerd stops its containerd and that one's shims as it ends.
    for _ in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$DOCKERD_PID" 2>/dev/null
    wait "$DOCKERD_PID" 2>/dev/null
  fi
  # Whatever outlived it (a containerd or shim of this exec root only).
  for p in $(pgrep -f -- "$EXEC_ROOT/" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  leftover_cgroups | sort -r | while read -r c; do rmdir "$c" 2>/dev/null; done
  # vfs leaves plain directories; the exec root may hold mounts (netns, shm).
  grep -o " $WORK/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
}
trap cleanup EXIT

echo '{}' >"$WORK/daemon.json"
runtime_flags=()
[ "$RUNTIME" = berth ] && runtime_flags=(--add-runtime "berth=$RUNTIME_BIN")
dockerd --config-file "$WORK/daemon.json" --data-root "$WORK/data" --exec-root "$EXEC_ROOT" \
  --pidfile "$WORK/docker.pid" -H "unix://$SOCK" --iptables=false --ip-masq=false \
  --ip-forward=false --bridge=none --storage-driver vfs --cgroup-parent "/$PREFIX" \
  --log-level warn "${runtime_flags[@]}" >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
wait_for "dockerd answers" 60 d version

d import "$(rootfs_tarball)" "$IMAGE" >/dev/null
run_() { d run --runtime "$RUNTIME" --network none "$@"; }
state() { d inspect -f "{{.State.$2}}" "$1"; }
state_is() { [ "$(state "$1" "$2")" = "$3" ]; }

status=0
run_ --rm "$IMAGE" sh -c 'exit 7' || status=$?
check_eq "exit code" 7 "$status"
check_eq "env" hi "$(run_ --rm -e GREETING=hi "$IMAGE" sh -c 'echo "$GREETING"')"
check_eq "workdir" /tmp "$(run_ --rm -w /tmp "$IMAGE" pwd)"
# Docker resolves 1000 in the image's /etc/passwd and /etc/group: app, groups app, wheel, audio.
check_eq "user" "1000 1000 1000 10 29 /home/app" \
  "$(run_ --rm -u 1000 "$IMAGE" sh -c 'echo "$(id -u) $(id -g) $(id -G) $HOME"')"

status=0
err=$(run_ --rm --read-only "$IMAGE" touch /new 2>&1) || status=$?
check_eq "read-only rootfs: a write fails" 1 "$status"
check_match "read-only rootfs: EROFS" 'Read-only file system' "$err"

# A terminal (the console socket at create) and stdin.
check_match "tty" '^/dev/pts/0$' "$(run_ --rm -t "$IMAGE" tty | tr -d '\r')"
check_eq "stdin" from-stdin "$(echo from-stdin | run_ --rm -i "$IMAGE" cat)"

# What Docker maps into the config: limits, capabilities, mounts, rlimits, sysctls, hostname.
check_eq "capabilities: --cap-drop" "0000000000000000" \
  "$(run_ --rm --cap-drop ALL "$IMAGE" sh -c 'grep CapEff /proc/self/status | cut -f2')"
check_eq "capabilities: Docker's default" "00000000a80425fb" \
  "$(run_ --rm "$IMAGE" sh -c 'grep CapEff /proc/self/status | cut -f2')"
check_match "--tmpfs" '^tmpfs /run tmpfs rw,nosuid,nodev,noexec' \
  "$(run_ --rm --tmpfs /run:rw,noexec,nosuid,size=65536k "$IMAGE" grep ' /run ' /proc/mounts)"
check_match "--shm-size" 'size=8192k' "$(run_ --rm --shm-size 8m "$IMAGE" grep ' /dev/shm ' /proc/mounts)"
check_eq "--ulimit" 512 "$(run_ --rm --ulimit nofile=512:512 "$IMAGE" sh -c 'ulimit -n')"
check_eq "--sysctl" 1 "$(run_ --rm --sysctl net.ipv4.ip_forward=1 "$IMAGE" cat /proc/sys/net/ipv4/ip_forward)"
check_eq "--hostname" lanehost "$(run_ --rm --hostname lanehost "$IMAGE" hostname)"
check_eq "/etc/hostname" lanehost "$(run_ --rm --hostname lanehost "$IMAGE" cat /etc/hostname)"

mkdir "$WORK/vol"
echo from-host >"$WORK/vol/in"
out=$(run_ --rm -v "$WORK/vol:/vol" "$IMAGE" sh -c 'cat /vol/in; echo from-container >/vol/out')
check_eq "bind mount: the host's file" from-host "$out"
check_eq "bind mount: the container's file" from-container "$(cat "$WORK/vol/out")"
status=0
run_ --rm -v "$WORK/vol:/vol:ro" "$IMAGE" touch /vol/new 2>/dev/null || status=$?
check_eq "a read-only bind mount: a write fails" "1 absent" "$status $([ -e "$WORK/vol/new" ] && echo present || echo absent)"

# A memory limit that OOMs: exit 137 and OOMKilled.
status=0
run_ --name oom -m 32m "$IMAGE" dd if=/dev/zero of=/dev/null bs=128M count=1 >/dev/null 2>&1 ||
  status=$?
check_eq "OOM exit code" 137 "$status"
check_eq "OOMKilled" true "$(state oom OOMKilled)"
# What a program reads its limit from: the container's own cgroup at /sys/fs/cgroup/<hierarchy>
# (Docker's cgroup mount; on this v1/hybrid host, in the host's cgroup namespace).
check_eq "its own memory cgroup in /sys/fs/cgroup" $((32 << 20)) \
  "$(run_ --rm -m 32m "$IMAGE" cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"

# A detached container: exec, pause, logs, stop (through docker-init, which passes TERM on).
run_ -d --name long --init --pids-limit 50 --cpus 0.5 --cpu-shares 512 "$IMAGE" sh -c 'echo out; echo err >&2; exec sleep 1000' >/dev/null
wait_for "running" 20 state_is long Running true
status=0
out=$(d exec long sh -c 'echo exec; exit 4') || status=$?
check_eq "exec stdout" exec "$out"
check_eq "exec exit code" 4 "$status"
check_eq "exec env and user" "/bin:/usr/bin 0" \
  "$(d exec -e PATH=/bin:/usr/bin long sh -c 'echo "$PATH $(id -u)"')"
check_match "exec tty" '^/dev/pts/[0-9]+$' "$(d exec -t long tty | tr -d '\r')"
check_eq "exec -u -w" "1000 /tmp" "$(d exec -u 1000 -w /tmp long sh -c 'echo "$(id -u) $PWD"')"
check_match "top" 'sleep 1000' "$(d top long)"
mem=$(d stats --no-stream --format '{{.MemUsage}}' long)
check_match "stats: memory" '^[0-9.]+[KMG]i?B / ' "$mem"
[ "${mem%%[!0-9.]*}" != 0 ] || fail "stats: memory usage 0 ($mem)"
d update --memory 64m --memory-swap 128m long >/dev/null
# The container's cgroup, where Docker puts it (cgroup v1 here): <parent>/<id>.
cg=/$PREFIX/$(d inspect -f '{{.Id}}' long)
check_eq "limits in the cgroup: pids, cpu quota, cpu shares" "50 50000 512" \
  "$(cd /sys/fs/cgroup && echo $(cat "pids$cg/pids.max" "cpu$cg/cpu.cfs_quota_us" "cpu$cg/cpu.shares"))"
check_eq "update: the cgroup's memory limit" $((64 << 20)) \
  "$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")"
d pause long >/dev/null
check_eq "paused" true "$(state long Paused)"
d unpause long >/dev/null
check_eq "unpaused" false "$(state long Paused)"
wait_for "logs" 10 sh -c "'$DOCKER_CLI' -H 'unix://$SOCK' logs long 2>&1 | grep -q err"
check_eq "logs" "out err" "$(d logs long 2>&1 | sort -r | tr '\n' ' ' | sed 's/ $//')"
d stop -t 10 long >/dev/null
check_eq "stop: SIGTERM's status" 143 "$(state long ExitCode)"

run_ -d --name killed "$IMAGE" sleep 1000 >/dev/null
wait_for "running" 20 state_is killed Running true
d kill killed >/dev/null
wait_for "killed" 20 state_is killed Running false
check_eq "kill: SIGKILL's status" 137 "$(state killed ExitCode)"
d restart -t 1 killed >/dev/null
check_eq "restart" true "$(state killed Running)"
d kill -s KILL killed >/dev/null
check_eq "wait" 137 "$(d wait killed)"
# stop without an init: sleep as pid 1 ignores SIGTERM, so the stop ends in SIGKILL.
run_ -d --name stopped "$IMAGE" sleep 1000 >/dev/null
wait_for "running" 20 state_is stopped Running true
d stop -t 1 stopped >/dev/null
check_eq "stop after the timeout: SIGKILL's status" 137 "$(state stopped ExitCode)"

# Removal, of a running one too: nothing left (containers, cgroups, the runtime's state).
run_ -d --name running "$IMAGE" sleep 1000 >/dev/null
wait_for "running" 20 state_is running Running true
d rm -f oom long killed stopped running >/dev/null
check_eq "no container left" "" "$(d ps -aq)"
left=$(leftover_cgroups | while read -r c; do find "$c" -mindepth 1 -type d; done)
check_eq "no container cgroup left" "" "$left"
check_eq "no runtime state left" "" "$(ls -A "$RUNTIME_ROOT" 2>/dev/null || true)"
lane_done
