/* sriov.h: SR-IOV facts of a host (PCI addresses, physical and virtual functions from sysfs), the choice of a free VF, and MAC address lists; pure C. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define HPVM_PF_MAX 256            /* SR-IOV PFs per host this reader accepts */
#define HPVM_VF_PER_PF_MAX 256     /* VFs enabled per PF (sriov_numvfs) this reader accepts */
#define HPVM_PCI_ADDR_STRLEN 13    /* "dddd:bb:ss.f" and its NUL */
#define HPVM_NETDEV_MAX 16         /* IFNAMSIZ: a name of at most 15 bytes and its NUL */
#define HPVM_DRIVER_MAX 64         /* a kernel module name and its NUL */
#define HPVM_MAC_STRLEN 18         /* "aa:bb:cc:dd:ee:ff" and its NUL */

/* A PCI function: domain 0..0xffff, bus 0..0xff, slot 0..0x1f, function 0..7. */
typedef struct HpvmPciAddr {
        unsigned domain, bus, slot, function;
} HpvmPciAddr;

/*
 * Parse the kernel's form of a PCI address, exactly "DDDD:BB:SS.F": 4, 2 and 2
 * hex digits (either case), slot <= 0x1f, one function digit 0-7, nothing
 * else. Returns 0, -EINVAL (not that form) or -ERANGE (slot or function too
 * big); *ret untouched on failure. No message: callers name the file or
 * property the text came from.
 */
int hpvm_pci_addr_parse(const char *s, size_t len, HpvmPciAddr *ret);

/* "0000:05:10.7" (lowercase) into @buf (>= HPVM_PCI_ADDR_STRLEN bytes). Returns @buf. */
const char *hpvm_pci_addr_format(const HpvmPciAddr *a, char *buf, size_t size);

/* Same function? */
bool hpvm_pci_addr_equal(const HpvmPciAddr *a, const HpvmPciAddr *b);

/* Order by domain, bus, slot, function: <0, 0, >0 as for qsort(). */
int hpvm_pci_addr_compare(const HpvmPciAddr *a, const HpvmPciAddr *b);

/* A virtual function of an SR-IOV network card. */
typedef struct HpvmVf {
        HpvmPciAddr addr;               /* its own PCI address (basename of virtfnN) */
        size_t pf;                      /* index of its PF in inv->pfs */
        unsigned vfnum;                 /* N of the PF's virtfnN link */
        int numa_node;                  /* its numa_node file; -1 = unknown */
        char driver[HPVM_DRIVER_MAX];   /* bound driver ("vfio-pci", "iavf", ...); "" = none */
        char netdev[HPVM_NETDEV_MAX];   /* its net/<name>; "" = none (unbound, or held by vfio-pci) */
} HpvmVf;

/* A physical function: a network card port that can create VFs. */
typedef struct HpvmPf {
        char netdev[HPVM_NETDEV_MAX];   /* its name in /sys/class/net */
        HpvmPciAddr addr;
        unsigned numvfs;                /* VFs enabled now; 0 = SR-IOV off */
        unsigned totalvfs;              /* VFs the card can offer */
        int numa_node;                  /* -1 = unknown */
        size_t first_vf;                /* its VFs are inv->vfs[first_vf .. first_vf + nvfs - 1] */
        size_t nvfs;                    /* == numvfs */
} HpvmPf;

/* Every SR-IOV PF of a host and every VF they have enabled. */
typedef struct HpvmVfInventory {
        size_t npfs;
        HpvmPf *pfs;                    /* ascending PCI address */
        size_t nvfs;
        HpvmVf *vfs;                    /* by PF, then by VF number */
} HpvmVfInventory;

/*
 * Read the SR-IOV PFs and their VFs from sysfs under @root ("/" or NULL for
 * the live host, or a fake tree): every <root>/sys/class/net/<netdev> with a
 * device/sriov_totalvfs file is a PF; its device/{sriov_numvfs,
 * sriov_totalvfs,numa_node} and, for N < sriov_numvfs, device/virtfnN (a link
 * to the VF's PCI folder, whose basename is the VF's address) are read, and
 * in each VF folder physfn (must lead back to the PF), numa_node, the driver
 * link and the net/ folder.
 * Links are followed as the kernel would, but never above @root: a ".." at
 * the root stays there and an absolute target starts again at @root, so a
 * fake tree cannot make the reader open files outside it (openat2()'s
 * RESOLVE_IN_ROOT where the kernel has it, Linux 5.6+; the same rules in
 * user space elsewhere). Values are read with O_NOFOLLOW from regular files
 * only (a FIFO is refused, not waited on).
 * Two netdevs of one PCI function (one PF with two ports) count once, under
 * the name that sorts first. Netdevs without a device link (lo, bridges,
 * bonds), devices without sriov_totalvfs (virtio, USB, plain PCI NICs, VFs'
 * own netdevs), and netdevs that vanish while being read (or dangle) are
 * skipped.
 * On success *ret is the caller's (hpvm_vf_inventory_free); a host without
 * SR-IOV gives an empty inventory. Returns 0; -ENOENT/-EIO (a file missing
 * or unreadable), -EINVAL (a value not in the kernel's format, a VF whose
 * physfn leads elsewhere, a PCI address seen twice, a link loop), -E2BIG
 * (more than HPVM_PF_MAX PFs or HPVM_VF_PER_PF_MAX VFs on one PF), -ENOMEM.
 * Every message is one line naming the file relative to @root, e.g.
 *   sys/class/net/ens1f0/device/virtfn3: physfn leads to 0000:3b:00.1, not back to its PF 0000:3b:00.0 (ens1f0): inconsistent tree
 * Cost: 8 PFs x 64 VFs (each with a netdev) take about 5 ms with openat2(),
 * 13 ms without, on a fake tree in the page cache.
 */
int hpvm_vf_inventory_load(const char *root, HpvmVfInventory **ret, HpvmError *err);

/*
 * The same, with HPVM_VFINV_* @flags. HPVM_VFINV_PORTABLE resolves links in
 * user space, as the reader does by itself on kernels without openat2()
 * (before Linux 5.6): same result, a few times the system calls. Tests use
 * it to cover that path.
 */
enum {
        HPVM_VFINV_PORTABLE = 1u << 0,
};
int hpvm_vf_inventory_load_opts(const char *root, unsigned flags, HpvmVfInventory **ret, HpvmError *err);

void hpvm_vf_inventory_free(HpvmVfInventory *inv);       /* NULL is fine */
static inline void hpvm_vf_inventory_freep(HpvmVfInventory **inv) { hpvm_vf_inventory_free(*inv); }
#define _cleanup_vfinv_ __attribute__((cleanup(hpvm_vf_inventory_freep)))

/* The VF at @addr, or NULL. Its index for HpvmVfChoice.busy is the pointer minus inv->vfs. */
const HpvmVf *hpvm_vf_inventory_vf(const HpvmVfInventory *inv, const HpvmPciAddr *addr);

/* The PF named @netdev, or NULL. */
const HpvmPf *hpvm_vf_inventory_pf(const HpvmVfInventory *inv, const char *netdev);

/*
 * Does the VF look given to a VM? True when it is bound to vfio-pci or
 * pci-stub (the drivers that hand a device to QEMU). A VF freed by a VM that
 * stopped stays bound to vfio-pci until libvirt rebinds it, so this is a hint
 * the ledger combines with its own records, not a verdict.
 */
bool hpvm_vf_looks_assigned(const HpvmVf *vf);

/* What hpvm_vf_choose() may hand out, and what it prefers. */
typedef struct HpvmVfChoice {
        const char *network;            /* named in the refusal; NULL or "": none */
        const char *const *pfs;         /* netdevs of the PFs allowed; NULL or npfs 0: every PF */
        size_t npfs;
        const bool *busy;               /* inv->nvfs flags: true = reserved or in use; NULL: none busy */
        const HpvmPciAddr *preferred;   /* the VF the source host used; NULL: none */
        int preferred_node;             /* a NUMA node to prefer; -1: none (a zeroed struct prefers node 0) */
} HpvmVfChoice;

/*
 * Choose a free VF of an allowed PF: the preferred address when it is such a
 * VF and free; else the first free VF on the preferred NUMA node; else the
 * first free VF; "first" in PF order (inv->pfs), then VF number. Pure: it
 * reads @inv and @c only and reserves nothing.
 * Returns 0 with the VF's index in inv->vfs in *ret_vf (untouched on
 * failure), or -ENOSPC with one line in @err, for example
 *   no free VF for network 'sriov-a': PF ens1f0 has 8 VFs, all reserved or in use
 *   no free VF for network 'sriov-a': PFs ens1f0 (8 VFs), ens1f1 (SR-IOV off): every VF is reserved or in use
 *   no free VF for network 'sriov-a': this host has no SR-IOV PF named ens9 (its PFs: ens1f0, ens1f1)
 *   no free VF: this host has no SR-IOV network card
 * (long lists are cut with "and N more").
 */
int hpvm_vf_choose(const HpvmVfInventory *inv, const HpvmVfChoice *c, size_t *ret_vf, HpvmError *err);

/* ---------------------------------------------------------------- MAC addresses */

typedef struct HpvmMac {
        unsigned char b[6];
} HpvmMac;

/*
 * Parse exactly six groups of two hex digits (either case) joined by ':'.
 * Returns 0 or -EINVAL; *ret untouched on failure.
 */
int hpvm_mac_parse(const char *s, size_t len, HpvmMac *ret);

/* "aa:bb:cc:dd:ee:ff" (lowercase) into @buf (>= HPVM_MAC_STRLEN bytes). Returns @buf. */
const char *hpvm_mac_format(const HpvmMac *m, char *buf, size_t size);

bool hpvm_mac_equal(const HpvmMac *a, const HpvmMac *b);

/* The VM property sriov_migratable: every VF NIC, or the NICs of these MACs. */
typedef struct HpvmMacList {
        bool all;
        size_t n;
        HpvmMac *macs;                  /* in the order typed, no MAC twice */
} HpvmMacList;

/*
 * sriov_migratable=all|<mac>[,<mac>...] ("all" in any case, MACs as for
 * hpvm_mac_parse). On failure *ret is untouched and @err holds the whole line:
 *   sriov_migratable: '00:11:22:33:44:zz': '00:11:22:33:44:zz' is not a MAC address
 *   like 00:1a:4a:16:01:51 (expected all or a comma-separated list of MAC addresses)
 * Returns 0, -EINVAL, -E2BIG (value longer than HPVM_PROP_MAX), -ENOMEM.
 * Free with hpvm_mac_list_clear() (a zeroed list is fine too).
 */
int hpvm_prop_sriov_migratable_parse(const char *value, HpvmMacList *ret, HpvmError *err);
void hpvm_mac_list_clear(HpvmMacList *l);

/* Is @m in @l (always true for "all")? */
bool hpvm_mac_list_contains(const HpvmMacList *l, const HpvmMac *m);
