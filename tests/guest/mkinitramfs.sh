#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the guest-view initramfs: busybox-static and an /init that prints, for every guest NUMA
# node, its CPU list, MemTotal and distances, between markers on the console, then powers off.
#
#   mkinitramfs.sh OUTPUT.cpio.gz
#
# Output lines (console=ttyS0):
#   QPIN-GUEST-BEGIN
#   QPIN-NODE <id> cpulist=<cpulist> memtotal_kb=<kB> distance=<d0>,<d1>,...
#   QPIN-CPU <id> package=<id> core=<id> siblings=<cpulist>
#   QPIN-GUEST-END
set -eu

out=${1:?usage: mkinitramfs.sh OUTPUT.cpio.gz}
busybox=${BUSYBOX:-$(command -v busybox || true)}
if [ -z "$busybox" ] || [ ! -x "$busybox" ]; then
    echo "mkinitramfs.sh: busybox not found (apt-get install busybox-static)" >&2
    exit 2
fi
# A dynamically linked busybox cannot run in an initramfs without its libraries.
if command -v file >/dev/null 2>&1 && file -L "$busybox" | grep -q 'dynamically linked'; then
    echo "mkinitramfs.sh: $busybox is not static (apt-get install busybox-static)" >&2
    exit 2
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev"
cp "$busybox" "$root/bin/busybox"
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo QPIN-GUEST-BEGIN
for dir in /sys/devices/system/node/node*; do
    [ -d "$dir" ] || continue
    id=${dir##*/node}
    cpus=$(cat "$dir/cpulist")
    mem=$(awk '/MemTotal/ { print $4 }' "$dir/meminfo")
    dist=$(tr ' ' ',' < "$dir/distance")
    echo "QPIN-NODE $id cpulist=$cpus memtotal_kb=$mem distance=$dist"
done
for dir in /sys/devices/system/cpu/cpu[0-9]*; do
    [ -d "$dir/topology" ] || continue
    id=${dir##*/cpu}
    echo "QPIN-CPU $id package=$(cat "$dir/topology/physical_package_id")" \
        "core=$(cat "$dir/topology/core_id")" \
        "siblings=$(cat "$dir/topology/thread_siblings_list")"
done
echo QPIN-GUEST-END
poweroff -f
INIT
chmod 755 "$root/init"
(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc | gzip -9) > "$out.tmp"
mv "$out.tmp" "$out"
