/* after_migration_destination: vdsm hook that records an arrived pinned VM as running on this host in the CPU ledger. */
#include <time.h>

#include "hookmain.h"
#include "migrate.h"

int main(int argc, char **argv)
{
        static const HpvmHookInfo info = {
                .name = "after_migration_destination",
                .summary = "Record a VM that migrated here (its live domain XML) as running in the CPU ledger:\n"
                           "its reservation becomes the CPUs its pins hold.",
                .input = HPVM_INPUT_DOMAIN,
        };
        _cleanup_free_ char *in = NULL;
        _cleanup_config_ HpvmConfig *cfg = NULL;
        HpvmMigrateCtx ctx = { 0 };
        HpvmWarnings notes = { 0 }, warn = { 0 };
        HpvmError err = { 0 };
        HpvmHookOpts opts;
        size_t inlen;
        int r;

        r = hpvm_hook_parse_args(&info, argc, argv, &opts);
        if (r)
                return r & 255;
        if ((r = hpvm_hook_read_input(&info, &opts, &in, &inlen, &err)) < 0 ||
            (r = hpvm_hook_load_config(&opts, &cfg, &err)) < 0)
                goto fail;
        ctx.config = cfg;
        ctx.host = opts.host;
        ctx.vm_id = opts.vm_id;
        ctx.now = time(NULL);
        if ((r = hpvm_migrate_arrived(&ctx, in, inlen, &notes, &warn, &err)) < 0)
                goto fail;
        /*
         * ---- SR-IOV VFs (not built here): mark the VFs reserved for this VM in use
         * (VF ledger) and re-plug its VF NICs HERE. ----
         */
        for (size_t i = 0; i < notes.n; i++)
                hpvm_hook_report(notes.msg[i]);
        hpvm_hook_warnings(&warn);
        return HPVM_EXIT_OK;
fail:
        hpvm_hook_warnings(&warn);
        hpvm_hook_report(err.msg);
        /* vdsm only logs a failure here: 1, and later hooks still run. */
        return HPVM_EXIT_FAIL;
}
