/* vfmigrate.h: the SR-IOV VF side of live migration, one call per hook point (the source's refusals and unplugs, the destination's reservation, re-point, re-plug, and every release). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "domxml.h"
#include "util.h"
#include "vfnic.h"

struct HpvmWatchResult;         /* watch.h: this header does not pull libvirt's in */

/*
 * Who calls what, and where each call lives:
 *
 *   vdsm hook point (host)                  call                              binary
 *   before_vm_migrate_source (source)       hpvm_vfmig_source_plan()          hooks/before_migration_source
 *                                           + hpvm_vfmig_before_source() [virt]
 *   before_vm_migrate_destination (dest.)   hpvm_vfmig_reserve()              hooks/before_migration_destination
 *   libvirt qemu.d "migrate begin" (dest.)  hpvm_vfmig_repoint()              hooks/libvirt_qemu
 *   after_vm_migrate_destination (dest.)    hpvm_vfmig_after_destination() [virt]
 *                                           (or hpvm_vfmig_arrived() alone)   hooks/after_migration_destination
 *   after_vm_migrate_source (source)        hpvm_vfmig_release()              hooks/after_migration_source
 *   after_vm_destroy (either)               hpvm_vfmig_release()              hooks/after_vm_destroy
 *   before_nic_hotunplug (either)           hpvm_vfmig_unplug_parse()
 *                                           + hpvm_vfmig_release_nic()        hooks/before_device_hotunplug
 *   (no hook: the migration failed)         hpvm_vfmig_watch() [virt]         hpvm-watch, started by the source hook
 *
 * The calls marked [virt] talk to libvirtd and are in lib/vfmigrate-virt.c
 * (lib/libhpvmvirt.a); the others are in lib/vfmigrate.c (lib/libhpvm.a:
 * libxml2, never libvirt), so a hook that needs no libvirtd does not load it.
 *
 * The two kinds of VF NIC (<interface type='hostdev'>) this handles:
 * - failover NICs (<teaming type='transient' persistent='ALIAS'/>, paired
 *   with a virtio NIC of the same MAC): QEMU unplugs the VF when the
 *   migration starts and plugs the VF the incoming XML names when the guest
 *   arrives. The source needs nothing; the destination reserves a VF and the
 *   migrate-begin hook writes its address into the incoming XML.
 * - the others (the guest bonds the VF with a virtio NIC itself): the source
 *   hook unplugs them and records each in the domain's metadata (vfmeta.h),
 *   the record travels with the domain, and after the migration the
 *   destination plugs a reserved VF of the same network with the recorded
 *   MAC, VLAN, alias and guest PCI address. A migration that fails has no
 *   hook point: the watcher the source hook starts plugs them back.
 * A VF NIC that is not migratable (vnic profile property
 * sriov_migratable=true, or the VM property sriov_migratable=all|<mac>,...)
 * refuses the migration on the source.
 *
 * The VF ledger (vfledger.h) of each host records which VF is reserved for
 * an incoming VM or used by one; the state_dir, sysfs_root, sriov_pfs.*
 * and vf_reservation_timeout of hpvm.conf (config.h) apply.
 */

/* What every call needs besides its input. Zero it, then set config. */
typedef struct HpvmVfMigCtx {
        const HpvmConfig *config;       /* required: state_dir, sysfs_root, sriov_pfs.<network>, timeouts, libvirt_* */
        const char *sysfs_root;         /* where the host's SR-IOV cards are read; NULL or "": config->sysfs_root */
        const char *vm_id;              /* vdsm's vmId; NULL or "": the domain's <uuid> */
        time_t now;                     /* the ledger's clock (seconds since the epoch); 0: time(NULL) */
        const int *numa_node;           /* hpvm_vfmig_reserve(): the node to prefer (-1: none); NULL: from <numatune> */
} HpvmVfMigCtx;

/* @ctx->now, or time(NULL) when it is 0. */
time_t hpvm_vfmig_now(const HpvmVfMigCtx *ctx);

/* @ctx->sysfs_root when set, else the configuration's sysfs_root. */
const char *hpvm_vfmig_sysfs_root(const HpvmVfMigCtx *ctx);

/*
 * The VM's id into @buf (@size > 64): @ctx->vm_id when set, else @d's <uuid>
 * (@d may be NULL then). Returns 0, or -EINVAL when there is none or it is
 * not a token the ledger takes (a UUID is), with one line in @err.
 */
int hpvm_vfmig_vm_id(const HpvmVfMigCtx *ctx, const HpvmDomain *d, char *buf, size_t size, HpvmError *err);

/* ---------------------------------------------------------------- destination */

/*
 * The destination check (before_vm_migrate_destination, which receives the
 * SOURCE host's domain XML): reserve one free VF of this host for each VF
 * NIC the VM brings, all or nothing, in this host's VF ledger, until
 * @ctx->now + vf_reservation_timeout (1800 s by default: longer than
 * vdsm's 600 s cap on preparing an incoming migration plus the migration).
 *
 * The NICs: every <interface type='hostdev'> of @src, and every NIC of
 * @src's VF NIC record (vfmeta.h) that @src no longer has (unplugged on the
 * source). Each takes a VF of a PF that serves its network (the network of
 * its <ovirt-vm:device mac_address> metadata, or the record's; PFs from
 * sriov_pfs.<network>, every PF without such keys), preferring:
 *  1. the VF at the NIC's SOURCE PCI address (its <source><address>, or the
 *     record's host) when this host has it free. vdsm's destination, by its
 *     own source (lib/vdsm/virt/vm.py Vm._run() -> _setup_devices() ->
 *     vmdevices/network.py Interface.setup() -> common/hostdev.py
 *     detach_detachable()), detaches from its host driver and binds to
 *     vfio-pci the host device at every PCI address named in the XML it got
 *     from the source, and only then sets _incoming_migration_prepared, which
 *     waitForMigrationDestinationPrepare() waits for before it runs this
 *     hook. So that VF is bound to vfio-pci already, by vdsm, for this VM
 *     (the ledger lets it through: vfledger.h); taking it means no second VF
 *     gets bound, none is left bound and unused, and vdsm's teardown
 *     (Interface.teardown() reattaches the same address) gives back the VF
 *     the VM used. (A source address this host lacks fails vdsm's
 *     preparation before this hook runs, so between hosts of one hardware
 *     layout the address is always there.)
 *  2. a free VF on the VM's NUMA node: *@ctx->numa_node, else the first node
 *     of @src's <numatune><memory nodeset> (where the guest's memory, and
 *     so the VF's DMA, lives); no preference without either;
 *  3. the first free VF (PF order, then VF number).
 * A VM already holding reservations here (a retried check) gets the same
 * VFs again; its reservations are exactly the new ones afterwards.
 * A VM with no VF NIC and no record: nothing is read or written (returns 0).
 *
 * Returns the number of VFs reserved (committed durably), or:
 *   -ENOSPC     a NIC has no free VF: nothing reserved, @err holds one line
 *               naming its network, e.g.
 *               "no free VF for network 'sriov-a': PF ens1f0 has 8 VFs, all reserved or in use: VM 'vm1' cannot move here"
 *   -EINVAL     a VF NIC without a MAC (its VF could not be found again), a
 *               bad value in the XML or record (vfnic.h, vfmeta.h), no VM id
 *   -EBADMSG    the ledger is damaged (the message names it and the repair)
 *   -ETIMEDOUT  the ledger stayed locked; -ENOENT, -EIO reading sysfs or the
 *               ledger; -E2BIG, -ENOMEM
 */
int hpvm_vfmig_reserve(const HpvmVfMigCtx *ctx, const HpvmDomain *src, HpvmError *err);

/* The same on XML text (@len bytes): parses it first (hpvm_domain_parse()'s errors). */
int hpvm_vfmig_reserve_xml(const HpvmVfMigCtx *ctx, const char *xml, size_t len, HpvmError *err);

/*
 * The libvirt migrate-begin re-point (qemu.d hook on the destination, which
 * may print a new domain XML): each FAILOVER VF NIC of @d (teaming
 * transient) gets the host address of the VF this host's ledger holds for
 * the VM and that NIC's MAC (its reservation, expired or not: a VF whose
 * reservation another VM took has no record of this VM any more; else its
 * VF in use) through hpvm_vfnic_set_host(): only the domain, bus, slot and
 * function of <source><address> change; the guest PCI address, MAC, alias,
 * VLAN, MTU and <teaming>, which libvirt's migration ABI check compares,
 * and every other byte stay. Never calls libvirt (libvirtd waits for its
 * hooks). VF NICs without teaming are left alone: the source hook unplugged
 * them (libvirt migrates no other hostdev), and those in the VF NIC record
 * are not in @d at all: nothing to rewrite. Without a failover NIC the
 * ledger is not even opened.
 * Returns how many addresses changed (0: @d untouched), or:
 *   -ENOENT     a failover NIC has no VF of the VM here (the destination
 *               check did not run, or its reservation was lost with a
 *               damaged ledger): the one line names the NIC and says the
 *               migration is refused and may be started again
 *   -EINVAL     no VM id, a bad value in @d; -EBADMSG, -ETIMEDOUT, -EIO from
 *               the ledger; -ENOMEM. @d is unchanged on failure.
 */
int hpvm_vfmig_repoint(const HpvmVfMigCtx *ctx, HpvmDomain *d, HpvmError *err);

/*
 * The same on XML text: *ret_out (the caller's) is the new document, or
 * NULL when nothing changed (libvirt: print nothing). Returns as
 * hpvm_vfmig_repoint(), plus hpvm_domain_parse()'s errors.
 */
int hpvm_vfmig_repoint_xml(const HpvmVfMigCtx *ctx, const char *in, size_t len, char **ret_out, size_t *ret_len,
                           HpvmError *err);

/*
 * The VM arrived (after_vm_migrate_destination), ledger half: every
 * reservation of the VM (@ctx->vm_id, else @d's <uuid>; @d may be NULL when
 * vm_id is set) becomes "in use". hpvm_vfmig_after_destination() does this
 * and also plugs the recorded NICs; this call alone is for a hook that
 * must not link libvirt. Returns the number of VFs turned, or the ledger's
 * errors (-EINVAL without a VM id).
 */
int hpvm_vfmig_arrived(const HpvmVfMigCtx *ctx, const HpvmDomain *d, HpvmError *err);

/* ---------------------------------------------------------------- releases */

/*
 * The VM left or stopped (after_vm_migrate_source, after_vm_destroy, the
 * watcher on success): every VF record of the VM (@ctx->vm_id, else @d's
 * <uuid>; @d may be NULL) goes, reservations included. Returns the number
 * dropped (0: none; the file is then not rewritten), or the ledger's errors
 * (-EINVAL without a VM id).
 */
int hpvm_vfmig_release(const HpvmVfMigCtx *ctx, const HpvmDomain *d, HpvmError *err);

/*
 * The one <interface> vdsm hands before_nic_hotunplug: 1 and *ret filled
 * (hpvm_vfnic_parse_interface(): the caller clears it with
 * hpvm_vfnic_clear()) when it is a VF NIC (type='hostdev'), 0 (*ret
 * untouched) for any other kind of NIC (nothing of ours), or a negative
 * errno when the input is broken (not well-formed, not an <interface>, a
 * bad value in a VF NIC: vfnic.h's messages).
 */
int hpvm_vfmig_unplug_parse(const char *buf, size_t len, HpvmVfNic *ret, HpvmError *err);

/*
 * That NIC is being unplugged: release its VF. Dropped: the record of the VF
 * at @nic's host address when the VM (@ctx->vm_id) holds it, or whoever does
 * when no VM id is known; and any other record of the VM for @nic's MAC (a
 * reservation). A record of the VF held by another VM stays (a warning
 * says so: the ledger and vdsm disagree). Returns the number of records
 * dropped, or the ledger's errors: the hook never refuses an unplug for
 * them (it warns).
 */
int hpvm_vfmig_release_nic(const HpvmVfMigCtx *ctx, const HpvmVfNic *nic, HpvmWarnings *warn, HpvmError *err);

/* ---------------------------------------------------------------- source */

/* What the source must do before the VM leaves. */
typedef struct HpvmVfMigPlan {
        HpvmVfNic *nics;                /* every VF NIC of the domain (hpvm_vfnics_read()), owned */
        size_t n;
        size_t *unplug;                 /* indexes into nics of those to unplug (migratable, no failover teaming), owned */
        size_t nunplug;
        size_t nfailover;               /* migratable failover NICs: QEMU handles them */
        char vm_uuid[37];               /* the domain's <uuid> ("" when it has none) */
} HpvmVfMigPlan;

/*
 * Check that every VF NIC of @d (before_vm_migrate_source's live domain XML)
 * may migrate, and say which must be unplugged. A NIC is migratable per
 * vfnic.h: its vNIC profile property sriov_migratable (in @d's metadata),
 * else the VM property @vm_prop (sriov_migratable=all|<mac>[,...]; NULL or
 * "": not set), else not. A plain PCI <hostdev> that is a VF of this host
 * (read from @ctx's sysfs root, only when @d has such a device) cannot be
 * unplugged and plugged back with a MAC and VLAN, and is refused too.
 * Pure: nothing is changed anywhere. On success *ret is the caller's
 * (hpvm_vfmig_plan_clear()); on failure it is untouched.
 * Returns 0, or:
 *   -EPERM      a refusal, one line naming the NIC by MAC (or the device by
 *               address) and the property that allows it, e.g.
 *               "VF NIC 00:1a:4a:16:01:51 (alias ua-x) may not migrate: set sriov_migratable=true on its vNIC profile, or the VM property sriov_migratable=all (or a list of MACs with 00:1a:4a:16:01:51); the VM stays on this host"
 *   -EINVAL     a bad @vm_prop or NIC property (its message), a VF NIC to
 *               unplug without MAC or alias; -E2BIG; -ENOENT, -EIO (sysfs);
 *               -ENOMEM
 */
int hpvm_vfmig_source_plan(const HpvmVfMigCtx *ctx, const HpvmDomain *d, const char *vm_prop, HpvmVfMigPlan *ret,
                           HpvmError *err);

/* Free what a plan holds and zero it (NULL is fine). */
void hpvm_vfmig_plan_clear(HpvmVfMigPlan *p);

/* ---------------------------------------------------------------- through libvirt (lib/vfmigrate-virt.c) */

/* What hpvm_vfmig_before_source() did. */
typedef struct HpvmVfMigSourceReport {
        size_t unplugged;               /* NICs this call unplugged (and recorded) */
        size_t absent;                  /* NICs already gone from the running domain: nothing done */
        pid_t watcher;                  /* the watcher's pid; 0: none started (nothing unplugged) */
        double seconds;                 /* the whole call */
} HpvmVfMigSourceReport;

/*
 * The source's work for the NICs of @plan->unplug (after
 * hpvm_vfmig_source_plan() on @d): connect to libvirtd (hpvm.conf's URI and
 * credentials), find the running domain by @plan->vm_uuid, then
 *  1. record each NIC still plugged (its live <interface> as libvirt writes
 *     it, its network from @d's metadata) in the domain's metadata, live and
 *     persistent, in one write (vfmeta.h): the record exists before the NIC
 *     leaves, and travels in the migrated XML;
 *  2. unplug them all (hpvm_virt_unplug_nics(): device events registered
 *     first, detach by alias, live and persistent, wait at most
 *     unplug_timeout seconds for all); a NIC already absent (the engine may
 *     have unplugged it) is not an error and is not recorded;
 *  3. start the watcher, fully detached: @watcher (an absolute path) with
 *     arguments [--config @config_path] <vm uuid> (hpvm_watch_spawn()); it
 *     follows the outgoing migration (hpvm_vfmig_watch()).
 * Nothing of this host's VF ledger changes: the source's VFs are released
 * only once the migration succeeded (the watcher, after_vm_migrate_source).
 * When any step fails, what this call did is undone (NICs plugged back with
 * their live element: same MAC, VLAN, alias, guest PCI address; the record
 * as it was before) and the one line says so, e.g.
 *   the guest did not release VF NIC 00:1a:4a:16:01:51 (alias ua-x) within 30 s: it was plugged back; the migration is refused
 * With nothing to unplug, nothing connects to libvirt (returns 0).
 * @ret (NULL allowed) is filled on success.
 * Returns the number of NICs unplugged, or hpvm_virt_open()'s errors,
 * -ENOENT (no running domain of that UUID), hpvm_virt_unplug_nics()'s
 * (-ETIMEDOUT, -EBUSY, -EIO, -EINVAL), hpvm_watch_spawn()'s, -ENOMEM.
 */
int hpvm_vfmig_before_source(const HpvmVfMigCtx *ctx, const HpvmDomain *d, const HpvmVfMigPlan *plan,
                             const char *watcher, const char *config_path, HpvmVfMigSourceReport *ret,
                             HpvmError *err);

/*
 * The VM arrived (after_vm_migrate_destination, @d its live XML here):
 * hpvm_vfmig_arrived(), then for each NIC of @d's VF NIC record: its VF
 * (the VM's reservation or VF in use for that MAC in this host's ledger;
 * when there is none, one is reserved now as hpvm_vfmig_reserve() would),
 * plugged as <interface type='hostdev' managed='yes'> with the recorded MAC,
 * VLAN, MTU, alias and guest PCI address at that VF's address
 * (hpvm_virt_plug_nic(): a NIC of that MAC already there is not plugged
 * twice), recorded in use with its MAC and network, and dropped from the
 * record; all before returning (vdsm refreshes its devices right after this
 * hook). A recorded <interface> of another type (this project's tests stand
 * a virtio NIC in for a VF) is plugged as recorded, its VF still marked in
 * use. A NIC that cannot be plugged is released in the ledger and stays
 * recorded (its identity for a person or the next move); the others go on.
 * Without a record, nothing connects to libvirt. Ledger work happens under
 * its lock before and after the plugs, never during them.
 * Returns the number of NICs plugged (or found there), or a negative errno
 * with one line naming the first NIC that failed and how many others are
 * back (the hook exits 1: after_* failures are logged only); the ledger's,
 * libvirt's (-EIO), -ENOENT (no running domain of @d's UUID).
 */
int hpvm_vfmig_after_destination(const HpvmVfMigCtx *ctx, const HpvmDomain *d, HpvmWarnings *warn,
                                 HpvmError *err);

/*
 * The migration watcher's work (hpvm-watch <vm uuid>): hpvm_watch_migration()
 * with @ctx->config, and as its actions: on success (the VM left this host,
 * or stopped) release the VM's VFs in this host's ledger
 * (hpvm_vfmig_release()); on failure (the VM runs here, no migration job)
 * plug back every recorded NIC with its recorded element and drop the
 * record (hpvm_watch_replug_recorded()); post-copy and time-outs: nothing.
 * @note (NULL allowed) receives each progress line (the watcher logs them
 * to syslog). Returns as hpvm_watch_migration().
 */
int hpvm_vfmig_watch(const HpvmVfMigCtx *ctx, const char *vm_uuid, void (*note)(void *opaque, const char *line),
                     void *opaque, struct HpvmWatchResult *ret, HpvmError *err);
