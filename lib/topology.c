/* topology.c: the host model (nodes, CPUs, memory, huge page pools) that loaders fill and placement reads. */
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
        free(h->cpu);
        free(h);
}

int hpvm_host_add_node(HpvmHost *h, unsigned id, const HpvmCpuSet *cpus,
                       uint64_t mem_total_kib, uint64_t mem_free_kib, HpvmNode **ret_node)
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
        nodes[pos].mem_total_kib = mem_total_kib;
        nodes[pos].mem_free_kib = mem_free_kib;
        h->nnodes++;

        if (ret_node)
                *ret_node = &nodes[pos];
        return 0;
}

int hpvm_node_set_pages(HpvmNode *n, uint64_t size_kib, uint64_t total, uint64_t free)
{
        size_t pos;

        if (size_kib == 0)
                return -EINVAL;

        for (pos = 0; pos < n->npools && n->pools[pos].size_kib < size_kib; pos++)
                ;
        if (pos < n->npools && n->pools[pos].size_kib == size_kib) {
                n->pools[pos].total = total;
                n->pools[pos].free = free;
                return 0;
        }
        if (n->npools >= HPVM_PAGE_SIZES_MAX)
                return -ENOSPC;

        /* Keep pools sorted by size so callers can walk from small to large pages. */
        memmove(&n->pools[pos + 1], &n->pools[pos], (n->npools - pos) * sizeof(n->pools[0]));
        n->pools[pos] = (HpvmPagePool) { .size_kib = size_kib, .total = total, .free = free };
        n->npools++;
        return 0;
}

int hpvm_host_set_cpu(HpvmHost *h, unsigned cpu, const HpvmCpuTopo *topo)
{
        if (cpu >= HPVM_CPUSET_MAX)
                return -ERANGE;

        if (cpu >= h->ncpu) {
                HpvmCpuTopo *t = realloc(h->cpu, (size_t) (cpu + 1) * sizeof(*t));

                if (!t)
                        return -ENOMEM;
                /* Ids between the old end and @cpu are holes (offline or absent CPUs): "unknown". */
                for (unsigned i = h->ncpu; i <= cpu; i++)
                        t[i] = (HpvmCpuTopo) { .node = -1, .socket = -1, .die = -1, .core = -1 };
                h->cpu = t;
                h->ncpu = cpu + 1;
        }
        h->cpu[cpu] = *topo;
        return 0;
}

const HpvmNode *hpvm_host_node(const HpvmHost *h, unsigned id)
{
        for (size_t i = 0; i < h->nnodes; i++)
                if (h->nodes[i].id == id)
                        return &h->nodes[i];
        return NULL;
}

void hpvm_host_memory_nodes(const HpvmHost *h, HpvmCpuSet *ret)
{
        hpvm_cpuset_zero(ret);
        for (size_t i = 0; i < h->nnodes; i++)
                if (h->nodes[i].mem_total_kib > 0)
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
                if (!hpvm_cpuset_test(nodes, h->nodes[i].id))
                        continue;
                /* Saturate rather than wrap: a wrapped sum would make a huge request "fit". */
                if (sum > UINT64_MAX - h->nodes[i].mem_total_kib)
                        return UINT64_MAX;
                sum += h->nodes[i].mem_total_kib;
        }
        return sum;
}

const HpvmPagePool *hpvm_node_pages(const HpvmNode *n, uint64_t size_kib)
{
        for (size_t i = 0; i < n->npools; i++)
                if (n->pools[i].size_kib == size_kib)
                        return &n->pools[i];
        return NULL;
}

void hpvm_host_siblings(const HpvmHost *h, unsigned cpu, HpvmCpuSet *ret)
{
        const HpvmCpuTopo *me;

        hpvm_cpuset_zero(ret);
        if (cpu >= h->ncpu || !hpvm_cpuset_test(&h->online, cpu))
                return;

        hpvm_cpuset_set(ret, cpu);
        me = &h->cpu[cpu];
        /* Without a socket and core id every CPU would "match" every other: claim no siblings. */
        if (me->socket < 0 || me->core < 0)
                return;

        for (unsigned i = 0; i < h->ncpu; i++) {
                const HpvmCpuTopo *t = &h->cpu[i];

                if (i == cpu || !hpvm_cpuset_test(&h->online, i))
                        continue;
                if (t->node == me->node && t->socket == me->socket &&
                    t->die == me->die && t->core == me->core)
                        hpvm_cpuset_set(ret, i);
        }
}
