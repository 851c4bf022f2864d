/* test-vfmigrate.c: the VF side of live migration on the fake sysfs trees of two hosts: the whole hook sequence (the destination's and the releasing hooks run as binaries) with both
 * ledgers checked after each step, the destination's choices and refusals, the migrate-begin re-point (schema-valid, accepted by libvirt's parser, only host addresses and the re-fitted
 * node set differ), and the hook binaries (before_migration_source, before_device_hotunplug, hpvm-watch) against their contract on libvirt's test:/// driver. What needs a real libvirtd
 * (unplug, re-plug, a migration) is in tests/test-vfmig-real.c. */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "domxml.h"
#include "hotplug.h"
#include "sriovtree.h"
#include "sysfsgen.h"
#include "testhelp.h"
#include "vfledger.h"
#include "vfmeta.h"
#include "vfmigrate.h"
#include "xml.h"

#define NOW ((time_t)1750000000)
#define VM "5e1c7a2b-9d4f-4b3e-8a61-2f0d9c8b7a65"
#define OTHER "0c7e0b4e-1a2b-4c3d-8e4f-000000000001"
#define STAY "0c7e0b4e-1a2b-4c3d-8e4f-000000000002"
#define MAC_FO0 "56:6f:1a:2b:00:10"
#define MAC_VLAN "56:6f:1a:2b:00:11"
#define MAC_FO1 "56:6f:1a:2b:00:12"

/* ------------------------------------------------------------ two hosts */

/*
 * Both hosts have the same cards (a migration between hosts of one hardware
 * layout, where vdsm finds the source's VF address on the destination):
 *   ens1f0 0000:3b:00.0 node 0: VFs 0000:3b:02.0-3
 *   ens2f0 0000:af:00.0 node 1: VFs 0000:af:02.0-3
 * hpvm.conf: sriov-fo and sriov-a on both PFs, sriov-b on ens2f0 only.
 */
typedef struct Host {
        ThTree tree;
        char *state;            /* its state_dir */
        char *conf;             /* its hpvm.conf */
        char *node;             /* a test:/// node file, when the test writes one */
        HpvmConfig *c;
} Host;

static Host g_a, g_b;

/* The hook binaries read time(NULL): what they reserve is stamped within [g_hook_from, g_hook_to] (0: none ran). */
static time_t g_hook_from, g_hook_to;

static void host_write_conf(Host *h, const char *uri, const char *extra)
{
        char *text;
        HpvmError err = { 0 };

        ck_assert_int_ge(asprintf(&text, "state_dir=%s\nsysfs_root=%s\nsriov_pfs.sriov-fo=ens1f0,ens2f0\n"
                                         "sriov_pfs.sriov-a=ens1f0,ens2f0\nsriov_pfs.sriov-b=ens2f0\n"
                                         "migration_start_timeout=1\nwatch_timeout=10\nunplug_timeout=2\n%s%s%s",
                                  h->state, h->tree.root, uri ? "libvirt_uri=" : "", uri ? uri : "", uri ? "\n" : ""),
                         0);
        if (extra) {
                char *more;

                ck_assert_int_ge(asprintf(&more, "%s%s", text, extra), 0);
                free(text);
                text = more;
        }
        th_write(h->conf, text, strlen(text), 0644);
        free(text);
        hpvm_config_free(h->c);
        h->c = NULL;
        ck_assert_msg(hpvm_config_load(h->conf, true, &h->c, &err) == 0, "%s", err.msg);
}

static void host_init(Host *h)
{
        th_tree_init(&h->tree);
        ck_assert_int_ge(asprintf(&h->state, "%s/state", h->tree.tmp), 0);
        ck_assert_int_ge(asprintf(&h->conf, "%s/hpvm.conf", h->tree.tmp), 0);
        ck_assert_int_ge(asprintf(&h->node, "%s/node.xml", h->tree.tmp), 0);
        th_sriov_other_netdevs(h->tree.root);
        th_sriov_pf(h->tree.root, "ens1f0", "0000:3b:00.0", 8, 4, 0);
        th_sriov_pf(h->tree.root, "ens2f0", "0000:af:00.0", 8, 4, 1);
        for (unsigned v = 0; v < 4; v++) {
                char addr[16], netdev[16];

                snprintf(addr, sizeof(addr), "0000:3b:02.%u", v);
                snprintf(netdev, sizeof(netdev), "ens1f0v%u", v);
                th_sriov_vf(h->tree.root, "0000:3b:00.0", v, addr, 0, "iavf", netdev);
                snprintf(addr, sizeof(addr), "0000:af:02.%u", v);
                snprintf(netdev, sizeof(netdev), "ens2f0v%u", v);
                th_sriov_vf(h->tree.root, "0000:af:00.0", v, addr, 1, "iavf", netdev);
        }
        host_write_conf(h, NULL, NULL);
}

static void host_clear(Host *h)
{
        hpvm_config_free(h->c);
        th_tree_clear(&h->tree);
        free(h->state);
        free(h->conf);
        free(h->node);
        memset(h, 0, sizeof(*h));
}

static void setup(void)
{
        g_hook_from = g_hook_to = 0;
        host_init(&g_a);
        host_init(&g_b);
}

static void teardown(void)
{
        host_clear(&g_a);
        host_clear(&g_b);
}

static HpvmVfMigCtx ctx_of(const Host *h)
{
        return (HpvmVfMigCtx) { .config = h->c, .now = NOW };
}

static HpvmPciAddr pci(const char *s)
{
        HpvmPciAddr a;

        ck_assert_int_eq(hpvm_pci_addr_parse(s, strlen(s), &a), 0);
        return a;
}

static HpvmMac mac(const char *s)
{
        HpvmMac m;

        ck_assert_int_eq(hpvm_mac_parse(s, strlen(s), &m), 0);
        return m;
}

/* Record that @vm uses the VF at @addr on @h (a VM running there). */
static void hold(Host *h, const char *vm, const char *addr, const char *m, const char *net)
{
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        HpvmError err = { 0 };
        HpvmPciAddr a = pci(addr);
        HpvmMac mm = mac(m);

        ck_assert_msg(hpvm_vfledger_open(h->c, &l, &err) == 0, "%s", err.msg);
        ck_assert_int_ge(hpvm_vfledger_mark_in_use(l, vm, &a, &mm, net, NOW - 100, NULL, &err), 0);
        ck_assert_int_eq(hpvm_vfledger_commit(l, &err), 0);
}

/* When reservation @e was made: NOW for the library's calls, else its own stamp, within the hooks' runs. */
static time_t reserved_at(const HpvmVfEntry *e)
{
        if (!g_hook_from)
                return NOW;
        ck_assert_msg(e->since >= g_hook_from && e->since <= g_hook_to, "VF %s reserved at %lld, not while a hook ran "
                      "(%lld-%lld)", e->vm, (long long)e->since, (long long)g_hook_from, (long long)g_hook_to);
        return e->since;
}

/*
 * The ledger of @h, one line per record in file order:
 * "<addr> <state> <vm> <mac> <network> [expires=+<s>]" (relative to when it was reserved, reserved_at()).
 */
static char *ledger(const Host *h)
{
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        HpvmError err = { 0 };
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ck_assert_msg(hpvm_vfledger_open(h->c, &l, &err) == 0, "%s", err.msg);
        for (size_t i = 0; i < hpvm_vfledger_count(l); i++) {
                HpvmVfEntry e;
                char a[HPVM_PCI_ADDR_STRLEN], m[HPVM_MAC_STRLEN] = "-";

                ck_assert_int_eq(hpvm_vfledger_at(l, i, &e, &err), 0);
                if (e.has_mac)
                        hpvm_mac_format(&e.mac, m, sizeof(m));
                fprintf(f, "%s %s %s %s %s", hpvm_pci_addr_format(&e.addr, a, sizeof(a)),
                        e.reserved ? "reserved" : "in-use", e.vm, m, e.network[0] ? e.network : "-");
                if (e.reserved)
                        fprintf(f, " expires=+%lld", (long long)(e.expires - reserved_at(&e)));
                fputc('\n', f);
        }
        fclose(f);
        return buf;
}

static void assert_ledger(const Host *h, const char *want, const char *step)
{
        _cleanup_free_ char *got = ledger(h);

        ck_assert_msg(!strcmp(got, want), "%s: ledger of %s is\n%s\nexpected\n%s", step, h == &g_a ? "host A" : "host B",
                      got, want);
}

/* ------------------------------------------------------------ documents */

static char *fixture(void)
{
        _cleanup_free_ char *p = th_src("tests/data/domains/sriov-migrate.xml");
        size_t len;

        return th_slurp(p, &len);
}

/* @text with the one occurrence of @from replaced by @to (there must be exactly one). */
static char *edit(const char *text, const char *from, const char *to)
{
        const char *p = strstr(text, from);
        char *out;

        ck_assert_msg(p, "'%s' is not in the document", from);
        ck_assert_msg(!strstr(p + 1, from), "'%s' is in the document twice", from);
        ck_assert_int_ge(asprintf(&out, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from)), 0);
        return out;
}

static HpvmDomain *parse(const char *xml)
{
        HpvmDomain *d = NULL;
        HpvmError err = { 0 };

        ck_assert_msg(hpvm_domain_parse(xml, strlen(xml), &d, &err) == 0, "%s", err.msg);
        return d;
}

static void quiet(void *opaque, virErrorPtr e)
{
}

/*
 * What the source host's libvirt hands on after before_migration_source
 * unplugged the VLAN NIC: the domain defined in libvirt's test driver, the
 * NIC recorded through virDomainSetMetadata (the call the hook makes) and,
 * since that driver cannot detach devices, its element then removed from
 * the XML libvirt returns.
 */
static char *after_source_hook(const char *xml)
{
        virConnectPtr c;
        virDomainPtr dom;
        HpvmError err = { 0 };
        _cleanup_free_ char *nic = NULL, *live = NULL;
        _cleanup_domain_ HpvmDomain *d = NULL;
        char *out = NULL;
        size_t len;

        virSetErrorFunc(NULL, quiet);
        c = virConnectOpen("test:///default");
        ck_assert_ptr_nonnull(c);
        dom = virDomainDefineXML(c, xml);
        ck_assert_msg(dom, "%s", virGetLastErrorMessage());
        ck_assert_int_eq(hpvm_virt_nic_xml(dom, MAC_VLAN, &nic, &err), 0);
        ck_assert_msg(hpvm_vfmeta_record_nic(dom, nic, "sriov-a", &err) == 0, "%s", err.msg);
        live = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        ck_assert_ptr_nonnull(live);
        virDomainUndefine(dom);
        virDomainFree(dom);
        virConnectClose(c);

        d = parse(live);
        HPVM_XML_FOREACH(iface, hpvm_xml_child(d->root, "devices"), "interface") {
                _cleanup_xmlchar_ xmlChar *alias = hpvm_xml_prop(hpvm_xml_child(iface, "alias"), "name");

                if (alias && xmlStrEqual(alias, BAD_CAST "ua-sriov-a")) {
                        hpvm_domain_remove(iface);
                        break;
                }
        }
        ck_assert_int_eq(hpvm_domain_format(d, &out, &len, &err), 0);
        return out;
}

/* A test:/// node file holding @xml (without its XML declaration) as a running domain. */
static void write_node(const Host *h, const char *xml)
{
        const char *body = strstr(xml, "<domain");
        char *text;

        ck_assert_ptr_nonnull(body);
        ck_assert_int_ge(asprintf(&text, "<node>\n%s</node>\n", body), 0);
        th_write(h->node, text, strlen(text), 0644);
        free(text);
}

static char *test_uri(const Host *h)
{
        char *uri;

        ck_assert_int_ge(asprintf(&uri, "test://%s", h->node), 0);
        return uri;
}

/*
 * The document with the values of domain/bus/slot/function of every
 * <source><address> replaced by "*": what must stay equal when only host
 * addresses change.
 */
static char *mask_sources(const char *xml)
{
        static const char *const attrs[] = { " domain=\"", " bus=\"", " slot=\"", " function=\"" };
        char *out = strdup(xml), *p = out;

        ck_assert_ptr_nonnull(out);
        while ((p = strstr(p, "<source>"))) {
                char *addr = p + strlen("<source>"), *end;

                addr += strspn(addr, " \t\r\n");
                p = addr;
                if (strncmp(addr, "<address ", 9))
                        continue;
                end = strchr(addr, '>');
                ck_assert_ptr_nonnull(end);
                for (size_t i = 0; i < HPVM_ARRAY_SIZE(attrs); i++) {
                        char *v = strstr(addr, attrs[i]), *q;

                        if (!v || v > end)
                                continue;
                        v += strlen(attrs[i]);
                        q = strchr(v, '"');
                        ck_assert_ptr_nonnull(q);
                        memset(v, '*', (size_t)(q - v));
                }
        }
        return out;
}

/* Drop the '*' runs mask_sources() left, so that addresses of other lengths compare too. */
static void squeeze(char *s)
{
        char *w = s;

        for (char *r = s; *r; r++)
                if (*r != '*')
                        *w++ = *r;
        *w = '\0';
}

static void assert_libvirt_accepts(const char *what, const char *xml)
{
        virConnectPtr c;
        virDomainPtr dom;

        virSetErrorFunc(NULL, quiet);
        c = virConnectOpen("test:///default");
        ck_assert_ptr_nonnull(c);
        dom = virDomainDefineXML(c, xml);
        ck_assert_msg(dom, "%s: libvirt's parser refuses it: %s", what, virGetLastErrorMessage());
        virDomainUndefine(dom);
        virDomainFree(dom);
        virConnectClose(c);
}

/* ------------------------------------------------------------ running the binaries */

static char *bin(const char *rel)
{
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", th_builddir(), rel), 0);
        return p;
}

static char *env_kv(const char *k, const char *v)
{
        char *s;

        ck_assert_int_ge(asprintf(&s, "%s=%s", k, v), 0);
        return s;
}

/* Exactly one line on stderr, "hpvm: <want>". */
static void assert_one_line(const ThRun *r, const char *want)
{
        _cleanup_free_ char *line = NULL;

        ck_assert_int_ge(asprintf(&line, "hpvm: %s\n", want), 0);
        ck_assert_msg(!strcmp(r->err, line), "stderr is\n%s\nexpected\n%s", r->err, line);
}

/* A hook binary started at @from has just ended: it read its clock within [g_hook_from, g_hook_to]. */
static void hook_ran(time_t from)
{
        if (!g_hook_from)
                g_hook_from = from;
        g_hook_to = time(NULL);
}

/* vdsm's hook hooks/@name on @h: @domxml in the file $_hook_domxml names ("": an empty file), vmId=VM. */
static void run_vdsm(const Host *h, const char *name, const char *domxml, ThRun *run)
{
        _cleanup_free_ char *hook = bin(name), *file = NULL, *e_dom = NULL;
        _cleanup_free_ char *e_vm = env_kv("vmId", VM), *e_cfg = env_kv("HPVM_CONFIG", h->conf);
        time_t from = time(NULL);

        ck_assert_int_ge(asprintf(&file, "%s/hook.xml", h->tree.tmp), 0);
        th_write(file, domxml, strlen(domxml), 0600);
        e_dom = env_kv("_hook_domxml", file);
        {
                const char *const argv[] = { hook, NULL };
                const char *const env[] = { e_dom, e_vm, e_cfg, NULL };

                th_run(argv, env, 30, run);
        }
        hook_ran(from);
}

/* libvirt's hook on @h: `vfmig-vm @op @subop -`, @xml on stdin (through sh: th_run gives /dev/null). */
static void run_libvirt(const Host *h, const char *xml, const char *op, const char *subop, ThRun *run)
{
        _cleanup_free_ char *hook = bin("hooks/libvirt_qemu"), *file = NULL, *e_in = NULL;
        _cleanup_free_ char *e_cfg = env_kv("HPVM_CONFIG", h->conf);
        time_t from = time(NULL);

        ck_assert_int_ge(asprintf(&file, "%s/stdin.xml", h->tree.tmp), 0);
        th_write(file, xml, strlen(xml), 0600);
        e_in = env_kv("HPVM_STDIN", file);
        {
                const char *const argv[] = { "/bin/sh", "-c", "exec \"$0\" \"$@\" <\"$HPVM_STDIN\"", hook,
                                             "vfmig-vm", op, subop, "-", NULL };
                const char *const env[] = { e_cfg, e_in, NULL };

                th_run(argv, env, 30, run);
        }
        hook_ran(from);
}

/* The records of @h's CPU ledger (<state_dir>/cpus) that name VM, one line each ("" when none or no file). */
static char *cpu_entries(const Host *h)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        struct stat st;

        ck_assert_int_ge(asprintf(&path, "%s/cpus", h->state), 0);
        if (stat(path, &st) == 0) {
                text = th_slurp(path, NULL);
                for (char *p = strtok(text, "\n"); p; p = strtok(NULL, "\n"))
                        if (!strncmp(p, "vm " VM " ", strlen("vm " VM " ")))
                                fprintf(f, "%s\n", p);
        }
        fclose(f);
        return buf;
}

/* B's CPU ledger holds one reservation for the VM: its memory on node 1 (NUMA-tuned: no host CPU). */
static void assert_cpu_reserved(const char *step)
{
        static const char want[] = "vm " VM " name=vfmig-vm state=reserved since=";
        _cleanup_free_ char *got = cpu_entries(&g_b);

        ck_assert_msg(th_lines(got) == 1 && !strncmp(got, want, strlen(want)) &&
                      strstr(got, " cpus= cells=1 mem=1:1048576\n"), "%s: the CPU ledger of host B holds\n%s", step,
                      got);
}

/* ------------------------------------------------------------ the whole sequence */

static const char *const seq_names[] = { "the re-plug fails (test driver: no attach)", "the NIC is there already" };

/*
 * Source A runs the VM; destination B has the same cards, another VM holds
 * its 0000:3b:02.2 and vdsm has bound 0000:3b:02.0 and 0000:3b:02.1 (the
 * source's addresses of the VM's VF NICs) to vfio-pci while preparing the
 * incoming VM; B's tree also has a CPU topology (2 nodes of 8 CPUs, 16 GiB
 * each), which the destination's CPU check reads. Step 1 calls the library
 * as before_vm_migrate_source does; every later step runs the hook binary
 * on its host (exit status and stderr checked); both VF ledgers, and B's
 * CPU ledger, are checked after each step.
 */
START_TEST(test_sequence)
{
        _cleanup_free_ char *xml = fixture(), *migrated = NULL, *repointed = NULL, *arrived = NULL, *cpus = NULL;
        _cleanup_free_ char *uri_b = NULL, *uri_a = NULL, *m_in = NULL, *m_out = NULL, *watch = NULL;
        _cleanup_free_ char *hook = NULL, *nicfile = NULL, *e_dom = NULL, *e_cfg = NULL, *e_res = NULL, *res = NULL;
        _cleanup_free_ char *b4 = NULL;
        _cleanup_domain_ HpvmDomain *src = parse(xml);
        HpvmVfMigCtx ca = ctx_of(&g_a);
        HpvmVfMigPlan plan;
        HpvmError err = { 0 };
        char why[1024];
        size_t len;
        ThRun run;

        const char *a0 =
                "0000:3b:02.0 in-use " VM " " MAC_FO0 " sriov-fo\n"
                "0000:3b:02.2 in-use " VM " " MAC_FO1 " sriov-fo\n"
                "0000:3b:02.1 in-use " VM " " MAC_VLAN " sriov-a\n"
                "0000:af:02.3 in-use " STAY " 52:54:00:00:00:03 sriov-b\n";
        const char *b0 = "0000:3b:02.2 in-use " OTHER " 52:54:00:00:00:02 sriov-fo\n";
        const char *b1 =
                "0000:3b:02.2 in-use " OTHER " 52:54:00:00:00:02 sriov-fo\n"
                "0000:3b:02.0 reserved " VM " " MAC_FO0 " sriov-fo expires=+1800\n"
                "0000:af:02.0 reserved " VM " " MAC_FO1 " sriov-fo expires=+1800\n"
                "0000:3b:02.1 reserved " VM " " MAC_VLAN " sriov-a expires=+1800\n";
        const char *b_in =
                "0000:3b:02.2 in-use " OTHER " 52:54:00:00:00:02 sriov-fo\n"
                "0000:3b:02.0 in-use " VM " " MAC_FO0 " sriov-fo\n"
                "0000:af:02.0 in-use " VM " " MAC_FO1 " sriov-fo\n";
        const char *a_end = "0000:af:02.3 in-use " STAY " 52:54:00:00:00:03 sriov-b\n";
        const char *checked = "hpvm: this host can run VM vfmig-vm: its memory goes to node 1, reserved until it arrives "
                              "(at most 600 s); it holds no host CPU\n"
                              "hpvm: reserved 3 VFs on this host for the VM's VF NICs\n";

        th_sysfs_build(g_b.tree.root, "2x8x1 mem=32G");
        hold(&g_a, VM, "0000:3b:02.0", MAC_FO0, "sriov-fo");
        hold(&g_a, VM, "0000:3b:02.2", MAC_FO1, "sriov-fo");
        hold(&g_a, VM, "0000:3b:02.1", MAC_VLAN, "sriov-a");
        hold(&g_a, STAY, "0000:af:02.3", "52:54:00:00:00:03", "sriov-b");
        hold(&g_b, OTHER, "0000:3b:02.2", "52:54:00:00:00:02", "sriov-fo");
        th_sriov_bind(g_b.tree.root, "0000:3b:02.0", "vfio-pci");
        th_sriov_bind(g_b.tree.root, "0000:3b:02.1", "vfio-pci");
        assert_ledger(&g_a, a0, "start");
        assert_ledger(&g_b, b0, "start");

        /* 1. Source (before_vm_migrate_source): two failover NICs for QEMU, the VLAN NIC to unplug; no ledger change. */
        ck_assert_msg(hpvm_vfmig_source_plan(&ca, src, NULL, &plan, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(plan.n, 3);
        ck_assert_uint_eq(plan.nfailover, 2);
        ck_assert_uint_eq(plan.nunplug, 1);
        ck_assert_str_eq(plan.nics[plan.unplug[0]].mac, MAC_VLAN);
        ck_assert_str_eq(plan.vm_uuid, VM);
        hpvm_vfmig_plan_clear(&plan);
        migrated = after_source_hook(xml);
        assert_ledger(&g_a, a0, "source hook");
        assert_ledger(&g_b, b0, "source hook");

        /*
         * 2. Destination check (before_vm_migrate_destination) on the source's XML as vdsm sends it, built
         * before the source hook ran (all three NICs, no record). The CPU check comes first: node 1, which the
         * VM's <numatune> names, exists and has room here, so its memory stays there (its vCPUs float). The
         * VFs follow that node: the source's addresses where free (both on node 0, the vfio binding being
         * vdsm's own), and for fo1, whose 0000:3b:02.2 is another VM's, the first free VF of node 1.
         */
        run_vdsm(&g_b, "hooks/before_migration_destination", xml, &run);
        ck_assert_msg(run.status == 0, "destination check: exit %d: %s", run.status, run.err);
        ck_assert_str_eq(run.err, checked);
        ck_assert_str_eq(run.out, "");
        th_run_clear(&run);
        assert_ledger(&g_a, a0, "destination check");
        assert_ledger(&g_b, b1, "destination check");
        assert_cpu_reserved("destination check");
        /* Retried, on the XML after the source hook (VLAN NIC only in the record): the same VFs, one CPU entry. */
        run_vdsm(&g_b, "hooks/before_migration_destination", migrated, &run);
        ck_assert_msg(run.status == 0, "destination check again: exit %d: %s", run.status, run.err);
        ck_assert_str_eq(run.err, checked);
        th_run_clear(&run);
        assert_ledger(&g_a, a0, "destination check again");
        assert_ledger(&g_b, b1, "destination check again");
        assert_cpu_reserved("destination check again");

        /*
         * 3. migrate begin (libvirt's hook on B): fo1's host address changes to B's reserved VF (0000:af:02.0);
         * the memory stays bound to node 1 (the reserved node); nothing else changes.
         */
        run_libvirt(&g_b, migrated, "migrate", "begin", &run);
        ck_assert_msg(run.status == 0, "migrate begin: exit %d: %s", run.status, run.err);
        ck_assert_str_eq(run.err, "hpvm: pointed 1 failover VF NIC at the VFs reserved on this host\n");
        repointed = run.out;
        run.out = NULL;
        th_run_clear(&run);
        len = strlen(repointed);
        ck_assert_ptr_nonnull(strstr(repointed, "<address type=\"pci\" domain=\"0x0000\" bus=\"0xaf\" slot=\"0x02\" "
                                                "function=\"0x0\"/>"));
        ck_assert_ptr_null(strstr(repointed, "<address type=\"pci\" domain=\"0x0000\" bus=\"0x3b\" slot=\"0x02\" "
                                             "function=\"0x2\"/>"));
        ck_assert_ptr_nonnull(strstr(repointed, "<memory mode=\"strict\" nodeset=\"1\"/>"));
        m_in = mask_sources(migrated);
        m_out = mask_sources(repointed);
        squeeze(m_in);
        squeeze(m_out);
        ck_assert_str_eq(m_out, m_in);
        ck_assert_msg(th_schema_valid(repointed, len, why, sizeof(why)), "not valid per domain.rng: %s", why);
        assert_libvirt_accepts("the migrate-begin XML", repointed);
        /* Once is enough: the re-pointed XML needs nothing more (no output, nothing said). */
        run_libvirt(&g_b, repointed, "migrate", "begin", &run);
        ck_assert_msg(run.status == 0, "migrate begin again: exit %d: %s", run.status, run.err);
        ck_assert_str_eq(run.out, "");
        ck_assert_str_eq(run.err, "");
        th_run_clear(&run);
        assert_ledger(&g_a, a0, "migrate begin");
        assert_ledger(&g_b, b1, "migrate begin");
        assert_cpu_reserved("migrate begin");
        /* QEMU starts on B (libvirt's `started begin`): a NUMA-tuned VM holds no CPU, its reservation goes. */
        run_libvirt(&g_b, repointed, "started", "begin", &run);
        ck_assert_msg(run.status == 0, "started begin: exit %d: %s", run.status, run.err);
        ck_assert_str_eq(run.out, "");
        ck_assert_str_eq(run.err, "hpvm: VM vfmig-vm runs here; it holds no host CPU (its memory is bound, its vCPUs "
                                  "float): its reservation is released\n");
        th_run_clear(&run);
        cpus = cpu_entries(&g_b);
        ck_assert_str_eq(cpus, "");
        assert_ledger(&g_b, b1, "started");

        /* 4. After destination: the arrived VM on B's libvirt (test driver); its recorded VLAN NIC comes back. */
        arrived = _i == 0 ? strdup(repointed)
                          : edit(repointed, "</devices>", "<interface type=\"hostdev\" managed=\"yes\"><mac address=\"" MAC_VLAN
                                 "\"/><source><address type=\"pci\" domain=\"0x0000\" bus=\"0x3b\" slot=\"0x02\" "
                                 "function=\"0x1\"/></source><alias name=\"ua-sriov-a\"/></interface></devices>");
        write_node(&g_b, arrived);
        uri_b = test_uri(&g_b);
        host_write_conf(&g_b, uri_b, NULL);
        run_vdsm(&g_b, "hooks/after_migration_destination", arrived, &run);
        if (_i == 0) {
                ck_assert_msg(run.status == 1, "%s: exit %d: %s", seq_names[_i], run.status, run.err);
                assert_one_line(&run, "VF NIC " MAC_VLAN " could not be plugged back (VM 'vfmig-vm': cannot plug NIC "
                                MAC_VLAN " (alias ua-sriov-a) back: this function is not supported by the connection "
                                "driver: virDomainAttachDeviceFlags): its VF is released and it stays in the VF NIC "
                                "record; 0 other NIC(s) back, 0 failed");
                b4 = strdup(b_in);
        } else {
                ck_assert_msg(run.status == 0, "%s: exit %d: %s", seq_names[_i], run.status, run.err);
                assert_one_line(&run, "plugged 1 VF NIC back into the VM on this host");
                ck_assert_int_ge(asprintf(&b4, "%s0000:3b:02.1 in-use " VM " " MAC_VLAN " sriov-a\n", b_in), 0);
        }
        assert_ledger(&g_b, b4, "after destination");
        ck_assert_str_eq(run.out, "");
        th_run_clear(&run);
        assert_ledger(&g_a, a0, "after destination");
        free(cpus);
        cpus = cpu_entries(&g_b);
        ck_assert_str_eq(cpus, "");

        /* 5. After source, through the watcher the source hook started: the VM is gone from A's libvirt. */
        write_node(&g_a, "<domain type='test'><name>somebody-else</name><memory>65536</memory><os><type>hvm</type>"
                         "</os></domain>");
        uri_a = test_uri(&g_a);
        host_write_conf(&g_a, uri_a, NULL);
        watch = bin("hooks/hpvm-watch");
        ck_assert_int_ge(asprintf(&res, "%s/watch.result", g_a.tree.tmp), 0);
        e_cfg = env_kv("HPVM_CONFIG", g_a.conf);
        e_res = env_kv("HPVM_WATCH_RESULT", res);
        {
                const char *const argv[] = { watch, VM, NULL };
                const char *const env[] = { e_cfg, e_res, NULL };
                _cleanup_free_ char *said = NULL;

                th_run(argv, env, 30, &run);
                ck_assert_msg(run.status == 0, "hpvm-watch: %d %s", run.status, run.err);
                said = th_slurp(res, &len);
                ck_assert_ptr_nonnull(strstr(said, " outcome=migrated "));
                ck_assert_ptr_nonnull(strstr(said, "success action done (3)"));
                th_run_clear(&run);
        }
        assert_ledger(&g_a, a_end, "after source (watcher)");
        /* after_vm_migrate_source (the binary, on the source's XML) then finds nothing left: says nothing. */
        run_vdsm(&g_a, "hooks/after_migration_source", xml, &run);
        ck_assert_msg(run.status == 0, "after source: exit %d: %s", run.status, run.err);
        ck_assert_str_eq(run.err, "");
        th_run_clear(&run);
        assert_ledger(&g_a, a_end, "after source");
        assert_ledger(&g_b, b4, "after source");

        /* 6. On B, later: fo1 hot-unplugged (before_nic_hotunplug, the binary), then the VM destroyed (after_vm_destroy). */
        hook = bin("hooks/before_device_hotunplug");
        ck_assert_int_ge(asprintf(&nicfile, "%s/nic.xml", g_b.tree.tmp), 0);
        {
                static const char nic[] =
                        "<interface type=\"hostdev\" managed=\"no\">\n  <mac address=\"56:6f:1a:2b:00:12\"/>\n"
                        "  <source>\n    <address type=\"pci\" domain=\"0x0000\" bus=\"0xaf\" slot=\"0x02\" function=\"0x0\"/>\n"
                        "  </source>\n  <teaming type=\"transient\" persistent=\"ua-backup1\"/>\n"
                        "  <alias name=\"ua-sriov-fo1\"/>\n</interface>\n";
                const char *const argv[] = { hook, NULL };
                _cleanup_free_ char *e_vm = env_kv("vmId", VM), *e_b = env_kv("HPVM_CONFIG", g_b.conf);
                const char *env[4];

                e_dom = env_kv("_hook_domxml", nicfile);
                env[0] = e_dom;
                env[1] = e_vm;
                env[2] = e_b;
                env[3] = NULL;
                th_write(nicfile, nic, strlen(nic), 0600);
                th_run(argv, env, 10, &run);
                ck_assert_msg(run.status == 0, "%d: %s", run.status, run.err);
                ck_assert_str_eq(run.err, "");
                th_run_clear(&run);
        }
        {
                _cleanup_free_ char *want = NULL;

                ck_assert_int_ge(asprintf(&want, "0000:3b:02.2 in-use " OTHER " 52:54:00:00:00:02 sriov-fo\n"
                                                 "0000:3b:02.0 in-use " VM " " MAC_FO0 " sriov-fo\n%s",
                                          _i == 0 ? "" : "0000:3b:02.1 in-use " VM " " MAC_VLAN " sriov-a\n"), 0);
                assert_ledger(&g_b, want, "hot-unplug");
        }
        /* By $vmId and an empty file; the VM held no CPU here since QEMU started (NUMA-tuned): only its VFs go. */
        run_vdsm(&g_b, "hooks/after_vm_destroy", "", &run);
        ck_assert_msg(run.status == 0, "after_vm_destroy: exit %d: %s", run.status, run.err);
        assert_one_line(&run, _i == 0 ? "released 1 VF of the VM in this host's VF ledger"
                                      : "released 2 VFs of the VM in this host's VF ledger");
        th_run_clear(&run);
        assert_ledger(&g_b, b0, "after_vm_destroy");
        assert_ledger(&g_a, a_end, "end");
        free(cpus);
        cpus = cpu_entries(&g_b);
        ck_assert_str_eq(cpus, "");
}
END_TEST

/* ------------------------------------------------------------ the destination's choices */

/* No VF for one NIC: nothing reserved, one line naming the network. */
START_TEST(test_reserve_no_vf)
{
        _cleanup_free_ char *xml = fixture(), *x2 = NULL;
        _cleanup_domain_ HpvmDomain *d = NULL;
        HpvmVfMigCtx cb = ctx_of(&g_b);
        HpvmError err = { 0 };

        /* The VLAN NIC on sriov-b (ens2f0 only), whose 4 VFs other VMs hold. */
        x2 = edit(xml, "<ovirt-vm:network>sriov-a</ovirt-vm:network>", "<ovirt-vm:network>sriov-b</ovirt-vm:network>");
        d = parse(x2);
        for (unsigned v = 0; v < 4; v++) {
                char addr[16], m[18];

                snprintf(addr, sizeof(addr), "0000:af:02.%u", v);
                snprintf(m, sizeof(m), "52:54:00:00:01:%02u", v);
                hold(&g_b, OTHER, addr, m, "sriov-b");
        }
        _cleanup_free_ char *before = ledger(&g_b);

        ck_assert_int_eq(hpvm_vfmig_reserve(&cb, d, &err), -ENOSPC);
        ck_assert_str_eq(err.msg, "no free VF for network 'sriov-b': PF ens2f0 has 4 VFs, all reserved or in use: "
                                  "VM 'vfmig-vm' does not move here");
        assert_ledger(&g_b, before, "refused");
}
END_TEST

/* The node to prefer: the context's, else <numatune>, else none (the first free VF). */
static const struct {
        const char *numatune;           /* replaces nodeset="1" */
        int ctx_node;                   /* -2: not given */
        const char *want;               /* fo1's VF (its source address is taken) */
} node_cases[] = {
        { "nodeset=\"1\"", -2, "0000:af:02.0" },
        { "nodeset=\"0\"", -2, "0000:3b:02.3" },
        { "nodeset=\"1\"", 0, "0000:3b:02.3" },
        { "nodeset=\"0\"", 1, "0000:af:02.0" },
        { "nodeset=\"0\"", -1, "0000:3b:02.3" },
};

START_TEST(test_reserve_node)
{
        _cleanup_free_ char *xml = fixture(), *x2 = edit(xml, "nodeset=\"1\"", node_cases[_i].numatune);
        _cleanup_domain_ HpvmDomain *d = parse(x2);
        HpvmVfMigCtx cb = ctx_of(&g_b);
        HpvmError err = { 0 };
        HpvmVfEntry e;
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        HpvmMac m = mac(MAC_FO1);
        int node = node_cases[_i].ctx_node;

        hold(&g_b, OTHER, "0000:3b:02.2", "52:54:00:00:00:02", "sriov-fo");
        if (node != -2)
                cb.numa_node = &node;
        ck_assert_msg(hpvm_vfmig_reserve(&cb, d, &err) == 3, "%s", err.msg);
        ck_assert_int_eq(hpvm_vfledger_open(g_b.c, &l, &err), 0);
        ck_assert_int_eq(hpvm_vfledger_find_nic(l, VM, &m, &e, &err), 0);
        {
                char a[HPVM_PCI_ADDR_STRLEN];

                ck_assert_str_eq(hpvm_pci_addr_format(&e.addr, a, sizeof(a)), node_cases[_i].want);
        }
}
END_TEST

/* A VM without VF NICs: nothing read, nothing written (not even the state folder). */
START_TEST(test_nothing_to_do)
{
        static const char plain[] = "<domain type='kvm'><name>plain</name><uuid>" VM "</uuid><memory>65536</memory>"
                                    "<os><type>hvm</type></os><devices><interface type='bridge'><mac "
                                    "address='52:54:00:00:00:09'/><source bridge='br0'/></interface></devices></domain>";
        _cleanup_domain_ HpvmDomain *d = parse(plain);
        HpvmVfMigCtx cb = ctx_of(&g_b);
        HpvmVfMigPlan plan;
        HpvmError err = { 0 };
        char *out = (char *)"untouched";
        struct stat st;

        ck_assert_int_eq(hpvm_vfmig_reserve(&cb, d, &err), 0);
        ck_assert_int_eq(hpvm_vfmig_repoint(&cb, d, &err), 0);
        ck_assert_int_eq(hpvm_vfmig_repoint_xml(&cb, plain, strlen(plain), &out, NULL, &err), 0);
        ck_assert_ptr_null(out);
        ck_assert_int_eq(hpvm_vfmig_source_plan(&cb, d, NULL, &plan, &err), 0);
        ck_assert_uint_eq(plan.n + plan.nunplug, 0);
        hpvm_vfmig_plan_clear(&plan);
        ck_assert_int_eq(hpvm_vfmig_before_source(&cb, d, &plan, "/nonexistent", NULL, NULL, &err), 0);
        ck_assert_int_eq(stat(g_b.state, &st), -1);
}
END_TEST

/* migrate begin without a reservation refuses; an expired one still counts (nobody took the VF). */
START_TEST(test_repoint_refusal)
{
        _cleanup_free_ char *xml = fixture(), *out = NULL;
        _cleanup_domain_ HpvmDomain *d = parse(xml);
        HpvmVfMigCtx cb = ctx_of(&g_b);
        HpvmError err = { 0 };

        ck_assert_int_eq(hpvm_vfmig_repoint_xml(&cb, xml, strlen(xml), &out, NULL, &err), -ENOENT);
        ck_assert_ptr_null(out);
        {
                _cleanup_free_ char *want = NULL;

                ck_assert_int_ge(asprintf(&want, "failover VF NIC " MAC_FO0 " (alias ua-sriov-fo0) of VM 'vfmig-vm': no VF "
                                                 "of this host is reserved for it in %s/vfs (the destination check did not "
                                                 "run here, or its reservation was lost): the migration is refused; start "
                                                 "it again", g_b.state), 0);
                ck_assert_str_eq(err.msg, want);
        }
        ck_assert_int_eq(hpvm_vfmig_reserve(&cb, d, &err), 3);
        /* Two hours later: the reservations expired, but are still the VM's. */
        cb.now = NOW + 7200;
        ck_assert_msg(hpvm_vfmig_repoint(&cb, d, &err) == 0, "%s", err.msg);
        cb.now = NOW;
        /* vmId wins over <uuid>: another VM has no reservation here. */
        cb.vm_id = OTHER;
        ck_assert_int_eq(hpvm_vfmig_repoint(&cb, d, &err), -ENOENT);
}
END_TEST

/* Arrival without a record: the ledger half only; libvirt is never asked (an unreachable URI). */
START_TEST(test_arrived)
{
        _cleanup_free_ char *xml = fixture();
        _cleanup_domain_ HpvmDomain *d = parse(xml);
        HpvmVfMigCtx cb;
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };

        host_write_conf(&g_b, "qemu+unix:///system?socket=/nonexistent/sock", NULL);
        cb = ctx_of(&g_b);
        ck_assert_int_eq(hpvm_vfmig_reserve(&cb, d, &err), 3);
        ck_assert_msg(hpvm_vfmig_after_destination(&cb, d, &warn, &err) == 0, "%s", err.msg);
        assert_ledger(&g_b, "0000:3b:02.0 in-use " VM " " MAC_FO0 " sriov-fo\n"
                            "0000:3b:02.2 in-use " VM " " MAC_FO1 " sriov-fo\n"
                            "0000:3b:02.1 in-use " VM " " MAC_VLAN " sriov-a\n", "after destination");
        /* Again, and through the ledger-only call: nothing left to turn. */
        ck_assert_int_eq(hpvm_vfmig_arrived(&cb, d, &err), 0);
        ck_assert_int_eq(hpvm_vfmig_release(&cb, d, &err), 3);
        ck_assert_int_eq(hpvm_vfmig_reserve(&cb, d, &err), 3);
        ck_assert_int_eq(hpvm_vfmig_arrived(&cb, d, &err), 3);
        assert_ledger(&g_b, "0000:3b:02.0 in-use " VM " " MAC_FO0 " sriov-fo\n"
                            "0000:3b:02.2 in-use " VM " " MAC_FO1 " sriov-fo\n"
                            "0000:3b:02.1 in-use " VM " " MAC_VLAN " sriov-a\n", "arrived");
        ck_assert_uint_eq(warn.n, 0);
}
END_TEST

/* ------------------------------------------------------------ the source's refusals */

static const struct {
        const char *from, *to;          /* one edit of the fixture; NULL: none */
        const char *vm_prop;            /* the VM property; NULL: not set */
        int code;
        const char *msg;                /* NULL: accepted */
        size_t nunplug;
} plans[] = {
        { NULL, NULL, NULL, 0, NULL, 1 },
        /* the VLAN NIC's profile without the property: the default refuses */
        { "<ovirt-vm:network>sriov-a</ovirt-vm:network>\n        <ovirt-vm:custom>\n          <ovirt-vm:sriov_migratable>true"
          "</ovirt-vm:sriov_migratable>\n        </ovirt-vm:custom>", "<ovirt-vm:network>sriov-a</ovirt-vm:network>", NULL,
          -EPERM, "VF NIC 56:6f:1a:2b:00:11 (alias ua-sriov-a) may not migrate: set sriov_migratable=true on its vNIC "
          "profile, or the VM property sriov_migratable=all (or a list of MACs with 56:6f:1a:2b:00:11); the VM stays on this "
          "host", 0 },
        /* ... the VM property allows it, by MAC (any case) or all */
        { "<ovirt-vm:network>sriov-a</ovirt-vm:network>\n        <ovirt-vm:custom>\n          <ovirt-vm:sriov_migratable>true"
          "</ovirt-vm:sriov_migratable>\n        </ovirt-vm:custom>", "<ovirt-vm:network>sriov-a</ovirt-vm:network>",
          "56:6F:1A:2B:00:11", 0, NULL, 1 },
        { "<ovirt-vm:network>sriov-a</ovirt-vm:network>\n        <ovirt-vm:custom>\n          <ovirt-vm:sriov_migratable>true"
          "</ovirt-vm:sriov_migratable>\n        </ovirt-vm:custom>", "<ovirt-vm:network>sriov-a</ovirt-vm:network>", "all", 0,
          NULL, 1 },
        /* ... or does not list it */
        { "<ovirt-vm:network>sriov-a</ovirt-vm:network>\n        <ovirt-vm:custom>\n          <ovirt-vm:sriov_migratable>true"
          "</ovirt-vm:sriov_migratable>\n        </ovirt-vm:custom>", "<ovirt-vm:network>sriov-a</ovirt-vm:network>",
          "56:6f:1a:2b:00:10", -EPERM, "VF NIC 56:6f:1a:2b:00:11 (alias ua-sriov-a) may not migrate: the VM property "
          "sriov_migratable does not list its MAC (add 56:6f:1a:2b:00:11, or set all), and its vNIC profile does not set "
          "sriov_migratable; the VM stays on this host", 0 },
        /* the profile says no: the VM property does not overrule it */
        { "<ovirt-vm:sriov_migratable>yes</ovirt-vm:sriov_migratable>", "<ovirt-vm:sriov_migratable>False"
          "</ovirt-vm:sriov_migratable>", "all", -EPERM, "VF NIC 56:6f:1a:2b:00:12 (alias ua-sriov-fo1) may not migrate: its "
          "vNIC profile sets sriov_migratable=false (true allows it); the VM stays on this host", 0 },
        { NULL, NULL, "all,56:6f:1a:2b:00:11", -EINVAL, "sriov_migratable: 'all,56:6f:1a:2b:00:11': 'all' cannot be combined "
          "with MAC addresses (expected all or a comma-separated list of MAC addresses)", 0 },
        /* a VF given as a plain <hostdev> (this host's 0000:af:02.1) */
        { "<memballoon model=\"none\"/>", "<hostdev mode=\"subsystem\" type=\"pci\" managed=\"yes\"><source><address "
          "domain=\"0x0000\" bus=\"0xaf\" slot=\"0x02\" function=\"0x1\"/></source></hostdev><memballoon model=\"none\"/>",
          NULL, -EPERM, "PCI host device 0000:af:02.1 is an SR-IOV VF given to the VM as a plain <hostdev>: it cannot be "
          "unplugged and plugged back with a MAC and VLAN (give the VM a vNIC with a passthrough vNIC profile instead); the "
          "VM stays on this host", 0 },
        /* a plain <hostdev> that is not a VF here (a GPU, say) is not ours */
        { "<memballoon model=\"none\"/>", "<hostdev mode=\"subsystem\" type=\"pci\" managed=\"yes\"><source><address "
          "domain=\"0x0000\" bus=\"0x17\" slot=\"0x00\" function=\"0x0\"/></source></hostdev><memballoon model=\"none\"/>",
          NULL, 0, NULL, 1 },
        /* a VF NIC to unplug needs its alias */
        { "<alias name=\"ua-sriov-a\"/>", "", NULL, -EINVAL, "VF NIC 56:6f:1a:2b:00:11 has no alias: libvirt unplugs a NIC by "
          "its alias and it comes back by its MAC; the VM stays on this host", 0 },
};

START_TEST(test_source_plan)
{
        _cleanup_free_ char *xml = fixture(), *x2 = plans[_i].from ? edit(xml, plans[_i].from, plans[_i].to) : strdup(xml);
        _cleanup_domain_ HpvmDomain *d = parse(x2);
        HpvmVfMigCtx ca = ctx_of(&g_a);
        HpvmVfMigPlan plan = { .n = 99 };
        HpvmError err = { 0 };
        int r = hpvm_vfmig_source_plan(&ca, d, plans[_i].vm_prop, &plan, &err);

        ck_assert_msg(r == plans[_i].code, "%d: %s", r, err.msg);
        if (plans[_i].msg) {
                ck_assert_str_eq(err.msg, plans[_i].msg);
                ck_assert_uint_eq(plan.n, 99);          /* untouched */
                return;
        }
        ck_assert_uint_eq(plan.nunplug, plans[_i].nunplug);
        ck_assert_uint_eq(plan.nfailover, 2);
        hpvm_vfmig_plan_clear(&plan);
}
END_TEST

/* ------------------------------------------------------------ hot-unplug: what is released */

static const struct {
        const char *nic;                /* the <interface> vdsm hands the hook */
        const char *vm;                 /* vmId; NULL: none */
        int parsed;                     /* hpvm_vfmig_unplug_parse() */
        int dropped;
        const char *left;               /* the ledger afterwards */
        const char *warning;            /* NULL: none */
} unplugs[] = {
        { "<interface type='hostdev'><mac address='56:6f:1a:2b:00:11'/><source><address type='pci' domain='0' bus='0x3b' "
          "slot='2' function='1'/></source></interface>", VM, 1, 2,
          "0000:3b:02.2 in-use " OTHER " 52:54:00:00:00:02 sriov-fo\n", NULL },
        { "<interface type='hostdev'><mac address='56:6f:1a:2b:00:11'/><source><address type='pci' domain='0' bus='0x3b' "
          "slot='2' function='1'/></source></interface>", NULL, 1, 1,
          "0000:3b:02.2 in-use " OTHER " 52:54:00:00:00:02 sriov-fo\n"
          "0000:af:02.1 reserved " VM " 56:6f:1a:2b:00:11 sriov-a expires=+1800\n", NULL },
        { "<interface type='hostdev'><mac address='52:54:00:00:00:02'/><source><address type='pci' domain='0' bus='0x3b' "
          "slot='2' function='2'/></source></interface>", VM, 1, 0,
          "0000:3b:02.2 in-use " OTHER " 52:54:00:00:00:02 sriov-fo\n0000:3b:02.1 in-use " VM " 56:6f:1a:2b:00:11 sriov-a\n"
          "0000:af:02.1 reserved " VM " 56:6f:1a:2b:00:11 sriov-a expires=+1800\n",
          "vfledger: VF 0000:3b:02.2 of NIC 52:54:00:00:00:02 is recorded for VM " OTHER ", not for VM " VM " that unplugs it: "
          "record left as it is" },
        { "<interface type='bridge'><mac address='56:6f:1a:2b:00:11'/><source bridge='ovirtmgmt'/></interface>", VM, 0, 0,
          NULL, NULL },
        { "<interface type='hostdev'><mac address='56:6f:1a:2b:00:11'/><source><address type='pci' domain='0' bus='0x3b' "
          "slot='0x20' function='1'/></source></interface>", VM, -EINVAL, 0, NULL, NULL },
        { "<disk/>", VM, -EINVAL, 0, NULL, NULL },
};

START_TEST(test_release_nic)
{
        HpvmVfMigCtx cb = ctx_of(&g_b);
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };
        HpvmVfNic nic;
        int r;

        hold(&g_b, OTHER, "0000:3b:02.2", "52:54:00:00:00:02", "sriov-fo");
        hold(&g_b, VM, "0000:3b:02.1", MAC_VLAN, "sriov-a");
        {
                /* and a reservation of the same VM for the same NIC (a migration back under way) */
                _cleanup_vfinv_ HpvmVfInventory *inv = NULL;
                _cleanup_vfledger_ HpvmVfLedger *l = NULL;
                HpvmVfRequest q = { .mac = mac(MAC_VLAN), .network = "sriov-a", .has_preferred = true,
                                    .preferred = pci("0000:af:02.1"), .preferred_node = -1 };
                size_t pick;

                ck_assert_int_eq(hpvm_vf_inventory_load(g_b.tree.root, &inv, &err), 0);
                ck_assert_int_eq(hpvm_vfledger_open(g_b.c, &l, &err), 0);
                ck_assert_msg(hpvm_vfledger_reserve(l, inv, g_b.c, VM, &q, 1, NOW, &pick, &err) == 0, "%s", err.msg);
                ck_assert_int_eq(hpvm_vfledger_commit(l, &err), 0);
        }
        r = hpvm_vfmig_unplug_parse(unplugs[_i].nic, strlen(unplugs[_i].nic), &nic, &err);
        ck_assert_msg(r == unplugs[_i].parsed, "%d: %s", r, err.msg);
        if (r <= 0)
                return;
        cb.vm_id = unplugs[_i].vm;
        r = hpvm_vfmig_release_nic(&cb, &nic, &warn, &err);
        hpvm_vfnic_clear(&nic);
        ck_assert_msg(r == unplugs[_i].dropped, "%d: %s", r, err.msg);
        assert_ledger(&g_b, unplugs[_i].left, "released");
        if (unplugs[_i].warning) {
                ck_assert_uint_eq(warn.n, 1);
                ck_assert_str_eq(warn.msg[0], unplugs[_i].warning);
        } else {
                ck_assert_uint_eq(warn.n, 0);
        }
}
END_TEST

/* ------------------------------------------------------------ before_migration_source, the binary */

typedef struct SourceCase {
        const char *name;
        const char *from, *to;          /* one edit of _hook_domxml; NULL: none */
        const char *node;               /* the VM as libvirt (test driver) runs it: "same", "no-vlan" (the engine unplugged it), "none" */
        const char *uri;                /* NULL: the node file; else this URI */
        const char *vm_prop;
        int status;
        const char *msg;                /* the one stderr line without "hpvm: "; NULL: none at all */
} SourceCase;

#define NO_PROFILE_PROP_FROM "<ovirt-vm:network>sriov-a</ovirt-vm:network>\n        <ovirt-vm:custom>\n          " \
                             "<ovirt-vm:sriov_migratable>true</ovirt-vm:sriov_migratable>\n        </ovirt-vm:custom>"
#define NO_PROFILE_PROP_TO "<ovirt-vm:network>sriov-a</ovirt-vm:network>"

static const SourceCase sources[] = {
        { "failover NICs only: nothing to do, libvirt never asked", "<interface type=\"hostdev\" managed=\"yes\">\n      "
          "<mac address=\"56:6f:1a:2b:00:11\"/>", "<interface type=\"hostdev\" managed=\"yes\">\n      <mac address=\""
          "56:6f:1a:2b:00:11\"/><teaming type=\"transient\" persistent=\"ua-backup0\"/>", "none",
          "qemu+unix:///system?socket=/nonexistent/sock", NULL, 0, NULL },
        { "not migratable: refused before anything", NO_PROFILE_PROP_FROM, NO_PROFILE_PROP_TO, "same",
          "qemu+unix:///system?socket=/nonexistent/sock", NULL, 2,
          "VF NIC 56:6f:1a:2b:00:11 (alias ua-sriov-a) may not migrate: set sriov_migratable=true on its vNIC profile, or "
          "the VM property sriov_migratable=all (or a list of MACs with 56:6f:1a:2b:00:11); the VM stays on this host" },
        { "a bad VM property", NULL, NULL, "same", NULL, "56:6f:1a:2b:00:1", 2,
          "sriov_migratable: '56:6f:1a:2b:00:1': '56:6f:1a:2b:00:1' is not a MAC address like 00:1a:4a:16:01:51 (expected "
          "all or a comma-separated list of MAC addresses)" },
        { "the VM property allows it; the test driver cannot unplug: plugged back, refused", NO_PROFILE_PROP_FROM,
          NO_PROFILE_PROP_TO, "same", NULL, "56:6f:1a:2b:00:11", 2,
          "VM 'vfmig-vm': cannot unplug VF NIC 56:6f:1a:2b:00:11 (alias ua-sriov-a): this function is not supported by the "
          "connection driver: virDomainDetachDeviceAlias; every NIC was plugged back; the migration is refused" },
        { "the engine unplugged the NIC already: nothing to do, no watcher", NULL, NULL, "no-vlan", NULL, NULL, 0, NULL },
        { "the VM is not in libvirt", NULL, NULL, "none", NULL, NULL, 2,
          "libvirt has no VM of UUID 5e1c7a2b-9d4f-4b3e-8a61-2f0d9c8b7a65 on this host" },
        { "libvirtd does not answer", NULL, NULL, "same", "qemu+unix:///system?socket=/nonexistent/sock", NULL, 2, "" },
        { "broken domain XML", "</domain>", "", "same", NULL, NULL, 2, "" },
};

START_TEST(test_source_hook)
{
        const SourceCase *t = &sources[_i];
        _cleanup_free_ char *xml = fixture(), *in = t->from ? edit(xml, t->from, t->to) : strdup(xml);
        _cleanup_free_ char *hook = bin("hooks/before_migration_source"), *domxml = NULL, *after = NULL, *uri = NULL;
        _cleanup_free_ char *e_dom = NULL, *e_cfg = NULL, *e_prop = NULL, *e_watch = NULL, *nodexml = NULL;
        const char *env[6];
        size_t n = 0, len;
        ThRun run;

        if (!strcmp(t->node, "same"))
                nodexml = strdup(in);
        else if (!strcmp(t->node, "no-vlan"))
                nodexml = edit(in, "<interface type=\"hostdev\" managed=\"yes\">\n      <mac address=\"56:6f:1a:2b:00:11\"/>",
                               "<interface type=\"hostdev\" managed=\"yes\">\n      <mac address=\"56:6f:1a:2b:00:99\"/>");
        else
                nodexml = strdup("<domain type='test'><name>else</name><memory>65536</memory><os><type>hvm</type></os>"
                                 "</domain>");
        if (strstr(nodexml, "</domain>"))
                write_node(&g_a, nodexml);
        uri = t->uri ? strdup(t->uri) : test_uri(&g_a);
        host_write_conf(&g_a, uri, NULL);
        ck_assert_int_ge(asprintf(&domxml, "%s/vm.xml", g_a.tree.tmp), 0);
        th_write(domxml, in, strlen(in), 0600);
        env[n++] = e_dom = env_kv("_hook_domxml", domxml);
        env[n++] = e_cfg = env_kv("HPVM_CONFIG", g_a.conf);
        /* A watcher must never start in these cases: a program that does not exist would fail the hook. */
        env[n++] = e_watch = env_kv("HPVM_WATCH_PROGRAM", "/nonexistent/hpvm-watch");
        if (t->vm_prop)
                env[n++] = e_prop = env_kv("sriov_migratable", t->vm_prop);
        env[n] = NULL;
        {
                const char *const argv[] = { hook, NULL };

                th_run((const char *const *)argv, env, 30, &run);
        }
        ck_assert_msg(run.status == t->status, "%s: exit %d, stderr %s", t->name, run.status, run.err);
        if (!t->msg)
                ck_assert_msg(!strcmp(run.err, ""), "%s: stderr %s", t->name, run.err);
        else if (*t->msg)
                assert_one_line(&run, t->msg);
        else
                ck_assert_msg(th_lines(run.err) == 1 && !strncmp(run.err, "hpvm: ", 6), "%s: %s", t->name, run.err);
        /* The hook's input is never its output (vdsm ignores it): untouched in every case. */
        after = th_slurp(domxml, &len);
        ck_assert_str_eq(after, in);
        th_run_clear(&run);
}
END_TEST

/* ------------------------------------------------------------ before_device_hotunplug, the binary */

typedef struct UnplugCase {
        const char *name;
        const char *input;              /* NULL: no file at all */
        const char *conf_extra;         /* added to hpvm.conf; "BROKEN": a broken file */
        bool damage;                    /* a damaged ledger */
        int status;
        const char *err;                /* stderr, exactly */
        const char *left;               /* the ledger afterwards; NULL: not checked */
} UnplugCase;

#define VLAN_NIC "<interface type=\"hostdev\" managed=\"no\">\n  <mac address=\"56:6f:1a:2b:00:11\"/>\n  <source>\n    " \
                 "<address type=\"pci\" domain=\"0x0000\" bus=\"0x3b\" slot=\"0x02\" function=\"0x1\"/>\n  </source>\n  " \
                 "<vlan>\n    <tag id=\"100\"/>\n  </vlan>\n  <alias name=\"ua-sriov-a\"/>\n</interface>\n"

static const UnplugCase unplug_hooks[] = {
        { "the VM's VF NIC: released", VLAN_NIC, NULL, false, 0, "",
          "0000:3b:02.2 in-use " OTHER " 52:54:00:00:00:02 sriov-fo\n" },
        { "a bridge NIC: not ours", "<interface type=\"bridge\"><mac address=\"56:6f:1a:2b:00:11\"/><source "
          "bridge=\"ovirtmgmt\"/></interface>", NULL, false, 0, "",
          "0000:3b:02.2 in-use " OTHER " 52:54:00:00:00:02 sriov-fo\n0000:3b:02.1 in-use " VM " 56:6f:1a:2b:00:11 sriov-a\n" },
        { "another VM's VF: warned, kept", "<interface type=\"hostdev\"><mac address=\"52:54:00:00:00:02\"/><source><address "
          "type=\"pci\" domain=\"0\" bus=\"0x3b\" slot=\"2\" function=\"2\"/></source></interface>", NULL, false, 0,
          "hpvm: warning: vfledger: VF 0000:3b:02.2 of NIC 52:54:00:00:00:02 is recorded for VM " OTHER ", not for VM " VM
          " that unplugs it: record left as it is\n",
          "0000:3b:02.2 in-use " OTHER " 52:54:00:00:00:02 sriov-fo\n0000:3b:02.1 in-use " VM " 56:6f:1a:2b:00:11 sriov-a\n" },
        { "broken input: refused", "<interface type=\"hostdev\"><mac address=\"56:6f:1a:2b:00:11\"/>", NULL, false, 2, NULL,
          NULL },
        { "not an <interface>: refused", "<hostdev/>", NULL, false, 2,
          "hpvm: interface XML: root element is <hostdev>, expected <interface>\n", NULL },
        { "a damaged ledger: warned, the unplug goes on", VLAN_NIC, NULL, true, 0, NULL, NULL },
        { "a broken hpvm.conf: warned, the unplug goes on", VLAN_NIC, "BROKEN", false, 0, NULL, NULL },
        { "no input file: refused", NULL, NULL, false, 2,
          "hpvm: before_device_hotunplug: no interface XML: $_hook_domxml is not set (run by vdsm, or give --domxml FILE)\n",
          NULL },
};

START_TEST(test_unplug_hook)
{
        const UnplugCase *t = &unplug_hooks[_i];
        _cleanup_free_ char *hook = bin("hooks/before_device_hotunplug"), *file = NULL, *e_dom = NULL, *e_cfg = NULL;
        _cleanup_free_ char *e_vm = env_kv("vmId", VM), *vfs = NULL;
        const char *env[4];
        size_t n = 0;
        ThRun run;

        hold(&g_b, OTHER, "0000:3b:02.2", "52:54:00:00:00:02", "sriov-fo");
        hold(&g_b, VM, "0000:3b:02.1", MAC_VLAN, "sriov-a");
        if (t->damage) {
                ck_assert_int_ge(asprintf(&vfs, "%s/vfs", g_b.state), 0);
                {
                        static const char bad[] = "hpvm-state 1 vfs\nvf 0000:3b:02.1 state=maybe\n";

                        th_write(vfs, bad, strlen(bad), 0644);
                }
        }
        if (t->conf_extra && !strcmp(t->conf_extra, "BROKEN"))
                th_write(g_b.conf, "state_dir = relative\n", 21, 0644);
        ck_assert_int_ge(asprintf(&file, "%s/nic.xml", g_b.tree.tmp), 0);
        if (t->input) {
                th_write(file, t->input, strlen(t->input), 0600);
                env[n++] = e_dom = env_kv("_hook_domxml", file);
        }
        env[n++] = e_cfg = env_kv("HPVM_CONFIG", g_b.conf);
        env[n++] = e_vm;
        env[n] = NULL;
        {
                const char *const argv[] = { hook, NULL };

                th_run(argv, env, 10, &run);
        }
        ck_assert_msg(run.status == t->status, "%s: exit %d: %s", t->name, run.status, run.err);
        if (t->err)
                ck_assert_str_eq(run.err, t->err);
        else
                ck_assert_msg(th_lines(run.err) == 1 && !strncmp(run.err, t->status ? "hpvm: " : "hpvm: warning: ",
                                                                 t->status ? 6 : 15),
                              "%s: %s", t->name, run.err);
        if (t->left)
                assert_ledger(&g_b, t->left, t->name);
        if (t->input) {
                size_t len;
                _cleanup_free_ char *after = th_slurp(file, &len);

                ck_assert_str_eq(after, t->input);
        }
        th_run_clear(&run);
}
END_TEST

/* ------------------------------------------------------------ the watcher, the binary */

/* The VM runs on here and no migration comes (test driver): "not-started", the record's NICs back (none), VFs kept. */
START_TEST(test_watch_not_started)
{
        _cleanup_free_ char *xml = fixture(), *uri = NULL, *watch = bin("hooks/hpvm-watch"), *res = NULL, *said = NULL;
        _cleanup_free_ char *e_cfg = NULL, *e_res = NULL;
        size_t len;
        ThRun run;

        hold(&g_a, VM, "0000:3b:02.1", MAC_VLAN, "sriov-a");
        write_node(&g_a, xml);
        uri = test_uri(&g_a);
        host_write_conf(&g_a, uri, NULL);
        ck_assert_int_ge(asprintf(&res, "%s/watch.result", g_a.tree.tmp), 0);
        e_cfg = env_kv("HPVM_CONFIG", g_a.conf);
        e_res = env_kv("HPVM_WATCH_RESULT", res);
        {
                const char *const argv[] = { watch, "--config", g_a.conf, VM, NULL };
                const char *const env[] = { e_res, NULL };

                th_run(argv, env, 30, &run);
        }
        ck_assert_msg(run.status == 0, "%d: %s", run.status, run.err);
        said = th_slurp(res, &len);
        ck_assert_msg(strstr(said, "start pid=") == said, "%s", said);
        ck_assert_msg(strstr(said, " outcome=not-started job_seen=-1.00 "), "%s", said);
        ck_assert_msg(strstr(said, "failure action done (0)"), "%s", said);
        assert_ledger(&g_a, "0000:3b:02.1 in-use " VM " " MAC_VLAN " sriov-a\n", "not started");
        th_run_clear(&run);
        {
                const char *const argv[] = { watch, "not-a-uuid", NULL };
                const char *const env[] = { e_cfg, NULL };

                th_run(argv, env, 30, &run);
                ck_assert_int_eq(run.status, 1);
                th_run_clear(&run);
        }
}
END_TEST

/* ------------------------------------------------------------ who loads libvirt */

/* The DT_NEEDED names of an ELF file (64-bit, as built here), '\n'-separated. */
static char *needed(const char *path)
{
        size_t len;
        _cleanup_free_ char *img = th_slurp(path, &len);
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
        const Elf64_Shdr *sh;
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);

        ck_assert(len > sizeof(*eh) && !memcmp(eh->e_ident, ELFMAG, SELFMAG) && eh->e_ident[EI_CLASS] == ELFCLASS64);
        ck_assert(eh->e_shoff + (size_t)eh->e_shnum * sizeof(*sh) <= len);
        sh = (const Elf64_Shdr *)(img + eh->e_shoff);
        for (unsigned i = 0; i < eh->e_shnum; i++) {
                const Elf64_Shdr *strs;

                if (sh[i].sh_type != SHT_DYNAMIC)
                        continue;
                ck_assert(sh[i].sh_link < eh->e_shnum);
                strs = &sh[sh[i].sh_link];
                ck_assert(sh[i].sh_offset + sh[i].sh_size <= len && strs->sh_offset + strs->sh_size <= len);
                for (const Elf64_Dyn *d = (const Elf64_Dyn *)(img + sh[i].sh_offset);
                     (const char *)(d + 1) <= img + sh[i].sh_offset + sh[i].sh_size && d->d_tag != DT_NULL; d++)
                        if (d->d_tag == DT_NEEDED && d->d_un.d_val < strs->sh_size)
                                fprintf(f, "%s\n", img + strs->sh_offset + d->d_un.d_val);
        }
        fclose(f);
        return out;
}

static const struct {
        const char *bin;
        bool libvirt;
} linkage[] = {
        { "hooks/before_vm_start", false },
        { "hooks/before_device_hotunplug", false },
        { "hooks/before_migration_source", true },
        { "hooks/hpvm-watch", true },
};

START_TEST(test_linkage)
{
        _cleanup_free_ char *path = bin(linkage[_i].bin), *libs = needed(path);

        ck_assert_ptr_nonnull(strstr(libs, "libxml2.so"));
        ck_assert_msg(!!strstr(libs, "libvirt.so") == linkage[_i].libvirt, "%s needs:\n%s", linkage[_i].bin, libs);
}
END_TEST

static Suite *vfmigrate_suite(void)
{
        Suite *s = suite_create("vfmigrate");
        TCase *tc = tcase_create("sequence");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_sequence, 0, (int)HPVM_ARRAY_SIZE(seq_names));
        suite_add_tcase(s, tc);

        tc = tcase_create("destination");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_reserve_no_vf);
        tcase_add_loop_test(tc, test_reserve_node, 0, (int)HPVM_ARRAY_SIZE(node_cases));
        tcase_add_test(tc, test_nothing_to_do);
        tcase_add_test(tc, test_repoint_refusal);
        tcase_add_test(tc, test_arrived);
        suite_add_tcase(s, tc);

        tc = tcase_create("source");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_loop_test(tc, test_source_plan, 0, (int)HPVM_ARRAY_SIZE(plans));
        tcase_add_loop_test(tc, test_release_nic, 0, (int)HPVM_ARRAY_SIZE(unplugs));
        suite_add_tcase(s, tc);

        tc = tcase_create("binaries");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_source_hook, 0, (int)HPVM_ARRAY_SIZE(sources));
        tcase_add_loop_test(tc, test_unplug_hook, 0, (int)HPVM_ARRAY_SIZE(unplug_hooks));
        tcase_add_test(tc, test_watch_not_started);
        tcase_add_loop_test(tc, test_linkage, 0, (int)HPVM_ARRAY_SIZE(linkage));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(vfmigrate_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
