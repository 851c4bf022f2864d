/* vfledger.h: HpvmVfLedger, the host-wide record of which SR-IOV VF is reserved for an incoming migration or in use by a VM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "sriov.h"
#include "state.h"
#include "util.h"

/*
 * One state file, "<state_dir>/vfs", one record per VF that is not free
 * (type "vf", id the VF's PCI address in the kernel's lowercase form):
 *
 *   vf 0000:05:10.1 state=reserved vm=<vmId> mac=<NIC MAC> network=<network> since=<time> expires=<time>
 *   vf 0000:05:10.2 state=in-use vm=<vmId> [mac=<NIC MAC>] [network=<network>] since=<time>
 *
 * A free VF has no record. A reservation holds a VF on the destination of a
 * migration from the destination's check (before_vm_migrate_destination)
 * until the VM arrives (hpvm_vfledger_use()) or the reservation expires
 * (vf_reservation_timeout): the VF is secured before the VM moves, and when
 * none is free the VM does not move. A VF in use stays so until the hooks
 * release it (after_vm_destroy, after_vm_migrate_source, before_nic_hotunplug)
 * or until hpvm_vfledger_reclaim() finds that no QEMU process runs its VM.
 *
 * The records are not the whole truth: a VF bound to vfio-pci or pci-stub
 * (hpvm_vf_looks_assigned()) that has no record is busy too, because libvirt
 * or vdsm gave it to a guest this ledger never heard of (a VM started before
 * the hooks were installed, a file removed after damage). That rule is also
 * why a damaged file is repaired by removing it and no "rebuild" exists: a
 * rebuild could only write "in use by an unknown VM" for every vfio-bound VF,
 * which the sysfs rule already counts busy, and such records could never be
 * released (no after_vm_destroy names an unknown VM, and reclaim cannot ask
 * /proc whether it runs), so each would hold its VF until someone edited the
 * file. What neither a removal nor a rebuild can restore are reservations of
 * migrations under way (their VF is not bound yet): the libvirt
 * migrate-begin hook then finds no reservation, and the migration is retried.
 *
 * Every record is checked when the file is opened (state, VM, MAC, times,
 * a canonical PCI address): a file with one bad record is refused whole.
 */

#define HPVM_VFLEDGER_FILE "vfs"
#define HPVM_VFLEDGER_REQUESTS_MAX 256u         /* VF NICs one reservation may ask for */
#define HPVM_VFLEDGER_NETWORK_MAX HPVM_CONFIG_NETWORK_NAME_MAX  /* bytes of a recorded network name */

typedef struct HpvmVfLedger HpvmVfLedger;

/* One record: a VF reserved or in use. */
typedef struct HpvmVfEntry {
        HpvmPciAddr addr;
        bool reserved;                                  /* false: in use */
        char vm[HPVM_STATE_TOKEN_MAX + 1];              /* vmId */
        bool has_mac;                                   /* always for reservations */
        HpvmMac mac;                                    /* the NIC the VF is for */
        char network[HPVM_VFLEDGER_NETWORK_MAX + 1];    /* its network; "" = not known */
        time_t since;
        time_t expires;                                 /* reservations only (0 for a VF in use) */
} HpvmVfEntry;

/* One VF NIC of a VM that needs a VF on this host. */
typedef struct HpvmVfRequest {
        HpvmMac mac;                    /* the NIC's MAC; no two requests of one call share one */
        const char *network;            /* its oVirt network; NULL or "": not known */
        bool has_preferred;
        HpvmPciAddr preferred;          /* the VF the source host gave it: tried first */
        int preferred_node;             /* NUMA node to prefer next; -1: none */
} HpvmVfRequest;

/*
 * Open and lock the VF ledger in @c's state_dir (created 0755 and given to
 * state_owner when root creates it), and check every record. *ret (close with
 * hpvm_vfledger_close()) is set only on success. Returns 0 or
 * hpvm_state_open()'s errors; -EBADMSG also for a record that parses as a
 * line but not as a VF record, e.g.
 *   /run/hpvm-hooks/vfs: line 3: VF 0000:05:10.1: state 'maybe' is not reserved or in-use: the state file is damaged; remove it: ...
 * The message of a damaged file names it and says how to repair it.
 */
int hpvm_vfledger_open(const HpvmConfig *c, HpvmVfLedger **ret, HpvmError *err);

/*
 * The same, but a damaged file (either kind of damage) opens empty; its
 * records go at the next commit. hpvm_vfledger_damage() says why.
 */
int hpvm_vfledger_open_reset(const HpvmConfig *c, HpvmVfLedger **ret, HpvmError *err);

/* Why hpvm_vfledger_open_reset() emptied the file (the message an open would have failed with), or NULL. */
const char *hpvm_vfledger_damage(const HpvmVfLedger *l);

/* Write the records if anything changed (durably). Returns 0 or hpvm_state_commit()'s errors. */
int hpvm_vfledger_commit(HpvmVfLedger *l, HpvmError *err);

void hpvm_vfledger_close(HpvmVfLedger *l);      /* unlocks; uncommitted changes are dropped; NULL is fine */
static inline void hpvm_vfledger_closep(HpvmVfLedger **l) { hpvm_vfledger_close(*l); }
#define _cleanup_vfledger_ __attribute__((cleanup(hpvm_vfledger_closep)))

const char *hpvm_vfledger_path(const HpvmVfLedger *l);

/* ---------------------------------------------------------------- lookups */

/* Records held (reservations, expired ones included, and VFs in use). */
size_t hpvm_vfledger_count(const HpvmVfLedger *l);

/*
 * The @i-th record (file order) into *ret (untouched on failure).
 * Returns 0, -ENOENT (past the end), -EBADMSG (the record does not parse;
 * cannot happen after a successful open, which checked them all).
 */
int hpvm_vfledger_at(const HpvmVfLedger *l, size_t i, HpvmVfEntry *ret, HpvmError *err);

/* The record of the VF at @addr. Returns 0, -ENOENT (no record: the ledger holds it free), -EBADMSG. */
int hpvm_vfledger_get(const HpvmVfLedger *l, const HpvmPciAddr *addr, HpvmVfEntry *ret, HpvmError *err);

/*
 * Walk the records of @vm (compared without regard to case): start with
 * *pos = 0; each call returns 1 with the next record in *ret and *pos moved
 * past it, or 0 when there are no more; -EBADMSG as hpvm_vfledger_at().
 */
int hpvm_vfledger_next(const HpvmVfLedger *l, const char *vm, size_t *pos, HpvmVfEntry *ret, HpvmError *err);

/*
 * The VF of @vm's NIC with MAC @mac (what libvirt's migrate-begin hook puts
 * into the incoming XML): its reservation, else its VF in use. Expired
 * reservations count: the caller compares ret->expires with the time.
 * Returns 0, -ENOENT (none), -EBADMSG.
 */
int hpvm_vfledger_find_nic(const HpvmVfLedger *l, const char *vm, const HpvmMac *mac, HpvmVfEntry *ret,
                           HpvmError *err);

/* ---------------------------------------------------------------- changes */

/*
 * Reserve one VF for each of the @n VF NICs of @vm about to migrate here,
 * all or nothing, at @now until @now + c->vf_reservation_timeout.
 *
 * A request may take a VF of a PF that serves its network: the PFs of
 * sriov_pfs.<network>; every SR-IOV PF when @c has no sriov_pfs key at all;
 * none when @c has keys for other networks only (a refusal naming the key to
 * add). Among those, a VF is busy when it has a record (a reservation not yet
 * expired, or in use), or when it is bound to vfio-pci or pci-stub without a
 * record, except in two cases: @vm's own reservation (a retried check) is
 * free to @vm, and so is the request's preferred VF when its only sign of use
 * is the vfio binding (vdsm binds the source's VF on the destination before
 * this check runs: see vfledger.c). VFs of the same call never go twice.
 * Each request takes, in this order: @vm's reservation for the same MAC;
 * its preferred VF; then what hpvm_vf_choose() picks (the preferred NUMA
 * node, else the first free VF), the requests with the fewest free VFs
 * choosing first (a greedy order, not a full matching).
 *
 * On success the records of @vm's reservations are exactly these (earlier
 * ones not reused are dropped; nothing is committed: the caller commits),
 * and ret_vf[k] is the index in inv->vfs of the VF of reqs[k].
 * Returns 0;
 *   -ENOSPC     a request has no free VF: nothing is changed and @err holds
 *               one line naming its network, hpvm_vf_choose()'s message, e.g.
 *               "no free VF for network 'sriov-a': PF ens1f0 has 8 VFs, all reserved or in use",
 *               or says that no PF serves the network (the config key to add)
 *   -EINVAL     @vm is not a token; a network name longer than
 *               HPVM_VFLEDGER_NETWORK_MAX; two requests with one MAC; a NULL argument
 *   -E2BIG      more than HPVM_VFLEDGER_REQUESTS_MAX requests
 *   -EBADMSG    a record does not parse (as hpvm_vfledger_at())
 *   -ENOMEM     (then part of the change may be made: close without committing)
 * ret_vf is untouched on failure.
 */
int hpvm_vfledger_reserve(HpvmVfLedger *l, const HpvmVfInventory *inv, const HpvmConfig *c, const char *vm,
                          const HpvmVfRequest *reqs, size_t n, time_t now, size_t *ret_vf, HpvmError *err);

/*
 * The migration of @vm arrived: each of its reservations (expired ones too:
 * nobody took the VF) becomes "in use" since @now. Returns the number of VFs
 * turned (0: none reserved), or -ENOMEM.
 */
int hpvm_vfledger_use(HpvmVfLedger *l, const char *vm, time_t now);

/*
 * Record that @vm holds the VF at @addr since @now (a VM started with a VF
 * NIC, a NIC plugged, the re-plug after a migration); @mac and @network (NULL
 * or "": not known) describe the NIC. A record of the VF is replaced: when it
 * was another VM's (in use, or a reservation not yet expired) a warning says
 * so, for the guest holding the VF is the truth.
 * Returns 0, 1 (another VM's record was replaced), -EINVAL (@vm not a token,
 * @network longer than HPVM_VFLEDGER_NETWORK_MAX, @addr NULL), -ENOMEM.
 */
int hpvm_vfledger_mark_in_use(HpvmVfLedger *l, const char *vm, const HpvmPciAddr *addr, const HpvmMac *mac,
                              const char *network, time_t now, HpvmWarnings *warn, HpvmError *err);

/* Drop every record of @vm (after_vm_destroy, after_vm_migrate_source). Returns the number dropped. */
int hpvm_vfledger_release_vm(HpvmVfLedger *l, const char *vm);

/* Drop @vm's reservations only (a migration that will not come). Returns the number dropped. */
int hpvm_vfledger_release_reservations(HpvmVfLedger *l, const char *vm);

/* Drop the record of the VF at @addr, whoever holds it (before_nic_hotunplug). Returns 0 or -ENOENT. */
int hpvm_vfledger_release_vf(HpvmVfLedger *l, const HpvmPciAddr *addr);

/*
 * Drop what holds nothing any more at @now: reservations past their expiry,
 * and VFs in use for longer than @grace seconds whose VM no QEMU process
 * under <@proc_root>/proc runs. Each drop is a warning:
 *   vfledger: freed VF 0000:05:10.1 of VM <vmId>: no QEMU process on this host runs it
 *   vfledger: freed VF 0000:05:10.1 of VM <vmId>: its reservation for an incoming migration expired
 * Returns the number dropped, or hpvm_vm_running_uuids()'s error when /proc
 * cannot be read (then nothing is dropped: a VM that may run keeps its VFs).
 */
int hpvm_vfledger_reclaim(HpvmVfLedger *l, time_t now, uint64_t grace, const char *proc_root, HpvmWarnings *warn,
                          HpvmError *err);
