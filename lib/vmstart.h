/* vmstart.h: the before_vm_start rewrite as one library call: properties + domain XML + host in, new domain XML out. */
#pragma once

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "util.h"

/* Where the host facts come from; both NULL: the live host (sysfs and procfs under /). */
typedef struct HpvmHostSource {
        const char *caps_path;   /* a `virsh capabilities` XML file */
        const char *sysfs_root;  /* a folder holding sys/ and proc/ */
} HpvmHostSource;

/* Returns the value of custom property @name, or NULL if it is not set. */
typedef const char *(*HpvmPropGetter)(const char *name, void *opaque);

/* The property names this hook reads, NULL-terminated (for --help and tests). */
extern const char *const hpvm_vmstart_props[];

/*
 * Apply the custom properties to the domain XML in @in (@len bytes).
 * Every property is parsed and checked, against the VM and the host, before
 * anything is changed. Empty values count as not set.
 * On success returns 0 and sets *ret_out to the new document (caller frees)
 * or to NULL when no property of this hook is set or the properties change
 * nothing in it (leave the file alone).
 * Non-fatal findings go to @warn. On failure returns a negative errno, *ret_out
 * is untouched and @err holds the one line to show the administrator.
 */
int hpvm_vmstart_rewrite(const char *in, size_t len, HpvmPropGetter get, void *opaque,
                         const HpvmHostSource *src, char **ret_out, size_t *ret_len,
                         HpvmWarnings *warn, HpvmError *err);

/* Everything the hook knows besides the document. */
typedef struct HpvmVmStartCtx {
        HpvmPropGetter get;
        void *opaque;
        HpvmHostSource host;            /* NULL members: the config's sysfs_root, else the live host */
        const HpvmConfig *config;       /* NULL: no ledger; the default CPUs are reserved for the host */
        const char *vm_id;              /* vdsm's vmId; NULL: the domain's <uuid> */
        time_t now;                     /* for the ledger's timestamps */
        bool dry_run;                   /* read the ledger, record nothing */
} HpvmVmStartCtx;

/*
 * hpvm_vmstart_rewrite() with a configuration: `auto` values (cputune,
 * numatune, guestnuma) are placed by the placement engine around the CPUs
 * the host keeps (reserved_cpus) and those other VMs hold in the ledger
 * (state_dir), and every VM this call pins is recorded there before it
 * returns, all under the ledger's lock: two VMs started at once never get
 * the same CPU. A second run on the same VM keeps its own pins.
 * Returns as hpvm_vmstart_rewrite(); a ledger that cannot be opened or is
 * damaged refuses with one line naming the file.
 */
int hpvm_vmstart_rewrite_ctx(const HpvmVmStartCtx *ctx, const char *in, size_t len, char **ret_out,
                             size_t *ret_len, HpvmWarnings *warn, HpvmError *err);
