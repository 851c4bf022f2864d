/* vfmig-tool.c: the one-line vfmigrate calls the CPU-side migration hooks will make, as a command, so the integration test can run them inside host 2 before those hooks exist. */
/*
 *   vfmig-tool reserve FILE    before_vm_migrate_destination: hpvm_vfmig_reserve_xml() on FILE (the source's XML)
 *   vfmig-tool repoint         libvirt's migrate begin: hpvm_vfmig_repoint_xml(), XML on stdin, the new one on stdout
 *   vfmig-tool arrived FILE    after_vm_migrate_destination: hpvm_vfmig_after_destination() on FILE (the live XML)
 *   vfmig-tool release [FILE]  after_vm_migrate_source / after_vm_destroy: hpvm_vfmig_release()
 * The configuration is $HPVM_CONFIG, else /etc/hpvm-hooks/hpvm.conf (inside host 2's namespace: host 2's);
 * the VM id $vmId, else the XML's <uuid>. Failures print one "hpvm: " line; exit 2 (refused) or 1 (failed,
 * for arrived and release, whose hook points only log).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "vfmigrate.h"
#include "xml.h"

static int read_stdin(char **ret, size_t *ret_len)
{
        char *buf = NULL;
        size_t size = 0, n;
        FILE *m = open_memstream(&buf, &size);
        char chunk[65536];

        if (!m)
                return -ENOMEM;
        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
                fwrite(chunk, 1, n, m);
        fclose(m);
        *ret = buf;
        *ret_len = size;
        return 0;
}

int main(int argc, char **argv)
{
        _cleanup_config_ HpvmConfig *c = NULL;
        _cleanup_domain_ HpvmDomain *d = NULL;
        _cleanup_free_ char *in = NULL, *out = NULL;
        HpvmVfMigCtx ctx = { .config = NULL };
        HpvmWarnings warn = { 0 };
        HpvmError err = { 0 };
        const char *cmd = argc > 1 ? argv[1] : "", *path;
        bool explicit_, logs_only = !strcmp(cmd, "arrived") || !strcmp(cmd, "release");
        size_t len = 0, outlen = 0;
        int r;

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: vfmig-tool reserve FILE | repoint < XML | arrived FILE | release [FILE]\n");
                return 2;
        }
        path = hpvm_config_path(NULL, &explicit_);
        if ((r = hpvm_config_load(path, explicit_, &c, &err)) < 0)
                goto fail;
        ctx.config = c;
        ctx.vm_id = getenv("vmId");
        if (argc == 3)
                r = hpvm_file_read(argv[2], HPVM_XML_MAX, &in, &len, &err);
        else if (!strcmp(cmd, "repoint"))
                r = read_stdin(&in, &len) < 0 ? hpvm_error_set(&err, -ENOMEM, "cannot read stdin") : 0;
        if (r < 0 || (in && (r = hpvm_domain_parse(in, len, &d, &err)) < 0))
                goto fail;
        if (!strcmp(cmd, "reserve") && d) {
                r = hpvm_vfmig_reserve(&ctx, d, &err);
        } else if (!strcmp(cmd, "repoint") && d) {
                r = hpvm_vfmig_repoint_xml(&ctx, in, len, &out, &outlen, &err);
                if (r > 0 && fwrite(out, 1, outlen, stdout) != outlen)
                        r = hpvm_error_set(&err, -EIO, "cannot write stdout");
        } else if (!strcmp(cmd, "arrived") && d) {
                r = hpvm_vfmig_after_destination(&ctx, d, &warn, &err);
        } else if (!strcmp(cmd, "release")) {
                r = hpvm_vfmig_release(&ctx, d, &err);
        } else {
                r = hpvm_error_set(&err, -EINVAL, "unknown command '%s' or missing FILE", cmd);
        }
        for (size_t i = 0; i < warn.n; i++)
                fprintf(stderr, "hpvm: warning: %s\n", warn.msg[i]);
        if (r < 0)
                goto fail;
        return 0;
fail:
        fprintf(stderr, "hpvm: %s\n", err.msg);
        return logs_only ? 1 : 2;
}
