/* hookmain.h: what every hook binary shares: options, its input (a file vdsm names, or stdin), reporting once, the exit codes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "util.h"
#include "vmstart.h"

/* vdsm's exit codes: 0 success; 1 failure, later hooks still run; 2 failure, later hooks skipped. */
enum {
        HPVM_EXIT_OK = 0,
        HPVM_EXIT_FAIL = 1,
        HPVM_EXIT_ABORT = 2,
};

/* What a hook point hands its scripts. */
typedef enum HpvmHookInput {
        HPVM_INPUT_DOMAIN,      /* vdsm: a domain XML in the file $_hook_domxml names */
        HPVM_INPUT_INTERFACE,   /* vdsm device hooks (before_nic_hotunplug): one <interface> element in that file */
        HPVM_INPUT_NONE,        /* vdsm after_vm_destroy: an empty file; vmId in the environment */
        HPVM_INPUT_LIBVIRT,     /* libvirt's own hook: <domain> <operation> <sub-operation> <extra> arguments, XML on stdin */
} HpvmHookInput;

typedef struct HpvmHookInfo {
        const char *name;        /* "before_vm_start" */
        const char *summary;     /* one line for --help */
        const char *const *props;/* properties read, for --help; NULL for none */
        HpvmHookInput input;
        bool rewrites;           /* its output counts (before_vm_start's file, libvirt's stdout): --dry-run exists */
} HpvmHookInfo;

typedef struct HpvmHookOpts {
        const char *domxml;      /* --domxml, else $_hook_domxml (vdsm inputs) */
        const char *config;      /* --config, else $HPVM_CONFIG, else the default file */
        bool config_explicit;    /* named by --config or $HPVM_CONFIG: it must exist */
        const char *vm_id;       /* --vm-id, else $vmId (vdsm inputs) */
        bool dry_run;
        HpvmHostSource host;     /* --host-caps / --sysfs-root (the config's sysfs_root is the fallback) */
        const char *lv_domain;   /* libvirt input: the four arguments */
        const char *lv_op;
        const char *lv_subop;
        const char *lv_extra;
} HpvmHookOpts;

/*
 * Parse argv. Returns 0 to go on, or an exit code (--help/--version print
 * and return HPVM_EXIT_OK + 256; a bad option prints one line and returns
 * HPVM_EXIT_ABORT + 256): callers exit with (r & 255) when r >= 256.
 */
int hpvm_hook_parse_args(const HpvmHookInfo *info, int argc, char **argv, HpvmHookOpts *opts);

/*
 * The hook's input as its hook point gives it: the whole file (domain XML,
 * one <interface>, or nothing at all), or stdin for libvirt's hook, at most
 * HPVM_XML_MAX bytes. *ret_buf is NUL-terminated and the caller's.
 * Returns 0 or a negative errno with the message in @err.
 */
int hpvm_hook_read_input(const HpvmHookInfo *info, const HpvmHookOpts *opts, char **ret_buf, size_t *ret_len,
                         HpvmError *err);

/*
 * The configuration the options name (--config, $HPVM_CONFIG, or the default
 * file, which may be missing: defaults then). *ret is the caller's.
 * Returns 0 or hpvm_config_load()'s errors with the message in @err.
 */
int hpvm_hook_load_config(const HpvmHookOpts *opts, HpvmConfig **ret, HpvmError *err);

/* Print "hpvm: <msg>" on stderr, one line. */
void hpvm_hook_report(const char *msg);

/* Print each warning as "hpvm: warning: <msg>". */
void hpvm_hook_warnings(const HpvmWarnings *w);

/* Property getter reading the environment (vdsm passes custom properties as variables). */
const char *hpvm_hook_getenv(const char *name, void *opaque);

/* ---- hooks/hookrelease.c (linked only into the hooks that release a VM) ---- */

/*
 * Release every VF the VM holds in this host's VF ledger (vfmigrate.h), the
 * VM named by --vm-id/$vmId, else by the <uuid> of the domain XML @in
 * (@inlen bytes). Prints a note when any went. Returns how many, or the
 * ledger's errors (one line in @err).
 */
int hpvm_hook_release_vfs(const HpvmHookOpts *opts, const HpvmConfig *cfg, const char *in, size_t inlen,
                          HpvmError *err);

/*
 * The whole main() of the hooks that release a VM that left this host
 * (after_vm_migrate_source, after_vm_destroy): its CPUs (migrate.h) and its
 * VFs, by --vm-id/$vmId, else by the <uuid> of the domain XML. A problem is
 * one line per ledger, exit 1 (vdsm logs it).
 */
int hpvm_hook_release_main(const HpvmHookInfo *info, int argc, char **argv);
