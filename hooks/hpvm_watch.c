/* hpvm_watch: the migration watcher (hpvm-watch) the source hook starts fully detached: it follows a VM's outgoing migration and releases its VFs, or plugs its unplugged NICs back, with nobody acting. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "vfmigrate.h"
#include "watch.h"

static void usage(FILE *f)
{
        fprintf(f, "Usage: hpvm-watch [--config FILE] VM-UUID\n"
                   "Follow the outgoing live migration of the VM of VM-UUID on this host, then:\n"
                   "migrated (or stopped) -> release its VFs in this host's VF ledger; failed, or\n"
                   "never started -> plug back every VF NIC recorded in its metadata and drop the\n"
                   "record; post-copy or watch_timeout -> nothing. Logs to syslog (hpvm-watch).\n"
                   "before_migration_source starts it; see hpvm-sriov(8).\n\n"
                   "  --config FILE   the configuration file (instead of $HPVM_CONFIG or\n"
                   "                  /etc/hpvm-hooks/hpvm.conf)\n"
                   "  --help          show this help\n"
                   "  --version       show the version\n\n"
                   "$HPVM_WATCH_RESULT (tests): a file to append a start and an end line to.\n"
                   "Exit status: 0 when the outcome was reached and its action succeeded, 1 otherwise.\n");
}

static void note(void *opaque, const char *line)
{
        syslog(LOG_INFO, "%s", line);
}

/* "<what> pid=<pid> <text>" appended to $HPVM_WATCH_RESULT, if set. */
static void result(const char *what, const char *text)
{
        const char *path = getenv("HPVM_WATCH_RESULT");
        FILE *f;

        if (!path || !*path || !(f = fopen(path, "ae")))
                return;
        fprintf(f, "%s pid=%d %s\n", what, (int)getpid(), text);
        fclose(f);
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "config", required_argument, NULL, 'c' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { 0 },
        };
        _cleanup_config_ HpvmConfig *cfg = NULL;
        const char *config = NULL, *path;
        HpvmVfMigCtx ctx = { .config = NULL };
        HpvmWatchResult res;
        HpvmError err = { 0 };
        bool explicit_;
        char line[2 * HPVM_ERR_MAX];
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
                switch (c) {
                case 'c': config = optarg; break;
                case 'h': usage(stdout); return 0;
                case 'V': printf("hpvm-watch (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION); return 0;
                default:
                        fprintf(stderr, "hpvm-watch: unknown option or missing value '%s' (see --help)\n", argv[optind - 1]);
                        return 1;
                }
        }
        if (argc - optind != 1) {
                fprintf(stderr, "hpvm-watch: expects one VM UUID (see --help)\n");
                return 1;
        }
        openlog("hpvm-watch", LOG_PID, LOG_DAEMON);
        snprintf(line, sizeof(line), "vm=%s", argv[optind]);
        result("start", line);
        path = hpvm_config_path(config, &explicit_);
        r = hpvm_config_load(path, explicit_, &cfg, &err);
        if (r == 0) {
                ctx.config = cfg;
                r = hpvm_vfmig_watch(&ctx, argv[optind], note, NULL, &res, &err);
        }
        if (r < 0) {
                syslog(LOG_ERR, "%s", err.msg);
                snprintf(line, sizeof(line), "error %s", err.msg);
                result("end", line);
                closelog();
                return 1;
        }
        syslog(LOG_INFO, "%s", res.detail);
        snprintf(line, sizeof(line), "outcome=%s job_seen=%.2f decided=%.2f seconds=%.2f action=%d detail=%s",
                 hpvm_watch_outcome_name(res.outcome), res.job_seen_s, res.decided_s, res.seconds, res.action, res.detail);
        result("end", line);
        closelog();
        return 0;
}
