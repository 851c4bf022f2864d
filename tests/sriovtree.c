/* sriovtree.c: fake sysfs trees of SR-IOV hosts for the suites and the benchmark (libc only: failures abort). */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sriovtree.h"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
        va_list ap;

        fputs("sriovtree: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        abort();
}

void th_mkdirs(const char *path)
{
        char p[4096];

        if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
                die("path too long: %s", path);
        for (char *s = p + 1; (s = strchr(s, '/')); s++) {
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        die("mkdir %s: %s", p, strerror(errno));
                *s = '/';
        }
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                die("mkdir %s: %s", p, strerror(errno));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

void th_tree_remove(const char *path)
{
        struct stat st;

        /* nftw() does not take a symbolic link itself as its start; remove() does. */
        if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
                unlink(path);
                return;
        }
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void th_tree_init(ThTree *t)
{
        th_tree_init_in(t, "/tmp");
}

void th_tree_init_in(ThTree *t, const char *dir)
{
        char tmpl[PATH_MAX];

        snprintf(tmpl, sizeof(tmpl), "%s/hpvm-tree-XXXXXX", dir);
        if (!mkdtemp(tmpl))
                die("mkdtemp: %s", strerror(errno));
        t->tmp = strdup(tmpl);
        if (!t->tmp || asprintf(&t->root, "%s/root", tmpl) < 0)
                die("out of memory");
        th_mkdirs(t->root);
}

void th_tree_clear(ThTree *t)
{
        th_tree_remove(t->tmp);
        free(t->tmp);
        free(t->root);
        t->tmp = t->root = NULL;
}

static char *at(const char *root, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static char *at(const char *root, const char *fmt, va_list ap)
{
        char rel[2048], *p;

        if (vsnprintf(rel, sizeof(rel), fmt, ap) >= (int)sizeof(rel) || asprintf(&p, "%s/%s", root, rel) < 0)
                die("path too long under %s", root);
        return p;
}

static void parent_of(const char *path)
{
        char p[4096], *slash;

        snprintf(p, sizeof(p), "%s", path);
        slash = strrchr(p, '/');
        if (!slash)
                die("no parent: %s", path);
        *slash = '\0';
        th_mkdirs(p);
}

static void write_file(const char *path, const char *content)
{
        size_t len = strlen(content);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd < 0 || write(fd, content, len) != (ssize_t)len || close(fd) < 0)
                die("cannot write %s: %s", path, strerror(errno));
}

void th_tree_put(const char *root, const char *content, const char *fmt, ...)
{
        va_list ap;
        char *p;

        va_start(ap, fmt);
        p = at(root, fmt, ap);
        va_end(ap);
        th_tree_remove(p);
        if (content) {
                parent_of(p);
                write_file(p, content);
        }
        free(p);
}

void th_tree_link(const char *root, const char *target, const char *fmt, ...)
{
        va_list ap;
        char *p;

        va_start(ap, fmt);
        p = at(root, fmt, ap);
        va_end(ap);
        th_tree_remove(p);
        parent_of(p);
        if (symlink(target, p) < 0)
                die("symlink %s: %s", p, strerror(errno));
        free(p);
}

void th_tree_dir(const char *root, const char *fmt, ...)
{
        va_list ap;
        char *p;

        va_start(ap, fmt);
        p = at(root, fmt, ap);
        va_end(ap);
        th_mkdirs(p);
        free(p);
}

void th_tree_num(const char *root, long v, const char *fmt, ...)
{
        char b[32], *p;
        va_list ap;

        va_start(ap, fmt);
        p = at(root, fmt, ap);
        va_end(ap);
        snprintf(b, sizeof(b), "%ld\n", v);
        parent_of(p);
        write_file(p, b);
        free(p);
}

void th_sriov_netdev(const char *root, const char *netdev, const char *addr)
{
        char t[256];

        snprintf(t, sizeof(t), "../../../%s", addr);
        th_tree_link(root, t, TH_BRIDGE "/%s/net/%s/device", addr, netdev);
        snprintf(t, sizeof(t), TH_FROM_BRIDGE "/%s/net/%s", addr, netdev);
        th_tree_link(root, t, "sys/class/net/%s", netdev);
}

void th_sriov_pf(const char *root, const char *netdev, const char *addr, unsigned total, unsigned numvfs, int numa)
{
        th_tree_num(root, total, TH_BRIDGE "/%s/sriov_totalvfs", addr);
        th_tree_num(root, numvfs, TH_BRIDGE "/%s/sriov_numvfs", addr);
        if (numa != -2)
                th_tree_num(root, numa, TH_BRIDGE "/%s/numa_node", addr);
        th_tree_link(root, "../../../../bus/pci/drivers/ice", TH_BRIDGE "/%s/driver", addr);
        th_sriov_netdev(root, netdev, addr);
}

void th_sriov_bind(const char *root, const char *addr, const char *driver)
{
        char t[256];

        if (!driver) {
                th_tree_put(root, NULL, TH_BRIDGE "/%s/driver", addr);
                return;
        }
        th_tree_dir(root, "sys/bus/pci/drivers/%s", driver);
        snprintf(t, sizeof(t), "../../../../bus/pci/drivers/%s", driver);
        th_tree_link(root, t, TH_BRIDGE "/%s/driver", addr);
}

void th_sriov_vf(const char *root, const char *pf, unsigned n, const char *addr, int numa, const char *driver,
                 const char *netdev)
{
        char t[256];

        snprintf(t, sizeof(t), "../%s", addr);
        th_tree_link(root, t, TH_BRIDGE "/%s/virtfn%u", pf, n);
        snprintf(t, sizeof(t), "../%s", pf);
        th_tree_link(root, t, TH_BRIDGE "/%s/physfn", addr);
        if (numa != -2)
                th_tree_num(root, numa, TH_BRIDGE "/%s/numa_node", addr);
        if (driver)
                th_sriov_bind(root, addr, driver);
        if (netdev)
                th_sriov_netdev(root, netdev, addr);
}

void th_sriov_other_netdevs(const char *root)
{
        th_tree_dir(root, "sys/devices/virtual/net/lo");
        th_tree_link(root, "../../devices/virtual/net/lo", "sys/class/net/lo");
        th_tree_link(root, "../../../virtio2", TH_BRIDGE "/virtio2/net/eth0/device");
        th_tree_link(root, TH_FROM_BRIDGE "/virtio2/net/eth0", "sys/class/net/eth0");
        th_tree_num(root, 0, TH_BRIDGE "/%s/numa_node", "0000:00:1f.6");
        th_sriov_netdev(root, "eno1", "0000:00:1f.6");
}

void th_sriov_two_cards(const char *root)
{
        th_sriov_other_netdevs(root);
        th_sriov_pf(root, "ens1f0", "0000:3b:00.0", 8, 4, 0);
        th_sriov_netdev(root, "ens1f0d1", "0000:3b:00.0");      /* second name of the same function */
        th_sriov_vf(root, "0000:3b:00.0", 0, "0000:3b:02.0", 0, "iavf", "ens1f0v0");
        th_sriov_vf(root, "0000:3b:00.0", 1, "0000:3b:02.1", 0, "vfio-pci", NULL);
        th_sriov_vf(root, "0000:3b:00.0", 2, "0000:3b:02.2", 0, "iavf", "ens1f0v2");
        th_sriov_vf(root, "0000:3b:00.0", 3, "0000:3b:02.3", 0, "iavf", "ens1f0v3");
        th_sriov_pf(root, "ens1f1", "0000:3b:00.1", 8, 2, 0);
        th_sriov_vf(root, "0000:3b:00.1", 0, "0000:3b:0a.0", 0, NULL, NULL);
        th_sriov_vf(root, "0000:3b:00.1", 1, "0000:3b:0a.1", 0, "pci-stub", NULL);
        th_sriov_pf(root, "eno5", "0000:af:00.0", 16, 3, 1);
        th_sriov_vf(root, "0000:af:00.0", 0, "0000:af:00.2", 1, "mlx5_core", "eno5v0");
        th_sriov_vf(root, "0000:af:00.0", 1, "0000:af:00.3", 1, "mlx5_core", "eno5v1");
        th_sriov_vf(root, "0000:af:00.0", 2, "0000:af:00.4", 1, "vfio-pci", NULL);
        th_sriov_pf(root, "ens2f1", "0000:af:00.1", 16, 0, 1);
}

void th_sriov_small(const char *root)
{
        th_sriov_other_netdevs(root);
        th_sriov_pf(root, "ens1f0", "0000:3b:00.0", 8, 2, 0);
        th_sriov_vf(root, "0000:3b:00.0", 0, "0000:3b:02.0", 0, "iavf", "ens1f0v0");
        th_sriov_vf(root, "0000:3b:00.0", 1, "0000:3b:02.1", 0, "iavf", "ens1f0v1");
        th_sriov_pf(root, "ens1f1", "0000:3b:00.1", 8, 1, 0);
        th_sriov_vf(root, "0000:3b:00.1", 0, "0000:3b:0a.0", 0, "iavf", "ens1f1v0");
}

void th_sriov_big(const char *root, unsigned npfs, unsigned nvfs)
{
        th_sriov_other_netdevs(root);
        for (unsigned p = 0; p < npfs; p++) {
                char netdev[32], pf[32], vf[32], vfnet[32];

                snprintf(netdev, sizeof(netdev), "p%03u", p);
                snprintf(pf, sizeof(pf), "%04x:%02x:00.0", p >> 8, p & 0xff);
                th_sriov_pf(root, netdev, pf, nvfs, nvfs, (int)(p % 2));
                for (unsigned v = 0; v < nvfs; v++) {
                        snprintf(vf, sizeof(vf), "%04x:%02x:%02x.%u", p >> 8, p & 0xff, 1 + v / 8, v % 8);
                        snprintf(vfnet, sizeof(vfnet), "p%03uv%u", p, v);
                        th_sriov_vf(root, pf, v, vf, (int)(p % 2), "iavf", vfnet);
                }
        }
}
