/* before_migration_destination: vdsm hook that checks an incoming pinned or NUMA-tuned VM fits this host and reserves its host CPUs. */
#include <stdio.h>
#include <time.h>

#include "hookmain.h"
#include "migrate.h"
#include "vfmigrate.h"

int main(int argc, char **argv)
{
        static const HpvmHookInfo info = {
                .name = "before_migration_destination",
                .summary = "Check that this host can run an incoming pinned or NUMA-tuned VM (the source's domain\n"
                           "XML) and reserve the host CPUs, memory and huge pages it will take, and a free VF\n"
                           "for each of its SR-IOV VF NICs.",
                .props = hpvm_migrate_props,
                .input = HPVM_INPUT_DOMAIN,
        };
        _cleanup_free_ char *in = NULL;
        _cleanup_config_ HpvmConfig *cfg = NULL;
        HpvmMigrateCtx ctx = { .get = hpvm_hook_getenv };
        HpvmWarnings notes = { 0 }, warn = { 0 };
        HpvmError err = { 0 }, err2 = { 0 };
        HpvmHookOpts opts;
        size_t inlen;
        int node = -1, r;

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
        ctx.node = &node;
        if ((r = hpvm_migrate_check(&ctx, in, inlen, &notes, &warn, &err)) < 0)
                goto fail;
        /*
         * The VFs after the CPUs: one free VF per VF NIC, all or nothing, preferring the node the
         * CPU reservation put the VM on (else the VM's <numatune>). When none is free the CPUs
         * reserved just now go too: the VM stays on its source.
         */
        HpvmVfMigCtx vctx = { .config = cfg, .sysfs_root = opts.host.sysfs_root, .vm_id = opts.vm_id,
                              .now = ctx.now, .numa_node = node >= 0 ? &node : NULL };
        if ((r = hpvm_vfmig_reserve_xml(&vctx, in, inlen, &err)) < 0) {
                if (hpvm_migrate_release(&ctx, in, inlen, NULL, &err2) < 0)
                        hpvm_hook_report(err2.msg);
                goto fail;
        }
        if (r > 0)
                hpvm_warn(&notes, "reserved %d VF%s on this host for the VM's VF NICs", r, r == 1 ? "" : "s");
        for (size_t i = 0; i < notes.n; i++)
                hpvm_hook_report(notes.msg[i]);
        hpvm_hook_warnings(&warn);
        return HPVM_EXIT_OK;
fail:
        hpvm_hook_report(err.msg);
        return HPVM_EXIT_ABORT;
}
