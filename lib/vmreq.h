/* vmreq.h: HpvmVmReq, what a VM needs from a host (read from its domain XML and properties), and the checks of it against a host. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpuset.h"
#include "props.h"
#include "topology.h"
#include "util.h"

#define HPVM_CELLS_MAX 1024     /* guest NUMA cells a VM may have (libvirt allows no more vCPUs than that per cell) */

/* One guest NUMA cell and where its memory must come from. */
typedef struct HpvmReqCell {
        unsigned id;
        HpvmCpuSet vcpus;
        uint64_t mem_kib;
        bool has_memnode;       /* <numatune><memnode cellid> binds it */
        HpvmNumaMode mode;      /* the memnode's mode */
        HpvmCpuSet nodes;       /* the memnode's host nodes */
        bool hugepages;         /* backed by huge pages (<page nodeset> names it, or names no cell) */
} HpvmReqCell;

/*
 * Everything the checks and the placement engine need to know about a VM.
 * Plain data: filled by hpvm_domain_get_req() (domreq.h) from a domain XML,
 * or by hand in tests. Arrays are owned: hpvm_vmreq_clear() frees them.
 */
typedef struct HpvmVmReq {
        unsigned vcpus;                 /* <vcpu>, 1 if absent */
        unsigned sockets, dies, cores, threads; /* <cpu><topology>, 0 when not given */
        uint64_t mem_kib;               /* what libvirt gives the VM: its cells plus memory devices, else <memory> */
        bool mem_given;                 /* <memory> is in the XML */
        uint64_t devmem_kib;            /* memory devices (DIMMs): not part of any cell */
        size_t ncells;
        HpvmReqCell *cells;             /* in id order */
        bool has_numatune;              /* <numatune><memory nodeset> */
        HpvmNumaTune numatune;
        uint64_t page_kib;              /* huge page size backing the VM, 0 = none */
        HpvmPinList vcpupin;            /* <cputune><vcpupin> */
        bool has_emulatorpin;
        HpvmCpuSet emulatorpin;
        HpvmPinList iothreadpin;        /* <cputune><iothreadpin> */
        bool invtsc;                    /* <cpu><feature policy='require' name='invtsc'/> */
        uint64_t tsc_hz;                /* <clock><timer name='tsc' frequency>, 0 if absent */
} HpvmVmReq;

void hpvm_vmreq_clear(HpvmVmReq *r);
#define _cleanup_vmreq_ __attribute__((cleanup(hpvm_vmreq_clear)))

/* The cell holding vCPU @vcpu, or NULL. */
const HpvmReqCell *hpvm_vmreq_cell_of(const HpvmVmReq *r, unsigned vcpu);

/* Does the VM's memory policy confine allocations to its nodes? (strict, restrictive, interleave) */
bool hpvm_numa_mode_binds(HpvmNumaMode m);

/*
 * Memory and huge pages, per host node, in one model. A guest cell with a
 * binding <memnode> takes its memory from that memnode's nodes; the other
 * cells (or the whole VM when it has no cells) from <numatune><memory>'s
 * nodes when that mode binds; memory that nothing binds may come from
 * anywhere on the host. Cells backed by huge pages need free pages of the
 * VM's size; the others need memory. Demands on the same nodes add up (two
 * cells bound to one node need the sum there), and demands on overlapping
 * node sets are checked exactly (a flow over nodes), not node by node.
 * Memory is compared with the nodes' total (free memory is mostly page
 * cache, which the kernel gives back); unknown totals are not checked.
 * Pages are compared with the free pages in @u.
 * @mem_prop and @page_prop name the property in messages ("numatune",
 * "hugepages"); @check_mem / @check_pages select what to check.
 * Returns 0, or -ERANGE with one line in @err, e.g.
 *   numatune: strict binding to node 0 offers 16 GiB of memory, the VM needs 32 GiB
 *   hugepages: guest cells 0-1 need 1024 pages of 2 MiB on node 1, which has 100 free
 * -ENOMEM.
 */
int hpvm_vmreq_check_memory(const HpvmVmReq *r, const HpvmHost *h, const HpvmUsage *u, bool check_mem,
                            bool check_pages, const char *mem_prop, const char *page_prop, HpvmError *err);

/* The host offers huge pages of the VM's size on some node; else -ERANGE naming what it offers. */
int hpvm_vmreq_check_page_size(const HpvmVmReq *r, const HpvmHost *h, const char *prop, HpvmError *err);

/*
 * The host nodes the VM's memory is bound to (union of binding memnodes and
 * a binding <numatune><memory>) exist and have memory. -ERANGE otherwise.
 */
int hpvm_vmreq_check_nodes(const HpvmVmReq *r, const HpvmHost *h, const char *prop, HpvmError *err);

/*
 * Every CPU in every vcpupin / emulatorpin / iothreadpin is online on @h.
 * Messages name @prop and the pinned thread:
 *   cputune: vCPU 1: host CPU 9 is not online (online CPUs: 0-7)
 * @what selects HPVM_PINS_* to check. -ERANGE.
 */
enum { HPVM_PINS_VCPU = 1, HPVM_PINS_EMULATOR = 2, HPVM_PINS_IOTHREAD = 4 };
int hpvm_vmreq_check_online(const HpvmVmReq *r, const HpvmHost *h, unsigned what, const char *prop,
                            HpvmError *err);

/*
 * invtsc: the host CPU has an invariant TSC, and when the VM names a TSC
 * frequency the host runs at it or can scale to it. -ENODEV / -ERANGE.
 */
int hpvm_vmreq_check_tsc(const HpvmVmReq *r, const HpvmHost *h, const char *prop, HpvmError *err);
