/* bench-vf.c: time what a destination check does to secure VFs (inventory load, ledger open, reserve, commit) on a fake 8 PF x 64 VF host. */

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "sriov.h"
#include "sriovtree.h"
#include "vfledger.h"

#define MAX_RUNS 100000
#define NPFS 8
#define NVFS 64
#define NICS 4

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
        va_list ap;

        fputs("bench-vf: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static double median(double *v, int n)
{
        qsort(v, (size_t)n, sizeof(*v), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long parse_long(const char *s, long min, long max, const char *what)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                die("%s: '%s' is not a number from %ld to %ld", what, s, min, max);
        return v;
}

static void usage(void)
{
        printf("usage: bench-vf [-n RUNS] [--held N]\n"
               "Times, per run, what before_vm_migrate_destination does to secure %d VFs on a fake host of\n"
               "%d PFs x %d VFs (sysfs tree in /tmp): VF inventory load, VF ledger open (lock, read, check),\n"
               "reserve, durable commit, close; then releases them (not timed). --held: VFs in use by other VMs\n"
               "(default 256). Prints the median of each step and of the whole.\n", NICS, NPFS, NVFS);
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "runs", required_argument, NULL, 'n' },
                { "held", required_argument, NULL, 'H' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        double *t_inv, *t_open, *t_reserve, *t_commit, *t_total;
        int runs = 200, held = 256, c;
        HpvmConfig *cfg = NULL;
        HpvmError err = { 0 };
        HpvmVfInventory *inv = NULL;
        HpvmVfLedger *l = NULL;
        char text[1024];
        ThTree tree;

        while ((c = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'n': runs = (int)parse_long(optarg, 1, MAX_RUNS, "--runs"); break;
                case 'H': held = (int)parse_long(optarg, 0, NPFS * NVFS - NICS, "--held"); break;
                case 'h': usage(); return 0;
                default: usage(); return 2;
                }
        }
        t_inv = calloc((size_t)runs, sizeof(double));
        t_open = calloc((size_t)runs, sizeof(double));
        t_reserve = calloc((size_t)runs, sizeof(double));
        t_commit = calloc((size_t)runs, sizeof(double));
        t_total = calloc((size_t)runs, sizeof(double));
        if (!t_inv || !t_open || !t_reserve || !t_commit || !t_total)
                die("out of memory");

        th_tree_init(&tree);
        th_sriov_big(tree.root, NPFS, NVFS);
        snprintf(text, sizeof(text), "state_dir=%s/state\n", tree.tmp);
        if (hpvm_config_parse("bench.conf", text, strlen(text), &cfg, &err) < 0)
                die("%s", err.msg);

        /* Every other VF in use by other VMs, from the first: what a busy host's ledger holds. */
        if (hpvm_vf_inventory_load(tree.root, &inv, &err) < 0 || hpvm_vfledger_open(cfg, &l, &err) < 0)
                die("%s", err.msg);
        for (int i = 0; i < held; i++) {
                char vm[64];

                snprintf(vm, sizeof(vm), "00000000-0000-4000-8000-%012x", i / 2);
                if (hpvm_vfledger_mark_in_use(l, vm, &inv->vfs[(size_t)i * 2 % inv->nvfs].addr, NULL, "net", 1, NULL,
                                              &err) < 0)
                        die("%s", err.msg);
        }
        if (hpvm_vfledger_commit(l, &err) < 0)
                die("%s", err.msg);
        hpvm_vfledger_close(l);
        hpvm_vf_inventory_free(inv);

        for (int run = 0; run < runs; run++) {
                HpvmVfRequest reqs[NICS];
                size_t picks[NICS];
                double t0, t1, t2, t3, t4;
                char vm[64];

                snprintf(vm, sizeof(vm), "11111111-0000-4000-8000-%012x", run);
                /* Two NICs with the source's VF (free here), two preferring node 1. */
                for (int k = 0; k < NICS; k++) {
                        HpvmVfRequest *q = &reqs[k];
                        char a[16];

                        memset(q, 0, sizeof(*q));
                        q->mac.b[0] = 2;
                        q->mac.b[5] = (unsigned char)k;
                        q->network = "net";
                        q->preferred_node = k < 2 ? -1 : 1;
                        if (k < 2) {
                                snprintf(a, sizeof(a), "0000:%02x:%02x.%d", 2 * k + 1, 1 + (run % 8), 1 + 2 * (run % 4));
                                if (hpvm_pci_addr_parse(a, strlen(a), &q->preferred) < 0)
                                        die("bad address %s", a);
                                q->has_preferred = true;
                        }
                }
                t0 = now_ms();
                if (hpvm_vf_inventory_load(tree.root, &inv, &err) < 0)
                        die("%s", err.msg);
                t1 = now_ms();
                if (hpvm_vfledger_open(cfg, &l, &err) < 0)
                        die("%s", err.msg);
                t2 = now_ms();
                if (hpvm_vfledger_reserve(l, inv, cfg, vm, reqs, NICS, 1000, picks, &err) < 0)
                        die("%s", err.msg);
                t3 = now_ms();
                if (hpvm_vfledger_commit(l, &err) < 0)
                        die("%s", err.msg);
                hpvm_vfledger_close(l);
                t4 = now_ms();
                t_inv[run] = t1 - t0;
                t_open[run] = t2 - t1;
                t_reserve[run] = t3 - t2;
                t_commit[run] = t4 - t3;
                t_total[run] = t4 - t0;
                hpvm_vf_inventory_free(inv);
                inv = NULL;

                /* The migration went elsewhere: free the VFs for the next run (not timed). */
                if (hpvm_vfledger_open(cfg, &l, &err) < 0)
                        die("%s", err.msg);
                if (hpvm_vfledger_release_vm(l, vm) != NICS)
                        die("run %d: the reservation did not hold %d VFs", run, NICS);
                if (hpvm_vfledger_commit(l, &err) < 0)
                        die("%s", err.msg);
                hpvm_vfledger_close(l);
        }
        printf("bench-vf: reserve %d VFs on %d PFs x %d VFs (%d in use by others), median of %d runs:\n"
               "  %.3f ms total = inventory %.3f + ledger open %.3f + reserve %.3f + commit (durable) and close %.3f\n",
               NICS, NPFS, NVFS, held, runs, median(t_total, runs), median(t_inv, runs), median(t_open, runs),
               median(t_reserve, runs), median(t_commit, runs));
        th_tree_clear(&tree);
        hpvm_config_free(cfg);
        free(t_inv);
        free(t_open);
        free(t_reserve);
        free(t_commit);
        free(t_total);
        return 0;
}
