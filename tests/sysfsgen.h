/* sysfsgen.h: fake sysfs/procfs trees written from a host built in memory (hostgen.h), for hooks that read files. */
#pragma once

#include <stddef.h>

#include "topology.h"

/*
 * Write under @root (created; its parent must exist) what
 * hpvm_host_load_sysfs() reads: sys/devices/system/cpu/online, per online
 * CPU topology/{physical_package_id,die_id,thread_siblings_list} (die 0; a
 * CPU without known siblings is its own core), sys/devices/system/node/
 * online and per node cpulist, meminfo (MemTotal from @h, MemFree from @u;
 * an unknown amount is written as 1 TiB), distance (the table, or 10/20),
 * hugepages/hugepages-<size>kB/{nr,free}_hugepages; proc/cpuinfo with one
 * processor whose flags hold constant_tsc and nonstop_tsc when h->invtsc;
 * cpu/cpu0/tsc_freq_khz when h->tsc_hz; and an empty proc/ (no QEMU runs)
 * unless @proc_link names a folder to link proc to ("/proc": the live one).
 * Only @u's free memory and pages are written: reserved and taken CPUs are
 * the configuration's and the ledger's business. Returns 0, or -errno with
 * the path that failed in @why.
 */
int th_sysfs_write(const char *root, const HpvmHost *h, const HpvmUsage *u, const char *proc_link, char *why,
                   size_t whysz);

/* th_host() then th_sysfs_write() with no proc link; aborts with the reason on any failure. */
void th_sysfs_build(const char *root, const char *spec);
