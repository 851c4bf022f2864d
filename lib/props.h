/* props.h: parsers for the custom VM properties administrators type in the management UI. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpuset.h"
#include "util.h"

#define HPVM_PROP_MAX 4096            /* longest property value accepted, bytes */
#define HPVM_VCPU_MAX HPVM_CPUSET_MAX /* vCPU ids 0..4095 */
#define HPVM_NODE_MAX 1024            /* NUMA node ids 0..1023 (libnuma's default) */
#define HPVM_MEM_MAX_KIB (UINT64_C(1) << 42) /* 4 PiB: refuse anything beyond */
#define HPVM_PAGE_MAX_KIB (UINT64_C(16) << 20) /* 16 GiB: the largest page size of any CPU */
#define HPVM_IOTHREADS_MAX 64

/* One `<id>#<cpuset>` item of cputune (vCPU pin) or iothreadpin. */
typedef struct HpvmPin {
        unsigned id;
        HpvmCpuSet cpus;
} HpvmPin;

typedef struct HpvmPinList {
        size_t n;
        HpvmPin *pins;        /* in the order typed; ids unique */
} HpvmPinList;

typedef enum HpvmNumaMode {
        HPVM_NUMA_STRICT,
        HPVM_NUMA_PREFERRED,
        HPVM_NUMA_INTERLEAVE,
        HPVM_NUMA_RESTRICTIVE,
} HpvmNumaMode;

typedef struct HpvmNumaTune {
        HpvmNumaMode mode;
        HpvmCpuSet nodes;
} HpvmNumaTune;

/* How a pinned VM takes host CPUs (cpupolicy=; placement.h says what each one means). */
typedef enum HpvmCpuPolicy {
        HPVM_POLICY_DEDICATED,  /* default: a vCPU per free CPU, a guest core's threads on one host core */
        HPVM_POLICY_ISOLATE,    /* a whole host core per vCPU, its other threads held idle */
        HPVM_POLICY_SIBLINGS,   /* whole host cores only, every thread of them given to vCPUs */
} HpvmCpuPolicy;

typedef struct HpvmGuestCell {
        HpvmCpuSet vcpus;
        uint64_t mem_kib;
} HpvmGuestCell;

typedef struct HpvmGuestNuma {
        size_t n;
        HpvmGuestCell *cells; /* cell i gets id i */
} HpvmGuestNuma;

/* "strict", "preferred", ...; NULL for a value outside the enum. */
const char *hpvm_numa_mode_name(HpvmNumaMode m);

/* "dedicated", "isolate", "siblings"; NULL for a value outside the enum. */
const char *hpvm_cpu_policy_name(HpvmCpuPolicy p);

/*
 * Every parser below takes the raw property value (NUL-terminated, as it came
 * from the environment) and, on failure, leaves *ret untouched and fills @err
 * with the whole user-facing line, e.g.
 *   cputune: '0#0-3,9x': '9x' is not a CPU number (expected <vcpu>#<cpuset>[,<vcpu>#<cpuset>...])
 * Values longer than HPVM_PROP_MAX are refused before anything else.
 * Returns 0, or -EINVAL / -ERANGE / -EOVERFLOW / -E2BIG (too long) / -ENOMEM.
 * On success the caller owns the arrays inside *ret: free with the matching
 * *_clear(), which also accepts a zeroed struct.
 */

/* cputune=<vcpu>#<cpuset>[,<vcpu>#<cpuset>...]; vCPU ids < HPVM_VCPU_MAX, CPU ids < HPVM_CPUSET_MAX. */
int hpvm_prop_cputune_parse(const char *value, HpvmPinList *ret, HpvmError *err);

/*
 * Same grammar with a different name and id range, for iothreadpin
 * (ids first_id..max_id). @name is the property name used in messages.
 * Needs first_id <= max_id < HPVM_CPUSET_MAX (else -EINVAL).
 */
int hpvm_prop_pinlist_parse(const char *name, const char *value, unsigned first_id,
                            unsigned max_id, const char *id_noun, HpvmPinList *ret,
                            HpvmError *err);
void hpvm_pinlist_clear(HpvmPinList *l);

/* numatune=[<mode>#]<nodeset>; no mode means strict. Node ids < HPVM_NODE_MAX. */
int hpvm_prop_numatune_parse(const char *value, HpvmNumaTune *ret, HpvmError *err);

/* guestnuma=<vcpus>#<memory>[,<vcpus>#<memory>...]; memory KiB or with K|M|G|T. */
int hpvm_prop_guestnuma_parse(const char *value, HpvmGuestNuma *ret, HpvmError *err);
void hpvm_guestnuma_clear(HpvmGuestNuma *g);

/* A lone cpuset property (emulatorpin): CPU ids < HPVM_CPUSET_MAX. */
int hpvm_prop_cpuset_parse(const char *name, const char *value, HpvmCpuSet *ret, HpvmError *err);

/* A boolean property: true|false|yes|no|1|0, any case. */
int hpvm_prop_bool_parse(const char *name, const char *value, bool *ret, HpvmError *err);

/*
 * hugepages=<KiB>: oVirt's predefined property, which vdsm reads with int()
 * as a page size in KiB (2048, 1048576): digits only, no unit; a power of
 * two from 4 KiB to 16 GiB.
 */
int hpvm_prop_pagesize_parse(const char *name, const char *value, uint64_t *ret_kib, HpvmError *err);

/* A whole number from @min to @max (iothreads=1..64). */
int hpvm_prop_count_parse(const char *name, const char *value, unsigned min, unsigned max,
                          unsigned *ret, HpvmError *err);

/* cpupolicy=dedicated|isolate|siblings, any case (a word of ours, not libvirt's). */
int hpvm_prop_cpupolicy_parse(const char *value, HpvmCpuPolicy *ret, HpvmError *err);
