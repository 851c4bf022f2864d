/* test-vfledger.c: the VF ledger: reserving (all or nothing, preferred VF, NUMA node, networks), use, release, expiry, reclaim, damage, racing and killed reservers. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sriovtree.h"
#include "testhelp.h"
#include "vfledger.h"

#define VM_A "0b6e1c9a-7d2f-4e31-9a58-1f0c2d3e4a5b"
#define VM_B "5c2d8e7f-1a3b-4c6d-8e9f-0a1b2c3d4e5f"
#define VM_C "9f8e7d6c-5b4a-4392-8172-6e5d4c3b2a10"
#define MAC1 "00:1a:4a:16:01:51"
#define MAC2 "00:1a:4a:16:01:52"
#define MAC3 "00:1a:4a:16:01:53"
#define NOW 1000
#define HEADER "hpvm-state 1 vfs\n"
#define HINT "remove it: VFs that running VMs hold stay busy through their vfio-pci binding, and the hooks record " \
             "them again"
#define CRASH_BUDGET_S 4

static char *dir;               /* the test's folder; the state files go to <dir>/state */
static char *data;              /* <dir>/state/vfs */
static HpvmConfig *cfg;
static ThTree tree;
static HpvmVfInventory *inv;

/* hpvm.conf: the state folder and @extra lines. */
static void configure(const char *extra)
{
        char text[1024];
        HpvmError err = { 0 };

        hpvm_config_free(cfg);
        cfg = NULL;
        snprintf(text, sizeof(text), "state_dir=%s/state\n%s", dir, extra ? extra : "");
        ck_assert_msg(hpvm_config_parse("test.conf", text, strlen(text), &cfg, &err) == 0, "%s", err.msg);
}

/* The inventory of a tree built by @build. */
static void load_tree(void (*build)(const char *root))
{
        HpvmError err = { 0 };

        build(tree.root);
        hpvm_vf_inventory_free(inv);
        inv = NULL;
        ck_assert_msg(hpvm_vf_inventory_load(tree.root, &inv, &err) == 0, "%s", err.msg);
}

static void setup(void)
{
        dir = th_tmpdir();
        ck_assert_int_ge(asprintf(&data, "%s/state/vfs", dir), 0);
        th_tree_init(&tree);
        configure(NULL);
}

static void teardown(void)
{
        hpvm_vf_inventory_free(inv);
        inv = NULL;
        hpvm_config_free(cfg);
        cfg = NULL;
        th_tree_clear(&tree);
        th_rmtree(dir);
        free(dir);
        free(data);
}

/* The data file holds HEADER and @records. */
static void write_records(const char *records)
{
        char path[4096];
        _cleanup_free_ char *text = NULL;

        snprintf(path, sizeof(path), "%s/state", dir);
        mkdir(path, 0755);
        ck_assert_int_ge(asprintf(&text, HEADER "%s", records), 0);
        th_write(data, text, strlen(text), 0664);
}

static HpvmVfLedger *open_ok(void)
{
        HpvmVfLedger *l = NULL;
        HpvmError err = { 0 };

        ck_assert_msg(hpvm_vfledger_open(cfg, &l, &err) == 0, "%s", err.msg);
        return l;
}

static void commit_ok(HpvmVfLedger *l)
{
        HpvmError err = { 0 };

        ck_assert_msg(hpvm_vfledger_commit(l, &err) == 0, "%s", err.msg);
}

static HpvmPciAddr addr_of(const char *s)
{
        HpvmPciAddr a;

        ck_assert_int_eq(hpvm_pci_addr_parse(s, strlen(s), &a), 0);
        return a;
}

static HpvmMac mac_of(const char *s)
{
        HpvmMac m;

        ck_assert_int_eq(hpvm_mac_parse(s, strlen(s), &m), 0);
        return m;
}

static const char *vf_name(size_t i, char *buf)
{
        return hpvm_pci_addr_format(&inv->vfs[i].addr, buf, HPVM_PCI_ADDR_STRLEN);
}

/* ---------------------------------------------------------------- reserving: the table */

typedef struct Req {
        const char *mac;
        const char *network;
        const char *preferred;  /* NULL: none */
        int node;
} Req;

typedef struct ReserveCase {
        const char *name;
        const char *conf;       /* hpvm.conf lines besides state_dir */
        const char *held;       /* records before the call (file syntax) */
        Req reqs[3];            /* up to the first with a NULL mac */
        int code;
        const char *want;       /* on success: the VFs, comma-separated, in request order; else the message */
} ReserveCase;

#define R(mac, net, pref, node) { mac, net, pref, node }
#define HELD(addr, rest) "vf " addr " " rest "\n"

/*
 * The host is th_sriov_two_cards(): ens1f0 (node 0) 0000:3b:02.0 iavf, .1
 * vfio-pci, .2 iavf, .3 iavf; ens1f1 (node 0) 0000:3b:0a.0 unbound, .1
 * pci-stub; eno5 (node 1) 0000:af:00.2 mlx5_core, .3 mlx5_core, .4
 * vfio-pci; ens2f1 with SR-IOV off.
 */
static const ReserveCase reserve_cases[] = {
        { "first free VF", NULL, "", { R(MAC1, "a", NULL, -1) }, 0, "0000:3b:02.0" },
        { "the source's VF", NULL, "", { R(MAC1, "a", "0000:af:00.3", -1) }, 0, "0000:af:00.3" },
        /* vdsm bound the source's VF to vfio-pci on this host before the check: it is this VM's, not busy. */
        { "the source's VF, bound to vfio-pci by vdsm", NULL, "", { R(MAC1, "a", "0000:3b:02.1", -1) }, 0,
          "0000:3b:02.1" },
        { "the source's VF, bound to pci-stub", NULL, "", { R(MAC1, "a", "0000:3b:0a.1", 1) }, 0, "0000:3b:0a.1" },
        /* Bound to vfio-pci without a record and nobody's preferred VF: a guest the ledger never heard of. */
        { "vfio-bound VFs are never handed out", "sriov_pfs.a=ens1f0\n",
          HELD("0000:3b:02.0", "state=in-use vm=" VM_B " since=1") HELD("0000:3b:02.2", "state=in-use vm=" VM_B " since=1")
          HELD("0000:3b:02.3", "state=in-use vm=" VM_B " since=1"),
          { R(MAC1, "a", NULL, -1) }, -ENOSPC, "no free VF for network 'a': PF ens1f0 has 4 VFs, all reserved or in use" },
        { "the source's VF in use by another VM", NULL, HELD("0000:3b:02.1", "state=in-use vm=" VM_B " since=1"),
          { R(MAC1, "a", "0000:3b:02.1", -1) }, 0, "0000:3b:02.0" },
        { "the source's VF reserved by another VM", NULL,
          HELD("0000:3b:02.1", "state=reserved vm=" VM_B " mac=" MAC1 " since=900 expires=1001"),
          { R(MAC1, "a", "0000:3b:02.1", -1) }, 0, "0000:3b:02.0" },
        { "another VM's expired reservation is free", NULL,
          HELD("0000:3b:02.0", "state=reserved vm=" VM_B " mac=" MAC2 " since=1 expires=1000"),
          { R(MAC1, "a", NULL, -1) }, 0, "0000:3b:02.0" },
        { "the source's VF under another VM's expired reservation", NULL,
          HELD("0000:3b:02.1", "state=reserved vm=" VM_B " mac=" MAC2 " since=1 expires=999"),
          { R(MAC1, "a", "0000:3b:02.1", -1) }, 0, "0000:3b:02.1" },
        { "the source's VF already in use by this VM", NULL, HELD("0000:3b:02.0", "state=in-use vm=" VM_A " since=1"),
          { R(MAC1, "a", "0000:3b:02.0", -1) }, 0, "0000:3b:02.2" },
        { "NUMA node", NULL, "", { R(MAC1, "a", NULL, 1) }, 0, "0000:af:00.2" },
        { "the source's VF before the NUMA node", NULL, "", { R(MAC1, "a", "0000:3b:02.3", 1) }, 0, "0000:3b:02.3" },
        { "a node without free VFs", NULL, "", { R(MAC1, "a", NULL, 5) }, 0, "0000:3b:02.0" },
        { "the source's VF missing here", NULL, "", { R(MAC1, "a", "0000:3b:1f.7", 1) }, 0, "0000:af:00.2" },
        /* Networks and PFs. */
        { "no sriov_pfs key: every PF", NULL, "", { R(MAC1, "anything", NULL, -1), R(MAC2, NULL, NULL, -1) }, 0,
          "0000:3b:02.0,0000:3b:02.2" },
        { "listed PF", "sriov_pfs.a=eno5\n", "", { R(MAC1, "a", NULL, -1) }, 0, "0000:af:00.2" },
        { "the source's VF on a PF not serving the network", "sriov_pfs.a=eno5\n", "",
          { R(MAC1, "a", "0000:3b:02.0", -1) }, 0, "0000:af:00.2" },
        { "no key for this network", "sriov_pfs.b=eno5\n", "", { R(MAC1, "a", NULL, -1) }, -ENOSPC,
          "no free VF for network 'a': no PF serves it (test.conf names the PFs of other networks only: "
          "add sriov_pfs.a=<PF>[,<PF>...])" },
        { "network not known", "sriov_pfs.b=eno5\n", "", { R(MAC1, NULL, NULL, -1) }, -ENOSPC,
          "no free VF for the NIC " MAC1 ": its network is not known, and test.conf gives the PFs of each network "
          "(sriov_pfs.<network>)" },
        { "PF with SR-IOV off", "sriov_pfs.a=ens2f1\n", "", { R(MAC1, "a", NULL, -1) }, -ENOSPC,
          "no free VF for network 'a': PF ens2f1 has no VFs (SR-IOV is off: sriov_numvfs is 0)" },
        { "PF not on this host", "sriov_pfs.a=ens9\n", "", { R(MAC1, "a", NULL, -1) }, -ENOSPC,
          "no free VF for network 'a': this host has no SR-IOV PF named ens9 (its PFs: ens1f0, ens1f1, eno5, ens2f1)" },
        /* Several NICs. */
        { "three NICs, two networks", "sriov_pfs.a=eno5\nsriov_pfs.b=ens1f0\n", "",
          { R(MAC1, "a", "0000:af:00.3", -1), R(MAC2, "a", NULL, 1), R(MAC3, "b", "0000:3b:02.0", -1) }, 0,
          "0000:af:00.3,0000:af:00.2,0000:3b:02.0" },
        { "all or nothing", "sriov_pfs.a=eno5\n", HELD("0000:3b:02.0", "state=in-use vm=" VM_B " since=1"),
          { R(MAC1, "a", NULL, -1), R(MAC2, "a", NULL, -1), R(MAC3, "a", NULL, -1) }, -ENOSPC,
          "no free VF for network 'a': PF eno5 has 3 VFs, all reserved or in use" },
        { "all or nothing, second network", "sriov_pfs.a=eno5\nsriov_pfs.b=ens1f1\n", "",
          { R(MAC1, "a", NULL, -1), R(MAC2, "b", NULL, -1), R(MAC3, "b", NULL, -1) }, -ENOSPC,
          "no free VF for network 'b': PF ens1f1 has 2 VFs, all reserved or in use" },
        { "one NIC's source VF is not another's first choice", NULL, "",
          { R(MAC1, "a", NULL, -1), R(MAC2, "a", "0000:3b:02.0", -1) }, 0, "0000:3b:02.2,0000:3b:02.0" },
        { "the NIC with fewer choices first", "sriov_pfs.a=ens1f0,eno5\nsriov_pfs.b=eno5\n",
          HELD("0000:af:00.3", "state=in-use vm=" VM_B " since=1"),
          { R(MAC1, "a", NULL, 1), R(MAC2, "b", NULL, -1) }, 0, "0000:3b:02.0,0000:af:00.2" },
        /* A retried destination check. */
        { "own reservation reused", NULL,
          HELD("0000:3b:02.3", "state=reserved vm=" VM_A " mac=" MAC1 " network=a since=900 expires=2000"),
          { R(MAC1, "a", "0000:af:00.2", -1) }, 0, "0000:3b:02.3" },
        { "own reservation of a vfio-bound VF", NULL,
          HELD("0000:af:00.4", "state=reserved vm=" VM_A " mac=" MAC2 " since=900 expires=2000"),
          { R(MAC1, "a", NULL, -1), R(MAC2, "a", NULL, -1) }, 0, "0000:3b:02.0,0000:af:00.4" },
        { "own reservation for a NIC gone is free to the others", "sriov_pfs.a=ens1f1\n",
          HELD("0000:3b:0a.1", "state=reserved vm=" VM_A " mac=" MAC3 " since=900 expires=2000"),
          { R(MAC1, "a", NULL, -1), R(MAC2, "a", NULL, -1) }, 0, "0000:3b:0a.0,0000:3b:0a.1" },
        { "own reservation on a PF that no longer serves the network", "sriov_pfs.a=eno5\n",
          HELD("0000:3b:02.3", "state=reserved vm=" VM_A " mac=" MAC1 " since=900 expires=2000"),
          { R(MAC1, "a", NULL, -1) }, 0, "0000:af:00.2" },
        /* Bad calls. */
        { "two NICs, one MAC", NULL, "", { R(MAC1, "a", NULL, -1), R(MAC1, "b", NULL, -1) }, -EINVAL,
          "VM " VM_A ": two NICs have the MAC " MAC1 },
};

static size_t count_reqs(const ReserveCase *t)
{
        size_t n = 0;

        while (n < HPVM_ARRAY_SIZE(t->reqs) && t->reqs[n].mac)
                n++;
        return n;
}

START_TEST(test_reserve)
{
        const ReserveCase *t = &reserve_cases[_i];
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        _cleanup_free_ char *before = NULL, *after = NULL;
        size_t n = count_reqs(t), picks[3] = { 77, 77, 77 };
        HpvmVfRequest reqs[3];
        HpvmError err = { 0 };
        char got[128] = "", a[HPVM_PCI_ADDR_STRLEN];
        int r;

        configure(t->conf);
        load_tree(th_sriov_two_cards);
        write_records(t->held);
        before = th_slurp(data, NULL);
        for (size_t k = 0; k < n; k++) {
                reqs[k] = (HpvmVfRequest){ .mac = mac_of(t->reqs[k].mac), .network = t->reqs[k].network,
                                           .preferred_node = t->reqs[k].node };
                if (t->reqs[k].preferred) {
                        reqs[k].has_preferred = true;
                        reqs[k].preferred = addr_of(t->reqs[k].preferred);
                }
        }
        l = open_ok();
        r = hpvm_vfledger_reserve(l, inv, cfg, VM_A, reqs, n, NOW, picks, &err);
        ck_assert_msg(r == t->code, "%s: got %d (%s)", t->name, r, err.msg);
        if (r < 0) {
                ck_assert_str_eq(err.msg, t->want);
                /* Nothing recorded, nothing returned. */
                ck_assert(!hpvm_vfledger_commit(l, &err));
                hpvm_vfledger_close(l);
                l = NULL;
                after = th_slurp(data, NULL);
                ck_assert_str_eq(after, before);
                for (size_t k = 0; k < 3; k++)
                        ck_assert_uint_eq(picks[k], 77);
                return;
        }
        for (size_t k = 0; k < n; k++) {
                HpvmVfEntry e;

                ck_assert_uint_lt(picks[k], inv->nvfs);
                strcat(got, k ? "," : "");
                strcat(got, vf_name(picks[k], a));
                /* Recorded as this NIC's reservation, for the reservation timeout (default 1800 s). */
                ck_assert_int_eq(hpvm_vfledger_find_nic(l, VM_A, &reqs[k].mac, &e, &err), 0);
                ck_assert(hpvm_pci_addr_equal(&e.addr, &inv->vfs[picks[k]].addr));
                ck_assert(e.reserved);
                ck_assert_int_eq(e.since, NOW);
                ck_assert_int_eq(e.expires, NOW + 1800);
                ck_assert_str_eq(e.network, t->reqs[k].network ? t->reqs[k].network : "");
        }
        ck_assert_msg(!strcmp(got, t->want), "%s: got %s, expected %s", t->name, got, t->want);
        /* The VM's reservations are exactly these: one left from a NIC gone is dropped. */
        {
                size_t pos = 0, mine = 0;
                HpvmVfEntry e;

                while (hpvm_vfledger_next(l, VM_A, &pos, &e, &err) > 0)
                        mine += e.reserved;
                ck_assert_uint_eq(mine, n);
        }
}
END_TEST

/* ---------------------------------------------------------------- the whole life of a VF */

START_TEST(test_round_trip)
{
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        _cleanup_free_ char *text = NULL;
        HpvmVfRequest reqs[2] = {
                { .mac = mac_of(MAC1), .network = "sriov a%", .has_preferred = true,
                  .preferred = addr_of("0000:3b:02.1"), .preferred_node = -1 },
                { .mac = mac_of("00:1A:4A:16:01:5F"), .network = "b", .preferred_node = 1 },
        };
        HpvmMac m2 = mac_of("00:1a:4a:16:01:5f"), m9 = mac_of("02:00:00:00:00:09");
        HpvmVfEntry e;
        HpvmError err = { 0 };
        size_t picks[2], pos = 0;

        configure("vf_reservation_timeout=60\n");
        load_tree(th_sriov_two_cards);
        l = open_ok();
        ck_assert_uint_eq(hpvm_vfledger_count(l), 0);
        ck_assert_msg(hpvm_vfledger_reserve(l, inv, cfg, VM_A, reqs, 2, NOW, picks, &err) == 0, "%s", err.msg);
        commit_ok(l);
        hpvm_vfledger_close(l);
        text = th_slurp(data, NULL);
        ck_assert_str_eq(text, HEADER
                         "vf 0000:3b:02.1 state=reserved vm=" VM_A " mac=" MAC1 " network=sriov%20a%25 since=1000 "
                         "expires=1060\n"
                         "vf 0000:af:00.2 state=reserved vm=" VM_A " mac=00:1a:4a:16:01:5f network=b since=1000 "
                         "expires=1060\n");

        /* Lookups, after a reopen. */
        l = open_ok();
        ck_assert_uint_eq(hpvm_vfledger_count(l), 2);
        ck_assert_int_eq(hpvm_vfledger_at(l, 1, &e, &err), 0);
        ck_assert(hpvm_pci_addr_equal(&e.addr, &inv->vfs[picks[1]].addr));
        ck_assert_int_eq(hpvm_vfledger_at(l, 2, &e, &err), -ENOENT);
        ck_assert_int_eq(hpvm_vfledger_get(l, &inv->vfs[picks[0]].addr, &e, &err), 0);
        ck_assert(e.reserved && e.has_mac);
        ck_assert_str_eq(e.vm, VM_A);
        ck_assert_str_eq(e.network, "sriov a%");
        ck_assert_int_eq(e.expires, 1060);
        ck_assert_int_eq(hpvm_vfledger_get(l, &(HpvmPciAddr){ 0, 0x3b, 2, 0 }, &e, &err), -ENOENT);
        ck_assert_int_eq(hpvm_vfledger_find_nic(l, VM_A, &m2, &e, &err), 0);
        ck_assert_str_eq(e.network, "b");
        ck_assert_int_eq(hpvm_vfledger_find_nic(l, VM_A, &m9, &e, &err), -ENOENT);
        ck_assert_int_eq(hpvm_vfledger_find_nic(l, VM_B, &m2, &e, &err), -ENOENT);
        /* Any case of the vmId: libvirt writes it in lower case, engine may not. */
        ck_assert_int_eq(hpvm_vfledger_next(l, "0B6E1C9A-7D2F-4E31-9A58-1F0C2D3E4A5B", &pos, &e, &err), 1);
        ck_assert_int_eq(hpvm_vfledger_next(l, VM_A, &pos, &e, &err), 1);
        ck_assert_int_eq(hpvm_vfledger_next(l, VM_A, &pos, &e, &err), 0);
        pos = 0;
        ck_assert_int_eq(hpvm_vfledger_next(l, VM_B, &pos, &e, &err), 0);

        /* The migration arrived: both VFs in use since then, no expiry. */
        ck_assert_int_eq(hpvm_vfledger_use(l, VM_B, 1010), 0);
        ck_assert_int_eq(hpvm_vfledger_use(l, VM_A, 1010), 2);
        ck_assert_int_eq(hpvm_vfledger_use(l, VM_A, 1011), 0);
        ck_assert_int_eq(hpvm_vfledger_find_nic(l, VM_A, &m2, &e, &err), 0);
        ck_assert(!e.reserved);
        ck_assert_int_eq(e.since, 1010);
        ck_assert_int_eq(e.expires, 0);
        commit_ok(l);
        free(text);
        text = th_slurp(data, NULL);
        ck_assert_str_eq(text, HEADER
                         "vf 0000:3b:02.1 state=in-use vm=" VM_A " mac=" MAC1 " network=sriov%20a%25 since=1010\n"
                         "vf 0000:af:00.2 state=in-use vm=" VM_A " mac=00:1a:4a:16:01:5f network=b since=1010\n");

        /* before_nic_hotunplug of one NIC, then after_vm_destroy. */
        ck_assert_int_eq(hpvm_vfledger_release_vf(l, &inv->vfs[picks[0]].addr), 0);
        ck_assert_int_eq(hpvm_vfledger_release_vf(l, &inv->vfs[picks[0]].addr), -ENOENT);
        ck_assert_int_eq(hpvm_vfledger_release_reservations(l, VM_A), 0);
        ck_assert_int_eq(hpvm_vfledger_release_vm(l, VM_A), 1);
        ck_assert_int_eq(hpvm_vfledger_release_vm(l, VM_A), 0);
        commit_ok(l);
        free(text);
        text = th_slurp(data, NULL);
        ck_assert_str_eq(text, HEADER);
}
END_TEST

START_TEST(test_mark_in_use)
{
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        _cleanup_free_ char *text = NULL;
        HpvmPciAddr a0 = addr_of("0000:3b:02.0"), a2 = addr_of("0000:3b:02.2"), a3 = addr_of("0000:3b:02.3");
        HpvmPciAddr a4 = addr_of("0000:af:00.4");
        HpvmMac m1 = mac_of(MAC1);
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };
        char longnet[300];

        write_records(HELD("0000:3b:02.2", "state=reserved vm=" VM_B " mac=" MAC2 " since=1 expires=2000")
                      HELD("0000:3b:02.3", "state=reserved vm=" VM_B " mac=" MAC3 " since=1 expires=999")
                      HELD("0000:3b:02.0", "state=in-use vm=" VM_C " since=1"));
        l = open_ok();
        /* A VF nobody recorded: recorded, no warning. */
        ck_assert_int_eq(hpvm_vfledger_mark_in_use(l, VM_A, &a4, &m1, "a", NOW, &warn, &err), 0);
        /* Another VM's expired reservation: replaced quietly. */
        ck_assert_int_eq(hpvm_vfledger_mark_in_use(l, VM_A, &a3, NULL, NULL, NOW, &warn, &err), 0);
        ck_assert_uint_eq(warn.n, 0);
        /* Another VM's valid reservation, another VM's VF in use: the guest holding it wins, with a word. */
        ck_assert_int_eq(hpvm_vfledger_mark_in_use(l, VM_A, &a2, &m1, "", NOW, &warn, &err), 1);
        ck_assert_int_eq(hpvm_vfledger_mark_in_use(l, VM_A, &a0, NULL, NULL, NOW, &warn, &err), 1);
        ck_assert_uint_eq(warn.n, 2);
        ck_assert_str_eq(warn.msg[0], "vfledger: VF 0000:3b:02.2 was reserved for VM " VM_B "; VM " VM_A " holds it now");
        ck_assert_str_eq(warn.msg[1], "vfledger: VF 0000:3b:02.0 was in use by VM " VM_C "; VM " VM_A " holds it now");
        /* Its own VF again (after_vm_migrate_destination re-plug): no warning. */
        ck_assert_int_eq(hpvm_vfledger_mark_in_use(l, VM_A, &a0, &m1, "a", NOW + 1, &warn, &err), 0);
        ck_assert_uint_eq(warn.n, 2);
        commit_ok(l);
        text = th_slurp(data, NULL);
        ck_assert_str_eq(text, HEADER
                         "vf 0000:af:00.4 state=in-use vm=" VM_A " mac=" MAC1 " network=a since=1000\n"
                         "vf 0000:3b:02.3 state=in-use vm=" VM_A " since=1000\n"
                         "vf 0000:3b:02.2 state=in-use vm=" VM_A " mac=" MAC1 " since=1000\n"
                         "vf 0000:3b:02.0 state=in-use vm=" VM_A " mac=" MAC1 " network=a since=1001\n");

        /* Bad calls change nothing. */
        ck_assert_int_eq(hpvm_vfledger_mark_in_use(l, "no vm", &a0, NULL, NULL, NOW, &warn, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "'no vm' cannot name a VM in the VF ledger");
        memset(longnet, 'n', sizeof(longnet) - 1);
        longnet[sizeof(longnet) - 1] = '\0';
        ck_assert_int_eq(hpvm_vfledger_mark_in_use(l, VM_A, &a0, NULL, longnet, NOW, &warn, &err), -EINVAL);
        ck_assert_msg(strstr(err.msg, "': longer than 255 bytes"), "%s", err.msg);
        ck_assert_int_eq(hpvm_vfledger_mark_in_use(l, VM_A, NULL, NULL, NULL, NOW, &warn, &err), -EINVAL);
        commit_ok(l);
        {
                _cleanup_free_ char *again = th_slurp(data, NULL);

                ck_assert_str_eq(again, text);
        }
}
END_TEST

START_TEST(test_bad_calls)
{
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        HpvmVfRequest many[HPVM_VFLEDGER_REQUESTS_MAX + 1] = { 0 };
        HpvmVfRequest one = { .mac = mac_of(MAC1), .network = "a", .preferred_node = -1 };
        char longnet[300];
        size_t pick = 77;
        HpvmError err = { 0 };

        load_tree(th_sriov_two_cards);
        l = open_ok();
        ck_assert_int_eq(hpvm_vfledger_reserve(l, inv, cfg, "vm 1", &one, 1, NOW, &pick, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "'vm 1' cannot name a VM in the VF ledger");
        ck_assert_int_eq(hpvm_vfledger_reserve(l, inv, cfg, VM_A, many, HPVM_ARRAY_SIZE(many), NOW, &pick, &err),
                         -E2BIG);
        ck_assert_str_eq(err.msg, "VM " VM_A " asks for 257 VFs, more than the 256 one VM may have");
        memset(longnet, 'n', sizeof(longnet) - 1);
        longnet[sizeof(longnet) - 1] = '\0';
        one.network = longnet;
        ck_assert_int_eq(hpvm_vfledger_reserve(l, inv, cfg, VM_A, &one, 1, NOW, &pick, &err), -EINVAL);
        ck_assert_msg(strstr(err.msg, "' of the NIC " MAC1 ": longer than 255 bytes"), "%s", err.msg);
        ck_assert_int_eq(hpvm_vfledger_reserve(l, NULL, cfg, VM_A, &one, 1, NOW, &pick, &err), -EINVAL);
        ck_assert_int_eq(hpvm_vfledger_reserve(l, inv, cfg, VM_A, &one, 1, NOW, NULL, &err), -EINVAL);
        ck_assert_uint_eq(pick, 77);
        ck_assert_uint_eq(hpvm_vfledger_count(l), 0);
        /* No NIC at all: nothing to reserve, and the VM's old reservations go. */
        ck_assert_int_eq(hpvm_vfledger_reserve(l, inv, cfg, VM_A, NULL, 0, NOW, NULL, &err), 0);
        ck_assert_int_eq(hpvm_vfledger_open(NULL, &l, &err), -EINVAL);
}
END_TEST

/* ---------------------------------------------------------------- time */

START_TEST(test_expiry)
{
        HpvmVfRequest q = { .mac = mac_of(MAC1), .network = "a", .preferred_node = -1 };
        HpvmError err = { 0 };
        size_t pick = 77;
        char a[HPVM_PCI_ADDR_STRLEN];

        /* ens1f1 has one VF to give: 0000:3b:0a.0 (0a.1 is bound to pci-stub). */
        configure("sriov_pfs.a=ens1f1\nvf_reservation_timeout=600\n");
        load_tree(th_sriov_two_cards);
        {
                _cleanup_vfledger_ HpvmVfLedger *l = open_ok();

                ck_assert_int_eq(hpvm_vfledger_reserve(l, inv, cfg, VM_B, &q, 1, NOW, &pick, &err), 0);
                ck_assert_str_eq(vf_name(pick, a), "0000:3b:0a.0");
                commit_ok(l);
        }
        {
                /* Up to its last second the reservation holds the VF. */
                _cleanup_vfledger_ HpvmVfLedger *l = open_ok();

                pick = 77;
                ck_assert_int_eq(hpvm_vfledger_reserve(l, inv, cfg, VM_A, &q, 1, NOW + 599, &pick, &err), -ENOSPC);
                ck_assert_str_eq(err.msg, "no free VF for network 'a': PF ens1f1 has 2 VFs, all reserved or in use");
                ck_assert_uint_eq(pick, 77);
                /* The same VM retrying its check keeps it and gets a fresh expiry. */
                ck_assert_int_eq(hpvm_vfledger_reserve(l, inv, cfg, VM_B, &q, 1, NOW + 300, &pick, &err), 0);
                ck_assert_str_eq(vf_name(pick, a), "0000:3b:0a.0");
                commit_ok(l);
        }
        {
                _cleanup_vfledger_ HpvmVfLedger *l = open_ok();
                HpvmVfEntry e;

                ck_assert_int_eq(hpvm_vfledger_reserve(l, inv, cfg, VM_A, &q, 1, NOW + 899, &pick, &err), -ENOSPC);
                /* Expired: the VF goes to the next VM, whose record replaces the old one. */
                ck_assert_int_eq(hpvm_vfledger_reserve(l, inv, cfg, VM_A, &q, 1, NOW + 900, &pick, &err), 0);
                ck_assert_str_eq(vf_name(pick, a), "0000:3b:0a.0");
                ck_assert_uint_eq(hpvm_vfledger_count(l), 1);
                ck_assert_int_eq(hpvm_vfledger_get(l, &inv->vfs[pick].addr, &e, &err), 0);
                ck_assert_str_eq(e.vm, VM_A);
                ck_assert_int_eq(e.expires, NOW + 1500);
                /* A migration that arrives late still turns its (expired) reservation into use. */
                ck_assert_int_eq(hpvm_vfledger_use(l, VM_A, NOW + 5000), 1);
        }
}
END_TEST

/* A fake proc tree under @root where QEMU runs the guests named. */
static void fake_qemu(const char *root, const char *const *uuids)
{
        char path[4096];

        snprintf(path, sizeof(path), "%s/proc", root);
        mkdir(root, 0755);
        mkdir(path, 0755);
        for (int i = 0; uuids[i]; i++) {
                char cmd[256];
                int n = snprintf(cmd, sizeof(cmd), "/usr/bin/qemu-system-x86_64%c-name%cguest=g%d%c-uuid%c%s%c",
                                 0, 0, i, 0, 0, uuids[i], 0);

                snprintf(path, sizeof(path), "%s/proc/%d", root, 100 + i);
                mkdir(path, 0755);
                snprintf(path, sizeof(path), "%s/proc/%d/cmdline", root, 100 + i);
                th_write(path, cmd, (size_t)n, 0644);
        }
}

START_TEST(test_reclaim)
{
        static const char *const running[] = { VM_B, NULL };
        _cleanup_vfledger_ HpvmVfLedger *l = NULL;
        _cleanup_free_ char *root = NULL, *text = NULL;
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };

        ck_assert_int_ge(asprintf(&root, "%s/host", dir), 0);
        fake_qemu(root, running);
        write_records(HELD("0000:3b:02.0", "state=in-use vm=" VM_A " since=1000")       /* old, not running */
                      HELD("0000:3b:02.1", "state=in-use vm=" VM_B " since=1000")       /* old, running */
                      HELD("0000:3b:02.2", "state=in-use vm=" VM_C " since=1950")       /* young: may be starting */
                      HELD("0000:3b:02.3", "state=reserved vm=" VM_C " mac=" MAC1 " since=1000 expires=1999")
                      HELD("0000:3b:0a.0", "state=reserved vm=" VM_A " mac=" MAC1 " since=1000 expires=2001"));
        l = open_ok();
        ck_assert_int_eq(hpvm_vfledger_reclaim(l, 2000, 120, root, &warn, &err), 2);
        ck_assert_uint_eq(warn.n, 2);
        ck_assert_str_eq(warn.msg[0], "vfledger: freed VF 0000:3b:02.0 of VM " VM_A ": no QEMU process on this host runs it");
        ck_assert_str_eq(warn.msg[1], "vfledger: freed VF 0000:3b:02.3 of VM " VM_C ": its reservation for an incoming "
                                      "migration expired");
        commit_ok(l);
        text = th_slurp(data, NULL);
        ck_assert_str_eq(text, HEADER
                         HELD("0000:3b:02.1", "state=in-use vm=" VM_B " since=1000")
                         HELD("0000:3b:02.2", "state=in-use vm=" VM_C " since=1950")
                         HELD("0000:3b:0a.0", "state=reserved vm=" VM_A " mac=" MAC1 " since=1000 expires=2001"));

        /* When /proc cannot be read nothing is dropped: a VM that may run keeps its VFs. */
        ck_assert_int_eq(hpvm_vfledger_reclaim(l, 5000, 120, "/nonexistent-hpvm", &warn, &err), -ENOENT);
        ck_assert_uint_eq(hpvm_vfledger_count(l), 3);
        ck_assert_uint_eq(warn.n, 2);
}
END_TEST

/* ---------------------------------------------------------------- damage */

typedef struct DamageCase {
        const char *records;
        const char *msg;        /* after "<path>: " */
} DamageCase;

#define DAMAGED ": the state file is damaged; " HINT

static const DamageCase damage_cases[] = {
        { HELD("0000:3b:02.0", "state=maybe vm=" VM_A " since=1"),
          "line 2: VF 0000:3b:02.0: state 'maybe' is not reserved or in-use" DAMAGED },
        { HELD("0000:3b:02.0", "state=in-use vm=" VM_A " since=1") HELD("0000:3B:02.1", "state=in-use vm=" VM_A " since=1"),
          "line 3: VF 0000:3B:02.1: not a PCI address (expected dddd:bb:ss.f in lowercase)" DAMAGED },
        { HELD("0000:3b:20.0", "state=in-use vm=" VM_A " since=1"),
          "line 2: VF 0000:3b:20.0: not a PCI address (expected dddd:bb:ss.f in lowercase)" DAMAGED },
        { HELD("0000:3b:02.0", "vm=" VM_A " since=1"), "line 2: VF 0000:3b:02.0: no state field" DAMAGED },
        { HELD("0000:3b:02.0", "state=in-use since=1"), "line 2: VF 0000:3b:02.0: vm '' is not a VM id" DAMAGED },
        { HELD("0000:3b:02.0", "state=in-use vm=a%20b since=1"),
          "line 2: VF 0000:3b:02.0: vm 'a b' is not a VM id" DAMAGED },
        { HELD("0000:3b:02.0", "state=in-use vm=" VM_A " since=-1"),
          "line 2: VF 0000:3b:02.0: since is missing or not a time" DAMAGED },
        { HELD("0000:3b:02.0", "state=reserved vm=" VM_A " mac=" MAC1 " since=1"),
          "line 2: VF 0000:3b:02.0: expires is missing or not a time" DAMAGED },
        { HELD("0000:3b:02.0", "state=reserved vm=" VM_A " since=1 expires=5"),
          "line 2: VF 0000:3b:02.0: a reservation without a mac field" DAMAGED },
        { HELD("0000:3b:02.0", "state=in-use vm=" VM_A " mac=00:1a:4a:16:01 since=1"),
          "line 2: VF 0000:3b:02.0: mac '00:1a:4a:16:01' is not a MAC address" DAMAGED },
        { "vm " VM_A " state=running since=1 cpus=0\n", "line 2: VF " VM_A ": record type 'vm' is not vf" DAMAGED },
        /* Damage the state module finds: the same repair. */
        { "vf 0000:3b:02.0\x01 state=in-use\n", "line 2: '0000:3b:02.0\\x01' is not a record id" DAMAGED },
};

START_TEST(test_damaged)
{
        const DamageCase *t = &damage_cases[_i];
        HpvmVfLedger *l = NULL;
        _cleanup_free_ char *text = NULL;
        char want[HPVM_ERR_MAX];
        HpvmError err = { 0 };

        write_records(t->records);
        snprintf(want, sizeof(want), "%s: %s", data, t->msg);
        /* Refused whole, one line naming the file and how to repair it. */
        ck_assert_int_eq(hpvm_vfledger_open(cfg, &l, &err), -EBADMSG);
        ck_assert_str_eq(err.msg, want);
        ck_assert_ptr_null(l);
        /* A repair tool opens it empty, told why, and the commit writes the empty file. */
        ck_assert_msg(hpvm_vfledger_open_reset(cfg, &l, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(hpvm_vfledger_count(l), 0);
        ck_assert_str_eq(hpvm_vfledger_damage(l), want);
        commit_ok(l);
        hpvm_vfledger_close(l);
        text = th_slurp(data, NULL);
        ck_assert_str_eq(text, HEADER);
        l = open_ok();
        ck_assert_ptr_null(hpvm_vfledger_damage(l));
        hpvm_vfledger_close(l);
}
END_TEST

/* ---------------------------------------------------------------- racing and killed reservers */

#define POOL 8
#define RACERS 50

static void vm_id(unsigned n, char *buf, size_t size)
{
        snprintf(buf, size, "00000000-0000-4000-8000-%012x", n);
}

/*
 * The crash test's journal: a reserver appends "R <vm>" once its reservation
 * is committed and "F <vm>" before it commits the release of a VM, so every
 * VM with an R and no F must be in the file: a reservation that took a VF
 * another VM held (and overwrote its record) would make one vanish.
 */
static int journal_fd = -1;

static void journal(char what, const char *vm)
{
        char line[80];
        int n = snprintf(line, sizeof(line), "%c %s\n", what, vm);

        /* One small write() with O_APPEND: a kill never leaves half a line. */
        if (journal_fd >= 0 && write(journal_fd, line, (size_t)n) != n)
                _exit(6);
}

/* Reserve one VF of the pool for VM number @n: 0 reserved, 3 refused with the expected line, else a failure. */
static int reserve_one(unsigned n)
{
        HpvmVfLedger *l = NULL;
        HpvmVfInventory *mine = NULL;
        HpvmVfRequest q = { .network = "a", .preferred_node = -1 };
        HpvmError err = { 0 };
        size_t pick;
        char vm[64];
        int r;

        q.mac.b[0] = 2;
        q.mac.b[5] = (unsigned char)n;
        vm_id(n, vm, sizeof(vm));
        if (hpvm_vf_inventory_load(tree.root, &mine, &err) < 0 || hpvm_vfledger_open(cfg, &l, &err) < 0)
                return 1;
        r = hpvm_vfledger_reserve(l, mine, cfg, vm, &q, 1, NOW, &pick, &err);
        if (r == 0)
                r = hpvm_vfledger_commit(l, &err);
        if (r == 0)
                journal('R', vm);
        hpvm_vfledger_close(l);
        hpvm_vf_inventory_free(mine);
        if (r == -ENOSPC)
                return strcmp(err.msg, "no free VF for network 'a': PF p000 has 8 VFs, all reserved or in use") ? 4 : 3;
        return r == 0 ? 0 : 2;
}

static void load_pool(void)
{
        configure("sriov_pfs.a=p000\n");
        th_sriov_big(tree.root, 1, POOL);
}

#define LIVE_MAX 64

/* VMs whose reservation the journal says was committed and not released. */
typedef struct Live {
        size_t n;
        char vm[LIVE_MAX][HPVM_STATE_TOKEN_MAX + 1];
        char *path;
        size_t read;            /* journal bytes taken so far */
} Live;

static void live_update(Live *lv)
{
        _cleanup_free_ char *text = th_slurp(lv->path, NULL);

        for (char *p = text + lv->read, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
                size_t i;

                *nl = '\0';
                lv->read += (size_t)(nl - p) + 1;
                for (i = 0; i < lv->n && strcmp(lv->vm[i], p + 2); i++)
                        ;
                if (p[0] == 'R') {
                        ck_assert_msg(i == lv->n && lv->n < LIVE_MAX, "journal: %s reserved twice, or too many", p + 2);
                        snprintf(lv->vm[lv->n++], sizeof(lv->vm[0]), "%s", p + 2);
                } else if (i < lv->n) {
                        memmove(lv->vm[i], lv->vm[i + 1], (lv->n - i - 1) * sizeof(lv->vm[0]));
                        lv->n--;
                }
        }
}

/* The file parses, holds at most the pool, each VF once and each VM at most once (and every live VM: @lv). */
static size_t check_file(Live *lv)
{
        HpvmVfLedger *l = open_ok();
        _cleanup_free_ char *text = th_slurp(data, NULL);
        char vms[POOL][HPVM_STATE_TOKEN_MAX + 1];
        size_t n = hpvm_vfledger_count(l);
        HpvmError err = { 0 };

        ck_assert_uint_le(n, POOL);
        for (size_t i = 0; i < n; i++) {
                HpvmVfEntry e;
                char a[HPVM_PCI_ADDR_STRLEN], line[64];
                const char *first, *second;

                ck_assert_int_eq(hpvm_vfledger_at(l, i, &e, &err), 0);
                ck_assert(e.reserved);
                /* Each VF on one line only, read from the bytes themselves. */
                snprintf(line, sizeof(line), "\nvf %s ", hpvm_pci_addr_format(&e.addr, a, sizeof(a)));
                first = strstr(text, line);
                ck_assert_ptr_nonnull(first);
                second = strstr(first + 1, line);
                ck_assert_msg(!second, "VF %s is in the file twice:\n%s", a, text);
                snprintf(vms[i], sizeof(vms[i]), "%s", e.vm);
                for (size_t k = 0; k < i; k++)
                        ck_assert_msg(strcmp(vms[k], e.vm), "VM %s holds two VFs:\n%s", e.vm, text);
        }
        if (lv) {
                live_update(lv);
                for (size_t k = 0; k < lv->n; k++) {
                        size_t i;

                        for (i = 0; i < n && strcmp(vms[i], lv->vm[k]); i++)
                                ;
                        ck_assert_msg(i < n, "VM %s reserved a VF and lost it without a release:\n%s", lv->vm[k], text);
                }
        }
        hpvm_vfledger_close(l);
        return n;
}

START_TEST(test_race)
{
        int go[2], wins = 0, refusals = 0;
        pid_t pids[RACERS];

        load_pool();
        ck_assert_int_eq(pipe(go), 0);
        fflush(stdout);
        for (unsigned i = 0; i < RACERS; i++) {
                pids[i] = fork();
                ck_assert_int_ge(pids[i], 0);
                if (pids[i] == 0) {
                        char b;

                        close(go[1]);
                        /* Everyone starts together: the lock alone keeps them apart. */
                        if (read(go[0], &b, 1) < 0)
                                _exit(5);
                        _exit(reserve_one(i));
                }
        }
        close(go[0]);
        close(go[1]);
        for (unsigned i = 0; i < RACERS; i++) {
                int st;

                ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
                ck_assert_msg(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 3),
                              "racer %u: status %#x", i, st);
                wins += WEXITSTATUS(st) == 0;
                refusals += WEXITSTATUS(st) == 3;
        }
        ck_assert_int_eq(wins, POOL);
        ck_assert_int_eq(refusals, RACERS - POOL);
        ck_assert_uint_eq(check_file(NULL), POOL);
}
END_TEST

static uint64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Reserve for VM after VM, freeing the oldest holder when the pool is full, until killed. */
static _Noreturn void reserver(unsigned base)
{
        for (unsigned n = base;; n++) {
                HpvmVfLedger *l = NULL;
                HpvmError err = { 0 };
                int r;

                if (hpvm_vfledger_open(cfg, &l, &err) < 0)
                        _exit(2);
                if (hpvm_vfledger_count(l) >= POOL) {
                        HpvmVfEntry e;

                        if (hpvm_vfledger_at(l, 0, &e, &err) < 0)
                                _exit(3);
                        journal('F', e.vm);
                        if (hpvm_vfledger_release_vm(l, e.vm) != 1 || hpvm_vfledger_commit(l, &err) < 0)
                                _exit(3);
                }
                hpvm_vfledger_close(l);
                r = reserve_one(n);
                /* Another reserver may have filled the pool in between: a refusal is fine. */
                if (r != 0 && r != 3)
                        _exit(10 + r);
        }
}

START_TEST(test_crash)
{
        const char *s = getenv("HPVM_CRASH_BUDGET");
        uint64_t budget_us = (uint64_t)(s && *s ? strtoul(s, NULL, 10) : CRASH_BUDGET_S) * 1000000;
        uint64_t rng = now_us() ^ (uint64_t)getpid() << 32, start, cycle_us;
        unsigned kills = 0, rounds = 0, full = 0;
        Live lv = { 0 };

        load_pool();
        ck_assert_int_ge(asprintf(&lv.path, "%s/journal", dir), 0);
        journal_fd = open(lv.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        ck_assert_int_ge(journal_fd, 0);
        /* How long one reservation takes here scales the random kill delays. */
        start = now_us();
        for (unsigned i = 0; i < POOL; i++)
                ck_assert_int_eq(reserve_one(100000 + i), 0);
        cycle_us = (now_us() - start) / POOL;

        start = now_us();
        while (now_us() - start < budget_us) {
                pid_t pids[2];

                fflush(stdout);
                /* Two reservers, so that a kill also lands while the other waits for the lock. */
                for (unsigned k = 0; k < 2; k++) {
                        pids[k] = fork();
                        ck_assert_int_ge(pids[k], 0);
                        if (pids[k] == 0)
                                reserver(1000000 * (rounds * 2 + k + 1));
                }
                rng = rng * 6364136223846793005u + 1442695040888963407u;
                /* Between 0 and about 10 reservations: kills land in every step of open, reserve, write, rename. */
                usleep((useconds_t)((rng >> 33) % (10 * cycle_us + 1)));
                for (unsigned k = 0; k < 2; k++) {
                        int st;

                        kill(pids[k], SIGKILL);
                        ck_assert_int_eq(waitpid(pids[k], &st, 0), pids[k]);
                        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                                      "a reserver failed on its own: status %#x", st);
                        kills++;
                }
                rounds++;
                full += check_file(&lv) == POOL;
        }
        printf("test-vfledger: SIGKILL test: %u reservers killed in %u rounds over %.1f s (one reservation %.2f ms); "
               "the file parsed and held no VF twice every time (full pool after %u rounds)\n",
               kills, rounds, (double)(now_us() - start) / 1e6, (double)cycle_us / 1000, full);
        ck_assert_uint_ge(rounds, 10);
        ck_assert_uint_gt(lv.read, 0);
        close(journal_fd);
        journal_fd = -1;
        free(lv.path);
}
END_TEST

static Suite *vfledger_suite(void)
{
        Suite *s = suite_create("vfledger");
        TCase *tc;

        tc = tcase_create("reserve");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_reserve, 0, (int)HPVM_ARRAY_SIZE(reserve_cases));
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_mark_in_use);
        tcase_add_test(tc, test_bad_calls);
        tcase_add_test(tc, test_expiry);
        tcase_add_test(tc, test_reclaim);
        tcase_add_loop_test(tc, test_damaged, 0, (int)HPVM_ARRAY_SIZE(damage_cases));
        suite_add_tcase(s, tc);

        tc = tcase_create("concurrency");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_race);
        tcase_add_test(tc, test_crash);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(vfledger_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
