#!/usr/bin/env bash
# Runs the supervisor's tests on a pure cgroup v2 host.
#
# The development machines mount every cgroup controller on v1, so the v2
# backend (a delegated subtree with memory, pids and cpu: memory.peak,
# memory.events, pids.max, cgroup.kill) cannot be exercised there. This
# script boots a throwaway VM (qemu; TCG, or $SIO_VM_ACCEL, e.g. kvm) with
# Debian's kernel, this machine's root filesystem shared READ-ONLY over 9p,
# tmpfs for /tmp and /run, and cgroup2 alone at /sys/fs/cgroup; it runs the
# given pytest arguments there (default: the supervisor, cgroup and hostile
# tests) and exits with pytest's status. Nothing on the host is written
# except a temporary directory for the initramfs.
#
# Usage: bash scripts/cgroup2-vm-check.sh [pytest args...]
# Any argument replaces the default set: name the test paths too (options
# alone, e.g. -v, would run every test of the repository).
# Needs root, the repository's .venv (bash scripts/bootstrap.sh) and, installed
# here when missing: qemu-system-x86, linux-image-amd64, busybox-static.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" = "--guest" ]; then
    # Stage 2, inside the VM (pid 1): the host's root is read-only here.
    export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
    mount -t proc proc /proc
    mount -t sysfs sys /sys
    mount -t devtmpfs dev /dev
    mkdir -p /dev/pts /dev/shm
    mount -t devpts devpts /dev/pts
    mount -t tmpfs tmpfs /dev/shm
    args_file=$(sed -n 's/.* sio_args=\([^ ]*\).*/\1/p' /proc/cmdline)
    args=$(cat "$args_file")  # read before the host's /tmp is covered
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    mount -t tmpfs tmpfs /run
    mount -t cgroup2 cgroup2 /sys/fs/cgroup
    echo "guest: $(uname -r), /sys/fs/cgroup: $(cat /sys/fs/cgroup/cgroup.controllers)"
    cd "$repo"
    eval "set -- $args"
    if [ $# = 0 ]; then
        set -- packages/sio-workers-core/tests/test_supervised.py \
            packages/sio-workers-core/tests/test_cgroups.py tests/test_hostile.py
    fi
    status=0
    PYTHONDONTWRITEBYTECODE=1 .venv/bin/python -m pytest -p no:cacheprovider -q -rfE "$@" || status=$?
    echo "SIO-CGROUP2-VM-STATUS $status"
    sync
    /bin/busybox poweroff -f
fi

[ "$(id -u)" = 0 ] || { echo "cgroup2-vm-check: needs root" >&2; exit 2; }
[ -x "$repo/.venv/bin/python" ] || { echo "cgroup2-vm-check: run scripts/bootstrap.sh first" >&2; exit 2; }

kernel_image() { ls /boot/vmlinuz-*-amd64 2>/dev/null | grep -v -- -cloud- | sort -V | tail -n 1; }
if ! command -v qemu-system-x86_64 >/dev/null || [ -z "$(kernel_image)" ] || [ ! -x /bin/busybox ]; then
    echo "cgroup2-vm-check: installing qemu-system-x86, linux-image-amd64, busybox-static" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        qemu-system-x86 linux-image-amd64 busybox-static >&2
fi
kernel=$(kernel_image)
kver=${kernel#/boot/vmlinuz-}

# The native helpers are built on the host (the guest sees the cache read-only).
"$repo/.venv/bin/python" -c "from sio.workers import native
for helper in native.BUILT_AT_INSTALL: helper.path()"

work=$(mktemp -d /tmp/sio-cgroup2-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/initrd/bin" "$work/initrd/mods"
cp /bin/busybox "$work/initrd/bin/busybox"
# virtio-pci and 9p with their dependencies, in load order
order=$(for m in virtio_pci 9pnet_virtio 9p; do modprobe -S "$kver" --show-depends "$m"; done |
        awk '$1 == "insmod" && !seen[$2]++ {print $2}')
for ko in $order; do
    cp "$ko" "$work/initrd/mods/"
done

# Stage 1 (initramfs): load virtio + 9p, mount the host's root, switch to it.
cat > "$work/initrd/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /host
mount -t proc proc /proc
mount -t devtmpfs dev /dev
for m in $(for ko in $order; do printf '%s ' "${ko##*/}"; done); do insmod /mods/\$m || exit 1; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose host /host
umount /proc
exec switch_root /host /bin/bash $repo/scripts/cgroup2-vm-check.sh --guest
EOF
chmod +x "$work/initrd/init"
(cd "$work/initrd" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

if [ $# -gt 0 ]; then printf '%q ' "$@"; fi > "$work/args"
echo "cgroup2-vm-check: booting $kver, tests: ${*:-default}" >&2
# TCG: nested KVM hangs at boot on the development VMs; $SIO_VM_ACCEL=kvm to try it
qemu-system-x86_64 -accel "${SIO_VM_ACCEL:-tcg,thread=multi}" -cpu max -m 3072 -smp 2 -nographic -no-reboot \
    -kernel "$kernel" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 systemd.unified_cgroup_hierarchy=1 sio_args=$work/args" \
    -virtfs local,path=/,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap \
    | tee "$work/console.log"
status=$(sed -n 's/^SIO-CGROUP2-VM-STATUS \([0-9]*\).*/\1/p' "$work/console.log" | tail -n 1)
echo "cgroup2-vm-check: pytest status ${status:-none (the VM did not finish)}" >&2
[ "${status:-1}" = 0 ]
