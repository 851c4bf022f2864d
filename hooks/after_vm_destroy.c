/* after_vm_destroy: vdsm hook that releases the host CPUs of a VM that stopped on this host. */
#include <errno.h>
#include <time.h>

#include "hookmain.h"
#include "migrate.h"

int main(int argc, char **argv)
{
        static const HpvmHookInfo info = {
                .name = "after_vm_destroy",
                .summary = "Release the host CPUs and VFs (and reservations) a VM held in the CPU and VF\n"
                           "ledgers once it is gone from this host.",
                .input = HPVM_INPUT_NONE,
        };
        _cleanup_free_ char *in = NULL;
        _cleanup_config_ HpvmConfig *cfg = NULL;
        HpvmMigrateCtx ctx = { 0 };
        HpvmWarnings notes = { 0 };
        HpvmError err = { 0 };
        HpvmHookOpts opts;
        size_t inlen = 0;
        int r, failed = 0;

        r = hpvm_hook_parse_args(&info, argc, argv, &opts);
        if (r)
                return r & 255;
        /* vdsm gives $vmId; the file (if any) is read only when it does not. */
        if ((!opts.vm_id || !*opts.vm_id) && (r = hpvm_hook_read_input(&info, &opts, &in, &inlen, &err)) < 0)
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
