/* hookmain.h: what every hook binary shares: options, the domain XML file, reporting once, the exit codes of the contract. */
#pragma once

#include <stdbool.h>

#include "util.h"
#include "vmstart.h"

/* vdsm's exit codes: 0 success; 1 failure, later hooks still run; 2 failure, later hooks skipped. */
enum {
        HPVM_EXIT_OK = 0,
        HPVM_EXIT_FAIL = 1,
        HPVM_EXIT_ABORT = 2,
};

typedef struct HpvmHookOpts {
        const char *domxml;      /* --domxml, else $_hook_domxml */
        bool dry_run;
        HpvmHostSource host;
} HpvmHookOpts;

typedef struct HpvmHookInfo {
        const char *name;        /* "before_vm_start" */
        const char *summary;     /* one line for --help */
        const char *const *props;/* properties read, for --help */
} HpvmHookInfo;

/*
 * Parse argv. Returns 0 to go on, or an exit code (--help/--version print
 * and return HPVM_EXIT_OK + 256; a bad option prints one line and returns
 * HPVM_EXIT_ABORT + 256): callers exit with (r & 255) when r >= 256.
 */
int hpvm_hook_parse_args(const HpvmHookInfo *info, int argc, char **argv, HpvmHookOpts *opts);

/* Print "hpvm: <msg>" on stderr, one line. */
void hpvm_hook_report(const char *msg);

/* Print each warning as "hpvm: warning: <msg>". */
void hpvm_hook_warnings(const HpvmWarnings *w);

/* Property getter reading the environment (vdsm passes custom properties as variables). */
const char *hpvm_hook_getenv(const char *name, void *opaque);
