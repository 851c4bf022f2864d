#!/bin/sh
# smoke-real-parts.sh: show, by hand, that the real parts the integration tests use work here.
#
# Run as root: ./tests/smoke-real-parts.sh   (not part of make check)
# Exit: 0 every step passed, 1 some step failed, 77 skipped (not root, or
# libvirt/QEMU/util-linux/busybox-static/cpio missing: run ./tools/setup.sh).
#
# Steps, each timed; the end prints a table of timings:
#  (a) booted guest (tests/guest-kit.sh) on the system libvirtd: boot to the
#      marker; attach a virtio user NIC live with an alias and a MAC; detach
#      it by alias and see libvirt's device-removed event. Then two guests
#      that do not answer: one without an OS (detach "succeeds", no event, the
#      NIC stays; virsh detach-device gives up after libvirt's 5 s wait) and
#      one asked before its kernel booted (the request is lost; a second one
#      after the boot works).
#  (b) host 2 (tests/libvirt-hosts.sh) with a logging hook
#      (tests/data/integration/logging-hook.in) installed, then restarted;
#      the same hook on the system libvirtd if this script started it (libvirtd
#      reads its hook folder only when it starts: a daemon someone else runs
#      is not restarted, so its side stays unobserved). Live-migrate a pinned
#      diskless guest to host 2 while the hook rewrites vCPU 0's pin on
#      "migrate begin"; check the pin host 2 runs it with; migrate it back;
#      list every hook call of both sides in order.
#      The same round trip with --p2p (as vdsm migrates).
#  (c) the destination's hook refuses "migrate begin", then "prepare begin",
#      "start begin", "started begin": the migration fails with libvirt's
#      message, the guest runs on.
#  (d) a booted guest with a NIC migrates to host 2, where the NIC is detached
#      and attached again live; host 2's libvirtd restarts under it
#      ("reconnect begin").
#
# Knobs: HPVM_SMOKE_KEEP=1 keeps the work folder (hook log, serial logs);
# HPVM_CACHE_DIR (guest kit cache, default /var/cache/hpvm-hooks);
# HPVM_SMOKE_PRIVATE_SYSTEM=1 runs the whole test in a mount namespace with
# private /run, /var/lib/libvirt, /var/log/libvirt and /etc/libvirt, so the
# "system" libvirtd is one this script starts (and may hook and restart)
# even when the machine already runs one, which it leaves alone.
# Everything it starts ends with it (EXIT trap): guests by name, daemons by
# recorded pids. Every wait is bounded.

srcdir=${HPVM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
data=$srcdir/tests/data/integration

skip() {
        echo "smoke-real-parts: SKIP: $*" >&2
        exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root (system libvirtd, namespaces)"
for cmd in libvirtd virtlogd virsh qemu-system-x86_64 unshare nsenter timeout \
           busybox cpio; do
        command -v "$cmd" >/dev/null 2>&1 || skip "$cmd not installed (run ./tools/setup.sh)"
done

# Re-run this script where qemu:///system is free: private folders over the
# machine's, a copy of its libvirt configuration (*.conf only).
if [ "${HPVM_SMOKE_PRIVATE_SYSTEM:-0}" = 1 ] && [ -z "${HPVM_SMOKE_SANDBOX:-}" ]; then
        sb=$(mktemp -d "${TMPDIR:-/tmp}/hpvm-smoke-system.XXXXXX") || exit 1
        chmod 0755 "$sb"
        mkdir -m 0755 "$sb/run" "$sb/lib" "$sb/log" "$sb/etc" "$sb/etc/qemu" || exit 1
        for f in /etc/libvirt/*.conf; do
                [ -f "$f" ] && cp "$f" "$sb/etc/"
        done
        # shellcheck disable=SC2016 # expanded by the inner shell
        HPVM_SMOKE_SANDBOX=$sb unshare --mount --propagation private sh -ec '
                mount --bind "$1/run" /run
                mount --bind "$1/lib" /var/lib/libvirt
                mount --bind "$1/log" /var/log/libvirt
                mount --bind "$1/etc" /etc/libvirt
                shift
                exec "$@"' sh "$sb" "$0"
        rc=$?
        rm -rf "$sb"
        exit "$rc"
fi

. "$srcdir/tests/libvirtd-env.sh"
. "$srcdir/tests/libvirt-hosts.sh"
. "$srcdir/tests/guest-kit.sh"

P=hpvm-smoke-$$            # prefix of every guest we create
WORK=
FAILS=0
TIMINGS=
EVENT_PIDS=

log() {
        printf '%s\n' "$*"
}

pass() {
        log "PASS: $*"
}

fail() {
        log "FAIL: $*"
        FAILS=$((FAILS + 1))
}

now() {
        date +%s.%N
}

# Seconds since $1, one decimal.
since() {
        awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'
}

# Record a timing line for the final table.
timing() {
        TIMINGS="$TIMINGS$(printf '%-62s %6s s' "$1" "$2")
"
}

# virsh, bounded; $1 is the URI.
vsh() {
        _uri=$1
        shift
        timeout 120 virsh -q -c "$_uri" "$@"
}

SYS=qemu:///system

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
        for _p in $EVENT_PIDS; do
                kill "$_p" 2>/dev/null
                wait "$_p" 2>/dev/null
        done
        if [ -n "$WORK" ] && hpvm_lv_answers; then
                for _d in $(timeout 10 virsh -q -c "$SYS" list --name 2>/dev/null); do
                        case $_d in "$P"-*) timeout 20 virsh -q -c "$SYS" destroy "$_d" >/dev/null 2>&1 ;; esac
                done
        fi
        hpvm_host2_stop
        hpvm_libvirtd_stop
        if [ -n "$WORK" ]; then
                if [ "${HPVM_SMOKE_KEEP:-0}" = 1 ]; then
                        log "kept $WORK"
                else
                        rm -rf "$WORK"
                fi
        fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# QEMU (user libvirt-qemu) opens the serial logs in there: 0755, not mktemp's 0700.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hpvm-smoke.XXXXXX") || exit 1
chmod 0755 "$WORK"
mkdir -m 0755 "$WORK/ctl" "$WORK/hooks-src" "$WORK/hooks-dst" || exit 1

# Start "virsh event" for $2 on $1 in the background, writing to file $3;
# waits up to $4 seconds for one event of kind $5.
event_watch() {
        timeout $(($4 + 5)) virsh -c "$1" event "$2" --event "$5" --timeout "$4" --timestamp \
                >"$3" 2>&1 &
        EVENT_PIDS="$EVENT_PIDS $!"
        # virsh registers its callback right after connecting: give it that.
        sleep 1
}

# Wait up to $2 s for file $1 to hold $3. Prints the seconds waited since $4.
wait_text() {
        _end=$(($(date +%s) + $2))
        while ! grep -qF -- "$3" "$1" 2>/dev/null; do
                [ "$(date +%s)" -ge "$_end" ] && return 1
                sleep 0.05
        done
        since "$4"
}

# Wait up to $3 s until the live XML of $2 on $1 no longer holds alias $4.
wait_gone() {
        _end=$(($(date +%s) + $3))
        while vsh "$1" dumpxml "$2" | grep -qF "<alias name='$4'/>"; do
                [ "$(date +%s)" -ge "$_end" ] && return 1
                sleep 0.05
        done
}

has_alias() {
        vsh "$1" dumpxml "$2" | grep -qF "<alias name='$3'/>"
}

nic_xml() {
        sed -e "s|@ALIAS@|$1|" -e "s|@MAC@|$2|" "$data/user-nic.xml" >"$WORK/nic-$1.xml"
        printf '%s\n' "$WORK/nic-$1.xml"
}

# Boot a kit guest $1 on URI $2; fails the step when no marker within 60 s.
boot_guest() {
        hpvm_guest_xml "$data/booted-guest.xml" "$1" "$WORK/$1.serial" >"$WORK/$1.xml" || return 1
        _t=$(now)
        vsh "$2" create "$WORK/$1.xml" >/dev/null || { fail "virsh create $1"; return 1; }
        if ! _w=$(hpvm_guest_wait "$WORK/$1.serial" 60); then
                fail "$1: no marker on its serial console within 60 s"
                return 1
        fi
        _boot=$(since "$_t")
        pass "$1 booted: marker after $_boot s ($(grep -F "$HPVM_GUEST_MARKER" "$WORK/$1.serial"))"
        timing "boot kit guest to marker (create + boot, TCG)" "$_boot"
}

hpvm_libvirtd_start || { fail "no system libvirtd"; exit 1; }
if hpvm_libvirtd_owned; then
        log "system libvirtd: started by this script"
else
        log "system libvirtd: already running, reused (not restarted, no hook installed there)"
fi

# ---------------------------------------------------------------- (a)
log ""
log "== (a) hot-plug and hot-unplug on a booted guest (system libvirtd)"
t=$(now)
# shellcheck disable=SC2119 # no folder: the default cache
hpvm_guest_kit || { fail "guest kit"; exit 1; }
timing "guest kit ready (cached after the first build)" "$(since "$t")"

A=$P-boot
if boot_guest "$A" "$SYS"; then
        nic=$(nic_xml ua-smoke-nic0 52:54:00:5a:00:01)
        t=$(now)
        if vsh "$SYS" attach-device "$A" "$nic" --live >/dev/null && has_alias "$SYS" "$A" ua-smoke-nic0; then
                timing "attach NIC live (virsh returns)" "$(since "$t")"
                pass "NIC ua-smoke-nic0 attached live: $(vsh "$SYS" dumpxml "$A" | grep -A5 "<interface type='user'>" | tr -s ' \n' ' ')"
                if w=$(hpvm_guest_wait_line "$WORK/$A.serial" "pci-added" 10); then
                        pass "the guest saw it: $(grep -F pci-added "$WORK/$A.serial" | tail -n 1)"
                        timing "attach -> the guest reports the new PCI device" "$(since "$t")"
                fi
                event_watch "$SYS" "$A" "$WORK/ev-a.txt" 30 device-removed
                t=$(now)
                vsh "$SYS" detach-device-alias "$A" ua-smoke-nic0 --live
                timing "detach-device-alias returns (request sent)" "$(since "$t")"
                if w=$(wait_text "$WORK/ev-a.txt" 20 "device-removed" "$t"); then
                        pass "device-removed event after $w s: $(grep -F device-removed "$WORK/ev-a.txt")"
                        timing "detach by alias -> device-removed event" "$w"
                else
                        fail "no device-removed event within 20 s"
                fi
                if wait_gone "$SYS" "$A" 10 ua-smoke-nic0; then
                        pass "ua-smoke-nic0 gone from the live XML"
                else
                        fail "ua-smoke-nic0 still in the live XML"
                fi
                hpvm_guest_wait_line "$WORK/$A.serial" "pci-removed" 10 >/dev/null &&
                        pass "the guest saw it go: $(grep -F pci-removed "$WORK/$A.serial" | tail -n 1)"
        else
                fail "attach-device $A"
        fi
        vsh "$SYS" destroy "$A" >/dev/null
fi

# A guest with ACPI but no OS: nothing answers the eject.
B=$P-noos
sed "s|<name>hpvm-it-guest</name>|<name>$B</name>|" "$data/tcg-guest.xml" >"$WORK/$B.xml"
if vsh "$SYS" create "$WORK/$B.xml" >/dev/null; then
        nic=$(nic_xml ua-smoke-nic2 52:54:00:5a:00:02)
        vsh "$SYS" attach-device "$B" "$nic" --live >/dev/null || fail "attach-device $B"
        event_watch "$SYS" "$B" "$WORK/ev-b.txt" 12 device-removed
        t=$(now)
        out=$(timeout 60 virsh -c "$SYS" detach-device-alias "$B" ua-smoke-nic2 --live 2>&1 | tr -s '\n' ' ')
        log "no OS: detach-device-alias said: $out ($(since "$t") s)"
        if wait_text "$WORK/ev-b.txt" 12 "device-removed" "$t" >/dev/null; then
                fail "no OS: a device-removed event arrived"
        elif has_alias "$SYS" "$B" ua-smoke-nic2; then
                pass "no OS: no event within 12 s, ua-smoke-nic2 still in the live XML"
        else
                fail "no OS: no event but the NIC is gone"
        fi
        t=$(now)
        out=$(timeout 60 virsh -c "$SYS" detach-device "$B" "$nic" --live 2>&1 | tr -s '\n' ' ')
        d=$(since "$t")
        log "no OS: virsh detach-device (waits for the removal) said: $out after $d s"
        timing "detach-device on a guest that never answers (returns)" "$d"
        if has_alias "$SYS" "$B" ua-smoke-nic2; then
                pass "no OS: after virsh detach-device the NIC is still there"
        else
                fail "no OS: the NIC went away"
        fi
        vsh "$SYS" destroy "$B" >/dev/null
else
        fail "virsh create $B"
fi

# A kit guest asked before its kernel runs: the eject request is lost.
C=$P-early
if hpvm_guest_xml "$data/booted-guest.xml" "$C" "$WORK/$C.serial" >"$WORK/$C.xml" &&
   vsh "$SYS" create "$WORK/$C.xml" >/dev/null; then
        nic=$(nic_xml ua-smoke-nic3 52:54:00:5a:00:03)
        vsh "$SYS" attach-device "$C" "$nic" --live >/dev/null || fail "attach-device $C"
        event_watch "$SYS" "$C" "$WORK/ev-c.txt" 15 device-removed
        t=$(now)
        vsh "$SYS" detach-device-alias "$C" ua-smoke-nic3 --live >/dev/null
        if grep -qF "$HPVM_GUEST_MARKER" "$WORK/$C.serial"; then
                log "early: the kernel had booted already; this case proves nothing"
        elif hpvm_guest_wait "$WORK/$C.serial" 60 >/dev/null &&
             ! wait_text "$WORK/ev-c.txt" 15 "device-removed" "$t" >/dev/null &&
             has_alias "$SYS" "$C" ua-smoke-nic3; then
                pass "before boot: the detach request was lost (guest booted, no event within 15 s, NIC still there)"
                event_watch "$SYS" "$C" "$WORK/ev-c2.txt" 20 device-removed
                t=$(now)
                vsh "$SYS" detach-device-alias "$C" ua-smoke-nic3 --live >/dev/null
                if w=$(wait_text "$WORK/ev-c2.txt" 20 "device-removed" "$t"); then
                        pass "before boot: asked again after the boot, removed in $w s"
                else
                        fail "before boot: asked again after the boot, still no event"
                fi
        else
                fail "before boot: expected a lost request (see $WORK/ev-c.txt)"
        fi
        vsh "$SYS" destroy "$C" >/dev/null
else
        fail "virsh create $C"
fi

# ---------------------------------------------------------------- (b)
log ""
log "== (b) live migration to host 2 with libvirt hooks on both sides"
for side in src dst; do
        hpvm_lv_logging_hook "$side" "$WORK/ctl" "$WORK/hooks-$side/50-hpvm-smoke-log"
done
: >"$WORK/ctl/hook.log"

t=$(now)
hpvm_host2_start "$WORK" || { fail "host 2 does not start"; exit 1; }
timing "host 2 start (namespace, virtlogd, libvirtd answers)" "$(since "$t")"
pass "host 2: $HPVM_HOST2_URI, hostname $(vsh "$HPVM_HOST2_URI" hostname), system's $(vsh "$SYS" hostname)"

# The namespace: its own hostname and /etc/hpvm-hooks.
echo "sysfs_root = /fake/sysfs/of/host2" >"$HPVM_HOST2_ETC/hpvm-hooks.conf"
inside=$(hpvm_host2_exec sh -c 'hostname; cat /etc/hpvm-hooks/hpvm-hooks.conf')
if [ "$inside" = "$HPVM_HOST2_HOSTNAME
sysfs_root = /fake/sysfs/of/host2" ] && [ ! -e /etc/hpvm-hooks/hpvm-hooks.conf ]; then
        pass "hpvm_host2_exec runs as '$HPVM_HOST2_HOSTNAME' and reads host 2's /etc/hpvm-hooks"
else
        fail "hpvm_host2_exec saw: $inside"
fi

hpvm_host2_install_hooks "$WORK/hooks-dst" || fail "install hook on host 2"
t=$(now)
hpvm_host2_restart || { fail "host 2 restart"; exit 1; }
timing "host 2 libvirtd restart (to load its hook)" "$(since "$t")"

SRC_HOOKED=0
if hpvm_libvirtd_install_hooks "$WORK/hooks-src"; then
        t=$(now)
        if hpvm_libvirtd_restart; then
                SRC_HOOKED=1
                timing "system libvirtd restart (ours; to load its hook)" "$(since "$t")"
        else
                fail "system libvirtd restart"
        fi
else
        log "NOTE: the system libvirtd is not ours: the source side's hook calls are not observed"
fi

# Rewrite vCPU 0's pin from CPU 0 to CPU 1 on the destination.
echo "s|<vcpupin vcpu='0' cpuset='0'/>|<vcpupin vcpu='0' cpuset='1'/>|" >"$WORK/ctl/dst.rewrite.sed"

M=$P-mig
sed "s|@NAME@|$M|" "$data/migrate-guest.xml" >"$WORK/$M.xml"
vsh "$SYS" create "$WORK/$M.xml" >/dev/null || { fail "virsh create $M"; exit 1; }
log "on the system libvirtd: $(vsh "$SYS" vcpupin "$M" | tr -s ' \n' ' ')"
before=$(wc -l <"$WORK/ctl/hook.log")
t=$(now)
if out=$(vsh "$SYS" migrate --live "$M" "$HPVM_HOST2_URI" --migrateuri tcp://127.0.0.1 2>&1); then
        d=$(since "$t")
        pass "migrated $M to host 2 in $d s"
        timing "live migration system -> host 2 (256 MiB, no OS)" "$d"
else
        fail "migration to host 2: $out"
fi
state=$(vsh "$HPVM_HOST2_URI" domstate "$M" 2>&1)
pins=$(vsh "$HPVM_HOST2_URI" vcpupin "$M" 2>&1 | tr -s ' \n' ' ')
affinity=$(vsh "$HPVM_HOST2_URI" vcpuinfo "$M" 2>&1 | sed -n 's/^CPU Affinity: *//p' | tr '\n' ' ')
log "on host 2: state $state; vcpupin: $pins; real affinity (vcpuinfo): $affinity"
case $pins in
*"0 1 1 1"*) pass "host 2 runs $M with the pin the hook wrote (vCPU 0 on CPU 1)" ;;
*) fail "host 2 pins are not the rewritten ones: $pins" ;;
esac
case $affinity in
"-y -y "|"-y -y") pass "vCPU threads really run on CPU 1 only (vcpuinfo: $affinity)" ;;
*) fail "vCPU thread affinity on host 2: $affinity" ;;
esac
if vsh "$SYS" domstate "$M" >/dev/null 2>&1; then
        fail "$M still known to the system libvirtd after the migration"
fi
if [ -s "$WORK/ctl/dst-migrate-begin.xml" ] &&
   grep -qF "<vcpupin vcpu='0' cpuset='0'/>" "$WORK/ctl/dst-migrate-begin.xml"; then
        pass "the hook saw 'migrate begin' with the source's domain XML on stdin ($(wc -c <"$WORK/ctl/dst-migrate-begin.xml") bytes)"
else
        fail "no domain XML on the hook's stdin for migrate begin"
fi
log "hook calls during the migration (time side domain operation sub-operation extra stdin):"
sed -n "$((before + 1)),\$p" "$WORK/ctl/hook.log" | sed 's/^/    /'

rm -f "$WORK/ctl/dst.rewrite.sed"
before=$(wc -l <"$WORK/ctl/hook.log")
t=$(now)
if out=$(vsh "$HPVM_HOST2_URI" migrate --live "$M" "$SYS" --migrateuri tcp://127.0.0.1 2>&1); then
        d=$(since "$t")
        pass "migrated $M back to the system libvirtd in $d s (pins there: $(vsh "$SYS" vcpupin "$M" | tr -s ' \n' ' '))"
        timing "live migration host 2 -> system" "$d"
else
        fail "migration back: $out"
fi
log "hook calls during the migration back:"
sed -n "$((before + 1)),\$p" "$WORK/ctl/hook.log" | sed 's/^/    /'
[ "$SRC_HOOKED" = 1 ] || log "    (system side not hooked: its calls are missing above)"

# The same round trip as vdsm migrates: peer to peer (the source libvirtd
# connects to the destination itself).
before=$(wc -l <"$WORK/ctl/hook.log")
t=$(now)
if out=$(vsh "$SYS" migrate --live --p2p "$M" "$HPVM_HOST2_URI" --migrateuri tcp://127.0.0.1 2>&1); then
        d=$(since "$t")
        timing "live migration system -> host 2, --p2p" "$d"
        t=$(now)
        if out=$(vsh "$HPVM_HOST2_URI" migrate --live --p2p "$M" "$HPVM_HOST2_PEER_URI" --migrateuri tcp://127.0.0.1 2>&1); then
                timing "live migration host 2 -> system, --p2p" "$(since "$t")"
                pass "--p2p there ($d s) and back to $HPVM_HOST2_PEER_URI ($(since "$t") s)"
        else
                fail "--p2p back: $out"
        fi
else
        fail "--p2p to host 2: $out"
fi
log "hook calls during the --p2p round trip:"
sed -n "$((before + 1)),\$p" "$WORK/ctl/hook.log" | sed 's/^/    /'

# ---------------------------------------------------------------- (c)
log ""
log "== (c) the destination refuses"
for op in migrate-begin prepare-begin start-begin started-begin; do
        : >"$WORK/ctl/dst.refuse-$op"
        before=$(wc -l <"$WORK/ctl/hook.log")
        t=$(now)
        if out=$(vsh "$SYS" migrate --live "$M" "$HPVM_HOST2_URI" --migrateuri tcp://127.0.0.1 2>&1); then
                fail "host 2 refused $op but the migration succeeded"
                vsh "$HPVM_HOST2_URI" migrate --live "$M" "$SYS" --migrateuri tcp://127.0.0.1 >/dev/null 2>&1
        else
                d=$(since "$t")
                log "refused at $op after $d s; virsh said: $out"
                timing "migration refused by the destination's hook at $op" "$d"
                st=$(vsh "$SYS" domstate "$M" 2>&1)
                if [ "$st" = running ] && ! vsh "$HPVM_HOST2_URI" domstate "$M" >/dev/null 2>&1; then
                        pass "refused at $op: $M still running on the source, absent on host 2"
                else
                        fail "refused at $op: source state '$st'"
                fi
        fi
        log "hook calls:"
        sed -n "$((before + 1)),\$p" "$WORK/ctl/hook.log" | sed 's/^/    /'
        rm -f "$WORK/ctl/dst.refuse-$op"
done
vsh "$SYS" destroy "$M" >/dev/null

# ---------------------------------------------------------------- (d)
log ""
log "== (d) a booted guest with a NIC migrates; its NIC is detached and re-attached on host 2"
N=$P-nic
if boot_guest "$N" "$SYS"; then
        nic=$(nic_xml ua-smoke-nic4 52:54:00:5a:00:04)
        vsh "$SYS" attach-device "$N" "$nic" --live >/dev/null || fail "attach-device $N"
        hpvm_guest_wait_line "$WORK/$N.serial" "pci-added" 10 >/dev/null || fail "$N never saw its NIC"
        t=$(now)
        if out=$(vsh "$SYS" migrate --live "$N" "$HPVM_HOST2_URI" --migrateuri tcp://127.0.0.1 2>&1); then
                d=$(since "$t")
                pass "migrated booted $N with its NIC in $d s"
                timing "live migration of the booted guest with a NIC" "$d"
                has_alias "$HPVM_HOST2_URI" "$N" ua-smoke-nic4 &&
                        pass "host 2's live XML has ua-smoke-nic4 ($(vsh "$HPVM_HOST2_URI" dumpxml "$N" | grep -A1 "<mac " | tr -s ' \n' ' '))"
                event_watch "$HPVM_HOST2_URI" "$N" "$WORK/ev-d.txt" 30 device-removed
                t=$(now)
                vsh "$HPVM_HOST2_URI" detach-device-alias "$N" ua-smoke-nic4 --live >/dev/null
                if w=$(wait_text "$WORK/ev-d.txt" 20 "device-removed" "$t") &&
                   wait_gone "$HPVM_HOST2_URI" "$N" 10 ua-smoke-nic4; then
                        pass "detached on host 2: device-removed after $w s"
                        timing "detach on host 2 after migration -> event" "$w"
                else
                        fail "detach on host 2: no event (see $WORK/ev-d.txt)"
                fi
                if hpvm_guest_wait_line "$WORK/$N.serial" "pci-removed" 10 >/dev/null; then
                        pass "the migrated guest saw it go: $(grep -F pci-removed "$WORK/$N.serial" | tail -n 1)"
                else
                        fail "the migrated guest did not report the removal"
                fi
                n_added=$(grep -c pci-added "$WORK/$N.serial")
                t=$(now)
                if vsh "$HPVM_HOST2_URI" attach-device "$N" "$nic" --live >/dev/null &&
                   has_alias "$HPVM_HOST2_URI" "$N" ua-smoke-nic4; then
                        timing "re-attach on host 2 (virsh returns)" "$(since "$t")"
                        _end=$(($(date +%s) + 10))
                        while [ "$(grep -c pci-added "$WORK/$N.serial")" -le "$n_added" ] &&
                              [ "$(date +%s)" -lt "$_end" ]; do
                                sleep 0.1
                        done
                        if [ "$(grep -c pci-added "$WORK/$N.serial")" -gt "$n_added" ]; then
                                pass "re-attached on host 2; the guest saw it: $(grep -F pci-added "$WORK/$N.serial" | tail -n 1)"
                        else
                                fail "re-attached on host 2 but the guest did not see it"
                        fi
                else
                        fail "re-attach on host 2"
                fi
                # A libvirtd restart under a running guest.
                before=$(wc -l <"$WORK/ctl/hook.log")
                hpvm_host2_restart || fail "host 2 restart"
                if [ "$(vsh "$HPVM_HOST2_URI" domstate "$N" 2>&1)" = running ] &&
                   sed -n "$((before + 1)),\$p" "$WORK/ctl/hook.log" | grep -q "dst $N reconnect begin"; then
                        pass "host 2 restarted under $N: still running, hook saw: $(sed -n "$((before + 1)),\$p" "$WORK/ctl/hook.log" | cut -d' ' -f2- | tr '\n' ';')"
                else
                        fail "host 2 restart under $N"
                fi
        else
                fail "migration of $N: $out"
        fi
fi

log ""
log "== every hook call of this run, in order"
sed 's/^/    /' "$WORK/ctl/hook.log"
log ""
log "== timings"
printf '%s' "$TIMINGS"
log ""
if [ "$FAILS" -gt 0 ]; then
        log "smoke-real-parts: $FAILS step(s) FAILED"
        exit 1
fi
log "smoke-real-parts: all steps passed"
exit 0
