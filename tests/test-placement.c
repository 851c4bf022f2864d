/* test-placement.c: the placement engine: pins, cells, helpers and refusals on hand-made hosts, invariants over generated hosts checked against a brute force, and the score. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostgen.h"
#include "placement.h"
#include "props.h"

/* ---------------------------------------------------------------- requests from a compact text */

#define REQ_CELLS_MAX 64
#define REQ_PINS_MAX 64

/*
 * "v=8 t=2 mem=8G pg=2M cells=0-3#4G,4-7#4G memcell=2G bind=-1,1 keep=0#2,1#3 emu io=1 pol=isolate"
 * cells= is guestnuma's grammar; memcell= appends a cell without vCPUs; keep= is cputune's.
 */
typedef struct Req {
        HpvmPlaceRequest r;
        HpvmGuestCell cells[REQ_CELLS_MAX];
        int bind[REQ_CELLS_MAX];
        HpvmPin pins[REQ_PINS_MAX];
        HpvmPinList keep;
} Req;

static void req_parse(const char *spec, Req *q)
{
        char buf[1024], *save = NULL;

        memset(q, 0, sizeof(*q));
        ck_assert_uint_lt(strlen(spec), sizeof(buf));
        strcpy(buf, spec);
        for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
                char *val = strchr(tok, '=');
                HpvmError err = { 0 };
                uint64_t n = 0;

                if (val)
                        *val++ = '\0';
                if (!strcmp(tok, "emu")) {
                        q->r.emulator = true;
                } else if (!strcmp(tok, "v") || !strcmp(tok, "t") || !strcmp(tok, "io")) {
                        ck_assert_int_eq(hpvm_parse_u64(val, strlen(val), UINT32_MAX, &n), 0);
                        *(!strcmp(tok, "v") ? &q->r.vcpus : !strcmp(tok, "t") ? &q->r.threads : &q->r.iothreads) =
                                (unsigned)n;
                } else if (!strcmp(tok, "mem") || !strcmp(tok, "pg")) {
                        ck_assert_int_eq(hpvm_parse_size_kib(val, strlen(val), UINT64_MAX, &n), 0);
                        *(!strcmp(tok, "mem") ? &q->r.mem_kib : &q->r.page_kib) = n;
                } else if (!strcmp(tok, "cells")) {
                        HpvmGuestNuma g = { 0 };

                        ck_assert_msg(hpvm_prop_guestnuma_parse(val, &g, &err) == 0, "%s", err.msg);
                        ck_assert_uint_le(q->r.ncells + g.n, REQ_CELLS_MAX);
                        memcpy(q->cells + q->r.ncells, g.cells, g.n * sizeof(*g.cells));
                        q->r.ncells += g.n;
                        hpvm_guestnuma_clear(&g);
                } else if (!strcmp(tok, "memcell")) {
                        ck_assert_uint_lt(q->r.ncells, REQ_CELLS_MAX);
                        ck_assert_int_eq(hpvm_parse_size_kib(val, strlen(val), UINT64_MAX, &n), 0);
                        hpvm_cpuset_zero(&q->cells[q->r.ncells].vcpus);
                        q->cells[q->r.ncells++].mem_kib = n;
                } else if (!strcmp(tok, "bind")) {
                        size_t k = 0;

                        for (char *s = val; *s; k++) {
                                ck_assert_uint_lt(k, REQ_CELLS_MAX);
                                q->bind[k] = (int)strtol(s, &s, 10);
                                if (*s == ',')
                                        s++;
                        }
                        q->r.cell_node = q->bind;
                } else if (!strcmp(tok, "keep")) {
                        HpvmPinList l = { 0 };

                        ck_assert_msg(hpvm_prop_cputune_parse(val, &l, &err) == 0, "%s", err.msg);
                        ck_assert_uint_le(l.n, REQ_PINS_MAX);
                        memcpy(q->pins, l.pins, l.n * sizeof(*l.pins));
                        q->keep.n = l.n;
                        q->keep.pins = q->pins;
                        q->r.keep = &q->keep;
                        hpvm_pinlist_clear(&l);
                } else if (!strcmp(tok, "pol")) {
                        ck_assert_msg(hpvm_prop_cpupolicy_parse(val, &q->r.policy, &err) == 0, "%s", err.msg);
                } else {
                        ck_abort_msg("request spec: unknown '%s'", tok);
                }
        }
        q->r.cells = q->r.ncells ? q->cells : NULL;
}

/* ---------------------------------------------------------------- rendering a placement */

static const char *mem_str(uint64_t kib, char *buf, size_t size)
{
        if (kib && kib % (1024 * 1024) == 0)
                snprintf(buf, size, "%lluG", (unsigned long long)(kib >> 20));
        else if (kib && kib % 1024 == 0)
                snprintf(buf, size, "%lluM", (unsigned long long)(kib >> 10));
        else
                snprintf(buf, size, "%lluK", (unsigned long long)kib);
        return buf;
}

/* "0-3:4G@0 4-7:4G@1 | 2,3,4,5,8,9,10,11 | E6 I6 | h7 | k2" (helpers, held siblings, kept when any) */
static void render(const HpvmPlacement *p, char *out, size_t size)
{
        char set[HPVM_CPUSET_STRMAX], m[32];
        HpvmCpuSet rest = p->held;
        size_t len = 0;

#define ADD(...) (len += (size_t)snprintf(out + len, len < size ? size - len : 0, __VA_ARGS__))
        out[0] = '\0';
        for (size_t j = 0; j < p->ncells; j++) {
                hpvm_cpuset_format(&p->cells[j].vcpus, set, sizeof(set));
                ADD("%s%s:%s@%u", j ? " " : "", set[0] ? set : "-", mem_str(p->cells[j].mem_kib, m, sizeof(m)),
                    p->cell_node[j]);
        }
        ADD(" |");
        for (unsigned v = 0; v < p->nvcpus; v++) {
                ADD("%s%u", v ? "," : " ", p->vcpu_cpu[v]);
                hpvm_cpuset_clear(&rest, p->vcpu_cpu[v]);
        }
        if (!hpvm_cpuset_is_empty(&p->emulator) || !hpvm_cpuset_is_empty(&p->iothreads)) {
                ADD(" |");
                if (!hpvm_cpuset_is_empty(&p->emulator)) {
                        hpvm_cpuset_format(&p->emulator, set, sizeof(set));
                        ADD(" E%s%s", p->helpers_shared ? "*" : "", set);
                }
                if (!hpvm_cpuset_is_empty(&p->iothreads)) {
                        hpvm_cpuset_format(&p->iothreads, set, sizeof(set));
                        ADD(" I%s%s", p->helpers_shared ? "*" : "", set);
                }
                hpvm_cpuset_andnot(&rest, &p->emulator);
                hpvm_cpuset_andnot(&rest, &p->iothreads);
        }
        if (!hpvm_cpuset_is_empty(&rest)) {
                hpvm_cpuset_format(&rest, set, sizeof(set));
                ADD(" | h%s", set);
        }
        if (p->nkept)
                ADD(" | k%u", p->nkept);
#undef ADD
        ck_assert_uint_lt(len, size);
}

/* ---------------------------------------------------------------- what every placement must satisfy */

/* Host cores as this test sees them: siblings (through the public API) cut to one node's online CPUs. */
typedef struct TCore {
        unsigned node;          /* index */
        unsigned n, nfree;
        unsigned cpu[8];
} TCore;

typedef struct THost {
        size_t ncores;
        TCore core[HPVM_CPUSET_MAX];
        int core_of[HPVM_CPUSET_MAX];   /* CPU -> core, -1 */
        int node_of[HPVM_CPUSET_MAX];   /* CPU -> node index, -1 */
} THost;

static THost thost;

static bool cpu_free(const HpvmHost *h, const HpvmUsage *u, unsigned cpu)
{
        return hpvm_cpuset_test(&h->online, cpu) && !hpvm_cpuset_test(&u->reserved, cpu) &&
               !hpvm_cpuset_test(&u->taken, cpu);
}

static void thost_build(const HpvmHost *h, const HpvmUsage *u, THost *t)
{
        t->ncores = 0;
        for (size_t i = 0; i < HPVM_CPUSET_MAX; i++)
                t->core_of[i] = t->node_of[i] = -1;
        for (size_t i = 0; i < h->nnodes; i++) {
                HpvmCpuSet mine = h->nodes[i].cpus;

                hpvm_cpuset_and(&mine, &h->online);
                for (int c = hpvm_cpuset_next(&mine, 0); c >= 0; c = hpvm_cpuset_next(&mine, (unsigned)c + 1)) {
                        HpvmCpuSet sib;
                        TCore *co;

                        if (t->core_of[c] >= 0)
                                continue;
                        hpvm_host_siblings(h, (unsigned)c, &sib);
                        hpvm_cpuset_and(&sib, &mine);
                        co = &t->core[t->ncores];
                        memset(co, 0, sizeof(*co));
                        co->node = (unsigned)i;
                        for (int s = hpvm_cpuset_next(&sib, 0); s >= 0; s = hpvm_cpuset_next(&sib, (unsigned)s + 1)) {
                                ck_assert_uint_lt(co->n, 8);
                                co->cpu[co->n++] = (unsigned)s;
                                co->nfree += cpu_free(h, u, (unsigned)s);
                                t->core_of[s] = (int)t->ncores;
                                t->node_of[s] = (int)i;
                        }
                        t->ncores++;
                }
        }
}

/* Free memory of node index @i in the units the rules use; UINT64_MAX when unknown. */
static uint64_t free_units(const HpvmHost *h, const HpvmUsage *u, size_t i, uint64_t page_kib, uint64_t unit)
{
        uint64_t f;

        if (page_kib)
                return hpvm_usage_free_pages(h, u, i, page_kib);
        f = u->node[i].mem_kib;
        if (f == HPVM_MEM_UNKNOWN)
                f = h->nodes[i].mem_kib;
        return f == HPVM_MEM_UNKNOWN ? UINT64_MAX : f / unit;
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
        return a / b + (a % b != 0);
}

/* Check every promise of placement.h; @ctx names the case in messages. */
static void check_placement(const HpvmHost *h, const HpvmUsage *u, const HpvmPlaceRequest *r, const HpvmPlacement *p,
                            const char *ctx)
{
        THost *t = &thost;
        unsigned V = r->vcpus, g = r->policy == HPVM_POLICY_DEDICATED && r->threads > 1 ? r->threads : 1;
        int cell_of[HPVM_CPUSET_MAX];
        HpvmCpuSet seen, vcpu_cpus, helpers, nodes;
        uint64_t unit = r->page_kib ? r->page_kib : r->ncells ? 1 : 1024;
        uint64_t *used = calloc(h->nnodes, sizeof(uint64_t));
        uint64_t total = 0;

        ck_assert_ptr_nonnull(used);
        thost_build(h, u, t);
        hpvm_cpuset_zero(&seen);
        hpvm_cpuset_zero(&vcpu_cpus);
        hpvm_cpuset_zero(&nodes);
        ck_assert_msg(p->nvcpus == V, "%s: %u vCPUs placed, %u asked", ctx, p->nvcpus, V);
        ck_assert_msg(p->score >= 0 && p->score <= 1000, "%s: score %d", ctx, p->score);

        /* cells: given ones unchanged; made ones a partition, memory the VM's rounded up to the unit */
        for (unsigned v = 0; v < V; v++)
                cell_of[v] = -1;
        if (r->ncells) {
                ck_assert_msg(p->ncells == r->ncells, "%s: %zu cells, %zu given", ctx, p->ncells, r->ncells);
                for (size_t j = 0; j < r->ncells; j++) {
                        ck_assert_msg(hpvm_cpuset_equal(&p->cells[j].vcpus, &r->cells[j].vcpus) &&
                                      p->cells[j].mem_kib == r->cells[j].mem_kib, "%s: cell %zu changed", ctx, j);
                        if (r->cell_node && r->cell_node[j] >= 0)
                                ck_assert_msg(p->cell_node[j] == (unsigned)r->cell_node[j],
                                              "%s: cell %zu on node %u, bound to %d", ctx, j, p->cell_node[j],
                                              r->cell_node[j]);
                }
        }
        for (size_t j = 0; j < p->ncells; j++) {
                int ni = hpvm_host_node_index(h, p->cell_node[j]);

                ck_assert_msg(ni >= 0, "%s: cell %zu on node %u, which the host lacks", ctx, j, p->cell_node[j]);
                hpvm_cpuset_set(&nodes, p->cell_node[j]);
                for (int v = hpvm_cpuset_next(&p->cells[j].vcpus, 0); v >= 0; v = hpvm_cpuset_next(&p->cells[j].vcpus, (unsigned)v + 1)) {
                        ck_assert_msg(v < (int)V && cell_of[v] < 0, "%s: vCPU %d in two cells or past the end", ctx, v);
                        cell_of[v] = (int)j;
                }
                used[ni] += r->page_kib ? div_up(p->cells[j].mem_kib, r->page_kib) : p->cells[j].mem_kib / unit;
                total += p->cells[j].mem_kib;
                if (!r->ncells)
                        ck_assert_msg(!hpvm_cpuset_is_empty(&p->cells[j].vcpus), "%s: made cell %zu is empty", ctx, j);
        }
        ck_assert_msg(hpvm_cpuset_equal(&nodes, &p->nodes), "%s: nodes set differs from the cells' nodes", ctx);
        if (!r->ncells) {
                uint64_t au = r->page_kib ? r->page_kib : 1024;

                ck_assert_msg(total == div_up(r->mem_kib, au) * au, "%s: made cells hold %llu KiB, VM %llu", ctx,
                              (unsigned long long)total, (unsigned long long)r->mem_kib);
        }
        for (size_t i = 0; i < h->nnodes; i++)
                ck_assert_msg(used[i] <= free_units(h, u, i, r->page_kib, unit), "%s: node %u overcommitted: %llu units",
                              ctx, h->nodes[i].id, (unsigned long long)used[i]);
        free(used);

        /* vCPUs: each on its own free CPU, on its cell's node */
        for (unsigned v = 0; v < V; v++) {
                unsigned cpu = p->vcpu_cpu[v];

                ck_assert_msg(cell_of[v] >= 0, "%s: vCPU %u in no cell", ctx, v);
                ck_assert_msg(cpu < HPVM_CPUSET_MAX && cpu_free(h, u, cpu), "%s: vCPU %u on CPU %u, not free", ctx, v, cpu);
                ck_assert_msg(!hpvm_cpuset_test(&seen, cpu), "%s: CPU %u holds two vCPUs", ctx, cpu);
                hpvm_cpuset_set(&seen, cpu);
                ck_assert_msg(t->node_of[cpu] >= 0 && h->nodes[t->node_of[cpu]].id == p->cell_node[cell_of[v]],
                              "%s: vCPU %u on CPU %u, off its cell's node %u", ctx, v, cpu, p->cell_node[cell_of[v]]);
        }
        vcpu_cpus = seen;

        /* policy */
        for (unsigned v = 0; v < V; v++) {
                const TCore *co = &t->core[t->core_of[p->vcpu_cpu[v]]];

                if (g > 1)
                        ck_assert_msg(t->core_of[p->vcpu_cpu[v]] == t->core_of[p->vcpu_cpu[v - v % g]],
                                      "%s: guest core of vCPU %u split over host cores", ctx, v);
                if (r->policy == HPVM_POLICY_ISOLATE)
                        for (unsigned k = 0; k < co->n; k++) {
                                ck_assert_msg(co->cpu[k] == p->vcpu_cpu[v] || !hpvm_cpuset_test(&vcpu_cpus, co->cpu[k]),
                                              "%s: isolate: vCPU %u shares its core", ctx, v);
                                ck_assert_msg(hpvm_cpuset_test(&p->held, co->cpu[k]), "%s: isolate: sibling %u not held",
                                              ctx, co->cpu[k]);
                        }
                if (r->policy == HPVM_POLICY_SIBLINGS)
                        for (unsigned k = 0; k < co->n; k++) {
                                unsigned w;

                                for (w = 0; w < V && p->vcpu_cpu[w] != co->cpu[k]; w++)
                                        ;
                                ck_assert_msg(w < V && cell_of[w] == cell_of[v],
                                              "%s: siblings: core of vCPU %u half used (CPU %u)", ctx, v, co->cpu[k]);
                        }
        }

        /* helpers */
        helpers = p->emulator;
        hpvm_cpuset_or(&helpers, &p->iothreads);
        ck_assert_msg(hpvm_cpuset_is_empty(&p->emulator) == !r->emulator, "%s: emulator pin", ctx);
        ck_assert_msg(hpvm_cpuset_is_empty(&p->iothreads) == !r->iothreads, "%s: IO thread pin", ctx);
        if (r->emulator && r->iothreads)
                ck_assert_msg(hpvm_cpuset_equal(&p->emulator, &p->iothreads), "%s: helpers on two pins", ctx);
        if (!hpvm_cpuset_is_empty(&helpers)) {
                if (p->helpers_shared) {
                        HpvmCpuSet want;

                        hpvm_cpuset_zero(&want);
                        for (unsigned v = 0; v < V; v++)
                                if (hpvm_cpuset_is_empty(&p->cells[0].vcpus) || cell_of[v] == 0)
                                        hpvm_cpuset_set(&want, p->vcpu_cpu[v]);
                        ck_assert_msg(hpvm_cpuset_equal(&helpers, &want), "%s: shared helpers not on cell 0's vCPUs", ctx);
                } else {
                        int first = hpvm_cpuset_next(&helpers, 0);
                        const TCore *co = &t->core[t->core_of[first]];

                        ck_assert_msg(!hpvm_cpuset_intersects(&helpers, &vcpu_cpus), "%s: helpers on a vCPU's CPU", ctx);
                        ck_assert_msg(h->nodes[co->node].id == p->cell_node[0], "%s: helpers off cell 0's node", ctx);
                        ck_assert_msg(hpvm_cpuset_count(&helpers) ==
                                      (r->policy == HPVM_POLICY_SIBLINGS ? co->n : 1), "%s: helper CPU count", ctx);
                        for (int c = first; c >= 0; c = hpvm_cpuset_next(&helpers, (unsigned)c + 1))
                                ck_assert_msg(cpu_free(h, u, (unsigned)c), "%s: helper CPU %d not free", ctx, c);
                        if (r->policy != HPVM_POLICY_DEDICATED)
                                for (unsigned k = 0; k < co->n; k++)
                                        ck_assert_msg(hpvm_cpuset_test(&p->held, co->cpu[k]) &&
                                                      cpu_free(h, u, co->cpu[k]), "%s: helper core not whole", ctx);
                }
        }

        /* held: the vCPUs, the helpers, and siblings of cores the VM has whole; all free */
        ck_assert_msg(hpvm_cpuset_is_subset(&vcpu_cpus, &p->held), "%s: a vCPU's CPU is not held", ctx);
        if (!p->helpers_shared)
                ck_assert_msg(hpvm_cpuset_is_subset(&helpers, &p->held), "%s: a helper CPU is not held", ctx);
        for (int c = hpvm_cpuset_next(&p->held, 0); c >= 0; c = hpvm_cpuset_next(&p->held, (unsigned)c + 1)) {
                ck_assert_msg(cpu_free(h, u, (unsigned)c), "%s: held CPU %d is not free", ctx, c);
                if (!hpvm_cpuset_test(&vcpu_cpus, (unsigned)c) && !hpvm_cpuset_test(&helpers, (unsigned)c))
                        ck_assert_msg(r->policy == HPVM_POLICY_ISOLATE, "%s: CPU %d held for nothing", ctx, c);
        }

        /* kept pins are pins the request asked for */
        if (p->nkept) {
                unsigned match = 0;

                ck_assert_ptr_nonnull(r->keep);
                for (size_t k = 0; k < r->keep->n; k++)
                        if (r->keep->pins[k].id < V && hpvm_cpuset_count(&r->keep->pins[k].cpus) == 1 &&
                            hpvm_cpuset_test(&r->keep->pins[k].cpus, p->vcpu_cpu[r->keep->pins[k].id]))
                                match++;
                ck_assert_msg(match >= p->nkept, "%s: %u pins kept, %u match", ctx, p->nkept, match);
        }
}

/* ---------------------------------------------------------------- a brute force of the same rules */

/* Can whole-free cores of node @ni be split so that cells get exactly need[0..k) threads each? */
static bool siblings_split(const THost *t, unsigned ni, size_t ci, unsigned *need, size_t k, unsigned left)
{
        if (left == 0)
                return true;
        for (; ci < t->ncores; ci++) {
                const TCore *co = &t->core[ci];

                if (co->node != ni || co->nfree != co->n || !co->n)
                        continue;
                for (size_t j = 0; j < k; j++)
                        if (need[j] >= co->n) {
                                bool ok;

                                need[j] -= co->n;
                                ok = siblings_split(t, ni, ci + 1, need, k, left - co->n);
                                need[j] += co->n;
                                if (ok)
                                        return true;
                        }
                /* or leave this core unused: continue with the next */
        }
        return false;
}

/* Node @ni's CPUs hold cells of these vCPU counts under the policy. */
static bool node_holds(const THost *t, const HpvmPlaceRequest *r, unsigned ni, const unsigned *n, size_t k)
{
        unsigned g = r->policy == HPVM_POLICY_DEDICATED && r->threads > 1 ? r->threads : 1;
        unsigned sum = 0, slots = 0, need[REQ_CELLS_MAX];

        for (size_t j = 0; j < k; j++) {
                sum += n[j];
                need[j] = n[j];
        }
        if (sum == 0)
                return true;
        for (size_t ci = 0; ci < t->ncores; ci++) {
                const TCore *co = &t->core[ci];

                if (co->node != ni)
                        continue;
                if (r->policy == HPVM_POLICY_DEDICATED)
                        slots += co->nfree / g;
                else if (co->nfree == co->n)
                        slots += r->policy == HPVM_POLICY_ISOLATE ? 1 : co->n;
        }
        if (r->policy == HPVM_POLICY_DEDICATED) {
                for (size_t j = 0; j < k; j++)
                        if (n[j] % g)
                                return false;
                return sum / g <= slots;
        }
        if (r->policy == HPVM_POLICY_ISOLATE)
                return sum <= slots;
        return sum <= slots && siblings_split(t, ni, 0, need, k, sum);
}

typedef struct Brute {
        const HpvmHost *h;
        const HpvmUsage *u;
        const HpvmPlaceRequest *r;
        const THost *t;
        unsigned ncell[REQ_CELLS_MAX];
        uint64_t ucell[REQ_CELLS_MAX];
        int node_of[REQ_CELLS_MAX];
} Brute;

static bool brute_node_ok(const Brute *b, unsigned ni, size_t upto)
{
        unsigned n[REQ_CELLS_MAX];
        uint64_t units = 0;
        size_t k = 0;

        for (size_t j = 0; j < upto; j++)
                if (b->node_of[j] == (int)ni) {
                        n[k++] = b->ncell[j];
                        units += b->ucell[j];
                }
        return units <= free_units(b->h, b->u, ni, b->r->page_kib, b->r->page_kib ? b->r->page_kib : 1) &&
               node_holds(b->t, b->r, ni, n, k);
}

static bool brute_given(Brute *b, size_t j)
{
        if (j == b->r->ncells)
                return true;
        for (size_t i = 0; i < b->h->nnodes; i++) {
                if (b->r->cell_node && b->r->cell_node[j] >= 0 && b->h->nodes[i].id != (unsigned)b->r->cell_node[j])
                        continue;
                b->node_of[j] = (int)i;
                if (brute_node_ok(b, (unsigned)i, j + 1) && brute_given(b, j + 1))
                        return true;
        }
        b->node_of[j] = -1;
        return false;
}

/* Engine-made cells: some count per node, each node holding its count and its share of the memory. */
static bool brute_auto(const Brute *b, size_t i, unsigned left, uint64_t U)
{
        const HpvmPlaceRequest *r = b->r;
        uint64_t unit = r->page_kib ? r->page_kib : 1024;

        if (i == b->h->nnodes)
                return left == 0;
        for (unsigned c = 0; c <= left; c++) {
                uint64_t f = free_units(b->h, b->u, i, r->page_kib, unit);

                if (c && div_up(U * c, r->vcpus) > f)
                        break;
                if (node_holds(b->t, r, (unsigned)i, &c, 1) && brute_auto(b, i + 1, left - c, U))
                        return true;
        }
        return false;
}

static bool brute_fits(const HpvmHost *h, const HpvmUsage *u, const HpvmPlaceRequest *r)
{
        Brute b = { .h = h, .u = u, .r = r, .t = &thost };

        thost_build(h, u, &thost);
        if (!r->ncells) {
                uint64_t unit = r->page_kib ? r->page_kib : 1024;

                return brute_auto(&b, 0, r->vcpus, div_up(r->mem_kib, unit));
        }
        for (size_t j = 0; j < r->ncells; j++) {
                b.ncell[j] = hpvm_cpuset_count(&r->cells[j].vcpus);
                b.ucell[j] = r->page_kib ? div_up(r->cells[j].mem_kib, r->page_kib) : r->cells[j].mem_kib;
                b.node_of[j] = -1;
        }
        return brute_given(&b, 0);
}

/* ---------------------------------------------------------------- placements that fit */

static const struct {
        const char *name;
        const char *host;
        const char *req;
        const char *want;       /* render() of the placement */
        int score;              /* -1: not checked */
} fits[] = {
        /* one node, no SMT: vCPUs in order, memory whole */
        { "1 node", "1x4x1", "v=2 mem=4G", "0-1:4G@0 | 0,1", 925 },
        { "1 node, reserved, emulator", "1x4x2 res=0-1", "v=4 mem=1G emu io=1",
          "0-3:1G@0 | 2,3,4,5 | E6 I6", -1 },
        { "dedicated: remainder where it fits best", "1x4x2 taken=1", "v=3 mem=1G", "0-2:1G@0 | 2,3,0", -1 },
        { "dedicated: whole cores first", "1x4x2 taken=2", "v=2 mem=1G", "0-1:1G@0 | 0,1", -1 },
        { "dedicated threads=2: guest cores on host cores", "1x4x2 taken=1,2", "v=4 t=2 mem=1G",
          "0-3:1G@0 | 4,5,6,7", -1 },
        { "dedicated threads=2, Linux numbering", "1x4x2 ids=linux taken=0", "v=4 t=2 mem=1G",
          "0-3:1G@0 | 1,5,2,6", -1 },
        { "dedicated: emulator beside a used thread", "1x4x2", "v=3 mem=1G emu", "0-2:1G@0 | 0,1,2 | E3", -1 },
        { "isolate: siblings held", "1x4x2 ids=linux", "v=2 mem=1G pol=isolate emu io=2",
          "0-1:1G@0 | 0,1 | E2 I2 | h4-6", -1 },
        { "isolate prefers 1-thread cores", "1x4x2 offline=7", "v=1 mem=1G pol=isolate", "0:1G@0 | 6", -1 },
        { "siblings: whole cores", "1x4x2", "v=4 mem=1G pol=siblings emu", "0-3:1G@0 | 0,1,2,3 | E4-5", -1 },
        { "siblings: cores of two sizes", "1x4x2 offline=7", "v=3 mem=1G pol=siblings", "0-2:1G@0 | 6,0,1", -1 },
        { "no room for helpers: shared", "1x2x2", "v=4 mem=1G emu", "0-3:1G@0 | 0,1,2,3 | E*0-3", -1 },
        { "helpers move the VM to the node with room", "2x4x2 res=0-1", "v=6 t=2 mem=8G emu io=1",
          "0-5:8G@1 | 8,9,10,11,12,13 | E14 I14", 932 },
        { "made cells: two nodes, anchor keeps room for helpers", "2x4x2 res=0-1 dist=10,21,21,10",
          "v=12 t=2 mem=8G emu", "0-5:4G@1 6-11:4G@0 | 8,9,10,11,12,13,2,3,4,5,6,7 | E14", -1 },
        { "made cells: memory split by vCPUs in MiB", "2x4x1", "v=6 mem=4G", "0-3:2730M@0 4-5:1366M@1 | 0,1,2,3,4,5",
          -1 },
        { "made cells: pages short on node 0", "2x4x1 hp=2M:1024 hpfree=2M:100,1024", "v=4 mem=1G pg=2M",
          "0-3:1G@1 | 4,5,6,7", -1 },
        { "made cells: CPU-less node never used", "3x4,0,4x1 mem=1G,64G,1G", "v=8 mem=1536M",
          "0-3:768M@0 4-7:768M@2 | 0,1,2,3,4,5,6,7", -1 },
        { "made cells: the nearest nodes", "4x4x1 dist=group:2:12:32", "v=6 mem=2G",
          "0-3:1365M@0 4-5:683M@1 | 0,1,2,3,4,5", -1 },
        { "unknown memory fits", "2x4x1 mem=?", "v=2 mem=100G", "0-1:100G@0 | 0,1", -1 },
        { "unknown free memory: the total counts", "1x4x1 mem=8G free=?", "v=2 mem=6G", "0-1:6G@0 | 0,1", -1 },
        { "non-contiguous ids", "2x2x1 nid=0,8 gap=10 taken=0", "v=3 mem=1G",
          "0-1:682M@8 2:342M@0 | 12,13,1", -1 },
        { "given cells: distinct nearest nodes", "4x4x2 dist=group:2:12:32", "v=8 cells=0-3#4G,4-7#4G emu",
          "0-3:4G@0 4-7:4G@1 | 0,1,2,3,8,9,10,11 | E4", 695 },
        { "given cells: bound cell, the other beside it", "4x4x1 dist=group:2:12:32", "v=4 cells=0-1#1G,2-3#1G bind=-1,3",
          "0-1:1G@2 2-3:1G@3 | 8,9,12,13", -1 },
        { "given cells: share a node when they must", "2x8x1 mem=16G,1G", "v=4 cells=0-1#4G,2-3#4G",
          "0-1:4G@0 2-3:4G@0 | 0,1,2,3", -1 },
        { "given cells: a memory-only cell on a CPU-less node", "2x4,0x1 mem=4G,64G", "v=4 cells=0-3#2G memcell=32G",
          "0-3:2G@0 -:32G@1 | 0,1,2,3", -1 },
        { "given cells: huge pages short on node 0", "2x4x1 hp=2M:1024 hpfree=2M:100,1024", "v=4 pg=2M cells=0-1#100M,2-3#1G",
          "0-1:100M@0 2-3:1G@1 | 0,1,4,5", -1 },
        { "given cells: threads=2 cells of whole guest cores", "2x4x2", "v=8 t=2 cells=0-3#1G,4-7#1G",
          "0-3:1G@0 4-7:1G@1 | 0,1,2,3,8,9,10,11", -1 },
        { "16 nodes, 8 cells of 28", "16x16x2 dist=group:4:12:32 res=0,32,64,96,128,160,192,224,256,288,320,352,384,416,448,480",
          "v=224 cells=0-27#4G,28-55#4G,56-83#4G,84-111#4G,112-139#4G,140-167#4G,168-195#4G,196-223#4G", NULL, -1 },
        { "16 nodes, made cells, 448 vCPUs", "16x16x2 mem=64G dist=group:4:12:32 res=0,32,64,96,128,160,192,224,256,288,320,352,384,416,448,480",
          "v=448 mem=448G emu io=1", NULL, -1 },
        /* pins to keep */
        { "keep: valid pins stay, the rest re-fit", "1x8x1", "v=4 mem=1G keep=0#5,1#6", "0-3:1G@0 | 5,6,0,1 | k2", -1 },
        { "keep: a taken CPU is not kept", "1x8x1 taken=5", "v=2 mem=1G keep=0#5,1#6", "0-1:1G@0 | 0,6 | k1", -1 },
        { "keep: a pin to several CPUs is re-fitted", "1x8x1", "v=2 mem=1G keep=0#5-6,1#7", "0-1:1G@0 | 0,7 | k1", -1 },
        { "keep: the cell follows its pins", "2x4x1", "v=2 cells=0-1#1G keep=0#4,1#5", "0-1:1G@1 | 4,5 | k2", -1 },
        { "keep: no room there, placed afresh", "2x4x1 mem=8G,1G", "v=2 cells=0-1#4G keep=0#4,1#5",
          "0-1:4G@0 | 0,1", -1 },
        { "keep: threads=2 guest cores kept whole", "1x4x2", "v=4 t=2 mem=1G keep=0#2,1#3,2#4,3#6",
          "0-3:1G@0 | 2,3,0,1 | k2", -1 },
        { "keep: isolate keeps whole cores only", "1x4x2 taken=5", "v=2 mem=1G pol=isolate keep=0#4,1#6",
          "0-1:1G@0 | 0,6 | h1,7 | k1", -1 },
        { "keep: made cells take the kept node", "2x4x1", "v=2 mem=1G keep=0#6", "0-1:1G@1 | 6,4 | k1", -1 },
};

START_TEST(test_fits)
{
        HpvmUsage *u = NULL;
        HpvmHost *h = th_host(fits[_i].host, &u);
        HpvmPlacement *p = NULL;
        HpvmError err = { 0 };
        char out[8192], ctx[256];
        Req q;
        int r;

        req_parse(fits[_i].req, &q);
        r = hpvm_place(h, u, &q.r, &p, &err);
        ck_assert_msg(r == 0, "%s: %d %s", fits[_i].name, r, err.msg);
        snprintf(ctx, sizeof(ctx), "%s", fits[_i].name);
        check_placement(h, u, &q.r, p, ctx);
        render(p, out, sizeof(out));
        if (fits[_i].want)
                ck_assert_msg(!strcmp(out, fits[_i].want), "%s:\n got  '%s'\n want '%s'", fits[_i].name, out,
                              fits[_i].want);
        if (fits[_i].score >= 0)
                ck_assert_msg(p->score == fits[_i].score, "%s: score %d, want %d", fits[_i].name, p->score,
                              fits[_i].score);
        ck_assert(q.r.ncells > 5 || q.r.vcpus > 16 || brute_fits(h, u, &q.r));
        hpvm_placement_free(p);
        hpvm_host_free(h);
        hpvm_usage_free(u);
}
END_TEST

/* ---------------------------------------------------------------- refusals, word for word */

static const struct {
        const char *host;
        const char *req;
        int ret;
        const char *msg;
} refusals[] = {
        /* the whole host */
        { "1x4x2 res=0-1", "v=8 mem=1G", -ENOSPC, "the host has 6 free CPUs (after 2 reserved), the VM needs 8" },
        { "2x16x1 res=0,16 taken=1-8,17-24", "v=16 mem=1G", -ENOSPC,
          "the host has 14 free CPUs (after 2 reserved and 16 held by other VMs), the VM needs 16" },
        { "1x4x1 taken=0", "v=4 mem=1G", -ENOSPC, "the host has 3 free CPUs (after 1 held by other VMs), the VM needs 4" },
        { "1x4x2 res=0-1", "v=4 mem=1G pol=isolate", -ENOSPC,
          "the host has 3 free whole cores (after 2 reserved), the VM needs 4 (cpupolicy=isolate gives each vCPU a whole core)" },
        { "1x8x1", "v=4 t=2 mem=1G", -ENOSPC,
          "the host has 0 cores with 2 free threads, the VM needs 2 for its 4 vCPUs"
          " (cpupolicy=dedicated keeps the 2 threads of a guest core on one host core)" },
        { "1x4x2 taken=0,2,4", "v=4 mem=1G pol=siblings", -ENOSPC,
          "the host has 2 free CPUs in whole cores (after 3 held by other VMs), the VM needs 4 (cpupolicy=siblings uses whole cores only)" },
        { "1x4x2", "v=3 mem=1G pol=siblings", -ENOSPC,
          "cpupolicy=siblings: the VM's 3 vCPUs would leave a 2-thread core half used" },
        { "2x4x1 mem=8G free=8G,4G", "v=2 mem=16G", -ENOSPC, "the host has 12 GiB of free memory, the VM needs 16 GiB" },
        { "1x4x1 mem=8G free=?", "v=2 mem=10G", -ENOSPC, "the host has 8 GiB of free memory, the VM needs 10 GiB" },
        { "2x4x1 hp=2M:1024 hpfree=2M:100,3000", "v=8 pg=2M cells=0-3#4G,4-7#4G", -ENOSPC,
          "the host has 3100 free pages of 2 MiB, the VM needs 4096" },
        { "2x8,2x1 mem=1G,16G", "v=8 mem=8G", -ENOSPC,
          "no set of host nodes holds the VM's 8 vCPUs with their share of its 8 GiB"
          " (node 0 has 8 free CPUs and 1 GiB free, node 1 has 2 free CPUs and 16 GiB free)" },
        /* one guest cell */
        { "1x6x1 nid=1", "v=10 cells=0-1#1G,2-9#1G", -ENOSPC, "node 1 has 6 free CPUs, guest cell 1 needs 8" },
        { "2x8x1 taken=8-9", "v=16 cells=0-7#1G,8-15#1G bind=-1,1", -ENOSPC,
          "node 1 has 6 free CPUs, guest cell 1 needs 8 and is bound to it" },
        { "2x4x1 taken=0-1,4", "v=8 cells=0-3#1G,4-7#1G", -ENOSPC,
          "no host node has 4 free CPUs for guest cell 0 (node 0 has 2, node 1 has 3)" },
        { "2x4x2 taken=0,2,4,8", "v=6 pol=isolate cells=0-3#1G,4-5#1G", -ENOSPC,
          "no host node has 4 free whole cores for guest cell 0 (node 0 has 1, node 1 has 3;"
          " cpupolicy=isolate gives each vCPU a whole core)" },
        { "2x4x2 taken=0,2,4,8", "v=6 pol=isolate cells=0-2#1G,3-5#1G", -ENOSPC,
          "the host has 4 free whole cores (after 4 held by other VMs), the VM needs 6"
          " (cpupolicy=isolate gives each vCPU a whole core)" },
        { "2x4x1 mem=16G free=12G,8G", "v=4 cells=0-1#16G,2-3#1G", -ENOSPC,
          "no host node has 16 GiB of free memory for guest cell 0 (node 0 has 12 GiB free, node 1 has 8 GiB)" },
        { "2x4x1 hp=2M:1000 hpfree=2M:100,300", "v=4 pg=2M cells=0-1#100M,2-3#1G", -ENOSPC,
          "the VM needs 512 pages of 2 MiB on one node for guest cell 1; node 0 has 100 free, node 1 has 300" },
        { "3x4x1 mem=16G,4G,? taken=0-1,8-11", "v=4 cells=0-3#8G", -ENOSPC,
          "no host node has both 4 free CPUs and 8 GiB of free memory for guest cell 0"
          " (node 0 has 2 free CPUs and 16 GiB free, node 1 has 4 free CPUs and 4 GiB free,"
          " node 2 has 0 free CPUs and unknown memory)" },
        { "2x4x1 mem=8G,? taken=4-7", "v=8 cells=0-3#1G,4-7#1G", -ENOSPC,
          "the host has 4 free CPUs (after 4 held by other VMs), the VM needs 8" },
        { "2x4,2x1 mem=8G,?", "v=6 cells=0-2#7G,3#2G,4-5#1G", -ENOSPC,
          "the guest cells (3 vCPUs with 7 GiB, 1 vCPU with 2 GiB, 2 vCPUs with 1 GiB) do not fit together on the host nodes"
          " (node 0 has 4 free CPUs and 8 GiB free, node 1 has 2 free CPUs and unknown memory)" },
        { "2x4x1 mem=16G,4G taken=0-1", "v=4 cells=0-3#8G", -ENOSPC,
          "no host node has both 4 free CPUs and 8 GiB of free memory for guest cell 0"
          " (node 0 has 2 free CPUs and 16 GiB free, node 1 has 4 free CPUs and 4 GiB free)" },
        { "1x4x2", "v=4 pol=siblings cells=0-2#1G,3#1G", -ENOSPC,
          "cpupolicy=siblings: guest cell 0 has 3 vCPUs, which would leave a 2-thread core half used" },
        { "2x4x1", "v=2 cells=0#1G,1#1G bind=-1,5", -ENOSPC,
          "guest cell 1 is bound to node 5, which the host does not have" },
        /* cells that fit one by one, not together */
        { "2x5x1", "v=9 cells=0-2#1G,3-5#1G,6-8#1G", -ENOSPC,
          "the guest cells' vCPUs (3, 3, 3) do not fit by whole cells in the free CPUs of the host nodes"
          " (node 0 has 5 free CPUs, node 1 has 5 free CPUs)" },
        { "2x4x1 mem=8G", "v=3 cells=0#5G,1#5G,2#5G", -ENOSPC,
          "the guest cells' memory (5 GiB, 5 GiB, 5 GiB) does not fit by whole cells in the free memory of the host nodes"
          " (node 0 has 8 GiB, node 1 has 8 GiB)" },
        { "2x4x1 mem=8G", "v=8 cells=0-3#1G,4#7G,5-7#2G", -ENOSPC,
          "the guest cells (4 vCPUs with 1 GiB, 1 vCPU with 7 GiB, 3 vCPUs with 2 GiB) do not fit together on the host nodes"
          " (node 0 has 4 free CPUs and 8 GiB free, node 1 has 4 free CPUs and 8 GiB free)" },
        { "2x4x1 mem=8G", "v=6 cells=0-2#1G,3-5#1G bind=0,0", -ENOSPC,
          "the guest cells' vCPUs (3, 3) do not fit by whole cells in the free CPUs of the host nodes"
          " (node 0 has 4 free CPUs, node 1 has 4 free CPUs); guest cell 0 is bound to node 0; guest cell 1 is bound to node 0" },
        /* malformed requests */
        { "1x4x1", "v=0", -EINVAL, "the VM has no vCPUs" },
        { "1x4x1", "v=5000", -EINVAL, "the VM has 5000 vCPUs, more than the 4096 supported" },
        { "1x4x1", "v=6 t=4", -EINVAL, "cpupolicy=dedicated: the VM's 6 vCPUs are not a whole number of cores of 4 threads" },
        { "1x4x1", "v=4 cells=0-3#1G,3#1G", -EINVAL, "vCPU 3 is in guest cells 0 and 1" },
        { "1x4x1", "v=6 cells=0-3#1G,4#1G", -EINVAL, "vCPU 5 is in no guest cell" },
        { "1x4x1", "v=8 cells=0-3#1G,4-9#1G", -EINVAL, "guest cell 1 names vCPU 9, the VM has 8 vCPUs" },
        { "1x4x2", "v=4 t=2 cells=0-2#1G,3#1G", -EINVAL,
          "cpupolicy=dedicated: guest core 1 (vCPUs 2-3) is split between guest cells 0 and 1" },
        { "1x4x1", "v=1 io=65", -EINVAL, "the VM has 65 IO threads, more than the 64 supported" },
        { "1x4x1", "v=1 mem=5000T", -EINVAL, "the VM has 4.8 PiB of memory, more than the 4 PiB supported" },
};

START_TEST(test_refusals)
{
        HpvmUsage *u = NULL;
        HpvmHost *h = th_host(refusals[_i].host, &u);
        HpvmPlacement sentinel, *p = &sentinel;
        HpvmError err = { 0 };
        Req q;
        int r;

        req_parse(refusals[_i].req, &q);
        r = hpvm_place(h, u, &q.r, &p, &err);
        ck_assert_msg(r == refusals[_i].ret, "%s / %s: got %d (%s), want %d", refusals[_i].host, refusals[_i].req, r,
                      err.msg, refusals[_i].ret);
        ck_assert_ptr_eq(p, &sentinel);
        ck_assert_int_eq(err.code, r);
        ck_assert_uint_lt(strlen(err.msg), HPVM_ERR_MAX);
        ck_assert_msg(!strcmp(err.msg, refusals[_i].msg), "%s / %s:\n got  '%s'\n want '%s'", refusals[_i].host,
                      refusals[_i].req, err.msg, refusals[_i].msg);
        if (r == -ENOSPC && q.r.vcpus <= 16 && q.r.ncells <= 5)
                ck_assert_msg(!brute_fits(h, u, &q.r), "%s / %s: the brute force finds a fit", refusals[_i].host,
                              refusals[_i].req);
        hpvm_host_free(h);
        hpvm_usage_free(u);
}
END_TEST

START_TEST(test_messages_bounded)
{
        /* 64 nodes listed in a message: cut with "...", one line under HPVM_ERR_MAX. */
        HpvmUsage *u = NULL;
        HpvmHost *h = th_host("64x2x1 mem=1G", &u);
        HpvmPlacement *p = NULL;
        HpvmError err = { 0 };
        Req q;

        static const char *const reqs[][2] = {
                { "v=2 cells=0-1#8G", "no host node has 8 GiB of free memory for guest cell 0 (node 0 has 1 GiB free, node 1 has 1 GiB, " },
                { "v=4 cells=0-3#1G", "no host node has 4 free CPUs for guest cell 0 (node 0 has 2, node 1 has 2, " },
                { "v=4 pol=isolate cells=0-3#1G", "no host node has 4 free whole cores for guest cell 0 (node 0 has 2, " },
                { "v=200 mem=1G", "the host has 128 free CPUs, the VM needs 200" },
        };

        for (size_t k = 0; k < HPVM_ARRAY_SIZE(reqs); k++) {
                req_parse(reqs[k][0], &q);
                ck_assert_int_lt(hpvm_place(h, u, &q.r, &p, &err), 0);
                ck_assert_uint_lt(strlen(err.msg), HPVM_ERR_MAX - 1);
                ck_assert_msg(!strncmp(err.msg, reqs[k][1], strlen(reqs[k][1])), "%s", err.msg);
                if (k < 3)
                        ck_assert_msg(strstr(err.msg, ", ...") != NULL, "%s", err.msg);
        }
        hpvm_host_free(h);
        hpvm_usage_free(u);
}
END_TEST

START_TEST(test_bad_usage)
{
        HpvmUsage *u = NULL, *u2 = NULL;
        HpvmHost *h = th_host("2x2x1", &u);
        HpvmHost *h1 = th_host("1x2x1", &u2);
        HpvmPlacement *p = NULL;
        HpvmError err = { 0 };
        Req q;

        req_parse("v=1", &q);
        ck_assert_int_eq(hpvm_place(h1, u, &q.r, &p, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "the usage describes 2 nodes, the host has 1");
        q.r.policy = (HpvmCpuPolicy)7;
        ck_assert_int_eq(hpvm_place(h, u, &q.r, &p, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "CPU policy 7 is not one of dedicated, isolate, siblings");
        ck_assert_ptr_null(p);
        hpvm_placement_free(NULL);
        hpvm_host_free(h);
        hpvm_host_free(h1);
        hpvm_usage_free(u);
        hpvm_usage_free(u2);
}
END_TEST

/* ---------------------------------------------------------------- reserved CPUs, the map */

START_TEST(test_reserve_default)
{
        HpvmUsage *u = NULL;
        HpvmHost *h = th_host("3x4,0,2x2 ids=linux", &u);
        char buf[64];

        /* node 0: CPU 0 and its sibling 6; node 1 has no CPUs; node 2: CPU 4 and 10 */
        ck_assert_uint_eq(hpvm_usage_reserve_default(h, u), 4);
        hpvm_cpuset_format(&u->reserved, buf, sizeof(buf));
        ck_assert_str_eq(buf, "0,4,6,10");
        ck_assert_uint_eq(hpvm_usage_reserve_default(h, u), 0);
        hpvm_host_free(h);
        hpvm_usage_free(u);

        /* no siblings known: one CPU per node; offline CPUs skipped */
        h = th_host("2x2x2 notopo offline=0", &u);
        ck_assert_uint_eq(hpvm_usage_reserve_default(h, u), 2);
        hpvm_cpuset_format(&u->reserved, buf, sizeof(buf));
        ck_assert_str_eq(buf, "1,4");
        hpvm_host_free(h);
        hpvm_usage_free(u);
}
END_TEST

START_TEST(test_format_map)
{
        HpvmUsage *u = NULL;
        HpvmHost *h = th_host("2x2x2 mem=4G hp=2M:64 hpfree=2M:32,64 res=0 taken=5", &u);
        HpvmPlacement *p = NULL;
        HpvmError err = { 0 };
        char *text = NULL;
        Req q;

        req_parse("v=2 mem=1G pol=isolate emu keep=1#6", &q);
        ck_assert_int_eq(hpvm_place(h, u, &q.r, &p, &err), 0);
        ck_assert_int_eq(hpvm_placement_format_map(h, u, p, &text), 0);
        ck_assert_str_eq(text,
                         "score 566: 2 vCPUs in 2 guest cells on host nodes 0-1, 1 pin kept;"
                         " emulator and IO threads on CPU 6 (shared with vCPUs: no free CPU left)\n"
                         "guest cell 0 -> node 1: vCPUs 1, 512 MiB\n"
                         "guest cell 1 -> node 0: vCPUs 0, 512 MiB\n"
                         "node 0: 4 GiB free of 4 GiB, 32 of 64 pages of 2 MiB free\n"
                         "  0:R 1:.\n"
                         "  2:v0 3:h\n"
                         "node 1: 4 GiB free of 4 GiB, 64 of 64 pages of 2 MiB free\n"
                         "  4:. 5:T\n"
                         "  6:v1 7:h\n"
                         "legend: CPU:what, one core per line; vN vCPU N, E emulator and IO threads, h held idle, "
                         "R reserved, T taken by another VM, . free\n");
        free(text);
        hpvm_placement_free(p);
        hpvm_host_free(h);
        hpvm_usage_free(u);
}
END_TEST

/* ---------------------------------------------------------------- the score */

static int score_on(const char *host, const char *req)
{
        HpvmUsage *u = NULL;
        HpvmHost *h = th_host(host, &u);
        HpvmPlacement *p = NULL;
        HpvmError err = { 0 };
        Req q;
        int s;

        req_parse(req, &q);
        ck_assert_msg(hpvm_place(h, u, &q.r, &p, &err) == 0, "%s / %s: %s", host, req, err.msg);
        s = p->score;
        hpvm_placement_free(p);
        hpvm_host_free(h);
        hpvm_usage_free(u);
        return s;
}

static const struct {
        const char *why;
        const char *host_hi, *host_lo, *req;
} better[] = {
        { "more free CPUs", "1x8x1", "1x8x1 taken=6-7", "v=4 mem=1G" },
        { "more free memory", "1x8x1 mem=16G", "1x8x1 mem=16G free=8G", "v=4 mem=1G" },
        { "more free pages", "1x8x1 hp=2M:1024", "1x8x1 hp=2M:1024 hpfree=2M:600", "v=4 mem=1G pg=2M" },
        { "fewer nodes", "2x8x1", "4x4x1", "v=8 mem=1G" },
        { "fewer nodes, given cells that may share", "1x8x1", "2x4x1", "v=8 cells=0-3#1G,4-7#1G" },
        { "nearer nodes", "2x4x1 dist=10,12,12,10", "2x4x1 dist=10,30,30,10", "v=8 mem=1G" },
        { "whole cores", "1x4x2", "1x4x2 taken=0,2,4", "v=2 mem=1G" },
        { "fewer nodes even with less room", "2x8x1 taken=8-15 mem=16G free=8G", "8x4x1", "v=8 mem=1G" },
};

START_TEST(test_score_order)
{
        int hi = score_on(better[_i].host_hi, better[_i].req), lo = score_on(better[_i].host_lo, better[_i].req);

        ck_assert_msg(hi > lo, "%s: %d <= %d", better[_i].why, hi, lo);
}
END_TEST

START_TEST(test_score_picks_near_pair)
{
        /* Node 2 is far from everything: the engine pairs 0 and 1, from any anchor. */
        HpvmUsage *u = NULL;
        HpvmHost *h = th_host("3x4x1 dist=10,12,40,12,10,40,40,40,10", &u);
        HpvmPlacement *p = NULL;
        HpvmError err = { 0 };
        char buf[32];
        Req q;

        req_parse("v=8 mem=1G", &q);
        ck_assert_int_eq(hpvm_place(h, u, &q.r, &p, &err), 0);
        hpvm_cpuset_format(&p->nodes, buf, sizeof(buf));
        ck_assert_str_eq(buf, "0-1");
        hpvm_placement_free(p);
        req_parse("v=8 cells=0-3#1G,4-7#1G", &q);
        ck_assert_int_eq(hpvm_place(h, u, &q.r, &p, &err), 0);
        hpvm_cpuset_format(&p->nodes, buf, sizeof(buf));
        ck_assert_str_eq(buf, "0-1");
        hpvm_placement_free(p);
        hpvm_host_free(h);
        hpvm_usage_free(u);
}
END_TEST

/* ---------------------------------------------------------------- generated hosts and requests */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)       /* 0 .. n-1; splitmix64 */
{
        uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        z ^= z >> 31;
        return n ? (uint32_t)(z % n) : 0;
}

static size_t addf(char *s, size_t size, size_t len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static size_t addf(char *s, size_t size, size_t len, const char *fmt, ...)
{
        va_list ap;
        int w;

        va_start(ap, fmt);
        w = vsnprintf(s + len, len < size ? size - len : 0, fmt, ap);
        va_end(ap);
        ck_assert(w >= 0 && len + (size_t)w < size);
        return len + (size_t)w;
}

typedef struct GenHost {
        unsigned ncpu;
        bool smt;               /* some core has 2 threads */
        bool pages;             /* nodes have 2 MiB pages */
} GenHost;

/* A small host: at most 4 nodes and 16 CPUs, SMT on, off or mixed, partly used. */
static void gen_host(char *s, size_t size, GenHost *gh)
{
        unsigned nn = 1 + rnd(4), cores[4], threads[4], ncpu = 0, smt = rnd(3);
        bool pages = rnd(3) == 0;
        size_t len = 0;

        for (unsigned k = 0; k < nn; k++) {
                threads[k] = smt == 0 ? 1 : smt == 1 ? 2 : 1 + rnd(2);
                cores[k] = 1 + rnd(16 / nn / threads[k]);
                if (nn > 1 && rnd(6) == 0)
                        cores[k] = 0;           /* CPU-less node */
                ncpu += cores[k] * threads[k];
        }
        len = addf(s, size, len, "%u", nn);
        for (unsigned k = 0; k < nn; k++)
                len = addf(s, size, len, "%s%u", k ? "," : "x", cores[k]);
        for (unsigned k = 0; k < nn; k++)
                len = addf(s, size, len, "%s%u", k ? "," : "x", threads[k]);
        if (rnd(3) == 0)
                len = addf(s, size, len, " ids=linux");
        if (rnd(4) == 0)
                len = addf(s, size, len, " gap=%u", 1 + rnd(3));
        len = addf(s, size, len, " mem=");
        for (unsigned k = 0; k < nn; k++) {
                static const char *const m[] = { "0", "1G", "2G", "4G", "8G", "?", "3G", "6G", "4G", "8G" };

                len = addf(s, size, len, "%s%s", k ? "," : "", m[rnd(10)]);
        }
        if (rnd(2)) {
                len = addf(s, size, len, " free=");
                for (unsigned k = 0; k < nn; k++)
                        len = addf(s, size, len, "%s%s", k ? "," : "", rnd(4) ? "?" : rnd(2) ? "1G" : "512M");
        }
        if (pages) {
                len = addf(s, size, len, " hp=2M:");
                for (unsigned k = 0; k < nn; k++)
                        len = addf(s, size, len, "%s%u", k ? "," : "", 512 * (1 + rnd(3)));
                len = addf(s, size, len, " hpfree=2M:");
                for (unsigned k = 0; k < nn; k++)
                        len = addf(s, size, len, "%s%u", k ? "," : "", rnd(4) == 0 ? 0 : 128 * (1 + rnd(8)));
        }
        if (nn > 1 && rnd(2)) {
                unsigned d[4][4];

                for (unsigned i = 0; i < nn; i++)
                        for (unsigned j = i; j < nn; j++)
                                d[i][j] = d[j][i] = i == j ? 10 : 11 + rnd(30);
                len = addf(s, size, len, " dist=");
                for (unsigned i = 0; i < nn; i++)
                        for (unsigned j = 0; j < nn; j++)
                                len = addf(s, size, len, "%s%u", i || j ? "," : "", d[i][j]);
        }
        /* CPU ids go past ncpu with gaps; mark a few of the first 24 ids. */
        if (ncpu && rnd(2)) {
                len = addf(s, size, len, " res=%u", rnd(ncpu));
                if (rnd(2))
                        len = addf(s, size, len, ",%u", rnd(ncpu));
        }
        if (ncpu && rnd(2)) {
                len = addf(s, size, len, " taken=%u", rnd(ncpu));
                for (unsigned k = rnd(4); k; k--)
                        len = addf(s, size, len, ",%u", rnd(ncpu + 4));
        }
        if (ncpu && rnd(6) == 0)
                len = addf(s, size, len, " offline=%u", rnd(ncpu));
        if (rnd(10) == 0)
                len = addf(s, size, len, " notopo");
        gh->ncpu = ncpu;
        gh->smt = smt > 0;
        gh->pages = pages;
}

static void gen_req(char *s, size_t size, const GenHost *gh)
{
        static const char *const pol[] = { "dedicated", "isolate", "siblings" };
        unsigned ncpu = gh->ncpu, p = rnd(3), t = gh->smt && rnd(3) == 0 ? 2 : 1;
        unsigned v = 1 + rnd(ncpu > 12 ? 12 : p == 1 ? ncpu / 2 + 1 : ncpu);
        size_t len = 0;

        if (p == 0 && t == 2 && v % 2)
                v++;
        len = addf(s, size, len, "v=%u pol=%s", v, pol[p]);
        if (t > 1)
                len = addf(s, size, len, " t=%u", t);
        if (gh->pages && rnd(2))
                len = addf(s, size, len, " pg=2M");
        if (rnd(2)) {
                len = addf(s, size, len, " mem=%uM", 256 * (1 + rnd(12)) + (rnd(4) == 0 ? 1 : 0));
        } else {
                /* cells: consecutive runs of vCPUs (of whole guest cores under dedicated threads) */
                unsigned g = p == 0 ? t : 1, nc = 1 + rnd(v / g < 5 ? v / g : 5), start = 0;

                len = addf(s, size, len, " cells=");
                for (unsigned j = 0; j < nc; j++) {
                        unsigned left = v - start, cells_left = nc - j;
                        unsigned n = j == nc - 1 ? left : g * (1 + rnd((left / g - (cells_left - 1)) + 0));

                        if (j < nc - 1 && n > left - g * (cells_left - 1))
                                n = left - g * (cells_left - 1);
                        len = addf(s, size, len, "%s%u-%u#%uM", j ? "," : "", start, start + n - 1,
                                   128 * (1 + rnd(12)) + (rnd(5) == 0 ? 3 : 0));
                        start += n;
                }
                if (rnd(5) == 0) {
                        len = addf(s, size, len, " bind=");
                        for (unsigned j = 0; j < nc; j++)
                                len = addf(s, size, len, "%s%d", j ? "," : "", rnd(3) ? -1 : (int)rnd(4));
                }
        }
        if (rnd(3) == 0) {
                len = addf(s, size, len, " keep=0#%u", rnd(ncpu + 2));
                for (unsigned k = 1; k < v && rnd(3); k++)
                        len = addf(s, size, len, ",%u#%u", k, rnd(ncpu + 2));
        }
        if (rnd(2))
                len = addf(s, size, len, " emu");
        if (rnd(2))
                len = addf(s, size, len, " io=%u", 1 + rnd(2));
}

static unsigned property_cases(void)
{
        const char *e = getenv("HPVM_PROPERTY_CASES"), *pre = getenv("LD_PRELOAD");
        uint64_t n;

        if (e && hpvm_parse_u64(e, strlen(e), 10000000, &n) == 0)
                return (unsigned)n;
        /* Under valgrind (its preload library is in LD_PRELOAD) a tenth of the cases. */
        return pre && strstr(pre, "vgpreload") ? 1000 : 10000;
}

/* Whether the engine promises an exact "does not fit" for this case (placement.h). */
static bool exact_regime(const HpvmHost *h, const HpvmUsage *u, const HpvmPlaceRequest *r)
{
        if (r->policy != HPVM_POLICY_SIBLINGS || !r->ncells)
                return true;
        thost_build(h, u, &thost);
        for (size_t i = 0; i < h->nnodes; i++) {
                unsigned size = 0;

                for (size_t ci = 0; ci < thost.ncores; ci++) {
                        const TCore *co = &thost.core[ci];

                        if (co->node != i || co->nfree != co->n)
                                continue;
                        if (size && size != co->n)
                                return false;
                        size = co->n;
                }
        }
        return true;
}

START_TEST(test_properties)
{
        unsigned cases = property_cases(), seed = (unsigned)time(NULL);
        const char *e = getenv("HPVM_PROPERTY_SEED");
        unsigned nfit = 0, nrefused = 0, ninexact = 0;

        if (e)
                seed = (unsigned)strtoul(e, NULL, 10);
        for (unsigned k = 0; k < cases; k++) {
                char hs[512], rs[512], ctx[1200];
                HpvmPlacement *p = NULL;
                HpvmError err = { 0 };
                HpvmUsage *u = NULL;
                HpvmHost *h;
                GenHost gh;
                bool brute;
                Req q;
                int r;

                rng_state = (uint64_t)seed * 1000003u + k;
                gen_host(hs, sizeof(hs), &gh);
                gen_req(rs, sizeof(rs), &gh);
                snprintf(ctx, sizeof(ctx), "HPVM_PROPERTY_SEED=%u case %u: host '%s' request '%s'", seed, k, hs, rs);
                h = th_host(hs, &u);
                req_parse(rs, &q);
                r = hpvm_place(h, u, &q.r, &p, &err);
                ck_assert_msg(r == 0 || r == -ENOSPC, "%s: %d %s", ctx, r, err.msg);
                brute = brute_fits(h, u, &q.r);
                if (r == 0) {
                        nfit++;
                        check_placement(h, u, &q.r, p, ctx);
                        ck_assert_msg(brute, "%s: the engine fits it, the brute force does not", ctx);
                        hpvm_placement_free(p);
                } else {
                        nrefused++;
                        ck_assert_msg(err.msg[0] && strlen(err.msg) < HPVM_ERR_MAX && !strchr(err.msg, '\n'),
                                      "%s: message", ctx);
                        if (exact_regime(h, u, &q.r))
                                ck_assert_msg(!brute, "%s: refused (%s) but the brute force fits it", ctx, err.msg);
                        else
                                ninexact += brute;
                }
                hpvm_host_free(h);
                hpvm_usage_free(u);
        }
        /* The generator must exercise both outcomes. */
        ck_assert_msg(nfit > cases / 10 && nrefused > cases / 10, "seed %u: %u fit, %u refused", seed, nfit, nrefused);
        fprintf(stderr, "test-placement: HPVM_PROPERTY_SEED=%u: %u cases, %u placed, %u refused"
                " (%u of them siblings cases outside the exact regime that the brute force fits)\n",
                seed, cases, nfit, nrefused, ninexact);
}
END_TEST

START_TEST(test_big_host)
{
        /* 16 nodes of 16 cores x 2 threads, first core reserved: every policy, made and given cells. */
        static const char *const reqs[] = {
                "v=448 mem=448G emu io=1",
                "v=448 t=2 mem=448G emu io=1",
                "v=224 pol=isolate mem=224G emu",
                "v=448 pol=siblings mem=448G emu",
                "v=224 cells=0-27#8G,28-55#8G,56-83#8G,84-111#8G,112-139#8G,140-167#8G,168-195#8G,196-223#8G emu",
                ("v=448 cells=0-27#8G,28-55#8G,56-83#8G,84-111#8G,112-139#8G,140-167#8G,168-195#8G,196-223#8G,"
                 "224-251#8G,252-279#8G,280-307#8G,308-335#8G,336-363#8G,364-391#8G,392-419#8G,420-447#8G emu"),
        };
        HpvmUsage *u = NULL;
        HpvmHost *h = th_host("16x16x2 ids=linux dist=group:4:12:32 mem=64G", &u);

        ck_assert_uint_eq(hpvm_usage_reserve_default(h, u), 32);
        for (size_t k = 0; k < HPVM_ARRAY_SIZE(reqs); k++) {
                HpvmPlacement *p = NULL;
                HpvmError err = { 0 };
                Req q;

                req_parse(reqs[k], &q);
                ck_assert_msg(hpvm_place(h, u, &q.r, &p, &err) == 0, "%s: %s", reqs[k], err.msg);
                check_placement(h, u, &q.r, p, reqs[k]);
                hpvm_placement_free(p);
        }
        hpvm_host_free(h);
        hpvm_usage_free(u);
}
END_TEST

START_TEST(test_polynomial)
{
        /* 32 cells that must share 16 nodes (first-fit decreasing) and 10 that must (subset program) stay fast. */
        HpvmUsage *u = NULL;
        HpvmHost *h = th_host("16x8x1 mem=64G", &u);
        HpvmPlacement *p = NULL;
        HpvmError err = { 0 };
        char spec[2048];
        size_t len = 0;
        clock_t t0 = clock();
        Req q;

        len = addf(spec, sizeof(spec), len, "v=64 cells=");
        for (unsigned j = 0; j < 32; j++)
                len = addf(spec, sizeof(spec), len, "%s%u-%u#1G", j ? "," : "", 2 * j, 2 * j + 1);
        req_parse(spec, &q);
        ck_assert_msg(hpvm_place(h, u, &q.r, &p, &err) == 0, "%s", err.msg);
        check_placement(h, u, &q.r, p, "32 cells");
        ck_assert_uint_eq(hpvm_cpuset_count(&p->nodes), 8);
        hpvm_placement_free(p);

        req_parse("v=20 cells=0-1#40G,2-3#40G,4-5#40G,6-7#40G,8-9#40G,10-11#40G,12-13#40G,14-15#40G,16-17#20G,18-19#20G",
                  &q);
        ck_assert_msg(hpvm_place(h, u, &q.r, &p, &err) == 0, "%s", err.msg);
        check_placement(h, u, &q.r, p, "10 cells");
        hpvm_placement_free(p);
        ck_assert_msg((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0, "too slow");
        hpvm_host_free(h);
        hpvm_usage_free(u);
}
END_TEST

static Suite *placement_suite(void)
{
        Suite *s = suite_create("placement");
        TCase *tc;

        tc = tcase_create("fits");
        tcase_add_loop_test(tc, test_fits, 0, (int)HPVM_ARRAY_SIZE(fits));
        tcase_add_test(tc, test_reserve_default);
        tcase_add_test(tc, test_format_map);
        suite_add_tcase(s, tc);

        tc = tcase_create("refusals");
        tcase_add_loop_test(tc, test_refusals, 0, (int)HPVM_ARRAY_SIZE(refusals));
        tcase_add_test(tc, test_messages_bounded);
        tcase_add_test(tc, test_bad_usage);
        suite_add_tcase(s, tc);

        tc = tcase_create("score");
        tcase_add_loop_test(tc, test_score_order, 0, (int)HPVM_ARRAY_SIZE(better));
        tcase_add_test(tc, test_score_picks_near_pair);
        suite_add_tcase(s, tc);

        tc = tcase_create("properties");
        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, test_properties);
        tcase_add_test(tc, test_big_host);
        tcase_add_test(tc, test_polynomial);
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(placement_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
