/* bench-placement.c: time hpvm_place in-process on big generated hosts (median and p90 over N runs). */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostgen.h"
#include "placement.h"
#include "props.h"

#define MAX_RUNS 100000
#define CELLS_MAX 64

static const char *prog = "bench-placement";

/* 16 nodes of 16 cores x 2 threads (512 CPUs), two sockets of 8 nodes as 4+4 groups, 64 GiB a node. */
#define HOST16 "16x16x2 ids=linux dist=group:4:12:32 mem=64G"

static const struct {
        const char *label;
        const char *host;
        unsigned vcpus, threads, ncells;
        uint64_t mem_gib;
        HpvmCpuPolicy policy;
} cases[] = {
        { "2 nodes/64, 8 vCPUs", "2x16x2 ids=linux mem=64G", 8, 1, 0, 8, HPVM_POLICY_DEDICATED },
        { "2 nodes/64, 2 cells", "2x16x2 ids=linux mem=64G", 8, 1, 2, 8, HPVM_POLICY_DEDICATED },
        { "16/512, 448 vCPUs, made", HOST16, 448, 1, 0, 448, HPVM_POLICY_DEDICATED },
        { "16/512, 448 vCPUs t=2, made", HOST16, 448, 2, 0, 448, HPVM_POLICY_DEDICATED },
        { "16/512, 448 in 8 cells", HOST16, 448, 1, 8, 448, HPVM_POLICY_DEDICATED },
        { "16/512, 224 in 8 cells", HOST16, 224, 1, 8, 224, HPVM_POLICY_DEDICATED },
        { "16/512, 448 in 16 cells", HOST16, 448, 1, 16, 448, HPVM_POLICY_DEDICATED },
        /* only 4 nodes have free memory: 10 cells of 12 GiB must share them (the exact subset program) */
        { "16/512, 20 in 10 cells sharing", "16x16x2 ids=linux dist=group:4:12:32 mem=64G free=40G,40G,40G,40G,0",
          20, 1, 10, 120, HPVM_POLICY_DEDICATED },
        /* 32 cells on 8 nodes with memory: first-fit decreasing */
        { "16/512, 64 in 32 cells sharing", "16x16x2 ids=linux dist=group:4:12:32 mem=64G free=40G,40G,40G,40G,40G,40G,40G,40G,0",
          64, 1, 32, 256, HPVM_POLICY_DEDICATED },
        { "16/512, isolate 224, made", HOST16, 224, 1, 0, 224, HPVM_POLICY_ISOLATE },
        { "16/512, isolate 224 in 16 cells", HOST16, 224, 1, 16, 224, HPVM_POLICY_ISOLATE },
        { "16/512, siblings 448, made", HOST16, 448, 1, 0, 448, HPVM_POLICY_SIBLINGS },
        { "16/512, siblings 448 in 16 cells", HOST16, 448, 1, 16, 448, HPVM_POLICY_SIBLINGS },
        { "64/4096, 3968 vCPUs, made", "64x32x2 ids=linux dist=group:8:12:32 mem=64G", 3968, 1, 0, 3968,
          HPVM_POLICY_DEDICATED },
        { "64/4096, 3968 in 64 cells", "64x32x2 ids=linux dist=group:8:12:32 mem=64G", 3968, 1, 64, 3968,
          HPVM_POLICY_DEDICATED },
};

static double now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

static void usage(FILE *f)
{
        fprintf(f, "usage: %s [-n RUNS]\n"
                   "Times hpvm_place in-process on generated hosts; prints median and p90 per case.\n"
                   "  -n, --runs N   timed runs per case (default 200)\n", prog);
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "runs", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        unsigned runs = 200;
        int c;

        while ((c = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'n': {
                        char *end;
                        unsigned long v = strtoul(optarg, &end, 10);

                        if (*end || v < 1 || v > MAX_RUNS) {
                                fprintf(stderr, "%s: --runs: 1 to %d\n", prog, MAX_RUNS);
                                return 2;
                        }
                        runs = (unsigned)v;
                        break;
                }
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }

        printf("hpvm_place, in-process, %u runs per case after 3 warm-up runs; first core of every node reserved\n\n",
               runs);
        printf("%-34s %6s %9s %9s  %s\n", "case", "vCPUs", "median us", "p90 us", "result");
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                HpvmGuestCell cells[CELLS_MAX];
                HpvmPlaceRequest req = {
                        .vcpus = cases[k].vcpus, .threads = cases[k].threads,
                        .mem_kib = cases[k].mem_gib << 20, .ncells = cases[k].ncells, .cells = cells,
                        .emulator = true, .iothreads = 1, .policy = cases[k].policy,
                };
                HpvmUsage *u = NULL;
                HpvmHost *h = th_host(cases[k].host, &u);
                double *us = calloc(runs, sizeof(*us));
                char result[HPVM_ERR_MAX + 64], nodes[256];
                HpvmPlacement *p = NULL;
                HpvmError err = { 0 };
                int r = 0;

                if (!us) {
                        fprintf(stderr, "%s: out of memory\n", prog);
                        return 1;
                }
                hpvm_usage_reserve_default(h, u);
                /* Cells of equal size, memory in proportion. */
                for (unsigned j = 0; j < cases[k].ncells; j++) {
                        unsigned per = cases[k].vcpus / cases[k].ncells;
                        unsigned last = j == cases[k].ncells - 1 ? cases[k].vcpus - 1 : (j + 1) * per - 1;

                        hpvm_cpuset_zero(&cells[j].vcpus);
                        hpvm_cpuset_set_range(&cells[j].vcpus, j * per, last);
                        cells[j].mem_kib = req.mem_kib / cases[k].ncells;
                }
                for (unsigned i = 0; i < runs + 3; i++) {
                        double t0 = now_us();

                        r = hpvm_place(h, u, &req, &p, &err);
                        if (i >= 3)
                                us[i - 3] = now_us() - t0;
                        if (r == 0 && i < runs + 2)
                                hpvm_placement_free(p);
                        if (r < 0 && r != -ENOSPC) {
                                fprintf(stderr, "%s: %s: %s\n", prog, cases[k].label, err.msg);
                                return 1;
                        }
                }
                qsort(us, runs, sizeof(*us), cmp_double);
                if (r == 0) {
                        hpvm_cpuset_format(&p->nodes, nodes, sizeof(nodes));
                        snprintf(result, sizeof(result), "%zu cells on nodes %s, score %d%s", p->ncells, nodes, p->score,
                                 p->helpers_shared ? ", helpers shared" : "");
                        hpvm_placement_free(p);
                } else {
                        snprintf(result, sizeof(result), "refused: %.200s", err.msg);
                }
                printf("%-34s %6u %9.1f %9.1f  %s\n", cases[k].label, cases[k].vcpus,
                       runs % 2 ? us[runs / 2] : (us[runs / 2 - 1] + us[runs / 2]) / 2,
                       us[(runs * 9 + 9) / 10 - 1], result);
                free(us);
                hpvm_host_free(h);
                hpvm_usage_free(u);
        }
        return 0;
}
