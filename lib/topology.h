/* topology.h: HpvmHost, a host's fixed NUMA topology, and HpvmUsage, what of it is in use; pure C, no XML, no libvirt. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpuset.h"
#include "util.h"

#define HPVM_PAGE_SIZES_MAX 8           /* distinct huge page sizes per node */
#define HPVM_MEM_UNKNOWN UINT64_MAX     /* an amount the source does not give */
#define HPVM_DISTANCE_LOCAL 10          /* ACPI SLIT: a node to itself */
#define HPVM_DISTANCE_REMOTE 20         /* assumed between two nodes when the source gives no distances */

/* A huge page pool of one node: its page size and how many pages the kernel reserved. */
typedef struct HpvmPagePool {
        uint64_t size_kib;      /* page size, e.g. 2048 or 1048576 */
        uint64_t total;         /* pages reserved on this node (free ones are in HpvmUsage) */
} HpvmPagePool;

typedef struct HpvmNode {
        unsigned id;
        HpvmCpuSet cpus;        /* CPUs of this node as the source lists them (may be empty: CPU-less node) */
        uint64_t mem_kib;       /* total memory; 0 = memory-less node; HPVM_MEM_UNKNOWN = not given */
        size_t npools;
        HpvmPagePool pools[HPVM_PAGE_SIZES_MAX]; /* huge pages only, by ascending size */
} HpvmNode;

/* Where a CPU sits; -1 where the source does not say. */
typedef struct HpvmCpuTopo {
        int node;               /* node id */
        int socket;
        int die;
        int core;               /* index into HpvmHost.cores (its thread siblings), not the kernel's core_id */
} HpvmCpuTopo;

/*
 * The fixed part of a host: what does not change while VMs come and go.
 * Loaders fill it; nothing else writes it.
 */
typedef struct HpvmHost {
        size_t nnodes;
        HpvmNode *nodes;        /* ascending ids */
        uint32_t *distance;     /* nnodes x nnodes by node index (row-major); NULL when the source gives none */
        HpvmCpuSet online;      /* online CPUs (union of node CPUs on a caps host) */
        unsigned ncpu;          /* entries in cpu[]: highest online CPU id + 1 (0 unless HPVM_HOST_CPU_TOPOLOGY) */
        HpvmCpuTopo *cpu;       /* indexed by CPU id */
        size_t ncores;
        HpvmCpuSet *cores;      /* thread-sibling sets, one per physical core, as the source lists them */
        bool invtsc;            /* CPU has invariant TSC (constant_tsc+nonstop_tsc / caps feature invtsc) */
        uint64_t tsc_hz;        /* TSC frequency, 0 if unknown */
        bool tsc_scaling;       /* the CPU can run a guest at another TSC frequency (caps counter scaling='yes') */
        unsigned parts;         /* HPVM_HOST_* read by the loader: what is not read stays empty/false */
} HpvmHost;

/* What is free on one node, parallel to HpvmHost.nodes. */
typedef struct HpvmNodeFree {
        uint64_t mem_kib;                        /* free memory; HPVM_MEM_UNKNOWN = not known */
        uint64_t pages[HPVM_PAGE_SIZES_MAX];     /* free pages of nodes[i].pools[j] */
} HpvmNodeFree;

/*
 * The changing part: CPUs kept for the host, CPUs held by VMs, free memory
 * and pages. Loaders give what the kernel says is free; ledgers and libvirt
 * add what VMs hold. Belongs to one HpvmHost (same node order).
 */
typedef struct HpvmUsage {
        HpvmCpuSet reserved;    /* CPUs kept for the host itself (config reserved_cpus) */
        HpvmCpuSet taken;       /* CPUs held by VMs */
        size_t nnodes;          /* == the host's nnodes */
        HpvmNodeFree *node;
} HpvmUsage;

/*
 * What a loader reads besides nodes, their CPUs, memory and huge pages. Each
 * part costs reads per CPU (hundreds of sysfs files, or a large /proc/cpuinfo,
 * on a big host), so a hook asks only for what it checks.
 */
enum {
        HPVM_HOST_CPU_TOPOLOGY = 1u << 0,   /* cpu[] and cores[]: socket, die and thread siblings of every online CPU */
        HPVM_HOST_CPU_FLAGS = 1u << 1,      /* invtsc, tsc_hz, tsc_scaling */
        HPVM_HOST_DISTANCES = 1u << 2,      /* distance[] */
        HPVM_HOST_CPU_CORES = 1u << 3,      /* cpu[] and cores[] from thread siblings alone (socket, die -1): what
                                             * placement reads, a fifth of TOPOLOGY's sysfs reads (one file per core) */
        HPVM_HOST_ALL = HPVM_HOST_CPU_TOPOLOGY | HPVM_HOST_CPU_FLAGS | HPVM_HOST_DISTANCES | HPVM_HOST_CPU_CORES,
};

/* Empty host (no nodes). Returns NULL on ENOMEM. */
HpvmHost *hpvm_host_new(void);
void hpvm_host_free(HpvmHost *h);             /* NULL is fine */
static inline void hpvm_host_freep(HpvmHost **h) { hpvm_host_free(*h); }
#define _cleanup_host_ __attribute__((cleanup(hpvm_host_freep)))

/*
 * Add node @id (< HPVM_NODE_MAX from props.h) with its CPUs and total
 * memory (HPVM_MEM_UNKNOWN allowed); keeps nodes sorted. Returns a pointer
 * into h->nodes (valid until the next add) through *ret_node (may be NULL),
 * or -EEXIST, -ERANGE, -ENOMEM. Its CPUs are not marked online: loaders do
 * that. Drops any distance table (indices moved): set distances after the nodes.
 */
int hpvm_host_add_node(HpvmHost *h, unsigned id, const HpvmCpuSet *cpus, uint64_t mem_kib, HpvmNode **ret_node);

/* Add a huge page pool to a node (or update its total). -ENOSPC past HPVM_PAGE_SIZES_MAX, -EINVAL for size 0. */
int hpvm_node_set_pages(HpvmNode *n, uint64_t size_kib, uint64_t total);

/* Index of the pool of @size_kib on @n, or -1. */
int hpvm_node_pool(const HpvmNode *n, uint64_t size_kib);

/*
 * Record where CPU @cpu sits (grows h->cpu; topo->core is ignored: cores
 * come from hpvm_host_add_core). -ERANGE for cpu >= HPVM_CPUSET_MAX, -ENOMEM.
 */
int hpvm_host_set_cpu(HpvmHost *h, unsigned cpu, const HpvmCpuTopo *topo);

/*
 * Record a set of thread siblings (one physical core). Every CPU of it must
 * have been set with hpvm_host_set_cpu; each gets topo.core. A set equal to
 * one already recorded is fine (each sibling lists the same set); a set
 * that overlaps another without being equal is -EINVAL; -ENOMEM.
 */
int hpvm_host_add_core(HpvmHost *h, const HpvmCpuSet *siblings);

/*
 * Set the distance from node index @i to node index @j (both < nnodes).
 * Allocates the table on first use, with every other pair at its default.
 * -ERANGE for an index out of range or a distance of 0, -ENOMEM.
 */
int hpvm_host_set_distance(HpvmHost *h, size_t i, size_t j, uint32_t dist);

/* Distance between node indices @i and @j: the table's, else 10 for i == j and 20 otherwise. */
uint32_t hpvm_host_distance(const HpvmHost *h, size_t i, size_t j);

/* The node with id @id, or NULL; its index through *ret_index (may be NULL). */
const HpvmNode *hpvm_host_node(const HpvmHost *h, unsigned id);
int hpvm_host_node_index(const HpvmHost *h, unsigned id);   /* -1 if absent */

/* Ids of nodes that have memory (or may have: unknown counts as having). */
void hpvm_host_memory_nodes(const HpvmHost *h, HpvmCpuSet *ret);

/* Ids of all nodes. */
void hpvm_host_all_nodes(const HpvmHost *h, HpvmCpuSet *ret);

/* Total memory of the nodes in @nodes (unknown ids count 0); HPVM_MEM_UNKNOWN if any of them is unknown. */
uint64_t hpvm_host_nodes_mem_kib(const HpvmHost *h, const HpvmCpuSet *nodes);

/* The page pool of @size_kib on node @n, or NULL. */
const HpvmPagePool *hpvm_node_pages(const HpvmNode *n, uint64_t size_kib);

/*
 * Thread siblings of @cpu (its core's set, online CPUs only), including @cpu
 * itself. Empty if @cpu is not online; just @cpu if its core is unknown
 * (no HPVM_HOST_CPU_TOPOLOGY, or the source gave no siblings).
 */
void hpvm_host_siblings(const HpvmHost *h, unsigned cpu, HpvmCpuSet *ret);

/* Threads per core: the largest sibling set's size (1 when cores are unknown). */
unsigned hpvm_host_threads_per_core(const HpvmHost *h);

/*
 * A usage for @h with nothing reserved or taken and every amount free
 * (memory HPVM_MEM_UNKNOWN where the host's total is unknown). NULL on ENOMEM.
 */
HpvmUsage *hpvm_usage_new(const HpvmHost *h);
HpvmUsage *hpvm_usage_copy(const HpvmUsage *u);
void hpvm_usage_free(HpvmUsage *u);           /* NULL is fine */
static inline void hpvm_usage_freep(HpvmUsage **u) { hpvm_usage_free(*u); }
#define _cleanup_usage_ __attribute__((cleanup(hpvm_usage_freep)))

/* Free pages of @size_kib on node index @i, 0 if the node has no such pool. */
uint64_t hpvm_usage_free_pages(const HpvmHost *h, const HpvmUsage *u, size_t i, uint64_t size_kib);

/* CPUs a VM may be given: online, not reserved, not taken. */
void hpvm_usage_free_cpus(const HpvmHost *h, const HpvmUsage *u, HpvmCpuSet *ret);

/*
 * Read the host from sysfs and procfs under @root ("/" for the live host, or
 * a fake tree in tests): <root>/sys/devices/system/cpu/online,
 * cpu/cpuN/topology/{physical_package_id,die_id,thread_siblings_list}
 * (HPVM_HOST_CPU_TOPOLOGY; thread_siblings_list alone with HPVM_HOST_CPU_CORES),
 * sys/devices/system/node/{online,nodeN/cpulist,
 * nodeN/meminfo,nodeN/distance (HPVM_HOST_DISTANCES),
 * nodeN/hugepages/hugepages-<size>kB/{nr,free}_hugepages},
 * <root>/proc/cpuinfo flags and cpu/cpu0/tsc_freq_khz (HPVM_HOST_CPU_FLAGS).
 * A tree without sys/devices/system/node is a host without NUMA: one node 0
 * holding every online CPU, memory from <root>/proc/meminfo, pages from
 * <root>/sys/kernel/mm/hugepages.
 * A node's cpus are its cpulist as the kernel prints it (it may name offline
 * CPUs); h->online and h->cpu[] cover online CPUs only.
 * Reads only the optional @parts (HPVM_HOST_*). When @ret_use is not NULL it
 * gets the free memory and pages the kernel reports (nothing reserved or taken).
 * On success *ret_host (and *ret_use) are the caller's. Returns 0 or
 * -ENOENT/-EIO/-EINVAL (a file missing or unreadable or not in the kernel's
 * format; @err names the file and what was wrong) or -ENOMEM.
 */
int hpvm_host_load_sysfs(const char *root, unsigned parts, HpvmHost **ret_host, HpvmUsage **ret_use,
                         HpvmError *err);

/*
 * Read the host from a libvirt capabilities XML (virsh capabilities):
 * <host><cpu><feature name='invtsc'/> and <counter name='tsc' frequency
 * scaling/>, <host><topology><cells><cell id> with <memory unit>,
 * <pages unit size>N</pages> (N counted as total and free),
 * <distances><sibling id value/>, <cpus><cpu id socket_id die_id siblings/>.
 * CPU-less and memory-less cells, and CPU ids that are not contiguous per
 * node, are fine; a cell without <memory> has HPVM_MEM_UNKNOWN memory (older
 * libvirt and vdsm's samples leave it out), and free memory is unknown.
 * The smallest <pages> size of a cell, if <= 64 KiB, is the base page and not
 * a pool. A caps file without <topology> is refused (-EINVAL).
 * The buffer variant takes untrusted bytes (at most 16 MiB) for fuzzing.
 * Returns 0; -EINVAL (not capabilities XML, or a bad value: @err quotes it
 * and names the cell), -EFBIG, -ENOMEM, or hpvm_file_read()'s errors (the
 * path variant also puts the path before any message).
 */
int hpvm_host_load_caps(const char *path, unsigned parts, HpvmHost **ret_host, HpvmUsage **ret_use,
                        HpvmError *err);
int hpvm_host_parse_caps(const char *buf, size_t len, unsigned parts, HpvmHost **ret_host, HpvmUsage **ret_use,
                         HpvmError *err);
