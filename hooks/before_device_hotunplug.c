/* before_device_hotunplug: vdsm hook (before_nic_hotunplug) that releases the VF of a VF NIC being unplugged in this host's VF ledger; it never refuses an unplug for its bookkeeping. */
#include <errno.h>

#include "hookmain.h"
#include "vfmigrate.h"

int main(int argc, char **argv)
{
        static const HpvmHookInfo info = {
                .name = "before_device_hotunplug",
                .summary = "Release the VF of an SR-IOV VF NIC being hot-unplugged in this host's VF ledger.",
                .props = NULL,
                .input = HPVM_INPUT_INTERFACE,
                .rewrites = false,
        };
        _cleanup_free_ char *in = NULL;
        _cleanup_config_ HpvmConfig *cfg = NULL;
        HpvmVfMigCtx ctx = { .config = NULL };
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };
        HpvmHookOpts opts;
        HpvmVfNic nic;
        size_t inlen;
        int r;

        r = hpvm_hook_parse_args(&info, argc, argv, &opts);
        if (r)
                return r & 255;
        /* Only broken input refuses the unplug: vdsm's own <interface> cannot be read. */
        if ((r = hpvm_hook_read_input(&info, &opts, &in, &inlen, &err)) < 0 ||
            (r = hpvm_vfmig_unplug_parse(in, inlen, &nic, &err)) < 0) {
                hpvm_hook_report(err.msg);
                return HPVM_EXIT_ABORT;
        }
        if (r == 0)
                return HPVM_EXIT_OK;    /* not a VF NIC: nothing of ours */
        /* From here on, bookkeeping: a failure is a warning and the unplug goes on. */
        r = hpvm_hook_load_config(&opts, &cfg, &err);
        if (r == 0) {
                ctx.config = cfg;
                ctx.vm_id = opts.vm_id;
                r = hpvm_vfmig_release_nic(&ctx, &nic, &warn, &err);
        }
        hpvm_vfnic_clear(&nic);
        if (r < 0)
                hpvm_warn(&warn, "the VF of the unplugged NIC stays recorded in the VF ledger: %s", err.msg);
        hpvm_hook_warnings(&warn);
        return HPVM_EXIT_OK;
}
