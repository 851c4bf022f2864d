/* test-migrate-real.c: a real live migration of a pinned guest from the system libvirtd to host 2, re-fitted by the installed hooks; a migration the destination check refuses and one the libvirt hook refuses. */
/*
 * Run by tests/integration-migrate.sh, which starts the parts and passes:
 *   HPVM_MIGRATE_WORK    a 0755 folder for files and the source's ledger
 *   HPVM_MIGRATE_PREFIX  prefix of every guest name
 *   HPVM_MIGRATE_HOOKS   the installed vdsm hook folders (<dir>/<hook point>/50_hpvm)
 *   HPVM_MIGRATE_H2EXEC  runs its arguments inside host 2's namespaces
 *   HPVM_HOST2_URI, HPVM_HOST2_ETC, HPVM_HOST2_RUN (tests/libvirt-hosts.sh)
 * Run alone, sequentially: CK_FORK=no.
 *
 * The test plays vdsm: before_vm_start on the source, the destination check
 * in host 2's namespaces, `virsh migrate`, after_vm_migrate_destination on
 * host 2, after_vm_migrate_source on the source. This machine has CPUs 0-1
 * on node 0, so host 2 is described (its /etc/hpvm-hooks/hpvm.conf) as a
 * one-node host of 2 CPUs whose CPU 1 is kept for the host: a guest pinned to
 * CPU 1 on the source must arrive pinned to CPU 0, or QEMU could not start.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hostgen.h"
#include "sysfsgen.h"
#include "realhelp.h"
#include "testhelp.h"
#include "util.h"

#define SYS_URI "qemu:///system"
#define H2_CONF "/etc/hpvm-hooks/hpvm.conf"     /* inside host 2's namespaces */

static const char *g_work, *g_prefix, *g_hooks, *g_h2exec, *g_h2uri, *g_h2etc, *g_h2run;
static char g_srcconf_env[4300], g_srcledger[4300];
static virConnectPtr g_src, g_dst;

typedef struct Guest {
        const char *tag;
        char name[128], uuid[40];
        virDomainPtr dom;               /* on the source */
} Guest;

static Guest g_a = { .tag = "a" }, g_b = { .tag = "b" }, g_c = { .tag = "c" };

static void ignore_libvirt_errors(void *opaque, virErrorPtr e)
{
}

static char *file_text(const char *path)
{
        char *text = rh_slurp(path);

        return text ? text : strdup("");
}

static char *h2_ledger(void)
{
        char path[4200];

        snprintf(path, sizeof(path), "%s/cpus", g_h2run);
        return file_text(path);
}

/* Run an installed vdsm hook, on the source or inside host 2, as vdsm would: file + $vmId. */
static void run_hook(bool host2, const char *point, const char *xml, const Guest *g, const char *const *extra,
                     ThRun *r)
{
        char hook[4200], file[4200], env_file[4300], env_id[64];
        const char *argv[4] = { NULL };
        const char *envp[12] = { env_file, env_id, host2 ? "HPVM_CONFIG=" H2_CONF : g_srcconf_env };
        size_t n = 3;

        snprintf(hook, sizeof(hook), "%s/%s/50_hpvm", g_hooks, point);
        snprintf(file, sizeof(file), "%s/%s-%s.xml", g_work, point, g->tag);
        th_write(file, xml, strlen(xml), 0600);
        snprintf(env_file, sizeof(env_file), "_hook_domxml=%s", file);
        snprintf(env_id, sizeof(env_id), "vmId=%s", g->uuid);
        for (; extra && *extra; extra++)
                envp[n++] = *extra;
        if (host2) {
                argv[0] = g_h2exec;
                argv[1] = hook;
        } else {
                argv[0] = hook;
        }
        th_run(argv, envp, 60, r);
}

static char *read_back(const char *path)
{
        return file_text(path);
}

/* The guest as vdsm would start it here: before_vm_start pins vCPU 0 and the emulator to CPU 1. */
static void start_guest(Guest *g)
{
        static const char tmpl[] =
                "<domain type='qemu'>\n"
                "  <name>%s</name>\n"
                "  <uuid>%s</uuid>\n"
                "  <metadata>\n"
                "    <ovirt-vm:vm xmlns:ovirt-vm='http://ovirt.org/vm/1.0'>\n"
                "      <ovirt-vm:cpuPolicy>manual</ovirt-vm:cpuPolicy>\n"
                "    </ovirt-vm:vm>\n"
                "  </metadata>\n"
                "  <memory unit='MiB'>128</memory>\n"
                "  <currentMemory unit='MiB'>128</currentMemory>\n"
                "  <vcpu placement='static'>1</vcpu>\n"
                "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n    <boot dev='hd'/>\n  </os>\n"
                "  <features>\n    <acpi/>\n  </features>\n"
                "  <cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>qemu64</model>\n  </cpu>\n"
                "  <clock offset='utc'/>\n"
                "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n"
                "  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                "    <controller type='usb' model='none'/>\n    <memballoon model='none'/>\n  </devices>\n"
                "</domain>\n";
        const char *props[] = { "cputune=0#1", "emulatorpin=1", "numatune=strict#0", NULL };
        char xml[4096], file[4200];
        _cleanup_free_ char *uuid = file_text("/proc/sys/kernel/random/uuid"), *started = NULL;
        ThRun r;

        snprintf(g->name, sizeof(g->name), "%s-%s", g_prefix, g->tag);
        snprintf(g->uuid, sizeof(g->uuid), "%.36s", uuid);
        snprintf(xml, sizeof(xml), tmpl, g->name, g->uuid);
        run_hook(false, "before_vm_start", xml, g, props, &r);
        ck_assert_msg(r.status == 0, "before_vm_start: %s", r.err);
        th_run_clear(&r);
        snprintf(file, sizeof(file), "%s/before_vm_start-%s.xml", g_work, g->tag);
        started = read_back(file);
        ck_assert_ptr_nonnull(strstr(started, "<vcpupin vcpu=\"0\" cpuset=\"1\"/>"));
        g->dom = virDomainCreateXML(g_src, started, 0);
        ck_assert_msg(g->dom, "the source does not start %s: %s", g->name, virGetLastErrorMessage());
}

static bool running_on(virConnectPtr c, const char *name)
{
        virDomainPtr d = virDomainLookupByName(c, name);
        int state = -1, reason;

        if (!d)
                return false;
        if (virDomainGetState(d, &state, &reason, 0) < 0)
                state = -1;
        virDomainFree(d);
        return state == VIR_DOMAIN_RUNNING;
}

/* `virsh migrate --live` as the brief of this test and real-libvirt.md give it. */
static void virsh_migrate(const Guest *g, ThRun *r)
{
        const char *argv[] = { "/usr/bin/virsh", "-c", SYS_URI, "migrate", "--live", g->name, g_h2uri,
                               "--migrateuri", "tcp://127.0.0.1", NULL };

        th_run(argv, NULL, 90, r);
}

/* ------------------------------------------------------------ setup */

static void setup(void)
{
        char path[4200], text[8192], why[4200];
        HpvmUsage *u = NULL;
        HpvmHost *h;

        g_work = rh_env("HPVM_MIGRATE_WORK");
        g_prefix = rh_env("HPVM_MIGRATE_PREFIX");
        g_hooks = rh_env("HPVM_MIGRATE_HOOKS");
        g_h2exec = rh_env("HPVM_MIGRATE_H2EXEC");
        g_h2uri = rh_env("HPVM_HOST2_URI");
        g_h2etc = rh_env("HPVM_HOST2_ETC");
        g_h2run = rh_env("HPVM_HOST2_RUN");
        virSetErrorFunc(NULL, ignore_libvirt_errors);
        g_src = virConnectOpen(SYS_URI);
        g_dst = virConnectOpen(g_h2uri);
        ck_assert_msg(g_src && g_dst, "cannot connect: %s", virGetLastErrorMessage());

        /* The source: this machine as it is, its ledger in the work folder. */
        snprintf(path, sizeof(path), "%s/src-hpvm.conf", g_work);
        snprintf(text, sizeof(text), "state_dir=%s/src-state\n", g_work);
        th_write(path, text, strlen(text), 0644);
        snprintf(g_srcconf_env, sizeof(g_srcconf_env), "HPVM_CONFIG=%s", path);
        snprintf(g_srcledger, sizeof(g_srcledger), "%s/src-state/cpus", g_work);

        /* Host 2: one node of CPUs 0-1 (as this machine, or QEMU could not follow the pins), CPU 1 kept
         * for the host; its proc/ is the live one, so the ledger sees the guests QEMU runs. */
        h = th_host("1x2x1 mem=4G", &u);
        snprintf(path, sizeof(path), "%s/host2-tree", g_work);
        ck_assert_msg(th_sysfs_write(path, h, u, "/proc", why, sizeof(why)) == 0, "%s", why);
        hpvm_usage_free(u);
        hpvm_host_free(h);
        snprintf(text, sizeof(text), "# written by tests/test-migrate-real\nsysfs_root=%s\nreserved_cpus=1\n", path);
        snprintf(path, sizeof(path), "%s/hpvm.conf", g_h2etc);
        th_write(path, text, strlen(text), 0644);
}

static void teardown(void)
{
        Guest *gs[] = { &g_a, &g_b, &g_c };

        for (size_t i = 0; i < HPVM_ARRAY_SIZE(gs); i++)
                if (gs[i]->dom)
                        virDomainFree(gs[i]->dom);
        if (g_src)
                virConnectClose(g_src);
        if (g_dst)
                virConnectClose(g_dst);
}

/* ------------------------------------------------------------ the migration that fits */

START_TEST(test_migrate_refit)
{
        _cleanup_free_ char *srcxml = NULL, *live = NULL, *l2 = NULL, *l1 = NULL;
        unsigned char map = 0, emap = 0;
        virDomainPtr d2;
        virVcpuInfo info;
        double t;
        ThRun r;
        char want[1024];

        t = rh_now();
        start_guest(&g_a);
        rh_timing("source: before_vm_start + start the guest pinned to CPU 1", rh_now() - t);
        l1 = file_text(g_srcledger);
        ck_assert_ptr_nonnull(strstr(l1, g_a.uuid));
        free(l1);

        /* vdsm on host 2: the destination check, on the SOURCE's XML. */
        srcxml = virDomainGetXMLDesc(g_a.dom, 0);
        ck_assert_ptr_nonnull(srcxml);
        t = rh_now();
        run_hook(true, "before_vm_migrate_destination", srcxml, &g_a, NULL, &r);
        rh_timing("host 2: before_vm_migrate_destination (installed)", rh_now() - t);
        snprintf(want, sizeof(want), "hpvm: this host can run VM %s: reserved host CPUs 0 on node 0 until it arrives "
                 "(at most 600 s)\nhpvm: warning: vCPU 0 pinned by hand to host CPU 1 cannot keep its pin here (host "
                 "CPU 1: it is kept for the host): re-fitted to host CPU 0\n", g_a.name);
        ck_assert_msg(r.status == 0, "the destination check refuses: %s", r.err);
        ck_assert_str_eq(r.err, want);
        th_run_clear(&r);
        l2 = h2_ledger();
        ck_assert_msg(strstr(l2, "state=reserved") && strstr(l2, " cpus=0 "), "host 2's ledger: %s", l2);
        free(l2);

        /* The migration: host 2's libvirt hook re-fits the incoming XML at migrate begin. */
        t = rh_now();
        virsh_migrate(&g_a, &r);
        rh_timing("virsh migrate --live to host 2 (1 vCPU, 128 MiB)", rh_now() - t);
        ck_assert_msg(r.status == 0, "virsh migrate: %s", r.err);
        th_run_clear(&r);
        rh_fact("%s migrated to host 2", g_a.name);
        ck_assert(!running_on(g_src, g_a.name));
        ck_assert(running_on(g_dst, g_a.name));

        /* Read back through libvirt on host 2: libvirt's definition and the threads' real affinity. */
        d2 = virDomainLookupByName(g_dst, g_a.name);
        ck_assert_ptr_nonnull(d2);
        ck_assert_int_eq(virDomainGetVcpuPinInfo(d2, 1, &map, 1, VIR_DOMAIN_AFFECT_LIVE), 1);
        ck_assert_msg(map == 0x1, "vCPU 0 pinned to CPU map 0x%x on host 2, want CPU 0", map);
        ck_assert_int_eq(virDomainGetEmulatorPinInfo(d2, &emap, 1, VIR_DOMAIN_AFFECT_LIVE), 1);
        ck_assert_msg(emap == 0x1, "emulator pinned to CPU map 0x%x on host 2, want CPU 0", emap);
        map = 0;
        ck_assert_int_eq(virDomainGetVcpus(d2, &info, 1, &map, 1), 1);
        ck_assert_msg(map == 0x1, "vCPU 0 thread runs with affinity 0x%x on host 2, want CPU 0", map);
        rh_fact("host 2: vCPU 0 -> CPU 0 (libvirt's pin and the thread's affinity), emulator -> CPU 0");

        /* vdsm after the migration: on host 2 with its live XML, on the source with its own. */
        live = virDomainGetXMLDesc(d2, 0);
        ck_assert_ptr_nonnull(strstr(live, "<vcpupin vcpu='0' cpuset='0'/>"));
        run_hook(true, "after_vm_migrate_destination", live, &g_a, NULL, &r);
        ck_assert_msg(r.status == 0, "after_vm_migrate_destination: %s", r.err);
        ck_assert_str_eq(r.err, "");
        th_run_clear(&r);
        run_hook(false, "after_vm_migrate_source", srcxml, &g_a, NULL, &r);
        ck_assert_msg(r.status == 0, "after_vm_migrate_source: %s", r.err);
        th_run_clear(&r);

        /* Both ledgers: running on host 2 on CPU 0; gone from the source. */
        l2 = h2_ledger();
        snprintf(want, sizeof(want), "vm %s name=%s state=running since=", g_a.uuid, g_a.name);
        ck_assert_msg(strstr(l2, want) && strstr(l2, " cpus=0\n"), "host 2's ledger: %s", l2);
        l1 = file_text(g_srcledger);
        ck_assert_msg(!strstr(l1, g_a.uuid), "the source's ledger still holds %s: %s", g_a.name, l1);
        rh_fact("ledgers: host 2 holds CPU 0 for %s, the source nothing", g_a.name);
        virDomainFree(d2);
}
END_TEST

/* ------------------------------------------------------------ refusals */

START_TEST(test_check_refuses)
{
        _cleanup_free_ char *srcxml = NULL, *l2 = NULL;
        char want[512];
        ThRun r;

        start_guest(&g_b);
        srcxml = virDomainGetXMLDesc(g_b.dom, 0);
        run_hook(true, "before_vm_migrate_destination", srcxml, &g_b, NULL, &r);
        /* CPU 0 is the first guest's, CPU 1 is the host's. vdsm aborts the migration on exit 2. */
        snprintf(want, sizeof(want), "hpvm: this host cannot run VM %s: the host has 0 free CPUs (after 1 reserved and "
                 "1 held by other VMs), the VM needs 1\n", g_b.name);
        ck_assert_int_eq(r.status, 2);
        ck_assert_str_eq(r.err, want);
        th_run_clear(&r);
        ck_assert(running_on(g_src, g_b.name));
        ck_assert(!running_on(g_dst, g_b.name));
        l2 = h2_ledger();
        ck_assert_ptr_null(strstr(l2, g_b.uuid));
        rh_fact("the destination check refused %s; it runs on the source", g_b.name);
}
END_TEST

START_TEST(test_libvirt_hook_refuses)
{
        _cleanup_free_ char *l2 = NULL, *l1 = NULL;
        char want[512];
        double t;
        ThRun r;

        /* No destination check at all (no reservation): libvirt's own hook refuses at migrate begin. */
        start_guest(&g_c);
        t = rh_now();
        virsh_migrate(&g_c, &r);
        rh_timing("virsh migrate refused by host 2's libvirt hook", rh_now() - t);
        ck_assert_int_ne(r.status, 0);
        snprintf(want, sizeof(want), "hpvm: this host cannot run VM %s: the host has 0 free CPUs (after 1 reserved and "
                 "1 held by other VMs), the VM needs 1", g_c.name);
        ck_assert_msg(strstr(r.err, want), "virsh says: %s", r.err);
        ck_assert_msg(th_lines(r.err) <= 2, "virsh says more: %s", r.err);
        rh_fact("virsh: %.*s", (int)strcspn(r.err, "\n"), r.err);
        th_run_clear(&r);
        ck_assert(running_on(g_src, g_c.name));
        ck_assert(!running_on(g_dst, g_c.name));
        l2 = h2_ledger();
        ck_assert_ptr_null(strstr(l2, g_c.uuid));
        /* The source still holds what the two refused guests run on. */
        l1 = file_text(g_srcledger);
        ck_assert(strstr(l1, g_b.uuid) && strstr(l1, g_c.uuid));
}
END_TEST

static Suite *real_suite(void)
{
        Suite *s = suite_create("migrate-real");
        TCase *tc = tcase_create("two hosts");

        tcase_add_unchecked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_migrate_refit);
        tcase_add_test(tc, test_check_refuses);
        tcase_add_test(tc, test_libvirt_hook_refuses);
        tcase_set_timeout(tc, 120);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(real_suite());
        int failed;

        rh_init("test-migrate-real", "tests/integration-migrate.sh");
        srunner_set_fork_status(sr, CK_NOFORK);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
