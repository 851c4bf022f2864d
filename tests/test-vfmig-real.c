/* test-vfmig-real.c: the VF migration hooks on real parts: before_migration_source unplugging a booted guest's NIC, the destination's reservation inside host 2, a real live migration, the re-plug on host 2, the watcher's recovery of a refused migration, a guest that never answers, and libvirtd defining a re-pointed failover domain. */
/*
 * Run by tests/integration-vfmig.sh, which starts the parts (the system
 * libvirtd, host 2 with tests/data/integration/logging-hook.in as its qemu
 * hook, the guest kit) and passes them in the environment:
 *   HPVM_VFMIG_WORK      a 0755 folder (serial logs, hook inputs, fake sysfs trees, the source's state)
 *   HPVM_VFMIG_CTL       the control folder of host 2's logging hook (dst.refuse-<op>-<sub> files)
 *   HPVM_VFMIG_PREFIX    prefix of every guest name
 *   HPVM_HOST2_URI, HPVM_HOST2_ETC, HPVM_HOST2_RUN, HPVM_HOST2_NS_PID, HPVM_GUEST_KERNEL, HPVM_GUEST_INITRD
 * Run alone, sequentially: CK_FORK=no.
 *
 * A VF cannot exist here, so a virtio NIC (<interface type='user'>, model
 * virtio) of each guest stands in for it. The hook is handed the guest's
 * live XML with that one element written as the VF NIC vdsm would show
 * (<interface type='hostdev'> with a VF of the source's fake sysfs tree,
 * VLAN 100, the same MAC, alias and guest PCI address); every libvirt call
 * then goes to the real NIC: the hook finds it by MAC, records the element
 * libvirt returns, detaches it by alias and waits for DEVICE_REMOVED (QEMU's
 * device_del, the guest's ACPI eject); the watcher and the destination plug
 * it back with virDomainAttachDeviceFlags. That is the path a VF NIC takes;
 * what differs is the host side of the device (vfio-pci binding of a VF),
 * which is libvirt's business. The VF inventories of source and host 2 are
 * fake sysfs trees named by each side's hpvm.conf (sysfs_root), and each
 * side keeps its own VF ledger (host 2's in its private /run/hpvm-hooks).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "domxml.h"
#include "hotplug.h"
#include "sriovtree.h"
#include "realhelp.h"
#include "testhelp.h"
#include "vfledger.h"
#include "vfmeta.h"
#include "vfmigrate.h"
#include "virtconn.h"

#define SYS_URI "qemu:///system"
#define UNPLUG_TIMEOUT 20       /* booted guests answer in ~0.1 s */
#define NOOS_TIMEOUT 3          /* the guest that never answers: the bound that must hold */
#define START_TIMEOUT 4         /* migration_start_timeout of the source's watcher */
#define VF_SRC "0000:3b:02.1"   /* the VF the stand-in NIC "has" on the source */

static const char *g_work, *g_ctl, *g_prefix, *g_h2uri, *g_h2etc, *g_h2run, *g_h2pid;
static char *g_src_conf, *g_dst_conf_outside, *g_src_root, *g_dst_root, *g_nsenter;
static virConnectPtr g_src, g_dst;

typedef struct Guest {
        const char *tag;
        bool booted;
        const char *mac, *alias, *uuid;
        bool profile_prop;              /* sriov_migratable=true on its vNIC profile, else the VM property */
        char name[128], serial[512];
        virDomainPtr dom;
        char slot[8];                   /* the NIC's guest PCI slot after the first plug */
} Guest;

static Guest g_a = { .tag = "a", .booted = true, .mac = "52:54:00:4c:00:01", .alias = "ua-vfmig-a",
                     .uuid = "7a0c3e51-2d4b-4c6a-9e8f-10a2b3c4d5e1", .profile_prop = true };
static Guest g_b = { .tag = "b", .booted = true, .mac = "52:54:00:4c:00:02", .alias = "ua-vfmig-b",
                     .uuid = "7a0c3e51-2d4b-4c6a-9e8f-10a2b3c4d5e2", .profile_prop = false };
static Guest g_n = { .tag = "n", .booted = false, .mac = "52:54:00:4c:00:03", .alias = "ua-vfmig-n",
                     .uuid = "7a0c3e51-2d4b-4c6a-9e8f-10a2b3c4d5e3", .profile_prop = true };

static size_t serial_count(const Guest *g, const char *text)
{
        _cleanup_free_ char *s = rh_slurp(g->serial);

        return rh_count(s, text);
}

static size_t count_in(virDomainPtr dom, const char *text)
{
        _cleanup_free_ char *xml = rh_xml(dom, 0);

        return rh_count(xml, text);
}

static char *alias_attr(const Guest *g)
{
        char *s;

        ck_assert_int_ge(asprintf(&s, "<alias name='%s'/>", g->alias), 0);
        return s;
}

/* The guest PCI slot of the NIC in @dom's live XML ("0x03"), or "". */
static void nic_slot(virDomainPtr dom, const Guest *g, char *buf, size_t size)
{
        _cleanup_free_ char *xml = rh_xml(dom, 0), *al = alias_attr(g);
        const char *p = strstr(xml, al), *slot;

        buf[0] = '\0';
        if (p && (slot = strstr(p, "slot='")))
                snprintf(buf, size, "%.4s", slot + 6);
}

static size_t record_count(virDomainPtr dom)
{
        HpvmVfMeta m;
        HpvmError err = { 0 };
        size_t n;

        ck_assert_msg(hpvm_vfmeta_get(dom, &m, &err) == 0, "%s", err.msg);
        n = m.n;
        hpvm_vfmeta_clear(&m);
        return n;
}

/* A ledger as "<addr> <state> <vm> <mac> <network>" lines; @state_dir seen from here. */
static char *ledger(const char *state_dir)
{
        _cleanup_config_ HpvmConfig *c = NULL;
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        HpvmError err = { 0 };
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        ck_assert_int_eq(hpvm_config_new(&c), 0);
        free(c->state_dir);
        c->state_dir = strdup(state_dir);
        ck_assert_msg(hpvm_vfledger_open(c, &l, &err) == 0, "%s", err.msg);
        f = open_memstream(&buf, &size);
        for (size_t i = 0; i < hpvm_vfledger_count(l); i++) {
                HpvmVfEntry e;
                char a[HPVM_PCI_ADDR_STRLEN], m[HPVM_MAC_STRLEN] = "-";

                ck_assert_int_eq(hpvm_vfledger_at(l, i, &e, &err), 0);
                if (e.has_mac)
                        hpvm_mac_format(&e.mac, m, sizeof(m));
                fprintf(f, "%s %s %s %s %s\n", hpvm_pci_addr_format(&e.addr, a, sizeof(a)),
                        e.reserved ? "reserved" : "in-use", e.vm, m, e.network[0] ? e.network : "-");
        }
        fclose(f);
        return buf;
}

static char *src_state(void)
{
        char *s;

        ck_assert_int_ge(asprintf(&s, "%s/src/state", g_work), 0);
        return s;
}

static void assert_ledgers(const char *src_want, const char *dst_want, const char *step)
{
        _cleanup_free_ char *st = src_state(), *src = ledger(st), *dst = ledger(g_h2run);

        ck_assert_msg(!strcmp(src, src_want), "%s: source ledger\n%s\nexpected\n%s", step, src, src_want);
        ck_assert_msg(!strcmp(dst, dst_want), "%s: host 2 ledger\n%s\nexpected\n%s", step, dst, dst_want);
        rh_fact("%s: ledgers right (source: %zu record(s), host 2: %zu)", step, th_lines(src), th_lines(dst));
}

static char *line_of(const Guest *g, const char *state, const char *addr)
{
        char *s;

        ck_assert_int_ge(asprintf(&s, "%s %s %s %s sriov-a\n", addr, state, g->uuid, g->mac), 0);
        return s;
}

/* ------------------------------------------------------------ the two hosts' VF inventories and configurations */

static void build_tree(const char *root)
{
        th_mkdirs(root);
        th_sriov_other_netdevs(root);
        th_sriov_pf(root, "ens1f0", "0000:3b:00.0", 8, 4, 0);
        th_sriov_pf(root, "ens2f0", "0000:af:00.0", 8, 4, 1);
        for (unsigned v = 0; v < 4; v++) {
                char addr[16], netdev[16];

                snprintf(addr, sizeof(addr), "0000:3b:02.%u", v);
                snprintf(netdev, sizeof(netdev), "ens1f0v%u", v);
                th_sriov_vf(root, "0000:3b:00.0", v, addr, 0, "iavf", netdev);
                snprintf(addr, sizeof(addr), "0000:af:02.%u", v);
                snprintf(netdev, sizeof(netdev), "ens2f0v%u", v);
                th_sriov_vf(root, "0000:af:00.0", v, addr, 1, "iavf", netdev);
        }
}

static void write_conf(const char *path, const char *state, const char *root, unsigned unplug_timeout)
{
        char *text;

        ck_assert_int_ge(asprintf(&text, "# written by test-vfmig-real\nstate_dir=%s\nsysfs_root=%s\n"
                                         "sriov_pfs.sriov-a=ens1f0,ens2f0\nunplug_timeout=%u\n"
                                         "migration_start_timeout=%u\nwatch_timeout=60\nlibvirt_uri=" SYS_URI "\n",
                                  state, root, unplug_timeout, START_TIMEOUT), 0);
        th_write(path, text, strlen(text), 0644);
        free(text);
}

/* Record on the source that @g holds its VF (the VM runs with it). */
static void hold_source_vf(const Guest *g)
{
        _cleanup_config_ HpvmConfig *c = NULL;
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        HpvmError err = { 0 };
        HpvmPciAddr a;
        HpvmMac m;

        ck_assert_int_eq(hpvm_config_load(g_src_conf, true, &c, &err), 0);
        ck_assert_int_eq(hpvm_pci_addr_parse(VF_SRC, strlen(VF_SRC), &a), 0);
        ck_assert_int_eq(hpvm_mac_parse(g->mac, strlen(g->mac), &m), 0);
        ck_assert_int_eq(hpvm_vfledger_open(c, &l, &err), 0);
        ck_assert_int_ge(hpvm_vfledger_mark_in_use(l, g->uuid, &a, &m, "sriov-a", time(NULL), NULL, &err), 0);
        ck_assert_int_eq(hpvm_vfledger_commit(l, &err), 0);
}

/* ------------------------------------------------------------ the guests */

static char *metadata(const Guest *g)
{
        char *s;

        ck_assert_int_ge(asprintf(&s, "</name>\n  <uuid>%s</uuid>\n  <metadata>\n    <ovirt-vm:vm "
                                      "xmlns:ovirt-vm=\"http://ovirt.org/vm/1.0\">\n      <ovirt-vm:device mac_address=\"%s\">\n"
                                      "        <ovirt-vm:network>sriov-a</ovirt-vm:network>\n        <ovirt-vm:custom>%s"
                                      "</ovirt-vm:custom>\n      </ovirt-vm:device>\n    </ovirt-vm:vm>\n  </metadata>",
                                  g->uuid, g->mac,
                                  g->profile_prop ? "<ovirt-vm:sriov_migratable>true</ovirt-vm:sriov_migratable>" : ""), 0);
        return s;
}

static void boot(Guest *g)
{
        _cleanup_free_ char *tpl = NULL, *a = NULL, *b = NULL, *c = NULL, *d = NULL, *xml = NULL, *tpath = NULL;
        _cleanup_free_ char *md = metadata(g);
        size_t len;

        snprintf(g->name, sizeof(g->name), "%s-%s", g_prefix, g->tag);
        snprintf(g->serial, sizeof(g->serial), "%s/%s.serial", g_work, g->name);
        tpath = th_src(g->booted ? "tests/data/integration/booted-guest.xml" : "tests/data/integration/migrate-guest.xml");
        tpl = th_slurp(tpath, &len);
        a = rh_replace(tpl, "@NAME@", g->name);
        b = rh_replace(a, "@KERNEL@", g->booted ? rh_env("HPVM_GUEST_KERNEL") : "");
        c = rh_replace(b, "@INITRD@", g->booted ? rh_env("HPVM_GUEST_INITRD") : "");
        d = rh_replace(c, "@SERIAL@", g->serial);
        xml = rh_replace(d, "</name>", md);
        /* Transient, as vdsm runs its VMs. */
        g->dom = virDomainCreateXML(g_src, xml, 0);
        ck_assert_msg(g->dom, "start %s: %s", g->name, hpvm_virt_last_error("?"));
}

static void add_nic(Guest *g)
{
        _cleanup_free_ char *xml = NULL;
        HpvmError err = { 0 };

        ck_assert_int_ge(asprintf(&xml, "<interface type='user'><mac address='%s'/><model type='virtio'/><alias name='%s'/>"
                                        "</interface>", g->mac, g->alias), 0);
        ck_assert_msg(hpvm_virt_plug_nic(g->dom, xml, &err) == 1, "%s", err.msg);
        nic_slot(g->dom, g, g->slot, sizeof(g->slot));
        ck_assert_str_ne(g->slot, "");
}

/*
 * The guest's live XML as vdsm would hand it to before_vm_migrate_source
 * had the NIC been a VF: the stand-in's element rewritten as a VF NIC of
 * the source (VF_SRC, VLAN 100), with its MAC, alias and guest address.
 */
static char *as_vf_nic(const Guest *g)
{
        _cleanup_free_ char *live = rh_xml(g->dom, 0), *al = alias_attr(g), *mac = NULL, *addr = NULL;
        const char *start, *end, *a, *a_end;
        char *out;

        ck_assert_int_ge(asprintf(&mac, "<mac address='%s'/>", g->mac), 0);
        start = strstr(live, mac);
        ck_assert_ptr_nonnull(start);
        while (start > live && strncmp(start, "<interface ", 11))
                start--;
        end = strstr(start, "</interface>");
        ck_assert_ptr_nonnull(end);
        end += strlen("</interface>");
        ck_assert_ptr_nonnull(strstr(start, al));
        a = strstr(start, "<address type='pci'");
        ck_assert_msg(a && a < end, "no guest PCI address");
        a_end = strstr(a, "/>") + 2;
        ck_assert_int_ge(asprintf(&addr, "%.*s", (int)(a_end - a), a), 0);
        ck_assert_int_ge(asprintf(&out, "%.*s<interface type='hostdev' managed='yes'>\n      <mac address='%s'/>\n"
                                        "      <driver name='vfio'/>\n      <source>\n        <address type='pci' "
                                        "domain='0x0000' bus='0x3b' slot='0x02' function='0x1'/>\n      </source>\n"
                                        "      <vlan>\n        <tag id='100'/>\n      </vlan>\n      <alias name='%s'/>\n"
                                        "      %s\n    </interface>%s",
                                  (int)(start - live), live, g->mac, g->alias, addr, end), 0);
        return out;
}

static char *bin(const char *rel)
{
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", th_builddir(), rel), 0);
        return p;
}

static char *kv(const char *k, const char *v)
{
        char *s;

        ck_assert_int_ge(asprintf(&s, "%s=%s", k, v), 0);
        return s;
}

static char *result_path(const Guest *g, const char *label)
{
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/watch-%s-%s.result", g_work, g->tag, label), 0);
        return p;
}

/*
 * Run hooks/before_migration_source on @g as vdsm does (the VM's id, its
 * custom property, the live XML in a file). That file is also what vdsm
 * sends the destination (built before this hook runs): *ret_file (NULL
 * allowed) names it.
 */
static void source_hook(const Guest *g, const char *conf, const char *result, ThRun *run, char **ret_file)
{
        _cleanup_free_ char *hook = bin("hooks/before_migration_source"), *watch = bin("hooks/hpvm-watch");
        _cleanup_free_ char *xml = as_vf_nic(g), *file = NULL, *e_dom = NULL, *e_cfg = kv("HPVM_CONFIG", conf);
        _cleanup_free_ char *e_vm = kv("vmId", g->uuid), *e_w = kv("HPVM_WATCH_PROGRAM", watch);
        _cleanup_free_ char *e_res = kv("HPVM_WATCH_RESULT", result), *e_prop = kv("sriov_migratable", g->mac);
        const char *envp[7] = { NULL };
        const char *const argv[] = { hook, NULL };
        size_t n = 0;

        ck_assert_int_ge(asprintf(&file, "%s/%s-hook.xml", g_work, g->tag), 0);
        th_write(file, xml, strlen(xml), 0600);
        envp[n++] = e_dom = kv("_hook_domxml", file);
        envp[n++] = e_cfg;
        envp[n++] = e_vm;
        envp[n++] = e_w;
        envp[n++] = e_res;
        if (!g->profile_prop)
                envp[n++] = e_prop;
        th_run(argv, envp, 120, run);
        if (ret_file)
                *ret_file = strdup(file);
}

/*
 * Run a destination hook inside host 2 (its /etc/hpvm-hooks, /run/hpvm-hooks, libvirtd) as vdsm runs it there:
 * "reserve" before_vm_migrate_destination on @file (the source's XML), "arrived" after_vm_migrate_destination
 * on @file (the live XML there), "release" after_vm_destroy (by $vmId, the empty file vdsm hands it).
 */
static void in_host2(const Guest *g, const char *cmd, const char *file, ThRun *run)
{
        const char *name = !strcmp(cmd, "reserve") ? "hooks/before_migration_destination" :
                           !strcmp(cmd, "arrived") ? "hooks/after_migration_destination" : "hooks/after_vm_destroy";
        _cleanup_free_ char *hook = bin(name), *target = kv("--target", g_h2pid), *empty = NULL;
        _cleanup_free_ char *e_vm = kv("vmId", g->uuid), *e_dom = NULL;
        const char *const argv[] = { g_nsenter, target, "--mount", "--uts", "--wd=/", "--", hook, NULL };

        if (!file) {
                ck_assert_int_ge(asprintf(&empty, "%s/%s-destroy.xml", g_work, g->tag), 0);
                th_write(empty, "", 0, 0644);
                file = empty;
        }
        e_dom = kv("_hook_domxml", file);
        const char *const envp[] = { "HPVM_CONFIG=/etc/hpvm-hooks/hpvm.conf", e_vm, e_dom, NULL };

        th_run(argv, envp, 60, run);
}

/* Whether the watcher wrote its start line within 5 s (it runs once the hook returns; its line may come later). */
static bool watch_started(const char *result)
{
        double t0 = rh_now();

        while (rh_now() - t0 < 5) {
                _cleanup_free_ char *text = rh_slurp(result);

                if (text && !strncmp(text, "start pid=", 10))
                        return true;
                rh_sleep(0.02);
        }
        return false;
}

/* The watcher's end line, waited for (bounded). */
static char *watch_end(const char *result, double limit)
{
        double t0 = rh_now();

        for (;;) {
                char *text = rh_slurp(result);

                if (text && strstr(text, "\nend pid=")) {
                        const char *end = strstr(text, "\nend pid=") + 1;

                        rh_fact("watcher said: %.*s", (int)strcspn(end, "\n"), end);
                        return text;
                }
                free(text);
                ck_assert_msg(rh_now() - t0 < limit, "no watcher end line in %s after %.0f s", result, limit);
                rh_sleep(0.05);
        }
}

static int migrate(const Guest *g, double *ret_s, char **ret_err)
{
        _cleanup_free_ char *virsh = strdup("/usr/bin/virsh");
        const char *const argv[] = { virsh, "-q", "-c", SYS_URI, "migrate", "--live", "--p2p", g->name, g_h2uri,
                                     "--migrateuri", "tcp://127.0.0.1", NULL };
        ThRun run;
        int status;

        th_run(argv, NULL, 120, &run);
        *ret_s = run.seconds;
        *ret_err = strdup(run.err);
        status = run.status;
        th_run_clear(&run);
        return status;
}

/* ------------------------------------------------------------ fixtures */

static void suite_setup(void)
{
        _cleanup_config_ HpvmConfig *c = NULL;
        _cleanup_free_ char *st = NULL;
        HpvmError err = { 0 };
        double t0;

        g_work = rh_env("HPVM_VFMIG_WORK");
        g_ctl = rh_env("HPVM_VFMIG_CTL");
        g_prefix = rh_env("HPVM_VFMIG_PREFIX");
        g_h2uri = rh_env("HPVM_HOST2_URI");
        g_h2etc = rh_env("HPVM_HOST2_ETC");
        g_h2run = rh_env("HPVM_HOST2_RUN");
        g_h2pid = rh_env("HPVM_HOST2_NS_PID");
        g_nsenter = strdup(access("/usr/bin/nsenter", X_OK) == 0 ? "/usr/bin/nsenter" : "/bin/nsenter");

        /* Each side: its fake SR-IOV cards, its hpvm.conf, its own VF ledger. */
        ck_assert_int_ge(asprintf(&g_src_root, "%s/src/root", g_work), 0);
        ck_assert_int_ge(asprintf(&g_dst_root, "%s/dst/root", g_work), 0);
        ck_assert_int_ge(asprintf(&g_src_conf, "%s/src/hpvm.conf", g_work), 0);
        ck_assert_int_ge(asprintf(&g_dst_conf_outside, "%s/hpvm.conf", g_h2etc), 0);
        build_tree(g_src_root);
        build_tree(g_dst_root);
        st = src_state();
        write_conf(g_src_conf, st, g_src_root, UNPLUG_TIMEOUT);
        write_conf(g_dst_conf_outside, "/run/hpvm-hooks", g_dst_root, UNPLUG_TIMEOUT);

        ck_assert_int_eq(hpvm_config_new(&c), 0);
        ck_assert_msg(hpvm_virt_open(c, &g_src, &err) == 0, "%s", err.msg);
        free(c->libvirt_uri);
        c->libvirt_uri = strdup(g_h2uri);
        ck_assert_msg(hpvm_virt_open(c, &g_dst, &err) == 0, "%s", err.msg);

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
        hold_source_vf(&g_a);
        rh_fact("guests %s, %s (booted) and %s (no OS) run with their stand-in NICs", g_a.name, g_b.name, g_n.name);
}

static void drop(Guest *g)
{
        virDomainPtr d;

        if (g->dom) {
                if (virDomainIsActive(g->dom) == 1)
                        virDomainDestroy(g->dom);
                virDomainFree(g->dom);
                g->dom = NULL;
        }
        if (g_dst && g->name[0] && (d = virDomainLookupByName(g_dst, g->name))) {
                virDomainDestroy(d);
                virDomainFree(d);
        }
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
        free(g_src_conf);
        free(g_dst_conf_outside);
        free(g_src_root);
        free(g_dst_root);
        free(g_nsenter);
}

/* ------------------------------------------------------------ the cases */

/* Unplug on the source, reserve on host 2, a real live migration, the NIC back in the guest on host 2. */
START_TEST(test_migrate)
{
        Guest *g = &g_a;
        _cleanup_free_ char *result = result_path(g, "success"), *said = NULL, *why = NULL;
        _cleanup_free_ char *live2 = NULL, *file2 = NULL, *al = alias_attr(g), *held = line_of(g, "in-use", VF_SRC);
        _cleanup_free_ char *reserved = line_of(g, "reserved", VF_SRC), *used = NULL, *mac = NULL;
        size_t removed0 = serial_count(g, "pci-removed"), added0;
        virDomainPtr dd;
        char slot2[8];
        double t0, mig, done, d;
        ThRun run;

        /* 1. before_vm_migrate_source: unplugged (the guest says so), recorded, watcher started; no ledger change. */
        t0 = rh_now();
        source_hook(g, g_src_conf, result, &run, &file2);
        d = rh_now() - t0;
        ck_assert_msg(run.status == 0, "before_migration_source: exit %d: %s", run.status, run.err);
        ck_assert_str_eq(run.err, "");
        th_run_clear(&run);
        rh_timing("before_migration_source on a booted guest: unplug, record, watcher", d);
        ck_assert_uint_eq(count_in(g->dom, al), 0);
        ck_assert_msg(rh_wait_text(g->serial, "pci-removed", removed0, 5) >= 0, "the guest saw no removal");
        ck_assert_uint_eq(record_count(g->dom), 1);
        ck_assert_msg(watch_started(result), "no watcher started");
        assert_ledgers(held, "", "source hook");
        rh_fact("source hook: %s unplugged from %s in %.2f s, recorded, watcher running", g->alias, g->name, d);

        /* 2. before_vm_migrate_destination inside host 2, on the source's XML; vdsm bound the source's VF there. */
        th_sriov_bind(g_dst_root, VF_SRC, "vfio-pci");
        t0 = rh_now();
        in_host2(g, "reserve", file2, &run);
        ck_assert_msg(run.status == 0, "reserve: exit %d: %s", run.status, run.err);
        th_run_clear(&run);
        rh_timing("destination check in host 2 (reserve 1 VF, process + nsenter)", rh_now() - t0);
        assert_ledgers(held, reserved, "destination check");

        /* 3. The migration, for real. */
        ck_assert_msg(migrate(g, &mig, &why) == 0, "virsh migrate: %s", why);
        done = rh_now();
        rh_timing("virsh migrate --live --p2p of the booted guest to host 2", mig);
        said = watch_end(result, 30);
        rh_timing("migration done -> watcher's outcome", rh_now() - done);
        ck_assert_msg(strstr(said, " outcome=migrated "), "%s", said);
        ck_assert_msg(strstr(said, "released 1 VF(s)") || strstr(said, "success action done (1)"), "%s", said);
        assert_ledgers("", reserved, "migrated (watcher released the source's VF)");

        /* 4. after_vm_migrate_destination inside host 2 on the live XML there: the NIC plugged back, the VF in use. */
        dd = virDomainLookupByName(g_dst, g->name);
        ck_assert_msg(dd, "%s is not on host 2", g->name);
        ck_assert_uint_eq(record_count(dd), 1);
        ck_assert_uint_eq(count_in(dd, al), 0);
        live2 = rh_xml(dd, 0);
        free(file2);
        ck_assert_int_ge(asprintf(&file2, "%s/a-arrived.xml", g_work), 0);
        th_write(file2, live2, strlen(live2), 0644);
        added0 = serial_count(g, "pci-added");
        t0 = rh_now();
        in_host2(g, "arrived", file2, &run);
        ck_assert_msg(run.status == 0, "arrived: exit %d: %s", run.status, run.err);
        ck_assert_str_eq(run.err, "hpvm: plugged 1 VF NIC back into the VM on this host\n");
        th_run_clear(&run);
        rh_timing("after destination in host 2: re-plug from the record", rh_now() - t0);
        ck_assert_msg(rh_wait_text(g->serial, "pci-added", added0, 5) >= 0, "the guest on host 2 saw no new device");
        /* Read back through host 2's libvirt: the same MAC, alias and guest slot, once; no record left. */
        ck_assert_uint_eq(count_in(dd, al), 1);
        ck_assert_int_ge(asprintf(&mac, "<mac address='%s'/>", g->mac), 0);
        ck_assert_uint_eq(count_in(dd, mac), 1);
        nic_slot(dd, g, slot2, sizeof(slot2));
        ck_assert_str_eq(slot2, g->slot);
        ck_assert_uint_eq(record_count(dd), 0);
        used = line_of(g, "in-use", VF_SRC);
        assert_ledgers("", used, "after destination");
        rh_fact("host 2: %s back in %s with MAC %s, slot %s; record dropped", g->alias, g->name, g->mac, slot2);

        /* 5. after_vm_migrate_source's own release on the source: nothing left to drop. */
        {
                /* vdsm hands it the VM's XML from before the migration (the source hook's file). */
                _cleanup_free_ char *src_file = NULL;
                ck_assert_int_ge(asprintf(&src_file, "%s/%s-hook.xml", g_work, g->tag), 0);
                _cleanup_free_ char *hook = bin("hooks/after_migration_source"), *e_cfg = kv("HPVM_CONFIG", g_src_conf);
                _cleanup_free_ char *e_vm = kv("vmId", g->uuid), *e_dom = kv("_hook_domxml", src_file);
                const char *const argv[] = { hook, NULL };
                const char *const envp[] = { e_cfg, e_vm, e_dom, NULL };

                th_run(argv, envp, 30, &run);
                ck_assert_msg(run.status == 0, "%s", run.err);
                th_run_clear(&run);
        }
        assert_ledgers("", used, "after source");

        /* 6. The VM ends on host 2: after_vm_destroy's release there. */
        ck_assert_int_eq(virDomainDestroy(dd), 0);
        virDomainFree(dd);
        in_host2(g, "release", NULL, &run);
        ck_assert_msg(run.status == 0, "release: exit %d: %s", run.status, run.err);
        th_run_clear(&run);
        assert_ledgers("", "", "host 2's after_vm_destroy");
}
END_TEST

/* The migration fails after the unplug (host 2 refuses at migrate begin): the watcher puts the NIC back, nobody acting. */
START_TEST(test_refused)
{
        Guest *g = &g_b;
        _cleanup_free_ char *result = result_path(g, "refused"), *said = NULL, *why = NULL;
        _cleanup_free_ char *file2 = NULL, *ctl = NULL, *al = alias_attr(g), *held = line_of(g, "in-use", VF_SRC);
        _cleanup_free_ char *reserved = line_of(g, "reserved", VF_SRC), *mac = NULL;
        size_t added0 = serial_count(g, "pci-added");
        char slot2[8];
        double mig, failed_at, back;
        int state = 0, reason = 0;
        ThRun run;

        hold_source_vf(g);
        source_hook(g, g_src_conf, result, &run, &file2);
        ck_assert_msg(run.status == 0, "before_migration_source: exit %d: %s", run.status, run.err);
        th_run_clear(&run);
        ck_assert_uint_eq(count_in(g->dom, al), 0);
        ck_assert_uint_eq(record_count(g->dom), 1);
        ck_assert_msg(watch_started(result), "no watcher started");

        in_host2(g, "reserve", file2, &run);
        ck_assert_msg(run.status == 0, "reserve: exit %d: %s", run.status, run.err);
        th_run_clear(&run);
        assert_ledgers(held, reserved, "destination check");

        ck_assert_int_ge(asprintf(&ctl, "%s/dst.refuse-migrate-begin", g_ctl), 0);
        th_write(ctl, "", 0, 0644);
        ck_assert_int_ne(migrate(g, &mig, &why), 0);
        unlink(ctl);
        ck_assert_msg(strstr(why, "Hook script execution failed"), "%s", why);
        failed_at = rh_now();
        rh_fact("host 2 refused the migration at migrate begin after %.2f s; %s runs on here", mig, g->name);
        ck_assert_int_eq(virDomainGetState(g->dom, &state, &reason, 0), 0);
        ck_assert_int_eq(state, VIR_DOMAIN_RUNNING);

        /* No person acts: the NIC comes back within the watcher's bound (migration_start_timeout + a poll). */
        while (count_in(g->dom, al) == 0) {
                ck_assert_msg(rh_now() - failed_at < START_TIMEOUT + 10, "the NIC is not back after %d s", START_TIMEOUT + 10);
                rh_sleep(0.05);
        }
        back = rh_now() - failed_at;
        rh_timing("migration refused at migrate begin -> NIC back on the source", back);
        said = watch_end(result, 15);
        ck_assert_msg(strstr(said, " outcome=failed ") || strstr(said, " outcome=not-started "), "%s", said);
        ck_assert_msg(strstr(said, "failure action done (1)"), "%s", said);
        ck_assert_msg(rh_wait_text(g->serial, "pci-added", added0, 5) >= 0, "the guest saw no new device");
        ck_assert_int_ge(asprintf(&mac, "<mac address='%s'/>", g->mac), 0);
        ck_assert_uint_eq(count_in(g->dom, mac), 1);
        nic_slot(g->dom, g, slot2, sizeof(slot2));
        ck_assert_str_eq(slot2, g->slot);
        ck_assert_uint_eq(record_count(g->dom), 0);
        /* Source: the VF still the VM's. Host 2: only its reservation, which the engine's destroy of the failed
         * incoming VM releases (after_vm_destroy), or vf_reservation_timeout ends. */
        assert_ledgers(held, reserved, "migration refused");
        in_host2(g, "release", NULL, &run);
        ck_assert_msg(run.status == 0, "release: exit %d: %s", run.status, run.err);
        th_run_clear(&run);
        assert_ledgers(held, "", "host 2's after_vm_destroy");
        rh_fact("NIC %s back in %s %.2f s after the refusal (slot %s), record dropped, guest saw it", g->alias, g->name, back,
             slot2);
}
END_TEST

/* A guest that never answers: the hook gives up at its bound, the NIC still there, nothing recorded, no watcher. */
START_TEST(test_no_answer)
{
        Guest *g = &g_n;
        _cleanup_free_ char *conf = NULL, *st = NULL, *result = result_path(g, "no-answer"), *al = alias_attr(g);
        _cleanup_free_ char *want = NULL, *mac = NULL, *left = NULL;
        double t0, d;
        ThRun run;

        ck_assert_int_ge(asprintf(&conf, "%s/src/hpvm-noos.conf", g_work), 0);
        st = src_state();
        write_conf(conf, st, g_src_root, NOOS_TIMEOUT);
        t0 = rh_now();
        source_hook(g, conf, result, &run, NULL);
        d = rh_now() - t0;
        ck_assert_int_eq(run.status, 2);
        ck_assert_int_ge(asprintf(&want, "hpvm: the guest did not release VF NIC %s (alias %s) within %d s: it was plugged "
                                         "back; the migration is refused\n", g->mac, g->alias, NOOS_TIMEOUT), 0);
        ck_assert_str_eq(run.err, want);
        th_run_clear(&run);
        ck_assert_msg(d >= NOOS_TIMEOUT && d < NOOS_TIMEOUT + 2, "gave up after %.2f s", d);
        rh_timing("before_migration_source on a guest that never answers (bound 3 s)", d);
        ck_assert_uint_eq(count_in(g->dom, al), 1);
        ck_assert_int_ge(asprintf(&mac, "<mac address='%s'/>", g->mac), 0);
        ck_assert_uint_eq(count_in(g->dom, mac), 1);
        ck_assert_uint_eq(record_count(g->dom), 0);
        rh_sleep(0.5);
        left = rh_slurp(result);
        ck_assert_msg(!left, "a watcher was started: %s", left);
        rh_fact("no OS: exit 2 after %.2f s, NIC still attached once, no record, no watcher", d);
}
END_TEST

/* libvirtd (QEMU driver) defines a failover domain (virtio + hostdev pair) as migrate begin re-pointed it. */
START_TEST(test_define_repointed)
{
        _cleanup_free_ char *fx = th_src("tests/data/domains/sriov-migrate.xml"), *xml = NULL, *named = NULL;
        _cleanup_free_ char *renamed = NULL, *conf = NULL, *st = NULL, *out = NULL, *inactive = NULL, *name = NULL;
        _cleanup_config_ HpvmConfig *c = NULL;
        HpvmVfMigCtx ctx = { .config = NULL };
        HpvmError err = { 0 };
        virDomainPtr dom;
        size_t len, outlen;
        int r;

        xml = th_slurp(fx, &len);
        ck_assert_int_ge(asprintf(&name, "%s-fo", g_prefix), 0);
        named = rh_replace(xml, "<name>vfmig-vm</name>", "");
        renamed = rh_replace(named, "<uuid>", "<name>@N@</name>\n  <uuid>");
        free(named);
        named = rh_replace(renamed, "@N@", name);
        /* Host 2's fake tree, another state folder: 0000:3b:02.2 (fo1's source VF) held by another VM there. */
        ck_assert_int_ge(asprintf(&conf, "%s/define.conf", g_work), 0);
        ck_assert_int_ge(asprintf(&st, "%s/define-state", g_work), 0);
        write_conf(conf, st, g_dst_root, UNPLUG_TIMEOUT);
        {
                char *more, *text = rh_slurp(conf);

                ck_assert_int_ge(asprintf(&more, "%ssriov_pfs.sriov-fo=ens1f0,ens2f0\n", text), 0);
                th_write(conf, more, strlen(more), 0644);
                free(text);
                free(more);
        }
        ck_assert_int_eq(hpvm_config_load(conf, true, &c, &err), 0);
        ctx.config = c;
        {
                _cleanup_vfledger_ HpvmVfLedger *l = NULL;
                HpvmPciAddr a;
                HpvmMac m;

                ck_assert_int_eq(hpvm_pci_addr_parse("0000:3b:02.2", 12, &a), 0);
                ck_assert_int_eq(hpvm_mac_parse("52:54:00:00:00:02", 17, &m), 0);
                ck_assert_int_eq(hpvm_vfledger_open(c, &l, &err), 0);
                ck_assert_int_ge(hpvm_vfledger_mark_in_use(l, "somebody", &a, &m, "sriov-fo", time(NULL), NULL, &err), 0);
                ck_assert_int_eq(hpvm_vfledger_commit(l, &err), 0);
        }
        ck_assert_msg(hpvm_vfmig_reserve_xml(&ctx, named, strlen(named), &err) == 3, "%s", err.msg);
        r = hpvm_vfmig_repoint_xml(&ctx, named, strlen(named), &out, &outlen, &err);
        ck_assert_msg(r == 1, "%d: %s", r, err.msg);
        dom = virDomainDefineXML(g_src, out);
        ck_assert_msg(dom, "libvirtd refuses the re-pointed XML: %s", hpvm_virt_last_error("?"));
        inactive = rh_xml(dom, VIR_DOMAIN_XML_INACTIVE);
        virDomainUndefine(dom);
        virDomainFree(dom);
        ck_assert_msg(strstr(inactive, "<address type='pci' domain='0x0000' bus='0xaf' slot='0x02' function='0x0'/>"),
                      "%s", inactive);
        ck_assert_msg(strstr(inactive, "<teaming type='transient' persistent='ua-backup1'/>"), "%s", inactive);
        ck_assert_msg(strstr(inactive, "<teaming type='persistent'/>"), "%s", inactive);
        rh_fact("libvirtd (qemu:///system) defined the failover domain as re-pointed: hostdev ua-sriov-fo1 at 0000:af:02.0");
}
END_TEST

static Suite *real_suite(void)
{
        Suite *s = suite_create("vfmig-real");
        TCase *tc = tcase_create("real");

        tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_define_repointed);
        tcase_add_test(tc, test_no_answer);
        tcase_add_test(tc, test_migrate);
        tcase_add_test(tc, test_refused);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(real_suite());
        int failed;

        rh_init("test-vfmig-real", "tests/integration-vfmig.sh");
        srunner_set_fork_status(sr, CK_NOFORK);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
