/* hookmain.c: option parsing, input reading and reporting shared by the hook binaries. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "hookmain.h"

static void usage(const HpvmHookInfo *info, FILE *f)
{
        fprintf(f, "Usage: %s [OPTION]...%s\n%s\n\n", info->name,
                info->input == HPVM_INPUT_LIBVIRT ? " DOMAIN OPERATION SUB-OPERATION EXTRA < DOMAIN-XML" : "",
                info->summary);
        switch (info->input) {
        case HPVM_INPUT_LIBVIRT:
                fprintf(f, "libvirtd runs this hook with the domain's name, the operation, its sub-operation\n"
                           "and an extra argument, and the domain XML on stdin; a new domain XML printed on\n"
                           "stdout replaces it (nothing printed: unchanged).\n\n");
                break;
        case HPVM_INPUT_NONE:
                fprintf(f, "vdsm runs this hook with no arguments and the VM's id in $vmId.\n"
                           "Run by hand, give it with --vm-id.\n\n");
                break;
        default:
                fprintf(f, "vdsm runs this hook with no arguments: its input is the file named by\n"
                           "$_hook_domxml (%s), the VM's id is $vmId and each\n"
                           "custom property is an environment variable of the same name. Run by hand,\n"
                           "give the file with --domxml.\n\n",
                        info->input == HPVM_INPUT_INTERFACE ? "one <interface> element" : "the domain XML");
                fprintf(f, "  --domxml FILE       the input file (instead of $_hook_domxml)\n"
                           "  --vm-id UUID        the VM's id (instead of $vmId)\n");
                break;
        }
        if (info->rewrites)
                fprintf(f, "  --dry-run           print the new domain XML on stdout, change nothing\n");
        fprintf(f, "  --config FILE       the configuration file (instead of $HPVM_CONFIG or\n"
                   "                      /etc/hpvm-hooks/hpvm.conf)\n"
                   "  --host-caps FILE    read the host from a `virsh capabilities` XML file\n"
                   "                      instead of the live host\n"
                   "  --sysfs-root DIR    read the live-host files from DIR/sys and DIR/proc\n"
                   "                      instead of /sys and /proc (fake trees for tests)\n"
                   "  --help              show this help\n"
                   "  --version           show the version\n");
        if (info->props && *info->props) {
                fprintf(f, "\nProperties read:");
                for (const char *const *p = info->props; *p; p++)
                        fprintf(f, " %s", *p);
                fputc('\n', f);
        }
        fprintf(f, "\nExit status: 0 done (or nothing to do; warnings may be printed), %s:\n"
                   "one line on stderr says why%s.\nSee hpvm-%s(8).\n",
                info->input == HPVM_INPUT_LIBVIRT ? "1 refused" : "2 refused (1: failed, later hooks still run)",
                info->rewrites ? ", and the domain XML is left untouched" : "", info->name);
}

static int bad_usage(const HpvmHookInfo *info, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad_usage(const HpvmHookInfo *info, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "hpvm: %s: ", info->name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see --help)\n");
        /* libvirt treats any non-zero exit as a failed operation: 1 is its "refused". */
        return 256 + (info->input == HPVM_INPUT_LIBVIRT ? HPVM_EXIT_FAIL : HPVM_EXIT_ABORT);
}

int hpvm_hook_parse_args(const HpvmHookInfo *info, int argc, char **argv, HpvmHookOpts *opts)
{
        enum { OPT_DOMXML = 256, OPT_DRY, OPT_CAPS, OPT_SYSFS, OPT_CONFIG, OPT_VMID, OPT_HELP, OPT_VERSION };
        static const struct option longopts[] = {
                { "domxml", required_argument, NULL, OPT_DOMXML },
                { "dry-run", no_argument, NULL, OPT_DRY },
                { "host-caps", required_argument, NULL, OPT_CAPS },
                { "sysfs-root", required_argument, NULL, OPT_SYSFS },
                { "config", required_argument, NULL, OPT_CONFIG },
                { "vm-id", required_argument, NULL, OPT_VMID },
                { "help", no_argument, NULL, OPT_HELP },
                { "version", no_argument, NULL, OPT_VERSION },
                { 0 },
        };
        bool vdsm = info->input != HPVM_INPUT_LIBVIRT;
        const char *env;
        int c;

        memset(opts, 0, sizeof(*opts));
        opterr = 0;
        /* '+': stop at the first argument (libvirt's domain name may look like anything);
         * ':': tell a missing option argument apart from an unknown option. */
        while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
                switch (c) {
                case OPT_DOMXML: opts->domxml = optarg; break;
                case OPT_DRY: opts->dry_run = true; break;
                case OPT_CAPS: opts->host.caps_path = optarg; break;
                case OPT_SYSFS: opts->host.sysfs_root = optarg; break;
                case OPT_CONFIG: opts->config = optarg; break;
                case OPT_VMID: opts->vm_id = optarg; break;
                case OPT_HELP:
                        usage(info, stdout);
                        return 256 + HPVM_EXIT_OK;
                case OPT_VERSION:
                        printf("%s (%s) %s\n", info->name, PACKAGE_NAME, PACKAGE_VERSION);
                        return 256 + HPVM_EXIT_OK;
                case ':':
                        return bad_usage(info, "%s needs a value", argv[optind - 1]);
                default:
                        return bad_usage(info, "unknown option '%s'", argv[optind - 1]);
                }
        }
        if ((opts->dry_run && !info->rewrites) || ((opts->domxml || opts->vm_id) && !vdsm))
                return bad_usage(info, "%s does not apply to this hook",
                                 opts->dry_run && !info->rewrites ? "--dry-run" : opts->domxml ? "--domxml" : "--vm-id");
        if (opts->host.caps_path && opts->host.sysfs_root)
                return bad_usage(info, "--host-caps and --sysfs-root exclude each other");
        if (!vdsm) {
                /* libvirt passes exactly four; by hand the last ones may be left out. */
                if (argc - optind < 2 || argc - optind > 4)
                        return bad_usage(info, "expects DOMAIN OPERATION [SUB-OPERATION [EXTRA]]");
                opts->lv_domain = argv[optind];
                opts->lv_op = argv[optind + 1];
                opts->lv_subop = argc - optind > 2 ? argv[optind + 2] : "-";
                opts->lv_extra = argc - optind > 3 ? argv[optind + 3] : "-";
        } else if (optind < argc) {
                return bad_usage(info, "unexpected argument '%s'", argv[optind]);
        }
        env = getenv("HPVM_CONFIG");
        opts->config_explicit = opts->config || (env && *env);
        if (!opts->config)
                opts->config = env && *env ? env : "/etc/hpvm-hooks/hpvm.conf";
        if (!vdsm)
                return 0;
        if (!opts->vm_id)
                opts->vm_id = getenv("vmId");
        if (!opts->domxml)
                opts->domxml = getenv("_hook_domxml");
        if ((!opts->domxml || !*opts->domxml) && info->input != HPVM_INPUT_NONE) {
                fprintf(stderr, "hpvm: %s: no %s: $_hook_domxml is not set (run by vdsm, or give --domxml FILE)\n",
                        info->name, info->input == HPVM_INPUT_INTERFACE ? "interface XML" : "domain XML");
                return 256 + HPVM_EXIT_ABORT;
        }
        return 0;
}

/* All of stdin, at most HPVM_XML_MAX bytes: libvirt writes the domain XML there and closes it. */
static int read_stdin(char **ret_buf, size_t *ret_len, HpvmError *err)
{
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);

        if (!buf)
                return hpvm_error_set(err, -ENOMEM, "out of memory reading stdin");
        for (;;) {
                ssize_t n;

                if (len + 1 == cap) {
                        char *grown;

                        if (cap > HPVM_XML_MAX) {
                                free(buf);
                                return hpvm_error_set(err, -EFBIG, "the domain XML on stdin is larger than %u MiB",
                                                      HPVM_XML_MAX >> 20);
                        }
                        grown = realloc(buf, cap * 2);
                        if (!grown) {
                                free(buf);
                                return hpvm_error_set(err, -ENOMEM, "out of memory reading stdin");
                        }
                        buf = grown;
                        cap *= 2;
                }
                n = read(STDIN_FILENO, buf + len, cap - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;

                        free(buf);
                        return hpvm_error_set(err, -e, "cannot read stdin: %s", strerror(e));
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (len > HPVM_XML_MAX) {
                free(buf);
                return hpvm_error_set(err, -EFBIG, "the domain XML on stdin is larger than %u MiB", HPVM_XML_MAX >> 20);
        }
        buf[len] = '\0';
        *ret_buf = buf;
        *ret_len = len;
        return 0;
}

int hpvm_hook_read_input(const HpvmHookInfo *info, const HpvmHookOpts *opts, char **ret_buf, size_t *ret_len,
                         HpvmError *err)
{
        if (info->input == HPVM_INPUT_LIBVIRT)
                return read_stdin(ret_buf, ret_len, err);
        if (info->input == HPVM_INPUT_NONE && (!opts->domxml || !*opts->domxml)) {
                /* after_vm_destroy: the file carries nothing we need. */
                *ret_buf = strdup("");
                *ret_len = 0;
                return *ret_buf ? 0 : hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        return hpvm_file_read(opts->domxml, HPVM_XML_MAX, ret_buf, ret_len, err);
}

int hpvm_hook_load_config(const HpvmHookOpts *opts, HpvmConfig **ret, HpvmError *err)
{
        return hpvm_config_load(opts->config, opts->config_explicit, ret, err);
}

void hpvm_hook_report(const char *msg)
{
        fprintf(stderr, "hpvm: %s\n", msg);
}

void hpvm_hook_warnings(const HpvmWarnings *w)
{
        for (size_t i = 0; i < w->n; i++)
                fprintf(stderr, "hpvm: warning: %s\n", w->msg[i]);
}

const char *hpvm_hook_getenv(const char *name, void *opaque)
{
        return getenv(name);
}
