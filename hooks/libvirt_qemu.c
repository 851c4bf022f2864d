/* libvirt_qemu: libvirt's own qemu hook (qemu.d/50_hpvm): re-fits an incoming pinned VM's domain XML to this host, and keeps the CPU ledger in step with libvirt. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookmain.h"
#include "migrate.h"
#include "vfmigrate.h"

static bool is(const HpvmHookOpts *o, const char *op, const char *subop)
{
        return !strcmp(o->lv_op, op) && !strcmp(o->lv_subop, subop);
}

/* Everything but `migrate begin` and `restore begin` must never fail an operation: a problem is a warning. */
static int soft(int r, const HpvmError *err, const HpvmWarnings *notes, const HpvmWarnings *warn)
{
        for (size_t i = 0; i < notes->n; i++)
                hpvm_hook_report(notes->msg[i]);
        hpvm_hook_warnings(warn);
        if (r < 0)
                fprintf(stderr, "hpvm: warning: %s\n", err->msg);
        return HPVM_EXIT_OK;
}

int main(int argc, char **argv)
{
        static const HpvmHookInfo info = {
                .name = "libvirt_qemu",
                .summary = "libvirt's qemu hook for pinned and NUMA-tuned VMs: on `migrate begin` and `restore begin`\n"
                           "it re-fits the incoming domain XML to this host (vCPU, emulator and IO-thread pins,\n"
                           "NUMA node sets) and prints it; `started begin` and `release end` keep the CPU ledger\n"
                           "in step; every other operation passes.",
                .props = hpvm_migrate_props,
                .input = HPVM_INPUT_LIBVIRT,
        };
        _cleanup_free_ char *in = NULL, *out = NULL, *vfout = NULL;
        _cleanup_config_ HpvmConfig *cfg = NULL;
        HpvmMigrateCtx ctx = { 0 };
        HpvmWarnings notes = { 0 }, warn = { 0 };
        HpvmError err = { 0 };
        HpvmHookOpts opts;
        size_t inlen, outlen = 0, vfoutlen = 0;
        bool refit, started, release;
        int r;

        r = hpvm_hook_parse_args(&info, argc, argv, &opts);
        if (r)
                return r & 255;
        refit = is(&opts, "migrate", "begin") || is(&opts, "restore", "begin");
        started = is(&opts, "started", "begin");
        release = is(&opts, "release", "end");
        /* libvirt writes the domain XML to every call: take it all, whatever the operation. */
        r = hpvm_hook_read_input(&info, &opts, &in, &inlen, &err);
        if (!refit && !started && !release)
                return HPVM_EXIT_OK;
        if (r < 0 || (r = hpvm_hook_load_config(&opts, &cfg, &err)) < 0) {
                if (refit)
                        goto fail;
                return soft(r, &err, &notes, &warn);
        }
        ctx.config = cfg;
        ctx.host = opts.host;
        ctx.now = time(NULL);
        if (started) {
                r = hpvm_migrate_started(&ctx, in, inlen, &notes, &warn, &err);
                return soft(r, &err, &notes, &warn);
        }
        if (release) {
                /* QEMU ended here (stopped, migrated away, or an incoming migration failed): CPUs and VFs go. */
                r = hpvm_migrate_release(&ctx, in, inlen, &notes, &err);
                soft(r, &err, &notes, &warn);
                if (r != -EINVAL && hpvm_hook_release_vfs(&opts, cfg, in, inlen, &err) < 0)
                        fprintf(stderr, "hpvm: warning: %s\n", err.msg);
                return HPVM_EXIT_OK;
        }
        if ((r = hpvm_migrate_refit(&ctx, in, inlen, &out, &outlen, &notes, &warn, &err)) < 0)
                goto fail;
        /* The failover VF NICs point at the VFs the destination check reserved here (only their host address). */
        HpvmVfMigCtx vctx = { .config = cfg, .sysfs_root = opts.host.sysfs_root, .now = ctx.now };
        if ((r = hpvm_vfmig_repoint_xml(&vctx, out ? out : in, out ? outlen : inlen, &vfout, &vfoutlen, &err)) < 0)
                goto fail;
        if (vfout) {
                free(out);
                out = vfout;
                outlen = vfoutlen;
                vfout = NULL;
                fprintf(stderr, "hpvm: pointed %d failover VF NIC%s at the VFs reserved on this host\n", r,
                        r == 1 ? "" : "s");
        }
        if (out && (fwrite(out, 1, outlen, stdout) != outlen || fflush(stdout) != 0)) {
                hpvm_error_set(&err, -EIO, "cannot write the re-fitted domain XML to stdout");
                goto fail;
        }
        for (size_t i = 0; i < notes.n; i++)
                hpvm_hook_report(notes.msg[i]);
        hpvm_hook_warnings(&warn);
        return HPVM_EXIT_OK;
fail:
        hpvm_hook_warnings(&warn);
        hpvm_hook_report(err.msg);
        /* libvirt fails the operation on any non-zero exit: the migration stops, the VM stays on the source. */
        return HPVM_EXIT_FAIL;
}
