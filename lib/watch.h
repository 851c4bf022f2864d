/* watch.h: following a VM's outgoing migration on the source host and acting on how it ended; starting that watcher fully detached. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include <libvirt/libvirt.h>

#include "config.h"
#include "util.h"

/* How a watched migration ended, as seen from the source host. */
typedef enum HpvmWatchOutcome {
        HPVM_WATCH_MIGRATED,    /* gone from this host, or shut off with reason "migrated": on_success */
        HPVM_WATCH_STOPPED,     /* shut off here for another reason (destroyed, crashed...): on_success, it uses nothing here any more */
        HPVM_WATCH_FAILED,      /* a migration job was seen, then none while the VM still runs here: on_failure */
        HPVM_WATCH_NOT_STARTED, /* no migration job within migration_start_timeout, the VM runs here: on_failure */
        HPVM_WATCH_POSTCOPY,    /* in post-copy (the destination runs it) at the end, or post-copy failed: no action */
        HPVM_WATCH_TIMEOUT,     /* still migrating when watch_timeout ran out: no action */
} HpvmWatchOutcome;

/* "migrated", "stopped", "failed", "not-started", "post-copy", "timeout". */
const char *hpvm_watch_outcome_name(HpvmWatchOutcome o);

/* What to do at the end. Any member may be NULL. */
typedef struct HpvmWatchActions {
        /*
         * The VM no longer runs here (MIGRATED, STOPPED): e.g. release its
         * source VFs in the ledger. Returns >= 0, or a negative errno with @err set.
         */
        int (*on_success)(virConnectPtr conn, const char *vm_uuid, void *opaque, HpvmError *err);
        /*
         * The migration failed and the VM runs here (FAILED, NOT_STARTED):
         * put back what was taken for it, e.g. hpvm_watch_replug_recorded().
         * Returns >= 0 (say how many things it put back), or a negative errno with @err set.
         */
        int (*on_failure)(virConnectPtr conn, virDomainPtr dom, void *opaque, HpvmError *err);
        /* One line of progress ("migration job seen after 1.0 s", ...) for the watcher's log. */
        void (*note)(void *opaque, const char *line);
        void *opaque;
} HpvmWatchActions;

typedef struct HpvmWatchResult {
        HpvmWatchOutcome outcome;
        double job_seen_s;              /* seconds from the start to the first sight of the migration; < 0: never */
        double decided_s;               /* seconds from the start to the outcome */
        double seconds;                 /* the whole call, the action included */
        int action;                     /* what the action returned; -1 when none ran */
        char detail[HPVM_ERR_MAX];      /* one line: what was seen and what was done */
} HpvmWatchResult;

/*
 * Follow the outgoing migration of the VM of UUID @vm_uuid on this host and
 * run the action its outcome calls for; return when it is known, and
 * within c->watch_timeout seconds in any case (plus the action's time).
 *
 * Opens its own connection (hpvm_virt_open(): c's URI and credentials),
 * registers a lifecycle event callback, and then polls every 500 ms, or at
 * once when an event for the VM arrives: the VM's state
 * (virDomainGetState) and its job (virDomainGetJobStats: a job whose
 * operation is an outgoing migration). Outcomes:
 *  - the VM gone from this host (or shut off, reason migrated): MIGRATED;
 *    shut off for another reason: STOPPED (both: on_success);
 *  - running here (or paused other than by a migration) with no migration
 *    job in two polls in a row after one was seen: FAILED (on_failure);
 *  - no migration job ever seen within c->migration_start_timeout seconds
 *    and the VM still here: NOT_STARTED (vdsm failed before starting it; a
 *    migration faster than one poll and refused at once is also seen so)
 *    (on_failure);
 *  - paused (or running) in post-copy: never a failure from then on (the
 *    destination holds the VM's memory); the watch goes on for the VM to
 *    leave (MIGRATED), and ends as POSTCOPY, with no action, when post-copy
 *    failed or c->watch_timeout runs out;
 *  - still migrating at c->watch_timeout: TIMEOUT, no action.
 * A driver without job statistics (the test:/// driver) counts as never
 * migrating. When libvirtd goes away meanwhile the watch reconnects every
 * second and decides nothing while it cannot see the VM.
 * Events are delivered through libvirt's default event loop, run in the
 * calling thread; no other thread may run it meanwhile.
 *
 * Returns 0 with *ret filled when the watch reached an outcome and its
 * action, if any, succeeded; on failure *ret is untouched and @err has one
 * line: -EINVAL (@vm_uuid is not a UUID), hpvm_virt_open()'s errors (no first
 * connection), or the action's error (the message then starts with what
 * the watch saw). Progress lines go to actions->note.
 */
int hpvm_watch_migration(const HpvmConfig *c, const char *vm_uuid, HpvmWatchActions *actions, HpvmWatchResult *ret,
                         HpvmError *err);

/*
 * A ready-made on_failure: read @dom's VF NIC record (vfmeta.h), plug each
 * recorded NIC back with its recorded <interface> (hpvm_virt_plug_nic(): a
 * NIC already there is not plugged twice) and drop the record; a NIC that
 * cannot be plugged stays recorded. @opaque is unused.
 * Returns how many recorded NICs are back (0: none was recorded), or the
 * first failure's negative errno with @err naming the NIC and saying how
 * many others made it.
 */
int hpvm_watch_replug_recorded(virConnectPtr conn, virDomainPtr dom, void *opaque, HpvmError *err);

/*
 * Start the program @argv[0] (an absolute path) with arguments @argv
 * (NULL-terminated) as a fully detached process, and return once it runs:
 * double fork (its parent exits at once and is reaped here, so the caller
 * leaves no zombie and the watcher is adopted by init or a subreaper),
 * setsid() in between (a session of its own without a terminal, out of the
 * caller's process group: signals to the hook's group do not reach it),
 * stdin, stdout and stderr on /dev/null and every other descriptor closed
 * (vdsm reads a hook's stdout and stderr until they close: the watcher must
 * not keep them open), cwd "/", umask 022, default signal dispositions and
 * an empty signal mask; the caller's environment is passed on.
 * Always exec: after a fork only async-signal-safe calls are allowed until
 * exec, and the caller may hold libvirt or libxml2 state (or threads) that
 * a forked copy must not touch; a fresh program opens its own connection.
 * The program logs to syslog: openlog("hpvm-watch", LOG_PID, LOG_DAEMON).
 * On success *ret_pid (NULL allowed) is the watcher's pid.
 * Returns 0; -EINVAL (no argv, or a relative path); the negative errno of
 * pipe, fork or exec, with a message naming the program, e.g.
 *   cannot start the migration watcher '/usr/libexec/x': No such file or directory
 */
int hpvm_watch_spawn(const char *const argv[], pid_t *ret_pid, HpvmError *err);
