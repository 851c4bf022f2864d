/* ledger.h: HpvmLedger, the host-wide record of which VM holds which host CPUs (running, or reserved for an incoming migration). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "cpuset.h"
#include "state.h"
#include "topology.h"
#include "util.h"

/*
 * One state file, "<state_dir>/cpus", one record per VM (type "vm", id its
 * vmId, which oVirt makes the domain's uuid):
 *
 *   vm <uuid> name=<domain name> state=running|reserved since=<time> cpus=<cpuset>
 *      [expires=<time>] [vcpus=<pCPU of vCPU 0>,<of vCPU 1>,...] [emulator=<cpuset>]
 *      [iothreads=<cpuset>] [cells=<host node of cell 0>,...] [pagesize=<KiB>]
 *      [pages=<node>:<count>,...] [mem=<node>:<KiB>,...]
 *
 * A running VM holds its CPUs until vdsm's after_vm_destroy releases them,
 * or until the entry is stale: older than the grace period while no QEMU
 * process on this host runs the VM (-uuid <vmId> on its command line, read
 * from /proc: hooks must not call libvirt, and libvirt's hook cannot). A
 * reservation (a migration coming in) holds CPUs, and the huge pages and
 * memory it will take, until it expires; it carries the whole placement so
 * that libvirt's migrate-begin hook applies exactly what was checked.
 */

#define HPVM_LEDGER_FILE "cpus"

typedef struct HpvmLedger HpvmLedger;

typedef struct HpvmLedgerEntry {
        char vm[HPVM_STATE_TOKEN_MAX + 1];      /* vmId */
        char name[256];                         /* domain name, for people reading the file */
        bool reserved;                          /* an incoming migration, not yet running here */
        time_t since;
        time_t expires;                         /* reservations only */
        HpvmCpuSet cpus;                        /* every host CPU held */
        /* The placement a reservation carries (nvcpus 0: none). */
        unsigned nvcpus;
        unsigned *vcpu_cpu;                     /* host CPU of each vCPU */
        bool has_emulator, has_iothreads;
        HpvmCpuSet emulator, iothreads;
        size_t ncells;
        unsigned *cell_node;                    /* host node of each guest cell */
        /* What a reservation takes of the nodes' free huge pages and memory. */
        uint64_t page_kib;
        size_t nnode_use;
        struct { unsigned node; uint64_t pages, mem_kib; } *node_use;
} HpvmLedgerEntry;

void hpvm_ledger_entry_clear(HpvmLedgerEntry *e);
#define _cleanup_ledger_entry_ __attribute__((cleanup(hpvm_ledger_entry_clear)))

/*
 * Open and lock the ledger in @c's state_dir (created 0755 and given to
 * state_owner when root creates it). Returns 0 or hpvm_state_open()'s
 * errors; a damaged file's message says how to rebuild it.
 */
int hpvm_ledger_open(const HpvmConfig *c, HpvmLedger **ret, HpvmError *err);
/* The same, opening a damaged file empty (hpvm-fit --repair-ledger). */
int hpvm_ledger_open_reset(const HpvmConfig *c, HpvmLedger **ret, HpvmError *err);
int hpvm_ledger_commit(HpvmLedger *l, HpvmError *err);
void hpvm_ledger_close(HpvmLedger *l);           /* unlocks; uncommitted changes are dropped; NULL fine */
static inline void hpvm_ledger_closep(HpvmLedger **l) { hpvm_ledger_close(*l); }
#define _cleanup_ledger_ __attribute__((cleanup(hpvm_ledger_closep)))

const char *hpvm_ledger_path(const HpvmLedger *l);
size_t hpvm_ledger_count(const HpvmLedger *l);
const char *hpvm_ledger_vm_at(const HpvmLedger *l, size_t i);   /* vmId of the i-th entry, or NULL */

/*
 * The entry of @vm into *ret (caller clears it with hpvm_ledger_entry_clear).
 * Returns 0, -ENOENT (no entry), -EBADMSG (a field that does not parse: the
 * message names the file, the VM and the field), -ENOMEM.
 */
int hpvm_ledger_get(const HpvmLedger *l, const char *vm, HpvmLedgerEntry *ret, HpvmError *err);

/* Record (or replace) @e. Returns 0, -EINVAL (vm not a token), -E2BIG, -ENOMEM. */
int hpvm_ledger_put(HpvmLedger *l, const HpvmLedgerEntry *e, HpvmError *err);

/* Drop @vm's entry. Returns 0 or -ENOENT. */
int hpvm_ledger_release(HpvmLedger *l, const char *vm);

/*
 * Drop what no longer holds anything at @now: reservations past their
 * expiry, and running entries older than @grace seconds whose VM no QEMU
 * process under <@proc_root>/proc runs. Each drop is a warning (the VM and
 * why). Returns the number dropped, or a negative errno when /proc cannot
 * be read (then nothing is dropped: a VM that may run keeps its CPUs).
 */
int hpvm_ledger_reclaim(HpvmLedger *l, time_t now, uint64_t grace, const char *proc_root, HpvmWarnings *warn,
                        HpvmError *err);

/*
 * What every OTHER entry (not @except_vm; NULL: none excepted) holds, added
 * to @u: their CPUs to u->taken, and what reservations will take of free
 * huge pages and memory subtracted from the nodes'. Returns 0 or the error
 * of an entry that does not parse.
 */
int hpvm_ledger_apply(const HpvmLedger *l, const HpvmHost *h, HpvmUsage *u, const char *except_vm,
                      HpvmError *err);
