/* hotplug.h: unplugging VF NICs from a running guest before a migration (bounded, with libvirt's device events) and plugging them back. */
#pragma once

#include <stddef.h>

#include <libvirt/libvirt.h>

#include "util.h"
#include "vfnic.h"

/* What hpvm_virt_unplug_nics() did with one NIC. */
typedef enum HpvmUnplugOutcome {
        HPVM_UNPLUG_REMOVED = 1,        /* this call unplugged it: the guest released it */
        HPVM_UNPLUG_ABSENT,             /* not in the running domain (e.g. the engine unplugged it): nothing done */
} HpvmUnplugOutcome;

/*
 * Hot-unplug @n NICs (their mac and alias are all this reads of them) from
 * the running domain @dom of @conn, live and, when the domain is persistent
 * and its definition has the NIC, from the definition too; wait until the
 * guest has released each, at most @timeout_s seconds (hpvm.conf's
 * unplug_timeout) for all of them together.
 *
 * How: callbacks for libvirt's DEVICE_REMOVED and DEVICE_REMOVAL_FAILED
 * events of @dom are registered before anything is asked; each NIC present
 * in the live XML is then detached by its alias (virDomainDetachDeviceAlias,
 * which only sends the request to the guest); the call then runs libvirt's
 * default event loop in the calling thread (woken at least every 100 ms by a
 * timer of its own) and reads the live XML every 500 ms, so a lost event
 * costs at most half a second and the wait ends at the bound whatever
 * happens. @conn should come from hpvm_virt_open() (which registers the
 * event loop before connecting); on another connection events may never
 * come and only the live XML tells. No other thread may run libvirt's
 * default event loop meanwhile.
 *
 * A NIC already absent is not an error (HPVM_UNPLUG_ABSENT). When a NIC is
 * not released within the bound, or the guest refuses (removal-failed
 * event), or libvirt refuses a detach request, every NIC this call asked
 * for is plugged back with the element it had in the live XML (same MAC,
 * VLAN, alias, guest PCI address; through hpvm_virt_plug_nic(), so a NIC
 * that never left is not plugged twice) and the call fails with one line:
 *   the guest did not release VF NIC 00:1a:4a:16:01:50 (alias ua-xyz) within 30 s: it was plugged back; the migration is refused
 * Guests answer an unplug only once their kernel runs: a request sent while
 * a guest boots is lost, and a guest without an OS never answers (both end
 * at the bound). A guest that answers after the bound still removes the NIC
 * then (QEMU cannot withdraw the request); the caller's record (vfmeta.h)
 * is what can put it back.
 *
 * On success *ret_outcomes (NULL allowed; @n entries) says what happened to
 * each NIC, and the return value is how many this call removed.
 * Returns >= 0; -EINVAL (a NIC without MAC or alias, two NICs of one alias,
 * a NIC whose alias belongs to another MAC or whose MAC is plugged under
 * another alias, the domain not running, @timeout_s 0), -E2BIG (more than
 * HPVM_VFNICS_MAX), -ETIMEDOUT (not released in time), -EBUSY (the guest
 * refused), -EIO (libvirt failed: its message), -ENOMEM.
 */
int hpvm_virt_unplug_nics(virConnectPtr conn, virDomainPtr dom, const HpvmVfNic *nics, size_t n, unsigned timeout_s,
                          HpvmUnplugOutcome *ret_outcomes, HpvmError *err);

/*
 * Plug the NIC of @interface_xml (a standalone <interface> of any type, e.g.
 * hpvm_vfrecord_interface()'s) into @dom: into the running domain
 * (VIR_DOMAIN_AFFECT_LIVE) unless the live XML has a NIC of that MAC
 * already, and into the definition of a persistent domain
 * (VIR_DOMAIN_AFFECT_CONFIG) unless that has one. Never two NICs of one MAC
 * or alias: an alias taken by a NIC of another MAC is refused.
 * Returns 1 (plugged into at least one of them), 0 (it was there already:
 * nothing done); -EINVAL (not an <interface>, no or a bad MAC), -EEXIST (its
 * alias belongs to another NIC), -EIO (libvirt refused: its message).
 */
int hpvm_virt_plug_nic(virDomainPtr dom, const char *interface_xml, HpvmError *err);

/*
 * The running domain's <interface> of MAC @mac (any case) as standalone XML,
 * as libvirt writes it: what to record (hpvm_vfmeta_record_nic()) before
 * unplugging it. *ret_xml is the caller's.
 * Returns 0; -ENOENT (no such NIC), -EINVAL (a bad @mac), -EIO, -ENOMEM.
 */
int hpvm_virt_nic_xml(virDomainPtr dom, const char *mac, char **ret_xml, HpvmError *err);
