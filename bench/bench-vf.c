/* bench-vf.c: time what a destination check does to secure VFs (inventory load, ledger open, reserve, commit) on a fake 8 PF x 64 VF host, then the hooks' calls: the destination check and the migrate-begin re-point on a domain XML with 4 VF NICs, beside a libxml2 floor. */

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "config.h"
#include "domxml.h"
#include "sriov.h"
#include "sriovtree.h"
#include "vfledger.h"
#include "vfmigrate.h"

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
               "%d PFs x %d VFs (sysfs tree and state in /dev/shm, a tmpfs): VF inventory load, VF ledger open (lock, read, check),\n"
               "reserve, durable commit, close; then releases them (not timed). --held: VFs in use by other VMs\n"
               "(default 256). Prints the median of each step and of the whole.\n"
               "Then, as the hooks call them, on a q35 domain XML with %d failover VF NICs (each with its virtio\n"
               "backup): hpvm_vfmig_reserve_xml() (XML parse, VF NICs and their metadata, then the same steps),\n"
               "hpvm_vfmig_repoint_xml() (XML parse, ledger read, the host addresses rewritten, serialized), and\n"
               "the floor: hpvm_domain_parse() + hpvm_domain_format() of the same XML.\n", NICS, NPFS, NVFS, NICS);
}

/*
 * A q35 domain of @vm with NICS failover pairs (virtio backup + VF NIC of the
 * same MAC) whose VFs sit at the given source addresses, on network "net",
 * memory bound to node 1 (what the engine writes, minus disks and consoles).
 */
static char *domain_xml(const char *vm, char addrs[NICS][16])
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                die("out of memory");
        fprintf(f, "<domain xmlns:ovirt-vm=\"http://ovirt.org/vm/1.0\" type=\"kvm\">\n  <name>bench-vf</name>\n"
                   "  <uuid>%s</uuid>\n  <metadata>\n    <ovirt-vm:vm>\n", vm);
        for (int k = 0; k < NICS; k++)
                fprintf(f, "      <ovirt-vm:device mac_address=\"02:00:00:00:00:%02x\">\n        <ovirt-vm:network>net"
                           "</ovirt-vm:network>\n        <ovirt-vm:custom>\n          <ovirt-vm:sriov_migratable>true"
                           "</ovirt-vm:sriov_migratable>\n        </ovirt-vm:custom>\n      </ovirt-vm:device>\n", k);
        fprintf(f, "    </ovirt-vm:vm>\n  </metadata>\n  <memory unit=\"KiB\">4194304</memory>\n"
                   "  <vcpu placement=\"static\">4</vcpu>\n  <numatune>\n    <memory mode=\"strict\" nodeset=\"1\"/>\n"
                   "  </numatune>\n  <os>\n    <type arch=\"x86_64\" machine=\"pc-q35-7.2\">hvm</type>\n  </os>\n"
                   "  <devices>\n    <controller type=\"pci\" index=\"0\" model=\"pcie-root\"/>\n");
        for (int k = 0; k < NICS; k++) {
                unsigned bus, slot, fn;

                if (sscanf(addrs[k], "0000:%x:%x.%x", &bus, &slot, &fn) != 3)
                        die("bad address %s", addrs[k]);
                fprintf(f, "    <controller type=\"pci\" index=\"%d\" model=\"pcie-root-port\"/>\n"
                           "    <controller type=\"pci\" index=\"%d\" model=\"pcie-root-port\"/>\n", 2 * k + 1, 2 * k + 2);
                fprintf(f, "    <interface type=\"bridge\">\n      <mac address=\"02:00:00:00:00:%02x\"/>\n"
                           "      <source bridge=\"net\"/>\n      <model type=\"virtio\"/>\n      <teaming type=\"persistent\"/>\n"
                           "      <alias name=\"ua-backup%d\"/>\n      <address type=\"pci\" domain=\"0x0000\" bus=\"0x%02x\" "
                           "slot=\"0x00\" function=\"0x0\"/>\n    </interface>\n", k, k, 2 * k + 1);
                fprintf(f, "    <interface type=\"hostdev\" managed=\"yes\">\n      <mac address=\"02:00:00:00:00:%02x\"/>\n"
                           "      <driver name=\"vfio\"/>\n      <source>\n        <address type=\"pci\" domain=\"0x0000\" "
                           "bus=\"0x%02x\" slot=\"0x%02x\" function=\"0x%x\"/>\n      </source>\n      <vlan>\n        "
                           "<tag id=\"%d\"/>\n      </vlan>\n      <teaming type=\"transient\" persistent=\"ua-backup%d\"/>\n"
                           "      <alias name=\"ua-sriov%d\"/>\n      <address type=\"pci\" domain=\"0x0000\" bus=\"0x%02x\" "
                           "slot=\"0x00\" function=\"0x0\"/>\n    </interface>\n", k, bus, slot, fn, 100 + k, k, k, 2 * k + 2);
        }
        fprintf(f, "  </devices>\n</domain>\n");
        fclose(f);
        return buf;
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

        /* In memory, as sysfs and /run (the state folder) are on a host: /dev/shm where it is a folder. */
        {
                struct stat sb;

                th_tree_init_in(&tree, stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp");
        }
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

        /* The hooks' calls on a domain XML: the destination check, migrate begin's re-point, and the libxml2 floor. */
        {
                double *t_check = calloc((size_t)runs, sizeof(double)), *t_point = calloc((size_t)runs, sizeof(double));
                double *t_floor = calloc((size_t)runs, sizeof(double));
                HpvmVfMigCtx ctx = { .config = cfg, .sysfs_root = tree.root, .now = 1000 };
                size_t xmllen = 0;

                if (!t_check || !t_point || !t_floor)
                        die("out of memory");
                for (int run = 0; run < runs; run++) {
                        char vm[64], addrs[NICS][16], *xml, *out = NULL, *floor_out = NULL;
                        HpvmDomain *d = NULL;
                        size_t outlen;
                        double t0, t1, t2, t3;
                        int r;

                        snprintf(vm, sizeof(vm), "22222222-0000-4000-8000-%012x", run);
                        /* Two VFs whose source address is free here (taken), two held by others (re-pointed). */
                        for (int k = 0; k < NICS; k++)
                                snprintf(addrs[k], sizeof(addrs[k]), "0000:%02x:%02x.%d", 2 * k + 1, 1 + (run % 8),
                                         k < 2 ? 1 + 2 * (run % 4) : 2 * (run % 4));
                        xml = domain_xml(vm, addrs);
                        xmllen = strlen(xml);
                        t0 = now_ms();
                        r = hpvm_vfmig_reserve_xml(&ctx, xml, xmllen, &err);
                        t1 = now_ms();
                        if (r != NICS)
                                die("destination check: %d: %s", r, err.msg);
                        r = hpvm_vfmig_repoint_xml(&ctx, xml, xmllen, &out, &outlen, &err);
                        t2 = now_ms();
                        if (r != 2)
                                die("re-point: %d addresses changed, 2 expected: %s", r, err.msg);
                        if (hpvm_domain_parse(xml, xmllen, &d, &err) < 0 || hpvm_domain_format(d, &floor_out, &outlen, &err) < 0)
                                die("%s", err.msg);
                        hpvm_domain_free(d);
                        t3 = now_ms();
                        t_check[run] = t1 - t0;
                        t_point[run] = t2 - t1;
                        t_floor[run] = t3 - t2;
                        free(out);
                        free(floor_out);
                        free(xml);
                        ctx.vm_id = vm;
                        if (hpvm_vfmig_release(&ctx, NULL, &err) != NICS)
                                die("run %d: the destination check did not hold %d VFs", run, NICS);
                        ctx.vm_id = NULL;
                }
                printf("bench-vf: the hooks' calls on a %.1f KiB domain XML with %d failover VF NICs, median of %d runs:\n"
                       "  destination check (hpvm_vfmig_reserve_xml)  %.3f ms\n"
                       "  migrate-begin re-point (hpvm_vfmig_repoint_xml, 2 of %d moved)  %.3f ms\n"
                       "  floor: libxml2 parse + serialize of the same XML  %.3f ms\n",
                       (double)xmllen / 1024, NICS, runs, median(t_check, runs), NICS, median(t_point, runs),
                       median(t_floor, runs));
                free(t_check);
                free(t_point);
                free(t_floor);
        }
        th_tree_clear(&tree);
        hpvm_config_free(cfg);
        free(t_inv);
        free(t_open);
        free(t_reserve);
        free(t_commit);
        free(t_total);
        return 0;
}
