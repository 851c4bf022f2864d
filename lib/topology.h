/* topology.h: HpvmHost, the model of a host's NUMA nodes, CPUs, memory and huge pages; pure C, no XML, no libvirt. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpuset.h"
#include "util.h"

#define HPVM_PAGE_SIZES_MAX 8   /* distinct huge page sizes per node */

typedef struct HpvmPagePool {
        uint64_t size_kib;      /* page size, e.g. 2048 or 1048576 */
        uint64_t total;         /* pages reserved on this node */
        uint64_t free;          /* of which not in use */
} HpvmPagePool;

typedef struct HpvmNode {
        unsigned id;
        HpvmCpuSet cpus;        /* CPUs of this node (may be empty: CPU-less node) */
        uint64_t mem_total_kib; /* 0 = memory-less node */
        uint64_t mem_free_kib;  /* 0 if unknown (capabilities XML does not say) */
        size_t npools;
        HpvmPagePool pools[HPVM_PAGE_SIZES_MAX]; /* huge pages only, by ascending size */
} HpvmNode;

/* Where a CPU sits; -1 where the source does not say. */
typedef struct HpvmCpuTopo {
        int node;
        int socket;
        int die;
        int core;
} HpvmCpuTopo;

typedef struct HpvmHost {
        size_t nnodes;
        HpvmNode *nodes;        /* ascending ids */
        HpvmCpuSet online;      /* online CPUs (union of node CPUs on a caps host) */
        HpvmCpuSet pinned;      /* CPUs other VMs are pinned to (filled by placement users; empty on load) */
        unsigned ncpu;          /* entries in cpu[]: highest online CPU id + 1 */
        HpvmCpuTopo *cpu;       /* indexed by CPU id */
        bool invtsc;            /* CPU has invariant TSC (constant_tsc+nonstop_tsc / caps feature invtsc) */
        unsigned parts;         /* HPVM_HOST_* read by the loader: what is not read stays empty/false */
} HpvmHost;

/*
 * What a loader reads besides nodes, their CPUs, memory and huge pages. Each
 * part costs reads per CPU (hundreds of sysfs files, or a large /proc/cpuinfo,
 * on a big host), so a hook asks only for what it checks.
 */
enum {
        HPVM_HOST_CPU_TOPOLOGY = 1u << 0,   /* h->cpu[]: socket, die, core of every online CPU */
        HPVM_HOST_CPU_FLAGS = 1u << 1,      /* h->invtsc */
        HPVM_HOST_ALL = HPVM_HOST_CPU_TOPOLOGY | HPVM_HOST_CPU_FLAGS,
};

/* Empty host (no nodes). Returns NULL on ENOMEM. */
HpvmHost *hpvm_host_new(void);
void hpvm_host_free(HpvmHost *h);             /* NULL is fine */
static inline void hpvm_host_freep(HpvmHost **h) { hpvm_host_free(*h); }
#define _cleanup_host_ __attribute__((cleanup(hpvm_host_freep)))

/*
 * Add node @id (< HPVM_NODE_MAX from props.h) with its CPUs and memory;
 * keeps nodes sorted. Returns a pointer into h->nodes (valid until the next
 * add) through *ret_node (may be NULL), or -EEXIST, -ERANGE, -ENOMEM.
 * Its CPUs are not marked online: loaders do that.
 */
int hpvm_host_add_node(HpvmHost *h, unsigned id, const HpvmCpuSet *cpus,
                       uint64_t mem_total_kib, uint64_t mem_free_kib, HpvmNode **ret_node);

/* Add or update a huge page pool on a node. -ENOSPC past HPVM_PAGE_SIZES_MAX, -EINVAL for size 0. */
int hpvm_node_set_pages(HpvmNode *n, uint64_t size_kib, uint64_t total, uint64_t free);

/* Record where CPU @cpu sits (grows h->cpu). -ERANGE for cpu >= HPVM_CPUSET_MAX, -ENOMEM. */
int hpvm_host_set_cpu(HpvmHost *h, unsigned cpu, const HpvmCpuTopo *topo);

/* The node with id @id, or NULL. */
const HpvmNode *hpvm_host_node(const HpvmHost *h, unsigned id);

/* Ids of nodes that have memory. */
void hpvm_host_memory_nodes(const HpvmHost *h, HpvmCpuSet *ret);

/* Ids of all nodes. */
void hpvm_host_all_nodes(const HpvmHost *h, HpvmCpuSet *ret);

/* Total memory of the nodes in @nodes (unknown ids count 0). */
uint64_t hpvm_host_nodes_mem_kib(const HpvmHost *h, const HpvmCpuSet *nodes);

/* The page pool of @size_kib on node @n, or NULL. */
const HpvmPagePool *hpvm_node_pages(const HpvmNode *n, uint64_t size_kib);

/*
 * Thread siblings of @cpu (same node/socket/die/core, online), including @cpu
 * itself. Empty if @cpu is not online; just @cpu if its socket or core is unknown.
 */
void hpvm_host_siblings(const HpvmHost *h, unsigned cpu, HpvmCpuSet *ret);

/*
 * Read the host from sysfs and procfs under @root ("/" for the live host, or
 * a fake tree in tests): <root>/sys/devices/system/cpu/online,
 * cpu/cpuN/topology/{physical_package_id,die_id,core_id},
 * sys/devices/system/node/{online,nodeN/cpulist,nodeN/meminfo,
 * nodeN/hugepages/hugepages-<size>kB/{nr,free}_hugepages},
 * <root>/proc/cpuinfo (flags). A tree without sys/devices/system/node is a
 * host without NUMA: one node 0 holding every online CPU, memory from
 * <root>/proc/meminfo, pages from <root>/sys/kernel/mm/hugepages.
 * A node's cpus are its cpulist as the kernel prints it (it may name offline
 * CPUs); h->online and h->cpu[] cover online CPUs only. A node folder
 * without hugepages/ has no pools.
 * On success *ret_host is the caller's. Returns 0 or -ENOENT/-EIO/-EINVAL
 * (a file missing or unreadable or not in the kernel's format; @err names the
 * file and what was wrong) or -ENOMEM.
 */
int hpvm_host_load_sysfs(const char *root, HpvmHost **ret_host, HpvmError *err);
/* The same, reading only the optional @parts (HPVM_HOST_*); hpvm_host_load_sysfs() reads them all. */
int hpvm_host_load_sysfs_parts(const char *root, unsigned parts, HpvmHost **ret_host, HpvmError *err);

/*
 * Read the host from a libvirt capabilities XML (virsh capabilities):
 * <host><cpu><feature name='invtsc'/>, <host><topology><cells><cell id>
 * with <memory unit>, <pages unit size>N</pages> (N counted as total and
 * free), <cpus><cpu id socket_id die_id core_id siblings/>. CPU-less and
 * memory-less cells, and CPU ids that are not contiguous per node, are fine;
 * a cell without <memory> has none (libvirt omits it when 0); mem_free_kib is 0.
 * The smallest <pages> size of a cell, if <= 64 KiB, is the base page and not
 * a pool. A caps file without <topology> is refused (-EINVAL).
 * The buffer variant takes untrusted bytes (at most 16 MiB) for fuzzing.
 * Returns 0; -EINVAL (not capabilities XML, or a bad value: @err quotes it
 * and names the cell), -EFBIG, -ENOMEM, or hpvm_file_read()'s errors (the
 * path variant also puts the path before any message).
 */
int hpvm_host_load_caps(const char *path, HpvmHost **ret_host, HpvmError *err);
int hpvm_host_parse_caps(const char *buf, size_t len, HpvmHost **ret_host, HpvmError *err);
/* The same, reading only the optional @parts (HPVM_HOST_*). */
int hpvm_host_load_caps_parts(const char *path, unsigned parts, HpvmHost **ret_host, HpvmError *err);
int hpvm_host_parse_caps_parts(const char *buf, size_t len, unsigned parts, HpvmHost **ret_host, HpvmError *err);
