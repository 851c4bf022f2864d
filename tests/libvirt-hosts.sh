# libvirt-hosts.sh: a second libvirt "host" on this machine, for live migration tests.
#
# Host 2 is a second virtlogd + libvirtd (QEMU driver) in their own mount and
# UTS namespaces: another hostname, another host UUID, private /run/libvirt,
# /var/lib/libvirt, /var/log/libvirt, /etc/libvirt, /etc/hpvm-hooks and
# /run/hpvm-hooks. Everything else (QEMU, /var/cache/libvirt, /dev, cgroups,
# the network) is shared with the machine, so a guest migrates to it over
# tcp://127.0.0.1 like to another host.
#
# Source tests/libvirtd-env.sh first (its hpvm_lv_* helpers are used), then:
#   hpvm_host2_start DIR [HOOKDIR]
#       Build host 2 in DIR/host2 (DIR: a folder the caller owns; created when
#       missing) and start it. HOOKDIR (optional): a folder whose executable
#       files are installed into host 2's /etc/libvirt/hooks/qemu.d before its
#       libvirtd starts (libvirtd decides at start whether it has hooks).
#       Exports, and logs to stderr:
#         HPVM_HOST2_URI       qemu+unix:///system?socket=DIR/host2/run/libvirt-sock
#         HPVM_HOST2_HOSTNAME  its hostname (hpvm-host2 unless the machine's is that)
#         HPVM_HOST2_UUID      its host UUID (libvirtd.conf host_uuid)
#         HPVM_HOST2_HOOKS     its /etc/libvirt/hooks/qemu.d, seen from outside
#         HPVM_HOST2_ETC       its /etc/hpvm-hooks, seen from outside: write the
#                              project's config there (e.g. a sysfs_root that
#                              points at a fake sysfs tree under tests/data)
#         HPVM_HOST2_RUN       its /run/hpvm-hooks, seen from outside
#         HPVM_HOST2_PEER_URI  the system libvirtd as host 2's libvirtd reaches
#                              it (through /proc/<this shell>/root): the
#                              destination of a --p2p migration from host 2
#                              back (qemu:///system would be host 2 itself)
#       Returns 0 when host 2 answers, 1 otherwise (having undone everything).
#   hpvm_host2_install_hooks SRCDIR
#       Copy the executable files of SRCDIR into host 2's qemu.d; then call
#       hpvm_host2_restart so libvirtd sees them. (libvirtd decides at start
#       whether it has qemu hooks at all; once it had one, it lists qemu.d
#       again at every call, so files added later run without a restart.)
#   hpvm_host2_restart
#       Restart host 2's libvirtd (not virtlogd). Its running guests survive;
#       libvirt's hooks see "reconnect begin" for each.
#   hpvm_host2_exec CMD [ARG]...
#       Run CMD inside host 2's namespaces (same working directory and
#       environment), e.g. a vdsm hook that must read host 2's /etc/hpvm-hooks
#       and /run/hpvm-hooks. Returns CMD's exit status.
#   hpvm_host2_stop
#       Destroy host 2's guests, stop the daemons it started by their recorded
#       pids, wait until no process is left in its namespace (its bind mounts
#       go with it) and remove DIR/host2; the last host 2 of the machine to
#       stop removes the mount points they had to create (/etc/hpvm-hooks,
#       /run/hpvm-hooks where the machine has none). Safe to call twice and
#       when start failed: put it in an EXIT trap.
#
# The first (system) libvirtd keeps the machine's hostname and host UUID:
# libvirt 9.0 refuses a migration between daemons with the same host UUID
# ("internal error: Attempt to migrate guest to the same host <uuid>"; the
# same hostname alone is accepted), and host 2 always gets a fresh UUID
# (checked against the system daemon's at start) and another hostname.
# Without SMBIOS (containers, some VMs) libvirtd makes up a random host UUID
# at every start, so the system daemon's UUID changes across its restarts.
#
# Migrations: `virsh migrate --live DOM "$HPVM_HOST2_URI" --migrateuri
# tcp://127.0.0.1` (the --migrateuri is needed: without it the source tries the
# name host 2 advertises, hpvm-host2, which does not resolve). Back:
# `virsh -c "$HPVM_HOST2_URI" migrate --live DOM qemu:///system --migrateuri
# tcp://127.0.0.1`, or with --p2p (libvirtd itself connects to the
# destination, as vdsm migrates) to "$HPVM_HOST2_PEER_URI" instead.
#
# Guests for host 2: their files (kernel, initrd, serial log) must be readable
# by user libvirt-qemu along their whole path (no 0700 folder such as a bare
# mktemp -d on the way), like for the system libvirtd.
#
# If the calling shell dies without running hpvm_host2_stop (SIGKILL), a
# watchdog in the namespace notices within a second and stops host 2's
# guests and daemons (then the namespace and its mounts go away); DIR/host2
# and the empty mount points it created (/etc/hpvm-hooks, /run/hpvm-hooks
# when the machine had none) are then left behind.
#
# Needs root, unshare, nsenter and flock (util-linux); uses file descriptor 8
# for a moment in start and stop. Bounded waits everywhere:
# HPVM_LIBVIRTD_TIMEOUT (default 60 s) for libvirtd to answer, 30 s for the
# lock. HPVM_HOST2_LOG_LEVEL (default 3: warnings and errors) sets what its
# daemons log to DIR/host2/log/{libvirtd,virtlogd}.log. POSIX sh.

HPVM_H2_ROOT=             # DIR/host2 once we created it
HPVM_H2_NS=               # pid of the namespace holder (our child)
HPVM_H2_PIDS=             # "name:pid" of the daemons we started, newest first
HPVM_H2_NSID=             # its mount namespace, e.g. "mnt:[4026532177]"

# Several host 2s may run at once (parallel tests): the mount points some of
# them had to create on the machine are listed in HPVM_H2_MADE_LIST and
# removed by the last one to stop (HPVM_H2_USERS lists the live ones). Both
# change only under an exclusive flock of HPVM_H2_LOCK, held on fd 8.
HPVM_H2_LOCK=/run/lock/hpvm-host2.lock
HPVM_H2_USERS=/run/lock/hpvm-host2.users
HPVM_H2_MADE_LIST=/run/lock/hpvm-host2.made

hpvm_h2_lock() {
        mkdir -p "${HPVM_H2_LOCK%/*}" && exec 8>>"$HPVM_H2_LOCK" || return 1
        flock -x -w 30 8 || { exec 8>&-; hpvm_h2_log "$HPVM_H2_LOCK stays locked for 30 s"; return 1; }
}

hpvm_h2_unlock() {
        flock -u 8
        exec 8>&-
}

hpvm_h2_log() {
        printf 'libvirt-hosts: %s\n' "$*" >&2
}

hpvm_h2_answers() {
        timeout 10 virsh -c "$HPVM_HOST2_URI" version >/dev/null 2>&1
}

# The mount namespace of process $1, e.g. "mnt:[4026531841]".
hpvm_h2_mntns() {
        readlink "/proc/$1/ns/mnt" 2>/dev/null
}

hpvm_host2_exec() {
        if [ -z "$HPVM_H2_NS" ]; then
                hpvm_h2_log "host 2 is not running"
                return 125
        fi
        nsenter --target "$HPVM_H2_NS" --mount --uts --wd="$PWD" -- "$@"
}

# Lay out DIR/host2: one folder per private mount, a copy of the machine's
# libvirt configuration (*.conf only: no domain, network or secret definitions)
# whose libvirtd.conf sets host_uuid.
hpvm_h2_layout() {
        _h2_root=$1 _h2_uuid=$2
        mkdir -p "$_h2_root" || return 1
        HPVM_H2_ROOT=$_h2_root
        for _h2_d in run lib log etc etc/qemu etc/hooks etc/hooks/qemu.d hpvm-etc hpvm-run; do
                mkdir -p "$_h2_root/$_h2_d" && chmod 0755 "$_h2_root/$_h2_d" || return 1
        done
        for _h2_f in /etc/libvirt/*.conf; do
                [ -f "$_h2_f" ] || continue
                cp "$_h2_f" "$_h2_root/etc/" || return 1
        done
        _h2_conf=$_h2_root/etc/libvirtd.conf
        if [ -f "$_h2_conf" ]; then
                grep -v '^[[:space:]]*host_uuid' "$_h2_conf" >"$_h2_conf.new" || :
                mv "$_h2_conf.new" "$_h2_conf" || return 1
        fi
        {
                echo "# hpvm-hooks test host 2: a host UUID of its own, so that libvirt"
                echo "# accepts migrations between it and the machine's libvirtd."
                echo "host_uuid = \"$_h2_uuid\""
        } >>"$_h2_conf" || return 1
}

hpvm_host2_install_hooks() {
        _h2_src=$1
        if [ -z "$HPVM_H2_ROOT" ]; then
                hpvm_h2_log "host 2 has no folder yet"
                return 1
        fi
        [ -d "$_h2_src" ] || { hpvm_h2_log "no hook folder $_h2_src"; return 1; }
        for _h2_f in "$_h2_src"/*; do
                if [ ! -f "$_h2_f" ] || [ ! -x "$_h2_f" ]; then
                        continue
                fi
                cp "$_h2_f" "$HPVM_H2_ROOT/etc/hooks/qemu.d/" || return 1
                chmod 0755 "$HPVM_H2_ROOT/etc/hooks/qemu.d/${_h2_f##*/}" || return 1
                hpvm_h2_log "host 2: installed hook ${_h2_f##*/}"
        done
}

# The namespace holder. Runs in the new namespaces; exits when the calling
# shell ($1) is gone, stopping what runs in there by the pid files libvirt
# and our daemons wrote (guests first, then libvirtd, then virtlogd).
# shellcheck disable=SC2016 # expanded by the holder's shell, not here
HPVM_H2_WATCHDOG='
while kill -0 "$1" 2>/dev/null; do sleep 1; done
for pf in /run/libvirt/qemu/*.pid /run/libvirt/libvirtd.pid /run/libvirt/virtlogd.pid; do
        [ -r "$pf" ] && kill -TERM "$(cat "$pf")" 2>/dev/null
done
sleep 2
for pf in /run/libvirt/qemu/*.pid /run/libvirt/libvirtd.pid /run/libvirt/virtlogd.pid; do
        [ -r "$pf" ] && kill -KILL "$(cat "$pf")" 2>/dev/null
done
exit 0'

# Start the holder and wait (bounded) until it runs in namespaces of its own:
# entering it earlier would mount over the machine's own folders.
hpvm_h2_spawn_ns() {
        _h2_self=$(hpvm_h2_mntns $$)
        unshare --mount --uts --propagation private \
                sh -c "$HPVM_H2_WATCHDOG" hpvm-host2-ns "$$" </dev/null >/dev/null 2>&1 8>&- &
        HPVM_H2_NS=$!
        _h2_i=0
        while :; do
                _h2_ns=$(hpvm_h2_mntns "$HPVM_H2_NS")
                if [ -n "$_h2_ns" ] && [ "$_h2_ns" != "$_h2_self" ] &&
                   [ "$(cat "/proc/$HPVM_H2_NS/comm" 2>/dev/null)" = sh ]; then
                        HPVM_H2_NSID=$_h2_ns
                        echo "$HPVM_H2_NS $HPVM_H2_NSID" >>"$HPVM_H2_USERS"
                        return 0
                fi
                _h2_i=$((_h2_i + 1))
                if [ "$_h2_i" -gt 50 ] || ! kill -0 "$HPVM_H2_NS" 2>/dev/null; then
                        hpvm_h2_log "unshare did not give a namespace of its own within 5 s"
                        return 1
                fi
                sleep 0.1
        done
}

# Bind host 2's folders and set its hostname, inside its namespace; create
# (and list) the mount points the machine lacks. Called under the lock.
hpvm_h2_mount() {
        _h2_root=$1 _h2_name=$2
        for _h2_t in /run/libvirt /var/lib/libvirt /var/log/libvirt /etc/libvirt \
                     /etc/hpvm-hooks /run/hpvm-hooks; do
                [ -d "$_h2_t" ] && continue
                mkdir -p "$_h2_t" || return 1
                echo "$_h2_t" >>"$HPVM_H2_MADE_LIST"
        done
        # shellcheck disable=SC2016 # expanded inside the namespace
        hpvm_host2_exec sh -ec '
                mount --bind "$1/run" /run/libvirt
                mount --bind "$1/lib" /var/lib/libvirt
                mount --bind "$1/log" /var/log/libvirt
                mount --bind "$1/etc" /etc/libvirt
                mount --bind "$1/hpvm-etc" /etc/hpvm-hooks
                mount --bind "$1/hpvm-run" /run/hpvm-hooks
                hostname "$2"' hpvm-host2-mount "$_h2_root" "$_h2_name"
}

# Start daemon $1 inside the namespace; pid file /run/libvirt/$1.pid there.
hpvm_h2_spawn() {
        _h2_name=$1
        _h2_pf=$HPVM_H2_ROOT/run/$_h2_name.pid
        rm -f "$_h2_pf"
        if ! LIBVIRT_LOG_OUTPUTS="${HPVM_HOST2_LOG_LEVEL:-3}:file:/var/log/libvirt/$_h2_name.log" \
             hpvm_host2_exec "$_h2_name" -d -p "/run/libvirt/$_h2_name.pid"; then
                hpvm_h2_log "host 2: $_h2_name -d failed"
                hpvm_lv_dump_log "$HPVM_H2_ROOT/log/$_h2_name.log"
                return 1
        fi
        _h2_i=0
        while ! _h2_pid=$(hpvm_lv_pid_of "$_h2_pf" "$_h2_name"); do
                _h2_i=$((_h2_i + 1))
                if [ "$_h2_i" -gt 50 ]; then
                        hpvm_h2_log "host 2: $_h2_name wrote no live pid to $_h2_pf"
                        hpvm_lv_dump_log "$HPVM_H2_ROOT/log/$_h2_name.log"
                        return 1
                fi
                sleep 0.1
        done
        HPVM_H2_PIDS="$_h2_name:$_h2_pid $HPVM_H2_PIDS"
        hpvm_h2_log "host 2: started $_h2_name (pid $_h2_pid, log $HPVM_H2_ROOT/log/$_h2_name.log)"
}

hpvm_h2_wait_answer() {
        _h2_limit=${HPVM_LIBVIRTD_TIMEOUT:-60}
        _h2_start=$(date +%s)
        while ! hpvm_h2_answers; do
                if ! hpvm_lv_pid_of "$HPVM_H2_ROOT/run/libvirtd.pid" libvirtd >/dev/null; then
                        hpvm_h2_log "host 2: libvirtd died while starting"
                        hpvm_lv_dump_log "$HPVM_H2_ROOT/log/libvirtd.log"
                        return 1
                fi
                if [ $(($(date +%s) - _h2_start)) -ge "$_h2_limit" ]; then
                        hpvm_h2_log "host 2: libvirtd does not answer after ${_h2_limit} s"
                        hpvm_lv_dump_log "$HPVM_H2_ROOT/log/libvirtd.log"
                        return 1
                fi
                sleep 0.2
        done
        hpvm_h2_log "host 2 answers at $HPVM_HOST2_URI after $(($(date +%s) - _h2_start)) s"
}

# The host UUID a libvirtd reports in its capabilities.
hpvm_h2_host_uuid() {
        timeout 10 virsh -c "$1" capabilities 2>/dev/null |
                sed -n 's:^[[:space:]]*<uuid>\(.*\)</uuid>.*:\1:p' | head -n 1
}

hpvm_host2_start() {
        _h2_dir=$1 _h2_hooks=${2:-}
        if [ -n "$HPVM_H2_NS" ]; then
                hpvm_h2_log "host 2 already started by this shell"
                return 0
        fi
        if [ -z "$_h2_dir" ]; then
                hpvm_h2_log "usage: hpvm_host2_start DIR [HOOKDIR]"
                return 1
        fi
        if ! command -v hpvm_lv_pid_of >/dev/null 2>&1; then
                hpvm_h2_log "source tests/libvirtd-env.sh before tests/libvirt-hosts.sh"
                return 1
        fi
        if [ "$(id -u)" != 0 ]; then
                hpvm_h2_log "a second libvirtd needs root"
                return 1
        fi
        for _h2_cmd in unshare nsenter flock libvirtd virtlogd virsh timeout; do
                if ! command -v "$_h2_cmd" >/dev/null 2>&1; then
                        hpvm_h2_log "$_h2_cmd not found (run ./tools/setup.sh)"
                        return 1
                fi
        done
        case $_h2_dir in /*) ;; *) _h2_dir=$PWD/$_h2_dir ;; esac
        if [ -e "$_h2_dir/host2" ]; then
                hpvm_h2_log "$_h2_dir/host2 exists: refusing to reuse a folder we did not make"
                return 1
        fi
        HPVM_HOST2_URI="qemu+unix:///system?socket=$_h2_dir/host2/run/libvirt-sock"
        # A Unix socket path holds at most 107 bytes.
        if [ ${#_h2_dir} -gt 80 ]; then
                hpvm_h2_log "$_h2_dir is too long for a socket path (at most 80 characters)"
                return 1
        fi

        # Another identity than the machine's libvirtd: its hostname and the
        # host UUID it reports (machine's SMBIOS, or random without one).
        _h2_sys_uuid=$(hpvm_h2_host_uuid qemu:///system)
        while :; do
                _h2_uuid=$(cat /proc/sys/kernel/random/uuid) || return 1
                [ "$_h2_uuid" != "$_h2_sys_uuid" ] && break
        done
        _h2_hostname=hpvm-host2
        [ "$(hostname)" = "$_h2_hostname" ] && _h2_hostname=hpvm-host2-b

        hpvm_h2_layout "$_h2_dir/host2" "$_h2_uuid" || { hpvm_host2_stop; return 1; }
        if [ -n "$_h2_hooks" ]; then
                hpvm_host2_install_hooks "$_h2_hooks" || { hpvm_host2_stop; return 1; }
        fi
        hpvm_h2_lock || { hpvm_host2_stop; return 1; }
        if ! hpvm_h2_spawn_ns; then
                hpvm_h2_unlock
                hpvm_host2_stop
                return 1
        fi
        if ! hpvm_h2_mount "$_h2_dir/host2" "$_h2_hostname"; then
                hpvm_h2_log "cannot bind host 2's folders"
                hpvm_h2_unlock
                hpvm_host2_stop
                return 1
        fi
        hpvm_h2_unlock
        hpvm_h2_spawn virtlogd || { hpvm_host2_stop; return 1; }
        hpvm_h2_spawn libvirtd || { hpvm_host2_stop; return 1; }
        hpvm_h2_wait_answer || { hpvm_host2_stop; return 1; }

        _h2_seen=$(timeout 10 virsh -c "$HPVM_HOST2_URI" hostname 2>/dev/null)
        _h2_seen_uuid=$(hpvm_h2_host_uuid "$HPVM_HOST2_URI")
        if [ "$_h2_seen" != "$_h2_hostname" ] || [ "$_h2_seen_uuid" != "$_h2_uuid" ]; then
                hpvm_h2_log "host 2 says it is '$_h2_seen' $_h2_seen_uuid, expected '$_h2_hostname' $_h2_uuid"
                hpvm_host2_stop
                return 1
        fi
        HPVM_HOST2_HOSTNAME=$_h2_hostname
        HPVM_HOST2_UUID=$_h2_uuid
        HPVM_HOST2_HOOKS=$HPVM_H2_ROOT/etc/hooks/qemu.d
        HPVM_HOST2_ETC=$HPVM_H2_ROOT/hpvm-etc
        HPVM_HOST2_RUN=$HPVM_H2_ROOT/hpvm-run
        HPVM_HOST2_PEER_URI="qemu+unix:///system?socket=/proc/$$/root/run/libvirt/libvirt-sock"
        export HPVM_HOST2_URI HPVM_HOST2_HOSTNAME HPVM_HOST2_UUID HPVM_HOST2_HOOKS \
               HPVM_HOST2_ETC HPVM_HOST2_RUN HPVM_HOST2_PEER_URI
        hpvm_h2_log "HPVM_HOST2_URI=$HPVM_HOST2_URI (hostname $_h2_hostname, host UUID $_h2_uuid)"
}

hpvm_host2_restart() {
        if [ -z "$HPVM_H2_NS" ]; then
                hpvm_h2_log "host 2 is not running"
                return 1
        fi
        _h2_rest=
        for _h2_e in $HPVM_H2_PIDS; do
                if [ "${_h2_e%%:*}" = libvirtd ]; then
                        hpvm_lv_kill libvirtd "${_h2_e#*:}"
                else
                        _h2_rest="$_h2_rest $_h2_e"
                fi
        done
        HPVM_H2_PIDS=${_h2_rest# }
        hpvm_h2_spawn libvirtd || return 1
        hpvm_h2_wait_answer
}

# Guests of host 2 still running after its libvirtd is gone: stop them by the
# pid files libvirt wrote for them ("qemu-system-x86" is QEMU's truncated name).
hpvm_h2_kill_guests() {
        for _h2_pf in "$HPVM_H2_ROOT"/run/qemu/*.pid; do
                _h2_pid=$(hpvm_lv_pid_of "$_h2_pf" qemu-system-x86) || continue
                hpvm_h2_log "host 2: guest process $_h2_pid (${_h2_pf##*/}) outlived libvirtd"
                hpvm_lv_kill qemu-system-x86 "$_h2_pid"
        done
}

# True while some process still runs in host 2's mount namespace $1 (then its
# bind mounts exist). Zombies count as gone.
hpvm_h2_ns_busy() {
        for _h2_p in /proc/[0-9]*; do
                [ "$(readlink "$_h2_p/ns/mnt" 2>/dev/null)" = "$1" ] || continue
                _h2_st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "$_h2_p/status" 2>/dev/null)
                case $_h2_st in Z|X|'') continue ;; esac
                return 0
        done
        return 1
}

# Take our namespace off the list of live host 2s (with any whose holder is
# gone); the last one removes the mount points listed as made by us.
hpvm_h2_release() {
        hpvm_h2_lock || { hpvm_h2_log "not removing mount points we made"; return 0; }
        _h2_keep=
        if [ -f "$HPVM_H2_USERS" ]; then
                while read -r _h2_pid _h2_ns; do
                        [ "$_h2_pid $_h2_ns" = "$HPVM_H2_NS $HPVM_H2_NSID" ] && continue
                        [ "$(hpvm_h2_mntns "$_h2_pid")" = "$_h2_ns" ] || continue
                        _h2_keep="$_h2_keep$_h2_pid $_h2_ns
"
                done <"$HPVM_H2_USERS"
        fi
        if [ -n "$_h2_keep" ]; then
                printf '%s' "$_h2_keep" >"$HPVM_H2_USERS"
        else
                if [ -f "$HPVM_H2_MADE_LIST" ]; then
                        while read -r _h2_t; do
                                rmdir "$_h2_t" 2>/dev/null || hpvm_h2_log "left $_h2_t: not empty"
                        done <"$HPVM_H2_MADE_LIST"
                fi
                rm -f "$HPVM_H2_USERS" "$HPVM_H2_MADE_LIST"
        fi
        hpvm_h2_unlock
}

hpvm_host2_stop() {
        if [ -n "$HPVM_H2_NS" ] && [ -n "$HPVM_H2_PIDS" ] && hpvm_h2_answers; then
                for _h2_dom in $(timeout 10 virsh -c "$HPVM_HOST2_URI" list --name 2>/dev/null); do
                        timeout 20 virsh -c "$HPVM_HOST2_URI" destroy "$_h2_dom" >/dev/null 2>&1 &&
                                hpvm_h2_log "host 2: destroyed guest $_h2_dom"
                done
        fi
        # Newest first: libvirtd before the virtlogd it logs through.
        for _h2_e in $HPVM_H2_PIDS; do
                hpvm_lv_kill "${_h2_e%%:*}" "${_h2_e#*:}"
        done
        HPVM_H2_PIDS=
        [ -n "$HPVM_H2_ROOT" ] && hpvm_h2_kill_guests
        if [ -n "$HPVM_H2_NS" ]; then
                _h2_ns=$(hpvm_h2_mntns "$HPVM_H2_NS")
                kill -TERM "$HPVM_H2_NS" 2>/dev/null
                wait "$HPVM_H2_NS" 2>/dev/null
                # The holder's last "sleep 1" may outlive it by up to a second.
                _h2_i=0
                while [ -n "$_h2_ns" ] && hpvm_h2_ns_busy "$_h2_ns"; do
                        _h2_i=$((_h2_i + 1))
                        if [ "$_h2_i" -gt 50 ]; then
                                hpvm_h2_log "host 2: processes still run in its namespace $_h2_ns after 5 s"
                                break
                        fi
                        sleep 0.1
                done
                [ -n "$HPVM_H2_NSID" ] && hpvm_h2_release
                HPVM_H2_NS=
                HPVM_H2_NSID=
        fi
        case $HPVM_H2_ROOT in
        */host2) rm -rf "$HPVM_H2_ROOT" ;;
        esac
        HPVM_H2_ROOT=
        unset HPVM_HOST2_URI HPVM_HOST2_HOSTNAME HPVM_HOST2_UUID HPVM_HOST2_HOOKS \
              HPVM_HOST2_ETC HPVM_HOST2_RUN HPVM_HOST2_PEER_URI
        return 0
}
