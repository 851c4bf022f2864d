/* hookmain.c: option parsing and reporting shared by the hook binaries. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookmain.h"

static void usage(const HpvmHookInfo *info, FILE *f)
{
        fprintf(f,
                "Usage: %s [OPTION]...\n"
                "%s\n"
                "\n"
                "vdsm runs this hook with no arguments: the domain XML is the file named by\n"
                "$_hook_domxml and each custom property is an environment variable of the\n"
                "same name. Run by hand, give the file with --domxml.\n"
                "\n"
                "  --domxml FILE       the domain XML file to rewrite (instead of $_hook_domxml)\n"
                "  --dry-run           print the new domain XML on stdout, leave FILE alone\n"
                "  --host-caps FILE    read the host from a `virsh capabilities` XML file\n"
                "                      instead of the live host\n"
                "  --sysfs-root DIR    read the live-host files from DIR/sys and DIR/proc\n"
                "                      instead of /sys and /proc (fake trees for tests)\n"
                "  --help              show this help\n"
                "  --version           show the version\n"
                "\n"
                "Properties read:",
                info->name, info->summary);
        for (const char *const *p = info->props; *p; p++)
                fprintf(f, " %s", *p);
        fprintf(f,
                "\n\n"
                "Exit status: 0 done (or nothing to do; warnings may be printed), 2 refused:\n"
                "one line on stderr says why, and the domain XML is left untouched.\n"
                "See hpvm-%s(8).\n",
                info->name);
}

int hpvm_hook_parse_args(const HpvmHookInfo *info, int argc, char **argv, HpvmHookOpts *opts)
{
        enum { OPT_DOMXML = 256, OPT_DRY, OPT_CAPS, OPT_SYSFS, OPT_HELP, OPT_VERSION };
        static const struct option longopts[] = {
                { "domxml", required_argument, NULL, OPT_DOMXML },
                { "dry-run", no_argument, NULL, OPT_DRY },
                { "host-caps", required_argument, NULL, OPT_CAPS },
                { "sysfs-root", required_argument, NULL, OPT_SYSFS },
                { "help", no_argument, NULL, OPT_HELP },
                { "version", no_argument, NULL, OPT_VERSION },
                { 0 },
        };
        int c;

        memset(opts, 0, sizeof(*opts));
        opterr = 0;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                switch (c) {
                case OPT_DOMXML: opts->domxml = optarg; break;
                case OPT_DRY: opts->dry_run = true; break;
                case OPT_CAPS: opts->host.caps_path = optarg; break;
                case OPT_SYSFS: opts->host.sysfs_root = optarg; break;
                case OPT_HELP:
                        usage(info, stdout);
                        return 256 + HPVM_EXIT_OK;
                case OPT_VERSION:
                        printf("%s (%s) %s\n", info->name, PACKAGE_NAME, PACKAGE_VERSION);
                        return 256 + HPVM_EXIT_OK;
                default:
                        fprintf(stderr, "hpvm: %s: unknown option '%s' (see --help)\n", info->name,
                                argv[optind - 1]);
                        return 256 + HPVM_EXIT_ABORT;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "hpvm: %s: unexpected argument '%s' (see --help)\n", info->name, argv[optind]);
                return 256 + HPVM_EXIT_ABORT;
        }
        if (opts->host.caps_path && opts->host.sysfs_root) {
                fprintf(stderr, "hpvm: %s: --host-caps and --sysfs-root exclude each other\n", info->name);
                return 256 + HPVM_EXIT_ABORT;
        }
        if (!opts->domxml)
                opts->domxml = getenv("_hook_domxml");
        if (!opts->domxml || !*opts->domxml) {
                fprintf(stderr, "hpvm: %s: no domain XML: $_hook_domxml is not set (run by vdsm, or give --domxml FILE)\n",
                        info->name);
                return 256 + HPVM_EXIT_ABORT;
        }
        return 0;
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
