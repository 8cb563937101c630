#!/bin/bash
# The cgroup v2 lane: berth's container and cgroup integration tests, for real, on a pure
# cgroup v2 host. This machine (and CI's) has hybrid cgroups with v1 controllers, so the tests
# run in a throw-away guest booted by ../shared/vm (every controller enabled, software
# emulation: fork+exec is ~35x slower there).
#
# Usage, as root, from anywhere in a checkout with shared/ beside it:
#     scripts/vm-tests.sh
#
# 1. installs the guest (bash ../shared/vm/setup.sh, idempotent);
# 2. builds on the host, since the guest sees the host's / read-only: the busybox rootfs
#    (scripts/build-rootfs.sh) and the release test binaries with the berth-init helper they
#    locate through CARGO_BIN_EXE_berth-init (and the `berth` CLI, for the CLI's tests);
# 3. boots the guest once and runs, test binary by test binary, the tests that need v2: every
#    cgroup, resource, OOM, freezer, stats, kill-all and clean-up test, a plain run, and the
#    CLI's state machine across processes;
# 4. prints each binary's result lines, a summary line, and exits non-zero if anything failed.
#
# Settings (environment):
#   VM_TIMEOUT    seconds for the whole guest run (default 600; the tests take ~1.5 min,
#                 and the image suite ~2 more)
#   TEST_TIMEOUT  seconds for one test binary in the guest (default 180)
#   TEST_THREADS  --test-threads for each binary (default 2)
#   VM_TESTS_EXTRA  more "binary:test_name" entries to run (space separated), e.g. a test
#                 left out below, to try it: VM_TESTS_EXTRA=run:tmpfs_gets_its_size
# In the guest, the drivers' state (BERTH_TEST_STATE_ROOT) and a copy of the rootfs
# (BERTH_TEST_ROOTFS) are on tmpfs (see tests/common).
set -euo pipefail

cd "$(dirname "$0")/.."
TOP=$PWD
VM=$(cd .. && pwd)/shared/vm
VM_TIMEOUT=${VM_TIMEOUT:-600}
TEST_TIMEOUT=${TEST_TIMEOUT:-180}
TEST_THREADS=${TEST_THREADS:-2}
export VM_TIMEOUT

log() { printf 'vm-tests: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

[ "$(id -u)" = 0 ] || die "must run as root (the guest's tests create cgroups and containers)"
[ -f "$VM/vm-run.sh" ] || die "no $VM/vm-run.sh: check out shared/ beside the repo"
START=$(date +%s)

# What runs in the guest: a binary, then the exact names of its tests ("*" = all of them).
# Left out: userns's an_idmapped_rootfs_belongs_to_container_root (the guest's rootfs is on
# 9p, which cannot be idmapped); run/lifecycle tests of namespaces, mounts and identity with nothing cgroup-specific,
# and supervision's a_slow_hook_does_not_stall_other_containers (a wall-clock bound of 2 s for
# 5 runs, which emulation cannot meet).
SELECTION=(
  "cgroups_host *"
  "oci_resources *"
  "run exit_codes_come_back_exactly
       the_memory_limit_kills_a_hog
       the_pids_limit_stops_a_fork_bomb
       the_standard_mounts_and_devices_are_there"
  "lifecycle create_start_wait_delete_split_the_run
       deleting_a_created_or_running_container_kills_it_and_cleans_up
       bad_input_is_rejected_before_anything_is_created
       twenty_containers_from_twenty_threads_each_get_their_own_exit_code
       a_successful_run_leaves_nothing_and_the_host_mounts_unchanged
       kill_signals_the_init_and_rejects_bad_signals"
  "supervision an_oom_kill_of_the_main_process_fires_on_oom_and_sets_oom_killed
       an_oom_kill_of_a_child_is_reported_while_the_main_process_lives_on
       no_oom_means_oom_killed_false_and_no_hook
       a_paused_container_stops_counting_and_a_resumed_one_goes_on
       stats_match_what_the_container_did
       kill_all_reaches_processes_that_ignore_the_signal_to_the_init
       without_a_private_pid_namespace_the_main_exit_takes_its_children_along
       two_hundred_containers_share_one_supervisor_thread"
  "hardening a_host_device_comes_with_exactly_the_access_asked_for
       privileged_allows_every_device
       the_image_of_an_init_in_flight_cannot_be_written_from_inside"
  "userns container_root_is_an_unprivileged_host_uid
       custom_mappings_apply_and_an_exec_joins_the_same_namespace
       container_root_cannot_write_a_host_file_its_uid_does_not_own
       a_user_namespace_container_has_its_devices_and_mounts"
  "exec exec_shares_the_namespaces_of_the_init"
  "builtin_init *"
  "setup_hardening *"
  "update *"
  "cli_lifecycle *"
  "cli_commands update_and_events
       the_terminal_master_arrives_over_the_console_socket"
  "cli_fields a_memory_limit_reaches_the_cgroup_and_an_oom_kill_is_an_event
       namespaces_joined_by_path_and_user_namespace_mappings"
)
for extra in ${VM_TESTS_EXTRA:-}; do
  SELECTION+=("${extra%%:*} ${extra#*:}")
done
# Binaries with their own harness (harness = false: no --list, substring filters, "N passed,
# M failed" at the end): the binary, then its filters (none: every case). The whole escape
# suite runs on v2 too; there the device cgroup is an eBPF program, which the attack through a
# device node proves. The image suite runs at its small scale there (BERTH_IMAGE_SCALE below):
# each hand-written image in one configuration, and a few random ones. The conformance suite
# runs whole: pause, stats, OOM and kill-all through cgroup v2. The recovery loop runs its
# 100 rounds there too (12 took 7 s: the guest's init reaps at once).
CUSTOM=(
  "escapes"
  "images"
  "conformance"
  "recovery"
  "recovery_loop"
  "lxc_conformance"
)

# 1. The guest.
log "installing the guest (../shared/vm/setup.sh)"
bash "$VM/setup.sh" >/dev/null

# 2. The rootfs and the binaries, on the host.
log "building the rootfs and the test binaries"
scripts/build-rootfs.sh build/rootfs >/dev/null
[ -x build/rootfs/bin/busybox ] || die "scripts/build-rootfs.sh left no build/rootfs/bin/busybox"
OUT=$TOP/target/vm-tests
rm -rf "$OUT"
mkdir -p "$OUT"
cargo test --release -p runtime-linux -p runtime-cli --no-run --message-format=json >"$OUT/build.json" \
  2> >(grep -vE '^\s*(Compiling|Finished|Executable|Blocking|Downloaded|Downloading)' >&2 || true)
python3 - "$OUT/build.json" >"$OUT/binaries" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if j.get("reason") == "compiler-artifact" and j.get("executable") and j["target"]["kind"] == ["test"]:
        print(j["target"]["name"], j["executable"])
PY
[ -x target/release/berth-init ] || die "no target/release/berth-init after the build"
[ -x target/release/berth ] || die "no target/release/berth after the build"

# Check the selection against the binaries (a renamed test must not silently drop out) and
# write the guest's script.
GUEST=$OUT/guest.sh
{
  echo 'set -u'
  echo 'export RUST_BACKTRACE=${RUST_BACKTRACE:-0}'
  # Tests that reach a case only by changing a global setting (fs.suid_dumpable), or that
  # use a stronger witness (rewriting a sysctl with its own value), do so only here.
  echo 'export BERTH_TEST_IN_GUEST=1'
  # Pure v2, or the lane proves nothing.
  echo 'if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ] || grep -q " - cgroup " /proc/self/mountinfo; then'
  echo '  echo "vm-tests: the guest is not a pure cgroup v2 host" >&2; exit 3; fi'
  echo 'echo "guest: $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"'
  # The device cgroup tests read a loop device of the host (tests/common LoopDevice).
  echo 'modprobe loop 2>/dev/null || true'
  # The drivers' state: /run if writable, else a tmpfs of our own.
  echo 'state=/run/berth-vm-tests'
  echo 'if ! mkdir -p "$state" 2>/dev/null || ! touch "$state/.w" 2>/dev/null; then'
  echo '  state=/tmp/berth-vm-tests; mkdir -p "$state" 2>/dev/null || true'
  echo '  mount -t tmpfs -o mode=700 berth-vm-tests "$state" 2>/dev/null || true; fi'
  echo 'export BERTH_TEST_STATE_ROOT=$state'
  # The containers' rootfs: a copy on a tmpfs. On the 9p share, memory.max keeps dropping
  # busybox's pages and faulting them back in, and an OOM kill can take minutes to come.
  # In a directory of the tmpfs, not at its root: the image suite hard-links copies of the
  # rootfs beside it (rootfs-images-<pid>), which must be on the same filesystem.
  echo 'vmfs=/tmp/berth-vm-rootfs; mkdir -p "$vmfs"'
  echo 'mount -t tmpfs -o mode=755 berth-vm-rootfs "$vmfs" 2>/dev/null || true'
  echo 'rootfs=$vmfs/rootfs; mkdir -p "$rootfs"'
  printf 'cp -a %q/build/rootfs/. "$rootfs"/ || exit 3\n' "$TOP"
  echo 'export BERTH_TEST_ROOTFS=$rootfs'
  # Each hand-written image in one configuration and 30 random ones, ~140 container runs
  # instead of ~1000: about 30 s here.
  echo 'export BERTH_IMAGE_SCALE=small BERTH_IMAGE_SAMPLES=30'
} >"$GUEST"
# A binary may come twice (VM_TESTS_EXTRA): each run gets files of its own.
unique_label() {
  local label=$1 n=2
  while grep -q "^$label " "$OUT/expected" 2>/dev/null; do
    label=$1.$n n=$((n + 1))
  done
  echo "$label"
}
expected_total=0
for entry in "${SELECTION[@]}"; do
  read -r -d '' -a words <<<"$entry" || true
  name=${words[0]}
  tests=("${words[@]:1}")
  bin=$(awk -v n="$name" '$1 == n {print $2}' "$OUT/binaries")
  [ -n "$bin" ] || die "no test binary for the target $name"
  "$bin" --list 2>/dev/null | sed -n 's/: test$//p' | sort >"$OUT/$name.list"
  if [ "${tests[*]}" = "*" ]; then
    filter=()
    count=$(wc -l <"$OUT/$name.list")
  else
    for t in "${tests[@]}"; do
      grep -qxF "$t" "$OUT/$name.list" || die "$name has no test $t"
    done
    filter=(--exact "${tests[@]}")
    count=${#tests[@]}
  fi
  expected_total=$((expected_total + count))
  label=$(unique_label "$name")
  echo "$label $count" >>"$OUT/expected"
  printf 'run_one %q %q %s\n' "$label" "$bin" "${filter[*]:-}" >>"$OUT/calls"
done
for entry in "${CUSTOM[@]}"; do
  read -r -a words <<<"$entry"
  name=${words[0]}
  bin=$(awk -v n="$name" '$1 == n {print $2}' "$OUT/binaries")
  [ -n "$bin" ] || die "no test binary for the target $name"
  label=$(unique_label "$name")
  echo "$label custom" >>"$OUT/expected"
  printf 'run_one %q %q %s\n' "$label" "$bin" "${words[*]:1}" >>"$OUT/calls"
done
# run_one LABEL BINARY ARGS...: a binary past TEST_TIMEOUT gets the stacks of its threads
# dumped (gdb, when the host has it) into its log, then SIGKILL.
cat >>"$GUEST" <<EOF
run_one() {
  name=\$1 bin=\$2; shift 2
  out="$OUT/\$name.out"
  echo "=== \$name"
  start=\$(date +%s)
  # The image suite's LXC half (about 2 minutes here, all process starts) runs on the host
  # only; the LXC conformance suite, escapes and recovery run here too.
  case \$name in images*) export BERTH_TEST_DRIVERS=native ;; *) unset BERTH_TEST_DRIVERS ;; esac
  "\$bin" --test-threads=$TEST_THREADS "\$@" >"\$out" 2>&1 &
  pid=\$!
  (
    sleep $TEST_TIMEOUT
    kill -0 \$pid 2>/dev/null || exit 0
    echo "=== timed out after ${TEST_TIMEOUT}s; threads:" >>"\$out"
    command -v gdb >/dev/null && gdb -p \$pid -batch -ex 'thread apply all bt 30' >>"\$out" 2>&1
    kill -9 \$pid
  ) &
  watcher=\$!
  wait \$pid
  echo \$? >"$OUT/\$name.rc"
  kill \$watcher 2>/dev/null
  echo "\$((\$(date +%s) - start))" >"$OUT/\$name.secs"
}
EOF
cat "$OUT/calls" >>"$GUEST"
printf 'dmesg >%q/dmesg.log 2>&1\nexit 0\n' "$OUT" >>"$GUEST"

# 3. The guest run.
log "booting the cgroup v2 guest (VM_TIMEOUT=${VM_TIMEOUT}s): $expected_total tests, and ${CUSTOM[*]}"
VM_START=$(date +%s)
set +e
# The guest's kernel enables AppArmor with no policy loaded, where LXC would confine its
# containers with a profile nobody loaded (and berth uses none): off, as on this host.
VM_APPEND="${VM_APPEND:-} apparmor=0" bash "$VM/vm-run.sh" "sh $GUEST" "$TOP"
vm_rc=$?
set -e
VM_SECS=$(($(date +%s) - VM_START))

# 4. Results.
failed=0 passed=0 ran=0 status=0
while read -r name count; do
  out=$OUT/$name.out
  if [ ! -f "$OUT/$name.rc" ]; then
    echo "--- $name: did not run (the guest ended first)"
    status=1
    continue
  fi
  rc=$(cat "$OUT/$name.rc")
  count_kind=$count
  echo "--- $name ($(cat "$OUT/$name.secs") s, exit $rc)"
  if [ "$count" = custom ]; then
    # Its own harness: a line per case, then "N passed, M failed" (the conformance suite
    # adds how many were unsupported or not selected).
    grep -E '^[a-z]+ .* \.\.\. |^[0-9]+ passed, [0-9]+ failed(, .*)?$' "$out" || true
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, .*)?$' "$out" | tail -n 1 || true)
    p=$(echo "${summary:-0 passed, 0 failed}" | awk '{print $1}')
    f=$(echo "${summary:-0 passed, 0 failed}" | awk '{print $3}')
    count=$((p + f))
    [ -n "$summary" ] && [ "$p" -gt 0 ] || { f=$((f + 1)); echo "$name: no summary, or nothing ran"; }
    expected_total=$((expected_total + count))
  else
    grep -E '^test .* \.\.\. |^test result:' "$out" || true
    p=$(grep -cE '^test .* \.\.\. ok$' "$out" || true)
    f=$(grep -cE '^test .* \.\.\. FAILED$' "$out" || true)
  fi
  passed=$((passed + p)) failed=$((failed + f)) ran=$((ran + p + f))
  if [ "$rc" != 0 ] || [ "$f" != 0 ] || [ "$p" != "$count" ]; then
    status=1
    if grep -q '^=== timed out' "$out"; then
      echo "$name: timed out after ${TEST_TIMEOUT}s; still running:"
      grep -E 'has been running for over' "$out" || true
      # berth's frames of each thread (the whole dump is in the log).
      sed -n '/^=== timed out/,$p' "$out" |
        grep -E '^Thread |runtime_linux::|runtime_core::|(cgroups_host|run|lifecycle|supervision)::' |
        grep -vE ' at (/rustc/|library/)' |
        sed -E 's/ \(.*\) at / at /' | head -n 60 || true
    fi
    # The failures' own messages, without the backtraces.
    if [ "$count_kind" = custom ]; then
      grep -vE ' \.\.\. (blocked|ok)$' "$out" | grep -vE '^\s+([0-9]+: |at )' | tail -n 40 || true
    else
      sed -n '/^failures:$/,/^test result:/p' "$out" | grep -vE '^\s+([0-9]+: |at )' | head -n 80 || true
    fi
    [ "$p" = "$count" ] || echo "$name: $p of $count selected tests passed"
  fi
done <"$OUT/expected"
if [ "$vm_rc" != 0 ]; then
  echo "vm-tests: the guest run ended with $vm_rc (124: VM_TIMEOUT, 125: the VM failed)"
  status=1
fi
TOTAL_SECS=$(($(date +%s) - START))
verdict=passed
[ "$status" = 0 ] || verdict=FAILED
echo "vm-tests: cgroup v2 lane $verdict: $passed passed, $failed failed, $ran of $expected_total run; guest ${VM_SECS}s, total ${TOTAL_SECS}s (logs and the guest's dmesg in target/vm-tests)"
exit "$status"
