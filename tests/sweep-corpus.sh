#!/bin/sh
# sweep-corpus.sh: run tests/test-sweep over the domain XML folders in $HPVM_CORPUS_DIR, judged by a real libvirtd.
#
# Exit codes follow automake: 0 pass, 77 skip, anything else fail. Skips when
# HPVM_CORPUS_DIR is unset or empty (':'-separated folders; CI sets it). The
# libvirtd check needs root and libvirtd (started like integration-libvirt.sh
# starts it, reused when one answers); without them the sweep runs without
# that check and says so, unless HPVM_REQUIRE_LIBVIRT=1 (CI), where a missing
# piece is a failure. HPVM_SKIP_LIBVIRT=1 never starts a daemon.

srcdir=${HPVM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${HPVM_BUILDDIR:-$srcdir}

if [ -z "${HPVM_CORPUS_DIR:-}" ]; then
        echo "sweep-corpus: SKIP: HPVM_CORPUS_DIR is not set (folders of domain XML, ':'-separated)" >&2
        exit 77
fi
for t in tests/test-sweep hooks/before_vm_start; do
        if [ ! -x "$builddir/$t" ]; then
                echo "sweep-corpus: FAIL: $builddir/$t not built" >&2
                exit 1
        fi
done

# Prints why the libvirtd check cannot run; fails under HPVM_REQUIRE_LIBVIRT=1.
no_libvirt() {
        if [ "${HPVM_REQUIRE_LIBVIRT:-0}" = 1 ]; then
                echo "sweep-corpus: FAIL: $* (HPVM_REQUIRE_LIBVIRT=1)" >&2
                exit 1
        fi
        echo "sweep-corpus: sweeping without the libvirtd check: $*" >&2
        HPVM_SWEEP_LIBVIRT=0
}

HPVM_SWEEP_LIBVIRT=1
if [ "${HPVM_SKIP_LIBVIRT:-0}" = 1 ]; then
        no_libvirt "HPVM_SKIP_LIBVIRT=1"
elif [ "$(id -u)" != 0 ]; then
        no_libvirt "needs root to reach or start a system libvirtd"
elif ! command -v libvirtd >/dev/null 2>&1 || ! command -v virsh >/dev/null 2>&1; then
        no_libvirt "libvirtd or virsh not installed (run ./tools/setup.sh)"
fi

if [ "$HPVM_SWEEP_LIBVIRT" = 1 ]; then
        . "$srcdir/tests/libvirtd-env.sh"
        trap 'hpvm_libvirtd_stop' EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        if ! hpvm_libvirtd_start; then
                hpvm_libvirtd_stop
                trap - EXIT
                no_libvirt "no libvirtd answers at ${HPVM_LIBVIRT_URI:-qemu:///system}"
        fi
fi

HPVM_SRCDIR=$srcdir HPVM_BUILDDIR=$builddir HPVM_SWEEP_LIBVIRT=$HPVM_SWEEP_LIBVIRT "$builddir/tests/test-sweep"
rc=$?
exit $rc
