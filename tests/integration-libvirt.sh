#!/bin/sh
# integration-libvirt.sh: run tests/test-libvirt against a real libvirtd + QEMU (TCG).
#
# Exit codes follow automake: 0 pass, 77 skip, anything else fail. Skips when
# not root or libvirt/QEMU are not installed, unless HPVM_REQUIRE_LIBVIRT=1
# (CI), where a missing piece is a failure. HPVM_SKIP_LIBVIRT=1 skips always
# (used by the RPM %check, which must not start daemons on a build host).

srcdir=${HPVM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${HPVM_BUILDDIR:-$srcdir}

cannot_run() {
        if [ "${HPVM_REQUIRE_LIBVIRT:-0}" = 1 ]; then
                echo "integration-libvirt: FAIL: $* (HPVM_REQUIRE_LIBVIRT=1)" >&2
                exit 1
        fi
        echo "integration-libvirt: SKIP: $*" >&2
        exit 77
}

if [ "${HPVM_SKIP_LIBVIRT:-0}" = 1 ]; then
        echo "integration-libvirt: SKIP: HPVM_SKIP_LIBVIRT=1" >&2
        exit 77
fi
[ "$(id -u)" = 0 ] || cannot_run "needs root to start a system libvirtd"
for cmd in libvirtd virtlogd virsh qemu-system-x86_64; do
        command -v "$cmd" >/dev/null 2>&1 ||
                cannot_run "$cmd not installed (run ./tools/setup.sh)"
done
[ -x "$builddir/tests/test-libvirt" ] || cannot_run "$builddir/tests/test-libvirt not built"
[ -x "$builddir/hooks/before_vm_start" ] || cannot_run "$builddir/hooks/before_vm_start not built"
[ -x "$builddir/tools/hpvm-fit" ] || cannot_run "$builddir/tools/hpvm-fit not built"

. "$srcdir/tests/libvirtd-env.sh"

trap 'hpvm_libvirtd_stop' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

hpvm_libvirtd_start || { echo "integration-libvirt: FAIL: no libvirtd" >&2; exit 1; }

HPVM_SRCDIR=$srcdir HPVM_BUILDDIR=$builddir "$builddir/tests/test-libvirt"
rc=$?
exit $rc
