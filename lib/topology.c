/* topology.c: the host model (nodes, CPUs, thread siblings, distances, page pools) and what of it is in use. */
#include <errno.h>
#include <string.h>

#include "props.h"
#include "topology.h"

HpvmHost *hpvm_host_new(void)
{
        /* calloc: zeroed cpusets are empty sets, so no further setup is needed. */
        return calloc(1, sizeof(HpvmHost));
}

void hpvm_host_free(HpvmHost *h)
{
        if (!h)
                return;
        free(h->nodes);
        free(h->distance);
        free(h->cpu);
        free(h->cores);
        free(h);
}

int hpvm_host_add_node(HpvmHost *h, unsigned id, const HpvmCpuSet *cpus, uint64_t mem_kib, HpvmNode **ret_node)
{
        size_t pos;
        HpvmNode *nodes;

        if (id >= HPVM_NODE_MAX)
                return -ERANGE;

        /* Find the insertion point; ids are unique, so an equal id is a caller bug or bad input. */
        for (pos = 0; pos < h->nnodes && h->nodes[pos].id < id; pos++)
                ;
        if (pos < h->nnodes && h->nodes[pos].id == id)
                return -EEXIST;

        /* At most HPVM_NODE_MAX nodes (ids are unique and bounded), so growing by one stays cheap. */
        nodes = realloc(h->nodes, (h->nnodes + 1) * sizeof(*nodes));
        if (!nodes)
                return -ENOMEM;
        h->nodes = nodes;

        memmove(&nodes[pos + 1], &nodes[pos], (h->nnodes - pos) * sizeof(*nodes));
        memset(&nodes[pos], 0, sizeof(*nodes));
        nodes[pos].id = id;
        if (cpus)
                nodes[pos].cpus = *cpus;
        nodes[pos].mem_kib = mem_kib;
        h->nnodes++;
        /* Node indices moved: a distance table by index would now lie. */
        free(h->distance);
        h->distance = NULL;

        if (ret_node)
                *ret_node = &nodes[pos];
        return 0;
}

int hpvm_node_set_pages(HpvmNode *n, uint64_t size_kib, uint64_t total)
{
        size_t pos;

        if (size_kib == 0)
                return -EINVAL;

        for (pos = 0; pos < n->npools && n->pools[pos].size_kib < size_kib; pos++)
                ;
        if (pos < n->npools && n->pools[pos].size_kib == size_kib) {
                n->pools[pos].total = total;
                return 0;
        }
        if (n->npools >= HPVM_PAGE_SIZES_MAX)
                return -ENOSPC;

        /* Keep pools sorted by size so callers can walk from small to large pages. */
        memmove(&n->pools[pos + 1], &n->pools[pos], (n->npools - pos) * sizeof(n->pools[0]));
        n->pools[pos] = (HpvmPagePool) { .size_kib = size_kib, .total = total };
        n->npools++;
        return 0;
}

int hpvm_node_pool(const HpvmNode *n, uint64_t size_kib)
{
        for (size_t i = 0; i < n->npools; i++)
                if (n->pools[i].size_kib == size_kib)
                        return (int)i;
        return -1;
}

const HpvmPagePool *hpvm_node_pages(const HpvmNode *n, uint64_t size_kib)
{
        int i = hpvm_node_pool(n, size_kib);

        return i < 0 ? NULL : &n->pools[i];
}

int hpvm_host_set_cpu(HpvmHost *h, unsigned cpu, const HpvmCpuTopo *topo)
{
        int core = -1;

        if (cpu >= HPVM_CPUSET_MAX)
                return -ERANGE;

        if (cpu >= h->ncpu) {
                HpvmCpuTopo *t = realloc(h->cpu, (size_t)(cpu + 1) * sizeof(*t));

                if (!t)
                        return -ENOMEM;
                /* Ids between the old end and @cpu are holes (offline or absent CPUs): "unknown". */
                for (unsigned i = h->ncpu; i <= cpu; i++)
                        t[i] = (HpvmCpuTopo) { .node = -1, .socket = -1, .die = -1, .core = -1 };
                h->cpu = t;
                h->ncpu = cpu + 1;
        } else {
                core = h->cpu[cpu].core;
        }
        h->cpu[cpu] = *topo;
        h->cpu[cpu].core = core;
        return 0;
}

int hpvm_host_add_core(HpvmHost *h, const HpvmCpuSet *siblings)
{
        HpvmCpuSet *cores;
        int first = hpvm_cpuset_next(siblings, 0);
        int known;

        if (first < 0)
                return -EINVAL;
        for (int c = first; c >= 0; c = hpvm_cpuset_next(siblings, (unsigned)c + 1))
                if ((unsigned)c >= h->ncpu)
                        return -EINVAL;
        /* Every sibling names the same set: only the first CPU's record tells whether it is known. */
        known = h->cpu[first].core;
        if (known >= 0) {
                if (!hpvm_cpuset_equal(&h->cores[known], siblings))
                        return -EINVAL;
                return 0;
        }
        for (int c = first; c >= 0; c = hpvm_cpuset_next(siblings, (unsigned)c + 1))
                if (h->cpu[c].core >= 0)
                        return -EINVAL;
        /* Cores are bounded by CPUs (< HPVM_CPUSET_MAX), so growing by one stays cheap enough. */
        cores = realloc(h->cores, (h->ncores + 1) * sizeof(*cores));
        if (!cores)
                return -ENOMEM;
        h->cores = cores;
        cores[h->ncores] = *siblings;
        for (int c = first; c >= 0; c = hpvm_cpuset_next(siblings, (unsigned)c + 1))
                h->cpu[c].core = (int)h->ncores;
        h->ncores++;
        return 0;
}

int hpvm_host_set_distance(HpvmHost *h, size_t i, size_t j, uint32_t dist)
{
        size_t n = h->nnodes;

        if (i >= n || j >= n || dist == 0)
                return -ERANGE;
        if (!h->distance) {
                h->distance = malloc(n * n * sizeof(*h->distance));
                if (!h->distance)
                        return -ENOMEM;
                for (size_t a = 0; a < n; a++)
                        for (size_t b = 0; b < n; b++)
                                h->distance[a * n + b] = a == b ? HPVM_DISTANCE_LOCAL : HPVM_DISTANCE_REMOTE;
        }
        h->distance[i * n + j] = dist;
        return 0;
}

uint32_t hpvm_host_distance(const HpvmHost *h, size_t i, size_t j)
{
        if (h->distance && i < h->nnodes && j < h->nnodes)
                return h->distance[i * h->nnodes + j];
        return i == j ? HPVM_DISTANCE_LOCAL : HPVM_DISTANCE_REMOTE;
}

int hpvm_host_node_index(const HpvmHost *h, unsigned id)
{
        /* Nodes are sorted by id: a binary search keeps lookups cheap on 1024-node hosts. */
        size_t lo = 0, hi = h->nnodes;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (h->nodes[mid].id == id)
                        return (int)mid;
                if (h->nodes[mid].id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

const HpvmNode *hpvm_host_node(const HpvmHost *h, unsigned id)
{
        int i = hpvm_host_node_index(h, id);

        return i < 0 ? NULL : &h->nodes[i];
}

void hpvm_host_memory_nodes(const HpvmHost *h, HpvmCpuSet *ret)
{
        hpvm_cpuset_zero(ret);
        for (size_t i = 0; i < h->nnodes; i++)
                if (h->nodes[i].mem_kib > 0)
                        hpvm_cpuset_set(ret, h->nodes[i].id);
}

void hpvm_host_all_nodes(const HpvmHost *h, HpvmCpuSet *ret)
{
        hpvm_cpuset_zero(ret);
        for (size_t i = 0; i < h->nnodes; i++)
                hpvm_cpuset_set(ret, h->nodes[i].id);
}

uint64_t hpvm_host_nodes_mem_kib(const HpvmHost *h, const HpvmCpuSet *nodes)
{
        uint64_t sum = 0;

        for (size_t i = 0; i < h->nnodes; i++) {
                uint64_t m = h->nodes[i].mem_kib;

                if (!hpvm_cpuset_test(nodes, h->nodes[i].id))
                        continue;
                if (m == HPVM_MEM_UNKNOWN)
                        return HPVM_MEM_UNKNOWN;
                /* Saturate rather than wrap: a wrapped sum would make a huge request "fit". */
                if (sum > UINT64_MAX - 1 - m)
                        return UINT64_MAX - 1;
                sum += m;
        }
        return sum;
}

void hpvm_host_siblings(const HpvmHost *h, unsigned cpu, HpvmCpuSet *ret)
{
        hpvm_cpuset_zero(ret);
        if (!hpvm_cpuset_test(&h->online, cpu))
                return;
        if (cpu < h->ncpu && h->cpu[cpu].core >= 0) {
                *ret = h->cores[h->cpu[cpu].core];
                hpvm_cpuset_and(ret, &h->online);
        }
        hpvm_cpuset_set(ret, cpu);
}

unsigned hpvm_host_threads_per_core(const HpvmHost *h)
{
        unsigned most = 1;

        for (size_t i = 0; i < h->ncores; i++) {
                unsigned n = hpvm_cpuset_count(&h->cores[i]);

                if (n > most)
                        most = n;
        }
        return most;
}

HpvmUsage *hpvm_usage_new(const HpvmHost *h)
{
        HpvmUsage *u = calloc(1, sizeof(*u));

        if (!u)
                return NULL;
        u->nnodes = h->nnodes;
        u->node = calloc(h->nnodes ? h->nnodes : 1, sizeof(*u->node));
        if (!u->node) {
                free(u);
                return NULL;
        }
        for (size_t i = 0; i < h->nnodes; i++) {
                u->node[i].mem_kib = h->nodes[i].mem_kib;
                for (size_t j = 0; j < h->nodes[i].npools; j++)
                        u->node[i].pages[j] = h->nodes[i].pools[j].total;
        }
        return u;
}

HpvmUsage *hpvm_usage_copy(const HpvmUsage *src)
{
        HpvmUsage *u = malloc(sizeof(*u));

        if (!u)
                return NULL;
        *u = *src;
        u->node = malloc((src->nnodes ? src->nnodes : 1) * sizeof(*u->node));
        if (!u->node) {
                free(u);
                return NULL;
        }
        memcpy(u->node, src->node, src->nnodes * sizeof(*u->node));
        return u;
}

void hpvm_usage_free(HpvmUsage *u)
{
        if (!u)
                return;
        free(u->node);
        free(u);
}

uint64_t hpvm_usage_free_pages(const HpvmHost *h, const HpvmUsage *u, size_t i, uint64_t size_kib)
{
        int p;

        if (i >= h->nnodes || i >= u->nnodes)
                return 0;
        p = hpvm_node_pool(&h->nodes[i], size_kib);
        return p < 0 ? 0 : u->node[i].pages[p];
}

void hpvm_usage_free_cpus(const HpvmHost *h, const HpvmUsage *u, HpvmCpuSet *ret)
{
        *ret = h->online;
        hpvm_cpuset_andnot(ret, &u->reserved);
        hpvm_cpuset_andnot(ret, &u->taken);
}
