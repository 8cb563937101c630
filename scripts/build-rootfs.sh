#!/bin/sh
# Builds the busybox rootfs that tests, the demo and the benchmarks run in, from Debian's
# busybox-static. Usage: scripts/build-rootfs.sh [DIR]   (default: build/rootfs)
# Idempotent: an up-to-date rootfs is left as it is.
set -eu
cd "$(dirname "$0")/.."
ROOTFS=${1:-build/rootfs}

if [ ! -x /bin/busybox ] || ! /bin/busybox --list-full >/dev/null 2>&1 || ! dpkg -s busybox-static >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends busybox-static >/dev/null
fi

stamp="$ROOTFS/.berth-rootfs"
version=$(dpkg-query -W -f='${Version}' busybox-static)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
  exit 0
fi

rm -rf "$ROOTFS"
mkdir -p "$ROOTFS"
cd "$ROOTFS"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root home/app var/tmp
chmod 1777 tmp var/tmp
chmod 700 root
cp /bin/busybox bin/busybox
# Link every applet where busybox says it belongs (bin/ls, usr/bin/id, ...).
for applet in $(./bin/busybox --list-full); do
  [ -e "$applet" ] || ln -s /bin/busybox "$applet"
done

cat > etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:An unprivileged user:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > etc/group <<'GROUP'
root:x:0:
wheel:x:10:app
audio:x:29:app
app:x:1000:
nogroup:x:65534:
GROUP
chown 1000:1000 home/app
echo "$version" > .berth-rootfs
echo "rootfs ready: $(pwd) (busybox-static $version)"
