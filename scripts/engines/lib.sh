# Shared by the engine lanes (scripts/engines/<engine>.sh). Sourced, never run.
#
# A lane is run as `scripts/engines/<engine>.sh RUNTIME` with RUNTIME `runc` (the baseline)
# or `berth`, and these in the environment (scripts/engine-tests.sh sets them):
#   BERTH      the berth binary, with berth-init beside it
#   ROOTFS     the busybox rootfs directory (scripts/build-rootfs.sh)
#   WORK       a fresh directory the lane owns; removed by the caller
# Everything a lane starts (daemons, containers, cgroups) is its own, named with $PREFIX, and
# stopped by its own trap, even on failure.
set -euo pipefail

RUNTIME=${1:?usage: $0 runc|berth}
case "$RUNTIME" in
  runc) RUNTIME_BIN=$(command -v runc) ;;
  berth) RUNTIME_BIN=${BERTH:?BERTH must name the berth binary} ;;
  *) echo "$0: unknown runtime $RUNTIME (runc or berth)" >&2; exit 2 ;;
esac
: "${ROOTFS:?ROOTFS must name the busybox rootfs}" "${WORK:?WORK must name the lane directory}"
LANE=$(basename "$0" .sh)
PREFIX="berth-lane-$LANE-$RUNTIME-$$"
CHECKS=0

fail() {
  echo "FAIL [$LANE/$RUNTIME] $*" >&2
  exit 1
}
pass() {
  CHECKS=$((CHECKS + 1))
  echo "ok   [$LANE/$RUNTIME] $1"
}
# check_eq NAME WANT GOT
check_eq() {
  [ "$2" = "$3" ] || fail "$1: want '$2', got '$3'"
  pass "$1"
}
# check_match NAME EXTENDED-REGEX GOT
check_match() {
  printf '%s' "$3" | grep -Eq -- "$2" || fail "$1: '$3' does not match /$2/"
  pass "$1"
}
# wait_for NAME SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
  local name=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$name: not within the time allowed"
    sleep 0.1
  done
}
# in_pty COMMAND...: COMMAND with a terminal of its own as stdin, stdout and stderr (for the
# engines' `-t`, which want the caller's terminal); its output (CRLF line ends) and exit code.
in_pty() {
  local cmd
  printf -v cmd '%q ' "$@"
  script -qefc "$cmd" /dev/null </dev/null
}
# The busybox rootfs as a tarball, for the engines that import an image.
rootfs_tarball() {
  local tar="$WORK/busybox.tar"
  [ -f "$tar" ] || tar -C "$ROOTFS" --exclude=./.berth-rootfs -cf "$tar" .
  echo "$tar"
}
# Cgroup directories named with this lane's prefix, anywhere under /sys/fs/cgroup.
leftover_cgroups() {
  find /sys/fs/cgroup -mindepth 1 -maxdepth 6 -type d -name "*$PREFIX*" 2>/dev/null || true
}
lane_done() {
  echo "passed [$LANE/$RUNTIME]: $CHECKS checks in ${SECONDS}s"
}
