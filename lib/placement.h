/* placement.h: the NUMA-aware placement engine: where a pinned VM's vCPUs, guest cells, emulator and IO threads go on a host. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpuset.h"
#include "props.h"
#include "topology.h"
#include "util.h"
#include "vmreq.h"

/*
 * The model
 * ---------
 * A host CPU is free when it is online, not in u->reserved and not in
 * u->taken. A host core is a thread-sibling set (h->cores) cut to one node's
 * online CPUs; without HPVM_HOST_CPU_TOPOLOGY every CPU is a core of its own.
 * A core is whole-free when all its threads are free.
 *
 * Every vCPU gets one free CPU of its own; a guest cell stays on one host
 * node, and several cells may share a node. What a node can hold depends on
 * the CPU policy (cpupolicy=):
 *   dedicated  any free CPU. When the VM has threads t > 1 per core, the t
 *              vCPUs of a guest core (ids k*t .. k*t+t-1) take t free threads
 *              of one host core, so a node holds sum over its cores of
 *              floor(free threads / t) guest cores. Whole-free cores are
 *              filled first; a remainder goes to the core it fills best.
 *   isolate    a whole-free core per vCPU: the vCPU is pinned to its first
 *              thread and the other threads are held by the VM, idle
 *              (oVirt's isolate-threads). The VM's threads do not matter.
 *   siblings   whole-free cores only, every thread of them a vCPU: a cell's
 *              vCPU count must be a sum of whole-free core sizes on its node.
 * Memory: a cell's memory must fit its node's free memory (the total where
 * free is HPVM_MEM_UNKNOWN; a node with unknown total always fits). With a
 * page size, the cell needs ceil(memory / page) free pages of that size on
 * its node, and ordinary memory is not checked.
 *
 * Guest cells given (req->ncells > 0): each cell goes to one node. Cells go
 * to distinct nodes when they can (a min-cost bipartite matching, run once
 * per anchor node with the cost "distance from the anchor, then less room");
 * only when no such matching exists do cells share nodes: an exact dynamic
 * program over subsets of cells for up to HPVM_PLACE_EXACT_CELLS cells,
 * first-fit-decreasing beyond. A cell with a required node (cell_node) goes
 * there or nowhere.
 *
 * No cells given: the engine makes one cell per host node it uses. For each
 * anchor node it adds the nearest nodes (ties: most room) until they hold the
 * VM, fills them in that order, and splits the memory in proportion to each
 * node's vCPUs, in whole units of 1 MiB (the alignment libvirt gives guest
 * cells) or whole huge pages: a node holding c of the V vCPUs must have room
 * for ceil(U * c / V) of the U units. The made cells' memory sums to the
 * VM's memory rounded up to that unit. Cell 0 is on the anchor.
 *
 * Where it is exact: "does not fit" (-ENOSPC) is exact under the rules above
 * for every request without cells, and for given cells up to
 * HPVM_PLACE_EXACT_CELLS cells; one exception, cpupolicy=siblings on a node
 * whose whole-free cores have different thread counts with two cells sharing
 * it, is decided greedily. Which of the fitting placements is returned is a
 * heuristic (the anchors above, then the best score); no search over
 * permutations of nodes is ever made. Time: O(anchors x cells^2 x nodes) for
 * the matching, O(anchors x nodes x 3^cells) for the subset program, linear
 * in CPUs for the pins; at most HPVM_PLACE_ANCHORS_MAX anchors.
 *
 * Kept pins (req->keep, for migration of a VM pinned by hand): a vCPU pinned
 * to a single CPU keeps it when that CPU is free here and the policy allows
 * it (a dedicated guest core is kept whole or not at all; isolate and
 * siblings keep whole-free cores only), and every kept vCPU of one cell lies
 * on one node (the node holding most of them wins). The cells then stay on
 * those nodes. If the VM does not fit that way, it is placed again with no
 * pin kept. p->nkept counts the pins kept.
 *
 * Emulator and IO threads: one CPU for the emulator and every IO thread
 * together, on the node of guest cell 0, not used by any vCPU. One CPU,
 * because with the High Performance profile the emulator thread is mostly
 * idle (no USB, sound, video or balloon), the profile's single IO thread is
 * the busy one, and each further CPU is taken from the VMs a packed host can
 * start. Under dedicated it is a free thread, preferably beside a used one;
 * under isolate a whole-free core (pinned to its first thread, the rest
 * held); under siblings a whole-free core, pinned to all its threads. When
 * there is none, they share the CPUs of cell 0's vCPUs (p->helpers_shared:
 * the caller warns).
 *
 * Score
 * -----
 * An integer from 0 to 1000, higher is better, comparable across hosts for
 * one VM (hpvm-fit ranks hosts by it):
 *
 *   score = floor(450 / N + 250 * min(1, 10 / D) + 100 * W + 100 * C + 100 * M)
 *
 *   N  host nodes the VM's cells use
 *   D  mean distance between those nodes over all pairs (10 for one node)
 *   W  whole cores: of the host cores holding a vCPU, the share whose every
 *      online thread the VM holds (1 under isolate and siblings)
 *   C  free CPUs left on the host after placement, as a share of its online
 *      CPUs that are not reserved
 *   M  free memory left on the host's nodes of known memory after placement,
 *      as a share of their total (with a page size: free pages of that size
 *      left, as a share of all such pages); 1 when nothing is known
 *
 * Fewer and nearer nodes weigh most (700 of 1000), then how whole the cores
 * are and how much room the host keeps.
 */

#define HPVM_PLACE_EXACT_CELLS 10   /* cells that must share nodes: exact up to this many */
#define HPVM_PLACE_ANCHORS_MAX 32   /* anchor nodes tried (the ones with most room first) */

typedef struct HpvmPlaceRequest {
        unsigned vcpus;                 /* 1 .. HPVM_VCPU_MAX */
        unsigned threads;               /* the VM's threads per core; 0 counts as 1 */
        uint64_t mem_kib;               /* the VM's memory; used only when ncells == 0 */
        uint64_t page_kib;              /* huge page size backing the memory; 0 = ordinary memory */
        size_t ncells;                  /* 0: the engine makes the cells */
        const HpvmGuestCell *cells;     /* ncells cells: disjoint vCPU sets covering 0..vcpus-1 */
        const int *cell_node;           /* optional, ncells entries: required host node id, or -1 */
        const HpvmPinList *keep;        /* optional: vCPU pins to keep where valid and free */
        bool emulator;                  /* pin the emulator thread */
        unsigned iothreads;             /* IO threads to pin (0 .. HPVM_IOTHREADS_MAX) */
        HpvmCpuPolicy policy;
} HpvmPlaceRequest;

typedef struct HpvmPlacement {
        unsigned nvcpus;
        unsigned *vcpu_cpu;             /* vCPU -> host CPU */
        size_t ncells;
        HpvmGuestCell *cells;           /* the cells used: given (same order), or made (made ones: one per node) */
        unsigned *cell_node;            /* host node id of each cell */
        HpvmCpuSet emulator;            /* the emulator's pin; empty when the request has no emulator */
        HpvmCpuSet iothreads;           /* every IO thread's pin; empty when it has none */
        bool helpers_shared;            /* emulator/IO threads share the vCPUs' CPUs: warn */
        unsigned nkept;                 /* vCPU pins kept from req->keep */
        HpvmCpuSet held;                /* every host CPU the VM holds: vCPUs, held siblings, helpers */
        HpvmCpuSet nodes;               /* host node ids of the cells */
        int score;                      /* 0..1000, see above */
} HpvmPlacement;

/*
 * Place the VM described by @req on host @h with usage @u (same node order).
 * Reads only; @h, @u and @req stay the caller's. On success *ret is a new
 * placement, the caller's to free with hpvm_placement_free(). Returns 0, or:
 *   -EINVAL  the request is malformed (no vCPUs, more than HPVM_VCPU_MAX,
 *            cells that overlap, leave a vCPU out or name one past the
 *            last, a policy outside the enum, more than HPVM_CELLS_MAX cells,
 *            a vCPU count that is not a whole number of cores of the VM's
 *            threads, or a guest core split between two cells, under
 *            dedicated); @err says which
 *   -ENOSPC  the VM does not fit this host; @err names the resource and by
 *            how much, in one line without a property prefix, e.g.
 *              node 1 has 6 free CPUs, guest cell 1 needs 8
 *              the host has 14 free CPUs (after 2 reserved and 16 held by other VMs), the VM needs 16
 *              no host node has 16 GiB of free memory for guest cell 0 (node 0 has 12 GiB free, node 1 has 8 GiB)
 *              the VM needs 512 pages of 2 MiB on one node for guest cell 1; node 0 has 100 free, node 1 has 300
 *              cpupolicy=siblings: guest cell 0 has 3 vCPUs, which would leave a 2-thread core half used
 *            A required node the host lacks is -ENOSPC too (another host may have it).
 *   -ENOMEM
 * *ret is untouched on failure.
 */
int hpvm_place(const HpvmHost *h, const HpvmUsage *u, const HpvmPlaceRequest *req, HpvmPlacement **ret,
               HpvmError *err);

void hpvm_placement_free(HpvmPlacement *p);     /* NULL is fine */
static inline void hpvm_placement_freep(HpvmPlacement **p) { hpvm_placement_free(*p); }
#define _cleanup_placement_ __attribute__((cleanup(hpvm_placement_freep)))

/*
 * The default CPUs kept for the host when the config has no reserved_cpus:
 * the first core (all its online threads) of every node that has online
 * CPUs. Adds them to u->reserved and returns how many CPUs that reserved.
 */
unsigned hpvm_usage_reserve_default(const HpvmHost *h, HpvmUsage *u);

/*
 * A text map of @p on @h and @u for `hpvm-fit --explain`: one line per guest
 * cell, then per node its memory and one line per core with what each
 * thread does (vN: vCPU N, E: emulator and IO threads, h: held idle, R:
 * reserved, T: taken by another VM, .: free), and a legend. Lines end with
 * '\n'. *ret_text is the caller's (free()). Returns 0 or -ENOMEM.
 */
int hpvm_placement_format_map(const HpvmHost *h, const HpvmUsage *u, const HpvmPlacement *p, char **ret_text);
