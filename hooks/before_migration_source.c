/* before_migration_source: vdsm hook (before_vm_migrate_source) that refuses to move a VM whose VF NICs may not migrate, and unplugs and records the others before the VM leaves. */
#include <errno.h>
#include <stdlib.h>

#include "hookmain.h"
#include "vfmigrate.h"

#ifndef HPVM_WATCH_PATH
#define HPVM_WATCH_PATH "/usr/libexec/hpvm-hooks/hpvm-watch"
#endif

int main(int argc, char **argv)
{
        static const char *const props[] = { "sriov_migratable", NULL };
        static const HpvmHookInfo info = {
                .name = "before_migration_source",
                .summary = "Refuse to migrate a VM whose SR-IOV VF NICs may not move; unplug and record the others.",
                .props = props,
                .input = HPVM_INPUT_DOMAIN,
                .rewrites = false,
        };
        _cleanup_free_ char *in = NULL;
        _cleanup_config_ HpvmConfig *cfg = NULL;
        _cleanup_domain_ HpvmDomain *d = NULL;
        HpvmVfMigPlan plan = { .nics = NULL };
        HpvmVfMigCtx ctx = { .config = NULL };
        HpvmError err = { 0 };
        HpvmHookOpts opts;
        const char *watcher;
        size_t inlen;
        int r;

        r = hpvm_hook_parse_args(&info, argc, argv, &opts);
        if (r)
                return r & 255;
        if ((r = hpvm_hook_read_input(&info, &opts, &in, &inlen, &err)) < 0 ||
            (r = hpvm_hook_load_config(&opts, &cfg, &err)) < 0 ||
            (r = hpvm_domain_parse(in, inlen, &d, &err)) < 0)
                goto fail;
        ctx.config = cfg;
        ctx.sysfs_root = opts.host.sysfs_root;
        ctx.vm_id = opts.vm_id;
        /* vdsm passes the VM's custom properties as environment variables. */
        if ((r = hpvm_vfmig_source_plan(&ctx, d, getenv("sriov_migratable"), &plan, &err)) < 0)
                goto fail;
        /* Tests start the watcher from the build tree; vdsm never sets this. */
        watcher = getenv("HPVM_WATCH_PROGRAM");
        if (!watcher || !*watcher)
                watcher = HPVM_WATCH_PATH;
        r = hpvm_vfmig_before_source(&ctx, d, &plan, watcher, opts.config_explicit ? opts.config : NULL, NULL, &err);
        hpvm_vfmig_plan_clear(&plan);
        if (r < 0)
                goto fail;
        return HPVM_EXIT_OK;
fail:
        hpvm_vfmig_plan_clear(&plan);
        hpvm_hook_report(err.msg);
        return HPVM_EXIT_ABORT;
}
