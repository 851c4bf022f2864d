/* before_migration_destination: vdsm hook that checks an incoming pinned or NUMA-tuned VM fits this host and reserves its host CPUs. */
#include <stdio.h>
#include <time.h>

#include "hookmain.h"
#include "migrate.h"

int main(int argc, char **argv)
{
        static const HpvmHookInfo info = {
                .name = "before_migration_destination",
                .summary = "Check that this host can run an incoming pinned or NUMA-tuned VM (the source's domain\n"
                           "XML) and reserve the host CPUs, memory and huge pages it will take.",
                .props = hpvm_migrate_props,
                .input = HPVM_INPUT_DOMAIN,
        };
        _cleanup_free_ char *in = NULL;
        _cleanup_config_ HpvmConfig *cfg = NULL;
        HpvmMigrateCtx ctx = { .get = hpvm_hook_getenv };
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
        if ((r = hpvm_migrate_check(&ctx, in, inlen, &notes, &warn, &err)) < 0)
                goto fail;
        /*
         * ---- SR-IOV VFs (not built here): reserve the VFs of the incoming VM's VF NICs on this
         * host, all or nothing, with the VF ledger (lib/vfledger.h), HERE: after the CPU check
         * passed, before exit 0. On failure release the CPU reservation just made
         * (hpvm_migrate_release() with ctx) and exit HPVM_EXIT_ABORT with the VF message. ----
         */
        for (size_t i = 0; i < notes.n; i++)
                hpvm_hook_report(notes.msg[i]);
        hpvm_hook_warnings(&warn);
        return HPVM_EXIT_OK;
fail:
        hpvm_hook_report(err.msg);
        return HPVM_EXIT_ABORT;
}
