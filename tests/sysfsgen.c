/* sysfsgen.c: write a fake sysfs/procfs tree of a host built in memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostgen.h"
#include "sysfsgen.h"

#define TIB_KIB (UINT64_C(1) << 30)

typedef struct Gen {
        const char *root;
        char *why;
        size_t whysz;
} Gen;

static int gen_fail(Gen *g, int e, const char *path)
{
        if (g->why && g->whysz)
                snprintf(g->why, g->whysz, "%s: %s", path, strerror(e));
        return -e;
}

static int gen_mkdir(Gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int gen_mkdir(Gen *g, const char *fmt, ...)
{
        char rel[1024], path[4096], *p;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(rel, sizeof(rel), fmt, ap);
        va_end(ap);
        snprintf(path, sizeof(path), "%s/%s", g->root, rel);
        /* mkdir -p of every folder under the root */
        for (p = path + strlen(g->root) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        return gen_fail(g, errno, path);
                *p = '/';
        }
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return gen_fail(g, errno, path);
        return 0;
}

static int gen_file(Gen *g, const char *text, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int gen_file(Gen *g, const char *text, const char *fmt, ...)
{
        char rel[1024], path[4096];
        size_t len = strlen(text);
        va_list ap;
        int fd;

        va_start(ap, fmt);
        vsnprintf(rel, sizeof(rel), fmt, ap);
        va_end(ap);
        snprintf(path, sizeof(path), "%s/%s", g->root, rel);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return gen_fail(g, errno, path);
        if (write(fd, text, len) != (ssize_t)len) {
                int e = errno ? errno : EIO;

                close(fd);
                return gen_fail(g, e, path);
        }
        if (close(fd) < 0)
                return gen_fail(g, errno, path);
        return 0;
}

static int set_line(const HpvmCpuSet *s, char *buf, size_t size)
{
        int n = hpvm_cpuset_format(s, buf, size - 1);

        if (n < 0)
                return -ENOSPC;
        buf[n] = '\n';
        buf[n + 1] = '\0';
        return 0;
}

int th_sysfs_write(const char *root, const HpvmHost *h, const HpvmUsage *u, const char *proc_link, char *why,
                   size_t whysz)
{
        static char line[HPVM_CPUSET_STRMAX + 2];
        Gen g = { .root = root, .why = why, .whysz = whysz };
        char text[4096], path[4096];
        HpvmCpuSet ids;
        int r;

        if (mkdir(root, 0755) < 0 && errno != EEXIST)
                return gen_fail(&g, errno, root);
        if ((r = gen_mkdir(&g, "sys/devices/system/cpu")) < 0 || (r = gen_mkdir(&g, "sys/devices/system/node")) < 0)
                return r;
        set_line(&h->online, line, sizeof(line));
        if ((r = gen_file(&g, line, "sys/devices/system/cpu/online")) < 0)
                return r;
        for (int c = hpvm_cpuset_next(&h->online, 0); c >= 0; c = hpvm_cpuset_next(&h->online, (unsigned)c + 1)) {
                const HpvmCpuTopo *t = (unsigned)c < h->ncpu ? &h->cpu[c] : NULL;
                HpvmCpuSet sib;

                if ((r = gen_mkdir(&g, "sys/devices/system/cpu/cpu%d/topology", c)) < 0)
                        return r;
                snprintf(text, sizeof(text), "%d\n", t && t->socket >= 0 ? t->socket : 0);
                if ((r = gen_file(&g, text, "sys/devices/system/cpu/cpu%d/topology/physical_package_id", c)) < 0 ||
                    (r = gen_file(&g, "0\n", "sys/devices/system/cpu/cpu%d/topology/die_id", c)) < 0)
                        return r;
                hpvm_host_siblings(h, (unsigned)c, &sib);
                hpvm_cpuset_set(&sib, (unsigned)c);
                set_line(&sib, line, sizeof(line));
                if ((r = gen_file(&g, line, "sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", c)) < 0)
                        return r;
        }
        if (h->tsc_hz) {
                snprintf(text, sizeof(text), "%llu\n", (unsigned long long)(h->tsc_hz / 1000));
                if ((r = gen_mkdir(&g, "sys/devices/system/cpu/cpu0")) < 0 ||
                    (r = gen_file(&g, text, "sys/devices/system/cpu/cpu0/tsc_freq_khz")) < 0)
                        return r;
        }
        hpvm_host_all_nodes(h, &ids);
        set_line(&ids, line, sizeof(line));
        if ((r = gen_file(&g, line, "sys/devices/system/node/online")) < 0)
                return r;
        for (size_t i = 0; i < h->nnodes; i++) {
                const HpvmNode *n = &h->nodes[i];
                uint64_t total = n->mem_kib == HPVM_MEM_UNKNOWN ? TIB_KIB : n->mem_kib;
                uint64_t mfree = u && u->node[i].mem_kib != HPVM_MEM_UNKNOWN ? u->node[i].mem_kib : total;
                size_t len = 0;

                if ((r = gen_mkdir(&g, "sys/devices/system/node/node%u/hugepages", n->id)) < 0)
                        return r;
                set_line(&n->cpus, line, sizeof(line));
                if ((r = gen_file(&g, line, "sys/devices/system/node/node%u/cpulist", n->id)) < 0)
                        return r;
                snprintf(text, sizeof(text), "Node %u MemTotal:       %llu kB\nNode %u MemFree:        %llu kB\n", n->id,
                         (unsigned long long)total, n->id, (unsigned long long)(mfree > total ? total : mfree));
                if ((r = gen_file(&g, text, "sys/devices/system/node/node%u/meminfo", n->id)) < 0)
                        return r;
                for (size_t j = 0; j < h->nnodes; j++)
                        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%u", j ? " " : "",
                                                hpvm_host_distance(h, i, j));
                snprintf(text + len, sizeof(text) - len, "\n");
                if ((r = gen_file(&g, text, "sys/devices/system/node/node%u/distance", n->id)) < 0)
                        return r;
                for (size_t p = 0; p < n->npools; p++) {
                        const HpvmPagePool *pool = &n->pools[p];
                        uint64_t pfree = u ? u->node[i].pages[p] : pool->total;

                        if ((r = gen_mkdir(&g, "sys/devices/system/node/node%u/hugepages/hugepages-%llukB", n->id,
                                           (unsigned long long)pool->size_kib)) < 0)
                                return r;
                        snprintf(text, sizeof(text), "%llu\n", (unsigned long long)pool->total);
                        if ((r = gen_file(&g, text, "sys/devices/system/node/node%u/hugepages/hugepages-%llukB/nr_hugepages",
                                          n->id, (unsigned long long)pool->size_kib)) < 0)
                                return r;
                        snprintf(text, sizeof(text), "%llu\n", (unsigned long long)pfree);
                        if ((r = gen_file(&g, text, "sys/devices/system/node/node%u/hugepages/hugepages-%llukB/free_hugepages",
                                          n->id, (unsigned long long)pool->size_kib)) < 0)
                                return r;
                }
        }
        snprintf(path, sizeof(path), "%s/proc", root);
        if (proc_link) {
                if (symlink(proc_link, path) < 0 && errno != EEXIST)
                        return gen_fail(&g, errno, path);
                return 0;
        }
        if ((r = gen_mkdir(&g, "proc")) < 0)
                return r;
        snprintf(text, sizeof(text), "processor\t: 0\nflags\t\t: fpu tsc msr%s\n\n",
                 h->invtsc ? " constant_tsc nonstop_tsc" : "");
        return gen_file(&g, text, "proc/cpuinfo");
}

void th_sysfs_build(const char *root, const char *spec)
{
        HpvmUsage *u = NULL;
        HpvmHost *h = th_host(spec, &u);
        char why[4200];

        if (th_sysfs_write(root, h, u, NULL, why, sizeof(why)) < 0) {
                fprintf(stderr, "sysfsgen: %s\n", why);
                abort();
        }
        hpvm_usage_free(u);
        hpvm_host_free(h);
}
