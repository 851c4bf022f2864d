/* sriovtree.h: fake sysfs trees of SR-IOV hosts, built in a fresh folder (the Check suites and bench/bench-vf share them); libc only. */
#pragma once

/*
 * Every PCI function of a fake host sits under one bridge, as on many real
 * hosts; sys/class/net/<netdev> links to <bridge>/<function>/net/<netdev>
 * and that folder's device link leads back to the function, as the kernel
 * lays them out. Any failure (a folder that cannot be made, a path too long)
 * prints why to stderr and abort()s: these are fixtures, not code under test.
 */
#define TH_BRIDGE "sys/devices/pci0000:00/0000:00:03.0"
#define TH_FROM_BRIDGE "../../devices/pci0000:00/0000:00:03.0"   /* from sys/class/net */

/* A fresh folder (tmp) holding root/ (the sysfs root) and room beside it. */
typedef struct ThTree {
        char *tmp;
        char *root;
} ThTree;

void th_tree_init(ThTree *t);
/* The same in folder @dir (bench-vf: /dev/shm, a tmpfs like sysfs and /run). */
void th_tree_init_in(ThTree *t, const char *dir);
void th_tree_clear(ThTree *t);          /* removes the folder and frees the paths */

/* mkdir -p @path. */
void th_mkdirs(const char *path);
/* Remove @path and everything under it (no error when missing). */
void th_tree_remove(const char *path);

/* <root>/<rel> holds @content (NULL: removed, with everything under it). */
void th_tree_put(const char *root, const char *content, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* <root>/<rel> is a symbolic link to @target (replacing what was there). */
void th_tree_link(const char *root, const char *target, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* <root>/<rel> is a folder. */
void th_tree_dir(const char *root, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* <root>/<rel> holds "@v\n". */
void th_tree_num(const char *root, long v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A netdev of the PCI function @addr, linked from sys/class/net. */
void th_sriov_netdev(const char *root, const char *netdev, const char *addr);
/* An SR-IOV PF (driver ice); numa -2: no numa_node file (a kernel without NUMA). */
void th_sriov_pf(const char *root, const char *netdev, const char *addr, unsigned total, unsigned numvfs, int numa);
/* VF @n of the PF at @pf; NULL driver: unbound; NULL netdev: none. */
void th_sriov_vf(const char *root, const char *pf, unsigned n, const char *addr, int numa, const char *driver,
                 const char *netdev);
/* Bind the function at @addr to @driver (NULL: unbind), as a driver change would. */
void th_sriov_bind(const char *root, const char *addr, const char *driver);

/* What every fake host has besides SR-IOV cards: loopback, a virtio NIC, a plain PCI NIC. */
void th_sriov_other_netdevs(const char *root);

/*
 * Two Intel ports (one dual-named), a Mellanox card on node 1 with a port
 * whose SR-IOV is off; names sort differently from addresses on purpose:
 *   ens1f0 0000:3b:00.0 node 0: VFs 0000:3b:02.0 iavf, .1 vfio-pci, .2 iavf, .3 iavf
 *   ens1f1 0000:3b:00.1 node 0: VFs 0000:3b:0a.0 unbound, .1 pci-stub
 *   eno5   0000:af:00.0 node 1: VFs 0000:af:00.2 mlx5_core, .3 mlx5_core, .4 vfio-pci
 *   ens2f1 0000:af:00.1 node 1: sriov_numvfs 0
 */
void th_sriov_two_cards(const char *root);
/* One PF with two VFs and a second with one (ens1f0: 0000:3b:02.0-1, ens1f1: 0000:3b:0a.0), all iavf. */
void th_sriov_small(const char *root);
/*
 * @npfs PFs p000, p001, ... of @nvfs VFs each (iavf, with netdevs), PFs
 * alternating between nodes 0 and 1; PF p is at 00pp:pp:00.0 (domain p / 256,
 * bus p % 256), its VF v at slot 1 + v / 8, function v % 8.
 */
void th_sriov_big(const char *root, unsigned npfs, unsigned nvfs);
