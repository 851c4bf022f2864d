#!/bin/sh
# setup.sh: make a fresh Debian 12 machine ready to build, test and demo hpvm-hooks, then build it.
#
# Run as root from anywhere: ./tools/setup.sh [CONFIGURE-OPTION]...
# 1. installs the Debian packages the build, the unit tests and the libvirt
#    integration test need (apt-get update + install, only when one is missing);
# 2. autoreconf -fi && ./configure [OPTIONS] && make -j2 in the source tree
#    (once configured, later runs only run make, which re-runs autoreconf and
#    configure itself when their inputs change; HPVM_SETUP_RECONFIGURE=1 forces).
# Idempotent. Quiet on success; on failure prints the end of its log, exits 1.
# Then: make demo (the main job) or make check (the tests).

set -eu

# Build: compiler, autotools, pkg-config and the -dev packages configure asks for.
# Tests: check (unit tests), xmllint (golden files, RelaxNG schema checks; the
# schemas ship in libvirt0). Integration test: a real libvirtd with the QEMU
# driver and QEMU itself (TCG is enough, no KVM needed). Real parts for the
# integration tests (tests/libvirt-hosts.sh, tests/guest-kit.sh): util-linux
# (unshare, nsenter, flock: a second libvirtd in its own namespaces),
# busybox-static and cpio (the booted guest's initramfs), sasl2-bin and
# libsasl2-modules (host 2's SASL login in tests/integration-hotplug.sh).
# The guest's kernel is not a package to install: tests/guest-kit.sh
# downloads it on first use (apt-get download) into
# ${HPVM_CACHE_DIR:-/var/cache/hpvm-hooks}/guest-kit.
PACKAGES="
        gcc make autoconf automake pkg-config
        libxml2-dev libxml2-utils libnuma-dev libvirt-dev check
        libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86
        util-linux busybox-static cpio sasl2-bin libsasl2-modules
"

log=$(mktemp "${TMPDIR:-/tmp}/hpvm-setup.XXXXXX")
trap 'rm -f "$log"' EXIT

fail() {
        echo "setup.sh: $*" >&2
        if [ -s "$log" ]; then
                echo "setup.sh: last lines of the log:" >&2
                tail -n 40 "$log" | sed 's/^/    /' >&2
        fi
        exit 1
}

cd "$(dirname "$0")/.." || fail "cannot enter the source tree"

missing=
for p in $PACKAGES; do
        st=$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null || true)
        [ "$st" = "install ok installed" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
        [ "$(id -u)" = 0 ] || fail "not root: cannot install the missing packages:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update >>"$log" 2>&1 || fail "apt-get update failed"
        # shellcheck disable=SC2086 # one word per package
        apt-get install -y --no-install-recommends $PACKAGES >>"$log" 2>&1 ||
                fail "apt-get install failed"
fi

if [ ! -f config.status ] || [ ! -f Makefile ] || [ "${HPVM_SETUP_RECONFIGURE:-0}" = 1 ] || [ $# -gt 0 ]; then
        autoreconf -fi >>"$log" 2>&1 || fail "autoreconf -fi failed"
        ./configure "$@" >>"$log" 2>&1 || fail "./configure failed (details in config.log)"
fi
make -j2 >>"$log" 2>&1 || fail "make failed"
