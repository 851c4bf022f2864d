/* after_migration_destination: vdsm hook that records an arrived pinned VM as running on this host in the CPU ledger. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "hookmain.h"
#include "domxml.h"
#include "migrate.h"
#include "vfmigrate.h"

int main(int argc, char **argv)
{
        static const HpvmHookInfo info = {
                .name = "after_migration_destination",
                .summary = "Record a VM that migrated here (its live domain XML) as running in the CPU ledger:\n"
                           "its reservation becomes the CPUs its pins hold; its reserved VFs become in use, and\n"
                           "the VF NICs the source unplugged are plugged back here with their MAC and VLAN.",
                .input = HPVM_INPUT_DOMAIN,
        };
        _cleanup_free_ char *in = NULL;
        _cleanup_config_ HpvmConfig *cfg = NULL;
        HpvmMigrateCtx ctx = { 0 };
        HpvmWarnings notes = { 0 }, warn = { 0 };
        HpvmError err = { 0 };
        HpvmHookOpts opts;
        _cleanup_domain_ HpvmDomain *d = NULL;
        size_t inlen;
        int r, failed = 0;

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
        /* The CPUs and the VFs are independent: a failure of one does not keep the other from its ledger. */
        if ((r = hpvm_migrate_arrived(&ctx, in, inlen, &notes, &warn, &err)) < 0) {
                hpvm_hook_report(err.msg);
                failed = 1;
        }
        for (size_t i = 0; i < notes.n; i++)
                hpvm_hook_report(notes.msg[i]);
        /* The input itself is bad (-EINVAL, said once): nothing to do for the VFs either. */
        if (r != -EINVAL) {
                /* Before returning: vdsm refreshes its view of the VM's devices right after this hook. */
                HpvmVfMigCtx vctx = { .config = cfg, .sysfs_root = opts.host.sysfs_root, .vm_id = opts.vm_id,
                                      .now = ctx.now };

                if ((r = hpvm_domain_parse(in, inlen, &d, &err)) < 0 ||
                    (r = hpvm_vfmig_after_destination(&vctx, d, &warn, &err)) < 0) {
                        hpvm_hook_report(err.msg);
                        failed = 1;
                } else if (r > 0) {
                        fprintf(stderr, "hpvm: plugged %d VF NIC%s back into the VM on this host\n", r,
                                r == 1 ? "" : "s");
                }
        }
        hpvm_hook_warnings(&warn);
        return failed ? HPVM_EXIT_FAIL : HPVM_EXIT_OK;
fail:
        hpvm_hook_warnings(&warn);
        hpvm_hook_report(err.msg);
        /* vdsm only logs a failure here: 1, and later hooks still run. */
        return HPVM_EXIT_FAIL;
}
