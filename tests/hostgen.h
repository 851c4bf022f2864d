/* hostgen.h: hosts built in memory from a compact text spec, for the placement tests and benchmark. */
#pragma once

#include <stddef.h>

#include "topology.h"

/*
 * Spec: "<nodes>x<cores>x<threads>" then blank-separated key=value options.
 * <cores> and <threads> may be comma lists, one entry per node (the last one
 * repeats): "3x8,4,0x2" is three nodes of 8, 4 and 0 cores of 2 threads.
 * Options (lists are per node, the last entry repeats):
 *   mem=16G,8G,?      total memory per node (K|M|G|T or KiB; ? unknown; 0 memory-less); default 16G
 *   hp=2M:512,100     a huge page pool per node (size:count); repeat the key for another size
 *   ids=packed|linux  CPU numbering: siblings adjacent (default), or first threads of every
 *                     core on the host, then the second threads, ... (Linux on x86)
 *   gap=N             N unused CPU ids after each node's block: non-contiguous ids
 *   nid=0,2,5         node ids (default 0..nodes-1)
 *   dist=10,21,21,10  the full distance matrix, row-major; or dist=group:K:NEAR:FAR, nodes in
 *                     groups of K (sockets) at NEAR inside a group and FAR across
 *   offline=5,7       CPUs the nodes list but that are not online
 *   notopo            no thread siblings (as a host loaded without HPVM_HOST_CPU_TOPOLOGY)
 * Usage:
 *   res=0-1           reserved CPUs     taken=4-7    CPUs held by other VMs
 *   free=12G,?        free memory per node (? unknown)
 *   hpfree=2M:100,300 free pages of a pool per node
 * On success *ret_host and *ret_use are the caller's. Returns 0, or -EINVAL
 * with the reason in @why, or -ENOMEM.
 */
int th_host_build(const char *spec, HpvmHost **ret_host, HpvmUsage **ret_use, char *why, size_t whysz);

/* The same, aborting with the reason on stderr when the spec is bad (tests and benchmarks). */
HpvmHost *th_host(const char *spec, HpvmUsage **ret_use);
