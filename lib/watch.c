/* watch.c: the migration watcher's logic (events + job polling, outcome, action) and its fully detached start. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "hotplug.h"
#include "vfmeta.h"
#include "virtconn.h"
#include "watch.h"

#define TICK_MS 100             /* the event loop wakes at least this often */
#define POLL_S 0.5              /* state and job are read this often (and on every event of the VM) */
#define RECONNECT_S 1.0         /* a lost connection is retried this often */
#define NO_JOB_POLLS 2          /* polls in a row without a job, after one was seen, that make a failure */
#define UUID_LEN 36

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *hpvm_watch_outcome_name(HpvmWatchOutcome o)
{
        switch (o) {
        case HPVM_WATCH_MIGRATED: return "migrated";
        case HPVM_WATCH_STOPPED: return "stopped";
        case HPVM_WATCH_FAILED: return "failed";
        case HPVM_WATCH_NOT_STARTED: return "not-started";
        case HPVM_WATCH_POSTCOPY: return "post-copy";
        case HPVM_WATCH_TIMEOUT: return "timeout";
        }
        return "?";
}

/* ---------------------------------------------------------------- the watch */

typedef struct Watch {
        const HpvmConfig *c;
        const char *uuid;
        HpvmWatchActions *a;
        virConnectPtr conn;
        virDomainPtr dom;
        int cb;                 /* lifecycle callback id, -1 none */
        double t0;
        double job_seen_s;      /* < 0: not yet */
        bool postcopy;
        bool woke;              /* an event of the VM arrived since the last poll */
        int stopped_detail;     /* detail of a STOPPED event of the VM; -1 none */
        int no_job;             /* polls in a row without a migration job */
        bool named;             /* name is the domain's name (its UUID until looked up) */
        int why_code;           /* libvirt's last error where a look failed (kept: the next call clears it) */
        char why[HPVM_ERR_MAX / 2];
        char name[HPVM_QUOTE_MAX + 2];  /* 'name' for messages */
} Watch;

static void note(Watch *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(Watch *w, const char *fmt, ...)
{
        char line[HPVM_ERR_MAX];
        va_list ap;

        if (!w->a || !w->a->note)
                return;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        w->a->note(w->a->opaque, line);
}

static double since(const Watch *w)
{
        return now_s() - w->t0;
}

static void saw_job(Watch *w, const char *how)
{
        if (w->job_seen_s >= 0)
                return;
        w->job_seen_s = since(w);
        note(w, "VM %s: migration job seen after %.1f s (%s)", w->name, w->job_seen_s, how);
}

static bool is_ours(virDomainPtr dom, const char *uuid)
{
        char s[VIR_UUID_STRING_BUFLEN];

        return dom && virDomainGetUUIDString(dom, s) == 0 && !strcasecmp(s, uuid);
}

static void on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
        Watch *w = opaque;

        if (!is_ours(dom, w->uuid))
                return;
        w->woke = true;
        switch (event) {
        case VIR_DOMAIN_EVENT_STOPPED:
                w->stopped_detail = detail;
                if (detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED)
                        saw_job(w, "stopped event: migrated");
                break;
        case VIR_DOMAIN_EVENT_SUSPENDED:
                if (detail == VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED)
                        saw_job(w, "paused for migration");
                if (detail == VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY || detail == VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED) {
                        saw_job(w, "paused in post-copy");
                        w->postcopy = true;
                }
                break;
        default:
                break;
        }
}

static void tick(int timer, void *opaque)
{
}

static const char *stop_name(int detail)
{
        switch (detail) {
        case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: return "shut down";
        case VIR_DOMAIN_EVENT_STOPPED_DESTROYED: return "destroyed";
        case VIR_DOMAIN_EVENT_STOPPED_CRASHED: return "crashed";
        case VIR_DOMAIN_EVENT_STOPPED_MIGRATED: return "migrated";
        case VIR_DOMAIN_EVENT_STOPPED_SAVED: return "saved";
        case VIR_DOMAIN_EVENT_STOPPED_FAILED: return "failed";
        case VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT: return "from snapshot";
        default: return "stopped";
        }
}

static const char *shutoff_name(int reason)
{
        switch (reason) {
        case VIR_DOMAIN_SHUTOFF_SHUTDOWN: return "shut down";
        case VIR_DOMAIN_SHUTOFF_DESTROYED: return "destroyed";
        case VIR_DOMAIN_SHUTOFF_CRASHED: return "crashed";
        case VIR_DOMAIN_SHUTOFF_MIGRATED: return "migrated";
        case VIR_DOMAIN_SHUTOFF_SAVED: return "saved";
        case VIR_DOMAIN_SHUTOFF_FAILED: return "failed to start";
        case VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT: return "from snapshot";
        default: return "unknown reason";
        }
}

/* Keep libvirt's last error: the next libvirt call would clear it. Returns its code. */
static int keep_error(Watch *w)
{
        w->why_code = hpvm_virt_last_code();
        snprintf(w->why, sizeof(w->why), "%s", hpvm_virt_last_error("no reason given"));
        return w->why_code;
}

/* Whether the kept error means the connection is gone (libvirtd restarted or died). */
static bool conn_lost(const Watch *w)
{
        int code = w->why_code;

        return !w->conn || code == VIR_ERR_SYSTEM_ERROR || code == VIR_ERR_RPC || code == VIR_ERR_INVALID_CONN ||
               code == VIR_ERR_NO_CONNECT || virConnectIsAlive(w->conn) != 1;
}

static void disconnect(Watch *w)
{
        if (w->dom) {
                virDomainFree(w->dom);
                w->dom = NULL;
        }
        if (w->conn) {
                if (w->cb >= 0)
                        virConnectDomainEventDeregisterAny(w->conn, w->cb);
                virConnectClose(w->conn);
                w->conn = NULL;
        }
        w->cb = -1;
}

static int connect_watch(Watch *w, HpvmError *err)
{
        int r = hpvm_virt_open(w->c, &w->conn, err);

        if (r < 0)
                return r;
        /* Every domain's events, filtered by UUID: the VM may be looked up (and vanish) between polls. */
        w->cb = virConnectDomainEventRegisterAny(w->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                 VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), w, NULL);
        if (w->cb < 0)
                note(w, "VM %s: no lifecycle events (%s): polling only", w->name, hpvm_virt_last_error("no reason given"));
        return 0;
}

/* Is an outgoing migration job running? 1 yes, 0 no, -1 cannot tell this time. */
static int migrating(Watch *w)
{
        virTypedParameterPtr params = NULL;
        int type = VIR_DOMAIN_JOB_NONE, nparams = 0, op = -1, r;

        virResetLastError();
        if (virDomainGetJobStats(w->dom, &type, &params, &nparams, 0) < 0)
                /* No job statistics in this driver: it never migrates. */
                return keep_error(w) == VIR_ERR_NO_SUPPORT ? 0 : -1;
        if (virTypedParamsGetInt(params, nparams, VIR_DOMAIN_JOB_OPERATION, &op) != 1)
                op = -1;
        virTypedParamsFree(params, nparams);
        r = type != VIR_DOMAIN_JOB_NONE && (op < 0 || op == VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT);
        return r;
}

static bool in_postcopy(int state, int reason)
{
        if (state == VIR_DOMAIN_PAUSED)
                return reason == VIR_DOMAIN_PAUSED_POSTCOPY || reason == VIR_DOMAIN_PAUSED_POSTCOPY_FAILED;
        if (state == VIR_DOMAIN_RUNNING) {
#if LIBVIR_CHECK_VERSION(8, 5, 0)
                if (reason == VIR_DOMAIN_RUNNING_POSTCOPY_FAILED)
                        return true;
#endif
                return reason == VIR_DOMAIN_RUNNING_POSTCOPY;
        }
        return false;
}

static bool postcopy_failed(int state, int reason)
{
#if LIBVIR_CHECK_VERSION(8, 5, 0)
        if (state == VIR_DOMAIN_RUNNING && reason == VIR_DOMAIN_RUNNING_POSTCOPY_FAILED)
                return true;
#endif
        return state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_POSTCOPY_FAILED;
}

#define UNDECIDED (-1)
#define UNSEEN (-2)             /* the connection is gone: nothing can be told */

/* The VM is not on this host: migrated, unless an event said it was stopped otherwise. */
static int gone(Watch *w, char *detail, size_t size)
{
        if (w->stopped_detail >= 0 && w->stopped_detail != VIR_DOMAIN_EVENT_STOPPED_MIGRATED) {
                snprintf(detail, size, "VM %s: stopped here (%s) after %.1f s and gone", w->name, stop_name(w->stopped_detail),
                         since(w));
                return HPVM_WATCH_STOPPED;
        }
        snprintf(detail, size, "VM %s: gone from this host after %.1f s (%s)", w->name, since(w),
                 w->stopped_detail >= 0 ? "stopped event: migrated" : "no longer defined here");
        return HPVM_WATCH_MIGRATED;
}

/* One look at the VM: an outcome, UNDECIDED, or UNSEEN. */
static int poll_vm(Watch *w, char *detail, size_t size)
{
        int state = 0, reason = 0, job;

        if (!w->dom) {
                virResetLastError();
                w->dom = virDomainLookupByUUIDString(w->conn, w->uuid);
                if (!w->dom)
                        return keep_error(w) == VIR_ERR_NO_DOMAIN ? gone(w, detail, size) : UNSEEN;
                if (!w->named) {
                        const char *n = virDomainGetName(w->dom);

                        if (n) {
                                char q[HPVM_QUOTE_MAX];

                                snprintf(w->name, sizeof(w->name), "'%s'", hpvm_quote(n, strlen(n), q, sizeof(q)));
                        }
                        w->named = true;
                }
        }
        virResetLastError();
        if (virDomainGetState(w->dom, &state, &reason, 0) < 0)
                return keep_error(w) == VIR_ERR_NO_DOMAIN ? gone(w, detail, size) : UNSEEN;
        if (state == VIR_DOMAIN_SHUTOFF) {
                if (reason == VIR_DOMAIN_SHUTOFF_MIGRATED || w->stopped_detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED) {
                        snprintf(detail, size, "VM %s: shut off here after %.1f s (migrated)", w->name, since(w));
                        return HPVM_WATCH_MIGRATED;
                }
                snprintf(detail, size, "VM %s: shut off here after %.1f s (%s)", w->name, since(w), shutoff_name(reason));
                return HPVM_WATCH_STOPPED;
        }
        if (in_postcopy(state, reason) && !w->postcopy) {
                saw_job(w, "post-copy");
                w->postcopy = true;
                note(w, "VM %s: in post-copy: the destination runs it; it is left alone here", w->name);
        }
        if (postcopy_failed(state, reason)) {
                snprintf(detail, size, "VM %s: post-copy migration failed after %.1f s: the VM needs a person; left alone, "
                         "no action", w->name, since(w));
                return HPVM_WATCH_POSTCOPY;
        }
        job = migrating(w);
        if (job < 0)
                return conn_lost(w) ? UNSEEN : UNDECIDED;
        if (job) {
                saw_job(w, "job statistics");
                w->no_job = 0;
                return UNDECIDED;
        }
        /* No job. A migration pauses the VM at its end: that is not a failure. */
        if (w->postcopy || (state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_MIGRATION) ||
            (state != VIR_DOMAIN_RUNNING && state != VIR_DOMAIN_PAUSED && state != VIR_DOMAIN_BLOCKED))
                return UNDECIDED;
        if (w->job_seen_s >= 0) {
                if (++w->no_job < NO_JOB_POLLS)
                        return UNDECIDED;
                snprintf(detail, size, "VM %s: migration job seen after %.1f s, over at %.1f s with the VM still running here: "
                         "the migration failed", w->name, w->job_seen_s, since(w));
                return HPVM_WATCH_FAILED;
        }
        if (since(w) >= (double)w->c->migration_start_timeout) {
                snprintf(detail, size, "VM %s: no migration job within %llu s (migration_start_timeout) and the VM runs here: "
                         "the migration never started", w->name, (unsigned long long)w->c->migration_start_timeout);
                return HPVM_WATCH_NOT_STARTED;
        }
        return UNDECIDED;
}

static bool uuid_ok(const char *s)
{
        if (!s || strlen(s) != UUID_LEN)
                return false;
        for (int i = 0; i < UUID_LEN; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;

                if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f')))
                        return false;
        }
        return true;
}

/* Run the action the outcome calls for; res->action gets its result (-1: none ran). Returns 0, or its error. */
static int act(Watch *w, int outcome, HpvmWatchResult *res, HpvmError *err)
{
        HpvmError e = { 0 };
        int r = -1;
        size_t len = strlen(res->detail);

        switch (outcome) {
        case HPVM_WATCH_MIGRATED:
        case HPVM_WATCH_STOPPED:
                if (!w->a || !w->a->on_success)
                        break;
                r = w->a->on_success(w->conn, w->uuid, w->a->opaque, &e);
                if (r < 0)
                        return hpvm_error_set(err, r, "%s; the success action failed: %s", res->detail, e.msg);
                snprintf(res->detail + len, sizeof(res->detail) - len, "; success action done (%d)", r);
                break;
        case HPVM_WATCH_FAILED:
        case HPVM_WATCH_NOT_STARTED:
                if (!w->a || !w->a->on_failure)
                        break;
                r = w->a->on_failure(w->conn, w->dom, w->a->opaque, &e);
                if (r < 0)
                        return hpvm_error_set(err, r, "%s; the failure action failed: %s", res->detail, e.msg);
                snprintf(res->detail + len, sizeof(res->detail) - len, "; failure action done (%d)", r);
                break;
        default:
                snprintf(res->detail + len, sizeof(res->detail) - len, "; no action");
                break;
        }
        res->action = r;
        return 0;
}

int hpvm_watch_migration(const HpvmConfig *c, const char *vm_uuid, HpvmWatchActions *actions, HpvmWatchResult *ret,
                         HpvmError *err)
{
        Watch w = { .c = c, .uuid = vm_uuid, .a = actions, .cb = -1, .job_seen_s = -1, .stopped_detail = -1 };
        HpvmWatchResult res = { .job_seen_s = -1, .action = -1 };
        char q[HPVM_QUOTE_MAX];
        double deadline, next_poll, next_connect = 0;
        int timer, outcome = UNDECIDED, r;

        if (!c)
                return hpvm_error_set(err, -EINVAL, "no configuration to watch a migration with");
        if (!uuid_ok(vm_uuid))
                return hpvm_error_set(err, -EINVAL, "'%s' is not a VM UUID like 6b3c4f7e-2a1d-4c5e-9f00-0123456789ab",
                                      vm_uuid ? hpvm_quote(vm_uuid, strlen(vm_uuid), q, sizeof(q)) : "");
        snprintf(w.name, sizeof(w.name), "'%s'", vm_uuid);
        w.t0 = now_s();
        deadline = w.t0 + (double)c->watch_timeout;
        r = connect_watch(&w, err);
        if (r < 0)
                return r;
        timer = virEventAddTimeout(TICK_MS, tick, NULL, NULL);
        next_poll = w.t0;

        for (;;) {
                double t = now_s();

                if (!w.conn && t >= next_connect) {
                        HpvmError e = { 0 };

                        if (connect_watch(&w, &e) < 0)
                                next_connect = t + RECONNECT_S;
                        else
                                note(&w, "VM %s: connected again to libvirt after %.1f s", w.name, since(&w));
                        next_poll = t;
                }
                if (w.conn && (t >= next_poll || w.woke)) {
                        w.woke = false;
                        next_poll = t + POLL_S;
                        outcome = poll_vm(&w, res.detail, sizeof(res.detail));
                        if (outcome >= 0)
                                break;
                        if (outcome == UNSEEN && conn_lost(&w)) {
                                note(&w, "VM %s: lost the connection to libvirt after %.1f s (%s): reconnecting", w.name,
                                     since(&w), w.why);
                                disconnect(&w);
                                next_connect = t + RECONNECT_S;
                        }
                }
                if (t >= deadline) {
                        outcome = w.postcopy ? HPVM_WATCH_POSTCOPY : HPVM_WATCH_TIMEOUT;
                        if (w.postcopy)
                                snprintf(res.detail, sizeof(res.detail), "VM %s: still in post-copy after %llu s "
                                         "(watch_timeout): left alone", w.name, (unsigned long long)c->watch_timeout);
                        else
                                snprintf(res.detail, sizeof(res.detail), "VM %s: no outcome within %llu s (watch_timeout)%s: "
                                         "left alone", w.name, (unsigned long long)c->watch_timeout,
                                         w.job_seen_s >= 0 ? ", still migrating" : "");
                        break;
                }
                if (timer >= 0 && w.conn) {
                        if (virEventRunDefaultImpl() < 0) {
                                virEventRemoveTimeout(timer);
                                timer = -1;
                        }
                } else {
                        struct timespec ts = { 0, TICK_MS * 1000000L };

                        nanosleep(&ts, NULL);
                }
        }
        if (timer >= 0)
                virEventRemoveTimeout(timer);

        res.outcome = (HpvmWatchOutcome)outcome;
        res.job_seen_s = w.job_seen_s;
        res.decided_s = since(&w);
        r = act(&w, outcome, &res, err);
        res.seconds = since(&w);
        disconnect(&w);
        if (r < 0)
                return r;
        *ret = res;
        return 0;
}

/* ---------------------------------------------------------------- the ready-made failure action */

int hpvm_watch_replug_recorded(virConnectPtr conn, virDomainPtr dom, void *opaque, HpvmError *err)
{
        HpvmVfMeta m, keep = { 0 };
        HpvmError first = { 0 };
        size_t back = 0;
        int r;

        r = hpvm_vfmeta_get(dom, &m, err);
        if (r < 0)
                return r;
        if (m.n == 0)
                return 0;
        keep.recs = calloc(m.n, sizeof(*keep.recs));
        if (!keep.recs) {
                hpvm_vfmeta_clear(&m);
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < m.n; i++) {
                HpvmError e = { 0 };

                if (hpvm_virt_plug_nic(dom, m.recs[i].interface_xml, &e) >= 0) {
                        back++;
                        continue;
                }
                if (!first.code)
                        first = e;
                /* Moved, not copied: @m gives up its pointer. */
                keep.recs[keep.n++] = m.recs[i];
                m.recs[i].interface_xml = NULL;
        }
        r = hpvm_vfmeta_set(dom, &keep, err);
        hpvm_vfmeta_clear(&keep);
        hpvm_vfmeta_clear(&m);
        if (first.code)
                return hpvm_error_set(err, first.code, "%s (%zu other recorded NIC(s) back; the failed one stays recorded)",
                                      first.msg, back);
        if (r < 0)
                return r;
        return (int)back;
}

/* ---------------------------------------------------------------- the detached start */

/* What the two children tell the caller through the pipe. */
typedef struct Report {
        int kind;               /* REPORT_PID or REPORT_ERRNO */
        int value;
} Report;

#define REPORT_PID 1
#define REPORT_ERRNO 2

static void write_report(int fd, int kind, int value)
{
        Report rep = { kind, value };
        ssize_t n;

        do
                n = write(fd, &rep, sizeof(rep));
        while (n < 0 && errno == EINTR);
}

/* Close every descriptor from @from on, but @keep. Async-signal-safe. */
static void close_from(int from, int keep)
{
#ifdef SYS_close_range
        if (keep > from)
                syscall(SYS_close_range, (unsigned)from, (unsigned)keep - 1, 0u);
        if (syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0)
                return;
#endif
        {
                struct rlimit rl;
                long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 65536;

                for (long fd = from; fd < max; fd++)
                        if (fd != keep)
                                close((int)fd);
        }
}

/* The grandchild: a clean process, then exec. Only async-signal-safe calls. */
static void become_watcher(const char *const argv[], int report) __attribute__((noreturn));
static void become_watcher(const char *const argv[], int report)
{
        struct sigaction dfl;
        sigset_t none;
        int fd;

        /* Our report pipe above the standard three, then those three on /dev/null. */
        fd = fcntl(report, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                _exit(127);
        report = fd;
        fd = open("/dev/null", O_RDWR | O_NOCTTY);
        if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
                write_report(report, REPORT_ERRNO, errno);
                _exit(127);
        }
        close_from(3, report);
        if (chdir("/") < 0) {
                write_report(report, REPORT_ERRNO, errno);
                _exit(127);
        }
        umask(022);
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++)
                sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(argv[0], (char *const *)argv);
        write_report(report, REPORT_ERRNO, errno);
        _exit(127);
}

int hpvm_watch_spawn(const char *const argv[], pid_t *ret_pid, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];
        int pfd[2], status, exec_errno = 0;
        pid_t child, watcher = -1;
        Report rep;
        ssize_t n;

        if (!argv || !argv[0] || argv[0][0] != '/')
                return hpvm_error_set(err, -EINVAL, "the migration watcher needs an absolute program path, not '%s'",
                                      argv && argv[0] ? hpvm_quote(argv[0], strlen(argv[0]), q, sizeof(q)) : "");
        hpvm_quote(argv[0], strlen(argv[0]), q, sizeof(q));
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return hpvm_error_set(err, -errno, "cannot start the migration watcher '%s': pipe: %s", q, strerror(errno));
        child = fork();
        if (child < 0) {
                int e = errno;

                close(pfd[0]);
                close(pfd[1]);
                return hpvm_error_set(err, -e, "cannot start the migration watcher '%s': fork: %s", q, strerror(e));
        }
        if (child == 0) {
                pid_t grandchild;

                close(pfd[0]);
                if (setsid() < 0) {
                        write_report(pfd[1], REPORT_ERRNO, errno);
                        _exit(127);
                }
                grandchild = fork();
                if (grandchild < 0) {
                        write_report(pfd[1], REPORT_ERRNO, errno);
                        _exit(127);
                }
                if (grandchild == 0)
                        become_watcher(argv, pfd[1]);
                write_report(pfd[1], REPORT_PID, (int)grandchild);
                _exit(0);
        }
        close(pfd[1]);
        /* EOF once the middle child has exited and the watcher has exec'd (the pipe is close-on-exec) or died. */
        for (;;) {
                n = read(pfd[0], &rep, sizeof(rep));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n != (ssize_t)sizeof(rep))
                        break;
                if (rep.kind == REPORT_PID)
                        watcher = rep.value;
                else if (rep.kind == REPORT_ERRNO && !exec_errno)
                        exec_errno = rep.value;
        }
        close(pfd[0]);
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
                ;
        if (exec_errno)
                return hpvm_error_set(err, -exec_errno, "cannot start the migration watcher '%s': %s", q, strerror(exec_errno));
        if (watcher <= 0)
                return hpvm_error_set(err, -ECHILD, "cannot start the migration watcher '%s': its starter died", q);
        if (ret_pid)
                *ret_pid = watcher;
        return 0;
}
