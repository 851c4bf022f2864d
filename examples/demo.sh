#!/bin/sh
# demo.sh: run before_vm_start on examples/vm.xml with properties fitted to THIS host, show what it wrote,
# then show how it refuses a bad property. Usage: examples/demo.sh [BUILDDIR]
set -eu

builddir=${1:-.}
srcdir=$(cd "$(dirname "$0")/.." && pwd)
hook=$builddir/hooks/before_vm_start
[ -x "$hook" ] || { echo "demo: $hook is not built (run make first)" >&2; exit 1; }

# The live host: online CPUs and the first NUMA node with memory.
online=$(cat /sys/devices/system/cpu/online)
first_cpu=${online%%[-,]*}
last_cpu=${online##*[-,]}
node=0
for m in /sys/devices/system/node/node*/meminfo; do
        [ -r "$m" ] || break
        kb=$(awk '/MemTotal/ {print $4}' "$m")
        if [ "${kb:-0}" -gt 0 ]; then node=${m#/sys/devices/system/node/node}; node=${node%%/*}; break; fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$srcdir/examples/vm.xml" "$work/vm.xml"

export cputune="0#$first_cpu,1#$last_cpu,2#$first_cpu-$last_cpu,3#$first_cpu-$last_cpu"
export numatune="strict#$node"
export guestnuma="0-1#1G,2-3#1G"
echo "host: online CPUs $online, NUMA node with memory: $node"
echo "properties: cputune=$cputune numatune=$numatune guestnuma=$guestnuma"
echo "\$ _hook_domxml=$work/vm.xml $hook"
status=0
_hook_domxml=$work/vm.xml "$hook" 2>&1 || status=$?
echo "exit status: $status"
diff -u "$srcdir/examples/vm.xml" "$work/vm.xml" | sed -n '3,$p' | grep '^[-+]' || true
[ "$status" -eq 0 ] || exit "$status"

echo
echo "a property the host cannot honour (CPU 4095 is not online here):"
status=0
cputune="0#4095" _hook_domxml=$work/vm.xml "$hook" 2>&1 || status=$?
echo "exit status: $status (2 = refused: vdsm does not start the VM and shows the line above)"
[ "$status" -eq 2 ]
