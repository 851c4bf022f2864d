# libvirtd-env.sh: start and stop a real system libvirtd (QEMU driver) for tests.
#
# Source it, then:
#   hpvm_libvirtd_start   make qemu:///system answer, starting virtlogd and
#                         libvirtd only if nothing answers yet (returns 0/1)
#   hpvm_libvirtd_stop    stop exactly the daemons hpvm_libvirtd_start started,
#                         by the process ids it recorded, and remove the hook
#                         files hpvm_libvirtd_install_hooks installed; safe to
#                         call twice
#   hpvm_libvirtd_owned   true when hpvm_libvirtd_start started the daemon
#                         (false when it reused one that already answered)
#   hpvm_libvirtd_install_hooks SRCDIR
#                         copy every executable file of SRCDIR into
#                         /etc/libvirt/hooks/qemu.d/ (removed again by stop);
#                         libvirtd decides at start whether it has qemu hooks
#                         (a folder empty then stays ignored), so call
#                         hpvm_libvirtd_restart next. Returns 2 without
#                         touching anything when the daemon is not ours.
#   hpvm_libvirtd_restart restart the libvirtd we started (its guests keep
#                         running; libvirt's hooks see "reconnect" for each);
#                         returns 2 when the daemon is not ours, 1 on failure
#
# Needs root. Never stops, restarts or reconfigures a daemon it did not start,
# never matches processes by name. Log lines go to stderr. Knobs (environment):
#   HPVM_LIBVIRTD_TIMEOUT  seconds to wait for the daemon to answer (default 60;
#                          the first start on a machine probes QEMU: ~15 s)
#   HPVM_LIBVIRT_URI       URI to probe (default qemu:///system)
# POSIX sh: works when sourced from sh or bash. Helpers named hpvm_lv_* are
# shared with tests/libvirt-hosts.sh.

HPVM_LV_URI=${HPVM_LIBVIRT_URI:-qemu:///system}
HPVM_LV_STATE=            # our folder for logs; set once we start something
HPVM_LV_PIDS=             # "name:pid" of every daemon we started, newest first
HPVM_LV_REUSED=0
HPVM_LV_KVM_SAVED=        # "group mode" of /dev/kvm before we opened it up
HPVM_LV_HUGETLBFS=        # where we mounted hugetlbfs, to unmount at stop
HPVM_LV_HOOKS=            # hook files we installed, to remove at stop
HPVM_LV_HOOKDIRS=         # hook folders we created, deepest first

hpvm_lv_log() {
        printf 'libvirtd-env: %s\n' "$*" >&2
}

# True when a libvirtd answers at $HPVM_LV_URI (bounded: a hung daemon is "no").
hpvm_lv_answers() {
        timeout 10 virsh -c "$HPVM_LV_URI" version >/dev/null 2>&1
}

# True when process $2 runs and is named $1. A zombie counts as gone: when
# nobody reaps our daemonized children (pid 1 of a container) they stay one.
hpvm_lv_alive() {
        [ "$(cat "/proc/$2/comm" 2>/dev/null)" = "$1" ] || return 1
        _st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$2/status" 2>/dev/null)
        [ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

# The pid stored in pid file $1, if that process is alive and is named $2.
hpvm_lv_pid_of() {
        _pf=$1 _name=$2
        [ -r "$_pf" ] || return 1
        _pid=$(head -n 1 "$_pf" 2>/dev/null) || return 1
        case $_pid in ''|*[!0-9]*) return 1 ;; esac
        hpvm_lv_alive "$_name" "$_pid" || return 1
        printf '%s\n' "$_pid"
}

# Show the end of a daemon's log, for a start that failed.
hpvm_lv_dump_log() {
        [ -s "$1" ] || return 0
        hpvm_lv_log "last lines of $1:"
        tail -n 20 "$1" | sed 's/^/    /' >&2
}

# Debian's udev rule makes /dev/kvm root:kvm 0660 and libvirt puts its QEMU
# user in group kvm. Without udev (containers, minimal VMs) it stays root 0600:
# QEMU's capability probe then finds KVM but libvirt's own access check does
# not, so libvirtd throws its capability cache away and re-probes QEMU on every
# lookup (~15-30 s per define). Apply the Debian setting while we run;
# hpvm_libvirtd_stop puts the old group and mode back.
hpvm_lv_fix_kvm() {
        [ -c /dev/kvm ] || return 0
        getent group kvm >/dev/null 2>&1 || groupadd -r kvm || return 0
        id -nG libvirt-qemu 2>/dev/null | tr ' ' '\n' | grep -qx kvm ||
                usermod -aG kvm libvirt-qemu || return 0
        _grp=$(stat -c %G /dev/kvm) _mode=$(stat -c %a /dev/kvm)
        case $_grp:$_mode in kvm:66?) return 0 ;; esac
        HPVM_LV_KVM_SAVED="$_grp $_mode"
        chgrp kvm /dev/kvm && chmod 0660 /dev/kvm &&
                hpvm_lv_log "/dev/kvm was $_grp $_mode: set to kvm 0660 (Debian's udev default) until stop"
}

# libvirt looks for hugetlbfs mounts when it starts: mount one first if the
# host has none, so a guest backed by huge pages can start.
hpvm_lv_mount_hugetlbfs() {
        grep -q ' hugetlbfs ' /proc/mounts && return 0
        if mkdir -p /dev/hugepages && mount -t hugetlbfs hugetlbfs /dev/hugepages; then
                HPVM_LV_HUGETLBFS=/dev/hugepages
                hpvm_lv_log "mounted hugetlbfs at /dev/hugepages until stop"
        else
                hpvm_lv_log "cannot mount hugetlbfs: guests backed by huge pages cannot start here"
        fi
        return 0
}

hpvm_lv_umount_hugetlbfs() {
        [ -n "$HPVM_LV_HUGETLBFS" ] || return 0
        umount "$HPVM_LV_HUGETLBFS" && hpvm_lv_log "unmounted hugetlbfs from $HPVM_LV_HUGETLBFS"
        HPVM_LV_HUGETLBFS=
}

hpvm_lv_restore_kvm() {
        [ -n "$HPVM_LV_KVM_SAVED" ] || return 0
        chgrp "${HPVM_LV_KVM_SAVED% *}" /dev/kvm && chmod "${HPVM_LV_KVM_SAVED#* }" /dev/kvm &&
                hpvm_lv_log "/dev/kvm back to ${HPVM_LV_KVM_SAVED}"
        HPVM_LV_KVM_SAVED=
}

# Start daemon $1 (virtlogd|libvirtd) with pid file $2; record its pid.
hpvm_lv_spawn() {
        _name=$1 _pf=$2 _log=$HPVM_LV_STATE/$1.log
        # Warnings and errors to a file we can show; the daemon closes its stderr.
        if ! LIBVIRT_LOG_OUTPUTS="3:file:$_log" "$_name" -d -p "$_pf"; then
                hpvm_lv_log "$_name -d failed"
                hpvm_lv_dump_log "$_log"
                return 1
        fi
        # -d returns once the child is set up; the pid file is written by then,
        # but allow a moment for slow machines.
        _i=0
        while ! _pid=$(hpvm_lv_pid_of "$_pf" "$_name"); do
                _i=$((_i + 1))
                if [ "$_i" -gt 50 ]; then
                        hpvm_lv_log "$_name started but wrote no live pid to $_pf"
                        hpvm_lv_dump_log "$_log"
                        return 1
                fi
                sleep 0.1
        done
        HPVM_LV_PIDS="$_name:$_pid $HPVM_LV_PIDS"
        hpvm_lv_log "started $_name (pid $_pid, pid file $_pf, log $_log)"
}

# Wait (bounded by HPVM_LIBVIRTD_TIMEOUT) until the libvirtd we spawned answers
# at $HPVM_LV_URI; fail early when it dies. Logs how long it took.
hpvm_lv_wait_answer() {
        _limit=${HPVM_LIBVIRTD_TIMEOUT:-60}
        _start=$(date +%s)
        while ! hpvm_lv_answers; do
                if ! hpvm_lv_pid_of /run/libvirtd.pid libvirtd >/dev/null; then
                        hpvm_lv_log "libvirtd died while starting"
                        hpvm_lv_dump_log "$HPVM_LV_STATE/libvirtd.log"
                        return 1
                fi
                if [ $(($(date +%s) - _start)) -ge "$_limit" ]; then
                        hpvm_lv_log "libvirtd does not answer at $HPVM_LV_URI after ${_limit} s"
                        hpvm_lv_dump_log "$HPVM_LV_STATE/libvirtd.log"
                        return 1
                fi
                sleep 0.2
        done
        hpvm_lv_log "libvirtd answers at $HPVM_LV_URI after $(($(date +%s) - _start)) s"
}

hpvm_libvirtd_start() {
        if [ -n "$HPVM_LV_PIDS" ] || [ "$HPVM_LV_REUSED" = 1 ]; then
                hpvm_lv_log "already started by this shell"
                return 0
        fi
        if hpvm_lv_answers; then
                HPVM_LV_REUSED=1
                hpvm_lv_log "a libvirtd already answers at $HPVM_LV_URI: reusing it, will stop nothing"
                return 0
        fi
        if [ "$(id -u)" != 0 ]; then
                hpvm_lv_log "starting a system libvirtd needs root"
                return 1
        fi
        for _cmd in libvirtd virtlogd virsh timeout; do
                if ! command -v "$_cmd" >/dev/null 2>&1; then
                        hpvm_lv_log "$_cmd not found (apt-get install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)"
                        return 1
                fi
        done

        # The QEMU driver refuses to load while its default user is missing.
        if ! id libvirt-qemu >/dev/null 2>&1; then
                useradd -r -s /usr/sbin/nologin libvirt-qemu || {
                        hpvm_lv_log "cannot create user libvirt-qemu"
                        return 1
                }
                hpvm_lv_log "created system user libvirt-qemu"
        fi
        hpvm_lv_fix_kvm
        hpvm_lv_mount_hugetlbfs
        mkdir -p /run/libvirt /var/log/libvirt/qemu /var/lib/libvirt/qemu \
                 /var/cache/libvirt/qemu || return 1

        HPVM_LV_STATE=$(mktemp -d "${TMPDIR:-/tmp}/hpvm-libvirtd.XXXXXX") || return 1

        # The default pid files double as locks: a second daemon of the same
        # kind refuses to start instead of stealing the first one's sockets.
        if _pid=$(hpvm_lv_pid_of /run/virtlogd.pid virtlogd); then
                hpvm_lv_log "virtlogd already runs (pid $_pid): reusing it"
        else
                hpvm_lv_spawn virtlogd /run/virtlogd.pid || { hpvm_libvirtd_stop; return 1; }
        fi
        if _pid=$(hpvm_lv_pid_of /run/libvirtd.pid libvirtd); then
                hpvm_lv_log "libvirtd runs (pid $_pid) but does not answer at $HPVM_LV_URI"
                hpvm_libvirtd_stop
                return 1
        fi
        hpvm_lv_spawn libvirtd /run/libvirtd.pid || { hpvm_libvirtd_stop; return 1; }

        hpvm_lv_wait_answer || { hpvm_libvirtd_stop; return 1; }
}

# Stop one recorded daemon: TERM, up to 15 s, then KILL.
hpvm_lv_kill() {
        _name=$1 _pid=$2
        # Guard against a recycled pid: only signal a process of that name.
        hpvm_lv_alive "$_name" "$_pid" || return 0
        kill -TERM "$_pid" 2>/dev/null || return 0
        _i=0
        while hpvm_lv_alive "$_name" "$_pid"; do
                _i=$((_i + 1))
                if [ "$_i" -gt 150 ]; then
                        hpvm_lv_log "$_name (pid $_pid) ignores SIGTERM: SIGKILL"
                        kill -KILL "$_pid" 2>/dev/null
                        break
                fi
                sleep 0.1
        done
        hpvm_lv_log "stopped $_name (pid $_pid)"
}

hpvm_libvirtd_stop() {
        if [ "$HPVM_LV_REUSED" = 1 ]; then
                HPVM_LV_REUSED=0
                return 0
        fi
        # Newest first: libvirtd before the virtlogd it logs through.
        for _entry in $HPVM_LV_PIDS; do
                hpvm_lv_kill "${_entry%%:*}" "${_entry#*:}"
        done
        HPVM_LV_PIDS=
        hpvm_lv_remove_hooks
        hpvm_lv_restore_kvm
        hpvm_lv_umount_hugetlbfs
        if [ -n "$HPVM_LV_STATE" ]; then
                rm -rf "$HPVM_LV_STATE"
                HPVM_LV_STATE=
        fi
        return 0
}

# Destroys and undefines every domain of the system libvirtd named "$1-*"
# (a test's own guests, by the prefix it gave them); bounded, quiet.
hpvm_lv_remove_guests() {
        hpvm_lv_answers || return 0
        for _d in $(timeout 10 virsh -q -c "$HPVM_LV_URI" list --all --name 2>/dev/null); do
                case $_d in
                "$1"-*)
                        timeout 20 virsh -q -c "$HPVM_LV_URI" destroy "$_d" >/dev/null 2>&1
                        timeout 20 virsh -q -c "$HPVM_LV_URI" undefine "$_d" >/dev/null 2>&1
                        ;;
                esac
        done
        return 0
}

# Writes tests/data/integration/logging-hook.in as executable qemu hook $3
# for side $1 ("src" or "dst"), logging to and controlled from folder $2.
hpvm_lv_logging_hook() {
        # shellcheck disable=SC2154 # srcdir: set by the script that sources this file
        sed -e "s|@SIDE@|$1|" -e "s|@CTL@|$2|" "$srcdir/tests/data/integration/logging-hook.in" >"$3" &&
                chmod 0755 "$3"
}

hpvm_libvirtd_owned() {
        [ "$HPVM_LV_REUSED" != 1 ] && [ -n "$HPVM_LV_PIDS" ]
}

# The pid of the libvirtd we started, if it still runs.
hpvm_lv_our_libvirtd() {
        for _entry in $HPVM_LV_PIDS; do
                [ "${_entry%%:*}" = libvirtd ] || continue
                hpvm_lv_alive libvirtd "${_entry#*:}" && printf '%s\n' "${_entry#*:}" && return 0
        done
        return 1
}

hpvm_libvirtd_install_hooks() {
        _src=$1
        if ! hpvm_libvirtd_owned; then
                hpvm_lv_log "libvirtd at $HPVM_LV_URI is not ours: installing no hooks into /etc/libvirt/hooks/qemu.d"
                return 2
        fi
        [ -d "$_src" ] || { hpvm_lv_log "no hook folder $_src"; return 1; }
        for _d in /etc/libvirt/hooks /etc/libvirt/hooks/qemu.d; do
                [ -d "$_d" ] && continue
                mkdir -m 0755 "$_d" || return 1
                HPVM_LV_HOOKDIRS="$_d $HPVM_LV_HOOKDIRS"
        done
        for _f in "$_src"/*; do
                if [ ! -f "$_f" ] || [ ! -x "$_f" ]; then
                        continue
                fi
                _dst=/etc/libvirt/hooks/qemu.d/${_f##*/}
                if [ -e "$_dst" ]; then
                        hpvm_lv_log "$_dst exists and is not ours: not replacing it"
                        return 1
                fi
                cp "$_f" "$_dst" && chmod 0755 "$_dst" || return 1
                HPVM_LV_HOOKS="$HPVM_LV_HOOKS $_dst"
                hpvm_lv_log "installed hook $_dst (removed at stop)"
        done
}

# Remove the hook files and folders hpvm_libvirtd_install_hooks added.
hpvm_lv_remove_hooks() {
        for _f in $HPVM_LV_HOOKS; do
                rm -f "$_f"
        done
        for _d in $HPVM_LV_HOOKDIRS; do
                rmdir "$_d" 2>/dev/null || hpvm_lv_log "left $_d: not empty"
        done
        HPVM_LV_HOOKS=
        HPVM_LV_HOOKDIRS=
}

hpvm_libvirtd_restart() {
        if ! hpvm_libvirtd_owned; then
                hpvm_lv_log "libvirtd at $HPVM_LV_URI is not ours: not restarting it"
                return 2
        fi
        if _pid=$(hpvm_lv_our_libvirtd); then
                hpvm_lv_kill libvirtd "$_pid"
        fi
        _rest=
        for _entry in $HPVM_LV_PIDS; do
                [ "${_entry%%:*}" = libvirtd ] || _rest="$_rest $_entry"
        done
        HPVM_LV_PIDS=${_rest# }
        hpvm_lv_spawn libvirtd /run/libvirtd.pid || return 1
        hpvm_lv_wait_answer
}
