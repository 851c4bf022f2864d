/* vfnic.h: the SR-IOV VF NICs of a domain XML (<interface type='hostdev'>), their oVirt metadata, and the edits live migration needs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "domxml.h"
#include "sriov.h"
#include "util.h"

#define HPVM_ALIAS_MAX 128          /* a device alias and its NUL */
#define HPVM_NETWORK_MAX 256        /* an oVirt network name and its NUL */
#define HPVM_VFNICS_MAX 256         /* VF NICs one domain may have */

/* Where a NIC's migratable flag came from. */
typedef enum HpvmMigratableFrom {
        HPVM_MIGRATABLE_DEFAULT,    /* neither property: not migratable */
        HPVM_MIGRATABLE_DEVICE,     /* the vNIC profile's sriov_migratable (NIC metadata) */
        HPVM_MIGRATABLE_VM,         /* the VM's sriov_migratable property */
} HpvmMigratableFrom;

/*
 * One VF NIC: an <interface type='hostdev'>. Read-only facts, except through
 * hpvm_vfnic_set_host(). Strings are "" when the XML has no such thing.
 */
typedef struct HpvmVfNic {
        char mac[HPVM_MAC_STRLEN];      /* <mac address>, lowercase */
        bool has_host;                  /* <source><address type='pci'> present */
        HpvmPciAddr host;               /* the host VF it is given */
        bool managed;                   /* managed='yes' */
        char alias[HPVM_ALIAS_MAX];     /* <alias name> */
        bool has_guest;                 /* <address type='pci'> directly under <interface> */
        HpvmPciAddr guest;              /* where the guest sees it */
        unsigned mtu;                   /* <mtu size>; 0 = none */
        char *vlan_xml;                 /* the <vlan> element as written (every <tag>, trunk); NULL = none; owned */
        bool failover;                  /* <teaming type='transient' persistent=...>: QEMU unplugs it for migration */
        char persistent[HPVM_ALIAS_MAX];/* that persistent= alias */
        bool backup_found;              /* an <interface> with that alias, <teaming type='persistent'/> and this MAC */
        char network[HPVM_NETWORK_MAX]; /* <ovirt-vm:device mac_address><ovirt-vm:network> */
        bool migratable;
        HpvmMigratableFrom migratable_from;
        xmlNode *node;                  /* the <interface> in the domain (borrowed); NULL from hpvm_vfnic_parse_interface() */
} HpvmVfNic;

/*
 * Every <interface type='hostdev'> of @d's <devices>, in document order, with
 * its oVirt metadata (<metadata><ovirt-vm:vm><ovirt-vm:device mac_address>,
 * matched by MAC in any case) and whether it may migrate: the NIC's custom
 * property sriov_migratable (<ovirt-vm:custom><ovirt-vm:sriov_migratable>,
 * true|false|yes|no|1|0 in any case) if present, else the VM property
 * @vm_prop (sriov_migratable=all|<mac>[,...]; NULL or "" = not set), else
 * false.
 * A NIC whose <source> is a USB device or missing has has_host false.
 * On success *ret (NULL when there are none) and every vlan_xml are the
 * caller's: hpvm_vfnics_free(). Each node stays valid while @d does and is
 * not edited by anything else.
 * Returns 0; -EINVAL (a bad MAC, PCI address, alias, MTU or teaming value,
 * a bad @vm_prop or NIC property; the message names the NIC by MAC or
 * position and quotes the value), -E2BIG (more than HPVM_VFNICS_MAX NICs,
 * a name or alias too long), -ENOMEM.
 */
int hpvm_vfnics_read(const HpvmDomain *d, const char *vm_prop, HpvmVfNic **ret, size_t *ret_n, HpvmError *err);

/* Free what hpvm_vfnics_read() returned (NULL is fine). */
void hpvm_vfnics_free(HpvmVfNic *nics, size_t n);

/* Free what one NIC owns (its vlan_xml); the struct itself stays. */
void hpvm_vfnic_clear(HpvmVfNic *nic);

/*
 * Point @nic (from hpvm_vfnics_read() on @d) at the host VF @a: only the
 * domain, bus, slot and function attributes of its <source><address> change,
 * written the way libvirt writes them (domain='0x0000' bus='0x05' slot='0x10'
 * function='0x7'); the MAC, alias, VLAN, MTU, teaming, guest address and
 * every other byte of the document stay, since libvirt's migration check
 * compares those and not the host address. nic->host follows.
 * Returns 0, -EINVAL (@nic has no <source><address type='pci'>, or belongs to
 * no document), -ENOMEM.
 */
int hpvm_vfnic_set_host(HpvmDomain *d, HpvmVfNic *nic, const HpvmPciAddr *a);

/*
 * A standalone <interface type='hostdev' managed='yes'> for
 * virDomainAttachDeviceFlags(): @nic's MAC, the host VF @new_host (NULL: the
 * NIC's own), its VLAN element as read, MTU, teaming, alias and guest PCI
 * address (all in libvirt's order), 2-space indented, no XML declaration.
 * <driver>, <boot>, <rom> and other elements are not carried over.
 * (libvirt 9.0's QEMU driver refuses <mtu> on a hostdev NIC, so a NIC that
 * ran there never has one.) *ret_xml (NUL-terminated) is the caller's.
 * Returns 0, -EINVAL (no MAC, or no host address to write; message), -ENOMEM.
 */
int hpvm_vfnic_format_interface(const HpvmVfNic *nic, const HpvmPciAddr *new_host, char **ret_xml,
                                size_t *ret_len, HpvmError *err);

/*
 * Read the one <interface> element vdsm hands the before_nic_hotunplug and
 * before_nic_hotplug hooks (hpvm_xml_parse() rules, root <interface>). Fills
 * *ret as hpvm_vfnics_read() would, without metadata: network "", migratable
 * false, node NULL. An interface of another type is refused (-EINVAL: the
 * caller asks for VF NICs only). On success ret->vlan_xml is the caller's
 * (hpvm_vfnic_clear()); on failure *ret is untouched.
 * Returns 0, -EINVAL, -E2BIG, -EFBIG, -ENOMEM.
 */
int hpvm_vfnic_parse_interface(const char *buf, size_t len, HpvmVfNic *ret, HpvmError *err);

/* One plain PCI host device: <hostdev mode='subsystem' type='pci'>. */
typedef struct HpvmPciHostdev {
        HpvmPciAddr host;           /* <source><address> */
        bool failover;              /* <teaming type='transient'> (libvirt 7.1 and later) */
        xmlNode *node;              /* the <hostdev> in the domain (borrowed) */
} HpvmPciHostdev;

/*
 * Every <hostdev mode='subsystem' type='pci'> of @d with its host address.
 * These are not NICs to this project: a hook that finds a VF among them (look
 * each up with hpvm_vf_inventory_vf()) cannot unplug and re-plug it with a
 * MAC and VLAN, and refuses to migrate the VM.
 * On success *ret (NULL when none) is the caller's (free()).
 * Returns 0; -EINVAL (a bad address value: message quotes it), -E2BIG (more
 * than HPVM_VFNICS_MAX), -ENOMEM.
 */
int hpvm_pci_hostdevs_read(const HpvmDomain *d, HpvmPciHostdev **ret, size_t *ret_n, HpvmError *err);
