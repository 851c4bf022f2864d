/* cpuset.h: HpvmCpuSet, a fixed-size bitmap of CPU (or NUMA node, or vCPU) ids with libvirt's list grammar. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define HPVM_CPUSET_MAX 4096                  /* ids 0..4095: libvirt's own cpumask length */
#define HPVM_CPUSET_WORDS (HPVM_CPUSET_MAX / 64)
/* Longest canonical text is 12913 bytes ("0-1,3-4,6-7,...,4093-4094"), plus NUL, rounded up. */
#define HPVM_CPUSET_STRMAX 16384

typedef struct HpvmCpuSet {
        unsigned long long w[HPVM_CPUSET_WORDS];
} HpvmCpuSet;

/*
 * Parse libvirt's cpuset grammar: comma-joined items, each `N`, `N-M`
 * (N <= M) or `^N` (remove N from what the items before it selected:
 * libvirt's order-dependent meaning). No blanks anywhere.
 * Every id must be < @limit (limit <= HPVM_CPUSET_MAX). @noun names one id in
 * messages ("CPU", "NUMA node", "vCPU").
 * On success fills *ret and returns 0. On failure *ret is untouched, @err
 * holds a message naming the bad item, quoted, without any property prefix,
 * e.g. "'9x' is not a CPU number", and the return is:
 *   -EINVAL    bad syntax, or the result selects nothing
 *   -ERANGE    an id >= @limit, or a range that ends before it starts
 *   -EOVERFLOW a number too large to hold
 */
int hpvm_cpuset_parse(const char *s, size_t len, unsigned limit, const char *noun,
                      HpvmCpuSet *ret, HpvmError *err);

/*
 * Write the canonical form ("0-3,8,10-11") into @buf. Returns the length,
 * or -ENOSPC if @size is too small (buf then holds a truncated string).
 * An empty set formats as "".
 */
int hpvm_cpuset_format(const HpvmCpuSet *s, char *buf, size_t size);

void hpvm_cpuset_zero(HpvmCpuSet *s);
void hpvm_cpuset_set(HpvmCpuSet *s, unsigned id);        /* id >= MAX ignored */
void hpvm_cpuset_clear(HpvmCpuSet *s, unsigned id);
void hpvm_cpuset_set_range(HpvmCpuSet *s, unsigned first, unsigned last);
bool hpvm_cpuset_test(const HpvmCpuSet *s, unsigned id);
bool hpvm_cpuset_is_empty(const HpvmCpuSet *s);
bool hpvm_cpuset_equal(const HpvmCpuSet *a, const HpvmCpuSet *b);
bool hpvm_cpuset_is_subset(const HpvmCpuSet *sub, const HpvmCpuSet *super);
bool hpvm_cpuset_intersects(const HpvmCpuSet *a, const HpvmCpuSet *b);
unsigned hpvm_cpuset_count(const HpvmCpuSet *s);
void hpvm_cpuset_or(HpvmCpuSet *dst, const HpvmCpuSet *src);        /* dst |= src */
void hpvm_cpuset_and(HpvmCpuSet *dst, const HpvmCpuSet *src);       /* dst &= src */
void hpvm_cpuset_andnot(HpvmCpuSet *dst, const HpvmCpuSet *src);    /* dst &= ~src */
/* First id >= @from that is set, or -1 if none. Iterate: for (i = next(s,0); i >= 0; i = next(s,i+1)). */
int hpvm_cpuset_next(const HpvmCpuSet *s, unsigned from);
/* Highest set id, or -1 if empty. */
int hpvm_cpuset_last(const HpvmCpuSet *s);
