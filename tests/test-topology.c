/* test-topology.c: the host model, the sysfs reader (fake trees, broken trees, the live host against libnuma) and the capabilities reader. */
#include <check.h>
#include <errno.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "props.h"
#include "testhelp.h"
#include "topology.h"

/* ------------------------------------------------------------ helpers */

/* Where a failed load must leave *ret_host: untouched. */
static HpvmHost sentinel;

static const char *fmt_set(const HpvmCpuSet *s, char *buf, size_t size)
{
        ck_assert_int_ge(hpvm_cpuset_format(s, buf, size), 0);
        return buf;
}

/* "2048:512/512 1048576:4/4": a node's pools (total/free) in one comparable string. */
static const char *fmt_pools(const HpvmNode *n, const HpvmNodeFree *f, char *buf, size_t size)
{
        size_t off = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < n->npools; i++) {
                int w = snprintf(buf + off, size - off, "%s%llu:%llu/%llu", i ? " " : "",
                                 (unsigned long long) n->pools[i].size_kib,
                                 (unsigned long long) n->pools[i].total,
                                 (unsigned long long) (f ? f->pages[i] : n->pools[i].total));

                ck_assert(w > 0 && (size_t) w < size - off);
                off += (size_t) w;
        }
        return buf;
}

static HpvmCpuSet set_of(const char *list)
{
        HpvmCpuSet s;
        HpvmError e = { 0 };

        hpvm_cpuset_zero(&s);
        if (*list)
                ck_assert_msg(hpvm_cpuset_parse(list, strlen(list), HPVM_CPUSET_MAX, "CPU", &s, &e) == 0,
                              "bad list in test table '%s': %s", list, e.msg);
        return s;
}

/* Write @content to <dir>/<rel>, creating parent folders. NULL @content removes the file or folder. */
static void put(const char *dir, const char *rel, const char *content)
{
        char path[4096];

        ck_assert(snprintf(path, sizeof(path), "%s/%s", dir, rel) < (int) sizeof(path));
        if (!content) {
                th_rmtree(path);
                return;
        }
        for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s", path);
                *p = '/';
        }
        th_write(path, content, strlen(content), 0644);
}

/* ------------------------------------------------------------ model */

START_TEST(test_model_nodes)
{
        _cleanup_host_ HpvmHost *h = hpvm_host_new();
        HpvmCpuSet cpus = set_of("4-7"), s;
        HpvmNode *n = NULL;
        char b[64];

        ck_assert_ptr_nonnull(h);
        ck_assert_int_eq(h->nnodes, 0);
        ck_assert(hpvm_cpuset_is_empty(&h->online));

        ck_assert_int_eq(hpvm_host_add_node(h, 3, NULL, 0, NULL), 0);
        ck_assert_int_eq(hpvm_host_add_node(h, 1, &cpus, 1024, &n), 0);
        ck_assert_ptr_nonnull(n);
        ck_assert_uint_eq(n->id, 1);
        ck_assert_int_eq(hpvm_host_add_node(h, 0, NULL, 2048, NULL), 0);
        ck_assert_int_eq(hpvm_host_add_node(h, 1023, NULL, 4096, NULL), 0);
        ck_assert_int_eq(hpvm_host_add_node(h, 1, NULL, 0, NULL), -EEXIST);
        ck_assert_int_eq(hpvm_host_add_node(h, HPVM_NODE_MAX, NULL, 0, NULL), -ERANGE);
        ck_assert_int_eq(h->nnodes, 4);

        /* Sorted by id whatever the order of adds. */
        ck_assert_uint_eq(h->nodes[0].id, 0);
        ck_assert_uint_eq(h->nodes[1].id, 1);
        ck_assert_uint_eq(h->nodes[2].id, 3);
        ck_assert_uint_eq(h->nodes[3].id, 1023);
        ck_assert_int_eq(hpvm_host_node_index(h, 3), 2);
        ck_assert_int_eq(hpvm_host_node_index(h, 1023), 3);
        ck_assert_int_eq(hpvm_host_node_index(h, 2), -1);
        ck_assert_str_eq(fmt_set(&hpvm_host_node(h, 1)->cpus, b, sizeof(b)), "4-7");
        ck_assert_uint_eq(hpvm_host_node(h, 1)->mem_kib, 1024);
        ck_assert_ptr_null(hpvm_host_node(h, 2));
        /* Loaders, not add_node, mark CPUs online. */
        ck_assert(hpvm_cpuset_is_empty(&h->online));

        hpvm_host_all_nodes(h, &s);
        ck_assert_str_eq(fmt_set(&s, b, sizeof(b)), "0-1,3,1023");
        hpvm_host_memory_nodes(h, &s);
        ck_assert_str_eq(fmt_set(&s, b, sizeof(b)), "0-1,1023");

        s = set_of("0-2,5");    /* 2 and 5 do not exist: they count 0 */
        ck_assert_uint_eq(hpvm_host_nodes_mem_kib(h, &s), 3072);
        s = set_of("3");
        ck_assert_uint_eq(hpvm_host_nodes_mem_kib(h, &s), 0);
        hpvm_cpuset_zero(&s);
        ck_assert_uint_eq(hpvm_host_nodes_mem_kib(h, &s), 0);
}
END_TEST

/* A cell without <memory> is "unknown", never "none": it may hold memory and is never summed as 0. */
START_TEST(test_model_mem_unknown)
{
        _cleanup_host_ HpvmHost *h = hpvm_host_new();
        _cleanup_usage_ HpvmUsage *u = NULL;
        HpvmCpuSet s = set_of("0-1");
        char b[64];

        ck_assert_int_eq(hpvm_host_add_node(h, 0, NULL, HPVM_MEM_UNKNOWN, NULL), 0);
        ck_assert_int_eq(hpvm_host_add_node(h, 1, NULL, 2048, NULL), 0);
        ck_assert_uint_eq(hpvm_host_nodes_mem_kib(h, &s), HPVM_MEM_UNKNOWN);
        s = set_of("1");
        ck_assert_uint_eq(hpvm_host_nodes_mem_kib(h, &s), 2048);
        hpvm_host_memory_nodes(h, &s);
        ck_assert_str_eq(fmt_set(&s, b, sizeof(b)), "0-1");
        u = hpvm_usage_new(h);
        ck_assert_ptr_nonnull(u);
        ck_assert_uint_eq(u->node[0].mem_kib, HPVM_MEM_UNKNOWN);
        ck_assert_uint_eq(u->node[1].mem_kib, 2048);
}
END_TEST

START_TEST(test_model_mem_saturates)
{
        _cleanup_host_ HpvmHost *h = hpvm_host_new();
        HpvmCpuSet s = set_of("0-1");

        ck_assert_int_eq(hpvm_host_add_node(h, 0, NULL, UINT64_MAX - 2, NULL), 0);
        ck_assert_int_eq(hpvm_host_add_node(h, 1, NULL, 2, NULL), 0);
        /* Saturates below HPVM_MEM_UNKNOWN: a huge sum is not "unknown". */
        ck_assert_uint_eq(hpvm_host_nodes_mem_kib(h, &s), UINT64_MAX - 1);
}
END_TEST

START_TEST(test_model_pages)
{
        _cleanup_host_ HpvmHost *h = hpvm_host_new();
        _cleanup_usage_ HpvmUsage *u = NULL;
        HpvmNode *n;
        char b[256];

        ck_assert_int_eq(hpvm_host_add_node(h, 0, NULL, 1 << 20, &n), 0);
        ck_assert_ptr_null(hpvm_node_pages(n, 2048));
        ck_assert_int_eq(hpvm_node_pool(n, 2048), -1);
        ck_assert_int_eq(hpvm_node_set_pages(n, 1048576, 4), 0);
        ck_assert_int_eq(hpvm_node_set_pages(n, 2048, 10), 0);
        ck_assert_int_eq(hpvm_node_set_pages(n, 0, 1), -EINVAL);
        ck_assert_str_eq(fmt_pools(n, NULL, b, sizeof(b)), "2048:10/10 1048576:4/4");
        ck_assert_int_eq(hpvm_node_pool(n, 1048576), 1);
        /* Same size again updates in place. */
        ck_assert_int_eq(hpvm_node_set_pages(n, 2048, 12), 0);
        ck_assert_str_eq(fmt_pools(n, NULL, b, sizeof(b)), "2048:12/12 1048576:4/4");

        /* A usage starts with every page free; its counts follow the pools' order. */
        u = hpvm_usage_new(h);
        ck_assert_ptr_nonnull(u);
        u->node[0].pages[1] = 2;
        ck_assert_str_eq(fmt_pools(n, &u->node[0], b, sizeof(b)), "2048:12/12 1048576:4/2");
        ck_assert_uint_eq(hpvm_usage_free_pages(h, u, 0, 1048576), 2);
        ck_assert_uint_eq(hpvm_usage_free_pages(h, u, 0, 16), 0);
        ck_assert_uint_eq(hpvm_usage_free_pages(h, u, 1, 2048), 0);

        for (uint64_t sz = 16; n->npools < HPVM_PAGE_SIZES_MAX; sz *= 2)
                ck_assert_int_eq(hpvm_node_set_pages(n, sz, 1), 0);
        ck_assert_int_eq(hpvm_node_set_pages(n, 3, 1), -ENOSPC);
        /* Full, but an existing size can still be updated. */
        ck_assert_int_eq(hpvm_node_set_pages(n, 2048, 1), 0);
        for (size_t i = 1; i < n->npools; i++)
                ck_assert_uint_lt(n->pools[i - 1].size_kib, n->pools[i].size_kib);
}
END_TEST

START_TEST(test_model_cpus)
{
        _cleanup_host_ HpvmHost *h = hpvm_host_new();
        HpvmCpuTopo t = { .node = 0, .socket = 0, .die = 0, .core = 7 };
        HpvmCpuSet s;
        char b[64];

        ck_assert_int_eq(hpvm_host_set_cpu(h, HPVM_CPUSET_MAX, &t), -ERANGE);
        ck_assert_int_eq(hpvm_host_set_cpu(h, 5, &t), 0);
        ck_assert_uint_eq(h->ncpu, 6);
        /* topo.core is not taken from the caller: cores come from sibling sets only. */
        ck_assert_int_eq(h->cpu[5].core, -1);
        /* Holes are "unknown", not CPU 0 of node 0. */
        ck_assert_int_eq(h->cpu[2].node, -1);
        ck_assert_int_eq(h->cpu[2].core, -1);
        ck_assert_int_eq(hpvm_host_set_cpu(h, 1, &t), 0);
        ck_assert_int_eq(hpvm_host_set_cpu(h, 2, &t), 0);
        t = (HpvmCpuTopo) { .node = 0, .socket = -1, .die = -1, .core = -1 };
        ck_assert_int_eq(hpvm_host_set_cpu(h, 3, &t), 0);
        ck_assert_int_eq(hpvm_host_set_cpu(h, 4, &t), 0);

        s = set_of("1,5");
        ck_assert_int_eq(hpvm_host_add_core(h, &s), 0);
        /* Every sibling names the same set: recording it again is fine, once. */
        ck_assert_int_eq(hpvm_host_add_core(h, &s), 0);
        ck_assert_uint_eq(h->ncores, 1);
        ck_assert_int_eq(h->cpu[1].core, 0);
        ck_assert_int_eq(h->cpu[5].core, 0);
        s = set_of("2");
        ck_assert_int_eq(hpvm_host_add_core(h, &s), 0);
        /* Overlapping without matching, unknown CPUs, and empty sets are refused. */
        s = set_of("1-2");
        ck_assert_int_eq(hpvm_host_add_core(h, &s), -EINVAL);
        s = set_of("5,100");
        ck_assert_int_eq(hpvm_host_add_core(h, &s), -EINVAL);
        hpvm_cpuset_zero(&s);
        ck_assert_int_eq(hpvm_host_add_core(h, &s), -EINVAL);
        ck_assert_uint_eq(h->ncores, 2);
        /* A later set_cpu keeps the CPU's core. */
        ck_assert_int_eq(hpvm_host_set_cpu(h, 5, &t), 0);
        ck_assert_int_eq(h->cpu[5].core, 0);
        ck_assert_int_eq(hpvm_host_set_cpu(h, HPVM_CPUSET_MAX - 1, &t), 0);
        ck_assert_uint_eq(h->ncpu, HPVM_CPUSET_MAX);

        h->online = set_of("1-5");
        hpvm_host_siblings(h, 1, &s);
        ck_assert_str_eq(fmt_set(&s, b, sizeof(b)), "1,5");
        hpvm_host_siblings(h, 2, &s);
        ck_assert_str_eq(fmt_set(&s, b, sizeof(b)), "2");
        /* Unknown core: only the CPU itself. */
        hpvm_host_siblings(h, 3, &s);
        ck_assert_str_eq(fmt_set(&s, b, sizeof(b)), "3");
        ck_assert_uint_eq(hpvm_host_threads_per_core(h), 2);
        /* Offline or unknown CPUs have no siblings at all. */
        h->online = set_of("1-4");
        hpvm_host_siblings(h, 1, &s);
        ck_assert_str_eq(fmt_set(&s, b, sizeof(b)), "1");
        hpvm_host_siblings(h, 5, &s);
        ck_assert(hpvm_cpuset_is_empty(&s));
        hpvm_host_siblings(h, 100000, &s);
        ck_assert(hpvm_cpuset_is_empty(&s));
}
END_TEST

START_TEST(test_model_distances)
{
        _cleanup_host_ HpvmHost *h = hpvm_host_new();

        ck_assert_int_eq(hpvm_host_add_node(h, 0, NULL, 1, NULL), 0);
        ck_assert_int_eq(hpvm_host_add_node(h, 4, NULL, 1, NULL), 0);
        /* No table: 10 to itself, 20 elsewhere. */
        ck_assert_uint_eq(hpvm_host_distance(h, 0, 0), 10);
        ck_assert_uint_eq(hpvm_host_distance(h, 0, 1), 20);
        ck_assert_int_eq(hpvm_host_set_distance(h, 0, 1, 32), 0);
        ck_assert_uint_eq(hpvm_host_distance(h, 0, 1), 32);
        ck_assert_uint_eq(hpvm_host_distance(h, 1, 0), 20);
        ck_assert_uint_eq(hpvm_host_distance(h, 1, 1), 10);
        ck_assert_int_eq(hpvm_host_set_distance(h, 0, 2, 10), -ERANGE);
        ck_assert_int_eq(hpvm_host_set_distance(h, 0, 1, 0), -ERANGE);
        /* Indices out of range read as the defaults, never past the table. */
        ck_assert_uint_eq(hpvm_host_distance(h, 5, 5), 10);
        /* Adding a node renumbers indices: the table goes. */
        ck_assert_int_eq(hpvm_host_add_node(h, 2, NULL, 1, NULL), 0);
        ck_assert_ptr_null(h->distance);
        ck_assert_uint_eq(hpvm_host_distance(h, 0, 2), 20);
}
END_TEST

START_TEST(test_model_usage)
{
        _cleanup_host_ HpvmHost *h = hpvm_host_new();
        _cleanup_usage_ HpvmUsage *u = NULL;
        _cleanup_usage_ HpvmUsage *c = NULL;
        HpvmCpuSet s;
        char b[64];

        ck_assert_int_eq(hpvm_host_add_node(h, 0, NULL, 100, NULL), 0);
        h->online = set_of("0-7");
        u = hpvm_usage_new(h);
        ck_assert_ptr_nonnull(u);
        u->reserved = set_of("0-1");
        u->taken = set_of("4,6");
        hpvm_usage_free_cpus(h, u, &s);
        ck_assert_str_eq(fmt_set(&s, b, sizeof(b)), "2-3,5,7");
        c = hpvm_usage_copy(u);
        ck_assert_ptr_nonnull(c);
        c->node[0].mem_kib = 5;
        /* A copy is deep: changing it leaves the original alone. */
        ck_assert_uint_eq(u->node[0].mem_kib, 100);
        hpvm_usage_free_cpus(h, c, &s);
        ck_assert_str_eq(fmt_set(&s, b, sizeof(b)), "2-3,5,7");
        hpvm_usage_free(NULL);
}
END_TEST

START_TEST(test_model_free_null)
{
        hpvm_host_free(NULL);
}
END_TEST

/* ------------------------------------------------------------ fixtures: expected models */

typedef struct NodeExp {
        unsigned id;
        const char *cpus;
        uint64_t total, free;
        const char *pools;
} NodeExp;

typedef struct CpuExp {
        unsigned cpu;
        int node, socket, die, core;
        const char *siblings;
} CpuExp;

typedef struct HostExp {
        const char *file;       /* under tests/data */
        bool caps;
        const char *online;
        unsigned ncpu;
        bool invtsc;
        const char *memnodes;
        size_t nnodes;
        NodeExp nodes[8];
        CpuExp cpus[4];         /* .siblings NULL ends the list */
        size_t ncores;
        uint64_t tsc_hz;
        const char *dist;       /* the distance table row by row, "10 21/21 10"; NULL: none given */
} HostExp;

#define UNK HPVM_MEM_UNKNOWN

#define GIB(n) ((uint64_t) (n) << 20)

static const HostExp hosts[] = {
        { "sysfs/numa1", false, "0-3", 4, true, "0", 1,
          { { 0, "0-3", GIB(8), 6291456, "2048:0/0" } },
          { { 0, 0, 0, 0, 0, "0,2" }, { 3, 0, 0, 0, 1, "1,3" } }, 2, 2300000000, "10" },
        { "sysfs/numa2", false, "0-7", 8, false, "0-1", 2,
          { { 0, "0,2,4,6", GIB(16), 14680064, "2048:512/512 1048576:4/4" },
            { 1, "1,3,5,7", GIB(16), 12582912, "2048:512/100 1048576:0/0" } },
          { { 0, 0, 0, -1, 0, "0,4" }, { 3, 1, 1, -1, 3, "3,7" }, { 5, 1, 1, -1, 1, "1,5" } }, 4, 0, "10 21/21 10" },
        { "sysfs/numa4-cpuless", false, "0-18", 19, true, "0-2", 4,
          { { 0, "0-7", GIB(32), 30408704, "2048:256/256" },
            { 1, "8-15", GIB(32), 31457280, "2048:0/0" },
            { 2, "", GIB(64), 66060288, "2048:1024/1000" },
            { 3, "16-19", 0, 0, "2048:0/0" } },
          { { 7, 0, 0, 0, 7, "7" }, { 16, 3, 2, 0, 16, "16-17" },
            { 18, 3, 2, 0, 17, "18" } /* 19, its sibling, is offline */ }, 18, 0,
          "10 21 31 31/21 10 31 31/31 31 10 21/31 31 21 10" },
        { "sysfs/nonuma", false, "0-3", 4, true, "0", 1,
          { { 0, "0-3", GIB(4), 3145728, "2048:64/60 1048576:0/0" } },
          { { 2, 0, 0, 0, 2, "2" } }, 4, 0, NULL },
        { "caps/caps-1node.xml", true, "0-3", 4, true, "0", 1,
          { { 0, "0-3", GIB(8), UNK, "2048:0/0 1048576:0/0" } },
          { { 0, 0, 0, 0, 0, "0,2" }, { 3, 0, 0, 0, 1, "1,3" } }, 2, 2112000000, "10" },
        { "caps/caps-2node.xml", true, "0-7", 8, false, "0-1", 2,
          { { 0, "0,2,4,6", GIB(16), UNK, "2048:512/512 1048576:4/4" },
            { 1, "1,3,5,7", GIB(16), UNK, "2048:512/512 1048576:0/0" } },
          { { 0, 0, 0, 0, 0, "0,4" }, { 3, 1, 1, 0, 3, "3,7" }, { 5, 1, 1, 0, 2, "1,5" } }, 4, 0, "10 21/21 10" },
        { "caps/caps-4node.xml", true, "0-19", 20, true, "0-2", 4,
          { { 0, "0-3,8-11", GIB(32), UNK, "2048:256/256" },
            { 1, "4-7,12-15", GIB(32), UNK, "2048:0/0" },
            { 2, "", GIB(64), UNK, "2048:1024/1024" },
            { 3, "16-19", 0, UNK, "2048:0/0" } },
          { { 0, 0, 0, -1, 0, "0,8" }, { 13, 1, 1, -1, 5, "5,13" }, { 16, 3, 2, -1, 8, "16" } }, 12, 0,
          "10 21 17 28/21 10 17 28/17 17 10 17/28 28 17 10" },
        { "caps/caps-8node.xml", true, "0-127", 128, true, "0-7", 8,
          { { 0, "0-7,64-71", 65305180, UNK, "2048:1024/1024 1048576:4/4" },
            { 1, "8-15,72-79", 65843640, UNK, "2048:1024/1024 1048576:4/4" },
            { 2, "16-23,80-87", 65843640, UNK, "2048:1024/1024 1048576:4/4" },
            { 3, "24-31,88-95", 65843640, UNK, "2048:1024/1024 1048576:4/4" },
            { 4, "32-39,96-103", 65843640, UNK, "2048:1024/1024 1048576:2/2" },
            { 5, "40-47,104-111", 65843640, UNK, "2048:1024/1024 1048576:2/2" },
            { 6, "48-55,112-119", 65843640, UNK, "2048:1024/1024 1048576:2/2" },
            { 7, "56-63,120-127", 65843640, UNK, "2048:0/0 1048576:2/2" } },
          { { 0, 0, 0, 0, 0, "0,64" }, { 77, 1, 0, 1, 13, "13,77" },
            { 100, 4, 1, 0, 36, "36,100" }, { 127, 7, 1, 3, 63, "63,127" } }, 64, 2994375000,
          "10 12 12 12 32 32 32 32/12 10 12 12 32 32 32 32/12 12 10 12 32 32 32 32/12 12 12 10 32 32 32 32/"
          "32 32 32 32 10 12 12 12/32 32 32 32 12 10 12 12/32 32 32 32 12 12 10 12/32 32 32 32 12 12 12 10" },
};

/* The distance table as "10 21/21 10", or "" when the source gave none. */
static const char *fmt_dist(const HpvmHost *h, char *buf, size_t size)
{
        size_t off = 0;

        buf[0] = '\0';
        for (size_t i = 0; h->distance && i < h->nnodes; i++)
                for (size_t j = 0; j < h->nnodes; j++) {
                        int w = snprintf(buf + off, size - off, "%s%u", j ? " " : i ? "/" : "",
                                         hpvm_host_distance(h, i, j));

                        ck_assert(w > 0 && (size_t) w < size - off);
                        off += (size_t) w;
                }
        return buf;
}

static void check_host(const HostExp *x, const HpvmHost *h, const HpvmUsage *u)
{
        char b[1024], want[256];
        HpvmCpuSet s, all;

        ck_assert_str_eq(fmt_set(&h->online, b, sizeof(b)), x->online);
        ck_assert_uint_eq(h->ncpu, x->ncpu);
        ck_assert_int_eq(h->invtsc, x->invtsc);
        ck_assert_uint_eq(h->tsc_hz, x->tsc_hz);
        ck_assert_uint_eq(h->ncores, x->ncores);
        ck_assert_str_eq(fmt_dist(h, b, sizeof(b)), x->dist ? x->dist : "");
        /* A fresh load holds nothing reserved or taken. */
        ck_assert(hpvm_cpuset_is_empty(&u->reserved));
        ck_assert(hpvm_cpuset_is_empty(&u->taken));
        ck_assert_uint_eq(u->nnodes, h->nnodes);
        ck_assert_uint_eq(h->nnodes, x->nnodes);
        hpvm_host_memory_nodes(h, &s);
        ck_assert_str_eq(fmt_set(&s, b, sizeof(b)), x->memnodes);

        hpvm_cpuset_zero(&all);
        for (size_t i = 0; i < x->nnodes; i++) {
                const NodeExp *ne = &x->nodes[i];
                const HpvmNode *n = hpvm_host_node(h, ne->id);

                ck_assert_msg(n, "%s: no node %u", x->file, ne->id);
                ck_assert_ptr_eq(n, &h->nodes[i]);
                ck_assert_str_eq(fmt_set(&n->cpus, b, sizeof(b)), ne->cpus);
                ck_assert_uint_eq(n->mem_kib, ne->total);
                ck_assert_uint_eq(u->node[i].mem_kib, ne->free);
                ck_assert_str_eq(fmt_pools(n, &u->node[i], b, sizeof(b)), ne->pools);
                hpvm_cpuset_or(&all, &n->cpus);

                /* Every online CPU of the node points back at it. */
                for (unsigned c = 0; c < h->ncpu; c++)
                        if (hpvm_cpuset_test(&n->cpus, c) && hpvm_cpuset_test(&h->online, c))
                                ck_assert_int_eq(h->cpu[c].node, (int) n->id);
        }
        /* Online CPUs all belong to some node. */
        ck_assert(hpvm_cpuset_is_subset(&h->online, &all));

        for (size_t i = 0; i < HPVM_ARRAY_SIZE(x->cpus) && x->cpus[i].siblings; i++) {
                const CpuExp *ce = &x->cpus[i];
                const HpvmCpuTopo *t;

                ck_assert_uint_lt(ce->cpu, h->ncpu);
                t = &h->cpu[ce->cpu];
                snprintf(want, sizeof(want), "cpu %u: node %d socket %d die %d core %d",
                         ce->cpu, ce->node, ce->socket, ce->die, ce->core);
                snprintf(b, sizeof(b), "cpu %u: node %d socket %d die %d core %d",
                         ce->cpu, t->node, t->socket, t->die, t->core);
                ck_assert_str_eq(b, want);
                hpvm_host_siblings(h, ce->cpu, &s);
                ck_assert_str_eq(fmt_set(&s, b, sizeof(b)), ce->siblings);
        }
}

START_TEST(test_fixture_loads)
{
        const HostExp *x = &hosts[_i];
        _cleanup_free_ char *rel = NULL;
        _cleanup_free_ char *path = NULL;
        HpvmHost *h = NULL;
        HpvmUsage *u = NULL;
        HpvmError err = { 0 };
        int r;

        ck_assert_int_ge(asprintf(&rel, "tests/data/%s", x->file), 0);
        path = th_src(rel);
        r = x->caps ? hpvm_host_load_caps(path, HPVM_HOST_ALL, &h, &u, &err)
                    : hpvm_host_load_sysfs(path, HPVM_HOST_ALL, &h, &u, &err);
        ck_assert_msg(r == 0, "%s: %d %s", x->file, r, err.msg);
        /* Success leaves no stale message (an optional file that was absent must not show). */
        ck_assert_int_eq(err.code, 0);
        ck_assert_str_eq(err.msg, "");
        check_host(x, h, u);
        hpvm_host_free(h);
        hpvm_usage_free(u);
}
END_TEST

/* The fixture pairs describe the same machine through both sources: they must agree. */
START_TEST(test_fixture_sources_agree)
{
        static const char *const pairs[][2] = {
                { "tests/data/sysfs/numa1", "tests/data/caps/caps-1node.xml" },
                { "tests/data/sysfs/numa2", "tests/data/caps/caps-2node.xml" },
        };
        _cleanup_free_ char *sp = th_src(pairs[_i][0]);
        _cleanup_free_ char *cp = th_src(pairs[_i][1]);
        _cleanup_host_ HpvmHost *a = NULL;
        _cleanup_host_ HpvmHost *b = NULL;
        HpvmError err = { 0 };

        ck_assert_msg(hpvm_host_load_sysfs(sp, HPVM_HOST_ALL, &a, NULL, &err) == 0, "%s", err.msg);
        ck_assert_msg(hpvm_host_load_caps(cp, HPVM_HOST_ALL, &b, NULL, &err) == 0, "%s", err.msg);
        ck_assert(hpvm_cpuset_equal(&a->online, &b->online));
        ck_assert_uint_eq(a->nnodes, b->nnodes);
        for (size_t i = 0; i < a->nnodes; i++) {
                ck_assert_uint_eq(a->nodes[i].id, b->nodes[i].id);
                ck_assert(hpvm_cpuset_equal(&a->nodes[i].cpus, &b->nodes[i].cpus));
                ck_assert_uint_eq(a->nodes[i].mem_kib, b->nodes[i].mem_kib);
        }
        for (unsigned c = 0; c < a->ncpu; c++) {
                HpvmCpuSet sa, sb;

                hpvm_host_siblings(a, c, &sa);
                hpvm_host_siblings(b, c, &sb);
                ck_assert(hpvm_cpuset_equal(&sa, &sb));
        }
}
END_TEST

/* ------------------------------------------------------------ sysfs: trees built at run time */

typedef struct FileSpec {
        const char *rel;
        const char *content;    /* NULL: remove */
} FileSpec;

/* A small valid 2-node host: CPUs 0-1 on node 0, 2-3 (one core, two threads) on node 1. */
static const FileSpec base_tree[] = {
        { "sys/devices/system/cpu/online", "0-3\n" },
        { "sys/devices/system/cpu/cpu0/topology/physical_package_id", "0\n" },
        { "sys/devices/system/cpu/cpu0/topology/die_id", "0\n" },
        { "sys/devices/system/cpu/cpu0/topology/core_id", "0\n" },
        { "sys/devices/system/cpu/cpu0/topology/thread_siblings_list", "0-1\n" },
        { "sys/devices/system/cpu/cpu1/topology/physical_package_id", "0\n" },
        { "sys/devices/system/cpu/cpu1/topology/die_id", "0\n" },
        { "sys/devices/system/cpu/cpu1/topology/core_id", "0\n" },
        { "sys/devices/system/cpu/cpu1/topology/thread_siblings_list", "0-1\n" },
        { "sys/devices/system/cpu/cpu2/topology/physical_package_id", "1\n" },
        { "sys/devices/system/cpu/cpu2/topology/die_id", "0\n" },
        { "sys/devices/system/cpu/cpu2/topology/core_id", "0\n" },
        { "sys/devices/system/cpu/cpu2/topology/thread_siblings_list", "2-3\n" },
        { "sys/devices/system/cpu/cpu3/topology/physical_package_id", "1\n" },
        { "sys/devices/system/cpu/cpu3/topology/die_id", "0\n" },
        { "sys/devices/system/cpu/cpu3/topology/core_id", "0\n" },
        { "sys/devices/system/cpu/cpu3/topology/thread_siblings_list", "2-3\n" },
        { "sys/devices/system/node/online", "0-1\n" },
        { "sys/devices/system/node/node0/cpulist", "0-1\n" },
        { "sys/devices/system/node/node0/meminfo",
          "Node 0 MemTotal:        1048576 kB\nNode 0 MemFree:          524288 kB\n"
          "Node 0 MemUsed:          524288 kB\n" },
        { "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "8\n" },
        { "sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages", "6\n" },
        { "sys/devices/system/node/node0/distance", "10 20\n" },
        { "sys/devices/system/node/node1/cpulist", "2-3\n" },
        { "sys/devices/system/node/node1/distance", "20 10\n" },
        { "sys/devices/system/node/node1/meminfo",
          "Node 1 MemTotal:        2097152 kB\nNode 1 MemFree:         2000000 kB\n" },
        { "proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu tsc constant_tsc nonstop_tsc\n\n"
                          "processor\t: 1\nflags\t\t: fpu\n" },
        { "proc/meminfo", "MemTotal:        3145728 kB\nMemFree:         2524288 kB\n" },
};

#define NODE "sys/devices/system/node/"
#define CPU "sys/devices/system/cpu/"
#define NODE_DIR_GONE { NODE, NULL }
#define NONUMA_PAGES "sys/kernel/mm/hugepages/"

/* A long line before "flags" so the reader's 64 KiB chunks split lines. */
static char long_cpuinfo[70000 + 200];

typedef struct TreeCase {
        const char *name;
        FileSpec change[3];
        int code;               /* 0: loads */
        const char *msg;        /* substring of the error message, or of a success check below */
} TreeCase;

static const TreeCase tree_cases[] = {
        /* loads */
        { "base", { { NULL, NULL } }, 0,
          "invtsc=1 tsc=0 node0=0-1 node1=2-3 pools0=2048:8/6 pools1= sib3=2-3 sib0=0-1 cores=2 dist=10 20/20 10" },
        { "tsc frequency", { { CPU "cpu0/tsc_freq_khz", "2100000\n" } }, 0, "tsc=2100000000 " },
        { "no distances", { { NODE "node0/distance", NULL } }, 0, "dist=" },
        { "siblings name an offline CPU", { { CPU "cpu3/topology/thread_siblings_list", "2-3,7\n" },
                                            { CPU "cpu2/topology/thread_siblings_list", "2-3,7\n" } }, 0, "sib3=2-3 " },
        /* Siblings come from the lists, not core_id: CPUs 0 and 1 share core_id 0 but not a core. */
        { "siblings, not core_id", { { CPU "cpu0/topology/thread_siblings_list", "0\n" },
                                     { CPU "cpu1/topology/thread_siblings_list", "1\n" } }, 0, "sib0=0 cores=3" },
        { "no hugepages folder on a node", { { NODE "node0/hugepages", NULL } }, 0, "pools0= pools1=" },
        { "package id -1", { { CPU "cpu3/topology/physical_package_id", "-1\n" } }, 0, "sib3=2-3" },
        { "no flags line (arm)", { { "proc/cpuinfo", "processor\t: 0\nFeatures\t: fp asimd\n" } }, 0, "invtsc=0" },
        { "flags line without newline", { { "proc/cpuinfo", "flags : constant_tsc nonstop_tsc" } }, 0, "invtsc=1" },
        { "only the first flags line counts",
          { { "proc/cpuinfo", "flags : constant_tsc\nflags : constant_tsc nonstop_tsc\n" } }, 0, "invtsc=0" },
        { "flag names must match whole", { { "proc/cpuinfo", "flags: xconstant_tsc nonstop_tscx\n" } }, 0, "invtsc=0" },
        { "flags after a line longer than a chunk", { { "proc/cpuinfo", long_cpuinfo } }, 0, "invtsc=1" },
        { "no file content newline", { { NODE "node1/cpulist", "2-3" } }, 0, "node1=2-3" },
        { "no NUMA", { NODE_DIR_GONE, { NONUMA_PAGES "hugepages-2048kB/nr_hugepages", "4\n" },
                       { NONUMA_PAGES "hugepages-2048kB/free_hugepages", "1\n" } }, 0, "node0=0-3 node1= pools0=2048:4/1 pools1=" },
        { "no NUMA, no hugepages", { NODE_DIR_GONE }, 0, "node0=0-3 node1= pools0= pools1=" },
        /* missing files */
        { "no cpu/online", { { CPU "online", NULL } }, -ENOENT, "sys/devices/system/cpu/online: missing" },
        { "no node/online", { { NODE "online", NULL } }, -ENOENT, "sys/devices/system/node/online: missing" },
        { "no cpulist", { { NODE "node1/cpulist", NULL } }, -ENOENT, "node/node1/cpulist: missing" },
        { "no meminfo", { { NODE "node1/meminfo", NULL } }, -ENOENT, "sys/devices/system/node/node1/meminfo: missing" },
        { "no thread_siblings_list", { { CPU "cpu2/topology/thread_siblings_list", NULL } }, -ENOENT,
          "cpu/cpu2/topology/thread_siblings_list: missing" },
        { "no package id", { { CPU "cpu0/topology", NULL } }, -ENOENT, "cpu0/topology/physical_package_id: missing" },
        { "no cpuinfo", { { "proc/cpuinfo", NULL } }, -ENOENT, "proc/cpuinfo: missing" },
        { "no nr_hugepages", { { NODE "node0/hugepages/hugepages-2048kB/nr_hugepages", NULL } }, -ENOENT,
          "hugepages-2048kB/nr_hugepages: missing" },
        { "no NUMA, no proc/meminfo", { NODE_DIR_GONE, { "proc/meminfo", NULL } }, -ENOENT, "proc/meminfo: missing" },
        /* garbage numbers */
        { "package id junk", { { CPU "cpu1/topology/physical_package_id", "1x\n" } }, -EINVAL,
          "sys/devices/system/cpu/cpu1/topology/physical_package_id: '1x' is not a number" },
        { "package id negative", { { CPU "cpu1/topology/physical_package_id", "-2\n" } }, -EINVAL, "'-2' is not a number" },
        { "package id too big", { { CPU "cpu1/topology/physical_package_id", "99999999999\n" } }, -EINVAL,
          "'99999999999' is out of range" },
        { "siblings junk", { { CPU "cpu0/topology/thread_siblings_list", "0-1x\n" } }, -EINVAL,
          "sys/devices/system/cpu/cpu0/topology/thread_siblings_list: " },
        { "siblings empty", { { CPU "cpu0/topology/thread_siblings_list", "\n" } }, -EINVAL,
          "thread_siblings_list: empty" },
        { "siblings without the CPU", { { CPU "cpu0/topology/thread_siblings_list", "1\n" } }, -EINVAL,
          "cpu0/topology/thread_siblings_list: does not list CPU 0 itself" },
        { "siblings overlap", { { CPU "cpu2/topology/thread_siblings_list", "1-2\n" } }, -EINVAL,
          "CPU 2's siblings overlap another core's without matching it" },
        { "distance junk", { { NODE "node1/distance", "20 1x\n" } }, -EINVAL, "node1/distance: '1x' is not a number" },
        { "distance 0", { { NODE "node1/distance", "0 10\n" } }, -EINVAL, "node1/distance: '0' is out of range" },
        { "distances too few", { { NODE "node1/distance", "20\n" } }, -EINVAL,
          "node1/distance: 1 distances for 2 online nodes" },
        { "distances too many", { { NODE "node1/distance", "20 10 10\n" } }, -EINVAL,
          "node1/distance: more distances than the 2 online nodes" },
        { "tsc frequency junk", { { CPU "cpu0/tsc_freq_khz", "fast\n" } }, -EINVAL,
          "cpu0/tsc_freq_khz: 'fast' is not a number" },
        { "die_id empty", { { CPU "cpu1/topology/die_id", "\n" } }, -EINVAL, "die_id: '' is not a number" },
        { "nr_hugepages junk", { { NODE "node0/hugepages/hugepages-2048kB/nr_hugepages", "lots\n" } }, -EINVAL,
          "nr_hugepages: 'lots' is not a number" },
        { "more free than total", { { NODE "node0/hugepages/hugepages-2048kB/free_hugepages", "9\n" } }, -EINVAL,
          "free_hugepages: 9 free pages but only 8 reserved" },
        { "page size 0", { { NODE "node0/hugepages/hugepages-0kB/nr_hugepages", "0\n" } }, -EINVAL,
          "node0/hugepages: 'hugepages-0kB' does not name a page size" },
        { "page size junk", { { NODE "node0/hugepages/hugepages-2MkB/nr_hugepages", "0\n" } }, -EINVAL,
          "'hugepages-2MkB' does not name a page size" },
        /* meminfo */
        { "no MemTotal", { { NODE "node1/meminfo", "Node 1 MemFree: 5 kB\n" } }, -EINVAL,
          "sys/devices/system/node/node1/meminfo: no 'MemTotal' line" },
        { "no MemFree", { { NODE "node1/meminfo", "Node 1 MemTotal: 5 kB\n" } }, -EINVAL, "no 'MemFree' line" },
        { "MemTotal junk", { { NODE "node1/meminfo", "Node 1 MemTotal: 12x kB\nNode 1 MemFree: 1 kB\n" } }, -EINVAL,
          "is not 'MemTotal: <number> kB'" },
        { "MemTotal not kB", { { NODE "node1/meminfo", "Node 1 MemTotal: 12 MB\nNode 1 MemFree: 1 kB\n" } }, -EINVAL,
          "is not 'MemTotal: <number> kB'" },
        { "MemTotal huge", { { NODE "node1/meminfo", "Node 1 MemTotal: 99999999999999999999 kB\nNode 1 MemFree: 1 kB\n" } },
          -EINVAL, "'99999999999999999999' is out of range" },
        { "meminfo of another node", { { NODE "node1/meminfo", "Node 0 MemTotal: 5 kB\nNode 0 MemFree: 1 kB\n" } },
          -EINVAL, "does not start with 'Node 1'" },
        { "MemFree above MemTotal", { { NODE "node1/meminfo", "Node 1 MemTotal: 5 kB\nNode 1 MemFree: 6 kB\n" } },
          -EINVAL, "MemFree 6 kB is more than MemTotal 5 kB" },
        { "no NUMA, bad proc/meminfo", { NODE_DIR_GONE, { "proc/meminfo", "MemFree: 1 kB\n" } }, -EINVAL,
          "proc/meminfo: no 'MemTotal' line" },
        /* cpulists and ids */
        { "node id out of range", { { NODE "online", "0-1,1024\n" } }, -EINVAL, "sys/devices/system/node/online: " },
        { "cpulist junk", { { NODE "node1/cpulist", "2-3x\n" } }, -EINVAL, "sys/devices/system/node/node1/cpulist: " },
        { "cpu id out of range", { { NODE "node1/cpulist", "2-4096\n" } }, -EINVAL, "node1/cpulist: " },
        { "cpu/online junk", { { CPU "online", "0-3,\n" } }, -EINVAL, "sys/devices/system/cpu/online: " },
        { "cpu/online empty", { { CPU "online", "\n" } }, -EINVAL, "sys/devices/system/cpu/online: empty" },
        { "node/online empty", { { NODE "online", "" } }, -EINVAL, "sys/devices/system/node/online: empty" },
        { "cpu in two nodes", { { NODE "node1/cpulist", "1-3\n" } }, -EINVAL,
          "node1/cpulist: CPU 1 is also listed by another node" },
        { "node folder is a file", { NODE_DIR_GONE, { "sys/devices/system/node", "x\n" } }, -EINVAL,
          "sys/devices/system/node: not a folder" },
};

/* A one-line summary of what a success case looks at. */
static void summarize(const HpvmHost *h, const HpvmUsage *u, char *out, size_t size)
{
        char c0[64] = "", c1[64] = "", p0[128] = "", p1[128] = "", sib3[64], sib0[64], dist[64];
        HpvmCpuSet s;

        if (h->nnodes > 0) {
                fmt_set(&h->nodes[0].cpus, c0, sizeof(c0));
                fmt_pools(&h->nodes[0], &u->node[0], p0, sizeof(p0));
        }
        if (h->nnodes > 1) {
                fmt_set(&h->nodes[1].cpus, c1, sizeof(c1));
                fmt_pools(&h->nodes[1], &u->node[1], p1, sizeof(p1));
        }
        hpvm_host_siblings(h, 3, &s);
        fmt_set(&s, sib3, sizeof(sib3));
        hpvm_host_siblings(h, 0, &s);
        fmt_set(&s, sib0, sizeof(sib0));
        snprintf(out, size, "invtsc=%d tsc=%llu node0=%s node1=%s pools0=%s pools1=%s sib3=%s sib0=%s cores=%zu dist=%s",
                 h->invtsc, (unsigned long long) h->tsc_hz, c0, c1, p0, p1, sib3, sib0, h->ncores,
                 fmt_dist(h, dist, sizeof(dist)));
}

START_TEST(test_tree_cases)
{
        const TreeCase *tc = &tree_cases[_i];
        _cleanup_free_ char *dir = th_tmpdir();
        HpvmHost *h = &sentinel;
        HpvmUsage *u = NULL;
        HpvmError err = { 0 };
        char got[1024];
        int r;

        if (!long_cpuinfo[0]) {
                memset(long_cpuinfo, 'a', 70000);
                memcpy(long_cpuinfo, "model name: ", 12);
                strcpy(long_cpuinfo + 70000, "\nflags\t: constant_tsc nonstop_tsc\n");
        }
        for (size_t i = 0; i < HPVM_ARRAY_SIZE(base_tree); i++)
                put(dir, base_tree[i].rel, base_tree[i].content);
        for (size_t i = 0; i < HPVM_ARRAY_SIZE(tc->change) && tc->change[i].rel; i++)
                put(dir, tc->change[i].rel, tc->change[i].content);

        r = hpvm_host_load_sysfs(dir, HPVM_HOST_ALL, &h, &u, &err);
        if (tc->code == 0) {
                ck_assert_msg(r == 0, "%s: %d %s", tc->name, r, err.msg);
                summarize(h, u, got, sizeof(got));
                ck_assert_msg(strstr(got, tc->msg), "%s: got '%s', want '%s'", tc->name, got, tc->msg);
                hpvm_host_free(h);
                hpvm_usage_free(u);
        } else {
                ck_assert_msg(r == tc->code, "%s: returned %d, want %d (%s)", tc->name, r, tc->code, err.msg);
                ck_assert_int_eq(err.code, tc->code);
                ck_assert_msg(strstr(err.msg, tc->msg), "%s: message '%s' lacks '%s'", tc->name, err.msg, tc->msg);
                ck_assert_ptr_eq(h, &sentinel);
        }
        th_rmtree(dir);
}
END_TEST

/* Caps on counts hold before any loop: too many page sizes, an oversized file. */
START_TEST(test_tree_limits)
{
        _cleanup_free_ char *dir = th_tmpdir();
        _cleanup_free_ char *big = malloc(70000);
        HpvmHost *h = &sentinel;
        HpvmError err = { 0 };
        char rel[128];

        for (size_t i = 0; i < HPVM_ARRAY_SIZE(base_tree); i++)
                put(dir, base_tree[i].rel, base_tree[i].content);
        for (unsigned i = 0; i <= HPVM_PAGE_SIZES_MAX; i++) {
                snprintf(rel, sizeof(rel), NODE "node1/hugepages/hugepages-%ukB/nr_hugepages", 64u << i);
                put(dir, rel, "0\n");
        }
        ck_assert_int_eq(hpvm_host_load_sysfs(dir, HPVM_HOST_ALL, &h, NULL, &err), -EINVAL);
        ck_assert_msg(strstr(err.msg, "node1/hugepages: more than 8 huge page sizes"), "%s", err.msg);
        ck_assert_ptr_eq(h, &sentinel);

        put(dir, NODE "node1/hugepages", NULL);
        ck_assert(big);
        memset(big, '1', 69999);
        big[69999] = '\0';
        put(dir, NODE "node1/cpulist", big);
        ck_assert_int_eq(hpvm_host_load_sysfs(dir, HPVM_HOST_ALL, &h, NULL, &err), -EINVAL);
        ck_assert_msg(strstr(err.msg, "node1/cpulist: larger than 64 KiB"), "%s", err.msg);

        /* A root with a trailing slash reads the same tree. */
        put(dir, NODE "node1/cpulist", "2-3\n");
        big[0] = '\0';
        snprintf(big, 4096, "%s/", dir);
        ck_assert_msg(hpvm_host_load_sysfs(big, HPVM_HOST_ALL, &h, NULL, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(h->nnodes, 2);
        hpvm_host_free(h);

        h = &sentinel;
        ck_assert_int_eq(hpvm_host_load_sysfs("/nonexistent-hpvm-root", HPVM_HOST_ALL, &h, NULL, &err), -ENOENT);
        ck_assert_msg(strstr(err.msg, "sys/devices/system/cpu/online: missing"), "%s", err.msg);
        ck_assert_ptr_eq(h, &sentinel);
        th_rmtree(dir);
}
END_TEST

/* ------------------------------------------------------------ sysfs: the live host against libnuma */

START_TEST(test_live_host_matches_libnuma)
{
        _cleanup_host_ HpvmHost *h = NULL;
        _cleanup_usage_ HpvmUsage *u = NULL;
        HpvmError err = { 0 };
        struct bitmask *bm;
        HpvmCpuSet nodes;
        int maxnode;
        long onln;

        if (numa_available() < 0) {
                printf("test-topology: live-host check skipped: numa_available() < 0 (no NUMA support in this kernel)\n");
                return;
        }
        ck_assert_msg(hpvm_host_load_sysfs("/", HPVM_HOST_ALL, &h, &u, &err) == 0, "live host: %d %s", err.code, err.msg);

        maxnode = numa_max_node();
        ck_assert_int_ge(maxnode, 0);
        ck_assert_uint_ge(h->nnodes, 1);
        ck_assert_int_eq((int) h->nodes[h->nnodes - 1].id, maxnode);

        /* Same set of nodes as libnuma's configured nodes. */
        hpvm_host_all_nodes(h, &nodes);
        for (int n = 0; n <= maxnode; n++)
                ck_assert_msg(hpvm_cpuset_test(&nodes, (unsigned) n) == !!numa_bitmask_isbitset(numa_nodes_ptr, (unsigned) n),
                              "node %d: we say %d, libnuma says %d", n, hpvm_cpuset_test(&nodes, (unsigned) n),
                              numa_bitmask_isbitset(numa_nodes_ptr, (unsigned) n));

        bm = numa_allocate_cpumask();
        ck_assert_ptr_nonnull(bm);
        for (size_t i = 0; i < h->nnodes; i++) {
                const HpvmNode *n = &h->nodes[i];
                long long size, nfree = 0;

                ck_assert_int_eq(numa_node_to_cpus((int) n->id, bm), 0);
                for (unsigned c = 0; c < bm->size && c < HPVM_CPUSET_MAX; c++)
                        ck_assert_msg(hpvm_cpuset_test(&n->cpus, c) == !!numa_bitmask_isbitset(bm, c),
                                      "node %u CPU %u: we say %d, libnuma says %d", n->id, c,
                                      hpvm_cpuset_test(&n->cpus, c), numa_bitmask_isbitset(bm, c));

                size = numa_node_size64((int) n->id, &nfree);
                ck_assert_msg(size >= 0, "numa_node_size64(%u) failed", n->id);
                ck_assert_msg((uint64_t) size == n->mem_kib * 1024,
                              "node %u: we say %llu KiB, libnuma says %lld bytes", n->id,
                              (unsigned long long) n->mem_kib, size);
                ck_assert_uint_le(u->node[i].mem_kib, n->mem_kib);
        }
        numa_free_cpumask(bm);

        /* Online CPUs: glibc counts them from the same kernel file, libnuma maps each to its node. */
        onln = sysconf(_SC_NPROCESSORS_ONLN);
        ck_assert_int_eq((long) hpvm_cpuset_count(&h->online), onln);
        for (int c = hpvm_cpuset_next(&h->online, 0); c >= 0; c = hpvm_cpuset_next(&h->online, (unsigned) c + 1))
                ck_assert_int_eq(h->cpu[c].node, numa_node_of_cpu(c));

        printf("test-topology: live host agrees with libnuma: %zu node(s), max node %d, %u online CPU(s)\n",
               h->nnodes, maxnode, hpvm_cpuset_count(&h->online));
}
END_TEST

/* ------------------------------------------------------------ capabilities XML in memory */

#define CAPS_HEAD "<capabilities><host><cpu><arch>x86_64</arch></cpu><topology><cells num='1'>"
#define CAPS_TAIL "</cells></topology></host></capabilities>"
#define CELL0_CPUS "<cpus num='1'><cpu id='0' socket_id='0' core_id='0' siblings='0'/></cpus>"

typedef struct CapsCase {
        const char *name;
        const char *xml;
        int code;
        const char *msg;        /* error substring; on success a summary substring */
} CapsCase;

static const CapsCase caps_cases[] = {
        /* loads */
        { "memory in GiB, pages without unit",
          CAPS_HEAD "<cell id='0'><memory unit='GiB'>2</memory><pages size='4'>10</pages>"
          "<pages size='2048'>7</pages>" CELL0_CPUS "</cell>" CAPS_TAIL,
          0, "node0=0 mem0=2097152 pools0=2048:7/7" },
        { "memory 0 and no cpus",
          CAPS_HEAD "<cell id='0'><memory unit='KiB'>0</memory></cell>" CAPS_TAIL, 0, "node0= mem0=0 pools0=" },
        /* Older libvirt and vdsm's samples write no <memory> at all: unknown, not none. */
        { "no memory element anywhere",
          CAPS_HEAD "<cell id='0'>" CELL0_CPUS "</cell><cell id='1'/>" CAPS_TAIL, 0, "mem0=18446744073709551615 " },
        /* Where other cells have one, libvirt left it out because the cell has none. */
        { "no memory element beside cells with one",
          CAPS_HEAD "<cell id='0'>" CELL0_CPUS "</cell><cell id='1'><memory>4</memory></cell>" CAPS_TAIL, 0,
          "mem0=0 " },
        { "TSC counter",
          "<capabilities><host><cpu><counter name='tsc' frequency='2904000000' scaling='yes'/></cpu><topology><cells>"
          "<cell id='0'/></cells></topology></host></capabilities>", 0, "tsc=2904000000/1 " },
        /* vdsm's AMD 6274 sample: every thread has its own core_id, the siblings list pairs them. */
        { "siblings, not core_id",
          CAPS_HEAD "<cell id='0'><cpus num='2'><cpu id='0' socket_id='0' core_id='0' siblings='0-1'/>"
          "<cpu id='1' socket_id='0' core_id='1' siblings='0-1'/></cpus></cell>" CAPS_TAIL, 0, "cores=1 sib0=0-1 " },
        { "no siblings attribute: same core_id",
          CAPS_HEAD "<cell id='0'><cpus num='3'><cpu id='0' socket_id='0' core_id='0'/>"
          "<cpu id='1' socket_id='0' core_id='1'/><cpu id='2' socket_id='0' core_id='0'/></cpus></cell>" CAPS_TAIL,
          0, "cores=2 sib0=0,2 " },
        { "distances",
          "<capabilities><host><topology><cells><cell id='0'><distances><sibling id='0' value='10'/>"
          "<sibling id='3' value='32'/></distances></cell><cell id='3'><distances><sibling id='0' value='32'/>"
          "<sibling id='3' value='10'/></distances></cell></cells></topology></host></capabilities>",
          0, "dist=10 32/32 10" },
        { "ppc64: 64 KiB base page skipped",
          CAPS_HEAD "<cell id='0'><memory unit='KiB'>1024</memory><pages unit='KiB' size='64'>5</pages>"
          "<pages unit='KiB' size='16384'>2</pages><pages unit='KiB' size='16777216'>0</pages>"
          CELL0_CPUS "</cell>" CAPS_TAIL, 0, "pools0=16384:2/2 16777216:0/0" },
        { "arm64: 64 KiB contiguous pages kept on a 4 KiB kernel",
          CAPS_HEAD "<cell id='0'><memory unit='KiB'>1024</memory><pages size='2048'>1</pages>"
          "<pages size='64'>3</pages><pages size='4'>100</pages>" CELL0_CPUS "</cell>" CAPS_TAIL,
          0, "pools0=64:3/3 2048:1/1" },
        { "no base page listed: every size is a pool",
          CAPS_HEAD "<cell id='0'><pages unit='MiB' size='2'>9</pages></cell>" CAPS_TAIL, 0, "pools0=2048:9/9" },
        { "invtsc feature",
          "<capabilities><host><cpu><feature name='vmx'/><feature name='invtsc'/></cpu><topology><cells>"
          "<cell id='0'/></cells></topology></host></capabilities>", 0, "invtsc=1" },
        { "cells out of order",
          "<capabilities><host><topology><cells><cell id='5'>" CELL0_CPUS "</cell><cell id='2'/>"
          "</cells></topology></host></capabilities>", 0, "ids=2,5" },
        /* refused */
        { "bad cell id", CAPS_HEAD "<cell id='x'/>" CAPS_TAIL, -EINVAL,
          "capabilities XML: <cell id='x'>: 'x' is not a number" },
        { "cell id out of range", CAPS_HEAD "<cell id='1024'/>" CAPS_TAIL, -EINVAL,
          "capabilities XML: <cell id='1024'>: NUMA node id out of range (at most 1023)" },
        { "cell without id", CAPS_HEAD "<cell/>" CAPS_TAIL, -EINVAL, "<cell> without id" },
        { "cell twice", CAPS_HEAD "<cell id='1'/><cell id='1'/>" CAPS_TAIL, -EINVAL, "<cell id='1'>: listed twice" },
        { "no topology", "<capabilities><host><cpu/></host></capabilities>", -EINVAL,
          "capabilities XML: no <host><topology><cells>" },
        { "no host", "<capabilities><guest/></capabilities>", -EINVAL, "no <host><topology><cells>" },
        { "no cells", CAPS_HEAD CAPS_TAIL, -EINVAL, "<cells> has no <cell>" },
        { "DOCTYPE", "<?xml version='1.0'?><!DOCTYPE capabilities [<!ENTITY a 'b'>]><capabilities/>",
          -EINVAL, "DOCTYPE" },
        { "wrong root", "<domain type='kvm'/>", -EINVAL, "expected <capabilities>" },
        { "not XML", "<capabilities><host>", -EINVAL, "not well-formed" },
        { "empty", "", -EINVAL, "empty" },
        { "cpu id junk", CAPS_HEAD "<cell id='0'><cpus><cpu id='1a'/></cpus></cell>" CAPS_TAIL, -EINVAL,
          "<cell id='0'>: <cpu> id '1a' is not a number" },
        { "cpu id out of range", CAPS_HEAD "<cell id='0'><cpus><cpu id='4096'/></cpus></cell>" CAPS_TAIL, -EINVAL,
          "'4096' is out of range (at most 4095)" },
        { "cpu without id", CAPS_HEAD "<cell id='0'><cpus><cpu/></cpus></cell>" CAPS_TAIL, -EINVAL, "<cpu> without id" },
        { "cpu in two cells",
          CAPS_HEAD "<cell id='0'>" CELL0_CPUS "</cell><cell id='1'>" CELL0_CPUS "</cell>" CAPS_TAIL,
          -EINVAL, "<cell id='1'>: CPU 0 is listed twice" },
        { "core_id negative", CAPS_HEAD "<cell id='0'><cpus><cpu id='3' core_id='-1'/></cpus></cell>" CAPS_TAIL,
          -EINVAL, "<cell id='0'>: <cpu id='3'>: core_id '-1' is not a number" },
        { "siblings junk", CAPS_HEAD "<cell id='0'><cpus><cpu id='0' siblings='0-'/></cpus></cell>" CAPS_TAIL, -EINVAL,
          "<cpu id='0' siblings='0-'>: " },
        { "siblings overlap", CAPS_HEAD "<cell id='0'><cpus><cpu id='0' siblings='0-1'/><cpu id='1' siblings='0-1'/>"
          "<cpu id='2' siblings='1-2'/></cpus></cell>" CAPS_TAIL, -EINVAL,
          "<cpu id='2'>: its siblings overlap another core's without matching them" },
        { "distance to an unknown cell", CAPS_HEAD "<cell id='0'><distances><sibling id='4' value='20'/></distances>"
          "</cell>" CAPS_TAIL, -EINVAL, "<cell id='0'>: <distances> names cell 4, which is not listed" },
        { "distance junk", CAPS_HEAD "<cell id='0'><distances><sibling id='0' value='near'/></distances></cell>"
          CAPS_TAIL, -EINVAL, "<distances><sibling> value 'near' is not a number" },
        { "distance 0", CAPS_HEAD "<cell id='0'><distances><sibling id='0' value='0'/></distances></cell>"
          CAPS_TAIL, -EINVAL, "distance 0 to cell 0" },
        { "TSC frequency junk", "<capabilities><host><cpu><counter name='tsc' frequency='2.9GHz'/></cpu><topology>"
          "<cells><cell id='0'/></cells></topology></host></capabilities>", -EINVAL,
          "frequency '2.9GHz' is not a number" },
        { "memory junk", CAPS_HEAD "<cell id='0'><memory unit='KiB'>lots</memory></cell>" CAPS_TAIL, -EINVAL,
          "<cell id='0'>: <memory> 'lots' is not a number" },
        { "memory unit junk", CAPS_HEAD "<cell id='0'><memory unit='furlongs'>1</memory></cell>" CAPS_TAIL, -EINVAL,
          "<memory>: unknown unit 'furlongs'" },
        { "memory too big", CAPS_HEAD "<cell id='0'><memory unit='EiB'>9</memory></cell>" CAPS_TAIL, -EINVAL,
          "more than this program accepts" },
        { "pages count junk", CAPS_HEAD "<cell id='0'><pages size='2048'>-1</pages></cell>" CAPS_TAIL, -EINVAL,
          "<pages size='2048'> count '-1' is not a number" },
        { "pages count too big", CAPS_HEAD "<cell id='0'><pages size='1048576'>9999999999</pages></cell>" CAPS_TAIL,
          -EINVAL, "out of range" },
        { "pages without size", CAPS_HEAD "<cell id='0'><pages>1</pages></cell>" CAPS_TAIL, -EINVAL, "<pages> without size" },
        { "pages size junk", CAPS_HEAD "<cell id='0'><pages size='2M'>1</pages></cell>" CAPS_TAIL, -EINVAL,
          "<pages> size '2M' is not a number" },
        { "pages size twice", CAPS_HEAD "<cell id='0'><pages size='2048'>1</pages><pages unit='MiB' size='2'>1</pages></cell>"
          CAPS_TAIL, -EINVAL, "two <pages> of 2048 KiB" },
        { "too many page sizes",
          CAPS_HEAD "<cell id='0'><pages size='4'>1</pages><pages size='8'>1</pages><pages size='16'>1</pages>"
          "<pages size='32'>1</pages><pages size='64'>1</pages><pages size='128'>1</pages><pages size='256'>1</pages>"
          "<pages size='512'>1</pages><pages size='1024'>1</pages><pages size='2048'>1</pages></cell>" CAPS_TAIL,
          -EINVAL, "more than 8 huge page sizes" },
};

static void caps_summary(const HpvmHost *h, char *out, size_t size)
{
        char c0[64] = "", p0[256] = "", ids[64], sib0[64], dist[128];
        HpvmCpuSet s;

        hpvm_host_siblings(h, 0, &s);
        fmt_set(&s, sib0, sizeof(sib0));
        if (h->nnodes > 0) {
                fmt_set(&h->nodes[0].cpus, c0, sizeof(c0));
                fmt_pools(&h->nodes[0], NULL, p0, sizeof(p0));
        }
        hpvm_host_all_nodes(h, &s);
        fmt_set(&s, ids, sizeof(ids));
        snprintf(out, size, "invtsc=%d tsc=%llu/%d ids=%s node0=%s mem0=%llu pools0=%s cores=%zu sib0=%s dist=%s",
                 h->invtsc, (unsigned long long) h->tsc_hz, h->tsc_scaling, ids, c0,
                 h->nnodes ? (unsigned long long) h->nodes[0].mem_kib : 0ULL, p0, h->ncores, sib0,
                 fmt_dist(h, dist, sizeof(dist)));
}

START_TEST(test_caps_cases)
{
        const CapsCase *cc = &caps_cases[_i];
        HpvmHost *h = &sentinel;
        HpvmError err = { 0 };
        char got[1024];
        int r;

        r = hpvm_host_parse_caps(cc->xml, strlen(cc->xml), HPVM_HOST_ALL, &h, NULL, &err);
        if (cc->code == 0) {
                ck_assert_msg(r == 0, "%s: %d %s", cc->name, r, err.msg);
                caps_summary(h, got, sizeof(got));
                ck_assert_msg(strstr(got, cc->msg), "%s: got '%s', want '%s'", cc->name, got, cc->msg);
                hpvm_host_free(h);
        } else {
                ck_assert_msg(r == cc->code, "%s: returned %d, want %d (%s)", cc->name, r, cc->code, err.msg);
                ck_assert_int_eq(err.code, cc->code);
                ck_assert_msg(strstr(err.msg, cc->msg), "%s: message '%s' lacks '%s'", cc->name, err.msg, cc->msg);
                ck_assert_ptr_eq(h, &sentinel);
        }
}
END_TEST

START_TEST(test_caps_file_errors)
{
        _cleanup_free_ char *dir = th_tmpdir();
        char path[4096];
        HpvmHost *h = &sentinel;
        HpvmError err = { 0 };

        ck_assert_int_eq(hpvm_host_load_caps("/nonexistent/caps.xml", HPVM_HOST_ALL, &h, NULL, &err), -ENOENT);
        ck_assert_msg(strstr(err.msg, "/nonexistent/caps.xml"), "%s", err.msg);
        ck_assert_ptr_eq(h, &sentinel);

        /* A parse error from a file names the file too. */
        snprintf(path, sizeof(path), "%s/caps.xml", dir);
        put(dir, "caps.xml", CAPS_HEAD "<cell id='x'/>" CAPS_TAIL);
        ck_assert_int_eq(hpvm_host_load_caps(path, HPVM_HOST_ALL, &h, NULL, &err), -EINVAL);
        ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "<cell id='x'>: 'x' is not a number"), "%s", err.msg);
        ck_assert_ptr_eq(h, &sentinel);
        th_rmtree(dir);
}
END_TEST

/* ------------------------------------------------------------ suite */


/* Asking for less reads less and says so, and the nodes are the same as a full load. */
START_TEST(test_parts)
{
        static const char *const trees[] = { "numa1", "numa2", "numa4-cpuless", "nonuma" };
        static const char *const caps[] = { "caps-1node.xml", "caps-2node.xml", "caps-4node.xml", "caps-8node.xml" };

        for (size_t i = 0; i < 8; i++) {
                HpvmHost *full = NULL, *part = NULL;
                HpvmError err = { 0 };
                char *path;

                if (i < 4) {
                        ck_assert_int_ge(asprintf(&path, "%s/tests/data/sysfs/%s", th_srcdir(), trees[i]), 0);
                        ck_assert_int_eq(hpvm_host_load_sysfs(path, HPVM_HOST_ALL, &full, NULL, &err), 0);
                        ck_assert_int_eq(hpvm_host_load_sysfs(path, 0, &part, NULL, &err), 0);
                        ck_assert_uint_eq(part->parts, 0);
                        ck_assert(!part->invtsc);
                } else {
                        ck_assert_int_ge(asprintf(&path, "%s/tests/data/caps/%s", th_srcdir(), caps[i - 4]), 0);
                        ck_assert_int_eq(hpvm_host_load_caps(path, HPVM_HOST_ALL, &full, NULL, &err), 0);
                        ck_assert_int_eq(hpvm_host_load_caps(path, 0, &part, NULL, &err), 0);
                        /* The caps document carries the CPU features anyway. */
                        ck_assert_uint_eq(part->parts, HPVM_HOST_CPU_FLAGS);
                        ck_assert(part->invtsc == full->invtsc);
                }
                ck_assert_uint_eq(full->parts, HPVM_HOST_ALL);
                ck_assert_uint_eq(part->ncpu, 0);
                ck_assert_uint_eq(part->ncores, 0);
                ck_assert_ptr_null(part->distance);
                ck_assert_uint_gt(full->ncpu, 0);
                ck_assert(hpvm_cpuset_equal(&part->online, &full->online));
                ck_assert_uint_eq(part->nnodes, full->nnodes);
                for (size_t n = 0; n < full->nnodes; n++) {
                        ck_assert_uint_eq(part->nodes[n].id, full->nodes[n].id);
                        ck_assert(hpvm_cpuset_equal(&part->nodes[n].cpus, &full->nodes[n].cpus));
                        ck_assert_uint_eq(part->nodes[n].mem_kib, full->nodes[n].mem_kib);
                        ck_assert_uint_eq(part->nodes[n].npools, full->nodes[n].npools);
                }
                hpvm_host_free(full);
                hpvm_host_free(part);
                free(path);
        }
}
END_TEST

/* Thread siblings alone (what placement reads): the same cores as a full load, no socket or die. */
START_TEST(test_parts_cores)
{
        static const char *const trees[] = { "numa1", "numa2", "numa4-cpuless", "nonuma" };

        for (size_t i = 0; i < HPVM_ARRAY_SIZE(trees); i++) {
                HpvmHost *full = NULL, *cores = NULL;
                HpvmError err = { 0 };
                char *path;

                ck_assert_int_ge(asprintf(&path, "%s/tests/data/sysfs/%s", th_srcdir(), trees[i]), 0);
                ck_assert_int_eq(hpvm_host_load_sysfs(path, HPVM_HOST_ALL, &full, NULL, &err), 0);
                ck_assert_int_eq(hpvm_host_load_sysfs(path, HPVM_HOST_CPU_CORES, &cores, NULL, &err), 0);
                ck_assert_uint_eq(cores->parts, HPVM_HOST_CPU_CORES);
                ck_assert_uint_eq(cores->ncpu, full->ncpu);
                ck_assert_uint_eq(cores->ncores, full->ncores);
                for (size_t k = 0; k < full->ncores; k++)
                        ck_assert(hpvm_cpuset_equal(&cores->cores[k], &full->cores[k]));
                for (unsigned c = 0; c < full->ncpu; c++) {
                        ck_assert_int_eq(cores->cpu[c].core, full->cpu[c].core);
                        ck_assert_int_eq(cores->cpu[c].node, full->cpu[c].node);
                        ck_assert_int_eq(cores->cpu[c].socket, -1);
                        ck_assert_int_eq(cores->cpu[c].die, -1);
                }
                ck_assert_uint_eq(hpvm_host_threads_per_core(cores), hpvm_host_threads_per_core(full));
                hpvm_host_free(full);
                hpvm_host_free(cores);
                free(path);
        }
}
END_TEST

static Suite *topology_suite(void)
{
        Suite *s = suite_create("topology");
        TCase *tc;

        tc = tcase_create("model");
        tcase_add_test(tc, test_model_nodes);
        tcase_add_test(tc, test_model_mem_saturates);
        tcase_add_test(tc, test_model_pages);
        tcase_add_test(tc, test_model_cpus);
        tcase_add_test(tc, test_model_mem_unknown);
        tcase_add_test(tc, test_model_distances);
        tcase_add_test(tc, test_model_usage);
        tcase_add_test(tc, test_model_free_null);
        suite_add_tcase(s, tc);

        tc = tcase_create("fixtures");
        tcase_add_loop_test(tc, test_fixture_loads, 0, (int) HPVM_ARRAY_SIZE(hosts));
        tcase_add_loop_test(tc, test_fixture_sources_agree, 0, 2);
        suite_add_tcase(s, tc);

        tc = tcase_create("sysfs");
        tcase_add_loop_test(tc, test_tree_cases, 0, (int) HPVM_ARRAY_SIZE(tree_cases));
        tcase_add_test(tc, test_tree_limits);
        suite_add_tcase(s, tc);

        tc = tcase_create("parts");
        tcase_add_test(tc, test_parts);
        tcase_add_test(tc, test_parts_cores);
        suite_add_tcase(s, tc);

        tc = tcase_create("live");
        tcase_add_test(tc, test_live_host_matches_libnuma);
        suite_add_tcase(s, tc);

        tc = tcase_create("caps");
        tcase_add_loop_test(tc, test_caps_cases, 0, (int) HPVM_ARRAY_SIZE(caps_cases));
        tcase_add_test(tc, test_caps_file_errors);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(topology_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
