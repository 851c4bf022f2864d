/* test-sriov.c: PCI and MAC addresses, the sriov_migratable property, the VF inventory read from fake sysfs trees built here (good, broken, hostile, big), and the choice of a free VF. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "props.h"
#include "sriov.h"
#include "sriovtree.h"
#include "testhelp.h"

/* ------------------------------------------------------------ fake sysfs trees (tests/sriovtree.h) */

/* The whole inventory as text, one line per PF and per VF. */
static char *dump(const HpvmVfInventory *inv)
{
        char *buf = NULL, a[HPVM_PCI_ADDR_STRLEN];
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ck_assert_ptr_nonnull(f);
        for (size_t i = 0; i < inv->npfs; i++) {
                const HpvmPf *pf = &inv->pfs[i];

                fprintf(f, "PF %s %s vfs %u/%u node %d first %zu n %zu\n", pf->netdev,
                        hpvm_pci_addr_format(&pf->addr, a, sizeof(a)), pf->numvfs, pf->totalvfs, pf->numa_node,
                        pf->first_vf, pf->nvfs);
        }
        for (size_t i = 0; i < inv->nvfs; i++) {
                const HpvmVf *vf = &inv->vfs[i];

                fprintf(f, "VF %s pf %s #%u node %d driver '%s' netdev '%s'%s\n",
                        hpvm_pci_addr_format(&vf->addr, a, sizeof(a)), inv->pfs[vf->pf].netdev, vf->vfnum,
                        vf->numa_node, vf->driver, vf->netdev, hpvm_vf_looks_assigned(vf) ? " assigned" : "");
        }
        fclose(f);
        return buf;
}

/* ------------------------------------------------------------ PCI and MAC addresses */

typedef struct AddrCase {
        const char *in;
        int code;
        const char *out;        /* canonical form when code == 0 */
} AddrCase;

static const AddrCase pci_cases[] = {
        { "0000:05:10.7", 0, "0000:05:10.7" },
        { "0000:00:00.0", 0, "0000:00:00.0" },
        { "ffff:ff:1f.7", 0, "ffff:ff:1f.7" },
        { "FFFF:AB:1F.7", 0, "ffff:ab:1f.7" },
        { "0000:05:20.0", -ERANGE, NULL },
        { "0000:05:10.8", -ERANGE, NULL },
        { "0000:05:10.7\n", -EINVAL, NULL },
        { "000:05:10.7", -EINVAL, NULL },
        { "00000:05:10.7", -EINVAL, NULL },
        { "0000:5:10.7", -EINVAL, NULL },
        { "0000-05-10.7", -EINVAL, NULL },
        { "0000:05:10:7", -EINVAL, NULL },
        { "0000:05:10.a", -EINVAL, NULL },
        { "+000:05:10.7", -EINVAL, NULL },
        { "0000:0g:10.7", -EINVAL, NULL },
        { "0000:05:10.", -EINVAL, NULL },
        { " 0000:05:10.7", -EINVAL, NULL },
        { "", -EINVAL, NULL },
};

START_TEST(test_pci_addr)
{
        const AddrCase *t = &pci_cases[_i];
        HpvmPciAddr a = { 9, 9, 9, 9 }, untouched = { 9, 9, 9, 9 };
        char buf[HPVM_PCI_ADDR_STRLEN];

        ck_assert_int_eq(hpvm_pci_addr_parse(t->in, strlen(t->in), &a), t->code);
        if (t->code == 0) {
                ck_assert_str_eq(hpvm_pci_addr_format(&a, buf, sizeof(buf)), t->out);
        } else {
                ck_assert(hpvm_pci_addr_equal(&a, &untouched));
        }
}
END_TEST

START_TEST(test_pci_addr_order)
{
        static const char *const sorted[] = { "0000:00:00.0", "0000:00:00.1", "0000:00:01.0", "0000:01:00.0",
                                              "0001:00:00.0" };
        HpvmPciAddr a, b;

        ck_assert_int_eq(hpvm_pci_addr_parse(NULL, 12, &a), -EINVAL);
        for (size_t i = 0; i < HPVM_ARRAY_SIZE(sorted); i++)
                for (size_t k = 0; k < HPVM_ARRAY_SIZE(sorted); k++) {
                        ck_assert_int_eq(hpvm_pci_addr_parse(sorted[i], 12, &a), 0);
                        ck_assert_int_eq(hpvm_pci_addr_parse(sorted[k], 12, &b), 0);
                        ck_assert_int_eq(hpvm_pci_addr_compare(&a, &b), (i > k) - (i < k));
                        ck_assert(hpvm_pci_addr_equal(&a, &b) == (i == k));
                }
}
END_TEST

static const AddrCase mac_cases[] = {
        { "00:1a:4a:16:01:51", 0, "00:1a:4a:16:01:51" },
        { "00:1A:4A:16:01:5F", 0, "00:1a:4a:16:01:5f" },
        { "ff:ff:ff:ff:ff:ff", 0, "ff:ff:ff:ff:ff:ff" },
        { "00:1a:4a:16:01", -EINVAL, NULL },
        { "00:1a:4a:16:01:5", -EINVAL, NULL },
        { "0:1a:4a:16:01:51", -EINVAL, NULL },
        { "00:1a:4a:16:01:511", -EINVAL, NULL },
        { "00-1a-4a-16-01-51", -EINVAL, NULL },
        { "001a.4a16.0151", -EINVAL, NULL },
        { "00:1a:4a:16:01:5g", -EINVAL, NULL },
        { "00:1a:4a:16:01:51:", -EINVAL, NULL },
        { "", -EINVAL, NULL },
};

START_TEST(test_mac)
{
        const AddrCase *t = &mac_cases[_i];
        HpvmMac m = { { 9, 9, 9, 9, 9, 9 } }, untouched = m;
        char buf[HPVM_MAC_STRLEN];

        ck_assert_int_eq(hpvm_mac_parse(t->in, strlen(t->in), &m), t->code);
        if (t->code == 0)
                ck_assert_str_eq(hpvm_mac_format(&m, buf, sizeof(buf)), t->out);
        else
                ck_assert(hpvm_mac_equal(&m, &untouched));
}
END_TEST

/* ------------------------------------------------------------ sriov_migratable */

#define GRAMMAR " (expected all or a comma-separated list of MAC addresses)"

typedef struct PropCase {
        const char *value;
        int code;
        const char *msg;        /* whole line on failure; on success the MACs, comma-joined, or "all" */
} PropCase;

static const PropCase prop_cases[] = {
        { "all", 0, "all" },
        { "ALL", 0, "all" },
        { "00:1a:4a:16:01:51", 0, "00:1a:4a:16:01:51" },
        { "00:1a:4a:16:01:51,00:1A:4A:16:01:52", 0, "00:1a:4a:16:01:51,00:1a:4a:16:01:52" },
        { "", -EINVAL, "sriov_migratable: '': empty value" GRAMMAR },
        { "00:11:22:33:44:zz", -EINVAL,
          "sriov_migratable: '00:11:22:33:44:zz': '00:11:22:33:44:zz' is not a MAC address like 00:1a:4a:16:01:51" GRAMMAR },
        { "00:11:22:33:44:55,00-11-22-33-44-66", -EINVAL,
          "sriov_migratable: '00:11:22:33:44:55,00-11-22-33-44-66': '00-11-22-33-44-66' is not a MAC address "
          "like 00:1a:4a:16:01:51" GRAMMAR },
        { ",00:11:22:33:44:55", -EINVAL, "sriov_migratable: ',00:11:22:33:44:55': value starts with ','" GRAMMAR },
        { "00:11:22:33:44:55,", -EINVAL, "sriov_migratable: '00:11:22:33:44:55,': value ends with ','" GRAMMAR },
        { "00:11:22:33:44:55,,00:11:22:33:44:66", -EINVAL,
          "sriov_migratable: '00:11:22:33:44:55,,00:11:22:33:44:66': empty item after '00:11:22:33:44:55'" GRAMMAR },
        { "all,00:11:22:33:44:55", -EINVAL,
          "sriov_migratable: 'all,00:11:22:33:44:55': 'all' cannot be combined with MAC addresses" GRAMMAR },
        { "00:11:22:33:44:55,All", -EINVAL,
          "sriov_migratable: '00:11:22:33:44:55,All': 'All' cannot be combined with MAC addresses" GRAMMAR },
        { "00:11:22:33:44:aa,00:11:22:33:44:AA", -EINVAL,
          "sriov_migratable: '00:11:22:33:44:aa,00:11:22:33:44:AA': '00:11:22:33:44:AA' is listed twice" GRAMMAR },
        { " all", -EINVAL, "sriov_migratable: ' all': ' all' is not a MAC address like 00:1a:4a:16:01:51" GRAMMAR },
        { "00:11:22:33:44:55\n", -EINVAL,
          "sriov_migratable: '00:11:22:33:44:55\\x0a': '00:11:22:33:44:55\\x0a' is not a MAC address like "
          "00:1a:4a:16:01:51" GRAMMAR },
        { "true", -EINVAL, "sriov_migratable: 'true': 'true' is not a MAC address like 00:1a:4a:16:01:51" GRAMMAR },
};

START_TEST(test_prop)
{
        const PropCase *t = &prop_cases[_i];
        HpvmMacList l = { .n = 77 };
        HpvmError err = { 0 };
        int r = hpvm_prop_sriov_migratable_parse(t->value, &l, &err);

        ck_assert_msg(r == t->code, "'%s': got %d (%s)", t->value, r, err.msg);
        if (r < 0) {
                ck_assert_str_eq(err.msg, t->msg);
                ck_assert_uint_eq(l.n, 77);
                return;
        }
        if (l.all) {
                ck_assert_str_eq("all", t->msg);
        } else {
                char got[256] = "", m[HPVM_MAC_STRLEN];

                for (size_t i = 0; i < l.n; i++) {
                        strcat(got, i ? "," : "");
                        strcat(got, hpvm_mac_format(&l.macs[i], m, sizeof(m)));
                }
                ck_assert_str_eq(got, t->msg);
        }
        hpvm_mac_list_clear(&l);
}
END_TEST

START_TEST(test_prop_limits)
{
        char *v = malloc(HPVM_PROP_MAX + 2);
        HpvmMacList l = { 0 };
        HpvmError err = { 0 };
        HpvmMac m;
        size_t n = 0, k = 0;

        /* As many MACs as fit in HPVM_PROP_MAX bytes are fine; one byte more is refused as too long. */
        ck_assert_ptr_nonnull(v);
        v[0] = '\0';
        for (k = 0; n + (k ? 18 : 17) <= HPVM_PROP_MAX; k++)
                n += (size_t)sprintf(v + n, "%s02:00:00:00:%02x:%02x", k ? "," : "", (unsigned)k >> 8, (unsigned)k & 0xff);
        ck_assert_uint_eq(k, (HPVM_PROP_MAX + 1) / 18);
        ck_assert_int_eq(hpvm_prop_sriov_migratable_parse(v, &l, &err), 0);
        ck_assert_uint_eq(l.n, k);
        ck_assert_int_eq(hpvm_mac_parse("02:00:00:00:00:05", 17, &m), 0);
        ck_assert(hpvm_mac_list_contains(&l, &m));
        ck_assert_int_eq(hpvm_mac_parse("02:00:00:00:05:00", 17, &m), 0);
        ck_assert(!hpvm_mac_list_contains(&l, &m));
        hpvm_mac_list_clear(&l);
        ck_assert_ptr_null(l.macs);

        memset(v, 'a', HPVM_PROP_MAX + 1);
        v[HPVM_PROP_MAX + 1] = '\0';
        ck_assert_int_eq(hpvm_prop_sriov_migratable_parse(v, &l, &err), -E2BIG);
        ck_assert_ptr_nonnull(strstr(err.msg, "': value is 4097 bytes long, more than the 4096 allowed" GRAMMAR));
        ck_assert_int_eq(strncmp(err.msg, "sriov_migratable: 'aaaa", 23), 0);
        ck_assert_uint_lt(strlen(err.msg), HPVM_ERR_MAX - 1);
        free(v);

        /* "all" holds every MAC; NULL and an empty list hold none. */
        ck_assert_int_eq(hpvm_prop_sriov_migratable_parse("all", &l, &err), 0);
        ck_assert(hpvm_mac_list_contains(&l, &m));
        hpvm_mac_list_clear(&l);
        ck_assert(!hpvm_mac_list_contains(&l, &m));
        ck_assert(!hpvm_mac_list_contains(NULL, &m));
        hpvm_mac_list_clear(NULL);
}
END_TEST

/* ------------------------------------------------------------ loading good trees */

START_TEST(test_load_two_cards)
{
        static const char want[] =
                "PF ens1f0 0000:3b:00.0 vfs 4/8 node 0 first 0 n 4\n"
                "PF ens1f1 0000:3b:00.1 vfs 2/8 node 0 first 4 n 2\n"
                "PF eno5 0000:af:00.0 vfs 3/16 node 1 first 6 n 3\n"
                "PF ens2f1 0000:af:00.1 vfs 0/16 node 1 first 9 n 0\n"
                "VF 0000:3b:02.0 pf ens1f0 #0 node 0 driver 'iavf' netdev 'ens1f0v0'\n"
                "VF 0000:3b:02.1 pf ens1f0 #1 node 0 driver 'vfio-pci' netdev '' assigned\n"
                "VF 0000:3b:02.2 pf ens1f0 #2 node 0 driver 'iavf' netdev 'ens1f0v2'\n"
                "VF 0000:3b:02.3 pf ens1f0 #3 node 0 driver 'iavf' netdev 'ens1f0v3'\n"
                "VF 0000:3b:0a.0 pf ens1f1 #0 node 0 driver '' netdev ''\n"
                "VF 0000:3b:0a.1 pf ens1f1 #1 node 0 driver 'pci-stub' netdev '' assigned\n"
                "VF 0000:af:00.2 pf eno5 #0 node 1 driver 'mlx5_core' netdev 'eno5v0'\n"
                "VF 0000:af:00.3 pf eno5 #1 node 1 driver 'mlx5_core' netdev 'eno5v1'\n"
                "VF 0000:af:00.4 pf eno5 #2 node 1 driver 'vfio-pci' netdev '' assigned\n";
        _cleanup_vfinv_ HpvmVfInventory *inv = NULL;
        _cleanup_free_ char *text = NULL;
        HpvmError err = { 0 };
        HpvmPciAddr a;
        ThTree t;

        th_tree_init(&t);
        th_sriov_two_cards(t.root);
        ck_assert_msg(hpvm_vf_inventory_load_opts(t.root, _i ? HPVM_VFINV_PORTABLE : 0, &inv, &err) == 0, "%s", err.msg);
        text = dump(inv);
        ck_assert_str_eq(text, want);

        /* Lookups. */
        ck_assert_int_eq(hpvm_pci_addr_parse("0000:af:00.3", 12, &a), 0);
        ck_assert_ptr_eq(hpvm_vf_inventory_vf(inv, &a), &inv->vfs[7]);
        ck_assert_int_eq(hpvm_pci_addr_parse("0000:3b:00.0", 12, &a), 0);
        ck_assert_ptr_null(hpvm_vf_inventory_vf(inv, &a));     /* a PF is not a VF */
        ck_assert_ptr_null(hpvm_vf_inventory_vf(inv, NULL));
        ck_assert_ptr_eq(hpvm_vf_inventory_pf(inv, "eno5"), &inv->pfs[2]);
        ck_assert_ptr_null(hpvm_vf_inventory_pf(inv, "ens1f0d1"));
        ck_assert_ptr_null(hpvm_vf_inventory_pf(inv, "eno1"));
        ck_assert_ptr_null(hpvm_vf_inventory_pf(inv, "ens1f0v0"));
        ck_assert_ptr_null(hpvm_vf_inventory_pf(inv, NULL));
        ck_assert(!hpvm_vf_looks_assigned(NULL));
        th_tree_clear(&t);
}
END_TEST

START_TEST(test_load_special)
{
        _cleanup_vfinv_ HpvmVfInventory *inv = NULL;
        _cleanup_free_ char *text = NULL;
        HpvmError err = { 0 };
        ThTree t;

        /* No numa_node files: -1. An absolute link is read inside the root, never on the host. */
        th_tree_init(&t);
        th_sriov_pf(t.root, "ens1f0", "0000:3b:00.0", 4, 1, -2);
        th_sriov_vf(t.root, "0000:3b:00.0", 0, "0000:3b:02.0", -2, NULL, NULL);
        th_tree_link(t.root, "/" TH_BRIDGE "/0000:3b:02.0", TH_BRIDGE "/0000:3b:00.0/virtfn0");
        th_tree_link(t.root, "/" TH_BRIDGE "/0000:3b:00.0", "sys/class/net/ens1f0/device");
        ck_assert_msg(hpvm_vf_inventory_load(t.root, &inv, &err) == 0, "%s", err.msg);
        text = dump(inv);
        ck_assert_str_eq(text, "PF ens1f0 0000:3b:00.0 vfs 1/4 node -1 first 0 n 1\n"
                               "VF 0000:3b:02.0 pf ens1f0 #0 node -1 driver '' netdev ''\n");
        hpvm_vf_inventory_free(inv);
        inv = NULL;

        /* No sys/class/net at all: nothing to offer, not an error. */
        th_tree_put(t.root, NULL, "sys");
        ck_assert_msg(hpvm_vf_inventory_load(t.root, &inv, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(inv->npfs, 0);
        ck_assert_uint_eq(inv->nvfs, 0);
        hpvm_vf_inventory_free(inv);
        inv = NULL;

        /* Only netdevs that are no SR-IOV PFs. */
        th_sriov_other_netdevs(t.root);
        ck_assert_msg(hpvm_vf_inventory_load(t.root, &inv, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(inv->npfs, 0);
        hpvm_vf_inventory_free(inv);
        inv = NULL;
        th_tree_clear(&t);

        ck_assert_int_eq(hpvm_vf_inventory_load("/nonexistent-hpvm", &inv, &err), -ENOENT);
        ck_assert_str_eq(err.msg, "sysfs root '/nonexistent-hpvm': No such file or directory");
        ck_assert_ptr_null(inv);
        hpvm_vf_inventory_free(NULL);
}
END_TEST

START_TEST(test_load_live)
{
        /* Whatever this host has, the reader takes it and the inventory holds together. */
        _cleanup_vfinv_ HpvmVfInventory *inv = NULL;
        HpvmError err = { 0 };
        size_t vfs = 0;

        ck_assert_msg(hpvm_vf_inventory_load(NULL, &inv, &err) == 0, "%s", err.msg);
        for (size_t i = 0; i < inv->npfs; i++) {
                ck_assert_uint_eq(inv->pfs[i].first_vf, vfs);
                vfs += inv->pfs[i].nvfs;
        }
        ck_assert_uint_eq(vfs, inv->nvfs);
        for (size_t i = 0; i < inv->nvfs; i++)
                ck_assert_uint_lt(inv->vfs[i].pf, inv->npfs);
}
END_TEST

/* ------------------------------------------------------------ broken and hostile trees */

typedef enum OpKind { END, FILE_, LINK, GONE, FIFO, DIR_ } OpKind;

typedef struct Op {
        OpKind kind;
        const char *rel;
        const char *arg;        /* file content or link target */
} Op;

typedef struct Broken {
        const char *name;
        Op ops[4];
        int code;
        const char *msg;        /* the error; on success the PFs read, space-separated */
} Broken;

#define PF0 TH_BRIDGE "/0000:3b:00.0"
#define VF1 TH_BRIDGE "/0000:3b:02.1"
#define DEV0 "sys/class/net/ens1f0/device"

static const Broken broken[] = {
        { "physfn elsewhere", { { LINK, VF1 "/physfn", "../0000:3b:00.1" } }, -EINVAL,
          DEV0 "/virtfn1: physfn leads to 0000:3b:00.1, not back to its PF 0000:3b:00.0 (ens1f0): inconsistent tree" },
        { "no physfn", { { GONE, VF1 "/physfn", NULL } }, -EINVAL,
          DEV0 "/virtfn1: has no physfn link (expected one leading back to its PF 0000:3b:00.0)" },
        { "physfn not a link", { { FILE_, VF1 "/physfn", "0000:3b:00.0\n" } }, -EINVAL,
          DEV0 "/virtfn1/physfn: not a symbolic link" },
        { "physfn junk", { { LINK, VF1 "/physfn", "../0000:3b:00" } }, -EINVAL,
          DEV0 "/virtfn1/physfn: link leads to '0000:3b:00', not a PCI address (expected dddd:bb:ss.f)" },
        { "numvfs junk", { { FILE_, PF0 "/sriov_numvfs", "two\n" } }, -EINVAL,
          DEV0 "/sriov_numvfs: 'two' is not a number" },
        { "numvfs negative", { { FILE_, PF0 "/sriov_numvfs", "-1\n" } }, -EINVAL,
          DEV0 "/sriov_numvfs: '-1' is not a number" },
        { "numvfs huge", { { FILE_, PF0 "/sriov_numvfs", "99999999999999999999999\n" } }, -EINVAL,
          DEV0 "/sriov_numvfs: '99999999999999999999999' is out of range (at most 65535)" },
        { "numvfs above total", { { FILE_, PF0 "/sriov_numvfs", "9\n" } }, -EINVAL,
          DEV0 ": sriov_numvfs 9 is more than sriov_totalvfs 8" },
        { "numvfs above cap", { { FILE_, PF0 "/sriov_totalvfs", "512\n" }, { FILE_, PF0 "/sriov_numvfs", "257\n" } },
          -E2BIG, DEV0 ": sriov_numvfs 257 is more than the 256 VFs per PF this reader handles" },
        { "totalvfs junk", { { FILE_, PF0 "/sriov_totalvfs", "8 \n" } }, -EINVAL,
          DEV0 "/sriov_totalvfs: '8 ' is not a number" },
        { "numvfs missing", { { GONE, PF0 "/sriov_numvfs", NULL } }, -ENOENT, DEV0 "/sriov_numvfs: missing" },
        { "numvfs empty", { { FILE_, PF0 "/sriov_numvfs", "" } }, -EINVAL, DEV0 "/sriov_numvfs: '' is not a number" },
        { "numvfs long", { { FILE_, PF0 "/sriov_numvfs",
                            "2222222222222222222222222222222222222222222222222222222222222222222222\n" } },
          -EINVAL, DEV0 "/sriov_numvfs: longer than 64 bytes (expected one short line)" },
        { "numvfs a folder", { { GONE, PF0 "/sriov_numvfs", NULL }, { DIR_, PF0 "/sriov_numvfs", NULL } }, -EINVAL,
          DEV0 "/sriov_numvfs: not a regular file" },
        { "numvfs a FIFO", { { GONE, PF0 "/sriov_numvfs", NULL }, { FIFO, PF0 "/sriov_numvfs", NULL } }, -EINVAL,
          DEV0 "/sriov_numvfs: not a regular file" },
        { "numvfs a link", { { LINK, PF0 "/sriov_numvfs", "sriov_totalvfs" } }, -EINVAL,
          DEV0 "/sriov_numvfs: not a regular file (a symbolic link)" },
        { "virtfn missing", { { GONE, PF0 "/virtfn1", NULL } }, -ENOENT, DEV0 "/virtfn1: missing" },
        { "virtfn dangling", { { LINK, PF0 "/virtfn1", "../0000:3b:02.7" } }, -ENOENT, DEV0 "/virtfn1: missing" },
        { "virtfn junk", { { LINK, PF0 "/virtfn0", "../bogus" } }, -EINVAL,
          DEV0 "/virtfn0: link leads to 'bogus', not a PCI address (expected dddd:bb:ss.f)" },
        { "virtfn bad slot", { { LINK, PF0 "/virtfn0", "../0000:3b:20.0" } }, -EINVAL,
          DEV0 "/virtfn0: link leads to '0000:3b:20.0', not a PCI address (expected dddd:bb:ss.f)" },
        { "vf numa junk", { { FILE_, VF1 "/numa_node", "x1\n" } }, -EINVAL,
          DEV0 "/virtfn1/numa_node: 'x1' is not a NUMA node (expected -1 or 0-1023)" },
        { "vf numa too big", { { FILE_, VF1 "/numa_node", "1024\n" } }, -EINVAL,
          DEV0 "/virtfn1/numa_node: '1024' is not a NUMA node (expected -1 or 0-1023)" },
        { "pf numa -2", { { FILE_, PF0 "/numa_node", "-2\n" } }, -EINVAL,
          DEV0 "/numa_node: '-2' is not a NUMA node (expected -1 or 0-1023)" },
        { "driver junk", { { LINK, VF1 "/driver", "../drivers/bad name" } }, -EINVAL,
          DEV0 "/virtfn1/driver: link leads to 'bad name', not a driver name" },
        { "vf netdev junk", { { DIR_, VF1 "/net/bad:name", NULL } }, -EINVAL,
          DEV0 "/virtfn1/net: 'bad:name' is not a network interface name" },
        { "class name too long", { { DIR_, "sys/class/net/abcdefghijklmnop", NULL } }, -EINVAL,
          "sys/class/net: 'abcdefghijklmnop' is not a network interface name" },
        /* A netdev gone since the listing (or a dangling link) is no PF; neither is one whose device vanished. */
        { "class dangling", { { LINK, "sys/class/net/ens1f0", "../../devices/nothing/net/ens1f0" } }, 0, "ens1f1" },
        { "device dangling", { { LINK, PF0 "/net/ens1f0/device", "../../../0000:3b:00.7" } }, 0, "ens1f1" },
        { "class loop", { { LINK, "sys/class/net/ens1f0", "ens1f0" } }, -EINVAL,
          "sys/class/net/ens1f0: too many levels of symbolic links" },
        { "device junk", { { LINK, "sys/class/net/ens1f0", "../../devices/x/net/ens1f0" },
                           { LINK, "sys/devices/x/net/ens1f0/device", "../../../0000:3b:00" },
                           { FILE_, "sys/devices/0000:3b:00/sriov_totalvfs", "8\n" } }, -EINVAL,
          "sys/class/net/ens1f0/device: link leads to '0000:3b:00', not a PCI address (expected dddd:bb:ss.f)" },
        /* The same PCI function as VF 0 of two PFs (two folders of one name under different bridges). */
        { "duplicate VF", { { LINK, TH_BRIDGE "/0000:3b:00.1/virtfn0", "../../0000:00:04.0/0000:3b:02.0" },
                            { LINK, "sys/devices/pci0000:00/0000:00:04.0/0000:3b:02.0/physfn",
                              "../../0000:00:03.0/0000:3b:00.1" } }, -EINVAL,
          "sys/class/net: PCI address 0000:3b:02.0 is both VF 0 of ens1f0 and VF 0 of ens1f1: inconsistent tree" },
        /* A link climbing out of the root stops at the root: the copy outside is never seen. */
        { "escape by ..", { { LINK, PF0 "/virtfn0", "../../../../../../outside/0000:3b:02.0" } }, -ENOENT,
          DEV0 "/virtfn0: missing" },
        { "escape by absolute", { { LINK, "sys/class/net/ens1f0", "OUTSIDE/ens1f0" } }, 0, "ens1f1" },
        /* Nothing broken: the base tree itself. */
        { "intact", { { END, NULL, NULL } }, 0, "ens1f0 ens1f1" },
};

/* Each tree twice: with openat2() resolving, and with the reader's own resolver (older kernels). */
START_TEST(test_broken)
{
        const Broken *b = &broken[_i / 2];
        unsigned flags = _i % 2 ? HPVM_VFINV_PORTABLE : 0;
        static HpvmVfInventory sentinel;
        HpvmVfInventory *inv = &sentinel;       /* a failed load leaves it as it is */
        char *outside = NULL;
        HpvmError err = { 0 };
        ThTree t;
        int r;

        th_tree_init(&t);
        th_sriov_small(t.root);
        /* A complete copy of the tree beside the root: what an escaping link would find. */
        ck_assert_int_ge(asprintf(&outside, "%s/outside", t.tmp), 0);
        th_mkdirs(outside);
        th_sriov_small(outside);
        th_tree_link(outside, TH_BRIDGE "/0000:3b:02.0", "0000:3b:02.0");
        th_tree_link(outside, TH_BRIDGE "/0000:3b:00.0/net/ens1f0", "ens1f0");

        for (const Op *op = b->ops; op->kind != END; op++) {
                char *p;

                switch (op->kind) {
                case FILE_:
                        th_tree_put(t.root, op->arg, "%s", op->rel);
                        break;
                case LINK:
                        if (!strncmp(op->arg, "OUTSIDE/", 8)) {
                                char target[4096];

                                snprintf(target, sizeof(target), "%s/%s", outside, op->arg + 8);
                                th_tree_link(t.root, target, "%s", op->rel);
                        } else {
                                th_tree_link(t.root, op->arg, "%s", op->rel);
                        }
                        break;
                case GONE:
                        th_tree_put(t.root, NULL, "%s", op->rel);
                        break;
                case FIFO:
                        ck_assert_int_ge(asprintf(&p, "%s/%s", t.root, op->rel), 0);
                        ck_assert_int_eq(mkfifo(p, 0644), 0);
                        free(p);
                        break;
                case DIR_:
                        th_tree_dir(t.root, "%s", op->rel);
                        break;
                case END:
                        break;
                }
        }
        if (!strncmp(b->name, "escape", 6)) {
                /* The kernel itself would follow the link out of the root and find the copy. */
                char *p;
                struct stat st;

                ck_assert_int_ge(asprintf(&p, "%s/%s/", t.root, b->ops[0].rel), 0);
                ck_assert_msg(stat(p, &st) == 0, "%s: the escape does not reach the copy outside", b->name);
                free(p);
        }
        r = hpvm_vf_inventory_load_opts(t.root, flags, &inv, &err);
        ck_assert_msg(r == b->code, "%s (flags %u): got %d (%s)", b->name, flags, r, err.msg);
        if (r == 0) {
                char names[128] = "";

                for (size_t i = 0; i < inv->npfs; i++) {
                        strcat(names, i ? " " : "");
                        strcat(names, inv->pfs[i].netdev);
                }
                ck_assert_str_eq(names, b->msg);
                hpvm_vf_inventory_free(inv);
        } else {
                ck_assert_str_eq(err.msg, b->msg);
                ck_assert_ptr_eq(inv, &sentinel);
        }
        free(outside);
        th_tree_clear(&t);
}
END_TEST

START_TEST(test_too_many_pfs)
{
        _cleanup_vfinv_ HpvmVfInventory *inv = NULL;
        HpvmError err = { 0 };
        ThTree t;

        th_tree_init(&t);
        th_sriov_big(t.root, HPVM_PF_MAX, 0);
        ck_assert_msg(hpvm_vf_inventory_load(t.root, &inv, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(inv->npfs, HPVM_PF_MAX);
        hpvm_vf_inventory_free(inv);
        inv = NULL;

        th_sriov_pf(t.root, "p256", "0001:00:00.0", 0, 0, 0);
        ck_assert_int_eq(hpvm_vf_inventory_load(t.root, &inv, &err), -E2BIG);
        ck_assert_str_eq(err.msg, "sys/class/net/p256: more than 256 SR-IOV PFs on this host");
        ck_assert_ptr_null(inv);
        th_tree_clear(&t);
}
END_TEST

/* 8 PFs x 64 VFs: every VF read, in order, both ways; HPVM_BENCH=1 prints the time of one load. */
START_TEST(test_big_host)
{
        unsigned flags = _i ? HPVM_VFINV_PORTABLE : 0;
        _cleanup_vfinv_ HpvmVfInventory *inv = NULL;
        HpvmError err = { 0 };
        double best = 1e9, sum = 0;
        int runs = getenv("HPVM_BENCH") ? 50 : 1;
        char a[HPVM_PCI_ADDR_STRLEN];
        ThTree t;

        th_tree_init(&t);
        th_sriov_big(t.root, 8, 64);
        for (int i = 0; i < runs; i++) {
                struct timespec t0, t1;
                double s;

                hpvm_vf_inventory_free(inv);
                inv = NULL;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                ck_assert_msg(hpvm_vf_inventory_load_opts(t.root, flags, &inv, &err) == 0, "%s", err.msg);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
                sum += s;
                best = s < best ? s : best;
        }
        if (getenv("HPVM_BENCH"))
                printf("sriov: 8 PFs x 64 VFs (%s) loaded in %.2f ms (best of %d), %.2f ms mean\n",
                       flags ? "portable resolver" : "openat2", best * 1e3, runs, sum / runs * 1e3);
        ck_assert_uint_eq(inv->npfs, 8);
        ck_assert_uint_eq(inv->nvfs, 512);
        for (size_t i = 0; i < inv->nvfs; i++) {
                ck_assert_uint_eq(inv->vfs[i].pf, i / 64);
                ck_assert_uint_eq(inv->vfs[i].vfnum, i % 64);
                ck_assert_int_eq(inv->vfs[i].numa_node, (int)(i / 64) % 2);
        }
        ck_assert_str_eq(hpvm_pci_addr_format(&inv->vfs[511].addr, a, sizeof(a)), "0000:07:08.7");
        ck_assert_str_eq(inv->vfs[511].netdev, "p007v63");
        th_tree_clear(&t);
}
END_TEST

/* ------------------------------------------------------------ choosing a VF */

typedef struct Choose {
        const char *pfs[3];             /* allowed PFs; none = every PF */
        const char *busy;               /* comma-separated VF addresses, or "*" = every VF */
        const char *preferred;
        int node;
        const char *network;
        const char *want;               /* chosen VF address, or NULL */
        const char *msg;
} Choose;

static const Choose choose_cases[] = {
        /* Order: the preferred VF, then the preferred node, then PF order and VF number. */
        { { 0 }, "", NULL, -1, "net", "0000:3b:02.0", NULL },
        { { 0 }, "0000:3b:02.0", NULL, -1, "net", "0000:3b:02.1", NULL },
        { { 0 }, "", "0000:af:00.3", -1, "net", "0000:af:00.3", NULL },
        { { 0 }, "", "0000:af:00.3", 0, "net", "0000:af:00.3", NULL },
        { { 0 }, "0000:af:00.3", "0000:af:00.3", 1, "net", "0000:af:00.2", NULL },
        { { 0 }, "0000:af:00.3", "0000:af:00.3", -1, "net", "0000:3b:02.0", NULL },
        { { 0 }, "", NULL, 1, "net", "0000:af:00.2", NULL },
        { { 0 }, "0000:af:00.2,0000:af:00.3,0000:af:00.4", NULL, 1, "net", "0000:3b:02.0", NULL },
        { { 0 }, "", NULL, 7, "net", "0000:3b:02.0", NULL },
        { { "eno5" }, "", "0000:3b:02.3", -1, "net", "0000:af:00.2", NULL },     /* preferred PF not allowed */
        { { "eno5" }, "", "0000:af:00.0", -1, "net", "0000:af:00.2", NULL },     /* a PF is no VF */
        { { "ens1f1", "eno5" }, "0000:3b:0a.0", NULL, 1, "net", "0000:af:00.2", NULL },
        { { "ens1f1", "eno5" }, "0000:3b:0a.0", NULL, -1, "net", "0000:3b:0a.1", NULL },
        /* Refusals. */
        { { "ens1f0" }, "*", NULL, -1, "sriov-a", NULL,
          "no free VF for network 'sriov-a': PF ens1f0 has 4 VFs, all reserved or in use" },
        { { "ens1f0" }, "0000:3b:02.0,0000:3b:02.1,0000:3b:02.2,0000:3b:02.3", "0000:3b:02.1", 0, NULL, NULL,
          "no free VF: PF ens1f0 has 4 VFs, all reserved or in use" },
        { { "ens2f1" }, "", NULL, -1, "sriov-b", NULL,
          "no free VF for network 'sriov-b': PF ens2f1 has no VFs (SR-IOV is off: sriov_numvfs is 0)" },
        { { "ens1f0", "ens2f1" }, "*", NULL, -1, "sriov-a", NULL,
          "no free VF for network 'sriov-a': PFs ens1f0 (4 VFs), ens2f1 (SR-IOV off): every VF is reserved or in use" },
        { { "ens2f1", "ens9" }, "", NULL, -1, "", NULL,
          "no free VF: PF ens2f1 has no VFs (SR-IOV is off: sriov_numvfs is 0)" },
        { { 0 }, "*", NULL, -1, "sriov-a", NULL,
          "no free VF for network 'sriov-a': PFs ens1f0 (4 VFs), ens1f1 (2 VFs), eno5 (3 VFs), ens2f1 (SR-IOV off): "
          "every VF is reserved or in use" },
        { { "ens9", "ens10" }, "", NULL, -1, "sriov-a", NULL,
          "no free VF for network 'sriov-a': this host has no SR-IOV PF named ens9, ens10 (its PFs: ens1f0, ens1f1, "
          "eno5, ens2f1)" },
        { { "ens1f0" }, "*", NULL, -1, "net\nwork's", NULL,
          "no free VF for network 'net\\x0awork's': PF ens1f0 has 4 VFs, all reserved or in use" },
};

static void parse_busy(const HpvmVfInventory *inv, const char *spec, bool *busy)
{
        for (size_t i = 0; i < inv->nvfs; i++)
                busy[i] = !strcmp(spec, "*");
        for (const char *p = spec; *p && strcmp(spec, "*"); p += *p == ',') {
                HpvmPciAddr a;
                const HpvmVf *vf;

                ck_assert_int_eq(hpvm_pci_addr_parse(p, 12, &a), 0);
                vf = hpvm_vf_inventory_vf(inv, &a);
                ck_assert_ptr_nonnull(vf);
                busy[vf - inv->vfs] = true;
                p += 12;
        }
}

START_TEST(test_choose)
{
        const Choose *c = &choose_cases[_i];
        _cleanup_vfinv_ HpvmVfInventory *inv = NULL;
        _cleanup_free_ bool *busy = NULL;
        HpvmVfChoice ch = { .network = c->network, .pfs = c->pfs, .preferred_node = c->node };
        HpvmError err = { 0 };
        HpvmPciAddr pref;
        size_t pick = 12345;
        ThTree t;
        int r;

        th_tree_init(&t);
        th_sriov_two_cards(t.root);
        ck_assert_msg(hpvm_vf_inventory_load(t.root, &inv, &err) == 0, "%s", err.msg);
        th_tree_clear(&t);

        while (ch.npfs < HPVM_ARRAY_SIZE(c->pfs) && c->pfs[ch.npfs])
                ch.npfs++;
        busy = calloc(inv->nvfs, sizeof(*busy));
        ck_assert_ptr_nonnull(busy);
        parse_busy(inv, c->busy, busy);
        ch.busy = busy;
        if (c->preferred) {
                ck_assert_int_eq(hpvm_pci_addr_parse(c->preferred, 12, &pref), 0);
                ch.preferred = &pref;
        }

        r = hpvm_vf_choose(inv, &ch, &pick, &err);
        if (c->want) {
                char a[HPVM_PCI_ADDR_STRLEN];

                ck_assert_msg(r == 0, "%s", err.msg);
                ck_assert_uint_lt(pick, inv->nvfs);
                ck_assert_str_eq(hpvm_pci_addr_format(&inv->vfs[pick].addr, a, sizeof(a)), c->want);
        } else {
                ck_assert_int_eq(r, -ENOSPC);
                ck_assert_str_eq(err.msg, c->msg);
                ck_assert_uint_eq(pick, 12345);
        }
}
END_TEST

START_TEST(test_choose_edges)
{
        _cleanup_vfinv_ HpvmVfInventory *inv = NULL;
        _cleanup_free_ bool *busy = NULL;
        HpvmVfInventory empty = { 0 };
        HpvmError err = { 0 };
        HpvmVfChoice ch = { .network = "sriov-a", .preferred_node = -1 };
        size_t pick = 99;
        ThTree t;

        ck_assert_int_eq(hpvm_vf_choose(&empty, &ch, &pick, &err), -ENOSPC);
        ck_assert_str_eq(err.msg, "no free VF for network 'sriov-a': this host has no SR-IOV network card");
        ck_assert_int_eq(hpvm_vf_choose(&empty, NULL, &pick, &err), -ENOSPC);
        ck_assert_str_eq(err.msg, "no free VF: this host has no SR-IOV network card");
        ck_assert_int_eq(hpvm_vf_choose(NULL, &ch, &pick, &err), -EINVAL);
        ck_assert_uint_eq(pick, 99);

        /* Eight PFs all taken: the line names six and counts the rest. */
        th_tree_init(&t);
        th_sriov_big(t.root, 8, 64);
        ck_assert_msg(hpvm_vf_inventory_load(t.root, &inv, &err) == 0, "%s", err.msg);
        th_tree_clear(&t);
        busy = malloc(inv->nvfs * sizeof(*busy));
        ck_assert_ptr_nonnull(busy);
        memset(busy, 1, inv->nvfs * sizeof(*busy));
        busy[511] = false;
        ch.busy = busy;
        ck_assert_int_eq(hpvm_vf_choose(inv, &ch, &pick, &err), 0);
        ck_assert_uint_eq(pick, 511);
        busy[511] = true;
        ck_assert_int_eq(hpvm_vf_choose(inv, &ch, &pick, &err), -ENOSPC);
        ck_assert_str_eq(err.msg, "no free VF for network 'sriov-a': PFs p000 (64 VFs), p001 (64 VFs), p002 (64 VFs), "
                                  "p003 (64 VFs), p004 (64 VFs), p005 (64 VFs) and 2 more: every VF is reserved or in use");
        /* Without a busy set every VF is free: the first one. */
        ch.busy = NULL;
        ck_assert_int_eq(hpvm_vf_choose(inv, &ch, &pick, &err), 0);
        ck_assert_uint_eq(pick, 0);
}
END_TEST

START_TEST(test_choose_all_off)
{
        _cleanup_vfinv_ HpvmVfInventory *inv = NULL;
        HpvmVfChoice ch = { .preferred_node = -1 };
        HpvmError err = { 0 };
        size_t pick = 5;
        ThTree t;

        th_tree_init(&t);
        th_sriov_big(t.root, 3, 0);
        ck_assert_msg(hpvm_vf_inventory_load(t.root, &inv, &err) == 0, "%s", err.msg);
        th_tree_clear(&t);
        ck_assert_int_eq(hpvm_vf_choose(inv, &ch, &pick, &err), -ENOSPC);
        ck_assert_str_eq(err.msg, "no free VF: PFs p000, p001, p002 have no VFs (SR-IOV is off: sriov_numvfs is 0)");
        ck_assert_uint_eq(pick, 5);
}
END_TEST

static Suite *sriov_suite(void)
{
        Suite *s = suite_create("sriov");
        TCase *tc;

        tc = tcase_create("addresses");
        tcase_add_loop_test(tc, test_pci_addr, 0, (int)HPVM_ARRAY_SIZE(pci_cases));
        tcase_add_test(tc, test_pci_addr_order);
        tcase_add_loop_test(tc, test_mac, 0, (int)HPVM_ARRAY_SIZE(mac_cases));
        tcase_add_loop_test(tc, test_prop, 0, (int)HPVM_ARRAY_SIZE(prop_cases));
        tcase_add_test(tc, test_prop_limits);
        suite_add_tcase(s, tc);

        tc = tcase_create("inventory");
        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, test_load_two_cards, 0, 2);
        tcase_add_test(tc, test_load_special);
        tcase_add_test(tc, test_load_live);
        tcase_add_loop_test(tc, test_broken, 0, 2 * (int)HPVM_ARRAY_SIZE(broken));
        tcase_add_test(tc, test_too_many_pfs);
        tcase_add_loop_test(tc, test_big_host, 0, 2);
        suite_add_tcase(s, tc);

        tc = tcase_create("choose");
        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, test_choose, 0, (int)HPVM_ARRAY_SIZE(choose_cases));
        tcase_add_test(tc, test_choose_edges);
        tcase_add_test(tc, test_choose_all_off);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(sriov_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
