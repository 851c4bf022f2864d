#!/bin/sh
# integration-hotplug.sh: run tests/test-hotplug-real against real libvirtds: the system one and host 2.
#
# Parts (tests/libvirtd-env.sh, tests/libvirt-hosts.sh, tests/guest-kit.sh):
# the system libvirtd (reused when one answers), the booted guest kit, and
# host 2 with tests/data/integration/logging-hook.in installed as its qemu
# hook (the test makes it refuse a migration through control files) and SASL
# (SCRAM-SHA-256, a user vdsm@ovirt in a sasldb of its own) on its read-only
# socket, the way vdsm configures libvirtd's read-write one; migrations use
# its read-write socket, unauthenticated as before.
#
# Exit codes follow automake: 0 pass, 77 skip, anything else fail. Skips when
# not root or a part is missing, unless HPVM_REQUIRE_LIBVIRT=1 (CI), where
# that is a failure. HPVM_SKIP_LIBVIRT=1 skips always. Everything it starts
# ends with it: guests by name, watchers and daemons by recorded pid.

srcdir=${HPVM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${HPVM_BUILDDIR:-$srcdir}
me=integration-hotplug

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
# SASL: saslpasswd2 (sasl2-bin) and the SCRAM plugin (libsasl2-modules); without them that case is skipped.
SASL=1
command -v saslpasswd2 >/dev/null 2>&1 || SASL=0
scram=0
for f in /usr/lib/*/sasl2/libscram.so* /usr/lib*/sasl2/libscram.so*; do
        [ -e "$f" ] && scram=1
done
[ "$scram" = 1 ] || SASL=0
if [ "$SASL" = 0 ] && [ "${HPVM_REQUIRE_LIBVIRT:-0}" = 1 ]; then
        cannot_run "saslpasswd2 or the SCRAM plugin missing (apt-get install sasl2-bin libsasl2-modules)"
fi
[ -x "$builddir/tests/test-hotplug-real" ] || cannot_run "$builddir/tests/test-hotplug-real not built"

. "$srcdir/tests/libvirtd-env.sh"
. "$srcdir/tests/libvirt-hosts.sh"
. "$srcdir/tests/guest-kit.sh"

PREFIX=hpvm-hp-$$
WORK=

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
        if [ -n "$WORK" ] && [ -f "$WORK/watchers" ]; then
                while read -r pid; do
                        # Only our own watchers: this program, by the pid it recorded.
                        if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = test-hotplug-re ]; then
                                kill "$pid" 2>/dev/null && echo "$me: stopped watcher $pid" >&2
                        fi
                done <"$WORK/watchers"
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
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hpvm-hp.XXXXXX") || exit 1
chmod 0755 "$WORK"
mkdir -m 0755 "$WORK/ctl" "$WORK/hooks" || exit 1
hpvm_lv_logging_hook dst "$WORK/ctl" "$WORK/hooks/50-hpvm-hotplug-log" || exit 1
: >"$WORK/ctl/hook.log"

hpvm_host2_start "$WORK" "$WORK/hooks" || { echo "$me: FAIL: host 2 does not start" >&2; exit 1; }

if [ "$SASL" = 1 ]; then
        # Host 2's /etc/libvirt is $etc; its libvirtd reads the SASL configuration named by SASL_CONF_PATH.
        etc=${HPVM_HOST2_HOOKS%/hooks/qemu.d}
        mkdir -p "$etc/sasl2" || exit 1
        printf 'mech_list: scram-sha-256\nsasldb_path: /etc/libvirt/passwd.db\n' >"$etc/sasl2/libvirt.conf"
        printf 'auth_unix_ro = "sasl"\n' >>"$etc/libvirtd.conf"
        pw=hpvm-$$-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
        printf '%s' "$pw" | saslpasswd2 -p -c -f "$etc/passwd.db" -a libvirt vdsm@ovirt || exit 1
        printf '%s\n' "$pw" >"$WORK/libvirt_password" && chmod 0600 "$WORK/libvirt_password"
        SASL_CONF_PATH=/etc/libvirt/sasl2
        export SASL_CONF_PATH
        hpvm_host2_restart || { echo "$me: FAIL: host 2 does not restart with SASL" >&2; exit 1; }
        unset SASL_CONF_PATH
        HPVM_SASL_URI="${HPVM_HOST2_URI%-sock}-sock-ro"
        HPVM_SASL_USER=vdsm@ovirt
        HPVM_SASL_PWFILE=$WORK/libvirt_password
        export HPVM_SASL_URI HPVM_SASL_USER HPVM_SASL_PWFILE
fi
setup=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')

HPVM_HOTPLUG_WORK=$WORK HPVM_HOTPLUG_CTL=$WORK/ctl HPVM_HOTPLUG_PREFIX=$PREFIX CK_FORK=no \
HPVM_SRCDIR=$srcdir HPVM_BUILDDIR=$builddir \
        "$builddir/tests/test-hotplug-real" >"$WORK/out.txt" 2>&1
rc=$?
grep -v '^timing: ' "$WORK/out.txt"
echo "host 2's hook calls (time side domain operation sub-operation extra stdin):"
sed 's/^/    /' "$WORK/ctl/hook.log"
for f in "$WORK"/watch-*.result.log; do
        [ -f "$f" ] || continue
        echo "watcher log ${f##*/}:"
        sed 's/^/    /' "$f"
done
echo "timings:"
printf '    %-66s %7s s\n' "setup: daemons, guest kit, host 2 (with SASL restart)" "$setup"
grep '^timing: ' "$WORK/out.txt" | sed 's/^timing: /    /'
exit $rc
