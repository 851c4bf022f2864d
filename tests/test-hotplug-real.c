/* test-hotplug-real.c: libhpvmvirt against real libvirtds: SASL login, hot-unplug/re-plug on a booted guest, a guest that never answers, the record across a live migration, the watcher on success and on failure. */
/*
 * Run by tests/integration-hotplug.sh, which starts the parts (system
 * libvirtd, host 2 with a refusing hook and SASL on its read-only socket,
 * the guest kit) and passes them in the environment:
 *   HPVM_HOTPLUG_WORK    a 0755 folder for serial logs, configurations, watcher results
 *   HPVM_HOTPLUG_CTL     the control folder of host 2's logging hook (dst.refuse-<op>-<sub> files)
 *   HPVM_HOTPLUG_PREFIX  prefix of every guest name
 *   HPVM_HOST2_URI, HPVM_HOST2_HOSTNAME, HPVM_GUEST_KERNEL, HPVM_GUEST_INITRD
 *   HPVM_SASL_URI, HPVM_SASL_USER, HPVM_SASL_PWFILE (optional: the SASL case is skipped without them)
 * Run alone, sequentially: CK_FORK=no.
 *
 * A VF cannot exist here: the NIC is a virtio <interface type='user'>. It
 * takes the same libvirt path a VF NIC takes: detach by alias, QEMU's
 * device_del, the guest's ACPI eject, libvirt's DEVICE_REMOVED event, attach
 * with the same MAC, alias and guest PCI address; only the host side of the
 * device (a vfio-bound VF) differs, and that is libvirt's business.
 *
 * Also the watcher: `test-hotplug-real --watch CONFIG UUID RESULT` runs
 * hpvm_watch_migration() with hpvm_watch_replug_recorded() as a detached
 * watcher does (syslog as "hpvm-watch"), writing its outcome to RESULT.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "domxml.h"
#include "hotplug.h"
#include "realhelp.h"
#include "testhelp.h"
#include "vfmeta.h"
#include "virtconn.h"
#include "watch.h"

#define SYS_URI "qemu:///system"
#define UNPLUG_TIMEOUT 20       /* booted guests answer in ~0.1 s */
#define NOOS_TIMEOUT 3          /* the guest that never answers: the bound that must hold */

static const char *g_work, *g_ctl, *g_prefix, *g_h2uri, *g_h2name;
static char g_self[4096];               /* this program, for the watcher */
static virConnectPtr g_src, g_dst;

typedef struct Guest {
        const char *tag;                /* a, b, n */
        bool booted, persistent;
        const char *mac, *alias;
        char name[128], serial[512];
        virDomainPtr dom;               /* on the system libvirtd */
        char *nic_xml;                  /* the live element right after the first plug */
} Guest;

static Guest g_a = { .tag = "a", .booted = true, .persistent = true, .mac = "52:54:00:4b:00:01", .alias = "ua-hp-vf-a" };
static Guest g_b = { .tag = "b", .booted = true, .persistent = false, .mac = "52:54:00:4b:00:02", .alias = "ua-hp-vf-b" };
static Guest g_n = { .tag = "n", .booted = false, .persistent = false, .mac = "52:54:00:4b:00:03", .alias = "ua-hp-vf-n" };

static size_t serial_count(const Guest *g, const char *text)
{
        _cleanup_free_ char *s = rh_slurp(g->serial);

        return rh_count(s, text);
}

static size_t count_in(virDomainPtr dom, unsigned flags, const char *text)
{
        _cleanup_free_ char *xml = rh_xml(dom, flags);

        return rh_count(xml, text);
}

static char *alias_attr(const Guest *g)
{
        char *s;

        ck_assert_int_ge(asprintf(&s, "<alias name='%s'/>", g->alias), 0);
        return s;
}

/* The guest PCI slot of the NIC in the live XML ("0x03"), or "" when absent. */
static void nic_slot(virDomainPtr dom, const Guest *g, char *buf, size_t size)
{
        _cleanup_free_ char *xml = rh_xml(dom, 0), *al = alias_attr(g);
        const char *p = strstr(xml, al), *slot;

        buf[0] = '\0';
        if (!p)
                return;
        slot = strstr(p, "slot='");
        if (slot)
                snprintf(buf, size, "%.4s", slot + 6);
}

static char *record_text(virDomainPtr dom)
{
        HpvmVfMeta m;
        HpvmError err = { 0 };
        char *out = NULL;

        ck_assert_msg(hpvm_vfmeta_get(dom, &m, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(hpvm_vfmeta_format(&m, &out, NULL, &err), 0);
        hpvm_vfmeta_clear(&m);
        return out;
}

/* ------------------------------------------------------------ the watcher, as a detached program */

typedef struct WatchLog {
        FILE *log;
} WatchLog;

static void watch_note(void *opaque, const char *line)
{
        WatchLog *w = opaque;

        syslog(LOG_INFO, "%s", line);
        if (w->log) {
                fprintf(w->log, "%s\n", line);
                fflush(w->log);
        }
}

static int watch_success(virConnectPtr conn, const char *uuid, void *opaque, HpvmError *err)
{
        /* A real watcher releases the source VFs in the ledger here. */
        watch_note(opaque, "success: the source VFs may be released");
        return 0;
}

static int watch_main(const char *cfgpath, const char *uuid, const char *result)
{
        _cleanup_config_ HpvmConfig *c = NULL;
        _cleanup_free_ char *logpath = NULL, *tmp = NULL;
        WatchLog wl = { NULL };
        HpvmWatchActions a = { .on_success = watch_success, .on_failure = hpvm_watch_replug_recorded,
                               .note = watch_note, .opaque = &wl };
        HpvmWatchResult res;
        HpvmError err = { 0 };
        FILE *f;
        int r;

        openlog("hpvm-watch", LOG_PID, LOG_DAEMON);
        if (asprintf(&logpath, "%s.log", result) < 0 || asprintf(&tmp, "%s.tmp", result) < 0)
                return 1;
        wl.log = fopen(logpath, "a");
        r = hpvm_config_load(cfgpath, true, &c, &err);
        if (r == 0)
                r = hpvm_watch_migration(c, uuid, &a, &res, &err);
        f = fopen(tmp, "w");
        if (!f)
                return 1;
        if (r == 0) {
                syslog(LOG_INFO, "%s", res.detail);
                fprintf(f, "outcome=%s job_seen=%.2f decided=%.2f seconds=%.2f action=%d\ndetail=%s\n",
                        hpvm_watch_outcome_name(res.outcome), res.job_seen_s, res.decided_s, res.seconds, res.action,
                        res.detail);
        } else {
                syslog(LOG_ERR, "%s", err.msg);
                fprintf(f, "error=%d\ndetail=%s\n", r, err.msg);
        }
        fclose(f);
        rename(tmp, result);
        if (wl.log)
                fclose(wl.log);
        closelog();
        return r == 0 ? 0 : 1;
}

/* Start a watcher for @g with this migration_start_timeout; its result file is returned (caller frees). */
static char *spawn_watcher(const Guest *g, const char *label, unsigned start_timeout)
{
        char uuid[VIR_UUID_STRING_BUFLEN], *cfg, *result, text[256];
        HpvmError err = { 0 };
        pid_t pid = -1;
        FILE *f;

        ck_assert_int_eq(virDomainGetUUIDString(g->dom, uuid), 0);
        ck_assert_int_ge(asprintf(&cfg, "%s/watch-%s.conf", g_work, label), 0);
        ck_assert_int_ge(asprintf(&result, "%s/watch-%s.result", g_work, label), 0);
        snprintf(text, sizeof(text), "libvirt_uri = " SYS_URI "\nmigration_start_timeout = %u\nwatch_timeout = 60\n",
                 start_timeout);
        th_write(cfg, text, strlen(text), 0644);
        {
                const char *const argv[] = { g_self, "--watch", cfg, uuid, result, NULL };

                ck_assert_msg(hpvm_watch_spawn(argv, &pid, &err) == 0, "%s", err.msg);
        }
        /* For the script's clean-up, should a watcher outlive a failed test. */
        snprintf(text, sizeof(text), "%s/watchers", g_work);
        f = fopen(text, "a");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "%d\n", (int)pid);
        fclose(f);
        rh_fact("watcher %s started: pid %d, VM %s, migration_start_timeout %u s", label, (int)pid, g->name, start_timeout);
        free(cfg);
        return result;
}

/* The watcher's result file, waited for (bounded). */
static char *watcher_result(const char *result, double limit)
{
        double t0 = rh_now();
        char *text;

        while (!(text = rh_slurp(result))) {
                ck_assert_msg(rh_now() - t0 < limit, "no watcher result in %s after %.0f s", result, limit);
                rh_sleep(0.05);
        }
        rh_fact("watcher said: %s", text);
        return text;
}

/* ------------------------------------------------------------ the guests */

static void boot(Guest *g)
{
        _cleanup_free_ char *tpl = NULL, *a = NULL, *b = NULL, *c = NULL, *xml = NULL, *tpath = NULL;
        size_t len;

        snprintf(g->name, sizeof(g->name), "%s-%s", g_prefix, g->tag);
        snprintf(g->serial, sizeof(g->serial), "%s/%s.serial", g_work, g->name);
        if (g->booted) {
                tpath = th_src("tests/data/integration/booted-guest.xml");
                tpl = th_slurp(tpath, &len);
                a = rh_replace(tpl, "@NAME@", g->name);
                b = rh_replace(a, "@KERNEL@", rh_env("HPVM_GUEST_KERNEL"));
                c = rh_replace(b, "@INITRD@", rh_env("HPVM_GUEST_INITRD"));
                xml = rh_replace(c, "@SERIAL@", g->serial);
        } else {
                tpath = th_src("tests/data/integration/migrate-guest.xml");
                tpl = th_slurp(tpath, &len);
                xml = rh_replace(tpl, "@NAME@", g->name);
        }
        if (g->persistent) {
                g->dom = virDomainDefineXML(g_src, xml);
                ck_assert_msg(g->dom && virDomainCreate(g->dom) == 0, "start %s: %s", g->name, hpvm_virt_last_error("?"));
        } else {
                g->dom = virDomainCreateXML(g_src, xml, 0);
                ck_assert_msg(g->dom, "start %s: %s", g->name, hpvm_virt_last_error("?"));
        }
}

static char *nic_element(const Guest *g)
{
        char *xml;

        ck_assert_int_ge(asprintf(&xml, "<interface type='user'><mac address='%s'/><model type='virtio'/>"
                                        "<alias name='%s'/></interface>", g->mac, g->alias), 0);
        return xml;
}

/* Plug the guest's NIC (live, and into the definition of a persistent one); keep its live element. */
static void add_nic(Guest *g)
{
        _cleanup_free_ char *xml = nic_element(g);
        HpvmError err = { 0 };
        double t0 = rh_now();

        ck_assert_msg(hpvm_virt_plug_nic(g->dom, xml, &err) == 1, "%s", err.msg);
        rh_timing(g->persistent ? "plug a NIC (hpvm_virt_plug_nic, live+config)" : "plug a NIC (hpvm_virt_plug_nic, live)", rh_now() - t0);
        free(g->nic_xml);
        g->nic_xml = NULL;
        ck_assert_msg(hpvm_virt_nic_xml(g->dom, g->mac, &g->nic_xml, &err) == 0, "%s", err.msg);
}

static void suite_setup(void)
{
        _cleanup_config_ HpvmConfig *c = NULL;
        HpvmError err = { 0 };
        ssize_t n;
        double t0;

        g_work = rh_env("HPVM_HOTPLUG_WORK");
        g_ctl = rh_env("HPVM_HOTPLUG_CTL");
        g_prefix = rh_env("HPVM_HOTPLUG_PREFIX");
        g_h2uri = rh_env("HPVM_HOST2_URI");
        g_h2name = rh_env("HPVM_HOST2_HOSTNAME");
        n = readlink("/proc/self/exe", g_self, sizeof(g_self) - 1);
        ck_assert_int_gt(n, 0);
        g_self[n] = '\0';

        ck_assert_int_eq(hpvm_config_new(&c), 0);
        ck_assert_msg(hpvm_virt_open(c, &g_src, &err) == 0, "%s", err.msg);
        free(c->libvirt_uri);
        c->libvirt_uri = strdup(g_h2uri);
        ck_assert_msg(hpvm_virt_open(c, &g_dst, &err) == 0, "%s", err.msg);

        /* Both booted guests at once: the boots overlap. */
        t0 = rh_now();
        boot(&g_a);
        boot(&g_b);
        boot(&g_n);
        ck_assert_msg(rh_wait_text(g_a.serial, "hpvm-guest-kit: ready", 0, 90) >= 0, "%s did not boot", g_a.name);
        ck_assert_msg(rh_wait_text(g_b.serial, "hpvm-guest-kit: ready", 0, 90) >= 0, "%s did not boot", g_b.name);
        rh_timing("boot two kit guests to the marker, side by side (TCG)", rh_now() - t0);
        add_nic(&g_a);
        add_nic(&g_b);
        add_nic(&g_n);
        ck_assert(rh_wait_text(g_a.serial, "pci-added", 0, 10) >= 0);
        ck_assert(rh_wait_text(g_b.serial, "pci-added", 0, 10) >= 0);
}

static void drop(Guest *g)
{
        virDomainPtr d;

        if (g->dom) {
                if (virDomainIsActive(g->dom) == 1)
                        virDomainDestroy(g->dom);
                if (virDomainIsPersistent(g->dom) == 1)
                        virDomainUndefine(g->dom);
                virDomainFree(g->dom);
                g->dom = NULL;
        }
        if (g_dst && g->name[0] && (d = virDomainLookupByName(g_dst, g->name))) {
                virDomainDestroy(d);
                virDomainFree(d);
        }
        free(g->nic_xml);
        g->nic_xml = NULL;
}

static void suite_teardown(void)
{
        drop(&g_a);
        drop(&g_b);
        drop(&g_n);
        if (g_src)
                virConnectClose(g_src);
        if (g_dst)
                virConnectClose(g_dst);
        g_src = g_dst = NULL;
}

/* ------------------------------------------------------------ the cases */

START_TEST(test_sasl)
{
        const char *uri = getenv("HPVM_SASL_URI");
        _cleanup_config_ HpvmConfig *c = NULL;
        _cleanup_free_ char *bad = NULL, *want = NULL;
        HpvmError err = { 0 };
        virConnectPtr conn = NULL;
        char *host;
        double t0;

        if (!uri || !*uri) {
                rh_fact("SKIP sasl: no HPVM_SASL_URI (saslpasswd2 missing?)");
                return;
        }
        ck_assert_int_eq(hpvm_config_new(&c), 0);
        free(c->libvirt_uri);
        c->libvirt_uri = strdup(uri);
        c->libvirt_user = strdup(rh_env("HPVM_SASL_USER"));
        c->libvirt_password_file = strdup(rh_env("HPVM_SASL_PWFILE"));
        t0 = rh_now();
        ck_assert_msg(hpvm_virt_open(c, &conn, &err) == 0, "%s", err.msg);
        rh_timing("SASL SCRAM-SHA-256 login to host 2 (hpvm_virt_open)", rh_now() - t0);
        host = virConnectGetHostname(conn);
        ck_assert_str_eq(host, g_h2name);
        rh_fact("SASL: logged in to %s as %s, hostname %s", uri, c->libvirt_user, host);
        free(host);
        virConnectClose(conn);

        /* A wrong password: refused by libvirtd's SASL, one line naming URI and user, libvirt's words after. */
        ck_assert_int_ge(asprintf(&bad, "%s/wrong-password", g_work), 0);
        th_write(bad, "not-the-password\n", 17, 0600);
        free(c->libvirt_password_file);
        c->libvirt_password_file = strdup(bad);
        ck_assert_int_eq(hpvm_virt_open(c, &conn, &err), -EACCES);
        ck_assert_int_ge(asprintf(&want, "cannot connect to libvirt at '%s' as '%s': authentication failed: ", uri,
                                  c->libvirt_user), 0);
        ck_assert_msg(!strncmp(err.msg, want, strlen(want)), "%s", err.msg);
        rh_fact("SASL, wrong password: %s", err.msg);
}
END_TEST

/* A booted guest lets its NIC go (event) and takes it back with the same MAC, alias and slot. */
START_TEST(test_unplug_replug)
{
        Guest *g = &g_a;
        HpvmVfNic nic = { .mac = "" };
        HpvmUnplugOutcome out[2] = { 0, 0 };
        HpvmError err = { 0 };
        _cleanup_free_ char *al = alias_attr(g);
        char slot[8], slot2[8];
        size_t removed0 = serial_count(g, "pci-removed"), added0 = serial_count(g, "pci-added");
        HpvmVfNic absent = { .mac = "52:54:00:4b:00:99", .alias = "ua-hp-gone" };
        HpvmVfNic both[2];
        double t0, d;
        int r;

        snprintf(nic.mac, sizeof(nic.mac), "%s", g->mac);
        snprintf(nic.alias, sizeof(nic.alias), "%s", g->alias);
        both[0] = nic;
        both[1] = absent;
        nic_slot(g->dom, g, slot, sizeof(slot));
        ck_assert_str_ne(slot, "");
        ck_assert_uint_eq(count_in(g->dom, VIR_DOMAIN_XML_INACTIVE, al), 1);

        t0 = rh_now();
        r = hpvm_virt_unplug_nics(g_src, g->dom, both, 2, UNPLUG_TIMEOUT, out, &err);
        d = rh_now() - t0;
        ck_assert_msg(r == 1, "%d: %s", r, err.msg);
        ck_assert_int_eq(out[0], HPVM_UNPLUG_REMOVED);
        ck_assert_int_eq(out[1], HPVM_UNPLUG_ABSENT);
        rh_timing("hpvm_virt_unplug_nics on a booted guest (detach -> removed)", d);
        ck_assert_msg(d < 2.0, "%.2f s: the event did not end the wait", d);
        ck_assert_uint_eq(count_in(g->dom, 0, al), 0);
        ck_assert_uint_eq(count_in(g->dom, VIR_DOMAIN_XML_INACTIVE, al), 0);
        ck_assert_msg(rh_wait_text(g->serial, "pci-removed", removed0, 5) >= 0, "the guest saw no removal");
        rh_fact("unplugged %s from %s in %.2f s; the guest says: pci-removed", g->alias, g->name, d);

        t0 = rh_now();
        ck_assert_msg(hpvm_virt_plug_nic(g->dom, g->nic_xml, &err) == 1, "%s", err.msg);
        rh_timing("hpvm_virt_plug_nic back (live+config)", rh_now() - t0);
        ck_assert_msg((d = rh_wait_text(g->serial, "pci-added", added0, 5)) >= 0, "the guest saw no new device");
        rh_timing("plug back -> the guest reports the PCI device", rh_now() - t0);
        nic_slot(g->dom, g, slot2, sizeof(slot2));
        ck_assert_str_eq(slot2, slot);
        ck_assert_uint_eq(count_in(g->dom, 0, al), 1);
        ck_assert_uint_eq(count_in(g->dom, 0, g->mac), 1);
        ck_assert_uint_eq(count_in(g->dom, VIR_DOMAIN_XML_INACTIVE, al), 1);
        /* Again: already there, nothing done, still one. */
        ck_assert_int_eq(hpvm_virt_plug_nic(g->dom, g->nic_xml, &err), 0);
        ck_assert_uint_eq(count_in(g->dom, 0, g->mac), 1);
        rh_fact("plugged %s back into %s: same MAC, alias and guest slot %s", g->alias, g->name, slot);
}
END_TEST

/* A guest with no OS never answers: the unplug gives up at its bound, the NIC still there, once. */
START_TEST(test_unplug_no_answer)
{
        Guest *g = &g_n;
        HpvmVfNic nic = { .mac = "" };
        HpvmError err = { 0 };
        _cleanup_free_ char *al = alias_attr(g), *want = NULL;
        double t0, d;
        int r;

        snprintf(nic.mac, sizeof(nic.mac), "%s", g->mac);
        snprintf(nic.alias, sizeof(nic.alias), "%s", g->alias);
        t0 = rh_now();
        r = hpvm_virt_unplug_nics(g_src, g->dom, &nic, 1, NOOS_TIMEOUT, NULL, &err);
        d = rh_now() - t0;
        ck_assert_int_eq(r, -ETIMEDOUT);
        ck_assert_int_ge(asprintf(&want, "the guest did not release VF NIC %s (alias %s) within %d s: it was plugged back; "
                                         "the migration is refused", g->mac, g->alias, NOOS_TIMEOUT), 0);
        ck_assert_str_eq(err.msg, want);
        ck_assert_msg(d >= NOOS_TIMEOUT && d < NOOS_TIMEOUT + 1.5, "gave up after %.2f s", d);
        rh_timing("hpvm_virt_unplug_nics on a guest that never answers (bound 3 s)", d);
        ck_assert_uint_eq(count_in(g->dom, 0, al), 1);
        ck_assert_uint_eq(count_in(g->dom, 0, g->mac), 1);
        rh_fact("no OS: %s after %.2f s", err.msg, d);
}
END_TEST

static int migrate(const Guest *g, double *ret_s, char *why, size_t size)
{
        virTypedParameterPtr params = NULL;
        int nparams = 0, maxparams = 0, r;
        double t0;

        ck_assert_int_eq(virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_URI, "tcp://127.0.0.1"), 0);
        t0 = rh_now();
        virResetLastError();
        /* Peer to peer, live: as vdsm migrates. */
        r = virDomainMigrateToURI3(g->dom, g_h2uri, params, (unsigned)nparams, VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER);
        *ret_s = rh_now() - t0;
        snprintf(why, size, "%s", r < 0 ? hpvm_virt_last_error("?") : "");
        virTypedParamsFree(params, nparams);
        return r;
}

/* Record + unplug as the source hook will, then start a watcher. */
static char *prepare_source(Guest *g, const char *label, unsigned start_timeout)
{
        HpvmVfNic nic = { .mac = "" };
        HpvmError err = { 0 };
        int r;

        snprintf(nic.mac, sizeof(nic.mac), "%s", g->mac);
        snprintf(nic.alias, sizeof(nic.alias), "%s", g->alias);
        ck_assert_msg(hpvm_vfmeta_record_nic(g->dom, g->nic_xml, "net-test", &err) == 0, "%s", err.msg);
        r = hpvm_virt_unplug_nics(g_src, g->dom, &nic, 1, UNPLUG_TIMEOUT, NULL, &err);
        ck_assert_msg(r == 1, "%d: %s", r, err.msg);
        return spawn_watcher(g, label, start_timeout);
}

/* The record travels with a live migration; the watcher sees the VM leave; host 2 plugs the NIC from the record. */
START_TEST(test_migrate_success)
{
        Guest *g = &g_a;
        _cleanup_free_ char *result = NULL, *said = NULL, *before = NULL, *there = NULL, *from_xml = NULL, *xml = NULL;
        _cleanup_free_ char *iface = NULL, *al = alias_attr(g);
        _cleanup_domain_ HpvmDomain *d = NULL;
        HpvmVfMeta m;
        HpvmError err = { 0 };
        virDomainPtr dd;
        size_t added0;
        char why[HPVM_ERR_MAX], slot[8], slot2[8];
        double mig, t0, done;

        nic_slot(g->dom, g, slot, sizeof(slot));
        result = prepare_source(g, "success", 30);
        before = record_text(g->dom);
        ck_assert_ptr_nonnull(strstr(before, g->mac));
        ck_assert_msg(migrate(g, &mig, why, sizeof(why)) == 0, "migration: %s", why);
        done = rh_now();
        rh_timing("live migration (p2p) of a booted guest to host 2", mig);
        rh_fact("migrated %s to host 2 in %.2f s", g->name, mig);

        said = watcher_result(result, 30);
        rh_timing("migration returned -> watcher's outcome written", rh_now() - done);
        ck_assert_msg(!strncmp(said, "outcome=migrated ", 17), "%s", said);
        ck_assert_ptr_nonnull(strstr(said, "shut off here after"));

        /* On host 2: the same record, through libvirt and in the domain XML. */
        dd = virDomainLookupByName(g_dst, g->name);
        ck_assert_msg(dd, "%s is not on host 2", g->name);
        there = record_text(dd);
        ck_assert_str_eq(there, before);
        xml = rh_xml(dd, 0);
        ck_assert_int_eq(hpvm_domain_parse(xml, strlen(xml), &d, &err), 0);
        ck_assert_msg(hpvm_vfmeta_read(d, &m, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(hpvm_vfmeta_format(&m, &from_xml, NULL, &err), 0);
        ck_assert_str_eq(from_xml, before);
        rh_fact("host 2 reads the record back: %zu NIC(s), %s network %s", m.n, m.recs[0].mac, m.recs[0].network);

        /* The destination's re-plug, from the record (a real hook would point it at a VF of host 2). */
        ck_assert_int_eq(hpvm_vfrecord_interface(&m.recs[0], NULL, &iface, NULL, &err), 0);
        added0 = serial_count(g, "pci-added");
        t0 = rh_now();
        ck_assert_msg(hpvm_virt_plug_nic(dd, iface, &err) == 1, "%s", err.msg);
        rh_timing("plug the recorded NIC on host 2", rh_now() - t0);
        ck_assert_msg(rh_wait_text(g->serial, "pci-added", added0, 5) >= 0, "the migrated guest saw no new device");
        nic_slot(dd, g, slot2, sizeof(slot2));
        ck_assert_str_eq(slot2, slot);
        ck_assert_uint_eq(count_in(dd, 0, al), 1);
        ck_assert_int_eq(hpvm_vfmeta_forget_nic(dd, g->mac, &err), 1);
        free(there);
        there = record_text(dd);
        ck_assert_str_eq(there, "<vfnics/>\n");
        rh_fact("host 2 plugged %s back from the record (slot %s) and dropped the record", g->alias, slot2);
        hpvm_vfmeta_clear(&m);
        virDomainFree(dd);
}
END_TEST

/* Wait for the guest's NIC to be back on the source after a failed migration; seconds, bounded. */
static double wait_nic_back(Guest *g, double limit)
{
        _cleanup_free_ char *al = alias_attr(g);
        double t0 = rh_now();

        while (count_in(g->dom, 0, al) == 0) {
                ck_assert_msg(rh_now() - t0 < limit, "%s: the NIC is not back after %.0f s", g->name, limit);
                rh_sleep(0.05);
        }
        return rh_now() - t0;
}

typedef struct Refusal {
        const char *at;                 /* the hook operation that refuses; NULL: no migration at all */
        unsigned start_timeout;
        const char *label;
        double delay;                   /* between the watcher's start and the migration */
        const char *outcome;            /* what the watcher must say; NULL: failed or not-started */
} Refusal;

static const Refusal refusals[] = {
        /* The destination fails late (after the memory copy): the watcher sees the job, then none. */
        { "started-begin", 30, "refused-started", 0, "failed" },
        /* At once (~0.02 s, between two polls): mostly seen as "never started" once migration_start_timeout passes;
         * a poll that happens to fall inside those 20 ms sees the job instead. Either way the NIC comes back. */
        { "migrate-begin", 4, "refused-begin", 0.7, NULL },
        /* vdsm fails before it migrates (e.g. the destination's prepare): no job ever. */
        { NULL, 4, "never-migrated", 0, "not-started" },
};

/* The migration fails, or never comes; the VM runs on here; the watcher plugs its NIC back with nobody acting. */
START_TEST(test_migrate_refused)
{
        const Refusal *t = &refusals[_i];
        Guest *g = &g_b;
        _cleanup_free_ char *result = NULL, *said = NULL, *ctl = NULL, *al = alias_attr(g), *label = NULL, *want = NULL;
        size_t added0 = serial_count(g, "pci-added");
        char why[HPVM_ERR_MAX], slot[8], slot2[8];
        double mig = 0, failed_at, back;
        int state = 0, reason = 0;

        nic_slot(g->dom, g, slot, sizeof(slot));
        result = prepare_source(g, t->label, t->start_timeout);
        ck_assert_uint_eq(count_in(g->dom, 0, al), 0);
        if (t->at) {
                ck_assert_int_ge(asprintf(&ctl, "%s/dst.refuse-%s", g_ctl, t->at), 0);
                th_write(ctl, "", 0, 0644);
                rh_sleep(t->delay);
                ck_assert_int_lt(migrate(g, &mig, why, sizeof(why)), 0);
                unlink(ctl);
                ck_assert_msg(strstr(why, "Hook script execution failed"), "%s", why);
                rh_fact("host 2 refused at %s after %.2f s; %s runs on here", t->at, mig, g->name);
        } else {
                rh_fact("no migration of %s at all", g->name);
        }
        failed_at = rh_now();
        ck_assert_int_eq(virDomainGetState(g->dom, &state, &reason, 0), 0);
        ck_assert_int_eq(state, VIR_DOMAIN_RUNNING);

        back = wait_nic_back(g, t->start_timeout + 15);
        if (t->at)
                ck_assert_int_ge(asprintf(&label, "migration refused at %s -> NIC back on the source", t->at), 0);
        else
                ck_assert_int_ge(asprintf(&label, "no migration (migration_start_timeout %u s) -> NIC back", t->start_timeout), 0);
        rh_timing(label, back);
        said = watcher_result(result, 15);
        if (t->outcome) {
                ck_assert_int_ge(asprintf(&want, "outcome=%s ", t->outcome), 0);
                ck_assert_msg(!strncmp(said, want, strlen(want)), "%s", said);
        } else {
                ck_assert_msg(!strncmp(said, "outcome=failed ", 15) || !strncmp(said, "outcome=not-started ", 20), "%s", said);
        }
        ck_assert_ptr_nonnull(strstr(said, "failure action done (1)"));
        nic_slot(g->dom, g, slot2, sizeof(slot2));
        ck_assert_str_eq(slot2, slot);
        ck_assert_uint_eq(count_in(g->dom, 0, g->mac), 1);
        ck_assert_msg(rh_wait_text(g->serial, "pci-added", added0, 5) >= 0, "the guest saw no new device");
        {
                _cleanup_free_ char *rec = record_text(g->dom);

                ck_assert_str_eq(rec, "<vfnics/>\n");
        }
        rh_fact("NIC %s back in %s %.2f s after the %s (slot %s), record dropped, guest saw it", g->alias, g->name,
             rh_now() - failed_at, t->at ? "refusal" : "watcher's start", slot2);
}
END_TEST

/* A transient VM migrates: it leaves this host; libvirt's stopped event wakes the watcher. */
START_TEST(test_migrate_transient)
{
        Guest *g = &g_b;
        _cleanup_free_ char *result = NULL, *said = NULL, *before = NULL, *there = NULL;
        virDomainPtr dd;
        char why[HPVM_ERR_MAX];
        double mig, done;

        result = prepare_source(g, "transient", 30);
        before = record_text(g->dom);
        ck_assert_msg(migrate(g, &mig, why, sizeof(why)) == 0, "migration: %s", why);
        done = rh_now();
        rh_timing("live migration (p2p) of a transient booted guest to host 2", mig);
        said = watcher_result(result, 30);
        rh_timing("migration returned -> watcher's outcome written (transient)", rh_now() - done);
        ck_assert_msg(!strncmp(said, "outcome=migrated ", 17), "%s", said);
        /* Woken by the stopped event, the watcher finds it shut off (migrated) or already gone. */
        ck_assert_msg(strstr(said, "(migrated); success action done (0)") ||
                      strstr(said, "(stopped event: migrated); success action done (0)"), "%s", said);
        ck_assert_int_eq(virDomainIsActive(g->dom), -1);        /* gone here */
        dd = virDomainLookupByName(g_dst, g->name);
        ck_assert_msg(dd, "%s is not on host 2", g->name);
        there = record_text(dd);
        ck_assert_str_eq(there, before);
        virDomainFree(dd);
        virDomainFree(g->dom);
        g->dom = NULL;
}
END_TEST

static Suite *real_suite(void)
{
        Suite *s = suite_create("hotplug-real");
        TCase *tc = tcase_create("real");

        tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
        tcase_set_timeout(tc, 150);
        tcase_add_test(tc, test_sasl);
        tcase_add_test(tc, test_unplug_replug);
        tcase_add_test(tc, test_unplug_no_answer);
        tcase_add_test(tc, test_migrate_success);
        tcase_add_loop_test(tc, test_migrate_refused, 0, (int)HPVM_ARRAY_SIZE(refusals));
        tcase_add_test(tc, test_migrate_transient);
        suite_add_tcase(s, tc);
        return s;
}

int main(int argc, char **argv)
{
        SRunner *sr;
        int failed;

        rh_init("test-hotplug-real", "tests/integration-hotplug.sh");
        if (argc == 5 && !strcmp(argv[1], "--watch"))
                return watch_main(argv[2], argv[3], argv[4]);
        sr = srunner_create(real_suite());
        srunner_set_fork_status(sr, CK_NOFORK);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
