/* hookrelease.c: what the hooks that release a VM share (the CPUs and VFs it held on this host); not in hookmain.c, so that the other hooks do not carry the ledgers' code. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "domxml.h"
#include "hookmain.h"
#include "migrate.h"
#include "vfmigrate.h"

int hpvm_hook_release_vfs(const HpvmHookOpts *opts, const HpvmConfig *cfg, const char *in, size_t inlen,
                          HpvmError *err)
{
        HpvmVfMigCtx ctx = { .config = cfg, .sysfs_root = opts->host.sysfs_root, .vm_id = opts->vm_id };
        _cleanup_domain_ HpvmDomain *d = NULL;
        int r;

        if ((!opts->vm_id || !*opts->vm_id) && (r = hpvm_domain_parse(in ? in : "", inlen, &d, err)) < 0)
                return r;
        if ((r = hpvm_vfmig_release(&ctx, d, err)) > 0)
                fprintf(stderr, "hpvm: released %d VF%s of the VM in this host's VF ledger\n", r, r == 1 ? "" : "s");
        return r;
}

int hpvm_hook_release_main(const HpvmHookInfo *info, int argc, char **argv)
{
        _cleanup_free_ char *in = NULL;
        _cleanup_config_ HpvmConfig *cfg = NULL;
        HpvmMigrateCtx ctx = { 0 };
        HpvmWarnings notes = { 0 };
        HpvmError err = { 0 };
        HpvmHookOpts opts;
        size_t inlen = 0;
        int r, failed = 0;

        r = hpvm_hook_parse_args(info, argc, argv, &opts);
        if (r)
                return r & 255;
        /* vdsm gives $vmId; the file (if any) is read only when it does not. */
        if ((!opts.vm_id || !*opts.vm_id) && (r = hpvm_hook_read_input(info, &opts, &in, &inlen, &err)) < 0)
                goto fail;
        if ((r = hpvm_hook_load_config(&opts, &cfg, &err)) < 0)
                goto fail;
        ctx.config = cfg;
        ctx.host = opts.host;
        ctx.vm_id = opts.vm_id;
        ctx.now = time(NULL);
        /*
         * Its CPUs and its VFs: one ledger's failure does not keep the other from releasing. A VM
         * this input cannot name (-EINVAL: no id, a bad XML) is said once.
         */
        if ((r = hpvm_migrate_release(&ctx, in, inlen, &notes, &err)) < 0) {
                hpvm_hook_report(err.msg);
                failed = 1;
        }
        for (size_t i = 0; i < notes.n; i++)
                hpvm_hook_report(notes.msg[i]);
        if (r != -EINVAL && (r = hpvm_hook_release_vfs(&opts, cfg, in, inlen, &err)) < 0) {
                hpvm_hook_report(err.msg);
                failed = 1;
        }
        return failed ? HPVM_EXIT_FAIL : HPVM_EXIT_OK;
fail:
        hpvm_hook_report(err.msg);
        return HPVM_EXIT_FAIL;
}
