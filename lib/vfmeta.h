/* vfmeta.h: this project's record of the VF NICs it unplugged, kept in the domain's <metadata> so that it travels with a migration. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "domxml.h"
#include "sriov.h"
#include "util.h"
#include "vfnic.h"

/*
 * The record is one element of libvirt's domain <metadata>, in a namespace
 * of this project (the "1" is the format's version: a change of format gets
 * a new URI, so a reader never meets a record it does not understand):
 *
 *   <metadata>
 *     <hpvm:vfnics xmlns:hpvm="urn:hpvm-hooks:vfnics:1">
 *       <hpvm:nic mac="00:1a:4a:16:01:50" alias="ua-xyz" network="sriov-a" host="0000:3b:02.3">
 *         <hpvm:interface type="hostdev" managed="no"> ... </hpvm:interface>
 *       </hpvm:nic>
 *     </hpvm:vfnics>
 *   </metadata>
 *
 * One <nic> per unplugged NIC: its MAC (always), alias, oVirt network and the
 * host VF it had (each attribute only when known), and the WHOLE
 * <interface> element it was plugged with, so that its VLAN, MTU, alias and
 * guest PCI address come back identical. libvirt puts every element of a
 * metadata record into the record's namespace, the copied <interface> and its
 * children too (as above); this module takes the namespace off again when it
 * reads, and hands libvirt the record without one (virDomainSetMetadata()
 * adds it), so callers only ever see a plain <interface>.
 * A record never holds two NICs of one MAC or one alias: recording a NIC
 * replaces every record of its MAC or alias.
 *
 * The connection-free half (lib/vfmeta.c, libxml2 only, in libhpvm.a) reads
 * and writes records as XML text: a hook that only reads _hook_domxml needs
 * no libvirt. The live half (lib/vfmeta-virt.c, in libhpvmvirt.a) reads and
 * writes the record of a running domain through libvirt.
 */
#define HPVM_VFMETA_URI "urn:hpvm-hooks:vfnics:1"
#define HPVM_VFMETA_PREFIX "hpvm"
#define HPVM_VFMETA_ELEMENT "vfnics"

/* One recorded NIC. Strings are "" when the record has no such attribute. */
typedef struct HpvmVfRecord {
        char mac[HPVM_MAC_STRLEN];      /* lowercase */
        char alias[HPVM_ALIAS_MAX];
        char network[HPVM_NETWORK_MAX];
        bool has_host;
        HpvmPciAddr host;               /* the host VF it was given (<source><address>) */
        char *interface_xml;            /* the <interface> element, standalone, compact, no namespace; owned */
} HpvmVfRecord;

/* The whole record of one domain, in document order. */
typedef struct HpvmVfMeta {
        size_t n;
        HpvmVfRecord *recs;
} HpvmVfMeta;

/*
 * Read @len bytes of a record as virDomainGetMetadata() returns it: root
 * <vfnics>, no namespace. Every <nic> needs a MAC and one <interface> whose
 * <mac address> is that MAC (and whose <alias name> and PCI <source><address>
 * agree with the alias and host attributes when both are there).
 * On success *ret (empty when the record lists no NIC) is the caller's
 * (hpvm_vfmeta_clear()); on failure it is untouched.
 * Returns 0; -EINVAL (not well-formed, an unknown element, a bad or
 * disagreeing MAC, alias or host, two records of one MAC or alias: the
 * message names the NIC and quotes the value), -E2BIG (more than
 * HPVM_VFNICS_MAX NICs, a name too long), -EFBIG, -ENOMEM.
 */
int hpvm_vfmeta_parse(const char *xml, size_t len, HpvmVfMeta *ret, HpvmError *err);

/*
 * The record in a domain XML (<metadata><hpvm:vfnics> in namespace
 * HPVM_VFMETA_URI, whatever its prefix), e.g. _hook_domxml or the XML of the
 * migrated domain on the destination. No record is not an error: *ret is
 * then empty. Returns as hpvm_vfmeta_parse(); -EINVAL also for two records.
 */
int hpvm_vfmeta_read(const HpvmDomain *d, HpvmVfMeta *ret, HpvmError *err);

/*
 * The record as virDomainSetMetadata() takes it: <vfnics> without a
 * namespace, 2-space indented, no XML declaration. *ret_xml is the caller's.
 * Returns 0 or -ENOMEM.
 */
int hpvm_vfmeta_format(const HpvmVfMeta *m, char **ret_xml, size_t *ret_len, HpvmError *err);

/*
 * Record the NIC of the <interface> element in @interface_xml (@len bytes,
 * any type; a live domain's element as libvirt writes it is fine) on oVirt
 * network @network (NULL or "": none). Its MAC is required; its alias and,
 * for type='hostdev', its host VF are taken when present. Every record of
 * the same MAC or the same alias is replaced; the new one goes last.
 * @m is unchanged on failure.
 * Returns 0; -EINVAL (not an <interface>, no or a bad MAC, a bad alias or
 * address: message), -E2BIG (@network too long, or HPVM_VFNICS_MAX NICs
 * already), -EFBIG, -ENOMEM.
 */
int hpvm_vfmeta_put(HpvmVfMeta *m, const char *interface_xml, size_t len, const char *network, HpvmError *err);

/* The record of @mac (any case), or NULL. Borrowed from @m. */
const HpvmVfRecord *hpvm_vfmeta_find(const HpvmVfMeta *m, const char *mac);

/* Drop the record of @mac (any case); returns whether there was one. */
bool hpvm_vfmeta_remove(HpvmVfMeta *m, const char *mac);

/* Free what @m holds and leave it empty (NULL is fine). */
void hpvm_vfmeta_clear(HpvmVfMeta *m);

/*
 * The recorded <interface> to plug the NIC back with: the element as
 * recorded, 2-space indented, no XML declaration; with @new_host (NULL: as
 * recorded) only the domain, bus, slot and function of its <source><address>
 * change (written as libvirt writes them), for a destination host that gives
 * the NIC another VF. *ret_xml is the caller's.
 * Returns 0; -EINVAL (@new_host for an element without a PCI
 * <source><address>, or a record not from this module), -ENOMEM.
 */
int hpvm_vfrecord_interface(const HpvmVfRecord *r, const HpvmPciAddr *new_host, char **ret_xml, size_t *ret_len,
                            HpvmError *err);

/* ---------------------------------------------------------------- through libvirt (lib/vfmeta-virt.c) */

/*
 * These take libvirt's virDomainPtr, declared here by its struct tag so that
 * this header does not pull libvirt's in. Each names the VM in its messages.
 * A running domain is read live; a shut-off one from its definition.
 */
struct _virDomain;

/*
 * The record of @dom (virDomainGetMetadata()): empty when it has none.
 * Returns as hpvm_vfmeta_parse(); -EIO when libvirt fails (its message).
 */
int hpvm_vfmeta_get(struct _virDomain *dom, HpvmVfMeta *ret, HpvmError *err);

/*
 * Replace the record of @dom by @m; an empty @m removes it. Written to the
 * running domain (VIR_DOMAIN_AFFECT_LIVE) and, when the domain is
 * persistent, to its definition too (VIR_DOMAIN_AFFECT_CONFIG), so the record
 * is in the XML a migration carries and survives a libvirtd restart.
 * Returns 0; -ENOMEM; -EIO when libvirt refuses (its message).
 */
int hpvm_vfmeta_set(struct _virDomain *dom, const HpvmVfMeta *m, HpvmError *err);

/* Remove the record of @dom (no record: nothing to do). Returns as hpvm_vfmeta_set(). */
int hpvm_vfmeta_delete(struct _virDomain *dom, HpvmError *err);

/*
 * Read, hpvm_vfmeta_put() and write back in one call: the NIC of
 * @interface_xml on @network is recorded (again) in @dom's record.
 * Not atomic against another writer of the same record: callers serialize
 * (vdsm runs one hook of a VM at a time). Returns as the three calls.
 */
int hpvm_vfmeta_record_nic(struct _virDomain *dom, const char *interface_xml, const char *network, HpvmError *err);

/*
 * Read, drop the record of @mac and write back (unchanged record: no write).
 * Returns 1 when there was one, 0 when not, or a negative errno as above.
 */
int hpvm_vfmeta_forget_nic(struct _virDomain *dom, const char *mac, HpvmError *err);
