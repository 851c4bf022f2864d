/* domxml.h: HpvmDomain, a libvirt domain XML document with the few facts the hooks check, and the edits they make. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "props.h"
#include "util.h"

typedef struct HpvmDomain {
        xmlDoc *doc;
        xmlNode *root;
        bool had_decl;          /* the input began with <?xml ...?>: keep it so */
        char *indent_unit;      /* one level of indentation seen in the input; NULL: unformatted */
        unsigned vcpus;         /* <vcpu> (the maximum), 1 if absent */
        uint64_t mem_kib;       /* <memory>, 0 if absent */
        uint64_t devmem_kib;    /* sum of <devices><memory><target><size>: hot-pluggable DIMMs */
} HpvmDomain;

/*
 * Parse a domain XML (hpvm_xml_parse rules) and read <vcpu>, <memory> and
 * memory devices. On success *ret is the caller's (hpvm_domain_free).
 * Returns 0, -EINVAL (bad XML or a bad <vcpu>/<memory> value; message says
 * which), -EFBIG, -ENOMEM.
 */
int hpvm_domain_parse(const char *buf, size_t len, HpvmDomain **ret, HpvmError *err);
void hpvm_domain_free(HpvmDomain *d);
static inline void hpvm_domain_freep(HpvmDomain **d) { hpvm_domain_free(*d); }
#define _cleanup_domain_ __attribute__((cleanup(hpvm_domain_freep)))

/* Serialize. *ret_buf is the caller's (free). Returns 0 or -ENOMEM. */
int hpvm_domain_format(const HpvmDomain *d, char **ret_buf, size_t *ret_len, HpvmError *err);

/*
 * Edits. Each replaces what the XML already says about the same thing and
 * keeps everything else; running it twice gives the same document.
 * They assume their input was checked (ids in range). Returns 0 or -ENOMEM.
 */

/* <cputune><vcpupin vcpu='N' cpuset='...'/> for every pin. */
int hpvm_domain_set_vcpupins(HpvmDomain *d, const HpvmPinList *pins);

/* <cputune><iothreadpin iothread='N' cpuset='...'/> for every pin. */
int hpvm_domain_set_iothreadpins(HpvmDomain *d, const HpvmPinList *pins);

/* <cputune><emulatorpin cpuset/> (one). */
int hpvm_domain_set_emulatorpin(HpvmDomain *d, const HpvmCpuSet *cpus);

/*
 * <iothreads>N</iothreads>, leaving nothing that names a thread the VM no
 * longer has (the ids are hpvm_domain_get_iothread_ids(d, N)): <iothreadids>
 * entries past them are removed (libvirt counts every entry as a thread), so
 * are <cputune><iothreadpin>s of such threads, and <cputune><iothreadsched
 * iothreads> lists lose them (an emptied one is removed); each pin or sched
 * change is a warning in @warn (may be NULL). Raising N leaves <iothreadids>
 * alone: libvirt adds the lowest unused ids itself. <defaultiothread> stays.
 * Returns 0; -EINVAL before anything changes when a device runs on a thread
 * that would go (a disk's or controller's <driver iothread>, a disk's <driver>
 * <iothreads> mapping: dropping it would silently move the device to QEMU's
 * main loop) or <iothreadids> holds an id outside 1..4095; -ENOMEM. The
 * message (@err may be NULL) is one line naming the device and the thread.
 */
int hpvm_domain_set_iothreads(HpvmDomain *d, unsigned n, HpvmWarnings *warn, HpvmError *err);

/*
 * How many IO threads libvirt gives the VM: <iothreads>, raised to the number
 * of <iothreadids> entries as libvirt does. 0 if neither, -1 if <iothreads>
 * is not a number.
 */
long hpvm_domain_iothreads(const HpvmDomain *d);

/*
 * The IO thread ids of the VM when it has @count IO threads (its own count:
 * hpvm_domain_iothreads(), or a new one), as libvirt numbers them: the ids of
 * <iothreadids> (the @count lowest when there are more), then the lowest
 * unused ids from 1 until there are @count; without <iothreadids>, 1..@count
 * (ids past 4095 are left out: the properties name ids 1..64).
 * Returns 0, or -EINVAL with the message in @err when an <iothreadids> id is
 * not 1..4095 (libvirt allows more; nobody needs them). *ret is untouched on failure.
 */
int hpvm_domain_get_iothread_ids(const HpvmDomain *d, unsigned count, HpvmCpuSet *ret, HpvmError *err);

/*
 * Every pin of @pins (iothreadpin) must name one of the VM's IO thread ids
 * when it has @count threads (see hpvm_domain_get_iothread_ids; negative:
 * its <iothreads> is not a number). Returns 0, -ERANGE (a missing id: the
 * message lists the ids the VM has) or -EINVAL, the message in @err.
 */
int hpvm_domain_check_iothreadpins(const HpvmDomain *d, long count, const HpvmPinList *pins, HpvmError *err);

/* <memoryBacking><nosharepages/> present (@on) or absent. */
int hpvm_domain_set_nosharepages(HpvmDomain *d, bool on);

/* libvirt takes <cpu><feature>s only with a CPU model or a host-* mode. */
bool hpvm_domain_cpu_can_have_features(const HpvmDomain *d);

/* <cpu><feature policy='require' name='@name'/> present (@require) or absent. */
int hpvm_domain_set_feature(HpvmDomain *d, const char *name, bool require);

/* <clock><timer name='tsc' frequency='@hz'/> (a <clock offset='utc'> is added when the VM has none). */
int hpvm_domain_set_tsc_frequency(HpvmDomain *d, uint64_t hz);

/* <memoryBacking><hugepages><page size unit='KiB' [nodeset=@cells]/> (one page element). */
int hpvm_domain_set_hugepages(HpvmDomain *d, uint64_t size_kib, const HpvmCpuSet *cells);

/* Readers of the document as it stands (after the edits): what libvirt will be given. */

/* Union of the cpusets of every <cputune><@elem> (vcpupin, emulatorpin, iothreadpin). */
void hpvm_domain_get_pinned(const HpvmDomain *d, const char *elem, HpvmCpuSet *ret);

/*
 * <numatune><memory mode nodeset/>. Refuses (-EINVAL, message) a mode that
 * contradicts existing <memnode> modes the way libvirt does ('restrictive'
 * must be used by both or neither).
 */
int hpvm_domain_set_numatune(HpvmDomain *d, const HpvmNumaTune *nt, HpvmError *err);

/*
 * <numatune><memnode cellid='@cell' mode nodeset>: the nodeset set, the mode
 * set when @mode is not NULL (else kept as it is). Created in cell order when
 * missing. Returns 0 or -ENOMEM.
 */
int hpvm_domain_set_memnode(HpvmDomain *d, unsigned cell, const HpvmNumaMode *mode, const HpvmCpuSet *nodes);

/* Whether <numatune><memnode cellid='@cell'> exists. */
bool hpvm_domain_has_memnode(const HpvmDomain *d, unsigned cell);

/*
 * <cpu><numa><cell id cpus memory unit='KiB'/> for cells 0..n-1: an existing
 * cell of the same id keeps its other attributes and children; cells past
 * n are removed with their <cache>s, and nothing that names a removed cell
 * is left: <distances><sibling>s, HMAT <interconnects> latencies and
 * bandwidths (an emptied <interconnects> goes), <numatune><memnode>s,
 * removed ids in <memoryBacking><hugepages><page nodeset> (a page left with
 * none goes, and <hugepages> when no page is left: empty, it would put every
 * cell on huge pages), and a PCI controller's <target><node> (pxb, pxb-pcie,
 * pseries PHB: libvirt and QEMU run the bus without a NUMA node). Memnode,
 * page and controller-node changes are warnings in @warn (may be NULL).
 * Returns 0; -EINVAL when a memory device (<devices><memory><target><node>)
 * sits on a cell that would go, before anything changes (the guest would lose
 * that memory); -ENOMEM. The message is in @err (may be NULL).
 */
int hpvm_domain_set_guest_numa(HpvmDomain *d, const HpvmGuestNuma *g, HpvmWarnings *warn, HpvmError *err);

/* Tree helpers shared by the edits (exported for the profile code and tests). */

/* The element child @name of @parent, created at libvirt's usual place if missing. NULL on ENOMEM. */
xmlNode *hpvm_domain_ensure(HpvmDomain *d, xmlNode *parent, const char *name);

/* Insert @node as a child of @parent at libvirt's usual place, indented like its siblings. */
void hpvm_domain_insert(HpvmDomain *d, xmlNode *parent, xmlNode *node);

/* Insert @node right after the element @prev (a child of the same parent), indented alike. */
void hpvm_domain_insert_after(HpvmDomain *d, xmlNode *prev, xmlNode *node);

/* Unlink and free @node with the indentation in front of it. */
void hpvm_domain_remove(xmlNode *node);

/*
 * Whether edits changed the document: begin before them, end after (it
 * returns true when any node was created or freed in between). The edits
 * here create or free nothing when the document already says what they
 * would write, so "false" means the document is as it was and need not
 * even be serialized. Process-wide libxml2 callbacks: not for threads.
 */
void hpvm_domain_track_begin(void);
bool hpvm_domain_track_end(void);

/* Set attribute @name to @value (NULL: remove it; the same value: nothing). Returns 0 or -ENOMEM. */
int hpvm_domain_set_prop(xmlNode *node, const char *name, const char *value);

/*
 * A device for a message: "<controller type='pci' index='1'>", with those of
 * the attributes @attrs (NULL-terminated) it has, values quoted (hpvm_quote).
 * Returns @buf (cut to @size).
 */
const char *hpvm_domain_describe(const xmlNode *n, const char *const attrs[], char *buf, size_t size);

/* The quoted name of @n's <alias name>, in @buf; NULL when it has none. */
const char *hpvm_domain_alias(const xmlNode *n, char *buf, size_t size);
