/* before_vm_start: vdsm hook that pins, binds and shapes a VM from its custom properties before libvirt starts it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "hookmain.h"
#include "vmstart.h"

int main(int argc, char **argv)
{
        static const HpvmHookInfo info = {
                .name = "before_vm_start",
                .summary = "Rewrite a VM's domain XML from its custom properties before it starts.",
                .props = hpvm_vmstart_props,
                .input = HPVM_INPUT_DOMAIN,
                .rewrites = true,
        };
        _cleanup_free_ char *in = NULL, *out = NULL;
        _cleanup_config_ HpvmConfig *cfg = NULL;
        HpvmVmStartCtx ctx = { .get = hpvm_hook_getenv };
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };
        HpvmHookOpts opts;
        size_t inlen, outlen;
        int r;

        r = hpvm_hook_parse_args(&info, argc, argv, &opts);
        if (r)
                return r & 255;
        r = hpvm_hook_read_input(&info, &opts, &in, &inlen, &err);
        if (r < 0)
                goto fail;
        if ((r = hpvm_hook_load_config(&opts, &cfg, &err)) < 0)
                goto fail;
        ctx.host = opts.host;
        ctx.config = cfg;
        ctx.vm_id = opts.vm_id;
        ctx.now = time(NULL);
        ctx.dry_run = opts.dry_run;
        r = hpvm_vmstart_rewrite_ctx(&ctx, in, inlen, &out, &outlen, &warn, &err);
        if (r < 0)
                goto fail;
        if (opts.dry_run) {
                const char *doc = out ? out : in;
                size_t len = out ? outlen : inlen;

                if (fwrite(doc, 1, len, stdout) != len || fflush(stdout) != 0) {
                        hpvm_error_set(&err, -EIO, "cannot write to stdout");
                        goto fail;
                }
        } else if (out && (outlen != inlen || memcmp(out, in, inlen))) {
                r = hpvm_file_replace(opts.domxml, out, outlen, false, &err);
                if (r < 0)
                        goto fail;
        }
        hpvm_hook_warnings(&warn);
        return HPVM_EXIT_OK;
fail:
        hpvm_hook_report(err.msg);
        return HPVM_EXIT_ABORT;
}
