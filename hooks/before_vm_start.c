/* before_vm_start: vdsm hook that pins, binds and shapes a VM from its custom properties before libvirt starts it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
        r = hpvm_vmstart_rewrite(in, inlen, hpvm_hook_getenv, NULL, &opts.host, &out, &outlen, &warn, &err);
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
