#!/bin/sh
# integration-migrate.sh: run tests/test-migrate-real: a real live migration of a pinned guest to host 2, re-fitted by the installed hooks.
#
# Parts (tests/libvirtd-env.sh, tests/libvirt-hosts.sh): the system libvirtd
# (reused when one answers) as the source, and host 2 as the destination,
# whose /etc/libvirt/hooks/qemu.d holds the libvirt hook exactly as `make
# install` installs it (50_hpvm, copied there before host 2's libvirtd
# starts: libvirtd looks for hooks only then). The vdsm hooks run from the
# same staged installation. The test writes host 2's /etc/hpvm-hooks/hpvm.conf
# itself (a fake host tree, reserved CPUs); host 2's ledger is its private
# /run/hpvm-hooks.
#
# Exit codes follow automake: 0 pass, 77 skip, anything else fail. Skips when
# not root or a part is missing, unless HPVM_REQUIRE_LIBVIRT=1 (CI), where
# that is a failure. HPVM_SKIP_LIBVIRT=1 skips always. Everything it starts
# ends with it: guests by name, daemons by recorded pid.

srcdir=${HPVM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${HPVM_BUILDDIR:-$srcdir}
me=integration-migrate

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
for cmd in libvirtd virtlogd virsh qemu-system-x86_64 unshare nsenter flock timeout make; do
        command -v "$cmd" >/dev/null 2>&1 || cannot_run "$cmd not installed (run ./tools/setup.sh)"
done
[ -x "$builddir/tests/test-migrate-real" ] || cannot_run "$builddir/tests/test-migrate-real not built"

. "$srcdir/tests/libvirtd-env.sh"
. "$srcdir/tests/libvirt-hosts.sh"

PREFIX=hpvm-mig-$$
WORK=

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
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
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hpvm-mig.XXXXXX") || exit 1
chmod 0755 "$WORK"

# The hooks as `make install` lays them out (a staging DESTDIR; the parent make's jobserver stays out of it).
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$builddir" install DESTDIR="$WORK/inst" \
        >"$WORK/install.log" 2>&1; then
        echo "$me: FAIL: make install DESTDIR=$WORK/inst:" >&2
        cat "$WORK/install.log" >&2
        exit 1
fi
lvhooks=$(find "$WORK/inst" -path '*/hooks/qemu.d/50_hpvm' -type f | head -n 1)
vdsmhooks=$(find "$WORK/inst" -path '*/before_vm_migrate_destination/50_hpvm' -type f | head -n 1)
[ -n "$lvhooks" ] && [ -n "$vdsmhooks" ] || { echo "$me: FAIL: make install did not install the hooks" >&2; exit 1; }
vdsmhooks=${vdsmhooks%/before_vm_migrate_destination/50_hpvm}

hpvm_host2_start "$WORK" "${lvhooks%/50_hpvm}" || { echo "$me: FAIL: host 2 does not start" >&2; exit 1; }
# Run a command in host 2's namespaces, for the test (hpvm_host2_exec is a shell function).
printf '#!/bin/sh\nexec nsenter --target %s --mount --uts --wd="$PWD" -- "$@"\n' "$HPVM_H2_NS" >"$WORK/h2exec"
chmod 0755 "$WORK/h2exec"
setup=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')

HPVM_MIGRATE_WORK=$WORK HPVM_MIGRATE_PREFIX=$PREFIX HPVM_MIGRATE_HOOKS=$vdsmhooks HPVM_MIGRATE_H2EXEC=$WORK/h2exec \
HPVM_SRCDIR=$srcdir HPVM_BUILDDIR=$builddir CK_FORK=no \
        "$builddir/tests/test-migrate-real" >"$WORK/out.txt" 2>&1
rc=$?
grep -v '^timing: ' "$WORK/out.txt"
echo "timings:"
printf '    %-60s %7s s\n' "setup: daemons, make install, host 2" "$setup"
grep '^timing: ' "$WORK/out.txt" | sed 's/^timing: /    /'
exit $rc
