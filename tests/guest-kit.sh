# guest-kit.sh: a tiny Linux guest that boots under TCG and answers PCI hot-unplug.
#
# The kit is Debian's cloud kernel (ACPI PCI hotplug built in) and an
# initramfs holding only a static busybox whose /init mounts proc and sys,
# prints HPVM_GUEST_MARKER on the serial console, then reports every PCI
# device that appears or goes away, as the kernel announces it:
#   hpvm-guest-kit: pci-added 0000:00:02.0 1AF4:1000
#   hpvm-guest-kit: pci-removed 0000:00:02.0 1AF4:1000
# and never exits.
# Boots to the marker in about 3 s under TCG on a 2-CPU host.
#
# Source it, then:
#   hpvm_guest_kit [DIR]
#       Make sure DIR holds vmlinuz and initrd.img, building what is missing
#       (DIR defaults to ${HPVM_CACHE_DIR:-/var/cache/hpvm-hooks}/guest-kit;
#       the folders are made world-readable: QEMU runs as libvirt-qemu). The
#       first build downloads the kernel package that linux-image-cloud-amd64
#       depends on with `apt-get download` (running `apt-get update` once when
#       apt does not know it or the download fails), extracts it with dpkg-deb
#       and keeps only the kernel: later calls are offline and take
#       milliseconds. The initramfs is rebuilt when HPVM_GUEST_KIT_VERSION
#       changes. A lock (flock, 10 min) serializes concurrent builders.
#       Exports HPVM_GUEST_KERNEL, HPVM_GUEST_INITRD. Returns 0, or 1 with a
#       message on stderr (not amd64, no busybox-static or cpio, no network).
#   hpvm_guest_xml TEMPLATE NAME SERIAL
#       Print TEMPLATE (e.g. tests/data/integration/booted-guest.xml) with
#       @NAME@, @KERNEL@, @INITRD@ and @SERIAL@ replaced (the last three by
#       HPVM_GUEST_KERNEL, HPVM_GUEST_INITRD and SERIAL, an absolute path to
#       a file the guest's serial console appends to). Values must not hold
#       '|', '&', '<', '>', '"' or "'".
#   hpvm_guest_wait SERIAL [SECONDS]
#       Wait (default 60 s) until SERIAL holds the marker line; prints the
#       seconds waited. Returns 1 on timeout.
#   hpvm_guest_wait_line SERIAL TEXT [SECONDS]
#       Same for any fixed TEXT, e.g. "hpvm-guest-kit: pci-removed 0000:00:03.0".
#
# Needs: busybox-static, cpio, gzip, dpkg-deb, apt-get (tools/setup.sh installs
# them); root only for the default cache folder. POSIX sh.

HPVM_GUEST_KIT_VERSION=1
HPVM_GUEST_MARKER='hpvm-guest-kit: ready'

hpvm_gk_log() {
        printf 'guest-kit: %s\n' "$*" >&2
}

# The guest's /init and the helper busybox's uevent runs for every kernel
# uevent: PCI devices that come and go are reported on the console at once.
# shellcheck disable=SC2016 # expanded by the guest's shell
HPVM_GK_INIT='#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
uevent /bin/pci-event &
read -r up _ </proc/uptime
echo "hpvm-guest-kit: ready (guest uptime ${up} s)"
while :; do sleep 3600; done'
# shellcheck disable=SC2016 # expanded by the guest's shell
HPVM_GK_EVENT='#!/bin/sh
[ "$SUBSYSTEM" = pci ] || exit 0
case $ACTION in
add) echo "hpvm-guest-kit: pci-added ${DEVPATH##*/} $PCI_ID" ;;
remove) echo "hpvm-guest-kit: pci-removed ${DEVPATH##*/} $PCI_ID" ;;
esac'

# The kernel package linux-image-cloud-amd64 points at, e.g.
# linux-image-6.1.0-57-cloud-amd64; empty when apt does not know it.
hpvm_gk_kernel_package() {
        apt-cache depends linux-image-cloud-amd64 2>/dev/null |
                sed -n 's/^[[:space:]]*Depends:[[:space:]]*\(linux-image-[^[:space:]]*\).*/\1/p' |
                head -n 1
}

hpvm_gk_apt_update() {
        hpvm_gk_log "apt-get update (once, to find the cloud kernel)"
        timeout 600 apt-get update >"$1/apt-update.log" 2>&1 || {
                hpvm_gk_log "apt-get update failed:"
                tail -n 5 "$1/apt-update.log" | sed 's/^/    /' >&2
                return 1
        }
}

# Download and extract the cloud kernel into $1/vmlinuz; $2 is a scratch folder.
hpvm_gk_build_kernel() {
        _gk_dir=$1 _gk_tmp=$2
        _gk_pkg=$(hpvm_gk_kernel_package)
        if [ -z "$_gk_pkg" ]; then
                hpvm_gk_apt_update "$_gk_tmp" || return 1
                _gk_pkg=$(hpvm_gk_kernel_package)
        fi
        if [ -z "$_gk_pkg" ]; then
                hpvm_gk_log "apt knows no linux-image-cloud-amd64 (is deb.debian.org in the sources?)"
                return 1
        fi
        mkdir "$_gk_tmp/deb" || return 1
        # apt fetches as user _apt: let it write there (else it warns and
        # falls back to root).
        chown _apt "$_gk_tmp/deb" 2>/dev/null || :
        if ! (cd "$_gk_tmp/deb" && timeout 600 apt-get download "$_gk_pkg" >"$_gk_tmp/apt-download.log" 2>&1); then
                # Stale package lists name a version the mirror no longer has.
                hpvm_gk_apt_update "$_gk_tmp" || return 1
                _gk_pkg=$(hpvm_gk_kernel_package)
                (cd "$_gk_tmp/deb" && timeout 600 apt-get download "$_gk_pkg" >"$_gk_tmp/apt-download.log" 2>&1) || {
                        hpvm_gk_log "apt-get download $_gk_pkg failed:"
                        tail -n 5 "$_gk_tmp/apt-download.log" | sed 's/^/    /' >&2
                        return 1
                }
        fi
        for _gk_deb in "$_gk_tmp/deb/$_gk_pkg"_*.deb; do
                [ -f "$_gk_deb" ] || { hpvm_gk_log "apt-get download left no $_gk_pkg .deb"; return 1; }
                dpkg-deb -x "$_gk_deb" "$_gk_tmp/x" || return 1
                _gk_ver=$(dpkg-deb -f "$_gk_deb" Version)
        done
        for _gk_k in "$_gk_tmp"/x/boot/vmlinuz-*; do
                [ -f "$_gk_k" ] || { hpvm_gk_log "$_gk_pkg holds no /boot/vmlinuz-*"; return 1; }
                # Hot-unplug is answered by the kernel's ACPI PCI hotplug driver.
                if ! grep -q '^CONFIG_HOTPLUG_PCI_ACPI=y' "$_gk_tmp"/x/boot/config-* 2>/dev/null; then
                        hpvm_gk_log "$_gk_pkg lacks CONFIG_HOTPLUG_PCI_ACPI=y: hot-unplug will not complete"
                fi
                cp "$_gk_k" "$_gk_dir/vmlinuz.new" && chmod 0644 "$_gk_dir/vmlinuz.new" || return 1
        done
        echo "$_gk_pkg $_gk_ver" >"$_gk_dir/kernel-version" || return 1
        mv "$_gk_dir/vmlinuz.new" "$_gk_dir/vmlinuz" || return 1
        hpvm_gk_log "kernel: $_gk_pkg $_gk_ver -> $_gk_dir/vmlinuz"
}

# Build $1/initrd.img: static busybox and /init, gzip'ed newc cpio.
hpvm_gk_build_initrd() {
        _gk_dir=$1 _gk_tmp=$2
        _gk_bb=$(command -v busybox)
        if [ -z "$_gk_bb" ] || ldd "$_gk_bb" >/dev/null 2>&1; then
                hpvm_gk_log "no static busybox (apt-get install busybox-static, or run ./tools/setup.sh)"
                return 1
        fi
        _gk_root=$_gk_tmp/root
        mkdir -p "$_gk_root/bin" "$_gk_root/proc" "$_gk_root/sys" "$_gk_root/dev" || return 1
        cp "$_gk_bb" "$_gk_root/bin/busybox" || return 1
        printf '%s\n' "$HPVM_GK_INIT" >"$_gk_root/init" || return 1
        printf '%s\n' "$HPVM_GK_EVENT" >"$_gk_root/bin/pci-event" || return 1
        chmod 0755 "$_gk_root/init" "$_gk_root/bin/busybox" "$_gk_root/bin/pci-event" || return 1
        # Sorted names and root ownership: the same inputs give the same archive.
        (cd "$_gk_root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9n) \
                >"$_gk_dir/initrd.img.new" || return 1
        chmod 0644 "$_gk_dir/initrd.img.new" || return 1
        mv "$_gk_dir/initrd.img.new" "$_gk_dir/initrd.img" || return 1
        echo "$HPVM_GUEST_KIT_VERSION" >"$_gk_dir/initrd-version" || return 1
        hpvm_gk_log "initramfs: busybox $("$_gk_bb" 2>&1 | sed -n '1s/^BusyBox \(v[^ ]*\).*/\1/p') -> $_gk_dir/initrd.img"
}

hpvm_gk_ready() {
        [ -s "$1/vmlinuz" ] && [ -s "$1/initrd.img" ] &&
                [ "$(cat "$1/initrd-version" 2>/dev/null)" = "$HPVM_GUEST_KIT_VERSION" ]
}

# Build what is missing, under the lock (runs in a subshell).
hpvm_gk_build() {
        _gk_dir=$1
        flock -w 600 9 || { hpvm_gk_log "another build holds $_gk_dir/.lock for 10 min"; return 1; }
        hpvm_gk_ready "$_gk_dir" && return 0
        _gk_tmp=$(mktemp -d "$_gk_dir/.build.XXXXXX") || return 1
        _gk_rc=0
        if [ ! -s "$_gk_dir/vmlinuz" ]; then
                hpvm_gk_build_kernel "$_gk_dir" "$_gk_tmp" || _gk_rc=1
        fi
        if [ "$_gk_rc" = 0 ]; then
                hpvm_gk_build_initrd "$_gk_dir" "$_gk_tmp" || _gk_rc=1
        fi
        rm -rf "$_gk_tmp" "$_gk_dir/vmlinuz.new" "$_gk_dir/initrd.img.new"
        return "$_gk_rc"
}

hpvm_guest_kit() {
        _gk_dir=${1:-${HPVM_CACHE_DIR:-/var/cache/hpvm-hooks}/guest-kit}
        case $_gk_dir in /*) ;; *) _gk_dir=$PWD/$_gk_dir ;; esac
        if ! hpvm_gk_ready "$_gk_dir"; then
                if [ "$(uname -m)" != x86_64 ]; then
                        hpvm_gk_log "the kit boots an amd64 kernel: this is $(uname -m)"
                        return 1
                fi
                for _gk_cmd in cpio gzip dpkg-deb apt-get apt-cache flock; do
                        if ! command -v "$_gk_cmd" >/dev/null 2>&1; then
                                hpvm_gk_log "$_gk_cmd not found (run ./tools/setup.sh)"
                                return 1
                        fi
                done
                mkdir -p "$_gk_dir" || return 1
                ( hpvm_gk_build "$_gk_dir" ) 9>"$_gk_dir/.lock" || return 1
        fi
        # QEMU opens the kernel and initramfs as user libvirt-qemu.
        chmod 0755 "$_gk_dir" 2>/dev/null || :
        HPVM_GUEST_KERNEL=$_gk_dir/vmlinuz
        HPVM_GUEST_INITRD=$_gk_dir/initrd.img
        export HPVM_GUEST_KERNEL HPVM_GUEST_INITRD
}

hpvm_guest_xml() {
        _gk_tpl=$1 _gk_name=$2 _gk_serial=$3
        if [ -z "${HPVM_GUEST_KERNEL:-}" ] || [ -z "${HPVM_GUEST_INITRD:-}" ]; then
                hpvm_gk_log "call hpvm_guest_kit first"
                return 1
        fi
        for _gk_v in "$_gk_name" "$_gk_serial" "$HPVM_GUEST_KERNEL" "$HPVM_GUEST_INITRD"; do
                case $_gk_v in
                *[\|\&\<\>\"\']*) hpvm_gk_log "cannot put '$_gk_v' into XML"; return 1 ;;
                esac
        done
        sed -e "s|@NAME@|$_gk_name|g" -e "s|@KERNEL@|$HPVM_GUEST_KERNEL|g" \
            -e "s|@INITRD@|$HPVM_GUEST_INITRD|g" -e "s|@SERIAL@|$_gk_serial|g" "$_gk_tpl"
}

hpvm_guest_wait_line() {
        _gk_file=$1 _gk_text=$2 _gk_limit=${3:-60}
        _gk_t0=$(date +%s.%N)
        _gk_end=$(($(date +%s) + _gk_limit))
        while ! grep -qF -- "$_gk_text" "$_gk_file" 2>/dev/null; do
                if [ "$(date +%s)" -ge "$_gk_end" ]; then
                        hpvm_gk_log "no '$_gk_text' in $_gk_file after ${_gk_limit} s"
                        return 1
                fi
                sleep 0.1
        done
        awk -v a="$_gk_t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }'
}

hpvm_guest_wait() {
        hpvm_guest_wait_line "$1" "$HPVM_GUEST_MARKER" "${2:-60}"
}
