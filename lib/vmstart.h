/* vmstart.h: the before_vm_start rewrite as one library call: properties + domain XML + host in, new domain XML out. */
#pragma once

#include <stddef.h>

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
 * or to NULL when no property of this hook is set (leave the file alone).
 * Non-fatal findings go to @warn. On failure returns a negative errno, *ret_out
 * is untouched and @err holds the one line to show the administrator.
 */
int hpvm_vmstart_rewrite(const char *in, size_t len, HpvmPropGetter get, void *opaque,
                         const HpvmHostSource *src, char **ret_out, size_t *ret_len,
                         HpvmWarnings *warn, HpvmError *err);
