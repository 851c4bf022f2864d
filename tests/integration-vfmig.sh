#!/bin/sh
# integration-vfmig.sh: run tests/test-vfmig-real against real libvirtds: the system one and host 2.
#
# Parts (tests/libvirtd-env.sh, tests/libvirt-hosts.sh, tests/guest-kit.sh):
# the system libvirtd (reused when one answers), the booted guest kit, and
# host 2 with tests/data/integration/logging-hook.in installed as its qemu
# hook (the test makes it refuse a migration through a control file). The
# test writes host 2's /etc/hpvm-hooks/hpvm.conf (HPVM_HOST2_ETC) and runs
# the destination's calls inside host 2's namespaces (HPVM_HOST2_NS_PID).
#
# Exit codes follow automake: 0 pass, 77 skip, anything else fail. Skips when
# not root or a part is missing, unless HPVM_REQUIRE_LIBVIRT=1 (CI), where
# that is a failure. HPVM_SKIP_LIBVIRT=1 skips always. Everything it starts
# ends with it: guests by name, watchers and daemons by recorded pid.

srcdir=${HPVM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${HPVM_BUILDDIR:-$srcdir}
me=integration-vfmig

cannot_run() {
        if [ "${HPVM_REQUIRE_LIBVIRT:-0}" = 1 ]; then
                echo "$me: FAIL: $* (HPVM_REQUIRE_LIBVIRT=1)" >&2
                exit 1
        fi
        echo "$me: SKIP: $*" >&2
        exit 77
}

if [ "${HPVM_SKIP_LIBVIRT:-0}" = 1 ]; then
        echo "$me: SKIP: HPVM_SKIP_LIBVIRT=1" >&2
        exit 77
fi
[ "$(id -u)" = 0 ] || cannot_run "needs root (system libvirtd, a second libvirtd in namespaces)"
for cmd in libvirtd virtlogd virsh qemu-system-x86_64 unshare nsenter flock timeout busybox cpio; do
        command -v "$cmd" >/dev/null 2>&1 || cannot_run "$cmd not installed (run ./tools/setup.sh)"
done
for f in tests/test-vfmig-real hooks/before_migration_source hooks/hpvm-watch hooks/before_migration_destination \
        hooks/after_migration_destination hooks/after_migration_source hooks/after_vm_destroy; do
        [ -x "$builddir/$f" ] || cannot_run "$builddir/$f not built"
done

. "$srcdir/tests/libvirtd-env.sh"
. "$srcdir/tests/libvirt-hosts.sh"
. "$srcdir/tests/guest-kit.sh"

PREFIX=hpvm-vm-$$
WORK=

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
        if [ -n "$WORK" ]; then
                for f in "$WORK"/watch-*.result; do
                        [ -f "$f" ] || continue
                        pid=$(sed -n 's/^start pid=\([0-9]*\) .*/\1/p' "$f")
                        # Only our own watchers: that program, by the pid it recorded.
                        if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = hpvm-watch ]; then
                                kill "$pid" 2>/dev/null && echo "$me: stopped watcher $pid" >&2
                        fi
                done
        fi
        [ -n "$WORK" ] && hpvm_lv_remove_guests "$PREFIX"
        hpvm_host2_stop
        hpvm_libvirtd_stop
        [ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t0=$(date +%s.%N)
hpvm_libvirtd_start || { echo "$me: FAIL: no system libvirtd" >&2; exit 1; }
# shellcheck disable=SC2119 # the default cache
hpvm_guest_kit || cannot_run "no guest kit (see above)"

# QEMU (user libvirt-qemu) writes the serial logs in there: 0755.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hpvm-vm.XXXXXX") || exit 1
chmod 0755 "$WORK"
mkdir -m 0755 "$WORK/ctl" "$WORK/hooks" "$WORK/src" "$WORK/dst" || exit 1
hpvm_lv_logging_hook dst "$WORK/ctl" "$WORK/hooks/50-hpvm-vfmig-log" || exit 1
: >"$WORK/ctl/hook.log"

hpvm_host2_start "$WORK" "$WORK/hooks" || { echo "$me: FAIL: host 2 does not start" >&2; exit 1; }
HPVM_HOST2_NS_PID=$HPVM_H2_NS
export HPVM_HOST2_NS_PID
setup=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')

HPVM_VFMIG_WORK=$WORK HPVM_VFMIG_CTL=$WORK/ctl HPVM_VFMIG_PREFIX=$PREFIX CK_FORK=no \
HPVM_SRCDIR=$srcdir HPVM_BUILDDIR=$builddir \
        "$builddir/tests/test-vfmig-real" >"$WORK/out.txt" 2>&1
rc=$?
grep -v '^timing: ' "$WORK/out.txt"
echo "host 2's hook calls (time side domain operation sub-operation extra stdin):"
sed 's/^/    /' "$WORK/ctl/hook.log"
for f in "$WORK"/watch-*.result; do
        [ -f "$f" ] || continue
        echo "watcher ${f##*/}:"
        sed 's/^/    /' "$f"
done
echo "timings:"
printf '    %-66s %7s s\n' "setup: daemons, guest kit, host 2" "$setup"
grep '^timing: ' "$WORK/out.txt" | sed 's/^timing: /    /'
exit $rc
