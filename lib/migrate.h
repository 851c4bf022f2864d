/* migrate.h: live migration of pinned and NUMA-tuned VMs: the destination check, the re-fit of the incoming domain XML, and the CPU ledger on both sides. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "util.h"
#include "vmstart.h"

/*
 * The flow (vdsm hook points and libvirt's own hook, see hook-contract.md)
 * ------------------------------------------------------------------------
 * destination  before_vm_migrate_destination  hpvm_migrate_check(): the
 *                                             SOURCE's XML; fits or not;
 *                                             reserves the placement
 *              libvirt `migrate begin`        hpvm_migrate_refit(): the
 *              (and `restore begin`)          incoming XML rewritten from
 *                                             the reservation (or placed
 *                                             afresh and reserved)
 *              libvirt `started begin`        hpvm_migrate_started(): the
 *                                             reservation becomes the VM's
 *                                             running entry
 *              after_vm_migrate_destination   hpvm_migrate_arrived(): the
 *                                             same from the live XML when
 *                                             libvirt's hook did not
 *              libvirt `release end`          hpvm_migrate_release(): a
 *                                             VM whose QEMU ended here
 *                                             holds nothing here
 * source       after_vm_migrate_source        hpvm_migrate_release()
 * any host     after_vm_destroy               hpvm_migrate_release()
 *
 * Which VMs: a VM is PINNED when its XML has a <cputune><vcpupin>; NUMA-TUNED
 * when it has no vcpupin but a <numatune><memory nodeset>, a
 * <numatune><memnode>, an <emulatorpin> or an <iothreadpin>. Any other VM is
 * left alone: no check, no reservation, no rewrite (the engine's scheduler
 * already chose the host, and nothing in its XML names this host's CPUs or
 * nodes).
 *
 * The placement: the engine (placement.h) places the VM with its own guest
 * cells (kept as they are), threads per core, memory, huge page size, the
 * cpupolicy property (else oVirt's <ovirt-vm:cpuPolicy>: isolate-threads ->
 * isolate, siblings -> siblings, anything else -> dedicated), an emulator
 * CPU when the XML pins the emulator and IO-thread CPUs when it pins IO
 * threads, and the source's single-CPU vCPU pins kept where they are valid
 * and free here. A VM without vCPU pins whose memory the source binds to one
 * node per cell (a <memnode>, else <numatune><memory>) is first placed on
 * those same node numbers, when they exist here and have room, so that
 * between identical hosts its XML goes through unchanged. A pinned VM takes
 * free CPUs: online, not kept for the host (reserved_cpus, else the first
 * core of each node), not held by another VM in the ledger. A NUMA-tuned
 * VM holds no CPU: its nodes are chosen with
 * every online CPU counted free (a guest cell still needs a node with as
 * many CPUs), for memory and huge pages. The emulator and IO-thread pins of
 * a pinned VM are kept when every vCPU pin was kept and they are free and
 * apart from the vCPUs; those of a NUMA-tuned VM are kept when their CPUs
 * are online here, else they float over the CPUs of the VM's nodes.
 *
 * The rewrite touches only what the XML has: each <vcpupin> (vCPUs that
 * shared one cpuset on the source share the set of their new CPUs: a VM
 * pinned 1:1 stays 1:1, vdsm's whole-node pins become the node's CPUs the
 * VM got), <emulatorpin>, each <iothreadpin>, the nodeset of <numatune>
 * <memory> (the nodes the VM's cells use) and of each <memnode> (its cell's
 * node). Modes, guest cells, topology, memory backing and everything else
 * stay byte for byte; a document that needs no change is not printed.
 *
 * migration_refit=false (a VM property): the source's pins and node sets are
 * kept exactly; a host where they are not all valid (online, existing
 * nodes with the memory and pages) and free is refused. A VM whose shape the
 * engine does not model (a vCPU in no guest cell, a cell without vCPUs) is
 * treated the same way, with a warning saying so.
 *
 * Reservations carry the placement (ledger.h) and expire after
 * migration_reservation_timeout seconds: two VMs migrating in at once never
 * get the same CPUs, and a VM that never arrives frees them. Every call
 * holds the ledger's lock from before it reads the host until it has
 * recorded what it decided. Nothing here calls libvirt (libvirtd waits for
 * its hook).
 *
 * Messages: a refusal is one line, "this host cannot run VM <name>: <what is
 * short>"; notes (@notes) say what was decided ("re-fitted vCPU pins to this
 * host: 0-7 -> 16-23 (node 1)"), warnings (@warn) what an administrator
 * should look at (hand pins that could not be kept). Both may be NULL.
 */

typedef struct HpvmMigrateCtx {
        const HpvmConfig *config;       /* required: state_dir, sysfs_root, reserved_cpus, timeouts */
        HpvmHostSource host;            /* NULL members: the config's sysfs_root (its proc/ is scanned for QEMU) */
        HpvmPropGetter get;             /* custom properties (cpupolicy, migration_refit); NULL, or a NULL
                                         * value: the domain's <metadata><ovirt-vm:vm><ovirt-vm:custom> */
        void *opaque;
        const char *vm_id;              /* vdsm's vmId (the ledger key); NULL or "": the domain's <uuid> */
        time_t now;
        int *node;                      /* hpvm_migrate_check(), when set: the host node where the reservation
                                         * puts guest cell 0 (else the first vCPU), -1 when it reserved nothing;
                                         * the destination's VFs are preferred there */
} HpvmMigrateCtx;

/* The custom properties the migration hooks read, NULL-terminated. */
extern const char *const hpvm_migrate_props[];

/*
 * The destination check (vdsm before_vm_migrate_destination): can this host
 * run the VM whose SOURCE domain XML is @xml (@len bytes)? Checks, in order:
 * the property values; a required invtsc (and the TSC frequency the VM
 * names: the same here, or a CPU that scales TSC); huge pages of the VM's
 * size; then places the VM (free CPUs for vCPUs, threads per core, a node
 * per guest cell with its memory or free huge pages) or, with
 * migration_refit=false, checks the source's pins and nodes as they are.
 * On success reserves the result in the ledger (state reserved, expiring
 * now + migration_reservation_timeout) and returns 0; a VM neither pinned
 * nor NUMA-tuned returns 0 having read nothing but its XML.
 * Returns -ENOSPC when the VM does not fit ("this host cannot run VM
 * <name>: ..."); -EINVAL (not a domain XML, a bad property value, no id to
 * reserve under: message says which); the host loader's and the ledger's
 * errors (a damaged ledger: -EBADMSG naming the file); -ENOMEM.
 */
int hpvm_migrate_check(const HpvmMigrateCtx *ctx, const char *xml, size_t len, HpvmWarnings *notes,
                       HpvmWarnings *warn, HpvmError *err);

/*
 * The re-fit (libvirt `migrate begin` and `restore begin`): the incoming
 * domain XML rewritten for this host. Applies the VM's reservation (by the
 * domain's uuid, or ctx->vm_id) when it matches the VM's shape, else places
 * the VM afresh (as hpvm_migrate_check) and reserves that; renews the
 * reservation's expiry either way. *ret_out is the new document (caller
 * frees) or NULL when nothing changes (print nothing). Returns 0 or
 * hpvm_migrate_check()'s errors (then the operation must be refused);
 * *ret_out is untouched on failure.
 */
int hpvm_migrate_refit(const HpvmMigrateCtx *ctx, const char *xml, size_t len, char **ret_out, size_t *ret_len,
                       HpvmWarnings *notes, HpvmWarnings *warn, HpvmError *err);

/*
 * libvirt `started begin` (@xml: the live XML): a reservation of this VM
 * becomes its running entry: the CPUs of its pins, with the idle siblings
 * the reservation holds (cpupolicy=isolate) when the pins are the reserved
 * ones. A VM whose reservation holds no CPU (NUMA-tuned) is dropped from
 * the ledger (memory in use is in the kernel's own counts). Anything else
 * (no entry, a running one) changes nothing. Returns 0, -EINVAL (not a
 * domain XML or no id), the ledger's errors, -ENOMEM.
 */
int hpvm_migrate_started(const HpvmMigrateCtx *ctx, const char *xml, size_t len, HpvmWarnings *notes,
                         HpvmWarnings *warn, HpvmError *err);

/*
 * vdsm after_vm_migrate_destination (@xml: the live XML): as
 * hpvm_migrate_started() for a reservation still there (libvirt's hook did
 * not run: a warning says to install it and restart libvirtd); a running
 * entry stays as it is; a pinned VM with no entry at all is recorded with
 * the pins it runs with (not when oVirt's cpuPolicy is "none": vdsm's
 * shared-pool pins hold nothing). Returns as hpvm_migrate_started().
 */
int hpvm_migrate_arrived(const HpvmMigrateCtx *ctx, const char *xml, size_t len, HpvmWarnings *notes,
                         HpvmWarnings *warn, HpvmError *err);

/*
 * Release the VM's CPUs here (vdsm after_vm_migrate_source and
 * after_vm_destroy, libvirt `release end`): drop its ledger entry, running
 * or reserved. The VM is ctx->vm_id, else the <uuid> of @xml (@xml may be
 * NULL when ctx->vm_id is set). Returns 1 (dropped), 0 (it had no entry),
 * -EINVAL (no usable id, or @xml is not a domain XML), the ledger's errors.
 */
int hpvm_migrate_release(const HpvmMigrateCtx *ctx, const char *xml, size_t len, HpvmWarnings *notes,
                         HpvmError *err);
